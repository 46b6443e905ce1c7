/* SPDX-License-Identifier: MIT */
/*
 * Reliability of a real bhc-arenad under hostile input and faults, each
 * bounded in count and time, on a private Unix socket:
 *
 *   abuse       random bytes, mutated, truncated, oversized, wrong-version
 *               and out-of-order messages, fds sent to the daemon,
 *               connections that never say HELLO, clients that never read,
 *               random admin JSON; a well-behaved client is served all
 *               along and the daemon's fd count and RSS stay flat
 *   flood       connections past [limits] max_connections from several
 *               processes: clear EUSERS refusals, the limit recovers
 *   nofile      the daemon's RLIMIT_NOFILE exhausted under it: refusals
 *               and errors, no crash, full service once clients leave
 *   other_tenant another user (nobody) cannot release a tenant's region or
 *               open the daemon's descriptors of it through /proc
 *   hugepages   the hugepage pool taken by another process and
 *               nr_hugepages lowered under the daemon: prefer falls back,
 *               require says ENOMEM, held regions keep their data, no
 *               SIGBUS anywhere
 *   pressure    clients work while stress-ng loads the machine's memory
 *   sigkill     the daemon killed while clients hold regions full of data:
 *               every client verifies its checksums, reconnects, acquires
 *   fork_storm  parents and children allocating at once never share a
 *               region; a child outliving its parent holds only its own
 *
 * $BHC_RELIABILITY_SCALE (default 1) multiplies rounds and durations.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include <bhc/arena.h>

#include "tap.h"
#include "util-daemon.h"
#include "util-hugepages.h"
#include "util-pattern.h"

/*
 * Built with AddressSanitizer (then so is the daemon: one set of CFLAGS),
 * its allocator's caches make RSS a coarse measure; LeakSanitizer checks
 * the daemon's memory at every stop instead.
 */
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
/* kB the daemon's VmRSS may grow by over the abuse rounds */
#define RSS_SLACK_KB (UNDER_ASAN ? 32768 : 4096)
#define HDR BHC_ARENA_REGION_HEADER_SIZE

/* warm_max = 0: the warm pool keeps its count whatever the demand, so fd counts compare */
static const char base_config[] = "[pool]\n"
				  "hugepages = off\n"
				  "warm = 2M:2\n"
				  "warm_max = 0\n"
				  "max_region_size = 64M\n"
				  "[limits]\n"
				  "total = 1G\n";

static struct bhc_test_daemon d;

static unsigned int scale(void)
{
	const char *s = getenv("BHC_RELIABILITY_SCALE");
	long v = s ? strtol(s, NULL, 10) : 1;

	return v >= 1 && v <= 1000 ? (unsigned int)v : 1;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Start a daemon on @config (base_config if NULL) plus @args; wait until it is ready. */
static void start(const char *config, const char *const *args)
{
	char asan[512];
	const char *old = getenv("ASAN_OPTIONS");

	bhc_test_daemon_setup(&d, config ? config : base_config);
	/* an ASan build keeps freed memory in quarantine: keep it small, RSS is measured */
	snprintf(asan, sizeof(asan), "%s%squarantine_size_mb=4", old ? old : "", old ? ":" : "");
	ck_assert_int_eq(bhc_test_daemon_setenv(&d, "ASAN_OPTIONS", asan), 0);
	bhc_test_daemon_start_ready(&d, args, 20000);
	ck_assert_int_eq(setenv("BHC_ARENA_SOCKET", d.socket, 1), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "daemon", 1), 0);
}

/* Stop the daemon: it must exit 0 (under ASan or Valgrind: no errors, no leaks). */
static void stop(void)
{
	bhc_test_daemon_stop_clean(&d);
}

static bool daemon_alive(void)
{
	int status;

	return d.pid > 0 && waitpid(d.pid, &status, WNOHANG) == 0;
}

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

/* Wait until @n lines about @pid contain @what; false after @timeout_ms. */
static bool log_wait_pid(pid_t pid, const char *what, int n, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();

	while (log_count_pid(pid, what) < n) {
		if (bhc_test_now_ms() >= deadline)
			return false;
		sleep_ms(10);
	}
	return true;
}

/* --- what /proc says about the daemon ------------------------------------------------ */

static long meminfo_kb(const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * The daemon's fd count once it has settled: the same for @stable_ms in a
 * row (the warm pool refills asynchronously), within @timeout_ms.
 */
static int settled_fds(int stable_ms, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	uint64_t since = bhc_test_now_ms();
	int n = fd_count(d.pid), m;

	while (bhc_test_now_ms() < deadline) {
		sleep_ms(20);
		m = fd_count(d.pid);
		if (m != n) {
			n = m;
			since = bhc_test_now_ms();
		} else if (bhc_test_now_ms() - since >= (uint64_t)stable_ms) {
			return n;
		}
	}
	return n;
}

/* Wait until the daemon holds @n fds; returns the last count seen. */
static int wait_fds(int n, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	int m;

	for (;;) {
		m = fd_count(d.pid);
		if (m == n || bhc_test_now_ms() >= deadline)
			return m;
		sleep_ms(20);
	}
}

/* --- a well-behaved client running beside the misbehaving ones ------------------------- */

struct buddy {
	pid_t pid;
	int stop_w; /* closing it tells the buddy to stop */
	int result_r;
};

/* One acquire/write/verify/release round of a size no warm class has; true if it worked. */
static bool buddy_round(int fd, unsigned int n)
{
	struct bhc_arena_msg_grant g;
	unsigned char *p;
	int rfd;

	if (bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL) != 0)
		return false;
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	close(rfd);
	if (p == MAP_FAILED)
		return false;
	memset(p + HDR, (int)(n & 0xff), g.size - HDR);
	if (p[HDR] != (unsigned char)n || p[g.size - 1] != (unsigned char)n) {
		munmap(p, g.size);
		return false;
	}
	munmap(p, g.size);
	return bhc_test_release(fd, g.region_id, NULL) == 0;
}

/* A client that is served before, all through and after the misbehaviour. */
static struct buddy buddy_start(void)
{
	int stop_pipe[2], result_pipe[2];
	struct buddy b;
	long first;
	pid_t pid;

