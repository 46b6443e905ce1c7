/* SPDX-License-Identifier: MIT */
/*
 * A client written from docs/PROTOCOL.md alone, run against a real
 * bhc-arenad on a private socket: every statement of the document that a
 * client can observe, each assertion tagged with the section it checks
 * ("§6" is section 6 of docs/PROTOCOL.md).
 *
 * It uses neither libbhc-arena nor the daemon's code: messages are built
 * and read byte by byte at the offsets of the document's tables, over raw
 * sockets. The only use of include/bhc/arena-protocol.h is the first test,
 * which checks that the document's tables agree with that header (§0: the
 * header is normative where the two disagree). tests/util-daemon.c only
 * starts and stops the daemon; bhc-arenactl --json reads what the daemon
 * shows of a region.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "tap.h"
#include "util-daemon.h"
#include "util-hugepages.h"

#define MiB (UINT64_C(1) << 20)

/* --- the document's numbers (§2, §3, §6), written down from its text ------ */

#define P_MAGIC UINT32_C(0x41434842) /* §2: bytes 42 48 43 41 */
#define P_VERSION 1 /* §2, §12 */
#define P_MSG_MAX 4096 /* §1 */
#define P_CHUNK_MAX 65536 /* §1, §11 */
#define P_HDR 16 /* §2 */

enum {
	T_HELLO = 1,
	T_WELCOME = 2,
	T_ACQUIRE = 3,
	T_GRANT = 4,
	T_RELEASE = 5,
	T_RELEASED = 6,
	T_ERROR = 7,
	T_ADMIN = 8,
	T_ADMIN_REPLY = 9,
};

/* §2 message sizes */
#define SZ_HELLO 88
#define SZ_WELCOME 48
#define SZ_ACQUIRE 32
#define SZ_GRANT 48
#define SZ_RELEASE 24
#define SZ_RELEASED 24
#define SZ_ERROR 216
#define SZ_ADMIN_REPLY_HDR 24

#define HELLO_ADMIN 0x1u /* §3 HELLO */
#define ACQ_REQUIRE_HUGE 0x1u /* §3 ACQUIRE */
#define ACQ_PREFER_HUGE 0x2u
#define ACQ_NO_HUGE 0x4u
#define ADMIN_MORE 0x1u /* §3 ADMIN_REPLY */

#define R_MAGIC UINT64_C(0x414e455241434842) /* §6 info header */
#define R_VERSION 2
#define R_HDR 4096
#define R_LIVE 64 /* §6: [64, 128) */
#define JSON_MAX ((UINT64_C(1) << 53) - 1) /* §6: counts at most 2^53 - 1 */

/* --- bytes ------------------------------------------------------------------ */

static void put16(void *b, size_t off, uint16_t v)
{
	unsigned char *p = (unsigned char *)b + off;

	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(void *b, size_t off, uint32_t v)
{
	put16(b, off, (uint16_t)v);
	put16(b, off + 2, (uint16_t)(v >> 16));
}

static void put64(void *b, size_t off, uint64_t v)
{
	put32(b, off, (uint32_t)v);
	put32(b, off + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const void *b, size_t off)
{
	const unsigned char *p = (const unsigned char *)b + off;

	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const void *b, size_t off)
{
	return get16(b, off) | (uint32_t)get16(b, off + 2) << 16;
}

static uint64_t get64(const void *b, size_t off)
{
	return get32(b, off) | (uint64_t)get32(b, off + 4) << 32;
}

/* §2: the 16-byte header at the start of @b. */
static void hdr(void *b, uint16_t type, uint32_t length, uint32_t seq)
{
	put32(b, 0, P_MAGIC);
	put16(b, 4, P_VERSION);
	put16(b, 6, type);
	put32(b, 8, length);
	put32(b, 12, seq);
}

/* --- the socket (§1) ---------------------------------------------------------- */

static struct bhc_test_daemon d;

static int timeout_ms(int ms)
{
	return ms * (int)bhc_test_timeout_scale();
}

/* §1: AF_UNIX, SOCK_SEQPACKET. */
static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %m", path);
	return fd;
}

/* One datagram, with @pass_fd in SCM_RIGHTS unless -1. */
static void send_raw(int fd, const void *buf, size_t len, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (pass_fd >= 0) {
		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
	}
	ck_assert_msg(sendmsg(fd, &mh, MSG_NOSIGNAL) == (ssize_t)len, "sendmsg: %m");
}

/* A received datagram: up to one admin chunk (§1: never truncated). */
struct msg {
	unsigned char b[P_CHUNK_MAX];
	ssize_t len; /* bytes, 0 at the end of the stream, -errno on failure */
	int fd; /* SCM_RIGHTS descriptor, or -1 */
	bool cloexec; /* it came with FD_CLOEXEC (MSG_CMSG_CLOEXEC) */
	bool ctrunc;
};

static struct msg rx;

/* §1: one recvmsg() is one message; room for one descriptor, MSG_CMSG_CLOEXEC. */
static struct msg *recv_msg(int fd, int ms)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct iovec iov = { .iov_base = rx.b, .iov_len = sizeof(rx.b) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl.buf,
		.msg_controllen = sizeof(ctrl.buf),
	};
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct cmsghdr *cmsg;
	int r;

	rx.fd = -1;
	rx.cloexec = false;
	r = poll(&pfd, 1, timeout_ms(ms));
	ck_assert_msg(r == 1, "no message within %d ms", ms);
	rx.len = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (rx.len < 0) {
		rx.len = -errno;
		return &rx;
	}
	ck_assert_msg(!(mh.msg_flags & MSG_TRUNC), "a %zd-byte message was truncated", rx.len);
	rx.ctrunc = mh.msg_flags & MSG_CTRUNC;
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
			ck_assert_int_eq(cmsg->cmsg_len, CMSG_LEN(sizeof(int)));
			memcpy(&rx.fd, CMSG_DATA(cmsg), sizeof(int));
			rx.cloexec = fcntl(rx.fd, F_GETFD) & FD_CLOEXEC;
		}
	}
	return &rx;
}

/* §2, §3: a well-formed daemon message of @type with @seq; its length. */
static size_t expect_msg(struct msg *m, uint16_t type, uint32_t seq)
{
	ck_assert_msg(m->len >= P_HDR, "recv: %zd", m->len);
	ck_assert_uint_eq(get32(m->b, 0), P_MAGIC); /* §2 magic */
	ck_assert_uint_eq(get16(m->b, 4), P_VERSION); /* §2 version */
	ck_assert_msg(get16(m->b, 6) == type, "type %u, wanted %u (error %u: %.192s)",
		      get16(m->b, 6), type, get16(m->b, 6) == T_ERROR ? get32(m->b, 16) : 0,
		      get16(m->b, 6) == T_ERROR ? (const char *)m->b + 24 : "");
	ck_assert_uint_eq(get32(m->b, 8), (uint64_t)m->len); /* §2 length = datagram */
	ck_assert_uint_eq(get32(m->b, 12), seq); /* §2 seq echoed */
	/* §1: only GRANT carries a descriptor */
	ck_assert_int_eq(m->fd >= 0, type == T_GRANT);
	return (size_t)m->len;
}

/* §3 ERROR, §8: the refusal @error for the request (@seq, @type); returns its text. */
static const char *expect_error(int fd, int error, uint32_t seq, uint16_t type)
{
	struct msg *m = recv_msg(fd, 10000);

	ck_assert_int_eq(expect_msg(m, T_ERROR, seq), SZ_ERROR); /* §2: 216 bytes */
	ck_assert_msg((int)get32(m->b, 16) == error, "error %u, wanted %d: %.192s", get32(m->b, 16),
		      error, (const char *)m->b + 24);
	ck_assert_uint_eq(get16(m->b, 20), type); /* §3: request_type */
	ck_assert_uint_eq(get16(m->b, 22), 0); /* §3: reserved */
	/* §3: text NUL-terminated within 192 bytes, meant for users */
	ck_assert_ptr_nonnull(memchr(m->b + 24, '\0', 192));
	ck_assert_uint_gt(strlen((const char *)m->b + 24), 0);
	return (const char *)m->b + 24;
}

/* §1, §9: the daemon ended the connection: recv returns 0. */
static void expect_closed(int fd)
{
	struct msg *m = recv_msg(fd, 10000);

	ck_assert_msg(m->len == 0, "wanted the end of the connection, got %zd (type %u)", m->len,
		      m->len >= P_HDR ? get16(m->b, 6) : 0);
}

/* --- requests ------------------------------------------------------------------ */

struct welcome {
	uint64_t client_id, start_ns, max_region_size;
	uint32_t page_shift, policy;
};

/* §3 HELLO: 88 bytes, tag NUL-terminated in 64. */
static void send_hello(int fd, uint32_t seq, uint32_t flags, const char *tag)
{
	unsigned char b[SZ_HELLO] = { 0 };

	hdr(b, T_HELLO, SZ_HELLO, seq);
	put32(b, 16, (uint32_t)getpid());
	put32(b, 20, flags);
	memcpy(b + 24, tag, strlen(tag));
	send_raw(fd, b, sizeof(b), -1);
}

/* §4 step 1: HELLO, WELCOME. */
static struct welcome hello(int fd, uint32_t seq, uint32_t flags, const char *tag)
{
	struct welcome w;
	struct msg *m;

