/* SPDX-License-Identifier: MIT */
/*
 * One unprivileged local user against everybody else (issue 12): real
 * hostile processes against a real bhc-arenad on a private socket, and an
 * honest client measured while they run.
 *
 *  - fd_linger:   TCP sockets with SO_LINGER and unsent data, and a Unix
 *                 socket carrying one in flight, sent in SCM_RIGHTS: the
 *                 loop must not wait for their close.
 *  - abandoned:   connect / ACQUIRE / close in a loop under per_uid_bytes:
 *                 the regions being made stay charged to the uid.
 *  - admin_load:  8 sessions of a user holding 1024 regions looping
 *                 snapshot; then 1000 snapshot sessions: acquire latency
 *                 and the daemon's RSS.
 *  - connections: one uid takes every connection it can; root still gets
 *                 in, a second uid gets the rest.
 *  - log_flood:   connect / HELLO / close in a loop: the log lines about
 *                 that uid are limited and summed up.
 *  - fallback_flaps: the hugepage pool taken and given back every few ms
 *                 under "prefer": one fallback warning.
 *  - gigantic:    require 1 GiB pages on a kernel without them (an
 *                 LD_PRELOAD shim, tests/no-gigantic.c, where the kernel
 *                 has them): EOPNOTSUPP; prefer: the fallback is sized for
 *                 its own pages.
 *  - sighup_no_file: SIGHUP without a configuration file.
 *
 * Each attack prints the honest client's acquire p50/p99 next to the same
 * without the attack, and the daemon's VmRSS before and after ("# " lines
 * in the test log); RELIABILITY.md quotes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "tap.h"
#include "util-daemon.h"
#include "util-hugepages.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MiB (UINT64_C(1) << 20)
#define NOBODY 65534
/*
 * The honest client's p99 under attack: at most 2x the one without, plus
 * this much. make check runs two tests at once on a 2-CPU host, so the
 * bound only catches stalls (the attacks stalled an acquire for 100 ms to
 * seconds before they were fixed); scripts/hostile-figures.sh measures the
 * ratio on a quiet machine (RELIABILITY.md).
 */
#define P99_SLACK_MS 25.0

static struct bhc_test_daemon d;

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void start(const char *config, const char *const *args)
{
	bhc_test_daemon_setup(&d, config);
	bhc_test_daemon_start_ready(&d, args, 30000);
	/* other uids reach the socket */
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
}

/* fork(); the child dies with the test process, whatever way that ends */
static pid_t fork_child(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
		_exit(99);
	return pid;
}

/*
 * Latency and RSS bounds hold for the daemon as built to run; under
 * AddressSanitizer (its allocator keeps freed memory) or a wrapper such as
 * Valgrind the figures are printed and not judged.
 */
static bool figures_judged(void)
{
	return !UNDER_ASAN && bhc_test_timeout_scale() == 1;
}

static void need_root(void)
{
	if (geteuid() != 0)
		bhc_test_skip("needs root to act as other users");
}

/* In a child: become @uid (its own group, no supplementary ones). */
static void become(uid_t uid)
{
	if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
		_exit(90);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int connect_hello(const char *tag, uint32_t flags)
{
	int fd = bhc_test_connect(d.socket);

	if (fd < 0)
		return fd;
	if (bhc_test_hello(fd, tag, flags, NULL) != 0) {
		close(fd);
		return -EPROTO;
	}
	return fd;
}

/* Send one admin request on @fd (after HELLO) and read the whole reply; NULL on failure. */
static struct json_object *admin_on(int fd, const char *cmd, int timeout_ms)
{
	static unsigned char buf[BHC_ARENA_ADMIN_CHUNK_MAX];
	struct bhc_arena_msg_admin_reply rep;
	char req[128], *text = NULL;
	size_t len = 0, n;
	struct json_object *j;
	ssize_t r;

	n = (size_t)snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}", cmd);
	bhc_test_hdr((struct bhc_arena_msg_hdr *)buf, BHC_ARENA_MSG_ADMIN,
		     (uint32_t)(sizeof(struct bhc_arena_msg_hdr) + n), 1);
	memcpy(buf + sizeof(struct bhc_arena_msg_hdr), req, n);
	if (bhc_test_send(fd, buf, sizeof(struct bhc_arena_msg_hdr) + n, -1) < 0)
		return NULL;
	do {
		r = bhc_test_recv(fd, buf, sizeof(buf), NULL, timeout_ms);
		if (r < (ssize_t)sizeof(rep)) {
			free(text);
			return NULL;
		}
		memcpy(&rep, buf, sizeof(rep));
		if (rep.hdr.type != BHC_ARENA_MSG_ADMIN_REPLY)
			continue;
		text = realloc(text, len + (size_t)r + 1);
		ck_assert_ptr_nonnull(text);
		memcpy(text + len, buf + sizeof(rep), (size_t)r - sizeof(rep));
		len += (size_t)r - sizeof(rep);
	} while (rep.hdr.type != BHC_ARENA_MSG_ADMIN_REPLY || (rep.flags & BHC_ARENA_ADMIN_MORE));
	text[len] = '\0';
	j = json_tokener_parse(text);
	free(text);
	return j;
}