	ck_assert_int_eq(pipe2(stop_pipe, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(result_pipe, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pollfd pfd = { .fd = stop_pipe[0], .events = POLLIN };
		long counts[2] = { 0, 0 }; /* rounds that worked, rounds that failed */
		unsigned int n = 1;
		int fd;

		close(stop_pipe[1]);
		close(result_pipe[0]);
		fd = bhc_test_connect(d.socket);
		if (fd < 0 || bhc_test_hello(fd, "buddy", 0, NULL) != 0 || !buddy_round(fd, n++))
			_exit(3);
		counts[0]++;
		if (write(result_pipe[1], &counts[0], sizeof(long)) != sizeof(long))
			_exit(2);
		while (poll(&pfd, 1, 5) == 0) {
			if (!buddy_round(fd, n++)) {
				counts[1]++;
				break;
			}
			counts[0]++;
		}
		if (buddy_round(fd, n++))
			counts[0]++;
		else
			counts[1]++;
		if (write(result_pipe[1], counts, sizeof(counts)) != sizeof(counts))
			_exit(2);
		close(fd);
		_exit(0);
	}
	close(stop_pipe[0]);
	close(result_pipe[1]);
	ck_assert_int_eq(read(result_pipe[0], &first, sizeof(first)), sizeof(first));
	b.pid = pid;
	b.stop_w = stop_pipe[1];
	b.result_r = result_pipe[0];
	return b;
}

/* Stop the buddy; it must have been served throughout, without one failure. */
static long buddy_stop(struct buddy *b)
{
	long counts[2] = { -1, -1 };
	int status;

	close(b->stop_w);
	ck_assert_int_eq(read(b->result_r, counts, sizeof(counts)), sizeof(counts));
	close(b->result_r);
	ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_msg(counts[1] == 0, "the well-behaved client was refused after %ld rounds",
		      counts[0]);
	ck_assert_int_ge(counts[0], 2);
	return counts[0];
}

/* --- abuse ----------------------------------------------------------------------------- */

/* xorshift64*: reproducible from the seed the test prints. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(0x2545f4914f6cdd1d);
}

static void rnd_bytes(uint64_t *s, unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)rnd(s);
}

static int connect_nb(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS &&
	    errno != EAGAIN) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Read whatever has come (closing any fd that came with it); false once the daemon closed. */
static bool drain(int fd)
{
	unsigned char buf[BHC_ARENA_ADMIN_CHUNK_MAX];
	ssize_t n;
	int got;

	for (;;) {
		n = bhc_test_recv(fd, buf, sizeof(buf), &got, 0);
		if (got >= 0)
			close(got);
		if (n == 0 || n == -ECONNRESET)
			return false;
		if (n < 0)
			return true;
	}
}

static const char *const json_samples[] = {
	"{\"cmd\":\"status\"}",
	"{\"cmd\":\"snapshot\",\"warm\":true}",
	"{\"cmd\":\"regions\",\"tag\":\"x\",\"uid\":0}",
	"{\"cmd\":\"clients\",\"id\":18446744073709551615}",
	"{\"cmd\":\"pool-set\",\"warm\":[{\"size\":2097152,\"count\":2}]}",
	"{\"cmd\":\"reload\"}",
	"{\"cmd\":\"status\",\"schema\":7}",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	"{\"cmd\":\"\\u0000\"}",
	"{\"cmd\":\"regions\",\"warm\":\"yes\"}",
	"\"just a string\"",
	"{}",
};

/* A message that is valid or nearly so: a real one with a few random bytes changed. */
static size_t mutated(uint64_t *s, unsigned char *buf, size_t cap)
{
	struct bhc_arena_msg_acquire acq;
	struct bhc_arena_msg_release rel;
	struct bhc_arena_msg_hello hello;
	const char *json;
	size_t len = 0, i, n;

	switch (rnd(s) % 4) {
	case 0:
		memset(&hello, 0, sizeof(hello));
		bhc_test_hdr(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello), (uint32_t)rnd(s));
		memcpy(buf, &hello, sizeof(hello));
		len = sizeof(hello);
		break;
	case 1:
		memset(&acq, 0, sizeof(acq));
		bhc_test_hdr(&acq.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(acq), (uint32_t)rnd(s));
		acq.size = rnd(s) % 2 ? 2 * MiB : rnd(s);
		acq.flags = (uint32_t)(rnd(s) % 9);
		memcpy(buf, &acq, sizeof(acq));
		len = sizeof(acq);
		break;
	case 2:
		memset(&rel, 0, sizeof(rel));
		bhc_test_hdr(&rel.hdr, BHC_ARENA_MSG_RELEASE, sizeof(rel), (uint32_t)rnd(s));
		rel.region_id = rnd(s) % 64;
		memcpy(buf, &rel, sizeof(rel));
		len = sizeof(rel);
		break;
	default:
		json = json_samples[rnd(s) % ARRAY_SIZE(json_samples)];
		len = sizeof(struct bhc_arena_msg_hdr) + strlen(json);
		{
			struct bhc_arena_msg_hdr mh;

			bhc_test_hdr(&mh, BHC_ARENA_MSG_ADMIN, (uint32_t)len, (uint32_t)rnd(s));
			memcpy(buf, &mh, sizeof(mh));
		}
		memcpy(buf + sizeof(struct bhc_arena_msg_hdr), json, strlen(json));
		break;
	}
	n = rnd(s) % 3;
	for (i = 0; i < n; i++)
		buf[rnd(s) % len] = (unsigned char)rnd(s);
	/* sometimes truncated, sometimes with garbage after it */
	if (rnd(s) % 5 == 0)
		len = rnd(s) % len;
	else if (rnd(s) % 5 == 0 && len + 64 <= cap)
		len += rnd(s) % 64;
	return len;
}

struct abuse_stats {
	unsigned long datagrams, connections, fds_sent, silent, deaf;
};

/* One round of everything hostile at once; closes every connection it opened. */
static void abuse_round(uint64_t *s, struct abuse_stats *st)
{
	static unsigned char big[70000];
	unsigned char buf[8192];
	struct bhc_arena_msg_hdr h;
	int silent[8], deaf, fd, i, j, pipefd[2];
	size_t len;

	/* connections that never say HELLO: the handshake timeout closes them */
	for (i = 0; i < 8; i++) {
		silent[i] = connect_nb(d.socket);
		ck_assert_int_ge(silent[i], 0);
		st->silent++;
	}
	/* a client that never reads: it asks until the daemon stops reading it (EAGAIN) */
	deaf = bhc_test_connect(d.socket);
	ck_assert_int_ge(deaf, 0);
	ck_assert_int_eq(bhc_test_hello(deaf, "deaf", 0, NULL), 0);
	ck_assert_int_eq(fcntl(deaf, F_SETFL, fcntl(deaf, F_GETFL) | O_NONBLOCK), 0);
	for (i = 0; i < 2000; i++) {
		struct bhc_arena_msg_acquire acq;

		memset(&acq, 0, sizeof(acq));
		bhc_test_hdr(&acq.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(acq), (uint32_t)i);
		acq.size = 2 * MiB;
		if (send(deaf, &acq, sizeof(acq), MSG_NOSIGNAL) < 0)
			break;
	}
	st->deaf++;

	/* random bytes before HELLO: refused, connection closed */
	for (i = 0; i < 8; i++) {
		fd = connect_nb(d.socket);
		ck_assert_int_ge(fd, 0);
		st->connections++;
		len = rnd(s) % 200;
		rnd_bytes(s, buf, len);
		if (rnd(s) % 2 && len >= sizeof(h)) {
			bhc_test_hdr(&h, (uint16_t)(rnd(s) % 12), (uint32_t)len, 1);
			memcpy(buf, &h, sizeof(h));
		}
		if (bhc_test_send(fd, buf, len, -1) == 0)
			st->datagrams++;
		drain(fd);
		close(fd);
	}

	/* after HELLO: random, mutated, truncated, oversized, wrong version, fds, out of order */
	for (i = 0; i < 4; i++) {
		fd = bhc_test_connect(d.socket);
		ck_assert_int_ge(fd, 0);
		st->connections++;
		ck_assert_int_eq(bhc_test_hello(fd, "abuser", 0, NULL), 0);
		ck_assert_int_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
		for (j = 0; j < 40; j++) {
			int pass = -1;

			switch (rnd(s) % 6) {
			case 0:
				len = rnd(s) % sizeof(buf);
				rnd_bytes(s, buf, len);
				break;
			case 1:
			case 2:
				len = mutated(s, buf, sizeof(buf));
				break;
			case 3: /* oversized: more than the daemon's receive buffer */
				len = BHC_ARENA_MSG_MAX + 1 +
				      rnd(s) % (sizeof(big) - BHC_ARENA_MSG_MAX);
				{
					struct bhc_arena_msg_hdr mh;

					bhc_test_hdr(&mh, BHC_ARENA_MSG_ADMIN, (uint32_t)len, 3);
					memcpy(big, &mh, sizeof(mh));
				}
				if (send(fd, big, len, MSG_NOSIGNAL) == 0)
					st->datagrams++;
				continue;
			case 4: /* the right shape, another version */
				len = mutated(s, buf, sizeof(buf));
				if (len >= sizeof(h)) {
					memcpy(&h, buf, sizeof(h));
					h.version = (uint16_t)(2 + rnd(s) % 100);
					memcpy(buf, &h, sizeof(h));
				}
				break;
			default: /* a message with a file descriptor riding on it */
				len = mutated(s, buf, sizeof(buf));
				ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
				pass = pipefd[rnd(s) % 2];
				st->fds_sent++;
				break;
			}
			if (bhc_test_send(fd, buf, len, pass) == 0)
				st->datagrams++;
			if (pass >= 0) {
				close(pipefd[0]);
				close(pipefd[1]);
			}
			if (!drain(fd))
				break; /* the daemon closed it (a fatal refusal): fine */
		}
		close(fd);
	}
	/* the daemon drops the silent and the deaf ones itself, and says why */
	ck_assert(bhc_test_daemon_log_wait(&d, "no HELLO within", (int)st->silent, 10000));
	ck_assert(bhc_test_daemon_log_wait(&d, "replies unread", (int)st->deaf, 10000));
	for (i = 0; i < 8; i++)
		close(silent[i]);
	close(deaf);
}

/* $BHC_TEST_SEED if set (to replay a run), else a fixed seed: every run is the same. */
static uint64_t abuse_seed(void)
{
	const char *env = getenv("BHC_TEST_SEED");

	if (env && *env)
		return strtoull(env, NULL, 0) | 1;
	return UINT64_C(0x9e3779b97f4a7c15);
}

START_TEST(test_abuse)
{
	const char *args[] = { "--set", "limits.handshake_timeout=200ms",
			       "--set", "limits.stall_timeout=300ms",
			       "--set", "limits.per_connection_regions=16",
			       NULL };
	struct abuse_stats st = { 0 };
	unsigned int rounds = 6 * scale(), i;
	uint64_t seed = abuse_seed(), s;
	long rss1, rss2, rounds_served = 0;
	int fds0, fds1, fds2;
	struct buddy b;

	fprintf(stderr, "# abuse seed %" PRIu64 " (BHC_TEST_SEED replays it), %u rounds\n", seed,
		rounds);
	s = seed;
	start(NULL, args);
	fds0 = settled_fds(300, 10000);

	/* a first round: whatever the allocators keep from it is not growth */
	b = buddy_start();
	abuse_round(&s, &st);
	rounds_served += buddy_stop(&b);
	fds1 = wait_fds(fds0, 15000);
	ck_assert_msg(fds1 == fds0, "fds: %d before, %d after the first round", fds0, fds1);
	rss1 = status_kb(d.pid, "VmRSS");

	b = buddy_start();
	for (i = 1; i < rounds; i++) {
		abuse_round(&s, &st);
		ck_assert(daemon_alive());
	}
	rounds_served += buddy_stop(&b);
	fds2 = wait_fds(fds0, 15000);
	rss2 = status_kb(d.pid, "VmRSS");
	fprintf(stderr,
		"# %lu datagrams on %lu connections, %lu fds sent, %lu silent, %lu deaf clients;"
		" the buddy was served %ld times\n",
		st.datagrams, st.connections, st.fds_sent, st.silent, st.deaf, rounds_served);
	fprintf(stderr, "# daemon fds %d -> %d -> %d, VmRSS %ld kB -> %ld kB\n", fds0, fds1, fds2,
		rss1, rss2);
	ck_assert_msg(fds2 == fds0, "the daemon holds %d fds, %d before", fds2, fds0);
	if (bhc_test_timeout_scale() == 1)
		ck_assert_msg(rss2 <= rss1 + RSS_SLACK_KB, "VmRSS grew from %ld to %ld kB", rss1,
			      rss2);
	stop();
}
END_TEST

/* --- connection flood past max_connections --------------------------------------------- */

#define FLOOD_PROCS 4
#define FLOOD_PER_PROC 24
#define FLOOD_LIMIT 40

struct flood_report {
	int welcomed, refused, other;
};

/*
 * HELLO, and what came back: 0 for WELCOME, the errno of an ERROR. A
 * connection over the limit may have been refused before the HELLO could
 * be sent (EPIPE): its ERROR is still there to read.
 */
static int flood_hello(int fd)
{
	unsigned char buf[BHC_ARENA_MSG_MAX];
	struct bhc_arena_msg_hello hello;
	struct bhc_arena_msg_error e;
	struct bhc_arena_msg_hdr h;
	ssize_t n;

	memset(&hello, 0, sizeof(hello));
	bhc_test_hdr(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello), 1);
	bhc_test_send(fd, &hello, sizeof(hello), -1);
	n = bhc_test_recv(fd, buf, sizeof(buf), NULL, 10000);
	/* the daemon closed while our HELLO sat unread: the kernel says so first */
	if (n == -ECONNRESET)
		n = bhc_test_recv(fd, buf, sizeof(buf), NULL, 10000);
	if (n < (ssize_t)sizeof(h))
		return n < 0 ? (int)n : -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.type == BHC_ARENA_MSG_WELCOME && n == sizeof(struct bhc_arena_msg_welcome))
		return 0;
	if (h.type != BHC_ARENA_MSG_ERROR || n != sizeof(e))
		return -EBADMSG;
	memcpy(&e, buf, sizeof(e));
	return e.error;
}

