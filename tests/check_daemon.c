/* SPDX-License-Identifier: MIT */
/*
 * The conversation with a real bhc-arenad: handshake, every refusal and
 * its documented answer (while a well-behaved client keeps being served),
 * file descriptors sent to the daemon, limits, timeouts, backpressure.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "tap.h"
#include "util-daemon.h"

#define MiB (1ull << 20)

static const char base_config[] = "[pool]\n"
				  "hugepages = off\n"
				  "warm = 2M:2\n"
				  "max_region_size = 64M\n"
				  "[limits]\n"
				  "total = 512M\n";

static struct bhc_test_daemon d;

/* Start a daemon on base_config plus @args and wait until it is ready. */
static void start(const char *const *args)
{
	bhc_test_daemon_setup(&d, base_config);
	bhc_test_daemon_start_ready(&d, args, 10000);
}

/* Stop the daemon: it must exit 0 (under Valgrind: no errors, no leaks). */
static void stop(void)
{
	bhc_test_daemon_stop_clean(&d);
}

static int client(const char *tag)
{
	struct bhc_arena_msg_welcome w;
	int fd = bhc_test_connect(d.socket);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, tag, 0, &w), 0);
	return fd;
}

/* Acquire @size, check the grant, write the first and last byte, release. */
static void acquire_use_release(int fd, uint64_t size)
{
	struct bhc_arena_msg_grant g;
	unsigned char *p;
	int rfd;

	ck_assert_int_eq(bhc_test_acquire(fd, size, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_int_ge(rfd, 0);
	ck_assert_uint_ge(g.size, size);
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(rfd);
	p[BHC_ARENA_REGION_HEADER_SIZE] = 1;
	p[g.size - 1] = 2;
	munmap(p, g.size);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
}

/* --- a well-behaved client running beside the misbehaving ones ------------- */

struct buddy {
	pid_t pid;
	int stop_w; /* closing it tells the buddy to stop */
	int result_r;
};

/* One acquire/write/release round; true if it worked. */
static bool buddy_round(int fd)
{
	struct bhc_arena_msg_grant g;
	unsigned char *p;
	int rfd;

	if (bhc_test_acquire(fd, 2 * MiB, 0, 0, &g, &rfd, NULL) != 0)
		return false;
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	close(rfd);
	if (p == MAP_FAILED)
		return false;
	p[g.size - 1] = 1;
	munmap(p, g.size);
	return bhc_test_release(fd, g.region_id, NULL) == 0;
}

/*
 * Start a client that acquires, writes and releases in a loop until told to
 * stop, then does one more round: it is running before the misbehaviour
 * starts, all through it, and is still served after it.
 */
static struct buddy buddy_start(void)
{
	struct buddy b;
	int stop_pipe[2], result_pipe[2];
	long first;
	pid_t pid;

	ck_assert_int_eq(pipe(stop_pipe), 0);
	ck_assert_int_eq(pipe(result_pipe), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pollfd pfd = { .fd = stop_pipe[0], .events = POLLIN };
		struct bhc_arena_msg_welcome w;
		long counts[2] = { 0, 0 }; /* rounds that worked, rounds that failed */
		int fd;

		close(stop_pipe[1]);
		close(result_pipe[0]);
		fd = bhc_test_connect(d.socket);
		if (fd < 0 || bhc_test_hello(fd, "buddy", 0, &w) != 0 || !buddy_round(fd))
			_exit(3);
		counts[0]++;
		if (write(result_pipe[1], &counts[0], sizeof(long)) != sizeof(long))
			_exit(2);
		while (poll(&pfd, 1, 0) == 0) {
			if (!buddy_round(fd)) {
				counts[1]++;
				break;
			}
			counts[0]++;
		}
		if (buddy_round(fd))
			counts[0]++;
		else
			counts[1]++;
		if (write(result_pipe[1], counts, sizeof(counts)) != sizeof(counts))
			_exit(2);
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

/* Stop the buddy; it must have been served throughout, without a failure. */
static void buddy_stop(struct buddy *b)
{
	long counts[2] = { -1, -1 };
	int status;

	close(b->stop_w);
	ck_assert_int_eq(read(b->result_r, counts, sizeof(counts)), sizeof(counts));
	close(b->result_r);
	ck_assert_int_eq(waitpid(b->pid, &status, 0), b->pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(counts[1], 0);
	ck_assert_int_ge(counts[0], 2);
}

/* Send @len raw bytes and expect ERROR @error echoing @type and @seq. */
static void expect_refusal(int fd, const void *buf, size_t len, int error, uint16_t type,
			   uint32_t seq)
{
	struct bhc_arena_msg_error e;

	ck_assert_int_eq(bhc_test_send(fd, buf, len, -1), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, &e, 5000), error);
	ck_assert_uint_eq(e.request_type, type);
	ck_assert_uint_eq(e.hdr.seq, seq);
	ck_assert_ptr_nonnull(memchr(e.text, '\0', sizeof(e.text)));
	ck_assert_uint_gt(strlen(e.text), 0);
}

/* --- tests ------------------------------------------------------------------ */

START_TEST(test_handshake)
{
	struct bhc_arena_msg_welcome w1, w2;
	struct timespec now;
	uint64_t now_ns;
	int fd1, fd2;

	start(NULL);
	fd1 = bhc_test_connect(d.socket);
	fd2 = bhc_test_connect(d.socket);
	ck_assert_int_ge(fd1, 0);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(bhc_test_hello(fd1, "job-42", 0, &w1), 0);
	ck_assert_int_eq(bhc_test_hello(fd2, NULL, 0, &w2), 0);
	ck_assert_uint_eq(w1.hdr.seq, 1);
	ck_assert_uint_gt(w1.client_id, 0);
	ck_assert_uint_ne(w1.client_id, w2.client_id);
	ck_assert_uint_eq(w1.daemon_start_ns, w2.daemon_start_ns);
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	ck_assert_uint_le(w1.daemon_start_ns, now_ns);
	ck_assert_uint_gt(w1.daemon_start_ns, now_ns - 600ull * 1000000000ull);
	ck_assert_uint_eq(w1.max_region_size, 64 * MiB);
	ck_assert_uint_eq(w1.page_shift, 21);
	ck_assert_uint_eq(w1.policy, BHC_ARENA_HUGEPAGES_OFF);
	ck_assert(bhc_test_daemon_log_wait(&d, "tag \"job-42\") connected", 1, 2000));
	acquire_use_release(fd1, 3 * MiB);
	close(fd1);
	close(fd2);
	stop();
}
END_TEST

START_TEST(test_admin_session)
{
	struct bhc_arena_msg_welcome w;
	struct bhc_arena_msg_error e;
	unsigned char buf[64];
	int fd;

	start(NULL);
	fd = bhc_test_connect(d.socket);
	ck_assert_int_eq(bhc_test_hello(fd, "ctl", BHC_ARENA_HELLO_ADMIN, &w), 0);
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, NULL, NULL, &e), EPERM);
	/* a JSON request without "cmd" is refused in an ADMIN_REPLY (docs/ADMIN.md) */
	bhc_test_hdr((struct bhc_arena_msg_hdr *)buf, BHC_ARENA_MSG_ADMIN, 18, 77);
	memcpy(buf + 16, "{}", 2);
	ck_assert_int_eq(bhc_test_send(fd, buf, 18, -1), 0);
	{
		unsigned char rbuf[BHC_ARENA_ADMIN_CHUNK_MAX];
		struct bhc_arena_msg_admin_reply rep;
		ssize_t n = bhc_test_recv(fd, rbuf, sizeof(rbuf), NULL, 5000);

		ck_assert_int_gt(n, (ssize_t)sizeof(rep));
		memcpy(&rep, rbuf, sizeof(rep));
		ck_assert_uint_eq(rep.hdr.type, BHC_ARENA_MSG_ADMIN_REPLY);
		ck_assert_uint_eq(rep.hdr.seq, 77);
		ck_assert_int_eq(rep.status, EINVAL);
		ck_assert_uint_eq(rep.flags, 0);
	}
	bhc_test_hdr((struct bhc_arena_msg_hdr *)buf, BHC_ARENA_MSG_ADMIN, 16, 78);
	expect_refusal(fd, buf, 16, EINVAL, BHC_ARENA_MSG_ADMIN, 78);
	close(fd);
	stop();
}
END_TEST

/* Before HELLO, anything else is refused and the connection is closed. */
START_TEST(test_before_hello)
{
	struct bhc_arena_msg_acquire acq;
	struct bhc_arena_msg_hello hello;
	struct buddy b;
	int fd, pipefd[2];

	start(NULL);
	b = buddy_start();

	fd = bhc_test_connect(d.socket);
	memset(&acq, 0, sizeof(acq));
	bhc_test_hdr(&acq.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(acq), 5);
	acq.size = 2 * MiB;
	expect_refusal(fd, &acq, sizeof(acq), EPROTO, BHC_ARENA_MSG_ACQUIRE, 5);
	ck_assert(bhc_test_closed(fd, 5000));
	close(fd);

	/* A HELLO with a bad tag ends the handshake too. */
	fd = bhc_test_connect(d.socket);
	memset(&hello, 0, sizeof(hello));
	bhc_test_hdr(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello), 6);
	strcpy(hello.tag, "no spaces please");
	expect_refusal(fd, &hello, sizeof(hello), EINVAL, BHC_ARENA_MSG_HELLO, 6);
	ck_assert(bhc_test_closed(fd, 5000));
	close(fd);

	/* So does a file descriptor riding on a HELLO. */
	fd = bhc_test_connect(d.socket);
	ck_assert_int_eq(pipe(pipefd), 0);
	strcpy(hello.tag, "ok");
	ck_assert_int_eq(bhc_test_send(fd, &hello, sizeof(hello), pipefd[1]), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, NULL, 5000), EPERM);
	ck_assert(bhc_test_closed(fd, 5000));
	close(fd);
	close(pipefd[0]);
	close(pipefd[1]);

	buddy_stop(&b);
	stop();
}
END_TEST