	send_hello(fd, seq, flags, tag);
	m = recv_msg(fd, 10000);
	ck_assert_int_eq(expect_msg(m, T_WELCOME, seq), SZ_WELCOME); /* §2: 48 bytes */
	w.client_id = get64(m->b, 16);
	w.start_ns = get64(m->b, 24);
	w.max_region_size = get64(m->b, 32);
	w.page_shift = get32(m->b, 40);
	w.policy = get32(m->b, 44);
	return w;
}

/* A connection that has had its WELCOME. */
static int client(const char *tag, struct welcome *w)
{
	int fd = dial(d.socket);
	struct welcome got = hello(fd, 1, 0, tag);

	if (w)
		*w = got;
	return fd;
}

/* §3 ACQUIRE: 32 bytes. */
static void send_acquire(int fd, uint32_t seq, uint64_t size, uint32_t flags, uint32_t shift)
{
	unsigned char b[SZ_ACQUIRE] = { 0 };

	hdr(b, T_ACQUIRE, SZ_ACQUIRE, seq);
	put64(b, 16, size);
	put32(b, 24, flags);
	put32(b, 28, shift);
	send_raw(fd, b, sizeof(b), -1);
}

struct grant {
	uint64_t id, size;
	uint32_t backing, page_shift, header_size, header_version;
	int fd;
};

/* §3 GRANT: 48 bytes + one fd; fills @g from the last message received. */
static struct grant read_grant(struct msg *m, uint32_t seq)
{
	struct grant g;

	ck_assert_int_eq(expect_msg(m, T_GRANT, seq), SZ_GRANT);
	ck_assert(!m->ctrunc);
	ck_assert_int_ge(m->fd, 0); /* §3: the memfd in SCM_RIGHTS */
	ck_assert(m->cloexec); /* §1: received with MSG_CMSG_CLOEXEC */
	g.id = get64(m->b, 16);
	g.size = get64(m->b, 24);
	g.backing = get32(m->b, 32);
	g.page_shift = get32(m->b, 36);
	g.header_size = get32(m->b, 40);
	g.header_version = get32(m->b, 44);
	g.fd = m->fd;
	ck_assert_uint_ne(g.id, 0); /* §3: never 0 */
	ck_assert_uint_eq(g.header_size, R_HDR); /* §3: 4096 */
	ck_assert_uint_eq(g.header_version, R_VERSION); /* §3, §12: 2 */
	return g;
}

static struct grant acquire(int fd, uint32_t seq, uint64_t size, uint32_t flags)
{
	send_acquire(fd, seq, size, flags, 0);
	return read_grant(recv_msg(fd, 30000), seq);
}

/* §3 RELEASE: 24 bytes. */
static void send_release(int fd, uint32_t seq, uint64_t id)
{
	unsigned char b[SZ_RELEASE] = { 0 };

	hdr(b, T_RELEASE, SZ_RELEASE, seq);
	put64(b, 16, id);
	send_raw(fd, b, sizeof(b), -1);
}

/* §7: RELEASE, then RELEASED with the seq and the region. */
static void release(int fd, uint32_t seq, uint64_t id)
{
	struct msg *m;

	send_release(fd, seq, id);
	m = recv_msg(fd, 10000);
	ck_assert_int_eq(expect_msg(m, T_RELEASED, seq), SZ_RELEASED); /* §3: 24 bytes */
	ck_assert_uint_eq(get64(m->b, 16), id);
}

/* §3 ADMIN: the header and n bytes of JSON, not NUL-terminated. */
static void send_admin(int fd, uint32_t seq, const char *json, size_t n)
{
	unsigned char *b = calloc(1, P_HDR + n);

	ck_assert_ptr_nonnull(b);
	hdr(b, T_ADMIN, (uint32_t)(P_HDR + n), seq);
	memcpy(b + P_HDR, json, n);
	send_raw(fd, b, P_HDR + n, -1);
	free(b);
}

/* §11: concatenate ADMIN_REPLY chunks until one without MORE; the parsed reply. */
static struct json_object *admin_reply(int fd, uint32_t seq, int *status)
{
	struct json_object *j;
	char *text = NULL;
	size_t len = 0;
	uint32_t flags;
	int first = -1;

	do {
		struct msg *m = recv_msg(fd, 10000);
		size_t n = expect_msg(m, T_ADMIN_REPLY, seq);

		ck_assert_uint_ge(n, SZ_ADMIN_REPLY_HDR);
		ck_assert_uint_le(n, P_CHUNK_MAX); /* §11: a chunk, header included */
		if (first < 0)
			first = (int)get32(m->b, 16);
		ck_assert_int_eq((int)get32(m->b, 16), first); /* §11: same status in each */
		flags = get32(m->b, 20);
		ck_assert_uint_eq(flags & ~ADMIN_MORE, 0);
		text = realloc(text, len + n - SZ_ADMIN_REPLY_HDR + 1);
		ck_assert_ptr_nonnull(text);
		memcpy(text + len, m->b + SZ_ADMIN_REPLY_HDR, n - SZ_ADMIN_REPLY_HDR);
		len += n - SZ_ADMIN_REPLY_HDR;
	} while (flags & ADMIN_MORE);
	text[len] = '\0';
	j = json_tokener_parse(text);
	ck_assert_msg(j && json_object_is_type(j, json_type_object), "reply not JSON: %s", text);
	free(text);
	*status = first;
	return j;
}

static struct json_object *admin(int fd, uint32_t seq, const char *json, int *status)
{
	send_admin(fd, seq, json, strlen(json));
	return admin_reply(fd, seq, status);
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s' in %s", key,
		      json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no '%s'", key);
	return json_object_get_string(v);
}

/* A request on a connection answered normally: it is open (§8 "open"). */
static void still_open(int fd, uint32_t seq)
{
	struct json_object *j;
	int status;

	j = admin(fd, seq, "{\"cmd\":\"status\"}", &status);
	ck_assert_int_eq(status, 0);
	json_object_put(j);
}

/* --- bhc-arenactl --json (what the daemon shows) -------------------------------- */

static struct json_object *ctl_json(const char *cmd)
{
	const char *ctl = getenv("BHC_ARENACTL");
	char *out = NULL;
	size_t len = 0;
	int pipefd[2], status;
	struct json_object *j;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	ck_assert_ptr_nonnull(ctl);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execl(ctl, ctl, "--socket", d.socket, "--json", cmd, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], buf, sizeof(buf))) > 0) {
		out = realloc(out, len + (size_t)n + 1);
		ck_assert_ptr_nonnull(out);
		memcpy(out + len, buf, (size_t)n);
		len += (size_t)n;
	}
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bhc-arenactl %s: %#x", cmd,
		      status);
	ck_assert_ptr_nonnull(out);
	out[len] = '\0';
	j = json_tokener_parse(out);
	ck_assert_msg(j, "bhc-arenactl %s: not JSON: %s", cmd, out);
	free(out);
	return j;
}

/* The row of region @id in `bhc-arenactl regions --json` (a new reference), or NULL. */
static struct json_object *region_row(uint64_t id)
{
	struct json_object *j = ctl_json("regions"), *arr, *row = NULL;
	size_t i;

	ck_assert(json_object_object_get_ex(j, "regions", &arr));
	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);

		if ((uint64_t)jint(r, "id") == id) {
			row = json_object_get(r);
			break;
		}
	}
	json_object_put(j);
	return row;
}

/* Whether region @id is still listed, waiting up to @ms for it to go. */
static bool region_gone(uint64_t id, int ms)
{
	uint64_t end = bhc_test_now_ms() + (uint64_t)timeout_ms(ms);
	struct json_object *row;

	for (;;) {
		row = region_row(id);
		if (!row)
			return true;
		json_object_put(row);
		if (bhc_test_now_ms() > end)
			return false;
		usleep(20000);
	}
}

/* --- daemons ---------------------------------------------------------------------- */

static const char base_config[] = "[daemon]\n"
				  "admin_group = bhc-conformance-nobody\n"
				  "[pool]\n"
				  "hugepages = off\n"
				  "warm = 2M:1\n"
				  "max_region_size = 64M\n"
				  "[limits]\n"
				  "total = 256M\n";

static void start(const char *config)
{
	bhc_test_daemon_setup(&d, config);
	bhc_test_daemon_start_ready(&d, NULL, 10000);
}

static void stop(void)
{
	bhc_test_daemon_stop_clean(&d);
}

/* --- the tests --------------------------------------------------------------------- */