/* Open @n connections at once, HELLO on each; count answers; hold them until @hold_r closes. */
static int flood_child(int n, int report_w, int hold_r)
{
	struct flood_report rep = { 0 };
	int fds[FLOOD_PER_PROC], i, r;
	char c;

	for (i = 0; i < n; i++)
		fds[i] = bhc_test_connect(d.socket);
	for (i = 0; i < n; i++) {
		if (fds[i] < 0) {
			rep.other++;
			continue;
		}
		r = flood_hello(fds[i]);
		if (r == 0)
			rep.welcomed++;
		else if (r == EUSERS && bhc_test_closed(fds[i], 5000))
			rep.refused++;
		else
			rep.other++;
	}
	if (write(report_w, &rep, sizeof(rep)) != sizeof(rep))
		return 2;
	while (read(hold_r, &c, 1) < 0 && errno == EINTR)
		;
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return 0;
}

/* FLOOD_PROCS processes flood at once; returns the summed answers once all have them. */
static struct flood_report flood(pid_t *pids, int *hold_w)
{
	struct flood_report sum = { 0 }, rep;
	int report[2], hold[2], i;

	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	for (i = 0; i < FLOOD_PROCS; i++) {
		fflush(NULL);
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(report[0]);
			close(hold[1]);
			_exit(flood_child(FLOOD_PER_PROC, report[1], hold[0]));
		}
	}
	close(report[1]);
	close(hold[0]);
	for (i = 0; i < FLOOD_PROCS; i++) {
		ck_assert_int_eq(read(report[0], &rep, sizeof(rep)), sizeof(rep));
		sum.welcomed += rep.welcomed;
		sum.refused += rep.refused;
		sum.other += rep.other;
	}
	close(report[0]);
	*hold_w = hold[1];
	return sum;
}