START_TEST(test_bad_magic_version)
{
	struct bhc_arena_msg_release rel;
	struct bhc_arena_msg_error e;
	struct buddy b;
	int fd;

	start(NULL);
	b = buddy_start();

	fd = client("magic");
	memset(&rel, 0, sizeof(rel));
	bhc_test_hdr(&rel.hdr, BHC_ARENA_MSG_RELEASE, sizeof(rel), 9);
	rel.hdr.magic = 0x50545448; /* "HTTP" */
	ck_assert_int_eq(bhc_test_send(fd, &rel, sizeof(rel), -1), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, &e, 5000), EPROTO);
	ck_assert_ptr_nonnull(strstr(e.text, "magic"));
	ck_assert(bhc_test_closed(fd, 5000));
	close(fd);

	fd = client("version");
	bhc_test_hdr(&rel.hdr, BHC_ARENA_MSG_RELEASE, sizeof(rel), 10);
	rel.hdr.version = 2;
	ck_assert_int_eq(bhc_test_send(fd, &rel, sizeof(rel), -1), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, &e, 5000), EPROTONOSUPPORT);
	ck_assert_ptr_nonnull(strstr(e.text, "version 1"));
	ck_assert_uint_eq(e.hdr.seq, 10);
	ck_assert(bhc_test_closed(fd, 5000));
	close(fd);

	/* A client from the future gets the same answer before its HELLO. */
	fd = bhc_test_connect(d.socket);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_send(fd, &rel, sizeof(rel), -1), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, &e, 5000), EPROTONOSUPPORT);
	ck_assert(bhc_test_closed(fd, 5000));
	close(fd);

	buddy_stop(&b);
	stop();
}
END_TEST

