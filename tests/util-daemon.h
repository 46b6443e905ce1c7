/* SPDX-License-Identifier: MIT */
/*
 * Test support for bhc-arenad: run a real daemon ($BHC_ARENAD) on a private
 * socket in a fresh temporary directory, wait until it answers, read its
 * log, stop it; and speak the raw wire protocol to it.
 *
 * $BHC_TEST_DAEMON_WRAPPER, if set, is a command prefix the daemon runs
 * under (e.g. "valgrind --leak-check=full --error-exitcode=1"); waits are
 * then ten times longer. $BHC_TEST_KEEP=1 keeps the temporary directory.
 * The bhc_test_daemon_*() steps that ck_assert() are only for Check tests.
 */
#ifndef BHC_TESTS_UTIL_DAEMON_H
#define BHC_TESTS_UTIL_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <bhc/arena-protocol.h>

#define BHC_TEST_PATH_MAX 256

/* A daemon under test. */
struct bhc_test_daemon {
	pid_t pid; /* 0 when not running */
	char dir[BHC_TEST_PATH_MAX / 2]; /* private temporary directory */
	char socket[BHC_TEST_PATH_MAX]; /* dir/arenad.sock */
	char log[BHC_TEST_PATH_MAX]; /* dir/arenad.log: its stdout and stderr */
	char config[BHC_TEST_PATH_MAX]; /* dir/arenad.conf, passed with --config if written */
	bool have_config;
	int wait_status; /* from waitpid() once it has exited */
	uint64_t started_ms; /* bhc_test_now_ms() at fork */
	/* for the next spawn */
	int listen_fd; /* >= 0: passed as fd 3 with LISTEN_FDS=1 (socket activation) */
	char env[8][BHC_TEST_PATH_MAX]; /* extra NAME=VALUE environment */
	unsigned int n_env;
};

/** bhc_test_now_ms() - CLOCK_MONOTONIC in milliseconds. */
uint64_t bhc_test_now_ms(void);

/** bhc_test_timeout_scale() - 1, or 10 under $BHC_TEST_DAEMON_WRAPPER. */
unsigned int bhc_test_timeout_scale(void);

/** bhc_test_daemon_init() - make the temporary directory and the paths; 0 or -errno. */
int bhc_test_daemon_init(struct bhc_test_daemon *d);

/** bhc_test_daemon_setenv() - add NAME=VALUE to the next spawn's environment; 0 or -E2BIG. */
int bhc_test_daemon_setenv(struct bhc_test_daemon *d, const char *name, const char *value);

/** bhc_test_daemon_write_config() - write @text to d->config and use it; 0 or -errno. */
int bhc_test_daemon_write_config(struct bhc_test_daemon *d, const char *text);

/**
 * bhc_test_daemon_spawn() - start the daemon with --socket, --log-level
 * debug, --config (if written) and the NULL-terminated @args, without
 * waiting. Returns 0 or -errno.
 */
int bhc_test_daemon_spawn(struct bhc_test_daemon *d, const char *const *args);

/**
 * bhc_test_daemon_start() - bhc_test_daemon_spawn(), then wait (bounded)
 * until the daemon listens (its log says so and the socket exists).
 * Returns 0, -ETIMEDOUT, or -ECHILD if the daemon exited (its log says why).
 */
int bhc_test_daemon_start(struct bhc_test_daemon *d, const char *const *args);

/** bhc_test_daemon_wait_ready() - wait until the log says "ready:"; 0 or -ETIMEDOUT. */
int bhc_test_daemon_wait_ready(struct bhc_test_daemon *d, int timeout_ms);

/** bhc_test_daemon_log_read() - the whole log, NUL-terminated (malloc'd), or NULL. */
char *bhc_test_daemon_log_read(const struct bhc_test_daemon *d);

/** bhc_test_daemon_log_count() - lines of the log containing @needle. */
int bhc_test_daemon_log_count(const struct bhc_test_daemon *d, const char *needle);

/**
 * bhc_test_daemon_log_wait() - wait until @n lines contain @needle; returns
 * true, or false after @timeout_ms (scaled).
 */
bool bhc_test_daemon_log_wait(const struct bhc_test_daemon *d, const char *needle, int n,
			      int timeout_ms);

/** bhc_test_daemon_log_line() - copy the last line containing @needle into @buf; true if any. */
bool bhc_test_daemon_log_line(const struct bhc_test_daemon *d, const char *needle, char *buf,
			      size_t len);

/**
 * bhc_test_daemon_wait_exit() - wait up to @timeout_ms (scaled) for the
 * daemon to exit; returns its exit status, 128 + signal if killed, or
 * -ETIMEDOUT.
 */
int bhc_test_daemon_wait_exit(struct bhc_test_daemon *d, int timeout_ms);

/** bhc_test_daemon_stop() - SIGTERM and bhc_test_daemon_wait_exit(); SIGKILL on timeout. */
int bhc_test_daemon_stop(struct bhc_test_daemon *d);

/** bhc_test_daemon_cleanup() - kill the daemon if it runs, remove the directory. */
void bhc_test_daemon_cleanup(struct bhc_test_daemon *d);

