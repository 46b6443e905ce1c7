# A daemon restart loses nothing: SIGKILL, SIGTERM, another binary, the fd store
# (the test plays systemd), hostile REGISTERs.
check_PROGRAMS += tests/check_restart
TESTS += tests/check_restart
tests_check_restart_SOURCES = tests/check_restart.c
tests_check_restart_CFLAGS = $(arena_test_cflags) $(JSONC_CFLAGS)
tests_check_restart_LDFLAGS = $(arena_test_ldflags)
tests_check_restart_LDADD = client/libbhc-arena.la tests/libbhc-test-daemon.la \
	tests/libbhc-test.la $(CHECK_LIBS) $(JSONC_LIBS) -lpthread
