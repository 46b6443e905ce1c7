# Shared test support: TAP output for Check suites, hugepage reservation, data patterns.
check_LTLIBRARIES += tests/libbhc-test.la
tests_libbhc_test_la_SOURCES = tests/tap.c tests/tap.h tests/util-hugepages.c tests/util-hugepages.h \
	tests/util-pattern.h
tests_libbhc_test_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_libbhc_test_la_LIBADD = common/libbhc-common.la $(CHECK_LIBS)

include tests/client.mk
include tests/daemon.mk
include tests/arenactl.mk
include tests/reliability.mk
include tests/restart.mk
include tests/hostile.mk

# Mutation testing: deliberate bugs (scripts/mutants.txt) applied one at a
# time to a copy of the tree; each must make its tests fail (TESTING.md).
# Not part of make check. MUTATION_ARGS=--ci runs the fast subset.
mutation:
	$(top_srcdir)/scripts/mutation.sh $(MUTATION_ARGS)
PHONY_TARGETS += mutation
EXTRA_DIST += scripts/mutation.sh scripts/mutants.txt TESTING.md
