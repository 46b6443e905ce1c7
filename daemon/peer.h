/* SPDX-License-Identifier: MIT */
/*
 * One client connection: an accepted AF_UNIX SOCK_SEQPACKET socket watched
 * with a uv_poll_t. Datagrams are read with recvmsg() (any file descriptor
 * that arrives is closed at once and refused) and answered with sendmsg()
 * (grants carry the region's memfd in SCM_RIGHTS).
 *
 * A connection's requests are handled one at a time, in order: while an
 * acquire waits for a region, or a released region is being punched, the
 * peer reads nothing more. Replies that
 * cannot be sent at once wait in a bounded queue; while it is full the peer
 * reads nothing more either (backpressure), and a peer that leaves its
 * replies unread for [limits] stall_timeout is dropped. A peer that has not
 * said HELLO within [limits] handshake_timeout is dropped too.
 *
 * Leases live as long as the connection: when it closes, for any reason,
 * every region the peer holds is released (punched, closed) and an acquire
 * in progress is cancelled.
 */
#ifndef BHC_DAEMON_PEER_H
#define BHC_DAEMON_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include <bhc/arena-protocol.h>

#include "list.h"
#include "pool.h"

struct server;
struct job;
struct user;

/* A reply waiting to be sent; owned by the peer's queue. */
struct peer_out {
	struct list_head link; /* peer->out */
	int fd; /* passed with SCM_RIGHTS (a dup, owned) or -1 */
	size_t len;
	unsigned char data[];
};

/* Reasons the peer is not being read. */
#define PEER_PAUSE_ACQUIRE 0x1u /* an acquire is in progress */
#define PEER_PAUSE_QUEUE 0x2u /* its reply queue is full */
#define PEER_PAUSE_CLOSING 0x4u /* closing once the queue has drained */
#define PEER_PAUSE_ADMIN 0x8u /* an admin request waits for its uid's [limits] admin_budget */

/* A connection; on server->peers; freed when both uv handles have closed. */
struct peer {
	struct server *server;
	uint64_t id; /* client_id of WELCOME; never reused */
	int fd; /* the connection, closed when the handles are */
	uv_poll_t poll; /* readable / writable / hang-up on fd */
	uv_timer_t timer; /* handshake timeout, later the stall timeout */
	unsigned int n_handles; /* open uv handles; the peer is freed at 0 */
	struct ucred cred; /* SO_PEERCRED at accept */
	struct user *user; /* per-uid accounting (a reference) */
	struct job *job; /* the job of its pid at HELLO (job.h), or NULL */
	uint64_t connected_ns; /* CLOCK_REALTIME of accept */
	struct list_head link; /* server->peers */
	/* HELLO */
	bool said_hello;
	bool admin; /* BHC_ARENA_HELLO_ADMIN: inspects, holds no leases */
	bool lease_tokens; /* BHC_ARENA_HELLO_LEASE_TOKENS: grants carry a token */
	uint32_t hello_pid; /* what the client says its pid is */
	char tag[BHC_ARENA_TAG_MAX];
	/* leases */
	struct list_head leases; /* struct region.link, oldest first */
	uint64_t n_regions; /* leased, plus one while an acquire is in progress */
	uint64_t bytes; /* bytes of those */
	struct pool_acquire acquire; /* the acquire in progress (acquire.pending) */
	uint32_t acquire_seq;
	/*
	 * Released regions whose pages are being punched (struct
	 * region.release_link, oldest first): each one's RELEASED goes out
	 * when its pages are back. Reading goes on meanwhile: an ACQUIRE
	 * that needs the memory waits in the pool for the drops to end.
	 */
	struct list_head releasing;
	/* an admin request deferred by [limits] admin_budget (server->admin_waiting) */
	struct list_head admin_link;
	char *admin_json; /* owned */
	size_t admin_len;
	uint32_t admin_seq;
	int privileged; /* root or admin_group: 1, not: 0, not known yet: -1 */
	uint64_t admin_bytes; /* admin replies sent */
	/* the request being answered (admin replies echo it) */
	uint32_t request_seq;
	uint16_t request_type;
	/* replies */
	struct list_head out; /* struct peer_out.link, oldest first */
	unsigned int n_out;
	size_t out_bytes;
	unsigned int paused; /* PEER_PAUSE_* */
	int poll_events; /* what poll is watching now */
	bool stalled; /* the timer is the stall timer */
	bool closing;
	bool hung_up; /* the client has closed; what it sent is still read */
	/* statistics */
	uint64_t n_requests;
	uint64_t n_acquired;
	uint64_t n_released;
	uint64_t n_errors;
	/* RECLAIM (reclaim.c) */
	uint64_t reclaim_checked_ms; /* uv_now() its headers were last read for one, 0: never */
	uint64_t n_reclaims; /* RECLAIMs sent to it */
	uint64_t reclaim_requests; /* n_requests when the last one was sent */
};

/**
 * peer_new() - adopt the accepted socket @fd (non-blocking, close-on-exec)
 * and start serving it. Returns 0, or -errno and then the caller still owns
 * @fd.
 */
int peer_new(struct server *server, int fd, struct peer **peerp);

/**
 * peer_close() - end the connection: cancel its acquire, release its
 * leases (or, with @abandon at shutdown, leave the pages with the client),
 * log @why, and free the peer once libuv has closed its handles.
 */
void peer_close(struct peer *peer, const char *why, bool abandon);

/**
 * peer_send() - send one datagram (with @fd in SCM_RIGHTS unless -1) or
 * queue it when the socket is full. Returns 0, or -errno when the peer is
 * being closed (the caller just stops).
 */
int peer_send(struct peer *peer, const void *buf, size_t len, int fd);

/**
 * peer_send_error() - answer the request being handled with ERROR @error
 * (a positive errno) and a printf-style text. Returns what peer_send() does.
 */
__attribute__((format(printf, 3, 4))) int peer_send_error(struct peer *peer, int error,
							  const char *fmt, ...);

/** peer_describe() - "peer 7 (pid 123, uid 1000, tag \"job\")" into @buf. */
const char *peer_describe(const struct peer *peer, char *buf, size_t len);

#endif