static void flood_end(pid_t *pids, int hold_w)
{
	int i, status;

	close(hold_w);
	for (i = 0; i < FLOOD_PROCS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

START_TEST(test_flood)
{
	char limit[64];
	const char *args[] = { "--set", limit, NULL };
	struct flood_report rep;
	pid_t pids[FLOOD_PROCS];
	int fds0, hold_w, round;
	struct buddy b;

	snprintf(limit, sizeof(limit), "limits.max_connections=%d", FLOOD_LIMIT);
	start(NULL, args);
	fds0 = settled_fds(300, 10000);
	b = buddy_start(); /* holds one of the connections all along */
	for (round = 0; round < 2; round++) {
		rep = flood(pids, &hold_w);
		fprintf(stderr, "# round %d: %d welcomed, %d refused with EUSERS, %d other\n",
			round, rep.welcomed, rep.refused, rep.other);
		ck_assert_int_eq(rep.other, 0);
		ck_assert_int_eq(rep.welcomed, FLOOD_LIMIT - 1);
		ck_assert_int_eq(rep.refused, FLOOD_PROCS * FLOOD_PER_PROC - (FLOOD_LIMIT - 1));
		ck_assert(daemon_alive());
		/* everybody leaves: the next round has the whole allowance again */
		flood_end(pids, hold_w);
		ck_assert_int_eq(wait_fds(fds0 + 1, 10000), fds0 + 1); /* + the buddy's socket */
	}
	buddy_stop(&b);
	ck_assert_int_eq(wait_fds(fds0, 10000), fds0);
	ck_assert(bhc_test_daemon_log_count(&d, "refused a connection") >= 1);
	stop();
}
END_TEST

/* --- RLIMIT_NOFILE exhausted in the daemon ---------------------------------------------- */

START_TEST(test_nofile)
{
	const char *args[] = { "--set", "limits.per_connection_regions=4", NULL };
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	struct rlimit old, lim;
	int fds[64], n_grants = 0, n_errors = 0, n_unanswered = 0, fds0, i, r, rfd, fd;
	uint64_t deadline;

	start(NULL, args);
	fds0 = settled_fds(300, 10000);
	ck_assert_int_gt(fds0, 0);
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, NULL, &old), 0);
	/* room for a dozen more descriptors: sockets and regions compete for them */
	lim.rlim_cur = (rlim_t)fds0 + 12;
	lim.rlim_max = old.rlim_max; /* raising it back would need CAP_SYS_RESOURCE */
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &lim, NULL), 0);

	for (i = 0; i < 64; i++) {
		struct bhc_arena_msg_hello hello;
		struct bhc_arena_msg_acquire acq;

		fds[i] = connect_nb(d.socket);
		if (fds[i] < 0)
			continue; /* the backlog is full: that is a refusal too */
		memset(&hello, 0, sizeof(hello));
		bhc_test_hdr(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello), 1);
		memset(&acq, 0, sizeof(acq));
		bhc_test_hdr(&acq.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(acq), 2);
		acq.size = 2 * MiB;
		bhc_test_send(fds[i], &hello, sizeof(hello), -1);
		bhc_test_send(fds[i], &acq, sizeof(acq), -1);
		bhc_test_send(fds[i], &acq, sizeof(acq), -1);
	}
	/* the daemon ran out of descriptors (the event), and lives */
	ck_assert(bhc_test_daemon_log_wait(&d, "Too many open files", 1, 5000));
	sleep_ms(200);
	ck_assert(daemon_alive());
	/* what each got: a grant, a clear error, or nothing yet (not accepted) */
	for (i = 0; i < 64; i++) {
		unsigned char buf[BHC_ARENA_MSG_MAX];
		struct bhc_arena_msg_hdr h;
		ssize_t n;

		bool answered = false;

		if (fds[i] < 0)
			continue;
		while ((n = bhc_test_recv(fds[i], buf, sizeof(buf), &rfd, 0)) > 0) {
			answered = true;
			memcpy(&h, buf, sizeof(h));
			if (rfd >= 0)
				close(rfd);
			if (h.type == BHC_ARENA_MSG_GRANT)
				n_grants++;
			if (h.type == BHC_ARENA_MSG_ERROR && (size_t)n == sizeof(e)) {
				memcpy(&e, buf, sizeof(e));
				ck_assert_int_gt(e.error, 0);
				ck_assert_uint_gt(strlen(e.text), 0);
				n_errors++;
			}
		}
		if (!answered)
			n_unanswered++;
	}
	fprintf(stderr, "# with %d fds allowed: %d grants, %d errors, %d waiting\n", fds0 + 12,
		n_grants, n_errors, n_unanswered);
	/* some were served, some told why not: no silent failure, no crash */
	ck_assert_int_ge(n_grants, 1);
	ck_assert_int_ge(n_errors, 1);
	/* a grant's memfd is a descriptor the daemon keeps: no more than it was allowed */
	ck_assert_int_le(n_grants, 12);
	ck_assert_int_le(n_grants + n_errors, 2 * 64);
	for (i = 0; i < 64; i++)
		if (fds[i] >= 0)
			close(fds[i]);

	/* everybody left: service is back, for new connections and new regions */
	deadline = bhc_test_now_ms() + 15000u * bhc_test_timeout_scale();
	for (;;) {
		fd = bhc_test_connect(d.socket);
		r = fd >= 0 ? bhc_test_hello(fd, "after", 0, NULL) : fd;
		if (r == 0)
			r = bhc_test_acquire(fd, 2 * MiB, 0, 0, &g, &rfd, NULL);
		if (r == 0)
			break;
		if (fd >= 0)
			close(fd);
		ck_assert_msg(bhc_test_now_ms() < deadline, "no service after the clients left: %d",
			      r);
		sleep_ms(100);
	}
	close(rfd);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
	close(fd);
	ck_assert(daemon_alive());
	ck_assert_int_eq(prlimit(d.pid, RLIMIT_NOFILE, &old, NULL), 0);
	ck_assert_int_eq(wait_fds(fds0, 15000), fds0);
	stop();
}
END_TEST

