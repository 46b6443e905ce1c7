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

# Checked mode: helpers that misuse arenas, run by check_arena_checked.
check_PROGRAMS += tests/check_arena_checked tests/arena-asan-helper tests/arena-valgrind-helper
TESTS += tests/check_arena_checked
tests_check_arena_checked_SOURCES = tests/check_arena_checked.c tests/check_arena_util.h
tests_check_arena_checked_CFLAGS = $(arena_test_cflags)
tests_check_arena_checked_LDFLAGS = $(arena_test_ldflags)
tests_check_arena_checked_LDADD = $(arena_test_libs)
# always AddressSanitizer, against the ordinary library: checked mode is found at run time
tests_arena_asan_helper_SOURCES = tests/arena-checked-helper.c
tests_arena_asan_helper_CFLAGS = $(AM_CFLAGS) -fsanitize=address -fno-omit-frame-pointer -g
tests_arena_asan_helper_LDFLAGS = -no-install -fsanitize=address
tests_arena_asan_helper_LDADD = client/libbhc-arena.la
tests_arena_valgrind_helper_SOURCES = tests/arena-checked-helper.c
tests_arena_valgrind_helper_CFLAGS = $(AM_CFLAGS) -g
tests_arena_valgrind_helper_LDFLAGS = -no-install
tests_arena_valgrind_helper_LDADD = client/libbhc-arena.la

# check_arena_threads once more, with the library's sources, under ThreadSanitizer.
# Built by hand rather than as a program: its flags replace the user's CFLAGS
# and LDFLAGS, which may name another sanitizer (TSan excludes ASan). Where the
# compiler cannot build it, the test is a script that reports a TAP skip.
arena_tsan_lib_srcs = \
	$(srcdir)/client/arena.c \
	$(srcdir)/client/checked.c \
	$(srcdir)/client/retain.c \
	$(srcdir)/client/conn.c \
	$(srcdir)/client/fork.c \
	$(srcdir)/client/source.c \
	$(srcdir)/client/source-daemon.c \
	$(srcdir)/client/source-local.c \
	$(srcdir)/client/thread.c \
	$(srcdir)/common/backing.c \
	$(srcdir)/common/size.c \
	$(srcdir)/common/sysfs.c
arena_tsan_srcs = \
	$(srcdir)/tests/check_arena_threads.c \
	$(srcdir)/tests/tap.c \
	$(srcdir)/tests/util-hugepages.c \
	$(arena_tsan_lib_srcs)
arena_tsan_deps = $(arena_tsan_srcs) \
	$(srcdir)/tests/check_arena_util.h $(srcdir)/tests/tap.h $(srcdir)/tests/util-hugepages.h \
	$(srcdir)/client/arena-internal.h $(srcdir)/client/compat.h $(srcdir)/client/conn.h \
	$(srcdir)/client/source.h \
	$(srcdir)/client/valgrind-stub.h $(srcdir)/include/bhc/arena.h \
	$(srcdir)/include/bhc/arena-protocol.h
check_SCRIPTS += tests/check_arena_threads_tsan
TESTS += tests/check_arena_threads_tsan
CLEANFILES += tests/check_arena_threads_tsan tests/check_arena_threads_tsan.cc-out
tests/check_arena_threads_tsan: $(arena_tsan_deps) config.h
	@$(MKDIR_P) tests
	$(AM_V_CCLD)if $(CC) $(AM_CPPFLAGS) $(CPPFLAGS) -I$(srcdir)/tests -I$(srcdir)/client \
		$(CHECK_CFLAGS) $(WARN_CFLAGS) -g -O1 -fsanitize=thread -o $@ \
		$(arena_tsan_srcs) $(CHECK_LIBS) -lpthread > $@.cc-out 2>&1; then \
		rm -f $@.cc-out; \
	else \
		printf '#!/bin/sh\necho "1..0 # SKIP %s cannot build with -fsanitize=thread (%s)"\n' \
			'$(CC)' '$(abs_builddir)/$@.cc-out' > $@ && chmod +x $@; \
	fi

# The exported ABI matches the version script and the header.
dist_check_SCRIPTS += tests/check_arena_abi.sh
TESTS += tests/check_arena_abi.sh

# libbhc-arena against a real bhc-arenad: the daemon source and the shared connection.
check_PROGRAMS += tests/check_client_daemon
TESTS += tests/check_client_daemon
tests_check_client_daemon_SOURCES = tests/check_client_daemon.c tests/check_arena_util.h
tests_check_client_daemon_CFLAGS = $(arena_test_cflags)
tests_check_client_daemon_LDFLAGS = $(arena_test_ldflags)
tests_check_client_daemon_LDADD = client/libbhc-arena.la tests/libbhc-test-daemon.la \
	tests/libbhc-test.la $(CHECK_LIBS) -lpthread

# check_client_daemon's threads and fork cases once more, with the library's
# sources, under ThreadSanitizer (built by hand like check_arena_threads_tsan).
client_daemon_tsan_srcs = \
	$(srcdir)/tests/check_client_daemon.c \
	$(srcdir)/tests/tap.c \
	$(srcdir)/tests/util-daemon.c \
	$(srcdir)/tests/util-hugepages.c \
	$(arena_tsan_lib_srcs)
client_daemon_tsan_deps = $(client_daemon_tsan_srcs) $(arena_tsan_deps) \
	$(srcdir)/tests/util-daemon.h $(srcdir)/tests/util-pattern.h
check_SCRIPTS += tests/check_client_daemon_tsan
TESTS += tests/check_client_daemon_tsan
CLEANFILES += tests/check_client_daemon_tsan tests/check_client_daemon_tsan.cc-out
tests/check_client_daemon_tsan: $(client_daemon_tsan_deps) config.h
	@$(MKDIR_P) tests
	$(AM_V_CCLD)if $(CC) $(AM_CPPFLAGS) $(CPPFLAGS) -I$(srcdir)/tests -I$(srcdir)/client \
		-DCLIENT_DAEMON_TSAN_ONLY=1 $(CHECK_CFLAGS) $(WARN_CFLAGS) -g -O1 \
		$(JSONC_CFLAGS) -fsanitize=thread -o $@ $(client_daemon_tsan_srcs) $(CHECK_LIBS) \
		$(JSONC_LIBS) -lpthread \
		> $@.cc-out 2>&1; then \
		rm -f $@.cc-out; \
	else \
		printf '#!/bin/sh\necho "1..0 # SKIP %s cannot build with -fsanitize=thread (%s)"\n' \
			'$(CC)' '$(abs_builddir)/$@.cc-out' > $@ && chmod +x $@; \
	fi

# Process-local reuse of regions, against a real daemon.
check_PROGRAMS += tests/check_retain
TESTS += tests/check_retain
tests_check_retain_SOURCES = tests/check_retain.c tests/check_arena_util.h
tests_check_retain_CFLAGS = $(arena_test_cflags) $(JSONC_CFLAGS)
tests_check_retain_LDFLAGS = $(arena_test_ldflags)
tests_check_retain_LDADD = client/libbhc-arena.la tests/libbhc-test-daemon.la \
	tests/libbhc-test.la $(CHECK_LIBS) $(JSONC_LIBS)
