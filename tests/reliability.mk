# Reliability: hostile input, floods, descriptor and hugepage exhaustion,
# memory pressure, a daemon killed under its clients, fork storms
# (tests/check_reliability.c), all against a real bhc-arenad; and the soak
# program that scripts/soak.sh runs for minutes (not part of make check).
check_PROGRAMS += tests/check_reliability
TESTS += tests/check_reliability
tests_check_reliability_SOURCES = tests/check_reliability.c
tests_check_reliability_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_reliability_LDFLAGS = -no-install
tests_check_reliability_LDADD = client/libbhc-arena.la tests/libbhc-test-daemon.la \
	tests/libbhc-test.la $(CHECK_LIBS)

# The fuzz targets on their checked-in corpora (crash reproducers included),
# without libFuzzer, under whatever compiler and sanitizer make check uses.
FUZZ_CORPUS_TESTS = tests/check_fuzz_proto tests/check_fuzz_config tests/check_fuzz_admin
check_PROGRAMS += $(FUZZ_CORPUS_TESTS)
TESTS += $(FUZZ_CORPUS_TESTS)
fuzz_corpus_cppflags = $(AM_CPPFLAGS)
fuzz_corpus_cflags = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS)
fuzz_corpus_libs = tests/libbhc-test.la $(CHECK_LIBS) $(INIH_LIBS)

tests_check_fuzz_proto_SOURCES = tests/check_reliability_corpus.c fuzz/fuzz-proto.c \
	daemon/proto.c daemon/config.c daemon/log.c
tests_check_fuzz_proto_CPPFLAGS = $(fuzz_corpus_cppflags) -DFUZZ_TARGET='"proto"' -DFUZZ_VALID_PROTO
tests_check_fuzz_proto_CFLAGS = $(fuzz_corpus_cflags)
tests_check_fuzz_proto_LDADD = $(fuzz_corpus_libs)

tests_check_fuzz_config_SOURCES = tests/check_reliability_corpus.c fuzz/fuzz-config.c \
	daemon/config.c daemon/log.c
tests_check_fuzz_config_CPPFLAGS = $(fuzz_corpus_cppflags) -DFUZZ_TARGET='"config"' -DFUZZ_VALID_CONFIG
tests_check_fuzz_config_CFLAGS = $(fuzz_corpus_cflags)
tests_check_fuzz_config_LDADD = $(fuzz_corpus_libs)

# admin.c refers to the rest of the daemon: every source but main.c
tests_check_fuzz_admin_SOURCES = tests/check_reliability_corpus.c fuzz/fuzz-admin.c \
	daemon/admin.c daemon/closer.c daemon/config.c daemon/log.c daemon/peer.c daemon/pool.c \
	daemon/proto.c daemon/ratelimit.c daemon/region.c daemon/server.c daemon/uring.c \
	daemon/user.c daemon/reclaim.c daemon/job.c daemon/restore.c
tests_check_fuzz_admin_CPPFLAGS = $(fuzz_corpus_cppflags) -DFUZZ_TARGET='"admin"' -DFUZZ_VALID_ADMIN
tests_check_fuzz_admin_CFLAGS = $(fuzz_corpus_cflags) $(LIBUV_CFLAGS) $(LIBURING_CFLAGS) \
	$(JSONC_CFLAGS) $(LIBSYSTEMD_CFLAGS)
tests_check_fuzz_admin_LDADD = $(fuzz_corpus_libs) $(LIBUV_LIBS) $(LIBURING_LIBS) \
	$(JSONC_LIBS) $(LIBSYSTEMD_LIBS)

# The soak program (scripts/soak.sh runs it: minutes, not part of the suite).
check_PROGRAMS += tests/soak
tests_soak_SOURCES = tests/soak.c
tests_soak_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_soak_LDFLAGS = -no-install
tests_soak_LDADD = client/libbhc-arena.la tests/libbhc-test-daemon.la tests/libbhc-test.la \
	$(JSONC_LIBS)
EXTRA_DIST += scripts/soak.sh scripts/lint.sh scripts/ci-reliability.sh RELIABILITY.md \
	.clang-tidy .clang-tidy-suppressions .cppcheck-suppressions