/* An admin request as root on a connection of its own. */
static struct json_object *admin(const char *cmd)
{
	struct json_object *j;
	int fd = connect_hello("hostile-test", BHC_ARENA_HELLO_ADMIN);

	ck_assert_int_ge(fd, 0);
	j = admin_on(fd, cmd, 10000);
	close(fd);
	ck_assert_ptr_nonnull(j);
	return j;
}

static uint64_t ju(struct json_object *j, const char *path)
{
	char copy[128], *key, *save = NULL;
	struct json_object *o = j;

	snprintf(copy, sizeof(copy), "%s", path);
	for (key = strtok_r(copy, ".", &save); key; key = strtok_r(NULL, ".", &save))
		ck_assert_msg(json_object_object_get_ex(o, key, &o), "no %s in the reply", path);
	return (uint64_t)json_object_get_int64(o);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct latency {
	double p50, p99, max;
	unsigned int n;
};

/*
 * The honest client (root): @n times ACQUIRE @size (a warm class) and
 * RELEASE, each acquire timed, on one connection; or until @until_ms.
 */
static struct latency probe(unsigned int n, uint64_t size, double until_ms)
{
	struct bhc_arena_msg_error e;
	struct bhc_arena_msg_grant g;
	struct latency lat = { 0 };
	double *t = calloc(n, sizeof(*t)), t0;
	unsigned int i;
	int fd, rfd, r;

	ck_assert_ptr_nonnull(t);
	fd = connect_hello("honest", 0);
	ck_assert_int_ge(fd, 0);
	for (i = 0; i < n && (!until_ms || now_ms() < until_ms); i++) {
		t0 = now_ms();
		r = bhc_test_acquire(fd, size, BHC_ARENA_ACQ_NO_HUGE, 0, &g, &rfd, &e);
		t[i] = now_ms() - t0;
		ck_assert_msg(r == 0, "honest acquire %u: %d (%s)", i, r, r > 0 ? e.text : "");
		close(rfd);
		ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
		/* a client works with its region between acquires */
		sleep_ms(1);
	}
	close(fd);
	lat.n = i;
	qsort(t, lat.n, sizeof(*t), cmp_double);
	if (lat.n) {
		lat.p50 = t[lat.n / 2];
		lat.p99 = t[(lat.n * 99) / 100 < lat.n ? (lat.n * 99) / 100 : lat.n - 1];
		lat.max = t[lat.n - 1];
	}
	free(t);
	return lat;
}

/* probe() in a child process, meanwhile; probe_wait() collects the figures. */
static pid_t probe_child(int pipefd[2], unsigned int n, uint64_t size, double until_ms)
{
	struct latency lat;
	pid_t pid;

	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork_child();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(pipefd[0]);
		lat = probe(n, size, until_ms);
		if (write(pipefd[1], &lat, sizeof(lat)) != sizeof(lat))
			_exit(1);
		_exit(0);
	}
	/* a child that fails ends the read */
	close(pipefd[1]);
	return pid;
}

static struct latency probe_wait(pid_t pid, int pipefd[2])
{
	struct latency lat;
	int status;

	ck_assert_int_eq(read(pipefd[0], &lat, sizeof(lat)), (ssize_t)sizeof(lat));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	close(pipefd[0]);
	return lat;
}

static void check_p99(struct latency base, struct latency att)
{
	if (figures_judged())
		ck_assert_msg(att.p99 <= 2 * base.p99 + P99_SLACK_MS, "p99 %.3f ms vs %.3f ms",
			      att.p99, base.p99);
}

static void report(const char *attack, struct latency base, struct latency att, long rss0,
		   long rss1)
{
	printf("# %s: honest acquire p50 %.3f ms p99 %.3f ms max %.3f ms (%u) | no attack: p50 "
	       "%.3f ms p99 %.3f ms (%u) | ratio p99 %.2f | daemon VmRSS %ld -> %ld kB\n",
	       attack, att.p50, att.p99, att.max, att.n, base.p50, base.p99, base.n,
	       base.p99 > 0 ? att.p99 / base.p99 : 0.0, rss0, rss1);
	fflush(stdout);
}

