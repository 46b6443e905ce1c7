# Shared test support: TAP output for Check suites, hugepage reservation, data patterns.
check_LTLIBRARIES += tests/libbhc-test.la
tests_libbhc_test_la_SOURCES = tests/tap.c tests/tap.h tests/util-hugepages.c tests/util-hugepages.h \
	tests/util-pattern.h
tests_libbhc_test_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_libbhc_test_la_LIBADD = $(CHECK_LIBS)

include tests/client.mk
include tests/daemon.mk
include tests/arenactl.mk
include tests/reliability.mk
include tests/restart.mk
