# Tests of bhc-arenad: unit tests of its pure parts, and integration tests
# that run the real daemon ($BHC_ARENAD) on a private socket with real
# client processes (tests/util-daemon.c).
check_LTLIBRARIES += tests/libbhc-test-daemon.la
tests_libbhc_test_daemon_la_SOURCES = tests/util-daemon.c tests/util-daemon.h
tests_libbhc_test_daemon_la_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_libbhc_test_daemon_la_LIBADD = $(CHECK_LIBS) $(JSONC_LIBS)

# LD_PRELOAD shim: io_uring_queue_init() fails as under seccomp (a real shared object).
check_LTLIBRARIES += tests/libno-io-uring.la
tests_libno_io_uring_la_SOURCES = tests/no-io-uring.c
tests_libno_io_uring_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

DAEMON_TESTS = \
	tests/check_daemon_proto \
	tests/check_daemon \
	tests/check_daemon_regions \
	tests/check_daemon_cli \
	tests/check_daemon_kept
check_PROGRAMS += $(DAEMON_TESTS)
TESTS += $(DAEMON_TESTS)

DAEMON_TEST_LIBS = tests/libbhc-test-daemon.la tests/libbhc-test.la $(CHECK_LIBS)

tests_check_daemon_proto_SOURCES = tests/check_daemon_proto.c \
	daemon/proto.c daemon/config.c daemon/log.c
tests_check_daemon_proto_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(INIH_CFLAGS)
tests_check_daemon_proto_LDADD = tests/libbhc-test.la $(CHECK_LIBS) $(INIH_LIBS)

tests_check_daemon_SOURCES = tests/check_daemon.c
tests_check_daemon_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_daemon_LDADD = $(DAEMON_TEST_LIBS)

tests_check_daemon_regions_SOURCES = tests/check_daemon_regions.c
tests_check_daemon_regions_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_daemon_regions_LDADD = $(DAEMON_TEST_LIBS)

tests_check_daemon_cli_SOURCES = tests/check_daemon_cli.c
tests_check_daemon_cli_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_check_daemon_cli_LDADD = $(DAEMON_TEST_LIBS)

# A client written from docs/PROTOCOL.md alone (raw sockets, its own framing)
# against the real daemon: every statement of the document it can observe.
check_PROGRAMS += tests/check_protocol_conformance
TESTS += tests/check_protocol_conformance
tests_check_protocol_conformance_SOURCES = tests/check_protocol_conformance.c
tests_check_protocol_conformance_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_check_protocol_conformance_LDADD = $(DAEMON_TEST_LIBS) $(JSONC_LIBS)

tests_check_daemon_kept_SOURCES = tests/check_daemon_kept.c
tests_check_daemon_kept_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(JSONC_CFLAGS)
tests_check_daemon_kept_LDADD = $(DAEMON_TEST_LIBS) $(JSONC_LIBS)
