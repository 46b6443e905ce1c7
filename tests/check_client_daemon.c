/* SPDX-License-Identifier: MIT */
/*
 * libbhc-arena against a real bhc-arenad: the daemon source and the shared
 * connection (client/conn.c, client/source-daemon.c). Every test starts the
 * daemon ($BHC_ARENAD) on a private socket and drives it through the public
 * API only, from this process, from threads and from forked client
 * processes, with BHC_ARENA_MODE=daemon and BHC_ARENA_SOCKET set. What the
 * daemon saw is read back from its log (SIGUSR1 dumps clients, leases and
 * the live usage it reads from each region's header).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <bhc/arena.h>

#include "check_arena_util.h"
#include "tap.h"
#include "util-daemon.h"
#include "util-hugepages.h"
#include "util-pattern.h"

/* Built with it set to 1 for the ThreadSanitizer run: only the threads and fork cases. */
#ifndef CLIENT_DAEMON_TSAN_ONLY
#define CLIENT_DAEMON_TSAN_ONLY 0
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define MiB (UINT64_C(1) << 20)
#define HDR BHC_ARENA_REGION_HEADER_SIZE
/* A capacity that makes a region of exactly one 2 MiB page. */
#define CAP_2M ((size_t)(2 * MiB) - HDR)

static struct bhc_test_daemon d;

static const char config_off[] = "[pool]\n"
				 "hugepages = off\n"
				 "warm = none\n";

static void daemon_start(const char *config)
{
	bhc_test_daemon_setup(&d, config);
	bhc_test_daemon_start_ready(&d, NULL, 20000);
	ck_assert_int_eq(setenv("BHC_ARENA_SOCKET", d.socket, 1), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "daemon", 1), 0);
}

static void daemon_stop(void)
{
	bhc_test_daemon_stop_clean(&d);
}

/* Start the daemon again on the same socket and wait until the new instance is ready. */
static void daemon_restart(void)
{
	int n_listen = bhc_test_daemon_log_count(&d, "listening on");
	int n_ready = bhc_test_daemon_log_count(&d, "ready:");

	ck_assert_int_eq(bhc_test_daemon_spawn(&d, NULL), 0);
	ck_assert(bhc_test_daemon_log_wait(&d, "listening on", n_listen + 1, 10000));
	ck_assert(bhc_test_daemon_log_wait(&d, "ready:", n_ready + 1, 20000));
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* --- what the daemon says ------------------------------------------------------ */

/* Lines of the daemon's log about process @pid that contain @what. */
static int log_count_pid(pid_t pid, const char *what)
{
	char *log = bhc_test_daemon_log_read(&d), *line, *save = NULL, who[32];
	int n = 0;

	ck_assert_ptr_nonnull(log);
	snprintf(who, sizeof(who), "(pid %d,", (int)pid);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, who) && strstr(line, what))
			n++;
	free(log);
	return n;
}

/* Connections process @pid opened ("... connected", not "disconnected"). */
static int n_connections(pid_t pid)
{
	return log_count_pid(pid, " connected");
}

/*
 * Wait until the daemon logs that @pid's connection ended; returns how many
 * regions that released, or -1 on timeout.
 */
static long wait_disconnect(pid_t pid, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	char *log, *line, *save, *p, who[32];
	long n = -1;

	snprintf(who, sizeof(who), "(pid %d,", (int)pid);
	for (;;) {
		log = bhc_test_daemon_log_read(&d);
		ck_assert_ptr_nonnull(log);
		save = NULL;
		for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			if (!strstr(line, who) || !strstr(line, " disconnected ("))
				continue;
			p = strstr(line, "): released ");
			if (!p || sscanf(p, "): released %ld regions", &n) != 1)
				n = 0;
		}
		free(log);
		if (n >= 0 || bhc_test_now_ms() >= deadline)
			return n;
		sleep_ms(10);
	}
}

/*
 * Wait until @pid's connection holds @n leases, as the admin JSON's client
 * row says; false after a timeout (or if @pid has no connection).
 */
static bool wait_leases(pid_t pid, long n, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();

	for (;;) {
		if (bhc_test_admin_client_u64(&d, pid, "regions") == n)
			return true;
		if (bhc_test_now_ms() >= deadline)
			return false;
		sleep_ms(20);
	}
}

struct usage {
	uint64_t used, high_water, n_allocs, n_resets;
};

/* What the daemon reads in region @id's live header (pread() of the memfd), from the admin JSON. */
static void daemon_region_usage(uint64_t id, struct usage *u)
{
	static const char *const keys[] = { "used", "high_water", "allocs", "resets" };
	uint64_t *out[] = { &u->used, &u->high_water, &u->n_allocs, &u->n_resets };
	int64_t v;
	size_t i;

	for (i = 0; i < 4; i++) {
		v = bhc_test_admin_row_u64(&d, "regions", "id", id, keys[i]);
		ck_assert_msg(v >= 0, "no %s for region %" PRIu64 " in the admin JSON", keys[i],
			      id);
		*out[i] = (uint64_t)v;
	}
}

/* --- client processes ---------------------------------------------------------- */

/* Reap @pid within @timeout_ms (SIGKILL and fail after); returns its wait status. */
static int reap(pid_t pid, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		ck_assert_int_ne(r, -1);
		if (r == pid)
			return status;
		if (bhc_test_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("client %d did not finish in %d ms", (int)pid, timeout_ms);
		}
		sleep_ms(5);
	}
}

/* Reap @pid and require a normal exit with status 0 (no SIGBUS, no failed check). */
static void reap_ok(pid_t pid, int timeout_ms, const char *what)
{
	int status = reap(pid, timeout_ms);

	ck_assert_msg(!WIFSIGNALED(status), "%s (pid %d) died of signal %d", what, (int)pid,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(WEXITSTATUS(status) == 0, "%s (pid %d) exited with %d", what, (int)pid,
		      WEXITSTATUS(status));
}

static pid_t spawn(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

/* Read exactly @len bytes from @fd within @timeout_ms; false on EOF, error or timeout. */
static bool read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t off = 0;
	ssize_t n;
	uint64_t now;

	while (off < len) {
		now = bhc_test_now_ms();
		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return false;
		n = read(fd, (char *)buf + off, len - off);
		if (n <= 0)
			return false;
		off += (size_t)n;
	}
	return true;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	return write(fd, buf, len) == (ssize_t)len;
}

/* Block until the other end of @fd is closed (or a byte comes). */
static void wait_eof(int fd)
{
	char c;

	while (read(fd, &c, 1) < 0 && errno == EINTR)
		;
}

#define child_fail(code, ...)                                   \
	do {                                                    \
		fprintf(stderr, "# child %d: ", (int)getpid()); \
		fprintf(stderr, __VA_ARGS__);                   \
		fprintf(stderr, "\n");                          \
		return (code);                                  \
	} while (0)

/* --- data patterns --------------------------------------------------------------- */

/* The whole free part of @arena as one allocation. */
static void *take_all(struct bhc_arena *arena, size_t *lenp)
{
	*lenp = bhc_arena_remaining(arena) & ~(size_t)4095;
	return bhc_arena_alloc(arena, *lenp, 4096);
}

static struct bhc_arena *daemon_arena(size_t capacity, struct bhc_arena_stats *st)
{
	struct bhc_arena *arena = NULL;
	int r;

	r = bhc_arena_new(capacity, &arena);
	ck_assert_msg(r == 0, "bhc_arena_new(%zu): %s", capacity, strerror(-r));
	ck_assert_int_eq(bhc_arena_stats(arena, st), 0);
	ck_assert_int_eq(st->source, BHC_ARENA_SOURCE_DAEMON);
	ck_assert_str_eq(st->source_name, "daemon");
	ck_assert_uint_gt(st->region_id, 0);
	return arena;
}

/* Descriptors of this process whose target starts with @prefix ("socket:", "/memfd:"). */
static int count_fds(const char *prefix)
{
	char path[64], target[256];
	int fd, n = 0;
	ssize_t len;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (!strncmp(target, prefix, strlen(prefix)))
			n++;
	}
	return n;
}

/* --- one arena, seen from both sides ------------------------------------------------ */

