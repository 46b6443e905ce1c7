/* SPDX-License-Identifier: MIT */
/*
 * Regions the process keeps for its own reuse.
 *
 * bhc_arena_free() keeps an arena's region here instead of giving it back,
 * and bhc_arena_new_opts() takes a kept region that fits before it asks a
 * source. A hit costs a mutex and a few stores: no system call, no round trip
 * to the daemon, no zeroing. The bytes in a kept region are this process's
 * own; a region never reaches another process (the daemon never hands a
 * region out twice, and a fork child forgets this list: the mappings are
 * MADV_DONTFORK, so they are not even mapped there).
 *
 * Bounds, all checked on the library's own calls (it has no thread):
 *  - at most $BHC_ARENA_RETAIN bytes are kept (RETAIN_DEFAULT without it; 0
 *    turns reuse off); past it the region kept longest goes back first;
 *  - a region kept for $BHC_ARENA_RETAIN_IDLE_MS goes back;
 *  - the daemon may ask for kept regions back (RECLAIM): its request is
 *    looked for at most every RECLAIM_POLL_MS while daemon regions are kept;
 *  - an acquire the daemon refuses for want of room gives every kept region
 *    back and tries once more (arena.c);
 *  - everything goes back at exit.
 *
 * Each thread's bhc_with_arena() keeps its last own arena as a spare in front
 * of this list (thread.c): its bytes count against the bound here from the
 * moment it becomes a spare until it leaves the thread (retain_reserve()).
 *
 * The list shares the fork lock with the list of live arenas (arena.c), so a
 * fork child sees both whole.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena-internal.h"
#include "common/clock.h"
#include "common/size.h"
#include "conn.h"

/*
 * Enough for the thread arena of a few threads and the temporaries of a
 * large kernel (three 4096 x 4096 f32 matrices are 192 MiB), and a small
 * share of a compute node's hugepage pool per process; the daemon asks for
 * it back when it runs short anyway.
 */
#define RETAIN_DEFAULT ((size_t)256 << 20)
#define RETAIN_IDLE_MS_DEFAULT 10000u
#define RECLAIM_POLL_MS 100u

static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static size_t retain_max; /* bytes; 0: reuse is off */
static uint64_t retain_idle_ms;

/* Under arena_list_lock(): kept regions, the most recently kept first. */
static struct arena_priv *kept_head, *kept_tail;
static size_t kept_bytes; /* of the regions in the list */
static size_t spare_bytes; /* of the threads' spares (thread.c) */
static unsigned int n_kept_daemon; /* regions in the list that the daemon leased */
static uint64_t reclaim_polled_ms;

/*
 * Bumped when the spares must go back too (the daemon asked for room, or an
 * acquire failed for want of it): each thread drops its spare when it next
 * sees a value it has not seen.
 */
static unsigned long spare_epoch;

/** retain_now_ms() - the clock of kept_ms: coarse (a few ms), a vDSO read. */
uint64_t retain_now_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC_COARSE) / 1000000u;
}

static void config_read(void)
{
	const char *env = getenv("BHC_ARENA_RETAIN");
	unsigned long long v;
	uint64_t bytes;
	char *end;

	retain_max = RETAIN_DEFAULT;
	if (env && *env && size_parse(env, &bytes) == 0)
		retain_max = bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
	retain_idle_ms = RETAIN_IDLE_MS_DEFAULT;
	env = getenv("BHC_ARENA_RETAIN_IDLE_MS");
	if (env && *env >= '0' && *env <= '9') {
		errno = 0;
		v = strtoull(env, &end, 10);
		if (!errno && !*end)
			retain_idle_ms = v;
	}
}

/** retain_limit() - bytes the process may keep; 0 when reuse is off. */
size_t retain_limit(void)
{
	pthread_once(&config_once, config_read);
	return retain_max;
}

static bool from_daemon(const struct arena_priv *ap)
{
	return ap->region.source == &source_daemon;
}

static void kept_unlink_locked(struct arena_priv *ap)
{
	if (ap->prev)
		ap->prev->next = ap->next;
	else
		kept_head = ap->next;
	if (ap->next)
		ap->next->prev = ap->prev;
	else
		kept_tail = ap->prev;
	ap->prev = ap->next = NULL;
	kept_bytes -= ap->region.size;
	if (from_daemon(ap))
		n_kept_daemon--;
}

