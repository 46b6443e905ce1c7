# Tests of libbhc-arena (local regions; the daemon-backed tests live with the daemon's).
arena_test_cflags = $(AM_CFLAGS) $(CHECK_CFLAGS)
arena_test_libs = client/libbhc-arena.la tests/libbhc-test.la $(CHECK_LIBS)
# -no-install: real executables rather than libtool wrapper scripts, so that
# they can run under valgrind and exec each other directly
arena_test_ldflags = -no-install

check_PROGRAMS += tests/check_arena
TESTS += tests/check_arena
tests_check_arena_SOURCES = tests/check_arena.c tests/check_arena_util.h
tests_check_arena_CFLAGS = $(arena_test_cflags)
tests_check_arena_LDFLAGS = $(arena_test_ldflags)
tests_check_arena_LDADD = $(arena_test_libs)

check_PROGRAMS += tests/check_arena_backing
TESTS += tests/check_arena_backing
tests_check_arena_backing_SOURCES = tests/check_arena_backing.c tests/check_arena_util.h
tests_check_arena_backing_CFLAGS = $(arena_test_cflags)
tests_check_arena_backing_LDFLAGS = $(arena_test_ldflags)
tests_check_arena_backing_LDADD = $(arena_test_libs)

check_PROGRAMS += tests/check_arena_threads
TESTS += tests/check_arena_threads
tests_check_arena_threads_SOURCES = tests/check_arena_threads.c tests/check_arena_util.h
tests_check_arena_threads_CFLAGS = $(arena_test_cflags)
tests_check_arena_threads_LDFLAGS = $(arena_test_ldflags)
tests_check_arena_threads_LDADD = $(arena_test_libs)