static int no_reregister_child(void *arg)
{
	struct bhc_arena *a;
	int r;

	(void)arg;
	if (setenv("BHC_ARENA_REREGISTER", "0", 1) < 0)
		child_fail(1, "setenv");
	r = bhc_arena_new(1 * MiB, &a);
	if (r < 0)
		child_fail(2, "bhc_arena_new: %s", strerror(-r));
	if (count_fds("/memfd:") != 0)
		child_fail(3, "the memfd was kept without lease tokens");
	bhc_arena_free(a);
	return 0;
}

START_TEST(test_daemon_arena)
{
	const struct bhc_arena_region_live *live;
	const struct bhc_arena_region_info *info;
	struct bhc_arena_stats st;
	struct bhc_arena_scope scope;
	struct test_region_probe probe;
	struct bhc_arena *a;
	char needle[64], line[512], *start;
	uint64_t used, hw;
	struct usage u;
	char *p1, *p2, *p3, *p4;

	daemon_start(config_off);
	a = daemon_arena(1 * MiB, &st);
	ck_assert_uint_ge(st.capacity, 1 * MiB);
	ck_assert_uint_eq(st.region_size, st.capacity + HDR);
	ck_assert_uint_eq(st.page_size, (size_t)1 << test_region_info(a)->page_shift);

	/* the backing is the one the daemon says it leased (policy off: never hugetlb) */
	snprintf(needle, sizeof(needle), "leased region %" PRIu64 " (", st.region_id);
	ck_assert(bhc_test_daemon_log_line(&d, needle, line, sizeof(line)));
	ck_assert_msg(strstr(line, st.backing_name), "stats say %s, the daemon: %s",
		      st.backing_name, line);
	ck_assert_int_ne(st.backing, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_int_eq(n_connections(getpid()), 1);
	/*
	 * the memfd is kept (close-on-exec) with the lease token, to register the
	 * region again after a daemon restart; the connection is one socket
	 */
	ck_assert_int_eq(count_fds("/memfd:"), 1);
	ck_assert_int_eq(count_fds("socket:"), 1);

	/* the info header the library wrote from the GRANT */
	info = test_region_info(a);
	ck_assert_uint_eq(info->magic, BHC_ARENA_REGION_MAGIC);
	ck_assert_uint_eq(info->region_id, st.region_id);
	ck_assert_uint_eq(info->size, st.region_size);
	ck_assert_uint_eq(info->backing, st.backing);

	/* allocations land inside the mapping, above the header */
	start = test_region_start(a);
	live = (const void *)(start + BHC_ARENA_REGION_LIVE_OFFSET);
	ck_assert_uint_eq(live->top, (uintptr_t)start + st.region_size);
	ck_assert_uint_eq(live->base, (uintptr_t)start + HDR);
	p1 = bhc_arena_alloc(a, 1000, 64);
	p2 = bhc_arena_alloc(a, 3000, 8);
	p3 = bhc_arena_alloc_zeroed(a, 24, 8);
	ck_assert(p1 && p2 && p3);
	ck_assert(p3 >= start + HDR && p1 + 1000 <= start + st.region_size);
	memset(p1, 0xab, 1000);
	memset(p2, 0xcd, 3000);
	ck_assert_uint_eq(live->cursor, (uintptr_t)p3);
	ck_assert_uint_eq(live->n_allocs, 3);
	used = live->top - live->cursor;

	/* a scope's peak becomes the high-water mark when it ends */
	bhc_arena_scope_enter(a, &scope);
	p4 = bhc_arena_alloc(a, 100000, 4096);
	ck_assert_ptr_nonnull(p4);
	memset(p4, 0xef, 100000);
	bhc_arena_scope_leave(&scope);
	ck_assert_uint_eq(live->top - live->cursor, used);
	hw = live->high_water;
	ck_assert_uint_ge(hw, used + 100000);

	/* a reset counts and keeps the mark */
	bhc_arena_reset(a);
	ck_assert_uint_eq(live->cursor, live->top);
	ck_assert_uint_eq(live->n_resets, 1);
	ck_assert_uint_eq(live->high_water, hw);
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 10, 8));
	ck_assert_uint_eq(live->n_allocs, 5);

	/* the daemon reads the same through its own mapping of the memfd */
	daemon_region_usage(st.region_id, &u);
	ck_assert_uint_eq(u.used, live->top - live->cursor);
	ck_assert_uint_eq(u.high_water, hw);
	ck_assert_uint_eq(u.n_allocs, 5);
	ck_assert_uint_eq(u.n_resets, 1);
	ck_assert_int_eq(bhc_test_admin_client_u64(&d, getpid(), "regions"), 1);

	test_region_probe(start, st.region_size, &probe);
	bhc_arena_free(a);
	ck_assert(test_region_gone(&probe));
	ck_assert_int_eq(count_fds("/memfd:"), 0);
	ck_assert(wait_leases(getpid(), 0, 5000));
	/* one connection served all of it */
	ck_assert_int_eq(n_connections(getpid()), 1);

	/* BHC_ARENA_REREGISTER=0 (read at connect): no lease tokens, the memfd closed once mapped */
	reap_ok(spawn(no_reregister_child, NULL), 20000, "client with BHC_ARENA_REREGISTER=0");
	daemon_stop();
}
END_TEST

static int tag_child(void *arg)
{
	struct bhc_arena *a;
	int r;

	if (setenv("BHC_ARENA_TAG", arg, 1) < 0)
		child_fail(1, "setenv");
	r = bhc_arena_new(64 * 1024, &a);
	if (r < 0)
		child_fail(2, "bhc_arena_new: %s", strerror(-r));
	bhc_arena_free(a);
	return 0;
}

/* HELLO carries $BHC_ARENA_TAG; an invalid one is dropped, not fatal. */
START_TEST(test_tag)
{
	char good[] = "job-42:step.7/a+b=c@x", bad[] = "no spaces allowed", needle[96];
	pid_t pid;

	daemon_start(config_off);
	pid = spawn(tag_child, good);
	reap_ok(pid, 20000, "tagged client");
	snprintf(needle, sizeof(needle), "tag \"%s\") connected", good);
	ck_assert_int_eq(log_count_pid(pid, needle), 1);

	pid = spawn(tag_child, bad);
	reap_ok(pid, 20000, "client with a bad tag");
	ck_assert_int_eq(n_connections(pid), 1);
	ck_assert_int_eq(log_count_pid(pid, "tag \""), 0);
	daemon_stop();
}
END_TEST

/* --- without a daemon ----------------------------------------------------------------- */

START_TEST(test_no_daemon)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_DAEMON };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/bhc-client-test.XXXXXX", path[128];
	struct bhc_arena_stats st;
	struct bhc_arena *a = NULL;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	ck_assert_int_eq(setenv("BHC_ARENA_SOCKET", path, 1), 0);

	/* auto: silently local */
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "auto", 1), 0);
	ck_assert_int_eq(bhc_arena_new(1 * MiB, &a), 0);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_int_eq(st.source, BHC_ARENA_SOURCE_LOCAL);
	ck_assert_str_eq(st.source_name, "local");
	bhc_arena_free(a);

	/* daemon: a clear error, every time (the auto mode's memory does not apply) */
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "daemon", 1), 0);
	a = NULL;
	ck_assert_int_eq(bhc_arena_new(1 * MiB, &a), -ECONNREFUSED);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(bhc_arena_new_opts(1 * MiB, &opts, &a), -ECONNREFUSED);
	errno = 0;
	ck_assert_ptr_null(bhc_arena_thread());
	ck_assert_int_eq(errno, ECONNREFUSED);

	/* a socket file nobody listens on */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", dir);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(setenv("BHC_ARENA_SOCKET", sa.sun_path, 1), 0);
	ck_assert_int_eq(bhc_arena_new(1 * MiB, &a), -ECONNREFUSED);
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "auto", 1), 0);
	ck_assert_int_eq(bhc_arena_new(1 * MiB, &a), 0);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_int_eq(st.source, BHC_ARENA_SOURCE_LOCAL);
	bhc_arena_free(a);

	unlink(sa.sun_path);
	rmdir(dir);
}
END_TEST