/* §2, §3, §6: the document's tables are the installed header's layout. */
START_TEST(test_tables_match_header)
{
	ck_assert_uint_eq(BHC_ARENA_PROTO_MAGIC, P_MAGIC);
	ck_assert_uint_eq(BHC_ARENA_PROTO_VERSION, P_VERSION);
	ck_assert_uint_eq(BHC_ARENA_MSG_MAX, P_MSG_MAX);
	ck_assert_uint_eq(BHC_ARENA_ADMIN_CHUNK_MAX, P_CHUNK_MAX);
	ck_assert_uint_eq(BHC_ARENA_REGION_MAGIC, R_MAGIC);
	ck_assert_uint_eq(BHC_ARENA_REGION_VERSION, R_VERSION); /* §6 info `version` 2 */
	ck_assert_uint_eq(BHC_ARENA_REGION_HEADER_SIZE, R_HDR);
	ck_assert_uint_eq(BHC_ARENA_REGION_LIVE_OFFSET, R_LIVE);
	ck_assert_uint_eq(BHC_ARENA_HELLO_ADMIN, HELLO_ADMIN);
	ck_assert_uint_eq(BHC_ARENA_ACQ_REQUIRE_HUGE, ACQ_REQUIRE_HUGE);
	ck_assert_uint_eq(BHC_ARENA_ACQ_PREFER_HUGE, ACQ_PREFER_HUGE);
	ck_assert_uint_eq(BHC_ARENA_ACQ_NO_HUGE, ACQ_NO_HUGE);
	ck_assert_uint_eq(BHC_ARENA_ADMIN_MORE, ADMIN_MORE);
	/* §2 sizes */
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_hdr), P_HDR);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_hello), SZ_HELLO);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_welcome), SZ_WELCOME);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_acquire), SZ_ACQUIRE);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_grant), SZ_GRANT);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_release), SZ_RELEASE);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_released), SZ_RELEASED);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_error), SZ_ERROR);
	ck_assert_uint_eq(sizeof(struct bhc_arena_msg_admin_reply), SZ_ADMIN_REPLY_HDR);
	/* §2 header, §3 offsets */
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_hdr, version), 4);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_hdr, type), 6);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_hdr, length), 8);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_hdr, seq), 12);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_hello, pid), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_hello, flags), 20);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_hello, tag), 24);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_welcome, client_id), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_welcome, daemon_start_ns), 24);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_welcome, max_region_size), 32);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_welcome, page_shift), 40);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_welcome, policy), 44);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_acquire, size), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_acquire, flags), 24);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_acquire, page_shift), 28);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_grant, region_id), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_grant, size), 24);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_grant, backing), 32);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_grant, page_shift), 36);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_grant, header_size), 40);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_grant, header_version), 44);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_release, region_id), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_released, region_id), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_error, error), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_error, request_type), 20);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_error, text), 24);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_admin_reply, status), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_msg_admin_reply, flags), 20);
	/* §6 region header */
	ck_assert_uint_eq(sizeof(struct bhc_arena_region_info), 64);
	ck_assert_uint_eq(offsetof(struct bhc_arena_region_info, version), 8);
	ck_assert_uint_eq(offsetof(struct bhc_arena_region_info, header_size), 12);
	ck_assert_uint_eq(offsetof(struct bhc_arena_region_info, region_id), 16);
	ck_assert_uint_eq(offsetof(struct bhc_arena_region_info, size), 24);
	ck_assert_uint_eq(offsetof(struct bhc_arena_region_info, backing), 32);
	ck_assert_uint_eq(offsetof(struct bhc_arena_region_info, page_shift), 36);
	ck_assert_uint_eq(offsetof(struct bhc_arena_region_info, created_ns), 40);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, cursor), 64);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, floor), 72);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, n_allocs), 80);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, n_resets), 88);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, high_water), 96);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, top), 104);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, base), 112);
	ck_assert_uint_eq(R_LIVE + offsetof(struct bhc_arena_region_live, priv), 120);
}
END_TEST

/* §4 step 1, §3 WELCOME, §8 second HELLO. */
START_TEST(test_handshake)
{
	struct timespec ts;
	struct welcome w, w2;
	uint64_t now;
	int fd, fd2;

	start(base_config);
	fd = dial(d.socket);
	w = hello(fd, 1, 0, "conf-1.a_b:c@d/e+f=g-h"); /* §3: every allowed tag character */
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	ck_assert_uint_ne(w.client_id, 0);
	/* §3: the daemon's start, CLOCK_REALTIME in ns */
	ck_assert_uint_le(w.start_ns, now);
	ck_assert_uint_gt(w.start_ns, now - 600 * UINT64_C(1000000000));
	ck_assert_uint_eq(w.max_region_size, 64 * MiB); /* §3, §10 [pool] max_region_size */
	ck_assert_uint_eq(w.page_shift, 21); /* §3: the default page size */
	ck_assert_uint_eq(w.policy, 3); /* §3: 3 off */
	/* §3: client_id unique; daemon_start_ns identifies the instance */
	fd2 = dial(d.socket);
	w2 = hello(fd2, 1, 0, "");
	ck_assert_uint_ne(w2.client_id, w.client_id);
	ck_assert_uint_eq(w2.start_ns, w.start_ns);
	close(fd2);
	/* §4 step 2, §8: a second HELLO is EPROTO, the connection stays open */
	send_hello(fd, 2, 0, "again");
	expect_error(fd, EPROTO, 2, T_HELLO);
	still_open(fd, 3);
	close(fd);
	stop();
}
END_TEST

/* Write @v at offset @off of the region header (a mapping of the region). */
static void hput(unsigned char *p, size_t off, uint64_t v)
{
	put64(p, off, v);
}

