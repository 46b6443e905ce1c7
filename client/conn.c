/* SPDX-License-Identifier: MIT */
/*
 * The connection to bhc-arenad (see conn.h and docs/PROTOCOL.md): connect,
 * HELLO -> WELCOME, ACQUIRE -> GRANT + memfd or ERROR, RELEASE -> RELEASED.
 * One request at a time under conn_lock; every reply is checked field by
 * field before anything in it is believed.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bhc/arena-protocol.h>

#include "common/clock.h"
#include "conn.h"

/* File descriptors one reply may bring before the kernel drops the rest. */
#define CONN_MAX_FDS 8
/*
 * RELEASEs sent and not yet answered, at most. A release does not wait for
 * its RELEASED; the replies are read on the way by later requests. Past this
 * many a release waits for the oldest, so that replies never pile up in the
 * socket until the daemon finds its client not reading.
 */
#define CONN_MAX_UNANSWERED 16
/* After the daemon went away, try to reconnect (and register) at most this often. */
#define CONN_RECONNECT_MS 100u
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)NULL)->sun_path)

/* One received datagram. */
struct reply {
	union {
		struct bhc_arena_msg_hdr hdr;
		struct bhc_arena_msg_welcome welcome;
		struct bhc_arena_msg_grant grant;
		struct bhc_arena_msg_grant_token grant_token;
		struct bhc_arena_msg_registered registered;
		struct bhc_arena_msg_error error;
		unsigned char raw[BHC_ARENA_MSG_MAX];
	};
	size_t len;
	int fd; /* the first fd that came with it (owned by whoever holds the reply), or -1 */
	unsigned int n_fds; /* fds that came with it, the closed extra ones included */
};

/* The process's connection; every field under conn_lock. */
struct conn {
	int fd; /* -1: not connected */
	dev_t dev; /* of the socket, to notice an fd closed (and reused) behind our back */
	ino_t ino;
	uint64_t generation; /* bumped by every connection made (and by fork) */
	uint32_t seq; /* of the last request sent */
	unsigned int unanswered; /* RELEASEs whose reply has not been read */
	struct bhc_arena_msg_welcome welcome; /* of the current connection */
	bool reclaim; /* the daemon sent RECLAIM, not yet seen by conn_reclaim_requested() */
	/*
	 * Lease tokens: asked for in HELLO unless $BHC_ARENA_REREGISTER is 0 or
	 * a daemon refused the flag (one older than lease tokens).
	 */
	bool tokens; /* the current connection's grants carry tokens */
	bool tokens_refused; /* a daemon refused the HELLO flag: do not ask again */
	bool had_welcome; /* a WELCOME was received before (welcome is the last one) */
	bool reconnect; /* a connection with tokens was lost: connect again on the next tick */
	uint64_t reconnect_ms; /* not before this (CLOCK_MONOTONIC ms) */
	/* the last connect that found no daemon: where, and until when to believe it */
	char absent_path[SUN_PATH_MAX];
	uint64_t absent_until_ms;
};

static pthread_mutex_t conn_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn conn = { .fd = -1 };

/* $BHC_ARENA_TIMEOUT_MS, or the default when unset or not a positive number. */
static unsigned int timeout_ms(void)
{
	const char *env = getenv("BHC_ARENA_TIMEOUT_MS");
	unsigned long v;
	char *end;

	if (!env || *env < '0' || *env > '9')
		return CONN_TIMEOUT_MS_DEFAULT;
	errno = 0;
	v = strtoul(env, &end, 10);
	if (errno || *end || !v || v > INT_MAX)
		return CONN_TIMEOUT_MS_DEFAULT;
	return (unsigned int)v;
}

/*
 * The socket to use: $BHC_ARENA_SOCKET; else, for root, the system socket;
 * else the user's ($XDG_RUNTIME_DIR/bhc-arena/arenad.sock) if it exists,
 * the system socket if not.
 */
