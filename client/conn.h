/* SPDX-License-Identifier: MIT */
/*
 * The process's connection to bhc-arenad: one SOCK_SEQPACKET socket shared
 * by every arena of the process and safe to use from many threads (a mutex
 * covers each request and its reply). It is opened on the first request,
 * rebuilt after the daemon went away (regions already mapped stay valid:
 * their memfds stay alive with the mappings), and dropped without a word in
 * a child of fork(), so that the parent's leases end with the parent.
 *
 * Leases live as long as the connection that acquired them. A region
 * therefore remembers the connection generation it came with: releasing a
 * region of an earlier generation sends nothing (that lease ended when its
 * connection did). After the daemon restarted, the new connection first
 * registers every region held with a lease token (conn_reregister_hook()),
 * which moves each one it accepted to the new generation.
 *
 * Replies are awaited at most $BHC_ARENA_TIMEOUT_MS milliseconds (default
 * 30 s). A request whose reply is late is abandoned (-ETIMEDOUT) but the
 * connection is kept, since closing it would end every lease of the
 * process; the late reply is recognised by its sequence number and
 * dropped when it arrives (a late grant is released at once).
 */
#ifndef BHC_CLIENT_CONN_H
#define BHC_CLIENT_CONN_H

#include <stdbool.h>
#include <stdint.h>

/* Reply timeout without $BHC_ARENA_TIMEOUT_MS. */
#define CONN_TIMEOUT_MS_DEFAULT 30000u
/* How long "no daemon at this socket" is believed in auto mode. */
#define CONN_ABSENT_MS 1000u

/* A granted region: the memfd (the caller owns and closes it) and what the GRANT said. */
struct conn_grant {
	int fd;
	uint64_t region_id;
	uint64_t size;
	uint32_t backing; /* enum bhc_arena_backing */
	uint32_t page_shift;
	uint64_t generation; /* of the connection that holds the lease */
	bool has_token; /* the daemon gave a lease token: keep @fd to register the region again */
	uint64_t token[2];
};

/* A region to register with a new daemon instance (REGISTER). */
struct conn_registration {
	int fd; /* the region's memfd (stays the caller's) */
	uint64_t region_id;
	uint64_t size;
	uint32_t backing;
	uint32_t page_shift;
	uint64_t token[2];
};

/**
 * conn_acquire() - ACQUIRE a region of at least @size bytes with the
 * BHC_ARENA_ACQ_* @flags and @page_shift (0: the daemon's). Connects first
 * if needed, and reconnects and retries once if the daemon went away.
 * Returns 0 with *@grant filled (the reply checked field by field), or
 * -errno: the daemon's answer (ENOMEM, EDQUOT, ENOSPC, EPERM, EFBIG, ...),
 * -ECONNREFUSED when no daemon listens at the socket (no socket file
 * included), -EACCES, -EUSERS (the daemon serves no more connections),
 * -ETIMEDOUT, -EPROTO for a reply that breaks the protocol.
 */
int conn_acquire(uint64_t size, uint32_t flags, uint32_t page_shift, struct conn_grant *grant);

/**
 * conn_release() - RELEASE @region_id, leased on connection @generation;
 * the RELEASED is read by a later request (at most CONN_MAX_UNANSWERED
 * wait). Nothing is sent if that connection is gone.
 * Returns 0 (also when the lease had already ended) or -errno.
 */
int conn_release(uint64_t region_id, uint64_t generation);

/**
 * conn_daemon_absent() - whether a connect to the socket that would be used
 * now failed for want of a daemon less than CONN_ABSENT_MS ago, and nothing
 * connected since. Auto mode skips the daemon then.
 */
bool conn_daemon_absent(void);

/** conn_generation() - the current connection's generation (0: none made yet). */
uint64_t conn_generation(void);

/**
 * conn_reclaim_requested() - read what the daemon sent unasked, without
 * waiting, and say whether it asked for kept regions back (RECLAIM) since
 * the last call. Skips the look if another thread is talking to the daemon:
 * that thread's reads notice the request instead.
 */
bool conn_reclaim_requested(void);

/**
 * conn_register_locked() - REGISTER @reg on the current connection and wait
 * for the answer. Only from conn_reregister_hook(), with the connection's
 * lock held. Returns 0, the daemon's refusal as -errno, or another -errno.
 */
int conn_register_locked(const struct conn_registration *reg);

/**
 * conn_reregister_hook() - provided by the daemon source: a connection to a
 * new daemon instance (generation @generation) was made; REGISTER every
 * region held with a token through conn_register_locked(). Runs with the
 * connection's lock held; takes the fork lock.
 */
void conn_reregister_hook(uint64_t generation);

/**
 * conn_atfork_child() - in a child of fork(): close the inherited socket
 * without sending anything and reset all state; the next request connects
 * afresh.
 */
void conn_atfork_child(void);

#endif /* BHC_CLIENT_CONN_H */