/* Refusals after HELLO that leave the connection open, each with its answer. */
START_TEST(test_recoverable)
{
	static unsigned char big[70000];
	struct bhc_arena_msg_acquire acq;
	struct bhc_arena_msg_release rel;
	struct bhc_arena_msg_hello hello;
	struct bhc_arena_msg_error e;
	struct bhc_arena_msg_hdr *h = (struct bhc_arena_msg_hdr *)big;
	struct buddy b;
	int fd;

	start(NULL);
	b = buddy_start();
	fd = client("recoverable");

	/* unknown type */
	bhc_test_hdr(h, 99, 16, 20);
	expect_refusal(fd, big, 16, EBADMSG, 99, 20);
	/* a type only the daemon sends */
	bhc_test_hdr(h, BHC_ARENA_MSG_GRANT, 48, 21);
	expect_refusal(fd, big, 48, EBADMSG, BHC_ARENA_MSG_GRANT, 21);
	/* length field does not match the datagram */
	memset(&acq, 0, sizeof(acq));
	bhc_test_hdr(&acq.hdr, BHC_ARENA_MSG_ACQUIRE, 64, 22);
	acq.size = MiB;
	expect_refusal(fd, &acq, sizeof(acq), EBADMSG, BHC_ARENA_MSG_ACQUIRE, 22);
	/* truncated: shorter than a header */
	expect_refusal(fd, &acq, 10, EBADMSG, 0, 0);
	/* empty datagram */
	expect_refusal(fd, &acq, 0, EBADMSG, 0, 0);
	/* a fixed message of the wrong size */
	bhc_test_hdr(h, BHC_ARENA_MSG_ACQUIRE, 40, 23);
	expect_refusal(fd, big, 40, EBADMSG, BHC_ARENA_MSG_ACQUIRE, 23);
	/* oversized, a little and a lot */
	bhc_test_hdr(h, BHC_ARENA_MSG_ADMIN, BHC_ARENA_MSG_MAX + 1, 24);
	expect_refusal(fd, big, BHC_ARENA_MSG_MAX + 1, EMSGSIZE, BHC_ARENA_MSG_ADMIN, 24);
	bhc_test_hdr(h, BHC_ARENA_MSG_ADMIN, sizeof(big), 25);
	expect_refusal(fd, big, sizeof(big), EMSGSIZE, BHC_ARENA_MSG_ADMIN, 25);
	/* a second HELLO */
	memset(&hello, 0, sizeof(hello));
	bhc_test_hdr(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello), 26);
	expect_refusal(fd, &hello, sizeof(hello), EPROTO, BHC_ARENA_MSG_HELLO, 26);
	/* releasing what is not leased */
	memset(&rel, 0, sizeof(rel));
	bhc_test_hdr(&rel.hdr, BHC_ARENA_MSG_RELEASE, sizeof(rel), 27);
	rel.region_id = 123456;
	expect_refusal(fd, &rel, sizeof(rel), ENOENT, BHC_ARENA_MSG_RELEASE, 27);
	/* bad acquires */
	bhc_test_hdr(&acq.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(acq), 28);
	acq.flags = BHC_ARENA_ACQ_REQUIRE_HUGE | BHC_ARENA_ACQ_PREFER_HUGE;
	expect_refusal(fd, &acq, sizeof(acq), EINVAL, BHC_ARENA_MSG_ACQUIRE, 28);
	acq.flags = 0x100;
	expect_refusal(fd, &acq, sizeof(acq), EINVAL, BHC_ARENA_MSG_ACQUIRE, 28);
	acq.flags = 0;
	acq.page_shift = 12;
	expect_refusal(fd, &acq, sizeof(acq), EINVAL, BHC_ARENA_MSG_ACQUIRE, 28);
	acq.page_shift = 0;
	acq.size = 0;
	expect_refusal(fd, &acq, sizeof(acq), EINVAL, BHC_ARENA_MSG_ACQUIRE, 28);
	acq.size = 65 * MiB;
	expect_refusal(fd, &acq, sizeof(acq), EFBIG, BHC_ARENA_MSG_ACQUIRE, 28);
	acq.size = UINT64_MAX;
	expect_refusal(fd, &acq, sizeof(acq), EFBIG, BHC_ARENA_MSG_ACQUIRE, 28);
	/* REQUIRE_HUGE on a daemon with hugepages = off */
	acq.size = 2 * MiB;
	acq.flags = BHC_ARENA_ACQ_REQUIRE_HUGE;
	ck_assert_int_eq(bhc_test_send(fd, &acq, sizeof(acq), -1), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, &e, 5000), EPERM);
	ck_assert_ptr_nonnull(strstr(e.text, "hugepages are disabled on this daemon"));

	/* After all that, the connection still works. */
	acquire_use_release(fd, 2 * MiB);
	close(fd);
	buddy_stop(&b);
	stop();
}
END_TEST