/*
 * Auto mode remembers a missing daemon for a moment; after it, it connects
 * again. A listener that never answers stands in for a hung daemon: the
 * HELLO it receives is checked, and the client gives up after
 * $BHC_ARENA_TIMEOUT_MS.
 */
START_TEST(test_auto_absent_and_timeout)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/bhc-client-test.XXXXXX";
	struct bhc_arena_msg_hello hello;
	struct bhc_arena_stats st;
	struct bhc_arena *a = NULL;
	uint64_t t_fail, t0, elapsed;
	int lfd, cfd, r;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/arenad.sock", dir);
	ck_assert_int_eq(setenv("BHC_ARENA_SOCKET", sa.sun_path, 1), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "auto", 1), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_TIMEOUT_MS", "300", 1), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_TAG", "job-7", 1), 0);

	ck_assert_int_eq(bhc_arena_new(1 * MiB, &a), 0);
	t_fail = bhc_test_now_ms(); /* the failed connect is remembered from about now */
	bhc_arena_free(a);

	lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);

	/* within the second: local, without even connecting */
	ck_assert_int_eq(bhc_arena_new(1 * MiB, &a), 0);
	elapsed = bhc_test_now_ms() - t_fail;
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	bhc_arena_free(a);
	/* a socket, a bind and a listen between the two calls: well within the second */
	ck_assert_uint_lt(elapsed, 900);
	ck_assert_int_eq(st.source, BHC_ARENA_SOURCE_LOCAL);
	ck_assert_int_eq(accept4(lfd, NULL, NULL, SOCK_CLOEXEC), -1);
	ck_assert_int_eq(errno, EAGAIN);

	/* after it: a connection, a HELLO, no answer, ETIMEDOUT (a daemon is there, just hung) */
	elapsed = bhc_test_now_ms() - t_fail;
	if (elapsed < 1100)
		sleep_ms((unsigned int)(1100 - elapsed));
	t0 = bhc_test_now_ms();
	r = bhc_arena_new(1 * MiB, &a);
	elapsed = bhc_test_now_ms() - t0;
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_uint_lt(elapsed, 10000);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(cfd, 0);
	n = recv(cfd, &hello, sizeof(hello), MSG_DONTWAIT);
	ck_assert_int_eq(n, sizeof(hello));
	ck_assert_uint_eq(hello.hdr.magic, BHC_ARENA_PROTO_MAGIC);
	ck_assert_uint_eq(hello.hdr.version, BHC_ARENA_PROTO_VERSION);
	ck_assert_uint_eq(hello.hdr.type, BHC_ARENA_MSG_HELLO);
	ck_assert_uint_eq(hello.hdr.length, sizeof(hello));
	ck_assert_uint_ne(hello.hdr.seq, 0);
	ck_assert_uint_eq(hello.pid, (uint32_t)getpid());
	/* the library asks for lease tokens (a daemon that does not know them says EINVAL) */
	ck_assert_uint_eq(hello.flags, BHC_ARENA_HELLO_LEASE_TOKENS);
	ck_assert_str_eq(hello.tag, "job-7");
	/* the client gave that connection up: it is closed */
	ck_assert(bhc_test_closed(cfd, 2000));
	close(cfd);

	/* the next try connects afresh; an invalid tag is left out */
	ck_assert_int_eq(setenv("BHC_ARENA_TAG", "not a tag", 1), 0);
	ck_assert_int_eq(bhc_arena_new(1 * MiB, &a), -ETIMEDOUT);
	cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(recv(cfd, &hello, sizeof(hello), MSG_DONTWAIT), sizeof(hello));
	ck_assert_uint_eq(hello.hdr.type, BHC_ARENA_MSG_HELLO);
	ck_assert_str_eq(hello.tag, "");
	close(cfd);

	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
	unsetenv("BHC_ARENA_TIMEOUT_MS");
	unsetenv("BHC_ARENA_TAG");
}
END_TEST

/*
 * A daemon that stops answering (SIGSTOP) mid-conversation: the request
 * times out, the connection (and the lease on it) is kept, and when the
 * daemon wakes up its late grant is handed back, not leaked.
 */
START_TEST(test_hung_daemon)
{
	struct bhc_arena_stats st_a, st_c;
	struct bhc_arena *a, *b = NULL, *c;
	uint64_t t0, elapsed;
	size_t len;
	void *p;
	int r;

	daemon_start(config_off);
	a = daemon_arena(1 * MiB, &st_a);
	p = take_all(a, &len);
	bhc_test_pattern_fill(p, len, 1);

	ck_assert_int_eq(kill(d.pid, SIGSTOP), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_TIMEOUT_MS", "300", 1), 0);
	t0 = bhc_test_now_ms();
	r = bhc_arena_new(1 * MiB, &b);
	elapsed = bhc_test_now_ms() - t0;
	ck_assert_int_eq(kill(d.pid, SIGCONT), 0);
	ck_assert_int_eq(r, -ETIMEDOUT);
	ck_assert_ptr_null(b);
	ck_assert_uint_lt(elapsed, 10000);
	unsetenv("BHC_ARENA_TIMEOUT_MS");

	c = daemon_arena(1 * MiB, &st_c);
	ck_assert_uint_gt(st_c.region_id, st_a.region_id + 1); /* the late grant was in between */
	ck_assert(bhc_test_pattern_verify(p, len, 1));
	/* one connection all along; what it holds: a and c, the late grant was given back */
	ck_assert(wait_leases(getpid(), 2, 5000));
	ck_assert_int_eq(n_connections(getpid()), 1);
	bhc_arena_free(a);
	bhc_arena_free(c);
	ck_assert(wait_leases(getpid(), 0, 5000));
	daemon_stop();
}
END_TEST

static int mode_child(void *arg)
{
	struct bhc_arena_stats st;
	struct bhc_arena *a;
	int r;

	if (setenv("BHC_ARENA_MODE", arg, 1) < 0)
		child_fail(1, "setenv");
	r = bhc_arena_new(1 * MiB, &a);
	if (!strcmp(arg, "daemon")) {
		if (r != -EUSERS)
			child_fail(2, "daemon mode past max_connections: %d, wanted -EUSERS", r);
		return 0;
	}
	if (r < 0)
		child_fail(3, "auto mode past max_connections: %s", strerror(-r));
	if (bhc_arena_stats(a, &st) < 0 || st.source != BHC_ARENA_SOURCE_LOCAL)
		child_fail(4, "auto mode past max_connections: not a local arena");
	bhc_arena_free(a);
	return 0;
}

/* A daemon that serves no more connections: its reason in daemon mode, local in auto mode. */
START_TEST(test_max_connections)
{
	static const char config[] = "[pool]\nhugepages = off\nwarm = none\n"
				     "[limits]\nmax_connections = 1\n";
	char daemon_mode[] = "daemon", auto_mode[] = "auto";
	struct bhc_arena_stats st;
	struct bhc_arena *a;

	daemon_start(config);
	a = daemon_arena(1 * MiB, &st);
	reap_ok(spawn(mode_child, daemon_mode), 20000, "the client in daemon mode");
	reap_ok(spawn(mode_child, auto_mode), 20000, "the client in auto mode");
	/* the connection that has the slot is served all along */
	bhc_arena_free(a);
	a = daemon_arena(1 * MiB, &st);
	bhc_arena_free(a);
	ck_assert_int_eq(n_connections(getpid()), 1);
	daemon_stop();
}
END_TEST

/* --- the program closes the library's socket ------------------------------------------- */

/* The one socket this process has open, or -1. */
static int find_socket_fd(void)
{
	char path[64], target[64];
	int fd, found = -1;
	ssize_t n;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strncmp(target, "socket:", 7)) {
			if (found >= 0)
				return -1;
			found = fd;
		}
	}
	return found;
}

/*
 * A program that closes descriptors it does not own (and reuses the number)
 * loses the connection; the library notices, writes nothing to whatever the
 * number names now, and connects again. (Arenas held across that are lost:
 * their leases ended with the connection, so none is held here.)
 */
