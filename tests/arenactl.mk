# bhc-arenactl: unit tests of its pieces, and tests of every command against a
# real daemon with real clients holding regions.
check_PROGRAMS += tests/check_arenactl_unit
TESTS += tests/check_arenactl_unit
tests_check_arenactl_unit_SOURCES = tests/check_arenactl_unit.c
tests_check_arenactl_unit_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_check_arenactl_unit_LDADD = ctl/libarenactl.la tests/libbhc-test.la $(CHECK_LIBS) $(JSONC_LIBS)

# A client that holds real regions via the raw protocol and reports them.
check_PROGRAMS += tests/lease-holder
tests_lease_holder_SOURCES = tests/lease-holder.c
tests_lease_holder_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_lease_holder_LDADD = $(JSONC_LIBS)

# Every command against a real daemon.
check_PROGRAMS += tests/check_arenactl
TESTS += tests/check_arenactl
tests_check_arenactl_SOURCES = tests/check_arenactl.c
tests_check_arenactl_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_check_arenactl_LDADD = ctl/libarenactl.la tests/libbhc-test.la $(CHECK_LIBS) $(JSONC_LIBS)

# Regenerates docs/arenactl-session.txt (root; not a test).
EXTRA_DIST += tests/arenactl-session.sh

# The bash completion (skips without bash-completion).
TESTS += tests/arenactl-completion.sh
EXTRA_DIST += tests/arenactl-completion.sh