/* §6 step 4: the info header from the GRANT and a live section with nothing allocated. */
static void write_header(unsigned char *p, const struct grant *g)
{
	struct timespec ts;
	uint64_t top = (uint64_t)(uintptr_t)p + g->size, base = (uint64_t)(uintptr_t)p + R_HDR;

	clock_gettime(CLOCK_REALTIME, &ts);
	hput(p, 0, R_MAGIC);
	put32(p, 8, R_VERSION);
	put32(p, 12, R_HDR);
	hput(p, 16, g->id);
	hput(p, 24, g->size);
	put32(p, 32, g->backing);
	put32(p, 36, g->page_shift);
	hput(p, 40, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	hput(p, 64, top); /* cursor = top */
	hput(p, 72, base); /* floor */
	hput(p, 80, 0); /* n_allocs */
	hput(p, 88, 0); /* n_resets */
	hput(p, 96, 0); /* high_water */
	hput(p, 104, top);
	hput(p, 112, base);
	hput(p, 120, 0); /* priv */
}

/* §6: allocate @n bytes aligned to @a by the document's rule; 0 if it does not fit. */
static uint64_t carve(unsigned char *p, uint64_t n, uint64_t a)
{
	uint64_t cursor = get64(p, 64), base = get64(p, 112), c;

	if (cursor - base < n)
		return 0;
	c = (cursor - n) & ~(a - 1);
	if (c < base)
		return 0;
	put64(p, 64, c);
	put64(p, 80, get64(p, 80) + 1);
	return c;
}

/* The daemon's view of region @id: header word, used, high_water, allocs, resets. */
struct shown {
	char header[16];
	uint64_t used, high_water, allocs, resets, size, capacity, client;
	char tag[64];
};

static struct shown shown(uint64_t id)
{
	struct json_object *row = region_row(id);
	struct shown s;

	ck_assert_msg(row, "region %llu not listed by bhc-arenactl regions",
		      (unsigned long long)id);
	snprintf(s.header, sizeof(s.header), "%s", jstr(row, "header"));
	s.used = (uint64_t)jint(row, "used");
	s.high_water = (uint64_t)jint(row, "high_water");
	s.allocs = (uint64_t)jint(row, "allocs");
	s.resets = (uint64_t)jint(row, "resets");
	s.size = (uint64_t)jint(row, "size");
	s.capacity = (uint64_t)jint(row, "capacity");
	s.client = (uint64_t)jint(row, "client");
	snprintf(s.tag, sizeof(s.tag), "%s", jstr(row, "tag"));
	json_object_put(row);
	return s;
}

#define ASSERT_SHOWN(s, hdr_word, u, hw, na, nr)         \
	do {                                             \
		ck_assert_str_eq((s).header, hdr_word);  \
		ck_assert_uint_eq((s).used, (u));        \
		ck_assert_uint_eq((s).high_water, (hw)); \
		ck_assert_uint_eq((s).allocs, (na));     \
		ck_assert_uint_eq((s).resets, (nr));     \
	} while (0)

/* §5, §6, §7: a region granted, mapped, its header written, used, shown, released. */
START_TEST(test_region_lifecycle)
{
	struct welcome w;
	struct grant g;
	struct shown s;
	unsigned char *p, save[128];
	uint64_t room, top, base, c, i;
	struct stat st;
	int fd, seals;

	start(base_config);
	fd = client("lifecycle", &w);
	/* §5 Size: rounded up to a multiple of the page size (2 MiB by default) */
	g = acquire(fd, 2, MiB + 1, 0);
	ck_assert_uint_eq(g.size, 2 * MiB);
	/* §3 GRANT, §5 policy off: never hugetlb; thp or small with their page sizes */
	ck_assert_msg(g.backing == 2 || g.backing == 3, "backing %u", g.backing);
	ck_assert_uint_eq(g.page_shift, g.backing == 2 ? 21 : 12);
	/* §3: size of the memfd = the size granted */
	ck_assert_int_eq(fstat(g.fd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, g.size);
	/* §6: sealed SHRINK | GROW | SEAL, not write-sealed; size cannot change */
	seals = fcntl(g.fd, F_GET_SEALS);
	ck_assert_int_eq(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(ftruncate(g.fd, (off_t)g.size / 2), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fallocate(g.fd, 0, (off_t)g.size, 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fcntl(g.fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	/* §6 steps 2 and 3: map it all from offset 0, close the fd */
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, g.fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(madvise(p, g.size, MADV_DONTFORK), 0);
	close(g.fd);
	/* §5: every region is new, all zero, the header too */
	for (i = 0; i < g.size; i += 512)
		ck_assert_msg(p[i] == 0 && p[i + 511] == 0, "byte %llu not zero",
			      (unsigned long long)i);

	/* §6: an all-zero live section breaks the rules (top - base = 0) */
	s = shown(g.id);
	ck_assert_str_eq(s.header, "clamped");
	ck_assert_uint_eq(s.client, w.client_id);
	ck_assert_str_eq(s.tag, "lifecycle");
	ck_assert_uint_eq(s.size, g.size);
	ck_assert_uint_eq(s.capacity, g.size - R_HDR);

	/* §6 step 4: info header and live section written: "ok", nothing used */
	write_header(p, &g);
	room = g.size - R_HDR;
	top = get64(p, 104);
	base = get64(p, 112);
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", 0, 0, 0, 0);

	/* §6: allocation carves downward; used = top - cursor */
	c = carve(p, 1000, 64);
	ck_assert_uint_eq(c, (top - 1000) & ~UINT64_C(63));
	ck_assert_uint_ne(carve(p, 4096, 4096), 0);
	*(unsigned char *)(uintptr_t)get64(p, 64) = 0xa5; /* the allocation is the client's */
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", top - get64(p, 64), top - get64(p, 64), 2, 0);
	/* §6: the high-water mark shown is max(high_water, used) */
	put64(p, 96, 100);
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", top - get64(p, 64), top - get64(p, 64), 2, 0);
	put64(p, 96, room - 1);
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", top - get64(p, 64), room - 1, 2, 0);
	/* §6: a reset sets cursor = top */
	put64(p, 64, top);
	put64(p, 88, 1);
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", 0, room - 1, 2, 1);
	/* §6: the whole data area in use is fine; one byte more is not possible */
	put64(p, 64, base);
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", room, room, 2, 1);
	ck_assert_uint_eq(carve(p, 1, 1), 0);
	/* §6: floor and priv are ignored */
	put64(p, 72, UINT64_MAX);
	put64(p, 120, 0xdeadbeef);
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", room, room, 2, 1);
	/* §6: info fields other than magic and version are not checked */
	hput(p, 16, g.id + 1000);
	put32(p, 32, 77);
	hput(p, 24, 1);
	s = shown(g.id);
	ck_assert_str_eq(s.header, "ok");
	memcpy(save, p, sizeof(save));
	write_header(p, &g);
	memcpy(p + 64, save + 64, 64); /* keep the live section */

	/* §6: every rule that flags "clamped", each after an "ok" */
	s = shown(g.id);
	ck_assert_str_eq(s.header, "ok");
	/* §6 bad magic: still shown (used), flagged */
	hput(p, 0, R_MAGIC + 1);
	s = shown(g.id);
	ASSERT_SHOWN(s, "clamped", room, room, 2, 1);
	hput(p, 0, R_MAGIC);
	ck_assert_str_eq(shown(g.id).header, "ok");
	/* §6 version other than 2 */
	put32(p, 8, 1);
	ck_assert_str_eq(shown(g.id).header, "clamped");
	put32(p, 8, R_VERSION);
	ck_assert_str_eq(shown(g.id).header, "ok");
	/* §6 top - base != room */
	hput(p, 104, top - 4096);
	hput(p, 64, top - 4096);
	ck_assert_str_eq(shown(g.id).header, "clamped");
	hput(p, 104, top);
	ck_assert_str_eq(shown(g.id).header, "ok");
	/* §6 top < base */
	hput(p, 104, base - 1);
	ck_assert_str_eq(shown(g.id).header, "clamped");
	hput(p, 104, top);
	/* §6 cursor < base: used clamped to room */
	hput(p, 64, base - 4096);
	s = shown(g.id);
	ck_assert_str_eq(s.header, "clamped");
	ck_assert_uint_eq(s.used, room);
	hput(p, 64, base);
	ck_assert_str_eq(shown(g.id).header, "ok");
	/* §6 cursor > top: used 0 */
	hput(p, 96, 0);
	hput(p, 64, top + 1);
	s = shown(g.id);
	ASSERT_SHOWN(s, "clamped", 0, 0, 2, 1);
	hput(p, 64, top);
	ck_assert_str_eq(shown(g.id).header, "ok");
	/* §6 high_water > room: clamped to room */
	hput(p, 96, room + 1);
	s = shown(g.id);
	ASSERT_SHOWN(s, "clamped", 0, room, 2, 1);
	hput(p, 96, room);
	ck_assert_str_eq(shown(g.id).header, "ok");
	/* §6 counts above 2^53 - 1: capped and flagged; 2^53 - 1 itself is fine */
	hput(p, 80, JSON_MAX);
	hput(p, 88, JSON_MAX);
	s = shown(g.id);
	ASSERT_SHOWN(s, "ok", 0, room, JSON_MAX, JSON_MAX);
	hput(p, 80, UINT64_MAX);
	s = shown(g.id);
	ASSERT_SHOWN(s, "clamped", 0, room, JSON_MAX, JSON_MAX);
	hput(p, 80, 2);
	hput(p, 88, JSON_MAX + 1);
	s = shown(g.id);
	ASSERT_SHOWN(s, "clamped", 0, room, 2, JSON_MAX);
	hput(p, 88, 1);
	ck_assert_str_eq(shown(g.id).header, "ok");

	/* §7: RELEASE ends the lease; RELEASED when the pages are free */
	p[R_HDR] = 0x5a;
	release(fd, 3, g.id);
	ck_assert(region_gone(g.id, 0));
	/* §7: after the punch, the mapping reads zeros */
	ck_assert_uint_eq(p[R_HDR], 0);
	ck_assert_uint_eq(get64(p, 0), 0);
	munmap(p, g.size);
	/* §7, §8: a region not leased here (already released, never granted): ENOENT, open */
	send_release(fd, 4, g.id);
	expect_error(fd, ENOENT, 4, T_RELEASE);
	send_release(fd, 5, 0);
	expect_error(fd, ENOENT, 5, T_RELEASE);
	still_open(fd, 6);
	close(fd);
	stop();
}
END_TEST

/* §7, §8: a region granted on another connection is not leased on this one. */
START_TEST(test_release_other_connection)
{
	struct json_object *row;
	struct grant g;
	int a, b;

	start(base_config);
	a = client("a", NULL);
	b = client("b", NULL);
	g = acquire(a, 2, 2 * MiB, 0);
	close(g.fd);
	send_release(b, 2, g.id);
	expect_error(b, ENOENT, 2, T_RELEASE);
	row = region_row(g.id); /* still a's */
	ck_assert_ptr_nonnull(row);
	json_object_put(row);
	release(a, 3, g.id);
	close(a);
	close(b);
	stop();
}
END_TEST

/* §3 GRANT: a GRANT whose descriptor could not be received is a lease all the same. */
START_TEST(test_grant_without_fd)
{
	unsigned char b[SZ_GRANT + 8];
	struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 }; /* no room for the fd */
	struct pollfd pfd;
	struct json_object *row;
	uint64_t id;
	ssize_t n;
	int fd;

	start(base_config);
	fd = client("no-room", NULL);
	send_acquire(fd, 2, 2 * MiB, 0, 0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, timeout_ms(10000)), 1);
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	ck_assert_int_eq(n, SZ_GRANT);
	ck_assert(mh.msg_flags & MSG_CTRUNC);
	ck_assert_uint_eq(get16(b, 6), T_GRANT);
	ck_assert_uint_eq(get32(b, 12), 2);
	id = get64(b, 16);
	row = region_row(id); /* the lease exists */
	ck_assert_ptr_nonnull(row);
	json_object_put(row);
	release(fd, 3, id); /* RELEASE the region_id */
	ck_assert(region_gone(id, 0));
	close(fd);
	stop();
}
END_TEST

/* §4 Ordering: pipelined requests, one reply each, matched by seq. */
START_TEST(test_pipelining)
{
	struct grant g;
	struct msg *m;
	int fd, status, seen = 0;
	struct json_object *j;

	start(base_config);
	fd = client("pipe", NULL);
	send_acquire(fd, 10, 2 * MiB, 0, 0);
	send_admin(fd, 11, "{\"cmd\":\"status\"}", 16);
	send_release(fd, 12, 999999);
	/* §4: HELLO, ACQUIRE and ADMIN are answered before the next is read */
	g = read_grant(recv_msg(fd, 30000), 10);
	close(g.fd);
	j = admin_reply(fd, 11, &status);
	ck_assert_int_eq(status, 0);
	json_object_put(j);
	expect_error(fd, ENOENT, 12, T_RELEASE);
	/* §4: a RELEASED may come after the replies to later requests: match by seq */
	send_release(fd, 13, g.id);
	send_admin(fd, 14, "{\"cmd\":\"status\"}", 16);
	while (seen != 3) {
		m = recv_msg(fd, 10000);
		ck_assert_int_ge(m->len, P_HDR);
		if (get32(m->b, 12) == 13) {
			expect_msg(m, T_RELEASED, 13);
			ck_assert_uint_eq(get64(m->b, 16), g.id);
			seen |= 1;
		} else {
			expect_msg(m, T_ADMIN_REPLY, 14);
			if (!(get32(m->b, 20) & ADMIN_MORE))
				seen |= 2;
		}
	}
	close(fd);
	stop();
}
END_TEST

/* One datagram @b of @len bytes before HELLO: the ERROR, then the end (§4 step 1). */
static void refused_before_hello(const void *b, size_t len, int pass_fd, int error, uint32_t seq,
				 uint16_t type)
{
	int fd = dial(d.socket);

	send_raw(fd, b, len, pass_fd);
	expect_error(fd, error, seq, type);
	expect_closed(fd);
	close(fd);
}

/* §4 step 1, §8: before WELCOME every refusal closes the connection. */
START_TEST(test_refusals_before_hello)
{
	unsigned char b[P_MSG_MAX + 100] = { 0 };
	int pipefd[2];
	char c;

	start(base_config);
	/* §4 step 1.1: a descriptor attached (to a valid HELLO): EPERM; it is closed at once */
	ck_assert_int_eq(pipe(pipefd), 0);
	hdr(b, T_HELLO, SZ_HELLO, 7);
	refused_before_hello(b, SZ_HELLO, pipefd[1], EPERM, 7, T_HELLO);
	close(pipefd[1]);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 0); /* §8: the daemon closed its copy */
	close(pipefd[0]);
	/* §4 step 1.2: empty, short: EBADMSG, seq 0 */
	refused_before_hello(b, 0, -1, EBADMSG, 0, 0);
	refused_before_hello(b, 8, -1, EBADMSG, 0, 0);
	/* §4 step 1.3: bad magic: EPROTO, seq 0 */
	hdr(b, T_HELLO, SZ_HELLO, 7);
	put32(b, 0, 0x12345678);
	refused_before_hello(b, SZ_HELLO, -1, EPROTO, 0, 0);
	/* §4 step 1.4: another version: EPROTONOSUPPORT, the text names version 1 */
	hdr(b, T_HELLO, SZ_HELLO, 7);
	put16(b, 4, 2);
	refused_before_hello(b, SZ_HELLO, -1, EPROTONOSUPPORT, 7, T_HELLO);
	/* §4 step 1.5: more than 4096 bytes: EMSGSIZE */
	hdr(b, T_ADMIN, P_MSG_MAX + 1, 7);
	refused_before_hello(b, P_MSG_MAX + 1, -1, EMSGSIZE, 7, T_ADMIN);
	/* §4 step 1.6: length, size, type: EBADMSG */
	hdr(b, T_HELLO, SZ_HELLO + 1, 7);
	refused_before_hello(b, SZ_HELLO, -1, EBADMSG, 7, T_HELLO);
	hdr(b, T_HELLO, SZ_HELLO - 8, 7);
	refused_before_hello(b, SZ_HELLO - 8, -1, EBADMSG, 7, T_HELLO);
	hdr(b, 42, P_HDR, 7);
	refused_before_hello(b, P_HDR, -1, EBADMSG, 7, 42);
	hdr(b, T_WELCOME, SZ_WELCOME, 7);
	refused_before_hello(b, SZ_WELCOME, -1, EBADMSG, 7, T_WELCOME);
	/* §4 step 1.7: bad fields: EINVAL */
	memset(b, 0, sizeof(b));
	hdr(b, T_HELLO, SZ_HELLO, 7);
	put32(b, 20, 0x80000000); /* a HELLO flag no version defines */
	refused_before_hello(b, SZ_HELLO, -1, EINVAL, 7, T_HELLO);
	memset(b, 0, sizeof(b));
	hdr(b, T_HELLO, SZ_HELLO, 7);
	memcpy(b + 24, "bad tag", 7); /* a space is not allowed */
	refused_before_hello(b, SZ_HELLO, -1, EINVAL, 7, T_HELLO);
	memset(b + 24, 'x', 64); /* not NUL-terminated within 64 bytes */
	refused_before_hello(b, SZ_HELLO, -1, EINVAL, 7, T_HELLO);
	memset(b, 0, sizeof(b));
	hdr(b, T_ACQUIRE, SZ_ACQUIRE, 7); /* size 0 */
	refused_before_hello(b, SZ_ACQUIRE, -1, EINVAL, 7, T_ACQUIRE);
	hdr(b, T_ADMIN, P_HDR, 7); /* no body */
	refused_before_hello(b, P_HDR, -1, EINVAL, 7, T_ADMIN);
	/* §4 step 1.8: a well-formed request before HELLO: EPROTO */
	hdr(b, T_ACQUIRE, SZ_ACQUIRE, 7);
	put64(b, 16, 2 * MiB);
	refused_before_hello(b, SZ_ACQUIRE, -1, EPROTO, 7, T_ACQUIRE);
	memset(b, 0, sizeof(b));
	hdr(b, T_RELEASE, SZ_RELEASE, 8);
	refused_before_hello(b, SZ_RELEASE, -1, EPROTO, 8, T_RELEASE);
	hdr(b, T_ADMIN, P_HDR + 16, 9);
	memcpy(b + P_HDR, "{\"cmd\":\"status\"}", 16);
	refused_before_hello(b, P_HDR + 16, -1, EPROTO, 9, T_ADMIN);
	/* §4 step 1: and a good HELLO is still welcome */
	close(client("after", NULL));
	stop();
}
END_TEST

/* §8: every refusal after WELCOME, with its errno, seq and whether the connection stays. */
START_TEST(test_refusals_after_hello)
{
	unsigned char b[P_MSG_MAX + 100] = { 0 };
	struct json_object *j, *arr;
	int fd, pipefd[2], status;
	char c, filter[64];
	uint32_t seq = 2;
	struct welcome w;
	struct grant g;

	start(base_config);
	fd = client("refused", &w);
	/* §8 EPERM: a descriptor on a message; the message is not handled */
	ck_assert_int_eq(pipe(pipefd), 0);
	hdr(b, T_ACQUIRE, SZ_ACQUIRE, seq);
	put64(b, 16, 2 * MiB);
	send_raw(fd, b, SZ_ACQUIRE, pipefd[1]);
	close(pipefd[1]);
	expect_error(fd, EPERM, seq, T_ACQUIRE);
	ck_assert_int_eq(read(pipefd[0], &c, 1), 0); /* closed at once */
	close(pipefd[0]);
	snprintf(filter, sizeof(filter), "{\"cmd\":\"regions\",\"client\":%llu}",
		 (unsigned long long)w.client_id);
	j = admin(fd, ++seq, filter, &status);
	ck_assert_int_eq(status, 0);
	ck_assert(json_object_object_get_ex(j, "regions", &arr));
	ck_assert_uint_eq(json_object_array_length(arr), 0); /* no region was granted */
	json_object_put(j);
	/* §8 EPERM with a datagram that has no valid header: seq 0 */
	ck_assert_int_eq(pipe(pipefd), 0);
	send_raw(fd, "x", 1, pipefd[1]);
	close(pipefd[1]);
	expect_error(fd, EPERM, 0, 0);
	close(pipefd[0]);
	still_open(fd, ++seq);
	/* §8 EBADMSG, seq 0: empty, shorter than the header */
	send_raw(fd, b, 0, -1);
	expect_error(fd, EBADMSG, 0, 0);
	send_raw(fd, b, 15, -1);
	expect_error(fd, EBADMSG, 0, 0);
	still_open(fd, ++seq);
	/* §8 EBADMSG with the seq: length, size, type */
	memset(b, 0, sizeof(b));
	hdr(b, T_RELEASE, SZ_RELEASE - 1, ++seq);
	send_raw(fd, b, SZ_RELEASE, -1);
	expect_error(fd, EBADMSG, seq, T_RELEASE);
	hdr(b, T_ACQUIRE, SZ_ACQUIRE + 4, ++seq);
	send_raw(fd, b, SZ_ACQUIRE + 4, -1);
	expect_error(fd, EBADMSG, seq, T_ACQUIRE);
	hdr(b, 0, P_HDR, ++seq);
	send_raw(fd, b, P_HDR, -1);
	expect_error(fd, EBADMSG, seq, 0);
	hdr(b, T_ERROR, SZ_ERROR, ++seq);
	send_raw(fd, b, SZ_ERROR, -1);
	expect_error(fd, EBADMSG, seq, T_ERROR);
	still_open(fd, ++seq);
	/* EMSGSIZE: more than 4096 bytes; §3 ADMIN: 4080 bytes of body is the most */
	memset(b + P_HDR, ' ', sizeof(b) - P_HDR);
	memcpy(b + P_HDR, "{\"cmd\":\"status\"}", 16);
	hdr(b, T_ADMIN, P_MSG_MAX, ++seq);
	send_raw(fd, b, P_MSG_MAX, -1);
	j = admin_reply(fd, seq, &status);
	ck_assert_int_eq(status, 0);
	json_object_put(j);
	hdr(b, T_ADMIN, P_MSG_MAX + 1, ++seq);
	send_raw(fd, b, P_MSG_MAX + 1, -1);
	expect_error(fd, EMSGSIZE, seq, T_ADMIN);
	still_open(fd, ++seq);
	/* §8 EINVAL: ACQUIRE fields, ADMIN without a body */
	send_acquire(fd, ++seq, 0, 0, 0);
	expect_error(fd, EINVAL, seq, T_ACQUIRE);
	send_acquire(fd, ++seq, 2 * MiB, 0x8, 0);
	expect_error(fd, EINVAL, seq, T_ACQUIRE);
	send_acquire(fd, ++seq, 2 * MiB, ACQ_PREFER_HUGE | ACQ_NO_HUGE, 0);
	expect_error(fd, EINVAL, seq, T_ACQUIRE);
	send_acquire(fd, ++seq, 2 * MiB, 0, 22);
	expect_error(fd, EINVAL, seq, T_ACQUIRE);
	send_admin(fd, ++seq, "", 0);
	expect_error(fd, EINVAL, seq, T_ADMIN);
	/* §5 policy table: REQUIRE_HUGE on an `off` daemon is EPERM; the others are off */
	send_acquire(fd, ++seq, 2 * MiB, ACQ_REQUIRE_HUGE, 0);
	expect_error(fd, EPERM, seq, T_ACQUIRE);
	g = acquire(fd, ++seq, 2 * MiB, ACQ_PREFER_HUGE);
	ck_assert_uint_ne(g.backing, 1);
	close(g.fd);
	release(fd, ++seq, g.id);
	g = acquire(fd, ++seq, 2 * MiB, ACQ_NO_HUGE);
	ck_assert_uint_ne(g.backing, 1);
	close(g.fd);
	release(fd, ++seq, g.id);
	/* §8 EFBIG: above max_region_size after rounding; exactly it is fine */
	g = acquire(fd, ++seq, 64 * MiB - 1, 0);
	ck_assert_uint_eq(g.size, 64 * MiB);
	close(g.fd);
	release(fd, ++seq, g.id);
	send_acquire(fd, ++seq, 64 * MiB + 1, 0, 0);
	expect_error(fd, EFBIG, seq, T_ACQUIRE);
	send_acquire(fd, ++seq, UINT64_MAX, 0, 0);
	expect_error(fd, EFBIG, seq, T_ACQUIRE);
	still_open(fd, ++seq);
	/* §8 EPROTONOSUPPORT: closes even after WELCOME */
	memset(b, 0, sizeof(b));
	hdr(b, T_RELEASE, SZ_RELEASE, ++seq);
	put16(b, 4, 0);
	send_raw(fd, b, SZ_RELEASE, -1);
	ck_assert_ptr_nonnull(
		strstr(expect_error(fd, EPROTONOSUPPORT, seq, T_RELEASE), "version 1"));
	expect_closed(fd);
	close(fd);
	/* §8 EPROTO: bad magic closes even after WELCOME */
	fd = client("magic", NULL);
	hdr(b, T_RELEASE, SZ_RELEASE, 2);
	put32(b, 0, 0x41434843);
	send_raw(fd, b, SZ_RELEASE, -1);
	expect_error(fd, EPROTO, 0, 0);
	expect_closed(fd);
	close(fd);
	stop();
}
END_TEST

/* §11: admin requests, their replies and refusals; §8 EPERM on an admin session. */
START_TEST(test_admin)
{
	struct json_object *j, *e;
	int fd, status;

	start(base_config);
	fd = dial(d.socket);
	hello(fd, 1, HELLO_ADMIN, "admin");
	j = admin(fd, 2, " {\"cmd\":\"status\",\"schema\":1}\n", &status);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(jint(j, "schema"), 1);
	ck_assert_int_eq(jint(j, "ok"), 1);
	ck_assert_str_eq(jstr(j, "cmd"), "status");
	ck_assert(json_object_object_get_ex(j, "time", NULL));
	ck_assert(json_object_object_get_ex(j, "viewer", NULL));
	ck_assert_str_eq(jstr(j, "scope"), "all"); /* root: everything */
	json_object_put(j);
	/* §11 an admin session holds no leases */
	send_acquire(fd, 3, 2 * MiB, 0, 0);
	expect_error(fd, EPERM, 3, T_ACQUIRE);
	/* §11 every command of the table is known */
	j = admin(fd, 4, "{\"cmd\":\"clients\",\"uid\":0}", &status);
	ck_assert_int_eq(status, 0);
	json_object_put(j);
	j = admin(fd, 5, "{\"cmd\":\"regions\",\"warm\":true}", &status);
	ck_assert_int_eq(status, 0);
	json_object_put(j);
	j = admin(fd, 6, "{\"cmd\":\"snapshot\"}", &status);
	ck_assert_int_eq(status, 0);
	json_object_put(j);
	/* §11 refusals are ADMIN_REPLY messages: EINVAL, EPROTONOSUPPORT */
	j = admin(fd, 7, "{\"cmd\":\"nonsense\"}", &status);
	ck_assert_int_eq(status, EINVAL);
	ck_assert_int_eq(jint(j, "ok"), 0);
	ck_assert(json_object_object_get_ex(j, "error", &e));
	ck_assert_int_eq(jint(e, "errno"), EINVAL);
	ck_assert_str_eq(jstr(e, "name"), "EINVAL");
	ck_assert_uint_gt(strlen(jstr(e, "message")), 0);
	json_object_put(j);
	j = admin(fd, 8, "not json", &status);
	ck_assert_int_eq(status, EINVAL);
	json_object_put(j);
	j = admin(fd, 9, "[1]", &status);
	ck_assert_int_eq(status, EINVAL);
	json_object_put(j);
	j = admin(fd, 10, "{\"cmd\":\"status\"} {}", &status);
	ck_assert_int_eq(status, EINVAL);
	json_object_put(j);
	j = admin(fd, 11, "{\"schema\":1}", &status);
	ck_assert_int_eq(status, EINVAL);
	json_object_put(j);
	j = admin(fd, 12, "{\"cmd\":\"clients\",\"pid\":\"x\"}", &status);
	ck_assert_int_eq(status, EINVAL);
	json_object_put(j);
	j = admin(fd, 13, "{\"cmd\":\"clients\",\"colour\":1}", &status);
	ck_assert_int_eq(status, EINVAL);
	json_object_put(j);
	j = admin(fd, 14, "{\"cmd\":\"status\",\"schema\":2}", &status);
	ck_assert_int_eq(status, EPROTONOSUPPORT);
	json_object_put(j);
	close(fd);
	/* §11: ADMIN on a session without the admin flag works too */
	fd = client("plain", NULL);
	j = admin(fd, 2, "{\"cmd\":\"pool-set\",\"total\":268435456}", &status);
	ck_assert_int_eq(status, 0); /* root may change the pool */
	json_object_put(j);
	close(fd);
	stop();
}
END_TEST

/* §11: EACCES for pool-set and reload by neither root nor the admin group; "own" scope. */
START_TEST(test_admin_not_permitted)
{
	pid_t pid;
	int status;

	start(base_config);
	if (geteuid() == 0) {
		/* nobody reaches the socket through the private directory */
		ck_assert_int_eq(chmod(d.dir, 0711), 0);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct json_object *j;
		int fd, st;

		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		     setresuid(65534, 65534, 65534) < 0))
			_exit(10);
		fd = dial(d.socket);
		hello(fd, 1, HELLO_ADMIN, "nobody");
		j = admin(fd, 2, "{\"cmd\":\"reload\"}", &st);
		if (st != EACCES || strcmp(jstr(j, "scope"), "own") != 0)
			_exit(11);
		json_object_put(j);
		j = admin(fd, 3, "{\"cmd\":\"pool-set\",\"total\":1048576000}", &st);
		if (st != EACCES)
			_exit(12);
		json_object_put(j);
		j = admin(fd, 4, "{\"cmd\":\"status\"}", &st);
		if (st != 0 || strcmp(jstr(j, "scope"), "own") != 0)
			_exit(13);
		json_object_put(j);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	stop();
}
END_TEST

/* §10 order of the ACQUIRE checks; EDQUOT, ENOSPC, the warm hand-out. */
START_TEST(test_limits_order)
{
	static const char config[] = "[pool]\n"
				     "hugepages = off\n"
				     "warm = 2M:1\n"
				     "max_region_size = 64M\n"
				     "[limits]\n"
				     "total = 99M\n"
				     "per_connection_regions = 2\n";
	struct grant g1, g2, g3;
	const char *text;
	int a, b;

	start(config);
	a = client("limits-a", NULL);
	b = client("limits-b", NULL);
	g1 = acquire(a, 2, 64 * MiB, 0); /* held: 2M warm + 64M */
	g2 = acquire(a, 3, 32 * MiB, 0); /* 98M of 99M */
	close(g1.fd);
	close(g2.fd);
	/* §10 1 before 3: fields before the policy */
	send_acquire(a, 4, 0, ACQ_REQUIRE_HUGE, 0);
	expect_error(a, EINVAL, 4, T_ACQUIRE);
	/* §10 3 before 4: REQUIRE_HUGE on `off` before the size */
	send_acquire(a, 5, 65 * MiB, ACQ_REQUIRE_HUGE, 0);
	expect_error(a, EPERM, 5, T_ACQUIRE);
	/* §10 4 before 5: EFBIG before EDQUOT */
	send_acquire(a, 6, 65 * MiB, 0, 0);
	expect_error(a, EFBIG, 6, T_ACQUIRE);
	/* §10 5 before 8: EDQUOT (naming the key) although total would refuse too */
	send_acquire(a, 7, 64 * MiB, 0, 0);
	text = expect_error(a, EDQUOT, 7, T_ACQUIRE);
	ck_assert_ptr_nonnull(strstr(text, "per_connection_regions"));
	/* §10 8: ENOSPC for a size no warm region serves */
	send_acquire(b, 2, 4 * MiB, 0, 0);
	text = expect_error(b, ENOSPC, 2, T_ACQUIRE);
	ck_assert_ptr_nonnull(strstr(text, "pool limit reached"));
	/* §10 7: a warm region is granted although 98M + 2M > 99M: it counts already */
	g3 = acquire(b, 3, 2 * MiB, 0);
	close(g3.fd);
	/* §10 none left warm, and no room to make one: ENOSPC */
	send_acquire(b, 4, 2 * MiB, 0, 0);
	expect_error(b, ENOSPC, 4, T_ACQUIRE);
	/* §7: a RELEASE ends the lease when read: the room is back */
	release(a, 8, g2.id);
	g2 = acquire(a, 9, 4 * MiB, 0);
	close(g2.fd);
	close(a);
	close(b);
	stop();
}
END_TEST

/* §4 step 1, §8: no HELLO in time: ETIMEDOUT, seq 0, closed. */
START_TEST(test_handshake_timeout)
{
	static const char config[] = "[pool]\n"
				     "hugepages = off\n"
				     "warm = 2M:1\n"
				     "[limits]\n"
				     "handshake_timeout = 1s\n";
	int fd;

	start(config);
	close(client("in-time", NULL)); /* a prompt HELLO is welcome */
	fd = dial(d.socket);
	expect_error(fd, ETIMEDOUT, 0, 0);
	expect_closed(fd);
	close(fd);
	stop();
}
END_TEST

/* §4 step 1, §8, §10: over max_connections: EUSERS (seq 0) right after accept, closed. */
START_TEST(test_max_connections)
{
	static const char config[] = "[pool]\n"
				     "hugepages = off\n"
				     "warm = 2M:1\n"
				     "[limits]\n"
				     "max_connections = 1\n";
	unsigned int i, n_reset = 0;
	int a, b;

	start(config);
	a = client("first", NULL);
	b = dial(d.socket);
	expect_error(b, EUSERS, 0, 0);
	expect_closed(b);
	close(b);
	/*
	 * A client that sends its HELLO at once may find it refused (EPIPE) or
	 * unread: then one recv reports ECONNRESET, the first after the daemon
	 * has closed (§8 "What a dropped client reads"); the ERROR EUSERS comes
	 * all the same, then the end.
	 */
	for (i = 0; i < 20; i++) {
		unsigned char hb[SZ_HELLO] = { 0 };
		unsigned int n_err = 0, n_conn = 0;
		struct msg *m;
		ssize_t n;

		b = dial(d.socket);
		hdr(hb, T_HELLO, SZ_HELLO, 1);
		n = send(b, hb, sizeof(hb), MSG_NOSIGNAL);
		ck_assert_msg(n == SZ_HELLO || errno == EPIPE || errno == ECONNRESET, "send: %m");
		while ((m = recv_msg(b, 10000))->len != 0) {
			if (m->len == -ECONNRESET) {
				n_conn++;
				continue;
			}
			ck_assert_int_eq(expect_msg(m, T_ERROR, 0), SZ_ERROR);
			ck_assert_int_eq((int)get32(m->b, 16), EUSERS);
			ck_assert_uint_eq(get16(m->b, 20), 0);
			n_err++;
		}
		ck_assert_uint_eq(n_err, 1);
		ck_assert_uint_le(n_conn, 1);
		n_reset += n_conn;
		close(b);
	}
	fprintf(stderr, "# %u of 20 early HELLOs saw ECONNRESET\n", n_reset);
	still_open(a, 2);
	close(a);
	b = client("next", NULL); /* the place is free again */
	close(b);
	stop();
}
END_TEST

/*
 * §8 "What a dropped client reads", §9: a client that stops reading is
 * dropped after stall_timeout; it reads ECONNRESET first, then the replies
 * in its socket in order, then 0; its lease is gone.
 */
START_TEST(test_dropped_client)
{
	static const char config[] = "[pool]\n"
				     "hugepages = off\n"
				     "warm = 2M:1\n"
				     "[limits]\n"
				     "stall_timeout = 1s\n";
	struct pollfd pfd;
	struct welcome w;
	struct grant g;
	uint32_t seq = 3, next;
	unsigned int n_sent = 0, n_read = 0, n_resets = 0;
	struct msg *m;
	int fd, fl;

	start(config);
	fd = client("sleepy", &w);
	g = acquire(fd, 2, 2 * MiB, 0);
	close(g.fd);
	fl = fcntl(fd, F_GETFL);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	for (;;) {
		unsigned char b[SZ_RELEASE] = { 0 };
		ssize_t n;

		hdr(b, T_RELEASE, SZ_RELEASE, seq + n_sent);
		put64(b, 16, 999999);
		n = send(fd, b, sizeof(b), MSG_NOSIGNAL);
		if (n < 0) {
			ck_assert_msg(errno == EAGAIN, "send: %m");
			break;
		}
		n_sent++;
		ck_assert_uint_lt(n_sent, 1000000);
	}
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl), 0);
	/* §8 the daemon drops the connection: the client's socket reports an error or hang-up */
	pfd = (struct pollfd){ .fd = fd, .events = 0 };
	ck_assert_int_eq(poll(&pfd, 1, timeout_ms(10000)), 1);
	ck_assert(pfd.revents & (POLLERR | POLLHUP));
	/* §8 the replies already here, in order (one ENOENT per RELEASE from seq
	 * 3), with at most one ECONNRESET somewhere among them, then the end */
	next = seq;
	for (;;) {
		m = recv_msg(fd, 1000);
		if (m->len == -ECONNRESET) {
			n_resets++;
			continue;
		}
		if (m->len == 0)
			break;
		ck_assert_int_eq(expect_msg(m, T_ERROR, next), SZ_ERROR);
		ck_assert_int_eq((int)get32(m->b, 16), ENOENT);
		next++;
		n_read++;
	}
	ck_assert_uint_le(n_resets, 1);
	ck_assert_uint_gt(n_read, 0);
	ck_assert_uint_lt(n_read, n_sent);
	close(fd);
	/* §9: the lease ended with the connection */
	ck_assert(region_gone(g.id, 5000));
	stop();
}
END_TEST