static int stolen_fd_child(void *arg)
{
	struct bhc_arena *a, *b;
	int sock, p[2], r;
	char c;

	(void)arg;
	r = bhc_arena_new(1 * MiB, &a);
	if (r < 0)
		child_fail(2, "bhc_arena_new: %s", strerror(-r));
	bhc_arena_free(a);
	sock = find_socket_fd();
	if (sock < 0)
		child_fail(3, "cannot find the library's socket");
	if (pipe2(p, O_NONBLOCK) < 0 || dup2(p[1], sock) < 0)
		child_fail(4, "pipe/dup2");
	r = bhc_arena_new(1 * MiB, &b);
	if (r < 0)
		child_fail(5, "bhc_arena_new after the socket was taken: %s", strerror(-r));
	bhc_arena_free(b);
	if (read(p[0], &c, 1) != -1 || errno != EAGAIN)
		child_fail(6, "the library wrote into a descriptor that is not its socket");
	return 0;
}

START_TEST(test_stolen_fd)
{
	pid_t pid;

	daemon_start(config_off);
	pid = spawn(stolen_fd_child, NULL);
	reap_ok(pid, 20000, "the client");
	ck_assert_int_eq(n_connections(pid), 2);
	daemon_stop();
}
END_TEST

/* --- pre-faulting the mapping, on kernels that cannot or when a page is missing --------- */

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#else
#define SECCOMP_ARCH 0
#endif

/*
 * In a client process: make madvise(MADV_POPULATE_WRITE) fail with @err, as
 * a kernel before 5.14 (EINVAL) or a region missing a page (EFAULT) would.
 * Returns 0, or -1 if seccomp cannot do it here.
 */
static int seccomp_populate_fails(int err)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_POPULATE_WRITE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned int)err),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };

	if (!SECCOMP_ARCH || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		return -1;
	return 0;
}

struct populate_ctx {
	int err; /* what MADV_POPULATE_WRITE says */
	int report_w, hold_r, hold_w;
};

/* The client: reports bhc_arena_new()'s answer, then stays connected until told. */
static int populate_child(void *arg)
{
	struct populate_ctx *ctx = arg;
	struct bhc_arena_stats st;
	struct bhc_arena *a = NULL;
	int r, report[2] = { 0, 0 };
	size_t len;
	void *p;

	close(ctx->hold_w);
	if (seccomp_populate_fails(ctx->err) < 0) {
		report[0] = 1;
		return write_full(ctx->report_w, report, sizeof(report)) ? 0 : 1;
	}
	r = bhc_arena_new(CAP_2M, &a);
	report[1] = r;
	if (r == 0) {
		bhc_arena_stats(a, &st);
		if (st.source != BHC_ARENA_SOURCE_DAEMON)
			child_fail(2, "not a daemon arena");
		/* still never shared with a child */
		if (!test_region_dontfork(test_region_start(a), st.region_size, NULL))
			child_fail(3, "the region is not MADV_DONTFORK");
		p = take_all(a, &len);
		bhc_test_pattern_fill(p, len, 3);
		if (!bhc_test_pattern_verify(p, len, 3))
			child_fail(4, "the region does not keep its data");
	}
	if (!write_full(ctx->report_w, report, sizeof(report)))
		child_fail(5, "report");
	wait_eof(ctx->hold_r);
	bhc_arena_free(a);
	return 0;
}

static void populate_case(int err, int want)
{
	struct populate_ctx ctx = { err, -1, -1, -1 };
	int report[2], hold[2], got[2];
	pid_t pid;

	daemon_start(config_off);
	ck_assert_int_eq(pipe(report), 0);
	ck_assert_int_eq(pipe(hold), 0);
	ctx.report_w = report[1];
	ctx.hold_r = hold[0];
	ctx.hold_w = hold[1];
	pid = spawn(populate_child, &ctx);
	close(report[1]);
	close(hold[0]);
	ck_assert(read_full(report[0], got, sizeof(got), 20000));
	close(report[0]);
	if (got[0]) {
		close(hold[1]);
		reap(pid, 20000);
		daemon_stop();
		bhc_test_skip("seccomp filters are not available here");
	}
	ck_assert_int_eq(got[1], want);
	/* a failed mapping gave its region back at once */
	ck_assert(wait_leases(pid, want == 0 ? 1 : 0, 5000));
	close(hold[1]);
	reap_ok(pid, 20000, "the client");
	daemon_stop();
}

/* Linux < 5.14: no MADV_POPULATE_WRITE; the mapping is made again with MAP_POPULATE. */
START_TEST(test_populate_old_kernel)
{
	populate_case(EINVAL, 0);
}
END_TEST

/* A page the daemon should have allocated is missing: an error now, not SIGBUS later. */
START_TEST(test_populate_fails)
{
	populate_case(EFAULT, -ENOMEM);
}
END_TEST

/* --- many processes ---------------------------------------------------------------- */

#define N_PROCS 16
#define N_PER_PROC 4

struct many_report {
	int index;
	int status;
	uint64_t ids[N_PER_PROC];
};

struct many_ctx {
	int index;
	int ready_w, go_r, report_w;
};

/* Four arenas, each filled with its own pattern; verified after every process has written. */
static int many_child(void *arg)
{
	struct many_ctx *ctx = arg;
	struct many_report rep = { .index = ctx->index };
	struct bhc_arena *a[N_PER_PROC];
	struct bhc_arena_stats st;
	void *p[N_PER_PROC];
	size_t len[N_PER_PROC];
	int i, r;

	for (i = 0; i < N_PER_PROC; i++) {
		r = bhc_arena_new(1 * MiB, &a[i]);
		if (r < 0)
			child_fail(2, "bhc_arena_new: %s", strerror(-r));
		if (bhc_arena_stats(a[i], &st) < 0 || st.source != BHC_ARENA_SOURCE_DAEMON)
			child_fail(3, "not a daemon arena");
		rep.ids[i] = st.region_id;
		p[i] = take_all(a[i], &len[i]);
		if (!p[i] || len[i] < 1 * MiB)
			child_fail(4, "cannot allocate the arena's capacity");
		bhc_test_pattern_fill(p[i], len[i],
				      (uint64_t)ctx->index * N_PER_PROC + (uint64_t)i + 1);
	}
	if (!write_full(ctx->ready_w, "r", 1))
		child_fail(5, "ready");
	wait_eof(ctx->go_r);
	for (i = 0; i < N_PER_PROC; i++) {
		if (!bhc_test_pattern_verify(p[i], len[i],
					     (uint64_t)ctx->index * N_PER_PROC + (uint64_t)i + 1))
			child_fail(6, "arena %d lost its pattern", i);
		bhc_arena_free(a[i]);
	}
	if (!write_full(ctx->report_w, &rep, sizeof(rep)))
		child_fail(7, "report");
	return 0;
}

START_TEST(test_many_processes)
{
	struct many_report reps[N_PROCS];
	struct many_ctx ctx;
	int ready[2], go[2], report[2], i, j;
	uint64_t all[N_PROCS * N_PER_PROC];
	pid_t pids[N_PROCS];
	char buf[N_PROCS];

	daemon_start(config_off);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(report), 0);
	for (i = 0; i < N_PROCS; i++) {
		ctx = (struct many_ctx){ i, ready[1], go[0], report[1] };
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(go[1]);
			_exit(many_child(&ctx));
		}
	}
	close(ready[1]);
	close(go[0]);
	close(report[1]);
	/* every process holds its four regions, written: now all verify theirs */
	ck_assert_msg(read_full(ready[0], buf, N_PROCS, 60000), "not every client got ready");
	close(go[1]);
	for (i = 0; i < N_PROCS; i++)
		reap_ok(pids[i], 60000, "client");
	for (i = 0; i < N_PROCS; i++)
		ck_assert(read_full(report[0], &reps[i], sizeof(reps[i]), 1000));
	close(ready[0]);
	close(report[0]);
	for (i = 0; i < N_PROCS; i++)
		for (j = 0; j < N_PER_PROC; j++)
			all[i * N_PER_PROC + j] = reps[i].ids[j];
	for (i = 0; i < N_PROCS * N_PER_PROC; i++) {
		ck_assert_uint_gt(all[i], 0);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(all[i], all[j]);
	}
	/* each client had one connection, and nothing was left when it ended */
	for (i = 0; i < N_PROCS; i++) {
		ck_assert_int_eq(n_connections(pids[i]), 1);
		ck_assert_int_eq(wait_disconnect(pids[i], 10000), 0);
	}
	daemon_stop();
}
END_TEST