/* Move the region kept longest onto @out (to be dropped outside the lock). */
static void evict_oldest_locked(struct arena_priv **out)
{
	struct arena_priv *ap = kept_tail;

	kept_unlink_locked(ap);
	ap->next = *out;
	*out = ap;
}

/* Give back regions taken off the list. */
static void drop_list(struct arena_priv *list)
{
	struct arena_priv *ap, *next;

	for (ap = list; ap; ap = next) {
		next = ap->next;
		checked_unkeep(ap);
		source_release(&ap->region);
		free(ap);
	}
}

/* Regions kept past the idle time, and all of them if the daemon asked. */
static void expire_locked(uint64_t now, bool all, struct arena_priv **out)
{
	while (kept_tail && (all || now - kept_tail->kept_ms >= retain_idle_ms))
		evict_oldest_locked(out);
}

/**
 * retain_keep() - keep the region of @ap, whose arena the program freed (it is
 * off the arena list; its checker state is not finished). Returns false if
 * the region must go back (reuse off, larger than the bound): the caller
 * gives it back. Else the list owns @ap, or @ap went back here (the threads'
 * spares leave no room).
 */
bool retain_keep(struct arena_priv *ap)
{
	struct arena_priv *drop = NULL;
	size_t limit = retain_limit();
	bool kept = false;

	if (!limit || ap->region.size > limit)
		return false;
	checked_keep(ap);
	region_set_use(&ap->region, BHC_ARENA_REGION_KEPT);
	ap->kept_ms = retain_now_ms();

	arena_list_lock();
	while (kept_tail && kept_bytes + spare_bytes + ap->region.size > limit)
		evict_oldest_locked(&drop);
	if (kept_bytes + spare_bytes + ap->region.size <= limit) {
		ap->prev = NULL;
		ap->next = kept_head;
		if (kept_head)
			kept_head->prev = ap;
		else
			kept_tail = ap;
		kept_head = ap;
		kept_bytes += ap->region.size;
		if (from_daemon(ap))
			n_kept_daemon++;
		kept = true;
	}
	arena_list_unlock();
	if (!kept) {
		ap->next = drop;
		drop = ap;
	}
	drop_list(drop);
	return true;
}

/* Can @ap serve a request of @req from the source @mode picks? */
static bool fits(const struct arena_priv *ap, enum bhc_arena_mode mode,
		 const struct region_request *req)
{
	const struct region *region = &ap->region;

	if (region->size < req->size || region->size / 2 > req->size)
		return false;
	if (mode == BHC_ARENA_MODE_LOCAL && region->source != &source_local)
		return false;
	if (mode == BHC_ARENA_MODE_DAEMON && region->source != &source_daemon)
		return false;
	if (req->backing && region->backing != req->backing)
		return false;
	return !req->page_shift || region->backing != BHC_ARENA_BACKING_HUGETLB ||
	       region->page_shift == req->page_shift;
}

/**
 * retain_take() - a kept region for @req: the smallest that fits and is at
 * most twice the size asked for. Returns its arena_priv, off the list, with
 * the region marked in use (the caller starts the arena on it), or NULL.
 */
struct arena_priv *retain_take(enum bhc_arena_mode mode, const struct region_request *req)
{
	struct arena_priv *ap, *best = NULL, *drop = NULL;

	if (!retain_limit())
		return NULL;
	arena_list_lock();
	for (ap = kept_head; ap; ap = ap->next)
		if (fits(ap, mode, req) && (!best || ap->region.size < best->region.size))
			best = ap;
	/* a daemon lease of an earlier connection ended with it: not ours to use */
	if (best && !source_reusable(&best->region)) {
		kept_unlink_locked(best);
		drop = best;
		best = NULL;
	} else if (best) {
		kept_unlink_locked(best);
	}
	arena_list_unlock();
	drop_list(drop);
	if (best)
		region_set_use(&best->region, BHC_ARENA_REGION_IN_USE);
	return best;
}

/**
 * retain_tick() - the bounds that time and the daemon set: give back regions
 * kept past the idle time, and every kept region (the spares too) when the
 * daemon asked for room. Cheap: a clock read (vDSO) and, at most every
 * RECLAIM_POLL_MS while daemon regions are kept, a look at the socket.
 */
