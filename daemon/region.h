/* SPDX-License-Identifier: MIT */
/*
 * One region: a sealed memfd, pre-faulted before anyone sees it.
 *
 * Creation runs off the loop: memfd_create() and ftruncate() are cheap and
 * happen at once; fallocate() (mode 0, the whole file) reserves and zeroes
 * every page through the io_uring bridge; then the file is sealed
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL. The daemon never maps a region
 * and never writes to it: the client that is granted it writes the info
 * header (region header version 2). Hugetlb that the pool cannot supply
 * falls back to shmem under the "prefer" policy.
 *
 * A region is sent to one client at most, ever. To drop one, the pool
 * punches the whole file (so the pages go back even while a client keeps a
 * mapping) and then closes it.
 */
#ifndef BHC_DAEMON_REGION_H
#define BHC_DAEMON_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include <bhc/arena-protocol.h>

#include "list.h"
#include "uring.h"

struct pool;
struct pool_class;
struct pool_acquire;
struct peer;
struct user;

enum region_state {
	REGION_NEW, /* allocated, not started */
	REGION_CREATING, /* being reserved off the loop */
	REGION_WARM, /* ready, waiting in its class's warm list */
	REGION_LEASED, /* sent to a peer (region->owner) */
	REGION_DROPPING, /* being punched and closed; never used again */
};

/* Where a region came from (restore.c). */
enum region_origin {
	REGION_MADE = 0, /* made by this instance */
	REGION_REGISTERED, /* of an earlier instance, handed back by its client (REGISTER) */
	REGION_RESTORED, /* of an earlier instance, given back by systemd's fd store */
};

/* A region's entries in systemd's fd store (restore.c). */
#define REGION_STORED_WARM 0x1u
#define REGION_STORED_LEASE 0x2u

/* A region; owned by the pool (pool.c frees it). */
struct region {
	struct pool *pool;
	uint64_t id; /* daemon-unique, never reused, never 0 */
	int fd; /* the memfd, owned; -1 once closed */
	uint64_t size; /* bytes, a multiple of the page size */
	uint64_t request; /* bytes asked for (size before rounding); 0: size */
	uint32_t policy; /* enum bhc_arena_hugepage_policy it was made under */
	uint32_t want_shift; /* hugetlb page shift asked for (21 or 30) */
	uint32_t backing; /* enum bhc_arena_backing, once created */
	uint32_t page_shift; /* page size of the backing, once created */
	uint64_t created_ns; /* CLOCK_REALTIME when it was made (bhc-arenactl) */
	uint64_t leased_ns; /* CLOCK_REALTIME of the grant, 0 if never leased */
	enum region_state state;
	struct pool_class *class; /* size class it belongs to; NULL if made on demand */
	struct pool_acquire *acquire; /* CREATING on demand: who waits for it (NULL: nobody) */
	struct peer *owner; /* LEASED: the peer holding the lease */
	/* CREATING, its acquire gone: the uid still charged for it, and how much */
	struct user *charged;
	uint64_t charged_bytes;
	struct list_head link; /* class->warm, peer->leases or pool->transit */
	struct list_head pool_link; /* pool->regions: every live region */
	struct uring_op op; /* the fallocate in flight */
	void (*created)(struct region *region, int err); /* CREATING: completion */
	void (*punched)(struct region *region, int err); /* DROPPING: completion */
	/* DROPPING: who waits for the pages to be back */
	void (*released)(struct region *region, void *data);
	void *released_data;
	struct list_head release_link; /* DROPPING on a RELEASE: peer->releasing */
	uint32_t release_seq; /* that RELEASE's seq, for the RELEASED */
	char error[BHC_ARENA_ERROR_TEXT_MAX]; /* why creation failed */
	/* restarts (restore.c) */
	uint64_t dev, ino; /* of the memfd, for lease tokens; 0 until read */
	enum region_origin origin;
	unsigned int stored; /* REGION_STORED_* */
	uint32_t restored_uid; /* a restored lease waiting for its client: the lessee's uid */
	uint64_t restored_ns; /* CLOCK_REALTIME when an earlier instance's region came back */
};

/* What a client's live header says, clamped to what is possible. */
struct region_usage {
	bool header_valid; /* info magic and version are intact */
	uint64_t used; /* top - cursor, within [0, size - header_size] */
	uint64_t high_water; /* within [0, size - header_size] */
	uint64_t n_allocs;
	uint64_t n_resets;
	bool clamped; /* the header was damaged or some value out of range */
	/* struct bhc_arena_region_state: believed only with a valid header */
	bool kept; /* the process keeps it for reuse (else an arena uses it) */
	uint64_t kept_ns; /* CLOCK_REALTIME it was last kept, 0 if never or in use */
	uint64_t n_reuses; /* times the process took it again after keeping it */
};

/**
 * region_new() - a region of @size bytes (a multiple of 1 << @want_shift) to
 * be made under @policy; nothing is allocated in the kernel yet.
 * Returns 0 or -ENOMEM.
 */
int region_new(struct pool *pool, uint64_t id, uint64_t size, uint32_t policy, uint32_t want_shift,
	       struct region **regionp);

/** region_free() - close the fd if still open and free @region. */
void region_free(struct region *region);

/**
 * region_create() - start making @region; @created runs on the loop with 0
 * (backing, page_shift set, sealed, still all zero) or -errno (and
 * region->error says why, for the client). Returns 0, or -errno with
 * region->error set if it failed at once (then @created is not called).
 */
int region_create(struct region *region, struct uring *uring,
		  void (*created)(struct region *region, int err));

/**
 * region_punch() - give every page of @region back (fallocate PUNCH_HOLE |
 * KEEP_SIZE over the whole file) off the loop; @punched runs with the result.
 * Returns 0 or -ESHUTDOWN (then @punched is not called).
 */
int region_punch(struct region *region, struct uring *uring,
		 void (*punched)(struct region *region, int err));

/** region_close() - close the memfd now (idempotent). */
void region_close(struct region *region);

/**
 * region_read_usage() - read the live header and the state (the first 192
 * bytes) with pread(2) only (never a mapping: a client may have punched
 * holes, which pread reads as zeros) and clamp every value. A region whose
 * header is invalid or whose state.use is neither in use nor kept counts as
 * in use, and as clamped. Returns 0 or -errno.
 */
int region_read_usage(const struct region *region, struct region_usage *usage);

/** region_shmem_thp() - whether shmem files get transparent hugepages now. */
bool region_shmem_thp(void);

/** region_hugepages_free() - free hugepages of 1 << @shift bytes, or -1. */
long region_hugepages_free(uint32_t shift);

#endif