/* §9: leases end with the connection, RELEASEs sent just before closing too. */
START_TEST(test_close_ends_leases)
{
	struct grant g1, g2;
	struct json_object *row;
	int fd;

	start(base_config);
	fd = client("closer", NULL);
	g1 = acquire(fd, 2, 2 * MiB, 0);
	g2 = acquire(fd, 3, 4 * MiB, 0);
	close(g1.fd);
	close(g2.fd);
	row = region_row(g1.id);
	ck_assert_ptr_nonnull(row);
	json_object_put(row);
	/* §7: RELEASE, then close without reading the RELEASED: nothing is lost */
	send_release(fd, 4, g1.id);
	close(fd);
	ck_assert(region_gone(g1.id, 5000));
	ck_assert(region_gone(g2.id, 5000));
	stop();
}
END_TEST

/* §9: when the daemon stops, the client sees the end; its mappings stay valid. */
START_TEST(test_daemon_stops)
{
	unsigned char *p;
	struct grant g;
	int fd;

	start(base_config);
	fd = client("survivor", NULL);
	g = acquire(fd, 2, 2 * MiB, 0);
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, g.fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(g.fd);
	memset(p + R_HDR, 0x3c, g.size - R_HDR);
	stop();
	expect_closed(fd);
	ck_assert_uint_eq(p[R_HDR], 0x3c);
	ck_assert_uint_eq(p[g.size - 1], 0x3c);
	p[g.size - 1] = 0x3d;
	ck_assert_uint_eq(p[g.size - 1], 0x3d);
	munmap(p, g.size);
	close(fd);
}
END_TEST