void retain_tick(void)
{
	struct arena_priv *drop = NULL;
	bool reclaim = false;
	uint64_t now;

	now = retain_now_ms();
	if (!retain_limit()) {
		/* nothing kept; still notice a daemon restart (see below) */
		if (conn_generation() &&
		    now - __atomic_load_n(&reclaim_polled_ms, __ATOMIC_RELAXED) >=
			    RECLAIM_POLL_MS) {
			__atomic_store_n(&reclaim_polled_ms, now, __ATOMIC_RELAXED);
			(void)conn_reclaim_requested();
		}
		return;
	}
	arena_list_lock();
	/* also any daemon connection: a daemon restart is noticed, our regions registered */
	if ((n_kept_daemon || conn_generation()) && now - reclaim_polled_ms >= RECLAIM_POLL_MS) {
		reclaim_polled_ms = now;
		arena_list_unlock();
		reclaim = conn_reclaim_requested();
		arena_list_lock();
	}
	if (kept_tail)
		expire_locked(now, reclaim, &drop);
	if (reclaim)
		__atomic_add_fetch(&spare_epoch, 1, __ATOMIC_RELAXED);
	arena_list_unlock();
	drop_list(drop);
	thread_expire_spare(now, retain_idle_ms);
}

/**
 * retain_release_all() - give every kept region back, and have the threads
 * drop their spares on their next bhc_with_arena(). Returns whether anything
 * was kept.
 */
bool retain_release_all(void)
{
	struct arena_priv *drop = NULL;
	bool any;

	arena_list_lock();
	any = kept_head || spare_bytes;
	expire_locked(0, true, &drop);
	__atomic_add_fetch(&spare_epoch, 1, __ATOMIC_RELAXED);
	arena_list_unlock();
	drop_list(drop);
	return any;
}

/**
 * retain_connection_changed() - a grant came on connection @generation. If
 * that is a new connection, the daemon leases of the old one ended: the
 * threads drop their spares (a kept region is checked when it is taken).
 */
void retain_connection_changed(uint64_t generation)
{
	static uint64_t last;

	if (__atomic_exchange_n(&last, generation, __ATOMIC_RELAXED) != generation)
		__atomic_add_fetch(&spare_epoch, 1, __ATOMIC_RELAXED);
}

/** retain_spare_epoch() - see spare_epoch; a thread drops its spare when this changes. */
unsigned long retain_spare_epoch(void)
{
	return __atomic_load_n(&spare_epoch, __ATOMIC_RELAXED);
}

/**
 * retain_reserve() - make room under the bound for a thread's spare of @bytes,
 * giving back the regions kept longest if need be. Returns false if the
 * other threads' spares leave no room (then the arena is freed instead).
 */
bool retain_reserve(size_t bytes)
{
	struct arena_priv *drop = NULL;
	size_t limit = retain_limit();
	bool ok;

	if (!limit || bytes > limit)
		return false;
	arena_list_lock();
	while (kept_tail && kept_bytes + spare_bytes + bytes > limit)
		evict_oldest_locked(&drop);
	ok = kept_bytes + spare_bytes + bytes <= limit;
	if (ok)
		spare_bytes += bytes;
	arena_list_unlock();
	drop_list(drop);
	return ok;
}

/** retain_unreserve() - a spare of @bytes left its thread. */
void retain_unreserve(size_t bytes)
{
	arena_list_lock();
	spare_bytes -= bytes;
	arena_list_unlock();
}

/** retain_foreach_locked() - call @fn on every kept region; the fork lock is held. */
void retain_foreach_locked(void (*fn)(struct region *region, void *data), void *data)
{
	struct arena_priv *ap;

	for (ap = kept_head; ap; ap = ap->next)
		fn(&ap->region, data);
}

/**
 * retain_forget_all_locked() - in a fork child, with the fork lock held: drop
 * the list without touching a region (none is mapped here) or the daemon.
 */
void retain_forget_all_locked(void)
{
	struct arena_priv *ap, *next;

	for (ap = kept_head; ap; ap = next) {
		next = ap->next;
		checked_unkeep(ap);
		source_forget(&ap->region);
		free(ap);
	}
	kept_head = kept_tail = NULL;
	kept_bytes = spare_bytes = 0;
	n_kept_daemon = 0;
	reclaim_polled_ms = 0;
}
