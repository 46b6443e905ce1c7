/* SPDX-License-Identifier: MIT */
/*
 * Asking clients for the regions they keep (RECLAIM).
 *
 * A client that keeps regions for reuse marks them BHC_ARENA_REGION_KEPT in
 * the region header's state. When the pool is short (an acquire found its
 * size class dry and no region could be made: [limits] total reached, or
 * too few hugepages), the pool calls reclaim_ask(): every client with a
 * kept region, as region_read_usage() reads its leases' headers, is sent
 * RECLAIM through its ordinary send path; it answers by RELEASEing kept
 * regions. When a per-uid limit refuses an acquire, the peer calls
 * reclaim_ask_user() for that user's clients alike. A client whose
 * headers say nothing is kept is never sent one:
 * clients that predate RECLAIM never see it.
 *
 * Each peer's headers are read at most once per RECLAIM_INTERVAL_MS,
 * however often the pool is short, so that a stream of failing acquires
 * cannot make the loop read headers without end. A peer is sent one
 * RECLAIM until it sends a request again: a client that reads its socket
 * only when its program calls the library may be idle for long, and
 * RECLAIMs piling up unread would end with the stall timeout closing it.
 */
#ifndef BHC_DAEMON_RECLAIM_H
#define BHC_DAEMON_RECLAIM_H

#include <stdint.h>

struct server;
struct user;

#define RECLAIM_INTERVAL_MS 100

/**
 * reclaim_ask() - the pool is short of @bytes: send RECLAIM for @bytes to
 * every client (rate-limited per client) that keeps a region that would
 * help: any region when @huge_shift is 0 (room under [limits] total, or
 * memory), else only hugetlb regions of pages of 1 << @huge_shift (a
 * client that keeps only shared-memory regions is not asked when it is
 * hugepages that are short). Returns the number of clients asked.
 */
unsigned int reclaim_ask(struct server *server, uint64_t bytes, uint32_t huge_shift);

/**
 * reclaim_ask_user() - an acquire of @user was refused by a per-uid limit
 * for want of @bytes: send RECLAIM for @bytes to @user's clients that keep
 * a region (rate-limited as reclaim_ask()). Returns the number asked.
 */
unsigned int reclaim_ask_user(struct server *server, const struct user *user, uint64_t bytes);

#endif
