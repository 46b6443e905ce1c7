/* SPDX-License-Identifier: MIT */
/*
 * The pool: every region the daemon holds, the warm size classes that keep
 * regions ready, and the byte and region accounting behind [limits] total.
 *
 * A warm class ([pool] warm = SIZE:TARGET,...) keeps TARGET regions of SIZE
 * bytes, made under the daemon's policy and page size, ready to hand out in
 * O(1); whenever one leaves, a replacement is made asynchronously. An
 * acquire that no warm region fits either waits for a replacement already
 * being made for its class or gets a region made just for it. Nothing here
 * blocks the loop: making and dropping regions runs through the io_uring
 * bridge.
 *
 * Accounting by state (creating, warm, leased, dropping) and by kind of
 * backing is kept in pool->counts for listings and metrics; per-connection
 * and per-uid accounting is the peers' and users' business.
 */
#ifndef BHC_DAEMON_POOL_H
#define BHC_DAEMON_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "list.h"
#include "proto.h"
#include "region.h"

struct config;
struct pool;
struct uring;

/* Kinds of backing for accounting; a region being made has no kind yet. */
enum pool_kind {
	POOL_KIND_HUGETLB_2M,
	POOL_KIND_HUGETLB_1G,
	POOL_KIND_THP,
	POOL_KIND_SMALL,
	POOL_KIND_PENDING,
	POOL_N_KINDS,
};

#define POOL_N_STATES (REGION_DROPPING + 1)

/* Regions and bytes of one (state, kind) cell. */
struct pool_count {
	uint64_t n_regions;
	uint64_t bytes;
};

/* A warm size class; owned by the pool, on pool->classes. */
struct pool_class {
	struct pool *pool;
	uint64_t size; /* bytes of each region */
	unsigned int target; /* warm regions to keep; 0 once retired by a reload */
	unsigned int n_warm; /* regions on @warm */
	unsigned int n_creating; /* regions being made for this class */
	unsigned int n_waiters; /* acquires on @waiters */
	struct list_head warm; /* struct region.link, oldest first */
	struct list_head waiters; /* struct pool_acquire.link, oldest first */
	struct list_head link; /* pool->classes */
	uint64_t retry_at; /* uv_now() before which no refill is tried after a failure */
	bool failing; /* the last attempt failed (logged once per streak) */
	bool settled; /* reached its target, or failed, since start-up */
	uint64_t n_handed_out; /* warm regions leased, ever */
	/*
	 * Demand: acquires of this size, counted with exponential decay (time
	 * constant [pool] warm_window), so about the number of them in the last
	 * window. The class keeps @goal regions warm: @target, raised to that
	 * count (rounded), at most max(target, [pool] warm_max); 0 once retired.
	 */
	unsigned int goal;
	double demand;
	uint64_t demand_ms; /* uv_now() @demand was last brought up to date */
};

/*
 * An acquire in progress. Embedded in the asking peer (one at a time); the
 * pool only reads the request fields and calls @done.
 */
struct pool_acquire {
	/* request, set by the caller */
	uint64_t size; /* rounded up to 1 << page_shift */
	uint64_t request; /* bytes asked for, before rounding */
	uint32_t policy; /* effective enum bhc_arena_hugepage_policy */
	uint32_t page_shift; /* hugetlb page shift asked for */
	/*
	 * Completion when pool_acquire() returned -EINPROGRESS: @region is
	 * leased to the caller, or NULL with @err and @text saying why.
	 */
	void (*done)(struct pool_acquire *acq, struct region *region, int err, const char *text);
	/* private to pool.c */
	bool pending;
	struct pool_class *class; /* waiting on class->waiters */
	bool drop_wait; /* waiting on pool->drop_waiters */
	uint64_t drop_barrier; /* pool->n_drops_started when it came */
	struct list_head link;
	struct region *region; /* made on demand for this acquire */
};

/* The pool; embedded in struct server. */
struct pool {
	uv_loop_t *loop;
	struct uring *uring;
	/* settings (from the config; reloadable ones via pool_configure()) */
	uint32_t policy; /* enum bhc_arena_hugepage_policy */
	uint32_t page_shift; /* default hugetlb page shift */
	uint64_t total_limit; /* [limits] total */
	uint64_t max_region_size; /* [pool] max_region_size */
	unsigned int warm_max; /* [pool] warm_max: most regions demand keeps warm per class */
	uint64_t warm_window_ms; /* [pool] warm_window: time constant of the demand */
	/* state */
	struct list_head classes; /* struct pool_class.link, in config order */
	struct list_head regions; /* struct region.pool_link: every live region */
	struct list_head transit; /* struct region.link: on-demand creating, dropping */
	struct list_head drop_waiters; /* struct pool_acquire.link: waiting for drops to end */
	uint64_t next_region_id;
	uint64_t total_bytes; /* all regions held: creating, warm, leased, dropping */
	struct pool_count counts[POOL_N_STATES][POOL_N_KINDS];
	uv_timer_t retry_timer; /* refill: after hand-outs and drops pause, or a failure backoff */
	bool retry_timer_open;
	uint64_t refill_deferred_since; /* uv_now() of the first refill held back; 0: none */
	bool started;
	bool ready; /* the initial reservation has settled */
	uint64_t start_ms;
	uint64_t initial_bytes; /* bytes the warm classes asked for at start-up */
	bool stopping;
	bool fallback_warned; /* a hugetlb shortage was logged; cleared by a hugetlb success */
	bool falling_back; /* the last region made wanted hugetlb and got shmem */
	uint64_t fallback_warned_ms; /* uv_now() of the last fallback warning */
	uint64_t n_flaps; /* changes between hugetlb and fallback since that warning */
	/* statistics */
	uint64_t n_created;
	uint64_t n_create_failed;
	uint64_t n_fallbacks; /* hugetlb wanted, shmem made (policy prefer) */
	uint64_t n_leased;
	uint64_t n_dropped;
	uint64_t n_drops_started; /* n_dropped of them have ended */
	uint64_t n_cancelled; /* on-demand regions whose acquire went away */
	uint64_t n_demand_shed; /* warm regions above the configured count dropped for room */
	/* callbacks into the server */
	void (*on_change)(struct pool *pool); /* accounting changed (status line) */
	/*
	 * An acquire found its class dry and no region could be made for it,
	 * or only a weaker one ([limits] total reached, hugepages short):
	 * @bytes more would have served it, of any memory (@huge_shift 0) or
	 * of hugepages of 1 << @huge_shift. The server asks clients for the
	 * regions they keep (reclaim.c). Optional.
	 */
	void (*on_short)(struct pool *pool, uint64_t bytes, uint32_t huge_shift);
	void (*on_ready)(struct pool *pool); /* initial reservation settled */
	void (*on_stopped)(struct pool *pool);
	/* a region whose acquire went away (region->charged) is made or gone */
	void (*on_uncharge)(struct pool *pool, struct region *region);
	/* the id counter of this instance ran out: the first id of a new block */
	uint64_t (*on_ids_exhausted)(struct pool *pool);
	/* a region became warm, or is being dropped (the fd store, restore.c) */
	void (*on_warm)(struct pool *pool, struct region *region);
	void (*on_drop)(struct pool *pool, struct region *region);
};