static void kill_wait(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* --- 1. fds that linger ------------------------------------------------------------- */

#define LINGER_S 4

/* A TCP connection to @port (a listener that never accepts) with unsent data and SO_LINGER. */
static int lingering_tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct linger lg = { .l_onoff = 1, .l_linger = LINGER_S };
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096, fl;
	char junk[4096];

	if (fd < 0)
		_exit(91);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(92);
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	memset(junk, 'x', sizeof(junk));
	/* fill the peer's window and our send buffer: the FIN cannot go out */
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		_exit(93);
	return fd;
}

static int tcp_listener(int *portp)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*portp = ntohs(sa.sin_port);
	return fd;
}

/* A Unix socket with a lingering TCP socket in flight on it (unread). */
static int unix_carrying(int port)
{
	int sv[2], tcp = lingering_tcp(port);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		_exit(94);
	if (bhc_test_send(sv[0], "x", 1, tcp) < 0)
		_exit(95);
	close(tcp);
	close(sv[0]);
	return sv[1];
}

/* Send HELLO with @fd in SCM_RIGHTS on a new connection, then leave. */
static void send_on_hello(int fd)
{
	struct bhc_arena_msg_hello hello;
	int c = bhc_test_connect(d.socket);

	if (c < 0)
		_exit(96);
	memset(&hello, 0, sizeof(hello));
	bhc_test_hdr(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello), 1);
	hello.pid = (uint32_t)getpid();
	bhc_test_send(c, &hello, sizeof(hello), fd);
	close(c);
}

/*
 * The attacker: 3 lingering TCP sockets and one Unix socket carrying one,
 * each on a HELLO; then, with @stream, one more every 20 ms. It keeps the
 * listener open (so nothing is reset) until killed. Writes a byte to @ready
 * once the first four are sent.
 */
static pid_t linger_attacker(int ready, bool stream)
{
	pid_t pid = fork_child();
	int port, lfd, i;

	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	lfd = tcp_listener(&port);
	if (lfd < 0)
		_exit(97);
	for (i = 0; i < 3; i++) {
		int t = lingering_tcp(port);

		send_on_hello(t);
		close(t);
	}
	i = unix_carrying(port);
	send_on_hello(i);
	close(i);
	if (write(ready, "r", 1) != 1)
		_exit(98);
	for (i = 0; stream && i < 2000; i++) {
		int t = i % 8 == 7 ? unix_carrying(port) : lingering_tcp(port);

		send_on_hello(t);
		close(t);
		sleep_ms(20);
	}
	for (;;)
		pause();
}