/* Descriptors sent to the daemon are closed at once and refused. */
START_TEST(test_fd_refused)
{
	struct bhc_arena_msg_release rel;
	struct bhc_arena_msg_error e;
	struct pollfd pfd;
	struct buddy b;
	char c;
	int fd, pipefd[2];

	start(NULL);
	b = buddy_start();
	fd = client("fds");
	ck_assert_int_eq(pipe(pipefd), 0);
	memset(&rel, 0, sizeof(rel));
	bhc_test_hdr(&rel.hdr, BHC_ARENA_MSG_RELEASE, sizeof(rel), 31);
	rel.region_id = 1;
	ck_assert_int_eq(bhc_test_send(fd, &rel, sizeof(rel), pipefd[1]), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, &e, 5000), EPERM);
	ck_assert_ptr_nonnull(strstr(e.text, "file descriptors are not accepted"));
	ck_assert_uint_eq(e.hdr.seq, 31);
	ck_assert_uint_eq(e.request_type, BHC_ARENA_MSG_RELEASE);
	/* The daemon's copy of the write end is gone: ours was the last one. */
	close(pipefd[1]);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 5000 * (int)bhc_test_timeout_scale()), 1);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 0);
	close(pipefd[0]);
	/* An fd on an empty datagram is refused the same way. */
	ck_assert_int_eq(pipe(pipefd), 0);
	ck_assert_int_eq(bhc_test_send(fd, "", 0, pipefd[0]), 0);
	ck_assert_int_eq(bhc_test_recv_error(fd, NULL, 5000), EPERM);
	close(pipefd[0]);
	close(pipefd[1]);
	acquire_use_release(fd, 2 * MiB);
	close(fd);
	buddy_stop(&b);
	stop();
}
END_TEST

