/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "admin.h"
#include "closer.h"
#include "job.h"
#include "log.h"
#include "peer.h"
#include "proto.h"
#include "ratelimit.h"
#include "reclaim.h"
#include "restore.h"
#include "server.h"
#include "user.h"
#include "common/size.h"
#include "common/backing.h"

/* Replies queued before the peer stops being read. */
#define PEER_OUT_MAX_MSGS 64u
#define PEER_OUT_MAX_BYTES (256u * 1024u)
/* Datagrams handled per wake-up, so that one busy peer cannot starve the rest. */
#define PEER_READ_BURST 16
/*
 * Room for every file descriptor a datagram can bring (the kernel's
 * SCM_MAX_FD): fds that do not fit would be released by the kernel in the
 * loop thread (closer.h says why that must not happen).
 */
#define PEER_MAX_FDS 253
/* With this many fds waiting to be closed, a peer that sends one more is dropped. */
#define PEER_CLOSER_BACKLOG 256

static void peer_update_poll(struct peer *peer);
static void peer_flush(struct peer *peer);
static void on_poll(uv_poll_t *poll, int status, int events);

/* Bytes still allowed under @limit when @used are taken (used may exceed a reloaded limit). */
static uint64_t room_left(uint64_t limit, uint64_t used)
{
	return used < limit ? limit - used : 0;
}

const char *peer_describe(const struct peer *peer, char *buf, size_t len)
{
	if (peer->tag[0])
		snprintf(buf, len, "peer %" PRIu64 " (pid %d, uid %u, tag \"%s\")", peer->id,
			 (int)peer->cred.pid, (unsigned int)peer->cred.uid, peer->tag);
	else
		snprintf(buf, len, "peer %" PRIu64 " (pid %d, uid %u)", peer->id,
			 (int)peer->cred.pid, (unsigned int)peer->cred.uid);
	return buf;
}

static void peer_free(struct peer *peer)
{
	/* fds still queued on the socket are released by its close: off the loop */
	if (peer->fd >= 0) {
		shutdown(peer->fd, SHUT_RDWR);
		closer_close(peer->fd);
	}
	free(peer);
}

static void handle_closed(uv_handle_t *handle)
{
	struct peer *peer = handle->data;

	if (--peer->n_handles == 0)
		peer_free(peer);
}

static void out_free(struct peer_out *out)
{
	if (out->fd >= 0)
		close(out->fd);
	free(out);
}

/* Forget the replies still queued for @peer. */
static void drop_replies(struct peer *peer)
{
	while (!list_empty(&peer->out)) {
		struct peer_out *out = list_first_entry(&peer->out, struct peer_out, link);

		list_del(&out->link);
		out_free(out);
	}
	peer->n_out = 0;
	peer->out_bytes = 0;
}

static void pause_reading(struct peer *peer, unsigned int why)
{
	peer->paused |= why;
	peer_update_poll(peer);
}

static void resume_reading(struct peer *peer, unsigned int why)
{
	peer->paused &= ~why;
	peer_update_poll(peer);
}

static void unreserve(struct peer *peer, uint64_t size)
{
	peer->n_regions--;
	peer->bytes -= size;
	peer->user->n_regions--;
	peer->user->bytes -= size;
	job_uncharge(peer->job, size);
}