START_TEST(test_fd_linger)
{
	static const char config[] = "[pool]\nhugepages = off\nwarm = 2M:128\n";
	struct latency base, att;
	int p[2];
	double t0, first;
	long rss0, rss1;
	char c;
	pid_t pid;

	start(config, NULL);
	base = probe(500, 2 * MiB, 0);
	rss0 = rss_kb(d.pid);
	ck_assert_int_eq(pipe(p), 0);
	pid = linger_attacker(p[1], false);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	/* before the fix, this waited 4 x LINGER_S */
	t0 = now_ms();
	att = probe(1, 2 * MiB, 0);
	first = now_ms() - t0;
	printf("# fd_linger: first acquire after 4 lingering fds (%d s each): %.1f ms\n", LINGER_S,
	       first);
	ck_assert_msg(first < 500.0 * bhc_test_timeout_scale(),
		      "the loop waited %.0f ms for a client's fds", first);
	kill_wait(pid);

	/* a stream of them while the honest client works */
	pid = linger_attacker(p[1], true);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	att = probe(500, 2 * MiB, now_ms() + 20000);
	kill_wait(pid);
	rss1 = rss_kb(d.pid);
	report("fd_linger", base, att, rss0, rss1);
	ck_assert_uint_eq(att.n, 500);
	check_p99(base, att);
	close(p[0]);
	close(p[1]);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- 2. abandoned acquires -------------------------------------------------------- */

START_TEST(test_abandoned)
{
	static const char config[] = "[daemon]\nsocket_mode = 0666\n"
				     "[pool]\nhugepages = off\nwarm = 2M:128\n"
				     "max_region_size = 256M\n"
				     "[limits]\ntotal = 1032M\nper_uid_bytes = 264M\n";
	struct bhc_arena_msg_error e;
	struct bhc_arena_msg_grant g;
	struct latency base, att;
	unsigned int granted = 0, enospc = 0, other = 0;
	unsigned long counts[3] = { 0 };
	struct json_object *j;
	double until;
	long rss0, rss1;
	int p[2], pp[2], fd, rfd, r, status;
	pid_t pid, prober;

	need_root();
	start(config, NULL);
	base = probe(500, 2 * MiB, 0);
	rss0 = rss_kb(d.pid);
	ck_assert_int_eq(pipe(p), 0);
	pid = fork_child();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* nobody: connect, ACQUIRE 256M, close, as fast as it can for 3 s */
		double end;

		become(NOBODY);
		end = now_ms() + 5500;
		while (now_ms() < end) {
			struct bhc_arena_msg_acquire acq;
			int c = connect_hello("abandon", 0);

			if (c < 0) {
				counts[2]++;
				continue;
			}
			memset(&acq, 0, sizeof(acq));
			bhc_test_hdr(&acq.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(acq), 2);
			acq.size = 256 * MiB;
			acq.flags = BHC_ARENA_ACQ_NO_HUGE;
			bhc_test_send(c, &acq, sizeof(acq), -1);
			/* a refusal comes at once; a region being made does not */
			r = bhc_test_recv_error(c, &e, 20);
			if (r == EDQUOT)
				counts[1]++;
			counts[0]++;
			close(c);
		}
		if (write(p[1], counts, sizeof(counts)) != sizeof(counts))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	/* root, meanwhile: warm regions timed, then 256M regions made on demand (no class) */
	sleep_ms(200);
	prober = probe_child(pp, 500, 2 * MiB, now_ms() + 2500);
	att = probe_wait(prober, pp);
	fd = connect_hello("honest-big", 0);
	ck_assert_int_ge(fd, 0);
	until = now_ms() + 2500;
	while (now_ms() < until) {
		r = bhc_test_acquire(fd, 256 * MiB, BHC_ARENA_ACQ_NO_HUGE, 0, &g, &rfd, &e);
		if (r == 0) {
			granted++;
			close(rfd);
			ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
		} else if (r == ENOSPC) {
			enospc++;
		} else {
			other++;
		}
	}
	close(fd);
	ck_assert_int_eq(read(p[0], counts, sizeof(counts)), (ssize_t)sizeof(counts));
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	close(p[0]);
	printf("# abandoned: nobody made %lu connect/ACQUIRE 256M/close cycles, %lu refused "
	       "EDQUOT; root: %u granted, %u ENOSPC, %u other\n",
	       counts[0], counts[1], granted, enospc, other);
	/* the positive first: the attack ran, and was held to its uid's limit */
	ck_assert_uint_gt(counts[0], 100);
	ck_assert_uint_gt(counts[1], 0);
	ck_assert_uint_gt(granted, 0);
	ck_assert_uint_eq(enospc, 0);
	ck_assert_uint_eq(other, 0);
	/* everything abandoned is made and gone: nothing pending, nobody charged */
	until = now_ms() + 10000;
	for (;;) {
		j = admin("status");
		r = ju(j, "pool.pending") == 0 && ju(j, "sessions.users") == 0 &&
		    ju(j, "pool.reserved") == ju(j, "pool.warm");
		json_object_put(j);
		if (r || now_ms() > until)
			break;
		sleep_ms(50);
	}
	ck_assert_msg(r, "the abandoned regions are still held");
	rss1 = rss_kb(d.pid);
	report("abandoned", base, att, rss0, rss1);
	ck_assert_uint_ge(att.n, 100);
	check_p99(base, att);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- 3. admin load ---------------------------------------------------------------- */

START_TEST(test_admin_load)
{
	static const char config[] = "[daemon]\nsocket_mode = 0666\n"
				     "[pool]\nhugepages = off\nwarm = 4M:128\n"
				     "[limits]\ntotal = 3G\n";
	struct latency base, att;
	unsigned long served[8] = { 0 }, total = 0;
	int held[2], stop[2], res[2], i, status;
	long rss0, rss1, rss2;
	pid_t holder, sess[8];
	char c;

	need_root();
	start(config, NULL);
	base = probe(500, 4 * MiB, 0);
	ck_assert_int_eq(pipe(held), 0);
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(pipe(res), 0);
	holder = fork_child();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		/* nobody holds 1024 regions of 2 MiB */
		struct bhc_arena_msg_grant g;
		int fd, rfd;

		become(NOBODY);
		fd = connect_hello("holder", 0);
		if (fd < 0)
			_exit(1);
		for (i = 0; i < 1024; i++) {
			if (bhc_test_acquire(fd, 2 * MiB, BHC_ARENA_ACQ_NO_HUGE, 0, &g, &rfd,
					     NULL) != 0)
				_exit(2);
			close(rfd);
		}
		if (write(held[1], "h", 1) != 1)
			_exit(3);
		if (read(stop[0], &c, 1) < 0)
			_exit(4);
		_exit(0);
	}
	ck_assert_int_eq(read(held[0], &c, 1), 1);
	rss0 = rss_kb(d.pid);
	for (i = 0; i < 8; i++) {
		sess[i] = fork_child();
		ck_assert_int_ge(sess[i], 0);
		if (sess[i] == 0) {
			/* nobody: snapshot after snapshot, for 4 s */
			unsigned long n = 0;
			double end;
			int fd;

			become(NOBODY);
			fd = connect_hello("snap", BHC_ARENA_HELLO_ADMIN);
			if (fd < 0)
				_exit(1);
			end = now_ms() + 4000;
			while (now_ms() < end) {
				struct json_object *j = admin_on(fd, "snapshot", 60000);

				if (!j)
					_exit(2);
				json_object_put(j);
				n++;
			}
			if (write(res[1], &n, sizeof(n)) != sizeof(n))
				_exit(3);
			_exit(0);
		}
	}
	close(res[1]);
	sleep_ms(300);
	att = probe(500, 4 * MiB, now_ms() + 3500);
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(read(res[0], &served[i], sizeof(served[i])),
				 (ssize_t)sizeof(served[i]));
		total += served[i];
	}
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(waitpid(sess[i], &status, 0), sess[i]);
		ck_assert_int_eq(status, 0);
	}
	printf("# admin_load: 8 sessions of nobody (1024 regions) were served %lu snapshots in "
	       "4 s\n",
	       total);
	/* served, not refused: slowed to the uid's budget */
	ck_assert_uint_gt(total, 0);
	sleep_ms(1500);
	rss1 = rss_kb(d.pid);
	report("admin_load", base, att, rss0, rss1);
	ck_assert_uint_ge(att.n, 100);
	check_p99(base, att);

	/*
	 * 1000 snapshot sessions (root: not limited), replies read; then the
	 * memory is back. Where the figures are not judged (ASan, Valgrind) a
	 * tenth of them, which is all the time such a build has.
	 */
	for (i = 0; i < (figures_judged() ? 1000 : 100); i++) {
		int fd = connect_hello("snap-root", BHC_ARENA_HELLO_ADMIN);
		struct json_object *j;

		ck_assert_int_ge(fd, 0);
		j = admin_on(fd, "snapshot", 10000);
		ck_assert_ptr_nonnull(j);
		json_object_put(j);
		close(fd);
	}
	/* and 64 that leave their reply unread */
	for (i = 0; i < 64; i++) {
		int fd = connect_hello("snap-unread", BHC_ARENA_HELLO_ADMIN);
		char req[64];
		size_t n = (size_t)snprintf(req + 16, sizeof(req) - 16, "{\"cmd\":\"snapshot\"}");

		ck_assert_int_ge(fd, 0);
		bhc_test_hdr((struct bhc_arena_msg_hdr *)req, BHC_ARENA_MSG_ADMIN,
			     (uint32_t)(16 + n), 1);
		ck_assert_int_eq(bhc_test_send(fd, req, 16 + n, -1), 0);
		sleep_ms(2);
		close(fd);
	}
	sleep_ms(2000);
	rss2 = rss_kb(d.pid);
	printf("# admin_load: daemon VmRSS %ld kB holding 1024 regions, %ld kB after the "
	       "attack, %ld kB after 1064 root snapshot sessions\n",
	       rss0, rss1, rss2);
	/*
	 * Within 10% of the start, and a page table's worth of slack: a 3 MiB
	 * daemon moves by a few hundred kB with the allocator's arenas alone,
	 * where the leak this catches kept 148 MB.
	 */
	if (figures_judged())
		ck_assert_msg(rss2 <= rss0 + rss0 / 10 + 512, "VmRSS %ld kB -> %ld kB", rss0, rss2);
	ck_assert_int_eq(write(stop[1], "s", 1), 1);
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	for (i = 0; i < 2; i++) {
		close(held[i]);
		close(stop[i]);
	}
	close(res[0]);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- 4. connections and the log ------------------------------------------------------ */

