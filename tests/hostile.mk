# One unprivileged user against everybody else (tests/check_hostile.c): fds
# that linger, abandoned acquires, admin load, connection and log floods,
# hugepage flapping, against a real bhc-arenad.
check_PROGRAMS += tests/check_hostile
TESTS += tests/check_hostile
tests_check_hostile_SOURCES = tests/check_hostile.c
tests_check_hostile_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_check_hostile_LDFLAGS = -no-install
tests_check_hostile_LDADD = tests/libbhc-test-daemon.la tests/libbhc-test.la $(CHECK_LIBS) \
	$(JSONC_LIBS)

# LD_PRELOAD shim: a kernel without 1 GiB hugepages (a real shared object).
check_LTLIBRARIES += tests/libno-gigantic.la
tests_libno_gigantic_la_SOURCES = tests/no-gigantic.c
tests_libno_gigantic_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere
tests_libno_gigantic_la_LIBADD = -ldl
EXTRA_DIST += scripts/hostile-figures.sh tests/no-gigantic.c