void peer_close(struct peer *peer, const char *why, bool abandon)
{
	struct server *server = peer->server;
	struct pool *pool = &server->pool;
	uint64_t n = 0, bytes = 0;
	char desc[160], size[32];
	struct region *region;

	if (peer->closing)
		return;
	peer->closing = true;
	if (peer->acquire.pending) {
		region = peer->acquire.region;
		pool_acquire_cancel(pool, &peer->acquire);
		if (region) {
			/*
			 * The region being made for it goes on (a fallocate cannot
			 * be stopped): it stays charged to the uid until it is gone
			 * or kept warm (pool.c, uncharge()), so that connect,
			 * ACQUIRE, close in a loop cannot get around the per-uid
			 * limits.
			 */
			peer->n_regions--;
			peer->bytes -= peer->acquire.size;
			region->charged = peer->user;
			region->charged_bytes = peer->acquire.size;
			peer->user->n_abandoned++;
		} else {
			unreserve(peer, peer->acquire.size);
		}
	}
	while (!list_empty(&peer->releasing)) {
		region = list_first_entry(&peer->releasing, struct region, release_link);
		list_del(&region->release_link);
		region->released = NULL;
		region->released_data = NULL;
	}
	while (!list_empty(&peer->leases)) {
		region = list_first_entry(&peer->leases, struct region, link);
		list_del(&region->link);
		region->owner = NULL;
		n++;
		bytes += region->size;
		unreserve(peer, region->size);
		if (abandon)
			pool_abandon(pool, region);
		else
			pool_release(pool, region, NULL, NULL);
	}
	list_del(&peer->admin_link);
	free(peer->admin_json);
	peer->admin_json = NULL;
	/* a large admin reply leaves freed memory behind: give it back */
	if (peer->admin_bytes >= PEER_OUT_MAX_BYTES / 4)
		server_trim_later(server);
	peer_describe(peer, desc, sizeof(desc));
	size_format_iec(bytes, size, sizeof(size));
	if (abandon && n)
		log_notice("%s disconnected (%s): left %" PRIu64 " regions (%s) with the client",
			   desc, why, n, size);
	else if (peer->said_hello || n)
		server_log_client(peer->server, peer->cred.uid, LOG_INFO,
				  "%s disconnected (%s): released %" PRIu64 " regions (%s)", desc,
				  why, n, size);
	else
		server_log_client(peer->server, peer->cred.uid, LOG_INFO, "%s disconnected (%s)",
				  desc, why);
	drop_replies(peer);
	list_del(&peer->link);
	server->n_peers--;
	user_unref(peer->user);
	peer->user = NULL;
	if (peer->job)
		peer->job->n_peers--;
	peer->job = NULL;
	uv_close((uv_handle_t *)&peer->poll, handle_closed);
	uv_close((uv_handle_t *)&peer->timer, handle_closed);
	server_changed(server);
}

/* Close once the queued replies are out (bounded by the stall timeout). */
static void close_after_flush(struct peer *peer)
{
	if (list_empty(&peer->out)) {
		peer_close(peer, "protocol error", false);
		return;
	}
	pause_reading(peer, PEER_PAUSE_CLOSING);
}

static void on_timer(uv_timer_t *timer)
{
	struct peer *peer = timer->data;
	char desc[160], why[128];

	if (peer->stalled) {
		snprintf(why, sizeof(why), "left %u replies unread for %" PRIu64 " ms", peer->n_out,
			 peer->server->config->stall_timeout_ms);
		server_log_client(peer->server, peer->cred.uid, LOG_WARNING, "%s %s; dropping it",
				  peer_describe(peer, desc, sizeof(desc)), why);
		peer_close(peer, why, false);
		return;
	}
	if (!peer->said_hello) {
		snprintf(why, sizeof(why), "no HELLO within %" PRIu64 " ms",
			 peer->server->config->handshake_timeout_ms);
		peer->request_seq = 0;
		peer->request_type = 0;
		if (peer_send_error(peer, ETIMEDOUT, "%s", why) == 0)
			server_log_client(peer->server, peer->cred.uid, LOG_INFO, "%s: %s",
					  peer_describe(peer, desc, sizeof(desc)), why);
		if (!peer->closing)
			peer_close(peer, why, false);
	}
}

static void start_stall_timer(struct peer *peer)
{
	peer->stalled = true;
	uv_timer_start(&peer->timer, on_timer, peer->server->config->stall_timeout_ms, 0);
}