/* In a child as @uid: open connections (HELLO each) until refused; returns how many got in. */
static int take_connections(uid_t uid, int max, int report_fd, int stop_fd)
{
	pid_t pid = fork_child();
	int n = 0, fd, c = 0;
	char x;

	ck_assert_int_ge(pid, 0);
	if (pid)
		return pid;
	become(uid);
	while (n < max) {
		fd = bhc_test_connect(d.socket);
		if (fd < 0 || bhc_test_hello(fd, "taker", 0, NULL) != 0)
			break;
		n++;
	}
	c = n;
	if (write(report_fd, &c, sizeof(c)) != sizeof(c))
		_exit(1);
	if (read(stop_fd, &x, 1) < 0)
		_exit(2);
	_exit(0);
}

START_TEST(test_connections)
{
	static const char config[] = "[daemon]\nsocket_mode = 0666\n"
				     "[pool]\nhugepages = off\nwarm = 2M:2\n"
				     "[limits]\nmax_connections = 16\n";
	static const char config_uid[] =
		"[daemon]\nsocket_mode = 0666\n"
		"[pool]\nhugepages = off\nwarm = 2M:2\n"
		"[limits]\nmax_connections = 16\nper_uid_connections = 8\n";
	int rep[2], stop[2], a = 0, b = 0, fds[16], i, n, status;
	struct json_object *j;
	pid_t pa, pb;

	need_root();
	ck_assert_int_eq(pipe(rep), 0);
	ck_assert_int_eq(pipe(stop), 0);
	/* one user takes every connection it can: root still gets in */
	start(config, NULL);
	pa = take_connections(60001, 64, rep[1], stop[0]);
	ck_assert_int_eq(read(rep[0], &a, sizeof(a)), (ssize_t)sizeof(a));
	printf("# connections: uid 60001 alone got %d of max_connections 16\n", a);
	ck_assert_int_gt(a, 0);
	j = admin("status");
	ck_assert_uint_eq(ju(j, "sessions.clients"), (uint64_t)a);
	json_object_put(j);
	ck_assert_int_eq(a, 12);
	ck_assert_int_eq(write(stop[1], "s", 1), 1);
	waitpid(pa, &status, 0);
	bhc_test_daemon_stop_clean(&d);

	/* per uid */
	start(config_uid, NULL);
	pa = take_connections(60001, 64, rep[1], stop[0]);
	ck_assert_int_eq(read(rep[0], &a, sizeof(a)), (ssize_t)sizeof(a));
	pb = take_connections(60002, 64, rep[1], stop[0]);
	ck_assert_int_eq(read(rep[0], &b, sizeof(b)), (ssize_t)sizeof(b));
	printf("# connections: uid 60001 got %d, then uid 60002 got %d (per_uid_connections 8)\n",
	       a, b);
	/* one uid: per_uid_connections; all users together: 16 - the 4 kept for admins */
	ck_assert_int_eq(a, 8);
	ck_assert_int_eq(b, 4);
	/* root's status works, and root may fill the rest */
	j = admin("status");
	ck_assert_uint_eq(ju(j, "sessions.clients"), 12);
	ck_assert_uint_ge(ju(j, "counters.connections_refused"), 2);
	json_object_put(j);
	for (n = 0; n < 16; n++) {
		fds[n] = connect_hello("root", 0);
		if (fds[n] < 0)
			break;
	}
	ck_assert_int_eq(n, 4);
	for (i = 0; i < n; i++)
		close(fds[i]);
	ck_assert_int_eq(write(stop[1], "ss", 2), 2);
	waitpid(pa, &status, 0);
	waitpid(pb, &status, 0);
	for (i = 0; i < 2; i++) {
		close(rep[i]);
		close(stop[i]);
	}
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* Sum of the counts in the log's "uid @uid: suppressed N log lines" summaries. */
static unsigned long suppressed_sum(unsigned int uid)
{
	char *log = bhc_test_daemon_log_read(&d), *line, *save = NULL, who[64];
	unsigned long sum = 0, v;

	ck_assert_ptr_nonnull(log);
	snprintf(who, sizeof(who), "uid %u: suppressed ", uid);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, who);

		if (p && sscanf(p + strlen(who), "%lu", &v) == 1)
			sum += v;
	}
	free(log);
	return sum;
}