/* Requests are answered in order, each reply echoing its seq. */
START_TEST(test_pipelined)
{
	struct bhc_arena_msg_acquire acq[3];
	unsigned char buf[BHC_ARENA_MSG_MAX];
	struct bhc_arena_msg_grant g;
	int fd, i, rfd;

	start(NULL);
	fd = client("pipeline");
	for (i = 0; i < 3; i++) {
		memset(&acq[i], 0, sizeof(acq[i]));
		bhc_test_hdr(&acq[i].hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(acq[i]), 100 + (uint32_t)i);
		/* a non-class size made on demand first, then warm ones */
		acq[i].size = i == 0 ? 10 * MiB : 2 * MiB;
		ck_assert_int_eq(bhc_test_send(fd, &acq[i], sizeof(acq[i]), -1), 0);
	}
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(bhc_test_recv(fd, buf, sizeof(buf), &rfd, 5000), sizeof(g));
		memcpy(&g, buf, sizeof(g));
		ck_assert_uint_eq(g.hdr.type, BHC_ARENA_MSG_GRANT);
		ck_assert_uint_eq(g.hdr.seq, 100 + (uint32_t)i);
		ck_assert_uint_eq(g.size, i == 0 ? 10 * MiB : 2 * MiB);
		ck_assert_int_ge(rfd, 0);
		close(rfd);
	}
	close(fd);
	stop();
}
END_TEST

START_TEST(test_release)
{
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	unsigned char *p;
	int fd, rfd;

	start(NULL);
	fd = client("release");
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL), 0);
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(rfd);
	memset(p + BHC_ARENA_REGION_HEADER_SIZE, 0x5a, g.size - BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
	/* The pages went back at once although we still map them. */
	ck_assert_uint_eq(p[BHC_ARENA_REGION_HEADER_SIZE], 0);
	ck_assert_uint_eq(p[g.size - 1], 0);
	munmap(p, g.size);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, &e), ENOENT);
	ck_assert_ptr_nonnull(strstr(e.text, "not leased"));
	close(fd);
	stop();
}
END_TEST

START_TEST(test_handshake_timeout)
{
	const char *args[] = { "--set", "limits.handshake_timeout=300ms", NULL };
	struct bhc_arena_msg_welcome w;
	struct bhc_arena_msg_error e;
	uint64_t t0;
	int silent, polite;

	start(args);
	t0 = bhc_test_now_ms();
	silent = bhc_test_connect(d.socket);
	polite = bhc_test_connect(d.socket);
	ck_assert_int_ge(silent, 0);
	ck_assert_int_eq(bhc_test_hello(polite, "polite", 0, &w), 0);
	ck_assert_int_eq(bhc_test_recv_error(silent, &e, 5000), ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(e.text, "no HELLO within 300 ms"));
	ck_assert_uint_lt(bhc_test_now_ms() - t0, 5000u * bhc_test_timeout_scale());
	ck_assert(bhc_test_closed(silent, 5000));
	/* The connection that said HELLO in time stays. */
	usleep(400 * 1000);
	acquire_use_release(polite, 2 * MiB);
	close(silent);
	close(polite);
	stop();
}
END_TEST