static int socket_path(char *buf, size_t len)
{
	const char *env = secure_getenv("BHC_ARENA_SOCKET"), *xdg;
	struct stat st;
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else {
		xdg = geteuid() != 0 ? secure_getenv("XDG_RUNTIME_DIR") : NULL;
		if (xdg && xdg[0] == '/') {
			n = snprintf(buf, len, "%s/%s", xdg, BHC_ARENA_SOCKET_USER_SUBPATH);
			if (n >= 0 && (size_t)n < len && stat(buf, &st) == 0)
				return 0;
		}
		n = snprintf(buf, len, "%s", BHC_ARENA_SOCKET_PATH);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* $BHC_ARENA_TAG if it is a valid tag, else "". */
static void hello_tag(char tag[BHC_ARENA_TAG_MAX])
{
	const char *env = secure_getenv("BHC_ARENA_TAG");

	memset(tag, 0, BHC_ARENA_TAG_MAX);
	if (env && bhc_arena_tag_valid(env))
		memcpy(tag, env, strlen(env));
}

static void hdr_fill(struct bhc_arena_msg_hdr *hdr, uint16_t type, uint32_t length)
{
	if (++conn.seq == 0)
		conn.seq = 1;
	*hdr = (struct bhc_arena_msg_hdr){
		.magic = BHC_ARENA_PROTO_MAGIC,
		.version = BHC_ARENA_PROTO_VERSION,
		.type = type,
		.length = length,
		.seq = conn.seq,
	};
}

/* Errors that say the connection is gone (the daemon stopped or restarted). */
static bool conn_lost(int r)
{
	return r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -ESHUTDOWN;
}

static void conn_close_locked(void)
{
	if (conn.fd >= 0)
		close(conn.fd);
	conn.fd = -1;
	conn.unanswered = 0;
}

/* The daemon went away: close, and if our regions can be registered again, come back soon. */
static void conn_lost_locked(void)
{
	if (conn.fd >= 0 && conn.tokens)
		conn.reconnect = true;
	conn.tokens_refused = false; /* the next daemon may be a newer build */
	conn_close_locked();
}

/* Whether to ask for lease tokens: not with BHC_ARENA_REREGISTER=0, nor after a refusal. */
static bool want_tokens(void)
{
	const char *env = getenv("BHC_ARENA_REREGISTER");

	return !conn.tokens_refused && !(env && !strcmp(env, "0"));
}

/*
 * Is conn.fd still our socket? A program may close descriptors it does not
 * own (a daemon closing everything after fork(), say); then the number may
 * name some other file by now. If so the connection is gone (and its leases
 * with it) and the descriptor is not ours to close.
 */
static void conn_check_locked(void)
{
	struct stat st;

	if (conn.fd < 0)
		return;
	if (fstat(conn.fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == conn.dev &&
	    st.st_ino == conn.ino)
		return;
	conn.fd = -1;
	conn.unanswered = 0;
}

static int send_msg(const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(conn.fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		/* SO_SNDTIMEO ran out: the daemon reads nothing */
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

/* Keep the first fd of @mh in @rep, close every other one. */
static void take_fds(struct msghdr *mh, struct reply *rep)
{
	struct cmsghdr *cmsg;
	size_t i, count;
	int fd;

	for (cmsg = CMSG_FIRSTHDR(mh); cmsg; cmsg = CMSG_NXTHDR(mh, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
			rep->n_fds++;
			if (rep->fd < 0)
				rep->fd = fd;
			else
				close(fd);
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		rep->n_fds++; /* the kernel dropped some: at least one more than counted */
}

static void reply_drop_fd(struct reply *rep)
{
	if (rep->fd >= 0)
		close(rep->fd);
	rep->fd = -1;
}

/*
 * Receive one datagram by @deadline (CLOCK_MONOTONIC ms; 0: only one that
 * is there already, else -EAGAIN). Returns 0, -ETIMEDOUT, -ECONNRESET at
 * the end of the stream, -EPROTO for a datagram larger than any message, or
 * -errno.
 */
static int recv_msg(struct reply *rep, uint64_t deadline)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(CONN_MAX_FDS * sizeof(int))];
	} ctrl;
	struct iovec iov = { .iov_base = rep->raw, .iov_len = sizeof(rep->raw) };
	struct msghdr mh;
	struct pollfd pfd;
	bool reset = false;
	uint64_t now;
	ssize_t n;
	int r;

	rep->fd = -1;
	rep->n_fds = 0;
	rep->len = 0;
	for (;;) {
		if (deadline) {
			now = clock_monotonic_ms();
			if (now >= deadline)
				return -ETIMEDOUT;
			pfd = (struct pollfd){ .fd = conn.fd, .events = POLLIN };
			r = poll(&pfd, 1, (int)(deadline - now));
			if (r < 0 && errno != EINTR)
				return -errno;
			if (r <= 0)
				continue;
		}
		mh = (struct msghdr){
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctrl.buf,
			.msg_controllen = sizeof(ctrl.buf),
		};
		n = recvmsg(conn.fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (!deadline && (errno == EAGAIN || errno == EWOULDBLOCK))
				return -EAGAIN;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			/*
			 * The daemon closed while our request sat unread: the kernel
			 * says so before what the daemon sent last (its reason, say
			 * ERROR EUSERS), which is still there to read.
			 */
			if (errno == ECONNRESET && !reset) {
				reset = true;
				continue;
			}
			return -errno;
		}
		take_fds(&mh, rep);
		if (n == 0 && !rep->n_fds)
			return -ECONNRESET;
		rep->len = (size_t)n;
		if (mh.msg_flags & MSG_TRUNC) {
			reply_drop_fd(rep);
			return -EPROTO;
		}
		return 0;
	}
}

static bool hdr_valid(const struct reply *rep)
{
	return rep->len >= sizeof(rep->hdr) && rep->hdr.magic == BHC_ARENA_PROTO_MAGIC &&
	       rep->hdr.version == BHC_ARENA_PROTO_VERSION && rep->hdr.length == rep->len;
}

static int release_send(uint64_t region_id, uint32_t *seqp);

/*
 * The reply to a request that was given up (timed out) arrived late. A
 * grant in it is a lease nobody wants: give it back. Its RELEASED reply is
 * late by construction and dropped like this one.
 */
static void drop_stale(struct reply *rep)
{
	uint32_t seq;

	if (rep->hdr.type == BHC_ARENA_MSG_GRANT &&
	    rep->len == (conn.tokens ? sizeof(rep->grant_token) : sizeof(rep->grant)) &&
	    rep->grant.region_id)
		(void)release_send(rep->grant.region_id, &seq);
	else if (rep->hdr.type == BHC_ARENA_MSG_RECLAIM && rep->hdr.seq == 0)
		conn.reclaim = true;
	else if ((rep->hdr.type == BHC_ARENA_MSG_RELEASED ||
		  rep->hdr.type == BHC_ARENA_MSG_ERROR) &&
		 conn.unanswered)
		conn.unanswered--;
	reply_drop_fd(rep);
}

/*
 * Send @len bytes at @msg (whose header says seq conn.seq) and receive its
 * reply: the first datagram with that seq, or an ERROR with seq 0 (the
 * daemon could not tell which request it answers). Late replies to earlier
 * requests are dropped on the way. Returns 0 with *@rep holding a reply
 * whose header is valid, or -errno.
 */
static int exchange(const void *msg, size_t len, struct reply *rep)
{
	uint64_t deadline = clock_monotonic_ms() + timeout_ms();
	uint32_t seq = conn.seq;
	int r;

	r = send_msg(msg, len);
	if (r == -EPIPE || r == -ECONNRESET) {
		/* the daemon hung up; perhaps after saying why (ERROR EUSERS, say) */
		if (recv_msg(rep, clock_monotonic_ms() + 100) == 0 && hdr_valid(rep) &&
		    rep->hdr.type == BHC_ARENA_MSG_ERROR && rep->hdr.seq == 0)
			return 0;
		reply_drop_fd(rep);
		return r;
	}
	if (r < 0)
		return r;
	for (;;) {
		r = recv_msg(rep, deadline);
		if (r < 0)
			return r;
		if (!hdr_valid(rep)) {
			reply_drop_fd(rep);
			return -EPROTO;
		}
		if (rep->hdr.seq == seq ||
		    (rep->hdr.seq == 0 && rep->hdr.type == BHC_ARENA_MSG_ERROR))
			return 0;
		drop_stale(rep);
	}
}

/* An ERROR reply as -errno; -EPROTO if it is malformed. */
static int error_reply(struct reply *rep)
{
	reply_drop_fd(rep);
	if (rep->len != sizeof(rep->error) || rep->error.error <= 0 || rep->error.error >= 4096)
		return -EPROTO;
	return -rep->error.error;
}

/* Connect to the daemon and say HELLO; on success the connection is the next generation. */
static int conn_connect_locked(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bhc_arena_msg_hello hello;
	unsigned int timeout = timeout_ms();
	struct timeval tv = { .tv_sec = timeout / 1000, .tv_usec = (timeout % 1000) * 1000 };
	struct reply rep;
	struct stat st;
	bool restarted;
	int r;

	r = socket_path(sa.sun_path, sizeof(sa.sun_path));
	if (r < 0)
		return r;
	conn.fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (conn.fd < 0)
		return -errno;
	if (fstat(conn.fd, &st) < 0) {
		r = -errno;
		goto out_close;
	}
	conn.dev = st.st_dev;
	conn.ino = st.st_ino;
	/* bounds connect() on a full backlog and send() on a full buffer */
	if (setsockopt(conn.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		goto out_close;
	}
	do
		r = connect(conn.fd, (struct sockaddr *)&sa, sizeof(sa));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		r = -errno;
		switch (-r) {
		case ENOENT: /* no socket file */
		case ENOTDIR:
		case ECONNREFUSED: /* a socket file nobody listens on */
			r = -ECONNREFUSED;
			/* fall through */
		case EACCES:
			snprintf(conn.absent_path, sizeof(conn.absent_path), "%s", sa.sun_path);
			conn.absent_until_ms = clock_monotonic_ms() + CONN_ABSENT_MS;
			break;
		case EAGAIN: /* the backlog stayed full for the whole timeout */
			r = -ETIMEDOUT;
			break;
		}
		goto out_close;
	}

	memset(&hello, 0, sizeof(hello));
	hdr_fill(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello));
	hello.pid = (uint32_t)getpid();
	hello.flags = want_tokens() ? BHC_ARENA_HELLO_LEASE_TOKENS : 0;
	hello_tag(hello.tag);
	r = exchange(&hello, sizeof(hello), &rep);
	if (r < 0)
		goto out_close;
	if (rep.hdr.type == BHC_ARENA_MSG_ERROR) {
		r = error_reply(&rep);
		if (r == -EINVAL && hello.flags) {
			/* a daemon older than lease tokens: connect again without asking */
			conn_close_locked();
			conn.tokens_refused = true;
			return conn_connect_locked();
		}
		goto out_close;
	}
	reply_drop_fd(&rep);
	if (rep.hdr.type != BHC_ARENA_MSG_WELCOME || rep.len != sizeof(rep.welcome) ||
	    rep.welcome.page_shift < 12 || rep.welcome.page_shift > 40) {
		r = -EPROTO;
		goto out_close;
	}
	restarted = conn.had_welcome && rep.welcome.daemon_start_ns != conn.welcome.daemon_start_ns;
	conn.welcome = rep.welcome;
	conn.had_welcome = true;
	conn.tokens = hello.flags & BHC_ARENA_HELLO_LEASE_TOKENS;
	conn.reconnect = false;
	__atomic_store_n(&conn.generation, conn.generation + 1, __ATOMIC_RELAXED);
	conn.absent_until_ms = 0;
	/* a new daemon instance: hand it back what we hold (a failure costs that region only) */
	if (restarted && conn.tokens)
		conn_reregister_hook(conn.generation);
	return 0;

out_close:
	conn_close_locked();
	return r;
}

static int release_send(uint64_t region_id, uint32_t *seqp)
{
	struct bhc_arena_msg_release m;
	int r;

	memset(&m, 0, sizeof(m));
	hdr_fill(&m.hdr, BHC_ARENA_MSG_RELEASE, sizeof(m));
	m.region_id = region_id;
	*seqp = conn.seq;
	r = send_msg(&m, sizeof(m));
	if (r == 0)
		conn.unanswered++;
	return r;
}

/*
 * Read the replies that have arrived to earlier requests (RELEASEDs), and
 * wait for the oldest ones while more than @max are unanswered.
 */
static int collect_replies(unsigned int max)
{
	uint64_t deadline = clock_monotonic_ms() + timeout_ms();
	struct reply rep;
	int r;

	for (;;) {
		r = recv_msg(&rep, conn.unanswered > max ? deadline : 0);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		if (!hdr_valid(&rep)) {
			reply_drop_fd(&rep);
			return -EPROTO;
		}
		drop_stale(&rep);
	}
}

/*
 * RELEASE on the current connection without waiting for RELEASED: the
 * daemon ends the lease when it reads the request (the client has unmapped
 * the region already) and answers once the pages are back; the answer is
 * read by a later request. Requests are handled in order, so an ACQUIRE
 * sent after this one sees the lease ended.
 */
static int conn_release_locked(uint64_t region_id)
{
	uint32_t seq;
	int r;

	r = collect_replies(CONN_MAX_UNANSWERED - 1);
	if (r < 0)
		return r;
	return release_send(region_id, &seq);
}

/* Is @m a grant this client can use for a request of @size bytes and @page_shift? */
static bool grant_valid(const struct bhc_arena_msg_grant *m, uint64_t size, uint32_t page_shift)
{
	if (!m->region_id || m->size < size || m->size <= BHC_ARENA_REGION_HEADER_SIZE ||
	    m->size > SIZE_MAX || (m->size & (BHC_ARENA_REGION_HEADER_SIZE - 1)))
		return false;
	if (m->header_size != BHC_ARENA_REGION_HEADER_SIZE ||
	    m->header_version != BHC_ARENA_REGION_VERSION)
		return false;
	if (m->page_shift < 12 || m->page_shift > 40)
		return false;
	switch (m->backing) {
	case BHC_ARENA_BACKING_HUGETLB:
		if (page_shift && m->page_shift != page_shift)
			return false;
		return !(m->size & ((UINT64_C(1) << m->page_shift) - 1));
	case BHC_ARENA_BACKING_THP:
	case BHC_ARENA_BACKING_SMALL:
		return true;
	default:
		return false;
	}
}

static int conn_acquire_locked(uint64_t size, uint32_t flags, uint32_t page_shift,
			       struct conn_grant *grant)
{
	struct bhc_arena_msg_acquire m;
	struct reply rep;
	int r;

	conn_check_locked();
	if (conn.fd < 0) {
		r = conn_connect_locked();
		if (r < 0)
			return r;
	}
	memset(&m, 0, sizeof(m));
	hdr_fill(&m.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(m));
	m.size = size;
	m.flags = flags;
	m.page_shift = page_shift;
	r = exchange(&m, sizeof(m), &rep);
	if (r < 0)
		return r;
	if (rep.hdr.type == BHC_ARENA_MSG_ERROR)
		return error_reply(&rep);
	if (rep.hdr.type != BHC_ARENA_MSG_GRANT ||
	    rep.len != (conn.tokens ? sizeof(rep.grant_token) : sizeof(rep.grant))) {
		reply_drop_fd(&rep);
		return -EPROTO;
	}
	if (rep.fd < 0 || !grant_valid(&rep.grant, size, page_shift)) {
		reply_drop_fd(&rep);
		/* the daemon counts it as leased: hand it back */
		if (rep.grant.region_id)
			(void)conn_release_locked(rep.grant.region_id);
		return -EPROTO;
	}
	*grant = (struct conn_grant){
		.fd = rep.fd,
		.region_id = rep.grant.region_id,
		.size = rep.grant.size,
		.backing = rep.grant.backing,
		.page_shift = rep.grant.page_shift,
		.generation = conn.generation,
		.has_token = conn.tokens,
	};
	if (conn.tokens) {
		grant->token[0] = rep.grant_token.token[0];
		grant->token[1] = rep.grant_token.token[1];
	}
	return 0;
}

int conn_register_locked(const struct conn_registration *reg)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct bhc_arena_msg_register m;
	struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl.buf,
		.msg_controllen = sizeof(ctrl.buf),
	};
	uint64_t deadline = clock_monotonic_ms() + timeout_ms();
	struct cmsghdr *cmsg;
	struct reply rep;
	uint32_t seq;
	ssize_t n;
	int r;

	memset(&m, 0, sizeof(m));
	hdr_fill(&m.hdr, BHC_ARENA_MSG_REGISTER, sizeof(m));
	seq = conn.seq;
	m.region_id = reg->region_id;
	m.size = reg->size;
	m.backing = reg->backing;
	m.page_shift = reg->page_shift;
	m.token[0] = reg->token[0];
	m.token[1] = reg->token[1];
	memset(&ctrl, 0, sizeof(ctrl));
	cmsg = CMSG_FIRSTHDR(&mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &reg->fd, sizeof(int));
	do
		n = sendmsg(conn.fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	for (;;) {
		r = recv_msg(&rep, deadline);
		if (r < 0)
			return r;
		if (!hdr_valid(&rep)) {
			reply_drop_fd(&rep);
			return -EPROTO;
		}
		if (rep.hdr.seq == seq || (rep.hdr.seq == 0 && rep.hdr.type == BHC_ARENA_MSG_ERROR))
			break;
		drop_stale(&rep);
	}
	if (rep.hdr.type == BHC_ARENA_MSG_ERROR)
		return error_reply(&rep);
	reply_drop_fd(&rep);
	if (rep.hdr.type != BHC_ARENA_MSG_REGISTERED || rep.len != sizeof(rep.registered) ||
	    rep.registered.region_id != reg->region_id)
		return -EPROTO;
	return 0;
}

int conn_acquire(uint64_t size, uint32_t flags, uint32_t page_shift, struct conn_grant *grant)
{
	int attempt, r;

	pthread_mutex_lock(&conn_lock);
	for (attempt = 0;; attempt++) {
		r = conn_acquire_locked(size, flags, page_shift, grant);
		if (!conn_lost(r))
			break;
		/* the daemon went away (restart): a new connection, once (it registers our regions) */
		conn_lost_locked();
		if (attempt == 1)
			break;
	}
	pthread_mutex_unlock(&conn_lock);
	return r;
}

int conn_release(uint64_t region_id, uint64_t generation)
{
	int r = 0;

	pthread_mutex_lock(&conn_lock);
	conn_check_locked();
	if (conn.fd >= 0 && generation == conn.generation) {
		r = conn_release_locked(region_id);
		if (conn_lost(r)) {
			/* the lease ended with the connection */
			conn_lost_locked();
			r = 0;
		}
	}
	pthread_mutex_unlock(&conn_lock);
	return r;
}

bool conn_daemon_absent(void)
{
	char path[SUN_PATH_MAX];
	bool absent;

	if (socket_path(path, sizeof(path)) < 0)
		return false;
	pthread_mutex_lock(&conn_lock);
	absent = conn.absent_until_ms && clock_monotonic_ms() < conn.absent_until_ms &&
		 !strcmp(path, conn.absent_path);
	pthread_mutex_unlock(&conn_lock);
	return absent;
}

void conn_atfork_child(void)
{
	/* another thread of the parent may have held the lock at fork() */
	pthread_mutex_init(&conn_lock, NULL);
	/* the socket stays the parent's: only our copy of the descriptor goes */
	if (conn.fd >= 0)
		close(conn.fd);
	conn.fd = -1;
	conn.unanswered = 0;
	conn.generation++;
	conn.absent_until_ms = 0;
	conn.reclaim = false;
	conn.reconnect = false;
	conn.had_welcome = false;
}

uint64_t conn_generation(void)
{
	return __atomic_load_n(&conn.generation, __ATOMIC_RELAXED);
}

bool conn_reclaim_requested(void)
{
	bool reclaim;

	if (pthread_mutex_trylock(&conn_lock))
		return false;
	conn_check_locked();
	if (conn.fd >= 0 && conn_lost(collect_replies(CONN_MAX_UNANSWERED)))
		conn_lost_locked();
	/* the daemon went away while we hold regions it can count again: connect, register */
	if (conn.fd < 0 && conn.reconnect && clock_monotonic_ms() >= conn.reconnect_ms) {
		conn.reconnect_ms = clock_monotonic_ms() + CONN_RECONNECT_MS;
		(void)conn_connect_locked();
	}
	reclaim = conn.reclaim;
	conn.reclaim = false;
	pthread_mutex_unlock(&conn_lock);
	return reclaim;
}
