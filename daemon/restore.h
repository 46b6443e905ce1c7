/* SPDX-License-Identifier: MIT */
/*
 * Restarts lose nothing (docs/PROTOCOL.md section 14, bhc-arenad(8)).
 *
 * The node state: a file in the daemon's state directory holding a secret
 * key and the number of the last daemon instance. Every start takes the
 * next instance number; region ids carry it in their high bits
 * (BHC_ARENA_REGION_ID_COUNTER_BITS), so no id names two regions on a node,
 * and an id of an earlier instance is recognised as stale.
 *
 * Lease tokens: a client that asks for them (HELLO flag
 * BHC_ARENA_HELLO_LEASE_TOKENS) gets with each GRANT a SipHash-2-4 MAC, under
 * the node key, of the region's id, size, backing, page size, the memfd's
 * device and inode, and the client's uid. After a restart the library sends
 * each region it still holds back with REGISTER (the memfd, the id, the
 * token); the daemon checks all of it and counts the region as the
 * client's lease again. The key survives restarts in the state file, so a
 * new instance verifies tokens of an earlier one.
 *
 * The fd store (under systemd): every warm region's memfd is kept in
 * systemd's file descriptor store (FDSTORE=1, FDNAME=bhc-w.<id>), every
 * leased one too (FDNAME=bhc-l.<id>.<uid>); both entries go when the region
 * is dropped. A new instance gets them back through LISTEN_FDS: warm
 * regions are warm again, leased ones are counted at once and wait
 * (--restore-wait, RESTORE_ORPHAN_MS) for their client to REGISTER them; one nobody claims
 * is let go (closed, never punched: an old client may still use it).
 */
#ifndef BHC_DAEMON_RESTORE_H
#define BHC_DAEMON_RESTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "list.h"
#include "proto.h"

struct server;
struct peer;
struct region;

/* How long a leased region restored from the fd store waits for its client, by default. */
#define RESTORE_ORPHAN_MS 60000u

/* The restart state of a server; embedded in struct server. */
struct restore {
	uint64_t key[2]; /* the node's secret key for lease tokens */
	bool key_persistent; /* read from or written to the state file */
	uint64_t instance; /* this daemon instance: the high bits of its region ids */
	uint64_t previous_instance; /* the instance before, 0 if none is known */
	char *state_file; /* owned; NULL when there is none */
	bool fdstore; /* systemd keeps our memfds across restarts */
	struct list_head orphans; /* struct region.link: restored leases not yet claimed */
	uv_timer_t orphan_timer;
	bool orphan_timer_open;
	/* statistics (admin status "restart") */
	uint64_t n_restored_warm; /* warm regions back from the fd store */
	uint64_t n_restored_leased; /* leased regions back from the fd store */
	uint64_t n_restored_dropped; /* fd store entries not used (closed) */
	uint64_t n_orphans_expired; /* restored leases nobody claimed */
	uint64_t n_reregistered; /* REGISTER accepted */
	uint64_t n_reregister_refused; /* REGISTER refused */
	uint64_t reregistered_bytes;
};

/** restore_set_state_dir() - the directory of the node state (--state-dir); kept by reference. */
void restore_set_state_dir(const char *dir);

/** restore_set_wait_ms() - how long restored leases wait for their clients (--restore-wait). */
void restore_set_wait_ms(uint64_t ms);

/**
 * restore_init() - read (or create) the node state and take the next
 * instance number. Called before
 * the listening socket is set up. Without a state file the key is random
 * and the instance comes from the clock (logged). Takes the descriptors
 * systemd passed: the fd store's are kept for restore_start();
 * @listen_fd: set to the one passed descriptor that is not the store's
 * (the activated socket), or -1; returns how many of those there were, or
 * -errno.
 */
int restore_init(struct server *server, int *listen_fd);

/**
 * restore_start() - the pool is set up (not started): give it this instance's
 * ids and the fd store hooks, and take back the regions the store kept.
 */
void restore_start(struct server *server);

/** restore_next_id_block() - the counter of this instance ran out: take a new instance. */
uint64_t restore_next_id_block(struct server *server);

/** restore_token() - the lease token of @region leased to @uid. */
void restore_token(struct server *server, struct region *region, uid_t uid, uint64_t token[2]);

/** restore_handle_register() - answer REGISTER of @peer; @fd (owned, may be -1) came with it. */
void restore_handle_register(struct peer *peer, const struct proto_msg *msg, int fd);

/** restore_stale_id() - whether @id is of an earlier daemon instance than this one. */
bool restore_stale_id(const struct server *server, uint64_t id);

/** restore_store_warm() - @region became warm: keep its memfd in the fd store. */
void restore_store_warm(struct server *server, struct region *region);

/** restore_store_lease() - @region was leased to @uid: keep that in the fd store. */
void restore_store_lease(struct server *server, struct region *region, uid_t uid);

/** restore_unstore() - @region is being dropped: remove it from the fd store. */
void restore_unstore(struct server *server, struct region *region);

/** restore_stop() - the server stops: close the timer, let the orphans go. */
void restore_stop(struct server *server);

/** restore_free() - free what restore_init() allocated. */
void restore_free(struct server *server);

#endif