START_TEST(test_max_connections)
{
	const char *args[] = { "--set", "limits.max_connections=3", NULL };
	struct bhc_arena_msg_error e;
	int fds[3], extra, i, r = -1;

	start(args);
	for (i = 0; i < 3; i++)
		fds[i] = client("conn");
	extra = bhc_test_connect(d.socket);
	ck_assert_int_ge(extra, 0);
	ck_assert_int_eq(bhc_test_recv_error(extra, &e, 5000), EUSERS);
	ck_assert_ptr_nonnull(strstr(e.text, "too many connections"));
	ck_assert(bhc_test_closed(extra, 5000));
	close(extra);
	ck_assert(bhc_test_daemon_log_wait(&d, "refused a connection", 1, 2000));
	/* Once one goes, there is room again (the daemon notices the close first). */
	close(fds[0]);
	for (i = 0; i < 100 && r != 0; i++) {
		extra = bhc_test_connect(d.socket);
		ck_assert_int_ge(extra, 0);
		r = bhc_test_hello(extra, "again", 0, NULL);
		if (r != 0) {
			close(extra);
			usleep(20 * 1000);
		}
	}
	ck_assert_int_eq(r, 0);
	close(extra);
	close(fds[1]);
	close(fds[2]);
	stop();
}
END_TEST

START_TEST(test_connection_limits)
{
	const char *args[] = { "--set", "limits.per_connection_regions=2", "--set",
			       "limits.per_connection_bytes=8M", NULL };
	struct bhc_arena_msg_grant g1, g2;
	struct bhc_arena_msg_error e;
	int fd, other, rfd1, rfd2;

	start(args);
	fd = client("quota");
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, &g1, &rfd1, NULL), 0);
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, &g2, &rfd2, NULL), 0);
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, NULL, NULL, &e), EDQUOT);
	ck_assert_ptr_nonnull(strstr(e.text, "per_connection_regions"));
	/* Another connection has its own allowance. */
	other = client("other");
	acquire_use_release(other, 2 * MiB);
	ck_assert_int_eq(bhc_test_release(fd, g1.region_id, NULL), 0);
	close(rfd1);
	ck_assert_int_eq(bhc_test_acquire(fd, 8 * MiB, 0, 0, NULL, NULL, &e), EDQUOT);
	ck_assert_ptr_nonnull(strstr(e.text, "per_connection_bytes"));
	acquire_use_release(fd, 6 * MiB);
	close(rfd2);
	close(fd);
	close(other);
	stop();
}
END_TEST

START_TEST(test_uid_limits)
{
	const char *args[] = { "--set", "limits.per_uid_regions=3", "--set",
			       "limits.per_uid_bytes=10M", NULL };
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	int a, b, rfd[3], i;

	start(args);
	a = client("uid-a");
	b = client("uid-b");
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(bhc_test_acquire(i < 2 ? a : b, 2 * MiB, 0, 0, &g, &rfd[i], NULL),
				 0);
	}
	ck_assert_int_eq(bhc_test_acquire(b, 2 * MiB, 0, 0, NULL, NULL, &e), EDQUOT);
	ck_assert_ptr_nonnull(strstr(e.text, "per_uid_regions"));
	close(a); /* its two leases end with it */
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.leased", 2 * MiB, 5000), 2 * MiB);
	ck_assert_int_eq(bhc_test_acquire(b, 10 * MiB, 0, 0, NULL, NULL, &e), EDQUOT);
	ck_assert_ptr_nonnull(strstr(e.text, "per_uid_bytes"));
	acquire_use_release(b, 6 * MiB);
	for (i = 0; i < 3; i++)
		close(rfd[i]);
	close(b);
	stop();
}
END_TEST

START_TEST(test_total_limit)
{
	const char *args[] = { "--set", "limits.total=20M", "--set", "pool.warm=none", NULL };
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	int fd, rfd, r;

	start(args);
	fd = client("total");
	ck_assert_int_eq(bhc_test_acquire(fd, 16 * MiB, 0, 0, &g, &rfd, NULL), 0);
	close(rfd);
	ck_assert_int_eq(bhc_test_acquire(fd, 6 * MiB, 0, 0, NULL, NULL, &e), ENOSPC);
	ck_assert_ptr_nonnull(strstr(e.text, "pool limit reached"));
	acquire_use_release(fd, 4 * MiB);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
	/* RELEASED comes once the pages are back: the room is there at once. */
	r = bhc_test_acquire(fd, 18 * MiB, 0, 0, &g, &rfd, NULL);
	if (r == 0)
		close(rfd);
	ck_assert_int_eq(r, 0);
	close(fd);
	stop();
}
END_TEST