/** pool_init() - set up @pool from @cfg; nothing is reserved until pool_start(). */
int pool_init(struct pool *pool, uv_loop_t *loop, struct uring *uring, const struct config *cfg);

/** pool_start() - reserve the warm classes; on_ready runs once that has settled. */
void pool_start(struct pool *pool);

/**
 * pool_configure() - apply the reloadable settings of @cfg: total limit,
 * largest region, warm classes and their targets. Returns 0 or -ENOMEM.
 */
int pool_configure(struct pool *pool, const struct config *cfg);

/**
 * pool_resolve() - turn an ACQUIRE's flags, page_shift and size into @acq's
 * effective policy, page shift and rounded size. Returns 0, or -errno
 * (EPERM, EFBIG) with @err filled for the client.
 */
int pool_resolve(const struct pool *pool, uint32_t flags, uint32_t page_shift, uint64_t size,
		 struct pool_acquire *acq, struct proto_error *err);

/**
 * pool_acquire() - find or make a region for @acq. Returns 0 with a region
 * leased at once in *@regionp; -EINPROGRESS if @acq->done will run later;
 * or -errno (ENOSPC: total limit; ENOMEM, EOPNOTSUPP, ...) with @err filled,
 * and then @acq->done is not called.
 */
int pool_acquire(struct pool *pool, struct pool_acquire *acq, struct region **regionp,
		 struct proto_error *err);

/** pool_acquire_cancel() - forget a pending @acq (its peer went away); @done is not called. */
void pool_acquire_cancel(struct pool *pool, struct pool_acquire *acq);

/**
 * pool_release() - end a lease: punch the region off the loop, then close
 * and free it. @done (if not NULL) runs with @region and @data once the
 * pages are back, before @region is freed; always later, never from within
 * this call. Returns 0, or -ESHUTDOWN if the region had to be closed at once
 * (the punch could not be started), and then @done is not called.
 */
int pool_release(struct pool *pool, struct region *region,
		 void (*done)(struct region *region, void *data), void *data);

/**
 * pool_abandon() - end a lease at shutdown without punching: the client's
 * mapping stays valid until it unmaps; the daemon just closes its fd.
 */
void pool_abandon(struct pool *pool, struct region *region);

/**
 * pool_resize() - @region, being made, turned out smaller than planned
 * (a shmem fallback of a region sized for larger hugepages): account
 * @size bytes for it from now on.
 */
void pool_resize(struct pool *pool, struct region *region, uint64_t size);

/**
 * pool_adopt() - count @region, of an earlier daemon instance (fd open,
 * size, backing and page_shift set), in @state: REGION_LEASED (the caller
 * lists it with its owner) or REGION_WARM (kept if a warm class of its size,
 * policy and page size has room). Returns false if it was not taken: the
 * caller still owns it.
 */
bool pool_adopt(struct pool *pool, struct region *region, enum region_state state);

/** pool_stop() - drop warm regions, wait for regions in transit; on_stopped runs at the end. */
void pool_stop(struct pool *pool);

/** pool_kind() - accounting kind of a backing. */
enum pool_kind pool_kind(uint32_t backing, uint32_t page_shift);

/** pool_kind_name() - "hugetlb-2M", "hugetlb-1G", "thp", "small" or "pending". */
const char *pool_kind_name(enum pool_kind kind);

/** pool_state_name() - "new", "creating", "warm", "leased" or "dropping". */
const char *pool_state_name(enum region_state state);

/** pool_state_total() - regions and bytes in @state, over all kinds. */
struct pool_count pool_state_total(const struct pool *pool, enum region_state state);

/** pool_format_status() - a one-line summary for STATUS= and the log. */
void pool_format_status(const struct pool *pool, char *buf, size_t len);

/** pool_log_state() - log classes, counts and statistics (SIGUSR1). */
void pool_log_state(const struct pool *pool);

#endif