/* §8 ESHUTDOWN: an ACQUIRE pending when the daemon stops is refused, then the end (§9). */
START_TEST(test_stop_with_acquire_pending)
{
	static const char config[] = "[pool]\n"
				     "hugepages = off\n"
				     "warm = 2M:1\n"
				     "max_region_size = 1G\n"
				     "[limits]\n"
				     "total = 2G\n";
	int fd;

	start(config);
	fd = client("pending", NULL);
	/* 1 GiB made on demand: zeroing it takes far longer than the 20 ms below */
	send_acquire(fd, 2, 1024 * MiB, 0, 0);
	usleep(20000);
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	expect_error(fd, ESHUTDOWN, 2, T_ACQUIRE);
	expect_closed(fd);
	close(fd);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 30000), 0);
	bhc_test_daemon_cleanup(&d);
}
END_TEST

/* Whether a hugetlb region of @g is as §3 GRANT says, and usable as §6 says. */
static void use_hugetlb(const struct grant *g)
{
	unsigned char *p;

	ck_assert_uint_eq(g->backing, 1); /* §3: 1 hugetlb */
	ck_assert_uint_eq(g->page_shift, 21);
	p = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(g->fd);
	ck_assert_uint_eq(get64(p, 0), 0); /* §5: zero, the header too */
	write_header(p, g);
	p[g->size - 1] = 1;
	put64(p, 64, get64(p, 104) - 1);
	ck_assert_str_eq(shown(g->id).header, "ok"); /* §6 */
	ck_assert_uint_eq(shown(g->id).used, 1);
	munmap(p, g->size);
}