/* --- the hugepage pool shrinks under the daemon ------------------------------------------ */

#define HP_DIR "/sys/kernel/mm/hugepages/hugepages-2048kB"

struct held {
	unsigned char *p;
	uint64_t size, id;
	uint32_t backing;
	unsigned char fill;
};

/* Acquire @size under @flags, map it, fill it; 0 or what bhc_test_acquire() said. */
static int hold(int fd, uint64_t size, uint32_t flags, unsigned char fill, struct held *h,
		struct bhc_arena_msg_error *e)
{
	struct bhc_arena_msg_grant g;
	int r, rfd;

	r = bhc_test_acquire(fd, size, flags, 0, &g, &rfd, e);
	if (r != 0)
		return r;
	h->p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	close(rfd);
	ck_assert_ptr_ne(h->p, MAP_FAILED);
	h->size = g.size;
	h->id = g.region_id;
	h->backing = g.backing;
	h->fill = fill;
	memset(h->p + HDR, fill, g.size - HDR);
	return 0;
}

static bool intact(const struct held *h)
{
	uint64_t i;

	for (i = HDR; i < h->size; i += 4096)
		if (h->p[i] != h->fill || h->p[i + 4095] != h->fill)
			return false;
	return true;
}

/*
 * REQUIRE_HUGE until the daemon says ENOMEM naming nr_hugepages: warm
 * hugetlb regions it made before the shortage may serve a few first.
 * Returns how many regions it holds now in @h.
 */
static int require_until_short(int fd, struct held *h, struct bhc_arena_msg_error *e)
{
	int n = 0, r;

	for (;;) {
		r = hold(fd, 2 * MiB, BHC_ARENA_ACQ_REQUIRE_HUGE, (unsigned char)(0x40 + n), &h[n],
			 e);
		if (r != 0)
			break;
		ck_assert_uint_eq(h[n].backing, BHC_ARENA_BACKING_HUGETLB);
		ck_assert_int_lt(++n, 3); /* no more than the warm class keeps */
	}
	ck_assert_int_eq(r, ENOMEM);
	ck_assert_msg(strstr(e->text, "nr_hugepages"), "%s", e->text);
	return n;
}

/* The default policy (prefer) until a region comes back that is not hugetlb. */
static int prefer_until_fallback(int fd, struct held *h)
{
	int n = 0;

	do {
		ck_assert_int_eq(hold(fd, 2 * MiB, 0, (unsigned char)(0x60 + n), &h[n], NULL), 0);
		ck_assert_int_lt(n, 3);
	} while (h[n++].backing == BHC_ARENA_BACKING_HUGETLB);
	return n;
}