/* sendmsg() one datagram; 0, -EAGAIN or another -errno. */
static int send_now(struct peer *peer, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	ssize_t n;

	if (fd >= 0) {
		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	do {
		n = sendmsg(peer->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

/*
 * A reply could not be sent. If the client has closed its end, what it
 * sent before closing (its last RELEASEs, say) is still read and handled,
 * until the end of the stream closes the peer; its replies are dropped.
 * Returns 0 if the peer stays, else @err.
 */
static int send_failed(struct peer *peer, int err)
{
	char why[96];

	if ((err == -EPIPE || err == -ECONNRESET) && !(peer->paused & PEER_PAUSE_CLOSING)) {
		peer->hung_up = true;
		drop_replies(peer);
		if (peer->stalled) {
			peer->stalled = false;
			uv_timer_stop(&peer->timer);
		}
		resume_reading(peer, PEER_PAUSE_QUEUE);
		return 0;
	}
	snprintf(why, sizeof(why), "sending failed: %s", strerror(-err));
	peer_close(peer, err == -EPIPE || err == -ECONNRESET ? "connection lost" : why, false);
	return err;
}

int peer_send(struct peer *peer, const void *buf, size_t len, int fd)
{
	struct peer_out *out;
	int r;

	if (peer->closing)
		return -ESHUTDOWN;
	if (peer->hung_up)
		return 0;
	if (list_empty(&peer->out)) {
		r = send_now(peer, buf, len, fd);
		if (r == 0)
			return 0;
		if (r != -EAGAIN)
			return send_failed(peer, r);
	}
	out = malloc(sizeof(*out) + len);
	if (!out) {
		peer_close(peer, "out of memory for its replies", false);
		return -ENOMEM;
	}
	out->fd = -1;
	if (fd >= 0) {
		out->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (out->fd < 0) {
			char why[96];

			r = -errno;
			free(out);
			snprintf(why, sizeof(why), "sending failed: %s", strerror(-r));
			peer_close(peer, why, false);
			return r;
		}
	}
	out->len = len;
	memcpy(out->data, buf, len);
	list_add_tail(&out->link, &peer->out);
	peer->n_out++;
	peer->out_bytes += len;
	if (!peer->stalled && peer->said_hello)
		start_stall_timer(peer);
	if (peer->n_out >= PEER_OUT_MAX_MSGS || peer->out_bytes >= PEER_OUT_MAX_BYTES)
		pause_reading(peer, PEER_PAUSE_QUEUE);
	else
		peer_update_poll(peer);
	return 0;
}

static void peer_flush(struct peer *peer)
{
	bool progress = false;
	int r;

	while (!list_empty(&peer->out)) {
		struct peer_out *out = list_first_entry(&peer->out, struct peer_out, link);

		r = send_now(peer, out->data, out->len, out->fd);
		if (r == -EAGAIN)
			break;
		if (r < 0) {
			send_failed(peer, r);
			return;
		}
		list_del(&out->link);
		peer->n_out--;
		peer->out_bytes -= out->len;
		out_free(out);
		progress = true;
	}
	if (list_empty(&peer->out)) {
		if (peer->stalled) {
			peer->stalled = false;
			uv_timer_stop(&peer->timer);
		}
		if (peer->paused & PEER_PAUSE_CLOSING) {
			peer_close(peer, "protocol error", false);
			return;
		}
	} else if (progress && peer->said_hello) {
		start_stall_timer(peer);
	}
	if ((peer->paused & PEER_PAUSE_QUEUE) && peer->n_out < PEER_OUT_MAX_MSGS / 2 &&
	    peer->out_bytes < PEER_OUT_MAX_BYTES / 2)
		resume_reading(peer, PEER_PAUSE_QUEUE);
	else
		peer_update_poll(peer);
}

static void peer_update_poll(struct peer *peer)
{
	int events = UV_DISCONNECT, r;

	if (peer->closing)
		return;
	if (!peer->paused)
		events |= UV_READABLE;
	if (!list_empty(&peer->out))
		events |= UV_WRITABLE;
	if (events == peer->poll_events)
		return;
	peer->poll_events = events;
	r = uv_poll_start(&peer->poll, events, on_poll);
	if (r < 0)
		log_err("peer %" PRIu64 ": uv_poll_start: %s", peer->id, uv_strerror(r));
}

int peer_send_error(struct peer *peer, int error, const char *fmt, ...)
{
	struct proto_error err;
	struct bhc_arena_msg_error m;
	va_list ap;

	memset(&err, 0, sizeof(err));
	err.error = error;
	err.request_type = peer->request_type;
	err.seq = peer->request_seq;
	va_start(ap, fmt);
	vsnprintf(err.text, sizeof(err.text), fmt, ap);
	va_end(ap);
	proto_encode_error(&m, &err);
	peer->n_errors++;
	return peer_send(peer, &m, sizeof(m), -1);
}

static int send_proto_error(struct peer *peer, const struct proto_error *err)
{
	struct bhc_arena_msg_error m;

	proto_encode_error(&m, err);
	peer->n_errors++;
	return peer_send(peer, &m, sizeof(m), -1);
}

/* Answer a refused message; before HELLO or when fatal, the connection ends. */
static void refuse(struct peer *peer, const struct proto_error *err)
{
	char desc[160];

	server_log_client(peer->server, peer->cred.uid, LOG_DEBUG, "%s: refused %s: %s",
			  peer_describe(peer, desc, sizeof(desc)),
			  proto_type_name(err->request_type), err->text);
	if (send_proto_error(peer, err) < 0)
		return;
	if (err->fatal || !peer->said_hello) {
		server_log_client(peer->server, peer->cred.uid, LOG_INFO,
				  "%s: %s; closing the connection", desc, err->text);
		close_after_flush(peer);
	}
}

static void handle_hello(struct peer *peer, const struct proto_msg *msg)
{
	struct server *server = peer->server;
	struct bhc_arena_msg_welcome m;
	char desc[160];

	if (peer->said_hello) {
		peer_send_error(peer, EPROTO, "HELLO was already received on this connection");
		return;
	}
	peer->said_hello = true;
	peer->admin = msg->hello.flags & BHC_ARENA_HELLO_ADMIN;
	peer->lease_tokens = msg->hello.flags & BHC_ARENA_HELLO_LEASE_TOKENS;
	peer->hello_pid = msg->hello.pid;
	memcpy(peer->tag, msg->hello.tag, sizeof(peer->tag));
	if (!peer->admin)
		peer->job = job_of_pid(&server->jobs, peer->cred.pid);
	if (peer->job)
		peer->job->n_peers++;
	uv_timer_stop(&peer->timer);
	proto_encode_welcome(&m, msg->seq, peer->id, server->start_ns, server->pool.max_region_size,
			     server->pool.page_shift, server->pool.policy);
	server_log_client(peer->server, peer->cred.uid, LOG_INFO, "%s connected%s",
			  peer_describe(peer, desc, sizeof(desc)),
			  peer->admin ? " (admin session)" : "");
	peer_send(peer, &m, sizeof(m), -1);
	server_changed(server);
}

static void grant(struct peer *peer, struct region *region, uint32_t seq)
{
	struct bhc_arena_msg_grant m;
	char desc[160], size[32];

	/* a shmem fallback may be smaller than what was reserved (pool_resize()) */
	if (region->size != peer->acquire.size) {
		peer->bytes = peer->bytes - peer->acquire.size + region->size;
		peer->user->bytes = peer->user->bytes - peer->acquire.size + region->size;
	}

	region->owner = peer;
	list_add_tail(&region->link, &peer->leases);
	peer->n_acquired++;
	peer->user->n_acquired++;
	job_granted(peer->job);
	server_log_client(peer->server, peer->cred.uid, LOG_DEBUG,
			  "%s: leased region %" PRIu64 " (%s, %s)",
			  peer_describe(peer, desc, sizeof(desc)), region->id,
			  size_format_iec(region->size, size, sizeof(size)),
			  backing_name(region->backing, region->page_shift));
	restore_store_lease(peer->server, region, peer->cred.uid);
	if (peer->lease_tokens) {
		struct bhc_arena_msg_grant_token t;
		uint64_t token[2];

		restore_token(peer->server, region, peer->cred.uid, token);
		proto_encode_grant_token(&t, seq, region->id, region->size, region->backing,
					 region->page_shift, token);
		peer_send(peer, &t, sizeof(t), region->fd);
		return;
	}
	proto_encode_grant(&m, seq, region->id, region->size, region->backing, region->page_shift);
	peer_send(peer, &m, sizeof(m), region->fd);
}

static void acquire_done(struct pool_acquire *acq, struct region *region, int err, const char *text)
{
	struct peer *peer = container_of(acq, struct peer, acquire);

	peer->request_seq = peer->acquire_seq;
	peer->request_type = BHC_ARENA_MSG_ACQUIRE;
	if (region) {
		grant(peer, region, peer->acquire_seq);
	} else {
		unreserve(peer, acq->size);
		peer_send_error(peer, -err, "%s", text);
	}
	if (!peer->closing)
		resume_reading(peer, PEER_PAUSE_ACQUIRE);
}

/* [limits] per_connection_* and per_uid_*: 0 if @size more fits, else EDQUOT was sent. */
static int check_quota(struct peer *peer, uint64_t size)
{
	const struct config *cfg = peer->server->config;
	struct user *user = peer->user;
	char held[32], asked[32], limit[32], text[BHC_ARENA_ERROR_TEXT_MAX];

	size_format_iec(size, asked, sizeof(asked));
	if (cfg->per_connection_regions && peer->n_regions + 1 > cfg->per_connection_regions) {
		peer_send_error(peer, EDQUOT,
				"per-connection region limit reached: %" PRIu64
				" regions held ([limits] per_connection_regions = %" PRIu64 ")",
				peer->n_regions, cfg->per_connection_regions);
		return -EDQUOT;
	}
	if (cfg->per_connection_bytes && size > room_left(cfg->per_connection_bytes, peer->bytes)) {
		peer_send_error(peer, EDQUOT,
				"per-connection byte limit reached: %s held + %s asked > %s "
				"([limits] per_connection_bytes)",
				size_format_iec(peer->bytes, held, sizeof(held)), asked,
				size_format_iec(cfg->per_connection_bytes, limit, sizeof(limit)));
		return -EDQUOT;
	}
	if (cfg->per_uid_regions && user->n_regions + 1 > cfg->per_uid_regions) {
		user->n_refused++;
		reclaim_ask_user(peer->server, user, size);
		peer_send_error(peer, EDQUOT,
				"per-uid region limit reached for uid %u: %" PRIu64
				" regions held ([limits] per_uid_regions = %" PRIu64 ")",
				(unsigned int)user->uid, user->n_regions, cfg->per_uid_regions);
		return -EDQUOT;
	}
	if (cfg->per_uid_bytes && size > room_left(cfg->per_uid_bytes, user->bytes)) {
		user->n_refused++;
		reclaim_ask_user(peer->server, user,
				 size - room_left(cfg->per_uid_bytes, user->bytes));
		peer_send_error(peer, EDQUOT,
				"per-uid byte limit reached for uid %u: %s held + %s asked > %s "
				"([limits] per_uid_bytes)",
				(unsigned int)user->uid,
				size_format_iec(user->bytes, held, sizeof(held)), asked,
				size_format_iec(cfg->per_uid_bytes, limit, sizeof(limit)));
		return -EDQUOT;
	}
	if (job_check(peer->job, size, text, sizeof(text)) < 0) {
		peer_send_error(peer, EDQUOT, "%s", text);
		return -EDQUOT;
	}
	return 0;
}

static void handle_acquire(struct peer *peer, const struct proto_msg *msg)
{
	struct pool *pool = &peer->server->pool;
	struct pool_acquire *acq = &peer->acquire;
	struct proto_error err;
	struct region *region;
	int r;

	if (peer->admin) {
		peer_send_error(peer, EPERM, "an admin session holds no leases");
		return;
	}
	r = pool_resolve(pool, msg->acquire.flags, msg->acquire.page_shift, msg->acquire.size, acq,
			 &err);
	if (r < 0) {
		err.seq = msg->seq;
		send_proto_error(peer, &err);
		return;
	}
	if (check_quota(peer, acq->size) < 0)
		return;
	peer->n_regions++;
	peer->bytes += acq->size;
	peer->user->n_regions++;
	peer->user->bytes += acq->size;
	job_charge(peer->job, acq->size);
	acq->done = acquire_done;
	peer->acquire_seq = msg->seq;
	r = pool_acquire(pool, acq, &region, &err);
	if (r == 0) {
		grant(peer, region, msg->seq);
	} else if (r == -EINPROGRESS) {
		pause_reading(peer, PEER_PAUSE_ACQUIRE);
	} else {
		unreserve(peer, acq->size);
		err.seq = msg->seq;
		send_proto_error(peer, &err);
	}
}

static void send_released(struct peer *peer, uint32_t seq, uint64_t region_id)
{
	struct bhc_arena_msg_released m;

	proto_encode_released(&m, seq, region_id);
	peer_send(peer, &m, sizeof(m), -1);
}

/* A released region's pages are back: now say RELEASED. */
static void release_done(struct region *region, void *data)
{
	struct peer *peer = data;

	list_del(&region->release_link);
	send_released(peer, region->release_seq, region->id);
}

static void handle_release(struct peer *peer, const struct proto_msg *msg)
{
	struct region *region = NULL;
	struct list_head *pos;

	list_for_each(pos, &peer->leases) {
		struct region *r = list_entry(pos, struct region, link);

		if (r->id == msg->release.region_id) {
			region = r;
			break;
		}
	}
	if (!region && restore_stale_id(peer->server, msg->release.region_id)) {
		peer_send_error(peer, ESTALE,
				"region %" PRIu64 " is of daemon instance %" PRIu64
				", not of this one (%" PRIu64 "): REGISTER it first",
				msg->release.region_id,
				BHC_ARENA_REGION_ID_INSTANCE(msg->release.region_id),
				peer->server->restore.instance);
		return;
	}
	if (!region) {
		peer_send_error(peer, ENOENT, "region %" PRIu64 " is not leased on this connection",
				msg->release.region_id);
		return;
	}
	list_del(&region->link);
	region->owner = NULL;
	unreserve(peer, region->size);
	peer->n_released++;
	if (pool_release(&peer->server->pool, region, release_done, peer) < 0) {
		/* closed and freed at once */
		send_released(peer, msg->seq, msg->release.region_id);
		return;
	}
	region->release_seq = msg->seq;
	list_add_tail(&region->release_link, &peer->releasing);
}

/*
 * [limits] admin_budget: loop time a second for the admin requests of one
 * uid that is not an admin. status, regions and snapshot cost time in
 * proportion to what they list; 8 sessions looping snapshot over 1024
 * regions pinned the loop and multiplied everybody's acquire latency by
 * 70. Each request is charged the time it took; while the uid's budget is
 * spent, its next request waits (the peer is not read) until it is back.
 * Root and admin_group are not limited.
 */
static struct ratelimit *admin_limit(struct peer *peer)
{
	struct server *server = peer->server;
	const struct config *cfg = server->config;

	if (!cfg->admin_budget_ms)
		return NULL;
	if (peer->privileged < 0)
		peer->privileged = admin_privileged(cfg->admin_group, peer->fd, &peer->cred);
	if (peer->privileged)
		return NULL;
	/* in microseconds; follows reloads */
	server->admin_limit.burst = cfg->admin_budget_ms * 1000;
	server->admin_limit.rate = cfg->admin_budget_ms * 1000;
	return &server->admin_limit;
}

static void run_admin(struct peer *peer, const char *json, size_t len)
{
	struct ratelimit *rl = admin_limit(peer);
	uint64_t start = rl ? ratelimit_now_ns() : 0, now;
	int r;

	r = admin_handle(peer->server, peer, json, len);
	if (r < 0 && !peer->closing)
		peer_send_error(peer, -r, "admin request failed: %s", strerror(-r));
	if (rl) {
		now = ratelimit_now_ns();
		ratelimit_charge(rl, peer->cred.uid, (now - start) / 1000 + 1, now);
	}
}

static void on_admin_timer(uv_timer_t *timer)
{
	struct server *server = timer->data;
	struct list_head *pos, *n;
	uint64_t next = 0, wait;

	list_for_each_safe(pos, n, &server->admin_waiting) {
		struct peer *peer = list_entry(pos, struct peer, admin_link);
		struct ratelimit *rl = admin_limit(peer);
		char *json;

		wait = rl ? ratelimit_wait_ms(rl, peer->cred.uid, ratelimit_now_ns()) : 0;
		if (wait) {
			next = next && next < wait ? next : wait;
			continue;
		}
		list_del(&peer->admin_link);
		json = peer->admin_json;
		peer->admin_json = NULL;
		peer->request_seq = peer->admin_seq;
		peer->request_type = BHC_ARENA_MSG_ADMIN;
		run_admin(peer, json, peer->admin_len);
		free(json);
		if (!peer->closing)
			resume_reading(peer, PEER_PAUSE_ADMIN);
	}
	if (next && !server->stopping)
		uv_timer_start(&server->admin_timer, on_admin_timer, next, 0);
}

static void handle_admin(struct peer *peer, const struct proto_msg *msg)
{
	struct server *server = peer->server;
	struct ratelimit *rl = admin_limit(peer);
	uint64_t wait = rl ? ratelimit_wait_ms(rl, peer->cred.uid, ratelimit_now_ns()) : 0;

	if (!wait) {
		run_admin(peer, msg->admin.json, msg->admin.len);
		return;
	}
	peer->admin_json = malloc(msg->admin.len);
	if (!peer->admin_json) {
		peer_send_error(peer, ENOMEM, "admin request failed: %s", strerror(ENOMEM));
		return;
	}
	memcpy(peer->admin_json, msg->admin.json, msg->admin.len);
	peer->admin_len = msg->admin.len;
	peer->admin_seq = msg->seq;
	list_add_tail(&peer->admin_link, &server->admin_waiting);
	pause_reading(peer, PEER_PAUSE_ADMIN);
	if (!uv_is_active((uv_handle_t *)&server->admin_timer) ||
	    uv_timer_get_due_in(&server->admin_timer) > wait)
		uv_timer_start(&server->admin_timer, on_admin_timer, wait, 0);
}

static void dispatch(struct peer *peer, const struct proto_msg *msg)
{
	struct proto_error err;

	peer->request_seq = msg->seq;
	peer->request_type = msg->type;
	peer->n_requests++;
	if (!peer->said_hello && msg->type != BHC_ARENA_MSG_HELLO) {
		proto_set_error(&err, EPROTO, msg->type, msg->seq, true,
				"expected HELLO first, got %s", proto_type_name(msg->type));
		if (msg->type == BHC_ARENA_MSG_REGISTER && msg->reg.fd >= 0)
			close(msg->reg.fd);
		refuse(peer, &err);
		return;
	}
	switch (msg->type) {
	case BHC_ARENA_MSG_HELLO:
		handle_hello(peer, msg);
		break;
	case BHC_ARENA_MSG_ACQUIRE:
		handle_acquire(peer, msg);
		break;
	case BHC_ARENA_MSG_RELEASE:
		handle_release(peer, msg);
		break;
	case BHC_ARENA_MSG_ADMIN:
		handle_admin(peer, msg);
		break;
	case BHC_ARENA_MSG_REGISTER:
		restore_handle_register(peer, msg, msg->reg.fd);
		break;
	}
}

/*
 * REGISTER alone brings a descriptor: if the datagram is one, with exactly
 * one fd, take it out of @mh (the rest is closed as for any message).
 */
static int take_register_fd(struct msghdr *mh, const void *buf, ssize_t n)
{
	struct bhc_arena_msg_hdr hdr;
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(mh);
	int fd;

	if (n < (ssize_t)sizeof(hdr) || (mh->msg_flags & MSG_CTRUNC) || !cmsg)
		return -1;
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.magic != BHC_ARENA_PROTO_MAGIC || hdr.type != BHC_ARENA_MSG_REGISTER ||
	    cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(sizeof(int)) || CMSG_NXTHDR(mh, cmsg))
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	mh->msg_controllen = 0;
	return fd;
}

/* Close every fd in SCM_RIGHTS messages (off the loop); returns how many there were. */
static unsigned int close_passed_fds(struct msghdr *mh)
{
	const struct linger no_linger = { .l_onoff = 1, .l_linger = 0 };
	unsigned int n = 0;
	struct cmsghdr *cmsg;

	for (cmsg = CMSG_FIRSTHDR(mh); cmsg; cmsg = CMSG_NXTHDR(mh, cmsg)) {
		size_t i, count;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
			/*
			 * A socket (TCP with SO_LINGER and unsent data) closes at
			 * once with linger 0 (an abortive close); anything else
			 * whose release may wait (a socket carrying fds in flight,
			 * a file on a stalled server) blocks only the closer.
			 */
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
			closer_close(fd);
			n++;
		}
	}
	return n;
}

/* A recvmsg() of 0 bytes: the end of the connection, or an empty datagram? */
static bool at_eof(struct peer *peer)
{
	struct pollfd pfd = { .fd = peer->fd, .events = POLLIN | POLLRDHUP };

	if (poll(&pfd, 1, 0) < 0)
		return true;
	return (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

/* Read and handle one datagram; false when there is nothing more to read now. */
static bool read_one(struct peer *peer)
{
	unsigned char buf[BHC_ARENA_MSG_MAX];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(PEER_MAX_FDS * sizeof(int))];
	} ctrl;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl.buf,
		.msg_controllen = sizeof(ctrl.buf),
	};
	struct proto_error err;
	struct proto_msg msg;
	char why[96];
	unsigned int n_fds;
	int reg_fd;
	ssize_t n;

	do {
		n = recvmsg(peer->fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		/*
		 * The client closed with replies unread (RELEASEDs, which it does
		 * not wait for): the kernel says so once, before the requests
		 * it sent last. Those are still handled, its releases first of
		 * all; nobody is there for the replies.
		 */
		if (errno == ECONNRESET && !peer->hung_up) {
			peer->hung_up = true;
			return true;
		}
		snprintf(why, sizeof(why), "receive failed: %m");
		peer_close(peer, errno == ECONNRESET ? "connection reset" : why, false);
		return false;
	}
	reg_fd = take_register_fd(&mh, buf, n);
	n_fds = close_passed_fds(&mh);
	if (n == 0 && !n_fds && !(mh.msg_flags & MSG_CTRUNC) && at_eof(peer)) {
		peer_close(peer, "closed by the client", false);
		return false;
	}
	if (n_fds || (mh.msg_flags & MSG_CTRUNC)) {
		struct bhc_arena_msg_hdr hdr = { 0 };

		if ((size_t)n >= sizeof(hdr))
			memcpy(&hdr, buf, sizeof(hdr));
		/* a stream of fds that take long to close: stop taking them from this peer */
		proto_set_error(&err, EPERM, hdr.magic == BHC_ARENA_PROTO_MAGIC ? hdr.type : 0,
				hdr.magic == BHC_ARENA_PROTO_MAGIC ? hdr.seq : 0,
				closer_pending() > PEER_CLOSER_BACKLOG,
				"file descriptors are not accepted (%u closed)", n_fds);
		peer->request_type = err.request_type;
		peer->request_seq = err.seq;
		refuse(peer, &err);
		return !peer->closing && !peer->paused;
	}
	if (proto_decode(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), (size_t)n, &msg,
			 &err) < 0) {
		if (reg_fd >= 0)
			closer_close(reg_fd);
		peer->request_type = err.request_type;
		peer->request_seq = err.seq;
		refuse(peer, &err);
		return !peer->closing && !peer->paused;
	}
	if (msg.type == BHC_ARENA_MSG_REGISTER)
		msg.reg.fd = reg_fd;
	else if (reg_fd >= 0)
		closer_close(reg_fd);
	dispatch(peer, &msg);
	return !peer->closing && !peer->paused;
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	struct peer *peer = poll->data;
	char why[96];
	int i;

	if (status < 0) {
		/*
		 * libuv reports POLLERR as UV_EBADF and stops watching. On a
		 * Unix socket that is the client closing with replies unread:
		 * read_one() finds ECONNRESET, then what the client sent last.
		 */
		if (status == UV_EBADF) {
			while (!peer->closing && !peer->paused && read_one(peer))
				;
		}
		snprintf(why, sizeof(why), "poll error: %s", uv_strerror(status));
		peer_close(peer, peer->hung_up ? "closed by the client" : why, false);
		return;
	}
	if (events & UV_WRITABLE) {
		peer_flush(peer);
		if (peer->closing)
			return;
	}
	if (!peer->paused && (events & (UV_READABLE | UV_DISCONNECT))) {
		for (i = 0; i < PEER_READ_BURST; i++) {
			if (!read_one(peer))
				break;
		}
		return;
	}
	/* Not reading, and the client hung up: what it left unread does not matter. */
	if (events & UV_DISCONNECT)
		peer_close(peer, "closed by the client", false);
}

int peer_new(struct server *server, int fd, struct peer **peerp)
{
	socklen_t len = sizeof(struct ucred);
	struct peer *peer;
	int r;

	peer = calloc(1, sizeof(*peer));
	if (!peer)
		return -ENOMEM;
	peer->server = server;
	peer->fd = fd;
	list_init(&peer->leases);
	list_init(&peer->releasing);
	list_init(&peer->out);
	list_init(&peer->link);
	list_init(&peer->admin_link);
	list_init(&peer->acquire.link);
	peer->privileged = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer->cred, &len) < 0) {
		r = -errno;
		goto out_free;
	}
	r = user_ref(&server->users, peer->cred.uid, &peer->user);
	if (r < 0)
		goto out_free;
	r = uv_poll_init(server->loop, &peer->poll, fd);
	if (r < 0)
		goto out_unref;
	peer->poll.data = peer;
	peer->n_handles++;
	r = uv_timer_init(server->loop, &peer->timer);
	if (r < 0)
		goto out_close_poll;
	peer->timer.data = peer;
	peer->n_handles++;
	r = uv_poll_start(&peer->poll, UV_READABLE | UV_DISCONNECT, on_poll);
	if (r < 0)
		goto out_close_handles;
	peer->poll_events = UV_READABLE | UV_DISCONNECT;
	uv_timer_start(&peer->timer, on_timer, server->config->handshake_timeout_ms, 0);
	peer->connected_ns = clock_realtime_ns();
	peer->id = ++server->next_peer_id;
	list_add_tail(&peer->link, &server->peers);
	server->n_peers++;
	*peerp = peer;
	return 0;

out_close_handles:
	/* The handles close asynchronously; the peer is freed then, without the fd. */
	peer->fd = -1;
	user_unref(peer->user);
	uv_close((uv_handle_t *)&peer->timer, handle_closed);
	uv_close((uv_handle_t *)&peer->poll, handle_closed);
	return r;
out_close_poll:
	peer->fd = -1;
	user_unref(peer->user);
	uv_close((uv_handle_t *)&peer->poll, handle_closed);
	return r;
out_unref:
	user_unref(peer->user);
out_free:
	free(peer);
	return r;
}