/** bhc_test_daemon_dump_log() - copy the daemon's log to stderr (for failures). */
void bhc_test_daemon_dump_log(const struct bhc_test_daemon *d);

/* --- for Check tests: each step asserted, the log dumped when the daemon fails --- */

/**
 * bhc_test_daemon_setup() - bhc_test_daemon_init(), then write @config unless
 * it is NULL; ck_assert()s that both succeed.
 */
void bhc_test_daemon_setup(struct bhc_test_daemon *d, const char *config);

/**
 * bhc_test_daemon_start_ready() - bhc_test_daemon_start() with @args, then
 * wait up to @timeout_ms until it is ready; ck_assert()s both.
 */
void bhc_test_daemon_start_ready(struct bhc_test_daemon *d, const char *const *args,
				 int timeout_ms);

/**
 * bhc_test_daemon_stop_clean() - bhc_test_daemon_stop(), ck_assert() that the
 * daemon exited 0 (under a wrapper: no errors, no leaks), then clean up.
 */
void bhc_test_daemon_stop_clean(struct bhc_test_daemon *d);

/* --- daemon state, read through the admin JSON (bhc-arenactl --json) ---------- */

struct json_object;

/**
 * bhc_test_admin_json() - run `$BHC_ARENACTL --socket SOCK --json @cmd` (cmd
 * is one word: "status", "clients", "regions", "pool") and parse its output.
 * Returns the object (json_object_put() it), or NULL if arenactl failed.
 */
struct json_object *bhc_test_admin_json(const struct bhc_test_daemon *d, const char *cmd);

/**
 * bhc_test_admin_u64() - the number at dotted @path ("pool.leased",
 * "counters.grants") of `status`; ck_assert()s that it is there.
 */
uint64_t bhc_test_admin_u64(const struct bhc_test_daemon *d, const char *path);

/**
 * bhc_test_admin_wait_u64() - poll bhc_test_admin_u64() until it equals
 * @want or @timeout_ms (scaled) pass; returns the last value read.
 */
uint64_t bhc_test_admin_wait_u64(const struct bhc_test_daemon *d, const char *path, uint64_t want,
				 int timeout_ms);

/**
 * bhc_test_admin_client_u64() - the number @key ("regions", "leased") of the
 * client row of process @pid in `clients`, or -1 if @pid has no row.
 */
int64_t bhc_test_admin_client_u64(const struct bhc_test_daemon *d, pid_t pid, const char *key);

/**
 * bhc_test_admin_row_u64() - the number @key of the row of `@cmd` (the
 * array of the same name: "clients", "regions") whose @match_key is
 * @match, or -1 if there is no such row.
 */
int64_t bhc_test_admin_row_u64(const struct bhc_test_daemon *d, const char *cmd,
			       const char *match_key, uint64_t match, const char *key);

/* --- the raw protocol ------------------------------------------------------ */

/** bhc_test_connect() - a connected SOCK_SEQPACKET socket to @path, or -errno. */
int bhc_test_connect(const char *path);

/** bhc_test_hdr() - fill a message header. */
void bhc_test_hdr(struct bhc_arena_msg_hdr *hdr, uint16_t type, uint32_t length, uint32_t seq);

/** bhc_test_send() - send @len bytes as one datagram, with @pass_fd in SCM_RIGHTS unless -1. */
int bhc_test_send(int fd, const void *buf, size_t len, int pass_fd);

/**
 * bhc_test_recv() - receive one datagram (and an fd into *@fdp if one came,
 * else -1) within @timeout_ms (scaled). Returns its length, 0 at end of
 * stream, -ETIMEDOUT or -errno.
 */
ssize_t bhc_test_recv(int fd, void *buf, size_t len, int *fdp, int timeout_ms);

/**
 * bhc_test_hello() - HELLO with @tag and @flags; 0 with *@w filled, a
 * positive errno if the daemon answered ERROR, or -errno.
 */
int bhc_test_hello(int fd, const char *tag, uint32_t flags, struct bhc_arena_msg_welcome *w);

/**
 * bhc_test_acquire() - ACQUIRE; 0 with *@g and the region's fd in *@fdp, a
 * positive errno with *@e filled (if @e) if the daemon answered ERROR, or
 * -errno.
 */
int bhc_test_acquire(int fd, uint64_t size, uint32_t flags, uint32_t page_shift,
		     struct bhc_arena_msg_grant *g, int *fdp, struct bhc_arena_msg_error *e);

/** bhc_test_release() - RELEASE; 0 on RELEASED, a positive errno on ERROR, or -errno. */
int bhc_test_release(int fd, uint64_t region_id, struct bhc_arena_msg_error *e);

/**
 * bhc_test_recv_error() - expect an ERROR within @timeout_ms; returns its
 * error (and fills *@e if given), or -EBADMSG for another message, or -errno.
 */
int bhc_test_recv_error(int fd, struct bhc_arena_msg_error *e, int timeout_ms);

/** bhc_test_closed() - whether the daemon ends the connection within @timeout_ms. */
bool bhc_test_closed(int fd, int timeout_ms);

#endif