/* §5 with hugepages: the policy table, require's ENOMEM and EOPNOTSUPP, prefer's fallback. */
START_TEST(test_hugetlb)
{
	static const char config[] = "[pool]\n"
				     "hugepages = prefer\n"
				     "warm = 2M:1\n"
				     "max_region_size = 1G\n"
				     "[limits]\n"
				     "total = 2G\n";
	struct welcome w;
	struct grant g;
	const char *text;
	char why[256];
	long n_free;
	int fd;

	if (bhc_test_hugepages_reserve(2048, 4, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	start(config);
	fd = client("huge", &w);
	ck_assert_uint_eq(w.policy, 2); /* §3 WELCOME: 2 prefer */
	/* §5 table: flags 0 on a prefer daemon: hugetlb while the pool has room */
	g = acquire(fd, 2, 2 * MiB, 0);
	use_hugetlb(&g);
	release(fd, 3, g.id);
	/* §5 table: REQUIRE_HUGE on a prefer daemon is require */
	g = acquire(fd, 4, 2 * MiB, ACQ_REQUIRE_HUGE);
	use_hugetlb(&g);
	release(fd, 5, g.id);
	/* §5 table: NO_HUGE is off: never hugetlb */
	g = acquire(fd, 6, 2 * MiB, ACQ_NO_HUGE);
	ck_assert_uint_ne(g.backing, 1);
	close(g.fd);
	release(fd, 7, g.id);
	n_free = bhc_test_hugepages_free(2048);
	if (n_free >= 0 && n_free < 32 &&
	    bhc_test_read_long("/proc/sys/vm/nr_overcommit_hugepages") == 0) {
		/* §5 require: a shortage is ENOMEM whose text names the knob */
		send_acquire(fd, 8, 64 * MiB, ACQ_REQUIRE_HUGE, 0);
		text = expect_error(fd, ENOMEM, 8, T_ACQUIRE);
		ck_assert_ptr_nonnull(strstr(text, "vm.nr_hugepages"));
		/* §5 prefer: the same shortage falls back to shmem, the size as rounded */
		g = acquire(fd, 9, 64 * MiB - 5, ACQ_PREFER_HUGE);
		ck_assert_uint_ne(g.backing, 1);
		ck_assert_uint_eq(g.size, 64 * MiB);
		close(g.fd);
		release(fd, 10, g.id);
	} else {
		fprintf(stderr, "# %ld 2 MiB hugepages free (or overcommit): no shortage\n",
			n_free);
	}
	/* §5 Page size: 1 GiB pages under require: EOPNOTSUPP without them, ENOMEM if none free */
	if (access("/sys/kernel/mm/hugepages/hugepages-1048576kB", F_OK) != 0) {
		send_acquire(fd, 11, 2 * MiB, ACQ_REQUIRE_HUGE, 30);
		expect_error(fd, EOPNOTSUPP, 11, T_ACQUIRE);
	} else if (bhc_test_hugepages_reserve(1048576, 0, why, sizeof(why)) == 0 &&
		   bhc_test_hugepages_free(1048576) == 0 &&
		   bhc_test_read_long("/sys/kernel/mm/hugepages/hugepages-1048576kB/"
				      "nr_overcommit_hugepages") == 0) {
		send_acquire(fd, 11, 2 * MiB, ACQ_REQUIRE_HUGE, 30);
		text = expect_error(fd, ENOMEM, 11, T_ACQUIRE);
		ck_assert_ptr_nonnull(strstr(text, "/sys/kernel/mm/hugepages/hugepages-1048576kB"));
	} else {
		fprintf(stderr, "# 1 GiB hugepages free here: no shortage to show\n");
	}
	still_open(fd, 12);
	close(fd);
	stop();
}
END_TEST

/*
 * Run `bhc-arenactl [--socket @opt] --json status` with $BHC_ARENA_SOCKET =
 * @env and $XDG_RUNTIME_DIR = @xdg (NULL: unset), as uid 65534 if @nobody
 * and we are root. Returns the pid of the daemon it reached, or -1.
 */
static long ctl_reaches(const char *opt, const char *env, const char *xdg, bool nobody)
{
	const char *ctl = getenv("BHC_ARENACTL");
	struct json_object *j, *dm, *pid_v;
	char out[65536];
	size_t len = 0;
	int pipefd[2], status;
	long found = -1;
	ssize_t n;
	pid_t pid;

	ck_assert_ptr_nonnull(ctl);
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(pipefd[1], 1);
		dup2(null, 2);
		close(pipefd[0]);
		close(pipefd[1]);
		if (env)
			setenv("BHC_ARENA_SOCKET", env, 1);
		else
			unsetenv("BHC_ARENA_SOCKET");
		if (xdg)
			setenv("XDG_RUNTIME_DIR", xdg, 1);
		else
			unsetenv("XDG_RUNTIME_DIR");
		if (nobody && geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		     setresuid(65534, 65534, 65534) < 0))
			_exit(126);
		if (opt)
			execl(ctl, ctl, "--socket", opt, "--json", "status", (char *)NULL);
		else
			execl(ctl, ctl, "--json", "status", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (len < sizeof(out) - 1 && (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) < 126, "could not run %s", ctl);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	j = json_tokener_parse(out);
	if (j && json_object_object_get_ex(j, "daemon", &dm) &&
	    json_object_object_get_ex(dm, "pid", &pid_v))
		found = (long)json_object_get_int64(pid_v);
	json_object_put(j);
	return found;
}

/* §1: the socket path, in the order `bhc-arenactl --help` and the document give. */
START_TEST(test_socket_path)
{
	char xdg[BHC_TEST_PATH_MAX + 16], sub[BHC_TEST_PATH_MAX + 32], link[BHC_TEST_PATH_MAX + 64];
	char empty[BHC_TEST_PATH_MAX + 16], missing[BHC_TEST_PATH_MAX + 16];

	start(base_config);
	/* a user's runtime directory whose bhc-arena/arenad.sock is this daemon */
	snprintf(xdg, sizeof(xdg), "%s/xdg", d.dir);
	snprintf(sub, sizeof(sub), "%s/bhc-arena", xdg);
	snprintf(link, sizeof(link), "%s/arenad.sock", sub);
	snprintf(empty, sizeof(empty), "%s/xdg-empty", d.dir);
	snprintf(missing, sizeof(missing), "%s/no-such.sock", d.dir);
	ck_assert_int_eq(mkdir(xdg, 0755), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_int_eq(mkdir(empty, 0755), 0);
	ck_assert_int_eq(symlink(d.socket, link), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chmod(d.dir, 0711), 0); /* uid 65534 may pass */

	/* §1 1. the path given: --socket, else $BHC_ARENA_SOCKET */
	ck_assert_int_eq(ctl_reaches(d.socket, NULL, NULL, false), d.pid);
	ck_assert_int_eq(ctl_reaches(NULL, d.socket, NULL, false), d.pid);
	ck_assert_int_eq(ctl_reaches(d.socket, missing, NULL, false), d.pid);
	ck_assert_int_ne(ctl_reaches(missing, d.socket, NULL, false), d.pid);
	/* §1 2. not root, $XDG_RUNTIME_DIR set: its bhc-arena/arenad.sock if it exists */
	ck_assert_int_eq(ctl_reaches(NULL, NULL, xdg, true), d.pid);
	/* §1 ... after the path given */
	ck_assert_int_ne(ctl_reaches(NULL, missing, xdg, true), d.pid);
	/* §1 3. else the system daemon's socket (whatever runs there, not this daemon) */
	ck_assert_int_ne(ctl_reaches(NULL, NULL, empty, true), d.pid);
	ck_assert_int_ne(ctl_reaches(NULL, NULL, NULL, true), d.pid);
	/* §1 2. is for processes whose effective uid is not 0 */
	if (geteuid() == 0)
		ck_assert_int_ne(ctl_reaches(NULL, NULL, xdg, false), d.pid);
	stop();
}
END_TEST

static Suite *conformance_suite(void)
{
	const struct bhc_test_case cases[] = {
		{ "tables_match_header", test_tables_match_header },
		{ "handshake", test_handshake },
		{ "region_lifecycle", test_region_lifecycle },
		{ "release_other_connection", test_release_other_connection },
		{ "grant_without_fd", test_grant_without_fd },
		{ "pipelining", test_pipelining },
		{ "refusals_before_hello", test_refusals_before_hello },
		{ "refusals_after_hello", test_refusals_after_hello },
		{ "admin", test_admin },
		{ "admin_not_permitted", test_admin_not_permitted },
		{ "limits_order", test_limits_order },
		{ "handshake_timeout", test_handshake_timeout },
		{ "max_connections", test_max_connections },
		{ "dropped_client", test_dropped_client },
		{ "close_ends_leases", test_close_ends_leases },
		{ "daemon_stops", test_daemon_stops },
		{ "socket_path", test_socket_path },
		{ "hugetlb", test_hugetlb },
		{ "stop_with_acquire_pending", test_stop_with_acquire_pending },
	};

	return bhc_test_suite("protocol_conformance", cases, ARRAY_SIZE(cases));
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	return bhc_test_run(conformance_suite());
}