/* --- every limit at its boundary: an exact fit is granted, one more is refused --- */

/* Acquire @size on @fd and keep the lease (the region's fd is closed). */
static void hold(int fd, uint64_t size)
{
	struct bhc_arena_msg_grant g;
	int rfd;

	ck_assert_int_eq(bhc_test_acquire(fd, size, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.size, size);
	close(rfd);
}

static void refused(int fd, uint64_t size, int err, const char *key)
{
	struct bhc_arena_msg_error e;

	ck_assert_int_eq(bhc_test_acquire(fd, size, 0, 0, NULL, NULL, &e), err);
	ck_assert_msg(strstr(e.text, key), "%s", e.text);
}

START_TEST(test_exact_region_size)
{
	int fd;

	start(NULL); /* max_region_size = 64M */
	fd = client("size");
	refused(fd, 64 * MiB + 1, EFBIG, "max_region_size");
	acquire_use_release(fd, 64 * MiB);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_exact_total)
{
	const char *args[] = { "--set", "limits.total=20M", "--set", "pool.warm=none", NULL };
	int fd;

	start(args);
	fd = client("total");
	hold(fd, 16 * MiB);
	hold(fd, 4 * MiB); /* 20M of 20M */
	ck_assert_uint_eq(bhc_test_admin_u64(&d, "pool.reserved"), 20 * MiB);
	refused(fd, 2 * MiB, ENOSPC, "[limits] total");
	close(fd);
	stop();
}
END_TEST

/* A warm pool of exactly the total fills up; one region more is a configuration error. */
START_TEST(test_exact_total_warm)
{
	const char *fit[] = { "--set", "limits.total=8M", "--set", "pool.warm=2M:4", NULL };
	const char *over[] = { "--set", "limits.total=8M", "--set", "pool.warm=2M:5", NULL };

	start(fit);
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.warm", 8 * MiB, 5000), 8 * MiB);
	ck_assert_uint_eq(bhc_test_admin_u64(&d, "pool.reserved"), 8 * MiB);
	stop();
	bhc_test_daemon_setup(&d, base_config);
	ck_assert_int_eq(bhc_test_daemon_start(&d, over), -ECHILD);
	ck_assert(bhc_test_daemon_log_wait(&d, "warm keeps more than [limits] total", 1, 1000));
	bhc_test_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_exact_connection_bytes)
{
	const char *args[] = { "--set", "limits.per_connection_bytes=8M", NULL };
	int fd, other;

	start(args);
	fd = client("bytes");
	hold(fd, 6 * MiB);
	hold(fd, 2 * MiB); /* 8M of 8M */
	refused(fd, 2 * MiB, EDQUOT, "per_connection_bytes");
	other = client("other");
	hold(other, 8 * MiB); /* its own 8M */
	close(other);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_exact_connection_regions)
{
	const char *args[] = { "--set", "limits.per_connection_regions=3", NULL };
	int fd;

	start(args);
	fd = client("regions");
	hold(fd, 2 * MiB);
	hold(fd, 2 * MiB);
	hold(fd, 2 * MiB); /* 3 of 3 */
	refused(fd, 2 * MiB, EDQUOT, "per_connection_regions");
	close(fd);
	stop();
}
END_TEST

START_TEST(test_exact_uid_bytes)
{
	const char *args[] = { "--set", "limits.per_uid_bytes=10M", NULL };
	int a, b;

	start(args);
	a = client("uid-a");
	b = client("uid-b");
	hold(a, 4 * MiB);
	hold(b, 6 * MiB); /* 10M of 10M across two connections */
	ck_assert_uint_eq(bhc_test_admin_u64(&d, "pool.leased"), 10 * MiB);
	refused(b, 2 * MiB, EDQUOT, "per_uid_bytes");
	refused(a, 2 * MiB, EDQUOT, "per_uid_bytes");
	close(a);
	close(b);
	stop();
}
END_TEST

START_TEST(test_exact_uid_regions)
{
	const char *args[] = { "--set", "limits.per_uid_regions=3", NULL };
	int a, b;

	start(args);
	a = client("uid-a");
	b = client("uid-b");
	hold(a, 2 * MiB);
	hold(b, 2 * MiB);
	hold(b, 2 * MiB); /* 3 of 3 */
	refused(a, 2 * MiB, EDQUOT, "per_uid_regions");
	close(a);
	close(b);
	stop();
}
END_TEST

/* max_connections = 2: the second is served, the third refused. */
START_TEST(test_exact_connections)
{
	const char *args[] = { "--set", "limits.max_connections=2", NULL };
	struct bhc_arena_msg_error e;
	int a, b, extra;

	start(args);
	a = client("first");
	b = client("second");
	acquire_use_release(b, 2 * MiB);
	extra = bhc_test_connect(d.socket);
	ck_assert_int_ge(extra, 0);
	ck_assert_int_eq(bhc_test_recv_error(extra, &e, 5000), EUSERS);
	ck_assert(bhc_test_closed(extra, 5000));
	close(extra);
	close(a);
	close(b);
	stop();
}
END_TEST

/* A client that never reads its replies is not read either, then dropped. */
START_TEST(test_backpressure)
{
	const char *args[] = { "--set", "limits.stall_timeout=500ms", NULL };
	struct bhc_arena_msg_hdr junk;
	struct buddy b;
	int fd, other, flags, n_sent = 0, idle = 0;
	char line[512];

	start(args);
	b = buddy_start();
	fd = client("deaf");
	flags = fcntl(fd, F_GETFL);
	ck_assert_int_eq(fcntl(fd, F_SETFL, flags | O_NONBLOCK), 0);
	bhc_test_hdr(&junk, 99, sizeof(junk), 1);
	/* Send until the daemon stops taking more (bounded). */
	while (n_sent < 200000 && idle < 20) {
		if (send(fd, &junk, sizeof(junk), MSG_NOSIGNAL) == 0 || errno != EAGAIN) {
			n_sent++;
			idle = 0;
			continue;
		}
		idle++;
		usleep(10 * 1000);
	}
	ck_assert_int_lt(n_sent, 200000);
	/* Others are served meanwhile... */
	other = client("meanwhile");
	acquire_use_release(other, 2 * MiB);
	close(other);
	/* ...and the deaf client is dropped after the stall timeout. */
	ck_assert(bhc_test_daemon_log_wait(&d, "replies unread", 1, 5000));
	ck_assert(bhc_test_daemon_log_line(&d, "replies unread", line, sizeof(line)));
	ck_assert_msg(strstr(line, "tag \"deaf\""), "%s", line);
	close(fd);
	buddy_stop(&b);
	stop();
}
END_TEST

static void add(Suite *s, const char *name, const TTest *test, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, timeout * bhc_test_timeout_scale());
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("daemon");

	signal(SIGPIPE, SIG_IGN);
	/* one TCase per test: a TAP line names the test that failed */
	add(s, "handshake", test_handshake, 60);
	add(s, "admin_session", test_admin_session, 60);
	add(s, "before_hello", test_before_hello, 60);
	add(s, "bad_magic_version", test_bad_magic_version, 60);
	add(s, "handshake_timeout", test_handshake_timeout, 60);
	add(s, "recoverable", test_recoverable, 60);
	add(s, "fd_refused", test_fd_refused, 60);
	add(s, "pipelined", test_pipelined, 60);
	add(s, "release", test_release, 60);
	add(s, "backpressure", test_backpressure, 60);
	add(s, "max_connections", test_max_connections, 60);
	add(s, "connection_limits", test_connection_limits, 60);
	add(s, "uid_limits", test_uid_limits, 60);
	add(s, "total_limit", test_total_limit, 60);
	add(s, "exact_region_size", test_exact_region_size, 60);
	add(s, "exact_total", test_exact_total, 60);
	add(s, "exact_total_warm", test_exact_total_warm, 60);
	add(s, "exact_connection_bytes", test_exact_connection_bytes, 60);
	add(s, "exact_connection_regions", test_exact_connection_regions, 60);
	add(s, "exact_uid_bytes", test_exact_uid_bytes, 60);
	add(s, "exact_uid_regions", test_exact_uid_regions, 60);
	add(s, "exact_connections", test_exact_connections, 60);
	return bhc_test_run(s);
}