/* A process that takes every free 2 MiB hugepage and keeps them until killed. */
static pid_t thief_start(long *n_taken)
{
	int report[2];
	long n;
	pid_t pid;

	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		long got = 0;
		void *p;

		close(report[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		n = bhc_test_hugepages_free(2048);
		/* the free count moves: take as many as the kernel gives, one at a time */
		while (n-- > 0) {
			p = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
			if (p == MAP_FAILED)
				break;
			got++;
		}
		if (write(report[1], &got, sizeof(got)) != sizeof(got))
			_exit(2);
		for (;;)
			pause();
	}
	close(report[1]);
	ck_assert_int_eq(read(report[0], n_taken, sizeof(*n_taken)), sizeof(*n_taken));
	close(report[0]);
	return pid;
}

START_TEST(test_hugepages_shrink)
{
	/* warm_max = 0: the warm class keeps 2, however many are asked for */
	static const char config[] = "[pool]\nhugepages = prefer\nwarm = 2M:2\nwarm_max = 0\n"
				     "max_region_size = 64M\n[limits]\ntotal = 1G\n";
	struct bhc_arena_msg_error e;
	struct held h[24];
	long taken, nr_before, in_use;
	char why[256];
	int fd, status, i, n = 0;
	pid_t thief;

	if (geteuid() != 0)
		bhc_test_skip("needs root to take and shrink the hugepage pool");
	if (bhc_test_hugepages_reserve(2048, 8, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	start(config, NULL);
	fd = bhc_test_connect(d.socket);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, "hugepages", 0, NULL), 0);
	/* hugetlb while the pool has pages */
	for (i = 0; i < 3; i++, n++)
		ck_assert_int_eq(hold(fd, 2 * MiB, BHC_ARENA_ACQ_REQUIRE_HUGE,
				      (unsigned char)(0x10 + n), &h[n], NULL),
				 0);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(h[i].backing, BHC_ARENA_BACKING_HUGETLB);

	/* another process takes every free page */
	thief = thief_start(&taken);
	fprintf(stderr, "# another process took %ld hugepages; %ld free now\n", taken,
		bhc_test_hugepages_free(2048));
	/* require: the daemon's own warm hugepages first, then a clear ENOMEM */
	n += require_until_short(fd, &h[n], &e);
	/* prefer falls back */
	n += prefer_until_fallback(fd, &h[n]);

	/* nr_hugepages lowered below what is in use: held pages become surplus */
	/* whatever happens from here, the pool's size comes back (also if this test dies) */
	ck_assert_int_eq(bhc_test_hugepages_guard(2048), 0);
	nr_before = bhc_test_read_long(HP_DIR "/nr_hugepages");
	in_use = nr_before - bhc_test_read_long(HP_DIR "/free_hugepages");
	ck_assert_int_eq(bhc_test_write_long(HP_DIR "/nr_hugepages", in_use > 2 ? in_use - 2 : 0),
			 0);
	fprintf(stderr, "# nr_hugepages %ld -> %ld (in use %ld, surplus %ld)\n", nr_before,
		bhc_test_read_long(HP_DIR "/nr_hugepages"), in_use,
		bhc_test_read_long(HP_DIR "/surplus_hugepages"));
	n += require_until_short(fd, &h[n], &e);
	n += prefer_until_fallback(fd, &h[n]);
	/* every region kept its data: nothing faulted, nothing was taken back */
	for (i = 0; i < n; i++)
		ck_assert_msg(intact(&h[i]), "region %" PRIu64 " lost its data", h[i].id);

	/* the pages come back: hugetlb again */
	kill(thief, SIGKILL);
	ck_assert_int_eq(waitpid(thief, &status, 0), thief);
	ck_assert_int_eq(bhc_test_write_long(HP_DIR "/nr_hugepages", nr_before), 0);
	ck_assert_int_eq(hold(fd, 2 * MiB, BHC_ARENA_ACQ_REQUIRE_HUGE, 0x7f, &h[n], NULL), 0);
	ck_assert_uint_eq(h[n].backing, BHC_ARENA_BACKING_HUGETLB);
	n++;
	for (i = 0; i < n; i++) {
		ck_assert(intact(&h[i]));
		munmap(h[i].p, h[i].size);
		ck_assert_int_eq(bhc_test_release(fd, h[i].id, NULL), 0);
	}
	close(fd);
	ck_assert(daemon_alive());
	stop();
}
END_TEST

/* --- another tenant -------------------------------------------------------------------- */

#define NOBODY 65534

/*
 * What another local user can do against a tenant's region: nothing. As
 * uid nobody (a real second user, the daemon's socket open to it): RELEASE
 * of the tenant's region id is ENOENT, the daemon's descriptors of the
 * regions cannot be opened through /proc, and the tenant's data is intact.
 */
START_TEST(test_other_tenant)
{
	struct bhc_arena_msg_error e;
	struct held h;
	int fd, status, report[2];
	long result[3] = { -1, -1, -1 };
	pid_t pid;

	if (geteuid() != 0)
		bhc_test_skip("needs root to act as a second user (nobody)");
	start(NULL, NULL);
	/* the socket is 0666; let nobody reach it through the test's directory */
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	fd = bhc_test_connect(d.socket);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, "tenant", 0, NULL), 0);
	ck_assert_int_eq(hold(fd, 4 * MiB, 0, 0x5a, &h, NULL), 0);

	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char path[300];
		struct dirent *ent;
		DIR *dir;
		int other, n_open = 0, n_denied = 0;

		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
			_exit(2);
		other = bhc_test_connect(d.socket);
		if (other < 0 || bhc_test_hello(other, "intruder", 0, NULL) != 0)
			_exit(3);
		result[0] = bhc_test_release(other, h.id, &e);
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)d.pid);
		dir = opendir(path);
		if (dir) {
			while ((ent = readdir(dir))) {
				int rfd;

				if (ent->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)d.pid,
					 ent->d_name);
				rfd = open(path, O_RDONLY | O_CLOEXEC);
				if (rfd >= 0) {
					n_open++;
					close(rfd);
				} else if (errno == EACCES || errno == EPERM) {
					n_denied++;
				}
			}
			closedir(dir);
		} else if (errno == EACCES || errno == EPERM) {
			n_denied = 1;
		}
		result[1] = n_open;
		result[2] = n_denied;
		if (write(report[1], result, sizeof(result)) != sizeof(result))
			_exit(4);
		_exit(0);
	}
	close(report[1]);
	ck_assert_int_eq(read(report[0], result, sizeof(result)), sizeof(result));
	close(report[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fprintf(stderr,
		"# nobody: RELEASE of the tenant's region -> %ld, /proc fds opened %ld, "
		"denied %ld\n",
		result[0], result[1], result[2]);
	ck_assert_int_eq(result[0], ENOENT);
	ck_assert_int_eq(result[1], 0);
	ck_assert_int_gt(result[2], 0);
	/* the tenant's region is still leased to it, with its data */
	ck_assert(intact(&h));
	munmap(h.p, h.size);
	ck_assert_int_eq(bhc_test_release(fd, h.id, NULL), 0);
	close(fd);
	stop();
}
END_TEST

/* --- client processes on libbhc-arena ------------------------------------------------------ */

/* FNV-1a over 64-bit words: the checksum a client takes of its data. */
static uint64_t checksum(const void *p, size_t len)
{
	const uint64_t *w = p;
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t i;

	for (i = 0; i < len / 8; i++) {
		h ^= w[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* A daemon arena written full with @seed's pattern; NULL on failure (errno set). */
static struct bhc_arena *filled_arena(size_t capacity, uint64_t seed, void **pp, size_t *lenp,
				      uint64_t *idp)
{
	struct bhc_arena_stats st;
	struct bhc_arena *a;
	int r;

	r = bhc_arena_new(capacity, &a);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	if (bhc_arena_stats(a, &st) < 0 || st.source != BHC_ARENA_SOURCE_DAEMON) {
		bhc_arena_free(a);
		errno = EPROTO;
		return NULL;
	}
	*lenp = bhc_arena_remaining(a) & ~(size_t)4095;
	*pp = bhc_arena_alloc(a, *lenp, 4096);
	if (!*pp) {
		bhc_arena_free(a);
		errno = ENOMEM;
		return NULL;
	}
	bhc_test_pattern_fill(*pp, *lenp, seed);
	if (idp)
		*idp = st.region_id;
	return a;
}

#define child_fail(code, ...)                                   \
	do {                                                    \
		fprintf(stderr, "# child %d: ", (int)getpid()); \
		fprintf(stderr, __VA_ARGS__);                   \
		fprintf(stderr, "\n");                          \
		_exit(code);                                    \
	} while (0)

/* Reap @pid within @timeout_ms; it must exit 0, not die of a signal (SIGBUS, ...). */
static void reap_ok(pid_t pid, int timeout_ms, const char *what)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		ck_assert_int_ne(r, -1);
		if (r == pid)
			break;
		if (bhc_test_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("%s %d did not finish in %d ms", what, (int)pid, timeout_ms);
		}
		sleep_ms(5);
	}
	ck_assert_msg(!WIFSIGNALED(status), "%s %d died of signal %d", what, (int)pid,
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_msg(WEXITSTATUS(status) == 0, "%s %d exited with %d", what, (int)pid,
		      WEXITSTATUS(status));
}

/* --- memory pressure from stress-ng ---------------------------------------------------- */

static bool have_program(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

/* Cycles of acquire / fill / verify / release for @ms; exits 0 if every one held. */
static void worker(unsigned int index, unsigned int ms)
{
	uint64_t end = bhc_test_now_ms() + ms, seed;
	unsigned long n_ok = 0, n_refused = 0;
	struct bhc_arena *a;
	size_t len;
	void *p;

	while (bhc_test_now_ms() < end) {
		seed = (uint64_t)index << 32 | n_ok;
		a = filled_arena((size_t)(1 + (n_ok + index) % 6) * MiB, seed, &p, &len, NULL);
		if (!a) {
			/* a clear refusal under pressure is allowed; anything else is not */
			if (errno != ENOMEM && errno != ENOSPC)
				child_fail(2, "bhc_arena_new: %s", strerror(errno));
			n_refused++;
			sleep_ms(10);
			continue;
		}
		if (!bhc_test_pattern_verify(p, len, seed))
			child_fail(3, "region lost its data");
		bhc_arena_free(a);
		n_ok++;
	}
	if (n_ok == 0)
		child_fail(4, "no cycle worked (%lu refused)", n_refused);
	_exit(0);
}

START_TEST(test_pressure)
{
	unsigned int ms = 6000 * scale(), i;
	char cmd[256];
	long avail_kb, vm_mb;
	pid_t pids[4], stress;
	int fds0, status;

	if (!have_program("stress-ng"))
		bhc_test_skip("stress-ng is not installed (apt-get install stress-ng)");
	start(NULL, NULL);
	fds0 = settled_fds(300, 10000);
	/* bounded: an eighth of what is available per worker, at most 1 GiB each */
	avail_kb = meminfo_kb("MemAvailable");
	vm_mb = avail_kb / 1024 / 8;
	if (vm_mb > 1024)
		vm_mb = 1024;
	ck_assert_int_gt(vm_mb, 16);
	snprintf(cmd, sizeof(cmd),
		 "exec stress-ng --vm 2 --vm-bytes %ldM --vm-keep --page-in --timeout %us --quiet",
		 vm_mb, ms / 1000 + 1);
	fflush(NULL);
	stress = fork();
	ck_assert_int_ge(stress, 0);
	if (stress == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	fprintf(stderr, "# stress-ng: 2 workers of %ld MiB for %u s\n", vm_mb, ms / 1000 + 1);
	for (i = 0; i < 4; i++) {
		fflush(NULL);
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			worker(i, ms);
	}
	for (i = 0; i < 4; i++)
		reap_ok(pids[i], (int)ms + 30000, "client");
	ck_assert_int_eq(waitpid(stress, &status, 0), stress);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "stress-ng failed (%d)",
		      status);
	ck_assert(daemon_alive());
	ck_assert_int_eq(wait_fds(fds0, 15000), fds0);
	stop();
}
END_TEST

/* --- the daemon killed while clients hold data ------------------------------------------ */

#define KILL_CLIENTS 6

struct kill_ctx {
	unsigned int index;
	int ready_w, go_r;
};

/* Two arenas full of data, checksums taken; after the daemon's death, verify and go again. */
static void kill_child(const struct kill_ctx *ctx)
{
	struct bhc_arena *a[2], *b;
	uint64_t sum[2], seed;
	size_t len[2], blen;
	void *p[2], *bp;
	char c;
	int i;

	for (i = 0; i < 2; i++) {
		seed = (uint64_t)ctx->index * 2 + (uint64_t)i + 1;
		a[i] = filled_arena((size_t)(1 + 2 * i) * MiB, seed, &p[i], &len[i], NULL);
		if (!a[i])
			child_fail(2, "bhc_arena_new: %s", strerror(errno));
		sum[i] = checksum(p[i], len[i]);
	}
	if (write(ctx->ready_w, "r", 1) != 1)
		child_fail(3, "ready");
	if (read(ctx->go_r, &c, 1) != 0)
		child_fail(4, "go");
	/* the daemon died and came back meanwhile */
	for (i = 0; i < 2; i++)
		if (checksum(p[i], len[i]) != sum[i])
			child_fail(5, "arena %d: checksum changed while the daemon restarted", i);
	b = filled_arena(2 * MiB, 99 + ctx->index, &bp, &blen, NULL);
	if (!b)
		child_fail(6, "no arena from the new daemon: %s", strerror(errno));
	if (!bhc_test_pattern_verify(bp, blen, 99 + ctx->index))
		child_fail(7, "the new arena lost its data");
	for (i = 0; i < 2; i++)
		bhc_arena_free(a[i]);
	bhc_arena_free(b);
	_exit(0);
}

START_TEST(test_sigkill_restart)
{
	struct kill_ctx ctx;
	pid_t pids[KILL_CLIENTS];
	int ready[2], go[2], i, n_listen, n_ready;
	char buf[KILL_CLIENTS];

	start(NULL, NULL);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	for (i = 0; i < KILL_CLIENTS; i++) {
		ctx = (struct kill_ctx){ (unsigned int)i, ready[1], go[0] };
		fflush(NULL);
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(go[1]);
			close(ready[0]);
			kill_child(&ctx);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < KILL_CLIENTS; i++)
		ck_assert_int_eq(read(ready[0], &buf[i], 1), 1);
	close(ready[0]);

	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	n_listen = bhc_test_daemon_log_count(&d, "listening on");
	n_ready = bhc_test_daemon_log_count(&d, "ready:");
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, NULL), 0);
	ck_assert(bhc_test_daemon_log_wait(&d, "listening on", n_listen + 1, 10000));
	ck_assert(bhc_test_daemon_log_wait(&d, "ready:", n_ready + 1, 20000));

	close(go[1]);
	for (i = 0; i < KILL_CLIENTS; i++)
		reap_ok(pids[i], 30000, "client");
	/* each client had one connection to each daemon */
	for (i = 0; i < KILL_CLIENTS; i++) {
		ck_assert(log_wait_pid(pids[i], " connected", 2, 5000));
		ck_assert_int_eq(log_count_pid(pids[i], " connected"), 2);
	}
	stop();
}
END_TEST

/* --- fork storm ---------------------------------------------------------------------------- */

#define STORM_PARENTS 6
#define STORM_CHILDREN 4
#define STORM_PER_PROC 2

struct storm_report {
	pid_t pid;
	bool parent;
	uint64_t ids[STORM_PER_PROC];
};

struct storm_ctx {
	unsigned int index;
	int report_w, ready_w, go_r, hold_r;
};

/* Arenas of this process, written with its own patterns. */
static void storm_fill(struct bhc_arena **a, void **p, size_t *len, uint64_t base,
		       struct storm_report *rep)
{
	int i;

	for (i = 0; i < STORM_PER_PROC; i++) {
		a[i] = filled_arena(MiB, base + (uint64_t)i, &p[i], &len[i], &rep->ids[i]);
		if (!a[i])
			child_fail(2, "bhc_arena_new: %s", strerror(errno));
	}
}

static void storm_check(void **p, size_t *len, uint64_t base)
{
	int i;

	for (i = 0; i < STORM_PER_PROC; i++)
		if (!bhc_test_pattern_verify(p[i], len[i], base + (uint64_t)i))
			child_fail(9, "arena %d was overwritten by another process", i);
}

static void storm_parent(const struct storm_ctx *ctx)
{
	struct storm_report rep = { .pid = getpid(), .parent = true };
	struct bhc_arena *a[STORM_PER_PROC];
	void *p[STORM_PER_PROC];
	size_t len[STORM_PER_PROC];
	uint64_t base = (uint64_t)ctx->index << 40;
	unsigned int c;
	char ch;

	/* the parent's arenas exist before the forks, and more are made while children make theirs */
	storm_fill(a, p, len, base, &rep);
	for (c = 0; c < STORM_CHILDREN; c++) {
		pid_t pid;

		fflush(NULL);
		pid = fork();
		if (pid < 0)
			child_fail(3, "fork");
		if (pid == 0) {
			struct storm_report crep = { .pid = getpid(), .parent = false };
			uint64_t cbase = base | (uint64_t)(c + 1) << 32;

			storm_fill(a, p, len, cbase, &crep);
			if (write(ctx->report_w, &crep, sizeof(crep)) != sizeof(crep) ||
			    write(ctx->ready_w, "c", 1) != 1)
				child_fail(4, "report");
			if (read(ctx->go_r, &ch, 1) != 0)
				child_fail(5, "go");
			storm_check(p, len, cbase);
			/* the child outlives its parent, and still has its own */
			if (read(ctx->hold_r, &ch, 1) != 0)
				child_fail(6, "hold");
			storm_check(p, len, cbase);
			bhc_arena_free(a[0]);
			bhc_arena_free(a[1]);
			_exit(0);
		}
	}
	if (write(ctx->report_w, &rep, sizeof(rep)) != sizeof(rep) ||
	    write(ctx->ready_w, "p", 1) != 1)
		child_fail(7, "report");
	if (read(ctx->go_r, &ch, 1) != 0)
		child_fail(8, "go");
	storm_check(p, len, base);
	/* exit without freeing: the leases end with the parent's connection */
	_exit(0);
}

START_TEST(test_fork_storm)
{
	enum { N = STORM_PARENTS * (1 + STORM_CHILDREN) };
	struct storm_report reps[N];
	struct storm_ctx ctx;
	uint64_t ids[N * STORM_PER_PROC];
	int report[2], ready[2], go[2], hold[2], i, j;
	pid_t parents[STORM_PARENTS];
	char buf[N];

	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	start(NULL, NULL);
	ck_assert_int_eq(pipe2(report, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(hold, O_CLOEXEC), 0);
	for (i = 0; i < STORM_PARENTS; i++) {
		ctx = (struct storm_ctx){ (unsigned int)i + 1, report[1], ready[1], go[0],
					  hold[0] };
		fflush(NULL);
		parents[i] = fork();
		ck_assert_int_ge(parents[i], 0);
		if (parents[i] == 0) {
			close(report[0]);
			close(ready[0]);
			close(go[1]);
			close(hold[1]);
			storm_parent(&ctx);
		}
	}
	close(report[1]);
	close(ready[1]);
	close(go[0]);
	close(hold[0]);
	for (i = 0; i < N; i++)
		ck_assert_msg(read(ready[0], &buf[i], 1) == 1, "only %d of %d processes ready", i,
			      N);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(read(report[0], &reps[i], sizeof(reps[i])), sizeof(reps[i]));
	/* every region once: no two processes were ever given the same one */
	for (i = 0; i < N; i++)
		for (j = 0; j < STORM_PER_PROC; j++)
			ids[i * STORM_PER_PROC + j] = reps[i].ids[j];
	for (i = 0; i < N * STORM_PER_PROC; i++) {
		ck_assert_uint_gt(ids[i], 0);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(ids[i], ids[j]);
	}
	/* all verify their patterns at once, then the parents go */
	close(go[1]);
	for (i = 0; i < STORM_PARENTS; i++)
		reap_ok(parents[i], 30000, "parent");
	/* each parent's connection ended with it, and its two leases with it */
	for (i = 0; i < STORM_PARENTS; i++) {
		ck_assert(log_wait_pid(parents[i], "released 2 regions", 1, 10000));
		ck_assert_int_eq(log_count_pid(parents[i], " connected"), 1);
	}
	/* the children live on with their own leases; then they check and leave */
	close(hold[1]);
	for (i = 0; i < N; i++) {
		if (reps[i].parent)
			continue;
		ck_assert_int_eq(kill(reps[i].pid, 0), 0);
		reap_ok(reps[i].pid, 30000, "child");
	}
	close(report[0]);
	close(ready[0]);
	stop();
}
END_TEST

/* One TCase per test, so that the TAP lines name the test. */
static void add(Suite *s, const char *name, const TTest *test, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, timeout * (int)scale() * (int)bhc_test_timeout_scale());
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("reliability");

	signal(SIGPIPE, SIG_IGN);
	add(s, "abuse", test_abuse, 120);
	add(s, "flood", test_flood, 60);
	add(s, "nofile", test_nofile, 60);
	add(s, "hugepages_shrink", test_hugepages_shrink, 60);
	add(s, "other_tenant", test_other_tenant, 60);
	add(s, "pressure", test_pressure, 120);
	add(s, "sigkill_restart", test_sigkill_restart, 60);
	add(s, "fork_storm", test_fork_storm, 60);
	return bhc_test_run(s);
}