/* --- a client killed with leases ---------------------------------------------------------- */

struct holder_ctx {
	int n;
	size_t capacity;
	int report_w;
};

/* Hold @n arenas written full, report, and wait to be killed. */
static int holder_child(void *arg)
{
	struct holder_ctx *ctx = arg;
	struct bhc_arena *a;
	struct bhc_arena_stats st;
	size_t len;
	void *p;
	int i, r;

	for (i = 0; i < ctx->n; i++) {
		r = bhc_arena_new(ctx->capacity, &a);
		if (r < 0)
			child_fail(2, "bhc_arena_new: %s", strerror(-r));
		if (bhc_arena_stats(a, &st) < 0 || st.source != BHC_ARENA_SOURCE_DAEMON)
			child_fail(3, "not a daemon arena");
		p = take_all(a, &len);
		if (!p)
			child_fail(4, "alloc");
		memset(p, 0xee, len);
	}
	if (!write_full(ctx->report_w, "r", 1))
		child_fail(5, "report");
	for (;;)
		pause();
}

static pid_t holder_start(int n, size_t capacity)
{
	struct holder_ctx ctx = { n, capacity, -1 };
	int report[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(report), 0);
	ctx.report_w = report[1];
	pid = spawn(holder_child, &ctx);
	close(report[1]);
	ck_assert_msg(read_full(report[0], &c, 1, 30000), "the lease holder did not get ready");
	close(report[0]);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	status = reap(pid, 10000);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

START_TEST(test_kill_reclaims)
{
	pid_t pid;

	daemon_start(config_off);
	pid = holder_start(3, 1 * MiB);
	ck_assert(wait_leases(pid, 3, 5000));
	kill_and_reap(pid);
	ck_assert_int_eq(wait_disconnect(pid, 10000), 3);
	daemon_stop();
}
END_TEST

/* Make sure @n 2 MiB hugepages are free for this test; skips if that cannot be. */
static long hugepages_for_test(unsigned long n)
{
	char why[256];

	if (bhc_test_hugepages_reserve(2048, n, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	return bhc_test_hugepages_free(2048);
}

START_TEST(test_kill_returns_hugepages)
{
	static const char config[] = "[pool]\nhugepages = require\nwarm = none\n";
	uint64_t deadline;
	long baseline, during, now;
	pid_t pid;

	hugepages_for_test(3);
	daemon_start(config);
	/* again, right before: other processes may have taken some meanwhile */
	baseline = hugepages_for_test(3);
	ck_assert_int_ge(baseline, 3);
	pid = holder_start(3, CAP_2M);
	during = bhc_test_hugepages_free(2048);
	ck_assert_msg(during <= baseline - 3, "HugePages_Free %ld while 3 are leased (from %ld)",
		      during, baseline);
	kill_and_reap(pid);
	ck_assert_int_eq(wait_disconnect(pid, 10000), 3);
	deadline = bhc_test_now_ms() + 10000;
	while ((now = bhc_test_hugepages_free(2048)) < baseline && bhc_test_now_ms() < deadline)
		sleep_ms(10);
	ck_assert_msg(now >= baseline, "HugePages_Free %ld, %ld before the client", now, baseline);
	daemon_stop();
}
END_TEST

/* --- a fresh region reads as zero ------------------------------------------------------------ */

struct fresh_ctx {
	size_t capacity;
	int report_w;
	bool fill; /* the first client: fill and free; the second: check for zeros */
};

static int fresh_child(void *arg)
{
	struct fresh_ctx *ctx = arg;
	struct bhc_arena_stats st;
	struct bhc_arena *a;
	size_t len;
	void *p;
	int r;

	r = bhc_arena_new(ctx->capacity, &a);
	if (r < 0)
		child_fail(2, "bhc_arena_new: %s", strerror(-r));
	if (bhc_arena_stats(a, &st) < 0 || st.source != BHC_ARENA_SOURCE_DAEMON)
		child_fail(3, "not a daemon arena");
	p = take_all(a, &len);
	if (!p)
		child_fail(4, "alloc");
	if (!bhc_test_all_zero(p, len))
		child_fail(5, "region %" PRIu64 " is not all zero", st.region_id);
	if (ctx->fill) {
		memset(p, 0x5a, len);
		/* and the whole header's reserved part the library does not use */
		memset(test_region_start(a) + 128, 0x5a, HDR - 128);
	} else if (!bhc_test_all_zero(test_region_start(a) + 128, HDR - 128)) {
		child_fail(6, "region %" PRIu64 "'s header is not clean", st.region_id);
	}
	if (!write_full(ctx->report_w, &st, sizeof(st)))
		child_fail(7, "report");
	bhc_arena_free(a);
	return 0;
}

/*
 * With a warm pool of one region of the arena's size: should the daemon ever
 * hand a released region out again (warm, at the head of the line), the
 * second client would get the first one's bytes.
 */
START_TEST(test_fresh_region_zero)
{
	static const char config_huge[] = "[pool]\nhugepages = require\nwarm = 2M:1\n";
	static const char config_warm[] = "[pool]\nhugepages = off\nwarm = 2M:1\n";
	struct fresh_ctx ctx = { CAP_2M, -1, true };
	struct bhc_arena_stats st1, st2;
	char why[256];
	bool huge;
	int report[2];
	pid_t pid;

	/* hugetlb if this test can have a page (the kernel zeroes it for the next owner) */
	huge = bhc_test_hugepages_reserve(2048, 3, why, sizeof(why)) == 0;
	daemon_start(huge ? config_huge : config_warm);
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.warm", 2 * MiB, 5000), 2 * MiB);
	ck_assert_int_eq(pipe(report), 0);
	ctx.report_w = report[1];
	pid = spawn(fresh_child, &ctx);
	reap_ok(pid, 20000, "the client that fills");
	ck_assert(read_full(report[0], &st1, sizeof(st1), 1000));
	ck_assert(wait_disconnect(pid, 10000) == 0);

	ctx.fill = false;
	/* the warm pool is full again before the second client asks */
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.warm", 2 * MiB, 5000), 2 * MiB);
	if (huge)
		ck_assert_int_eq(bhc_test_hugepages_reserve(2048, 1, why, sizeof(why)), 0);
	pid = spawn(fresh_child, &ctx);
	reap_ok(pid, 20000, "the client that checks");
	ck_assert(read_full(report[0], &st2, sizeof(st2), 1000));
	close(report[0]);
	close(report[1]);
	ck_assert_uint_ne(st1.region_id, st2.region_id);
	ck_assert_int_eq(st1.backing, st2.backing);
	if (huge)
		ck_assert_int_eq(st2.backing, BHC_ARENA_BACKING_HUGETLB);
	else
		fprintf(stderr, "# shmem regions (%s)\n", why);
	daemon_stop();
}
END_TEST

/* --- the hugepage pool runs out, under each policy ----------------------------------------- */

#define EXHAUST_MAX 64

struct exhaust_report {
	int n_ok;
	int err;
	uint32_t backing[EXHAUST_MAX];
};

struct exhaust_ctx {
	int n_max;
	int report_w;
};

/* Ask for 2 MiB arenas until @n_max or an error; write every page of every one. */
static int exhaust_child(void *arg)
{
	struct exhaust_ctx *ctx = arg;
	struct exhaust_report rep = { 0 };
	struct bhc_arena_stats st;
	struct bhc_arena *a[EXHAUST_MAX];
	size_t len;
	void *p;
	int i, r;

	for (i = 0; i < ctx->n_max; i++) {
		r = bhc_arena_new(CAP_2M, &a[i]);
		if (r < 0) {
			rep.err = r;
			break;
		}
		if (bhc_arena_stats(a[i], &st) < 0 || st.source != BHC_ARENA_SOURCE_DAEMON)
			child_fail(3, "not a daemon arena");
		p = take_all(a[i], &len);
		if (!p || len < CAP_2M - 4096)
			child_fail(4, "alloc");
		memset(p, 0x77, len);
		rep.backing[i] = st.backing;
		rep.n_ok++;
	}
	for (i = 0; i < rep.n_ok; i++)
		bhc_arena_free(a[i]);
	if (!write_full(ctx->report_w, &rep, sizeof(rep)))
		child_fail(7, "report");
	return 0;
}

/*
 * A daemon with hugepage policy @policy and a client that asks for arenas
 * until one fails or it has @n_max. With @n_avail >= 0 the 2 MiB pool is
 * sized first (as root) so that exactly @n_avail pages are available to it.
 */
static void exhaust(const char *policy, int n_avail, int n_max, struct exhaust_report *rep)
{
	struct exhaust_ctx ctx;
	char config[128], why[256];
	int report[2];
	pid_t pid;

	if (n_avail >= 0 &&
	    bhc_test_hugepages_set_available(2048, (unsigned long)n_avail, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	snprintf(config, sizeof(config), "[pool]\nhugepages = %s\nwarm = none\n", policy);
	daemon_start(config);
	ctx = (struct exhaust_ctx){ n_max, -1 };
	ck_assert_int_eq(pipe(report), 0);
	ctx.report_w = report[1];
	pid = spawn(exhaust_child, &ctx);
	/* it exits normally: nothing it was given raised SIGBUS */
	reap_ok(pid, 60000 * (int)bhc_test_timeout_scale(), "the client");
	ck_assert(read_full(report[0], rep, sizeof(*rep), 1000 * (int)bhc_test_timeout_scale()));
	close(report[0]);
	close(report[1]);
	daemon_stop();
}

/* Exactly four pages: four hugetlb arenas (the exact fit), the fifth refused. */
START_TEST(test_exhaust_require)
{
	struct exhaust_report rep;
	int i;

	exhaust("require", 4, 8, &rep);
	/* the documented answer: ENOMEM (the daemon's text names vm.nr_hugepages) */
	ck_assert_int_eq(rep.err, -ENOMEM);
	ck_assert_int_eq(rep.n_ok, 4);
	for (i = 0; i < rep.n_ok; i++)
		ck_assert_int_eq(rep.backing[i], BHC_ARENA_BACKING_HUGETLB);
}
END_TEST

/* Exactly four pages: four hugetlb arenas, then the fallback, never a failure. */
START_TEST(test_exhaust_prefer)
{
	struct exhaust_report rep;
	int i;

	exhaust("prefer", 4, 8, &rep);
	ck_assert_int_eq(rep.err, 0);
	ck_assert_int_eq(rep.n_ok, 8);
	for (i = 0; i < rep.n_ok; i++) {
		if (i < 4)
			ck_assert_int_eq(rep.backing[i], BHC_ARENA_BACKING_HUGETLB);
		else
			ck_assert(rep.backing[i] == BHC_ARENA_BACKING_THP ||
				  rep.backing[i] == BHC_ARENA_BACKING_SMALL);
	}
}
END_TEST

START_TEST(test_exhaust_off)
{
	struct exhaust_report rep;
	int i;

	exhaust("off", -1, 6, &rep);
	ck_assert_int_eq(rep.err, 0);
	ck_assert_int_eq(rep.n_ok, 6);
	for (i = 0; i < rep.n_ok; i++)
		ck_assert(rep.backing[i] == BHC_ARENA_BACKING_THP ||
			  rep.backing[i] == BHC_ARENA_BACKING_SMALL);
}
END_TEST

/* --- the daemon's limits, as the API reports them ---------------------------------------- */

static int limits_child(void *arg)
{
	struct bhc_arena *a;
	int r;

	(void)arg;
	r = bhc_arena_new(CAP_2M, &a);
	if (r < 0)
		child_fail(2, "first arena of a second client: %s", strerror(-r));
	r = bhc_arena_new(CAP_2M, &a);
	if (r != -ENOSPC)
		child_fail(3, "past the daemon's total: %d, wanted -ENOSPC", r);
	return 0;
}

START_TEST(test_limits)
{
	static const char config[] = "[pool]\nhugepages = off\nwarm = none\nmax_region_size = 8M\n"
				     "[limits]\ntotal = 4M\nper_connection_regions = 2\n";
	struct bhc_arena *a, *b, *c = NULL;
	struct bhc_arena_stats st;
	uint64_t deadline;
	pid_t pid;
	int r;

	daemon_start(config);
	a = daemon_arena(CAP_2M, &st);
	b = daemon_arena(CAP_2M, &st);
	ck_assert_int_eq(bhc_arena_new(CAP_2M, &c), -EDQUOT);
	ck_assert_ptr_null(c);
	bhc_arena_free(b);
	ck_assert_int_eq(bhc_arena_new(16 * MiB, &c), -EFBIG);
	pid = spawn(limits_child, NULL);
	reap_ok(pid, 20000, "the second client");
	ck_assert_int_eq(wait_disconnect(pid, 10000), 1);
	/* the refusals changed nothing: the connection still works (once the pages are back) */
	deadline = bhc_test_now_ms() + 10000;
	while ((r = bhc_arena_new(CAP_2M, &b)) == -ENOSPC && bhc_test_now_ms() < deadline)
		sleep_ms(10);
	ck_assert_int_eq(r, 0);
	bhc_arena_free(a);
	bhc_arena_free(b);
	ck_assert_int_eq(n_connections(getpid()), 1);
	daemon_stop();
}
END_TEST

/* --- a hugetlb region's first touch ------------------------------------------------------- */

/*
 * A hugetlb grant is mapped without populating its page tables: its pages
 * exist in the memfd, so writing all of a 16 MiB region takes a minor fault
 * per 2 MiB page (8), not one per 4 KiB (4096), and the data is there.
 */
START_TEST(test_hugetlb_first_touch)
{
	static const char config[] = "[pool]\nhugepages = require\nwarm = 16M:1\n";
	struct bhc_arena_stats st;
	struct rusage before, after;
	struct bhc_arena *a;
	size_t len;
	long faults;
	void *p;

	hugepages_for_test(8 + 8);
	daemon_start(config);
	a = daemon_arena(16 * MiB - HDR, &st);
	ck_assert_int_eq(st.backing, BHC_ARENA_BACKING_HUGETLB);
	p = take_all(a, &len);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &before), 0);
	bhc_test_pattern_fill(p, len, 0x70c4);
	ck_assert_int_eq(getrusage(RUSAGE_SELF, &after), 0);
	faults = after.ru_minflt - before.ru_minflt;
	ck_assert_msg(faults >= 1 && faults <= 8 + 8, "%ld faults writing 16 MiB of hugetlb",
		      faults);
	ck_assert_int_eq(after.ru_majflt, before.ru_majflt);
	ck_assert(bhc_test_pattern_verify(p, len, 0x70c4));
	bhc_arena_free(a);
	daemon_stop();
}
END_TEST

/* --- releases do not wait --------------------------------------------------------------- */

/*
 * bhc_arena_free() sends RELEASE and goes on; the RELEASEDs are read by
 * later requests. With [limits] total one region, every acquire right
 * after a release needs the room that release is still punching (16384
 * small pages, a millisecond or more): the daemon makes it wait for the
 * drop instead of answering ENOSPC.
 */
START_TEST(test_release_then_acquire)
{
	static const char config[] = "[pool]\nhugepages = off\nwarm = none\n"
				     "[limits]\ntotal = 64M\n";
	struct bhc_arena_stats st;
	struct bhc_arena *a;
	uint64_t last = 0;
	int i;

	daemon_start(config);
	for (i = 0; i < 40; i++) {
		a = daemon_arena(64 * MiB - HDR, &st);
		ck_assert_uint_gt(st.region_id, last);
		last = st.region_id;
		ck_assert_ptr_nonnull(bhc_arena_alloc(a, 4096, 64));
		bhc_arena_free(a);
	}
	ck_assert_int_eq(n_connections(getpid()), 1);
	ck_assert(wait_leases(getpid(), 0, 5000));
	daemon_stop();
}
END_TEST

/*
 * A process frees a thousand regions in a row and then talks to the daemon
 * no more for longer than [limits] stall_timeout: the replies it did not
 * wait for must not pile up until the daemon takes it for a client that
 * never reads (and ends its other leases). It keeps its connection and the
 * region it still holds, and every region it freed went back.
 */
/*
 * A connection that sends junk (each answered with an ERROR) and never reads
 * the answers: the daemon drops it once its replies have sat unread for the
 * stall timeout. Its drop is the event that tells that much quiet time has
 * passed for every connection that was quiet before it began.
 */
static int stall_witness_child(void *arg)
{
	struct bhc_arena_msg_hdr junk;
	int fd, idle = 0, n_sent = 0;

	(void)arg;
	fd = bhc_test_connect(d.socket);
	if (fd < 0 || bhc_test_hello(fd, "witness", 0, NULL) != 0)
		child_fail(2, "no connection");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		child_fail(3, "fcntl");
	bhc_test_hdr(&junk, 99, sizeof(junk), 1);
	while (n_sent < 200000 && idle < 20) {
		if (send(fd, &junk, sizeof(junk), MSG_NOSIGNAL) == 0 || errno != EAGAIN) {
			n_sent++;
			idle = 0;
			continue;
		}
		idle++;
		sleep_ms(10);
	}
	for (;;)
		pause();
}

/* Every line of the log about unread replies is about the witness. */
static void only_witness_dropped(void)
{
	char *log = bhc_test_daemon_log_read(&d), *line, *save = NULL;

	ck_assert_ptr_nonnull(log);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, "replies unread"))
			ck_assert_msg(strstr(line, "tag \"witness\""), "%s", line);
	free(log);
}

START_TEST(test_many_releases_then_quiet)
{
	char line[512];
	pid_t witness;
	static const char config[] = "[pool]\nhugepages = off\nwarm = none\n"
				     "[limits]\nstall_timeout = 300ms\n";
	enum { N = 1000 };
	struct bhc_arena **many = calloc(N, sizeof(*many));
	struct bhc_arena_stats st;
	struct bhc_arena *kept, *again;
	size_t len;
	void *p;
	int i;

	ck_assert_ptr_nonnull(many);
	daemon_start(config);
	kept = daemon_arena(1 * MiB, &st);
	p = take_all(kept, &len);
	ck_assert_ptr_nonnull(p);
	bhc_test_pattern_fill(p, len, 0x5eed);
	for (i = 0; i < N; i++)
		many[i] = daemon_arena(64 * 1024, &st);
	for (i = 0; i < N; i++)
		bhc_arena_free(many[i]);
	ck_assert(wait_leases(getpid(), 1, 10000));
	/* quiet for longer than the stall timeout: until a deaf witness is dropped for it */
	witness = spawn(stall_witness_child, NULL);
	ck_assert(bhc_test_daemon_log_wait(&d, "replies unread", 1, 10000));
	ck_assert(bhc_test_daemon_log_line(&d, "replies unread", line, sizeof(line)));
	ck_assert_msg(strstr(line, "tag \"witness\""), "%s", line);
	kill(witness, SIGKILL);
	reap(witness, 5000);
	/* the witness is the only one the daemon let go */
	only_witness_dropped();
	ck_assert_int_eq(bhc_test_admin_client_u64(&d, getpid(), "regions"), 1);
	ck_assert(bhc_test_pattern_verify(p, len, 0x5eed));
	again = daemon_arena(1 * MiB, &st);
	ck_assert_int_eq(n_connections(getpid()), 1);
	bhc_arena_free(again);
	bhc_arena_free(kept);
	ck_assert(wait_leases(getpid(), 0, 5000));
	free(many);
	daemon_stop();
}
END_TEST

/*
 * A process that exits right after its last bhc_arena_free() has not read
 * the RELEASEDs; the daemon still handles every RELEASE it sent before the
 * connection ended (its log says the client left nothing to release).
 */
static int free_and_exit_child(void *arg)
{
	struct bhc_arena *a[8];
	int i, r;

	(void)arg;
	for (i = 0; i < 8; i++) {
		r = bhc_arena_new(1 * MiB, &a[i]);
		if (r < 0)
			child_fail(2, "bhc_arena_new: %s", strerror(-r));
	}
	for (i = 0; i < 8; i++)
		bhc_arena_free(a[i]);
	return 0;
}

START_TEST(test_free_and_exit)
{
	pid_t pids[8];
	int i;

	daemon_start(config_off);
	for (i = 0; i < 8; i++)
		pids[i] = spawn(free_and_exit_child, NULL);
	for (i = 0; i < 8; i++) {
		reap_ok(pids[i], 20000, "client");
		ck_assert_int_eq(wait_disconnect(pids[i], 10000), 0);
		ck_assert_int_eq(log_count_pid(pids[i], "disconnected (closed by the client)"), 1);
	}
	daemon_stop();
}
END_TEST

/* --- the daemon restarts while regions are held -------------------------------------------- */

static void restart(bool hard)
{
	struct bhc_arena_stats st_a, st_b;
	struct bhc_arena *a, *b = NULL;
	size_t len_a, len_b;
	void *pa, *pb;
	int r;

	daemon_start(config_off);
	a = daemon_arena(4 * MiB, &st_a);
	pa = take_all(a, &len_a);
	ck_assert_ptr_nonnull(pa);
	bhc_test_pattern_fill(pa, len_a, 0xa11ce);

	if (hard) {
		ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
		ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	} else {
		ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
	}
	/* no daemon: daemon mode says so; the region is still ours */
	ck_assert_int_eq(bhc_arena_new(1 * MiB, &b), -ECONNREFUSED);
	ck_assert(bhc_test_pattern_verify(pa, len_a, 0xa11ce));

	daemon_restart();
	ck_assert(bhc_test_pattern_verify(pa, len_a, 0xa11ce));
	if (hard) {
		/*
		 * First a new arena: the new connection registers the region the
		 * process still holds (lease token), so the new daemon knows both;
		 * then the old one goes back to it.
		 */
		b = daemon_arena(1 * MiB, &st_b);
		ck_assert(wait_leases(getpid(), 2, 5000));
		ck_assert_int_eq(log_count_pid(getpid(), "registered region"), 1);
		bhc_arena_free(a);
	} else {
		/* the old one goes first (nothing to tell anyone), then a new connection */
		bhc_arena_free(a);
		b = daemon_arena(1 * MiB, &st_b);
	}
	pb = take_all(b, &len_b);
	ck_assert_ptr_nonnull(pb);
	bhc_test_pattern_fill(pb, len_b, 0xb0b);
	ck_assert(bhc_test_pattern_verify(pb, len_b, 0xb0b));
	/* one connection to each daemon; the new one holds exactly the new arena */
	ck_assert_int_eq(n_connections(getpid()), 2);
	ck_assert(wait_leases(getpid(), 1, 5000));
	r = log_count_pid(getpid(), "refused");
	ck_assert_int_eq(r, 0);
	bhc_arena_free(b);
	ck_assert(wait_leases(getpid(), 0, 5000));
	daemon_stop();
}

START_TEST(test_restart_sigterm)
{
	restart(false);
}
END_TEST

START_TEST(test_restart_sigkill)
{
	restart(true);
}
END_TEST

/* --- threads share the connection ---------------------------------------------------------- */

#define N_THREADS 8
#define N_ROUNDS 20

struct thread_ctx {
	int index;
	int err;
	uint64_t ids[N_ROUNDS];
};

static void *thread_main(void *arg)
{
	struct thread_ctx *ctx = arg;
	struct bhc_arena *prev = NULL, *a;
	struct bhc_arena_stats st;
	size_t len;
	void *p;
	int i, r;

	for (i = 0; i < N_ROUNDS; i++) {
		r = bhc_arena_new(256 * 1024, &a);
		if (r < 0) {
			ctx->err = r;
			break;
		}
		if (bhc_arena_stats(a, &st) < 0 || st.source != BHC_ARENA_SOURCE_DAEMON) {
			ctx->err = -EPROTO;
			break;
		}
		ctx->ids[i] = st.region_id;
		p = bhc_arena_alloc(a, 128 * 1024, 64);
		len = 128 * 1024;
		if (!p) {
			ctx->err = -ENOMEM;
			break;
		}
		bhc_test_pattern_fill(p, len, (uint64_t)ctx->index << 32 | (uint64_t)i);
		/* hold the previous one across the next exchange, then check and drop it */
		bhc_arena_free(prev);
		prev = a;
		if (!bhc_test_pattern_verify(p, len, (uint64_t)ctx->index << 32 | (uint64_t)i)) {
			ctx->err = -EIO;
			break;
		}
	}
	bhc_arena_free(prev);
	return NULL;
}

START_TEST(test_threads)
{
	struct thread_ctx ctx[N_THREADS];
	pthread_t tids[N_THREADS];
	uint64_t all[N_THREADS * N_ROUNDS];
	int i, j;

	daemon_start(config_off);
	for (i = 0; i < N_THREADS; i++) {
		ctx[i] = (struct thread_ctx){ .index = i };
		ck_assert_int_eq(pthread_create(&tids[i], NULL, thread_main, &ctx[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		ck_assert_int_eq(pthread_join(tids[i], NULL), 0);
	for (i = 0; i < N_THREADS; i++) {
		ck_assert_msg(ctx[i].err == 0, "thread %d: %s", i, strerror(-ctx[i].err));
		for (j = 0; j < N_ROUNDS; j++)
			all[i * N_ROUNDS + j] = ctx[i].ids[j];
	}
	/* no reply went to the wrong thread: every region id once */
	for (i = 0; i < N_THREADS * N_ROUNDS; i++) {
		ck_assert_uint_gt(all[i], 0);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(all[i], all[j]);
	}
	ck_assert_int_eq(n_connections(getpid()), 1);
	ck_assert(wait_leases(getpid(), 0, 5000));
	daemon_stop();
}
END_TEST

/* --- fork: the child has its own connection; the parent's leases end with the parent -------- */

struct fork_report {
	pid_t child;
	uint64_t parent_ids[2];
	uint64_t child_id;
	int status;
};

/*
 * The parent client: two arenas, then a child that makes its own; reports
 * and exits without freeing anything while the child lives on (it waits
 * for @hold_r to close).
 */
static int fork_parent(int report_w, int hold_r)
{
	struct fork_report rep = { 0 };
	struct bhc_arena_stats st;
	struct bhc_arena *a[2], *b;
	struct test_region_probe probe[2];
	size_t len, len_a[2];
	int sync[2], i, r;
	void *p, *pa[2];

	for (i = 0; i < 2; i++) {
		r = bhc_arena_new(1 * MiB, &a[i]);
		if (r < 0)
			child_fail(2, "bhc_arena_new: %s", strerror(-r));
		bhc_arena_stats(a[i], &st);
		rep.parent_ids[i] = st.region_id;
		/* mapped here, and marked: the child's "gone" below means something */
		if (!test_region_dontfork(test_region_start(a[i]), st.region_size, &probe[i]))
			child_fail(13, "the parent's region %d is not mapped MADV_DONTFORK", i);
		pa[i] = take_all(a[i], &len_a[i]);
		bhc_test_pattern_fill(pa[i], len_a[i], (uint64_t)i + 100);
	}
	if (pipe(sync) < 0)
		child_fail(3, "pipe");
	fflush(NULL);
	rep.child = fork();
	if (rep.child < 0)
		child_fail(4, "fork");
	if (rep.child == 0) {
		close(sync[0]);
		/* the parent's regions are not mapped here at all (MADV_DONTFORK) */
		for (i = 0; i < 2; i++)
			if (!test_region_gone(&probe[i]))
				child_fail(12, "the parent's region %d is mapped in the child", i);
		r = bhc_arena_new(1 * MiB, &b);
		if (r < 0)
			child_fail(5, "bhc_arena_new in the child: %s", strerror(-r));
		if (bhc_arena_stats(b, &st) < 0 || st.source != BHC_ARENA_SOURCE_DAEMON)
			child_fail(6, "the child's arena is not the daemon's");
		p = take_all(b, &len);
		bhc_test_pattern_fill(p, len, 7);
		if (!write_full(sync[1], &st.region_id, sizeof(st.region_id)))
			child_fail(7, "sync");
		wait_eof(hold_r);
		if (!bhc_test_pattern_verify(p, len, 7))
			child_fail(8, "the child's arena lost its data");
		bhc_arena_free(b);
		return 0;
	}
	close(sync[1]);
	if (!read_full(sync[0], &rep.child_id, sizeof(rep.child_id), 30000))
		child_fail(9, "the child did not report");
	/* the parent's arenas are untouched by all this */
	for (i = 0; i < 2; i++)
		if (!bhc_test_pattern_verify(pa[i], len_a[i], (uint64_t)i + 100))
			child_fail(11, "the parent's arena %d lost its data", i);
	if (!write_full(report_w, &rep, sizeof(rep)))
		child_fail(10, "report");
	return 0;
}

START_TEST(test_fork)
{
	struct fork_report rep;
	int report[2], hold[2];
	pid_t parent;

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	daemon_start(config_off);
	ck_assert_int_eq(pipe(report), 0);
	ck_assert_int_eq(pipe(hold), 0);
	fflush(NULL);
	parent = fork();
	ck_assert_int_ge(parent, 0);
	if (parent == 0) {
		close(report[0]);
		close(hold[1]);
		_exit(fork_parent(report[1], hold[0]));
	}
	close(report[1]);
	close(hold[0]);
	ck_assert_msg(read_full(report[0], &rep, sizeof(rep), 30000), "no report from the clients");
	close(report[0]);
	reap_ok(parent, 20000, "the parent client");

	/* the parent is gone, the child lives: the parent's two leases ended with it */
	ck_assert_int_eq(wait_disconnect(parent, 10000), 2);
	ck_assert_int_eq(kill(rep.child, 0), 0);
	ck_assert_uint_ne(rep.child_id, rep.parent_ids[0]);
	ck_assert_uint_ne(rep.child_id, rep.parent_ids[1]);
	/* the child has a connection of its own, holding its own arena only */
	ck_assert_int_eq(n_connections(rep.child), 1);
	ck_assert(wait_leases(rep.child, 1, 5000));

	close(hold[1]);
	reap_ok(rep.child, 20000, "the child client");
	ck_assert_int_eq(wait_disconnect(rep.child, 10000), 0);
	daemon_stop();
}
END_TEST

/* One TCase per test, so that the TAP lines name the test. */
static void add(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("client_daemon");

	/* these tests check that a freed region goes back; reuse is check_retain's */
	setenv("BHC_ARENA_RETAIN", "0", 1);
	if (!CLIENT_DAEMON_TSAN_ONLY) {
		add(s, "daemon_arena", test_daemon_arena);
		add(s, "tag", test_tag);
		add(s, "no_daemon", test_no_daemon);
		add(s, "auto_absent_and_timeout", test_auto_absent_and_timeout);
		add(s, "hung_daemon", test_hung_daemon);
		add(s, "limits", test_limits);
		add(s, "release_then_acquire", test_release_then_acquire);
		add(s, "many_releases_then_quiet", test_many_releases_then_quiet);
		add(s, "free_and_exit", test_free_and_exit);
		add(s, "max_connections", test_max_connections);
		add(s, "stolen_fd", test_stolen_fd);
		add(s, "populate_old_kernel", test_populate_old_kernel);
		add(s, "populate_fails", test_populate_fails);
		add(s, "many_processes", test_many_processes);
		add(s, "kill_reclaims", test_kill_reclaims);
		add(s, "kill_returns_hugepages", test_kill_returns_hugepages);
		add(s, "fresh_region_zero", test_fresh_region_zero);
		add(s, "hugetlb_first_touch", test_hugetlb_first_touch);
		add(s, "exhaust_require", test_exhaust_require);
		add(s, "exhaust_prefer", test_exhaust_prefer);
		add(s, "exhaust_off", test_exhaust_off);
		add(s, "restart_sigterm", test_restart_sigterm);
		add(s, "restart_sigkill", test_restart_sigkill);
	}
	add(s, "threads", test_threads);
	add(s, "fork", test_fork);
	return bhc_test_run(s);
}