START_TEST(test_log_flood)
{
	static const char config[] = "[daemon]\nsocket_mode = 0666\n"
				     "[pool]\nhugepages = off\nwarm = 2M:128\n";
	struct latency base, att;
	int p[2], status, lines, i;
	unsigned long cycles = 0, tries, sup;
	long rss0, rss1;
	pid_t pid;

	need_root();
	start(config, NULL);
	base = probe(500, 2 * MiB, 0);
	rss0 = rss_kb(d.pid);
	ck_assert_int_eq(pipe(p), 0);
	pid = fork_child();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned long n_tries = 0;
		double end;

		become(NOBODY);
		end = now_ms() + 3000;
		while (now_ms() < end) {
			int fd = connect_hello("flood", 0);

			/* those welcomed: 3 lines each (connection, connected, disconnected) */
			if (fd >= 0) {
				close(fd);
				cycles++;
			}
			n_tries++;
		}
		cycles |= n_tries << 32;
		if (write(p[1], &cycles, sizeof(cycles)) != sizeof(cycles))
			_exit(1);
		_exit(0);
	}
	sleep_ms(200);
	att = probe(500, 2 * MiB, now_ms() + 2500);
	ck_assert_int_eq(read(p[0], &cycles, sizeof(cycles)), (ssize_t)sizeof(cycles));
	tries = cycles >> 32;
	cycles &= 0xffffffffu;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	/* the summaries come every 5 s while lines are suppressed */
	ck_assert(bhc_test_daemon_log_wait(&d, "uid 65534: suppressed", 1, 8000));
	/* the daemon's debug lines about its clients name "uid 65534" (and so do the summaries) */
	lines = bhc_test_daemon_log_count(&d, "uid 65534") -
		bhc_test_daemon_log_count(&d, "uid 65534: suppressed");
	sup = suppressed_sum(NOBODY);
	rss1 = rss_kb(d.pid);
	printf("# log_flood: %lu connect/HELLO/close tries in 3 s by nobody, %lu welcomed: %d "
	       "lines logged about uid 65534, %lu suppressed and summed up\n",
	       tries, cycles, lines, sup);
	report("log_flood", base, att, rss0, rss1);
	ck_assert_uint_gt(tries, 500);
	ck_assert_uint_gt(cycles, 100);
	/* each cycle is 3 lines (connection, connected, disconnected) */
	ck_assert_uint_ge(sup + (unsigned long)lines, 3 * cycles);
	ck_assert_int_le(lines, 20 + 5 * 6 + 10);
	ck_assert_uint_ge(att.n, 100);
	check_p99(base, att);
	for (i = 0; i < 2; i++)
		close(p[i]);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- fallback warnings -------------------------------------------------------------- */

