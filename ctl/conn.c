/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl: the admin session. HELLO with BHC_ARENA_HELLO_ADMIN, then
 * ADMIN requests; each reply is a run of ADMIN_REPLY chunks with the
 * request's seq, the last one without BHC_ARENA_ADMIN_MORE. Every message is
 * checked (magic, version, length, type, seq) before it is believed, and any
 * fd that arrives with one is closed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <bhc/arena-protocol.h>

#include "arenactl.h"

/* Room for one datagram: the biggest of a reply chunk and any other message. */
#define RECV_MAX (sizeof(struct bhc_arena_msg_admin_reply) + BHC_ARENA_ADMIN_CHUNK_MAX)

static void set_error(struct ctl_error *err, int error, enum ctl_exit exit, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void set_error(struct ctl_error *err, int error, enum ctl_exit exit, const char *fmt, ...)
{
	va_list ap;

	err->error = error;
	err->exit = exit;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
}

enum ctl_exit ctl_exit_for_errno(int error)
{
	return error == EACCES || error == EPERM ? CTL_EXIT_DENIED : CTL_EXIT_DAEMON;
}

int ctl_socket_path(const char *opt, char *buf, size_t len)
{
	const char *env = getenv("BHC_ARENA_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (opt && *opt)
		n = snprintf(buf, len, "%s", opt);
	else if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() != 0 && xdg && *xdg) {
		/* a user's own daemon if there is one, else the system's */
		n = snprintf(buf, len, "%s/%s", xdg, BHC_ARENA_SOCKET_USER_SUBPATH);
		if (n > 0 && (size_t)n < len && access(buf, F_OK) != 0)
			n = snprintf(buf, len, "%s", BHC_ARENA_SOCKET_PATH);
	} else
		n = snprintf(buf, len, "%s", BHC_ARENA_SOCKET_PATH);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void hdr_init(struct bhc_arena_msg_hdr *hdr, uint16_t type, uint32_t length, uint32_t seq)
{
	hdr->magic = BHC_ARENA_PROTO_MAGIC;
	hdr->version = BHC_ARENA_PROTO_VERSION;
	hdr->type = type;
	hdr->length = length;
	hdr->seq = seq;
}

static int send_msg(struct ctl_conn *conn, const void *msg, size_t len, struct ctl_error *err)
{
	ssize_t n;

	do
		n = send(conn->fd, msg, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		set_error(err, e, e == EAGAIN ? CTL_EXIT_PROTOCOL : CTL_EXIT_CONNECT,
			  "cannot send to bhc-arenad at %s: %s", conn->path,
			  e == EAGAIN ? "timed out" : strerror(e));
		return -e;
	}
	if ((size_t)n != len) {
		set_error(err, EMSGSIZE, CTL_EXIT_PROTOCOL, "short send to bhc-arenad at %s",
			  conn->path);
		return -EMSGSIZE;
	}
	return 0;
}

/* Close every fd that came with a message: an admin session takes none. */
static void close_fds(struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t i, n;
		int fd;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/*
 * Receive one message into @buf (RECV_MAX bytes) and check its header.
 * Returns its length, or -errno with @err filled.
 */
static ssize_t recv_msg(struct ctl_conn *conn, void *buf, struct ctl_error *err)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = RECV_MAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct bhc_arena_msg_hdr hdr;
	ssize_t n;

	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	do
		n = recvmsg(conn->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		if (e == EAGAIN || e == EWOULDBLOCK)
			set_error(err, ETIMEDOUT, CTL_EXIT_PROTOCOL,
				  "bhc-arenad at %s did not answer in time", conn->path);
		else
			set_error(err, e, CTL_EXIT_CONNECT, "lost bhc-arenad at %s: %s", conn->path,
				  strerror(e));
		return e == EAGAIN || e == EWOULDBLOCK ? -ETIMEDOUT : -e;
	}
	close_fds(&mh);
	if (n == 0) {
		set_error(err, ECONNRESET, CTL_EXIT_CONNECT,
			  "bhc-arenad at %s closed the connection", conn->path);
		return -ECONNRESET;
	}
	if (mh.msg_flags & MSG_TRUNC || (size_t)n < sizeof(hdr)) {
		set_error(err, EPROTO, CTL_EXIT_PROTOCOL,
			  "bhc-arenad at %s sent a message of a size the protocol does not allow",
			  conn->path);
		return -EPROTO;
	}
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.magic != BHC_ARENA_PROTO_MAGIC || hdr.length != (uint32_t)n) {
		set_error(err, EPROTO, CTL_EXIT_PROTOCOL,
			  "%s does not speak the bhc-arena protocol (bad magic or length)",
			  conn->path);
		return -EPROTO;
	}
	if (hdr.version != BHC_ARENA_PROTO_VERSION) {
		set_error(
			err, EPROTONOSUPPORT, CTL_EXIT_PROTOCOL,
			"bhc-arenad at %s speaks protocol version %u, this bhc-arenactl speaks %u",
			conn->path, hdr.version, BHC_ARENA_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	return n;
}

/* An ERROR message from the daemon into @err; returns -errno. */
static int take_error(struct ctl_conn *conn, const void *buf, size_t len, const char *what,
		      struct ctl_error *err)
{
	struct bhc_arena_msg_error msg;
	char text[BHC_ARENA_ERROR_TEXT_MAX];
	int e;

	if (len != sizeof(msg)) {
		set_error(err, EPROTO, CTL_EXIT_PROTOCOL,
			  "bhc-arenad sent a malformed error message");
		return -EPROTO;
	}
	memcpy(&msg, buf, sizeof(msg));
	e = msg.error > 0 && msg.error < 4096 ? msg.error : EPROTO;
	msg.text[sizeof(msg.text) - 1] = '\0';
	ctl_sanitize(msg.text, text, sizeof(text));
	set_error(err, e, ctl_exit_for_errno(e), "%s: %s", what, text[0] ? text : strerror(e));
	return -e;
}

int ctl_connect(struct ctl_conn *conn, const char *path, int timeout_ms, struct ctl_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	struct bhc_arena_msg_hello hello;
	struct bhc_arena_msg_welcome welcome;
	void *buf;
	ssize_t n;
	int r;

	memset(conn, 0, sizeof(*conn));
	conn->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path) || strlen(path) >= sizeof(conn->path)) {
		set_error(err, ENAMETOOLONG, CTL_EXIT_USAGE, "socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(conn->path, path);
	strcpy(sa.sun_path, path);
	buf = malloc(RECV_MAX);
	if (!buf) {
		set_error(err, ENOMEM, CTL_EXIT_DAEMON, "out of memory");
		return -ENOMEM;
	}
	conn->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (conn->fd < 0) {
		r = -errno;
		set_error(err, -r, CTL_EXIT_CONNECT, "cannot create a socket: %s", strerror(-r));
		goto out_free;
	}
	if (timeout_ms > 0 &&
	    (setsockopt(conn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	     setsockopt(conn->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)) {
		r = -errno;
		set_error(err, -r, CTL_EXIT_CONNECT, "cannot set socket timeouts: %s",
			  strerror(-r));
		goto out_close;
	}
	if (connect(conn->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		set_error(err, -r, -r == EACCES || -r == EPERM ? CTL_EXIT_DENIED : CTL_EXIT_CONNECT,
			  "cannot connect to bhc-arenad at %s: %s%s", path, strerror(-r),
			  -r == ENOENT || -r == ECONNREFUSED ?
				  " (is bhc-arenad running? see --socket and BHC_ARENA_SOCKET)" :
				  "");
		goto out_close;
	}
	memset(&hello, 0, sizeof(hello));
	hdr_init(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello), ++conn->seq);
	hello.pid = (uint32_t)getpid();
	hello.flags = BHC_ARENA_HELLO_ADMIN;
	r = send_msg(conn, &hello, sizeof(hello), err);
	if (r < 0)
		goto out_close;
	n = recv_msg(conn, buf, err);
	if (n < 0) {
		r = (int)n;
		goto out_close;
	}
	memcpy(&welcome.hdr, buf, sizeof(welcome.hdr));
	if (welcome.hdr.type == BHC_ARENA_MSG_ERROR) {
		r = take_error(conn, buf, (size_t)n, "bhc-arenad refused the admin session", err);
		goto out_close;
	}
	if (welcome.hdr.type != BHC_ARENA_MSG_WELCOME || (size_t)n != sizeof(welcome) ||
	    welcome.hdr.seq != conn->seq) {
		r = -EPROTO;
		set_error(err, EPROTO, CTL_EXIT_PROTOCOL,
			  "bhc-arenad at %s answered the hello with message type %u", path,
			  welcome.hdr.type);
		goto out_close;
	}
	memcpy(&welcome, buf, sizeof(welcome));
	conn->client_id = welcome.client_id;
	conn->daemon_start_ns = welcome.daemon_start_ns;
	conn->max_region_size = welcome.max_region_size;
	conn->page_shift = welcome.page_shift;
	conn->policy = welcome.policy;
	free(buf);
	return 0;

out_close:
	close(conn->fd);
	conn->fd = -1;
out_free:
	free(buf);
	return r;
}

void ctl_close(struct ctl_conn *conn)
{
	if (conn->fd >= 0)
		close(conn->fd);
	conn->fd = -1;
}

/* Send @req as one ADMIN message with a fresh seq. */
static int send_request(struct ctl_conn *conn, struct json_object *req, struct ctl_error *err)
{
	struct bhc_arena_msg_admin *msg;
	const char *json;
	size_t len, total;
	int r;

	json = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (!json) {
		set_error(err, ENOMEM, CTL_EXIT_DAEMON, "out of memory");
		return -ENOMEM;
	}
	len = strlen(json);
	total = sizeof(*msg) + len;
	if (total > BHC_ARENA_MSG_MAX) {
		set_error(err, EMSGSIZE, CTL_EXIT_USAGE,
			  "request too long (%zu bytes, at most %zu)", len,
			  (size_t)BHC_ARENA_MSG_MAX - sizeof(*msg));
		return -EMSGSIZE;
	}
	msg = malloc(total);
	if (!msg) {
		set_error(err, ENOMEM, CTL_EXIT_DAEMON, "out of memory");
		return -ENOMEM;
	}
	hdr_init(&msg->hdr, BHC_ARENA_MSG_ADMIN, (uint32_t)total, ++conn->seq);
	memcpy(msg->json, json, len);
	r = send_msg(conn, msg, total, err);
	free(msg);
	return r;
}

/* Parse the whole of @text (@len bytes) as one JSON object. */
static int parse_reply(struct ctl_conn *conn, const char *text, size_t len,
		       struct json_object **replyp, struct ctl_error *err)
{
	struct json_tokener *tok;
	struct json_object *obj;
	int r = 0;

	if (len > INT32_MAX) {
		set_error(err, EMSGSIZE, CTL_EXIT_PROTOCOL, "admin reply too long");
		return -EMSGSIZE;
	}
	tok = json_tokener_new();
	if (!tok) {
		set_error(err, ENOMEM, CTL_EXIT_DAEMON, "out of memory");
		return -ENOMEM;
	}
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		set_error(err, EBADMSG, CTL_EXIT_PROTOCOL,
			  "bhc-arenad at %s sent an admin reply that is not a JSON object (%s)",
			  conn->path,
			  json_tokener_get_error(tok) == json_tokener_success ?
				  "trailing data or wrong type" :
				  json_tokener_error_desc(json_tokener_get_error(tok)));
		r = -EBADMSG;
	} else {
		*replyp = obj;
	}
	json_tokener_free(tok);
	return r;
}

/* The daemon's error object in @reply (status @status) into @err. */
static int reply_error(struct json_object *reply, int status, struct ctl_error *err)
{
	struct json_object *e = ctl_json_object(reply, "error");
	const char *msg = ctl_json_str(e, "message", NULL);
	char text[400];

	if (status <= 0 || status >= 4096)
		status = EPROTO;
	if (msg)
		ctl_sanitize(msg, text, sizeof(text));
	set_error(err, status, ctl_exit_for_errno(status), "%s", msg ? text : strerror(status));
	return -status;
}

int ctl_request(struct ctl_conn *conn, struct json_object *req, struct json_object **replyp,
		struct ctl_error *err)
{
	struct bhc_arena_msg_admin_reply reply;
	char *buf, *text = NULL;
	size_t len = 0;
	int32_t status = 0;
	bool more = true;
	int r;

	*replyp = NULL;
	if (conn->fd < 0) {
		set_error(err, ENOTCONN, CTL_EXIT_CONNECT, "not connected to bhc-arenad");
		return -ENOTCONN;
	}
	buf = malloc(RECV_MAX);
	if (!buf) {
		set_error(err, ENOMEM, CTL_EXIT_DAEMON, "out of memory");
		return -ENOMEM;
	}
	r = send_request(conn, req, err);
	if (r < 0)
		goto out_free;
	while (more) {
		ssize_t n = recv_msg(conn, buf, err);
		size_t part;
		char *grown;

		if (n < 0) {
			r = (int)n;
			goto out_free;
		}
		memcpy(&reply.hdr, buf, sizeof(reply.hdr));
		if (reply.hdr.seq != conn->seq) {
			/* a late answer to an earlier request (after a timeout): skip it */
			continue;
		}
		if (reply.hdr.type == BHC_ARENA_MSG_ERROR) {
			r = take_error(conn, buf, (size_t)n, "bhc-arenad rejected the request",
				       err);
			goto out_free;
		}
		if (reply.hdr.type != BHC_ARENA_MSG_ADMIN_REPLY || (size_t)n < sizeof(reply)) {
			r = -EPROTO;
			set_error(err, EPROTO, CTL_EXIT_PROTOCOL,
				  "bhc-arenad answered an admin request with message type %u",
				  reply.hdr.type);
			goto out_free;
		}
		memcpy(&reply, buf, sizeof(reply));
		if (reply.status != 0)
			status = reply.status;
		more = reply.flags & BHC_ARENA_ADMIN_MORE;
		part = (size_t)n - sizeof(reply);
		if (len + part > CTL_REPLY_MAX) {
			r = -EMSGSIZE;
			set_error(err, EMSGSIZE, CTL_EXIT_PROTOCOL,
				  "admin reply longer than %u bytes", CTL_REPLY_MAX);
			goto out_free;
		}
		grown = realloc(text, len + part + 1);
		if (!grown) {
			r = -ENOMEM;
			set_error(err, ENOMEM, CTL_EXIT_DAEMON, "out of memory");
			goto out_free;
		}
		text = grown;
		memcpy(text + len, buf + sizeof(reply), part);
		len += part;
	}
	if (!text) {
		r = -EPROTO;
		set_error(err, EPROTO, CTL_EXIT_PROTOCOL, "empty admin reply");
		goto out_free;
	}
	text[len] = '\0';
	r = parse_reply(conn, text, len, replyp, err);
	if (r < 0) {
		/* a bare errno still tells what happened */
		if (status)
			reply_error(NULL, status, err);
		goto out_free;
	}
	if (status || !ctl_json_bool(*replyp, "ok", false))
		r = reply_error(*replyp, status, err);
out_free:
	free(text);
	free(buf);
	return r;
}