START_TEST(test_fallback_flaps)
{
	static const char config[] = "[pool]\nhugepages = prefer\nwarm = none\n"
				     "[limits]\ntotal = 1G\n";
	struct bhc_arena_msg_grant g;
	unsigned int changes = 0, n = 0, huge = 0;
	int fd, rfd, warnings, last = -1;
	struct json_object *j;
	char why[256];
	double until;
	pid_t pid;

	need_root();
	if (bhc_test_hugepages_reserve(2048, 2, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	start(config, NULL);
	pid = fork_child();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* take every free 2 MiB page and give them back, again and again */
		for (;;) {
			long nfree = bhc_test_hugepages_free(2048);
			size_t len = (size_t)(nfree > 0 ? nfree : 1) * 2 * MiB;
			void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1,
				       0);

			sleep_ms(15);
			if (m != MAP_FAILED)
				munmap(m, len);
			sleep_ms(15);
		}
	}
	fd = connect_hello("flaps", 0);
	ck_assert_int_ge(fd, 0);
	until = now_ms() + 3000;
	while (now_ms() < until) {
		int r = bhc_test_acquire(fd, 2 * MiB, BHC_ARENA_ACQ_PREFER_HUGE, 0, &g, &rfd, NULL);

		if (r != 0)
			continue;
		n++;
		if (g.backing == BHC_ARENA_BACKING_HUGETLB)
			huge++;
		if (last >= 0 && (int)(g.backing == BHC_ARENA_BACKING_HUGETLB) != last)
			changes++;
		last = g.backing == BHC_ARENA_BACKING_HUGETLB;
		close(rfd);
		ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
		sleep_ms(3);
	}
	close(fd);
	kill_wait(pid);
	j = admin("status");
	warnings = bhc_test_daemon_log_count(&d, "further fallbacks are logged at debug level");
	printf("# fallback_flaps: %u grants, %u hugetlb, %u changes of backing, %" PRIu64
	       " fallbacks; %d warnings\n",
	       n, huge, changes, ju(j, "counters.fallbacks"), warnings);
	/* the pool did flap */
	ck_assert_uint_ge(changes, 4);
	ck_assert_uint_gt(ju(j, "counters.fallbacks"), 1);
	json_object_put(j);
	ck_assert_int_eq(warnings, 1);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- 5. smaller points -------------------------------------------------------------- */

START_TEST(test_gigantic)
{
	static const char config[] = "[pool]\nhugepages = prefer\nwarm = 2M:2\n"
				     "max_region_size = 1G\n[limits]\ntotal = 2G\n";
	struct bhc_arena_msg_error e;
	struct bhc_arena_msg_grant g;
	struct json_object *j;
	char shim[512];
	const char *top = getenv("abs_top_builddir");
	int fd, rfd;

	/* a kernel without 1 GiB pages: emulated where this one has them */
	if (access("/sys/kernel/mm/hugepages/hugepages-1048576kB", F_OK) == 0) {
		snprintf(shim, sizeof(shim), "%s/tests/.libs/libno-gigantic.so", top ? top : ".");
		ck_assert_msg(access(shim, R_OK) == 0, "no %s", shim);
		const char *asan = getenv("ASAN_OPTIONS");
		char opts[512];

		bhc_test_daemon_setup(&d, config);
		ck_assert_int_eq(bhc_test_daemon_setenv(&d, "LD_PRELOAD", shim), 0);
		/* under AddressSanitizer the shim comes before its runtime; that is fine here */
		snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan ? asan : "",
			 asan && *asan ? ":" : "");
		ck_assert_int_eq(bhc_test_daemon_setenv(&d, "ASAN_OPTIONS", opts), 0);
		bhc_test_daemon_start_ready(&d, NULL, 30000);
	} else {
		start(config, NULL);
	}
	fd = connect_hello("gigantic", 0);
	ck_assert_int_ge(fd, 0);
	/* prefer: 16 MiB with 1 GiB pages falls back, sized for the pages it got */
	ck_assert_int_eq(
		bhc_test_acquire(fd, 16 * MiB, BHC_ARENA_ACQ_PREFER_HUGE, 30, &g, &rfd, &e), 0);
	printf("# gigantic: prefer 16 MiB with page_shift 30: %" PRIu64 " bytes, backing %u\n",
	       (uint64_t)g.size, g.backing);
	ck_assert_uint_ne(g.backing, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_uint_eq(g.size, 16 * MiB);
	{
		struct stat st;

		ck_assert_int_eq(fstat(rfd, &st), 0);
		ck_assert_int_eq(st.st_size, (off_t)(16 * MiB));
	}
	close(rfd);
	/* and the accounting says so */
	j = admin("status");
	ck_assert_uint_eq(ju(j, "pool.leased"), 16 * MiB);
	json_object_put(j);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
	/* require: the documented EOPNOTSUPP */
	ck_assert_int_eq(bhc_test_acquire(fd, 16 * MiB, BHC_ARENA_ACQ_REQUIRE_HUGE, 30, &g, &rfd,
					  &e),
			 EOPNOTSUPP);
	printf("# gigantic: require: %s\n", e.text);
	close(fd);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

START_TEST(test_sighup_no_file)
{
	char line[512];

	/* where the default file exists, hide it in a mount namespace of this test's own */
	if (access("/etc/bhc-arena/arenad.conf", F_OK) == 0) {
		if (geteuid() != 0)
			bhc_test_skip("/etc/bhc-arena/arenad.conf exists here");
		ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
		ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
		ck_assert_int_eq(mount("none", "/etc/bhc-arena", "tmpfs", 0, "size=64k"), 0);
		ck_assert_int_ne(access("/etc/bhc-arena/arenad.conf", F_OK), 0);
	}
	/* no --config: the default file, which does not exist */
	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	bhc_test_daemon_start_ready(&d, NULL, 30000);
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(bhc_test_daemon_log_wait(&d, "reloaded the configuration", 1, 5000));
	ck_assert(bhc_test_daemon_log_line(&d, "reloaded the configuration", line, sizeof(line)));
	printf("# sighup_no_file: %s\n", line);
	ck_assert_ptr_null(strstr(line, "from /etc/bhc-arena/arenad.conf"));
	ck_assert_ptr_nonnull(strstr(line, "does not exist"));
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

static void add(Suite *s, const char *name, const TTest *test, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, timeout * (int)bhc_test_timeout_scale());
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("hostile");

	signal(SIGPIPE, SIG_IGN);
	add(s, "fd_linger", test_fd_linger, 120);
	add(s, "abandoned", test_abandoned, 60);
	add(s, "admin_load", test_admin_load, 120);
	add(s, "connections", test_connections, 60);
	add(s, "log_flood", test_log_flood, 60);
	add(s, "fallback_flaps", test_fallback_flaps, 60);
	add(s, "gigantic", test_gigantic, 60);
	add(s, "sighup_no_file", test_sighup_no_file, 60);
	return bhc_test_run(s);
}
