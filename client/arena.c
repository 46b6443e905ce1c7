/* SPDX-License-Identifier: MIT */
/*
 * Arenas: creation on a region from a source, the out-of-line parts of the
 * allocation fast path, reset, scopes and statistics.
 *
 * The public struct bhc_arena is the live part of the region header (offset
 * BHC_ARENA_REGION_LIVE_OFFSET): the cursor the inline fast path in
 * <bhc/arena.h> bumps downward from top towards base, the counters, and
 * live.priv, which points at the library's struct arena_priv. The daemon and
 * bhc-arenactl read the live part to see usage without asking the client.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena-internal.h"
#include "common/backing.h"

static int opts_check(const struct bhc_arena_opts *opts)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opts->reserved); i++)
		if (opts->reserved[i])
			return -EINVAL;
	if (opts->backing > BHC_ARENA_BACKING_SMALL)
		return -EINVAL;
	if (opts->page_shift != 0 && opts->page_shift != 21 && opts->page_shift != 30)
		return -EINVAL;
	return 0;
}

/* A source's region must carry a header that matches what the source said. */
static int region_check(const struct region *region, size_t capacity)
{
	const struct bhc_arena_region_info *info = region->addr;

	if (!region->addr || ((uintptr_t)region->addr & (BHC_ARENA_REGION_HEADER_SIZE - 1)))
		return -EPROTO;
	if (region->size <= BHC_ARENA_REGION_HEADER_SIZE ||
	    region->size - BHC_ARENA_REGION_HEADER_SIZE < capacity)
		return -EPROTO;
	if (region->page_shift < 12 || region->page_shift > 40 || !region->source)
		return -EPROTO;
	if (info->magic != BHC_ARENA_REGION_MAGIC || info->version != BHC_ARENA_REGION_VERSION ||
	    info->header_size != BHC_ARENA_REGION_HEADER_SIZE || info->size != region->size ||
	    info->region_id != region->region_id || info->backing != region->backing ||
	    info->page_shift != region->page_shift)
		return -EPROTO;
	return 0;
}

/**
 * arena_start() - start an arena on @ap's region: the live header at the
 * cursor's top, counters zero, the checker told. @ap->region is checked.
 */
void arena_start(struct arena_priv *ap)
{
	char *addr = ap->region.addr;
	struct bhc_arena *arena = (void *)(addr + BHC_ARENA_REGION_LIVE_OFFSET);

	ap->arena = arena;
	ap->base = (uintptr_t)(addr + BHC_ARENA_REGION_HEADER_SIZE);
	ap->top = (uintptr_t)(addr + ap->region.size);
	ap->page_size = (size_t)1 << ap->region.page_shift;
	ap->checked = checked_detect();
	arena->live = (struct bhc_arena_region_live){
		.cursor = ap->top,
		.floor = ap->checked ? UINT64_MAX : ap->base,
		.top = ap->top,
		.base = ap->base,
		.priv = (uintptr_t)ap,
	};
	checked_init(ap);
	arena_list_add(ap);
}

/* Errors of a source that more room would cure: worth giving kept regions back for. */
static bool wants_room(int r)
{
	return r == -ENOMEM || r == -ENOSPC || r == -EDQUOT;
}

/* A new region from the source @mode picks; kept regions go back first if that makes room. */
static int acquire_region(enum bhc_arena_mode mode, const struct region_request *req,
			  size_t capacity, struct region *region)
{
	int r;

	r = source_acquire(mode, req, region);
	if (wants_room(r) && retain_release_all())
		r = source_acquire(mode, req, region);
	if (r < 0)
		return r;
	r = region_check(region, capacity);
	if (r < 0)
		source_release(region);
	return r;
}

/** bhc_arena_new_opts() - create an arena; see bhc_arena(3). */
BHC_EXPORT int bhc_arena_new_opts(size_t capacity, const struct bhc_arena_opts *opts,
				  struct bhc_arena **arenap)
{
	static const struct bhc_arena_opts defaults;
	struct region_request req;
	enum bhc_arena_mode mode;
	struct arena_priv *ap;
	int r;

	if (!arenap || !capacity)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	r = opts_check(opts);
	if (r < 0)
		return r;
	r = source_resolve_mode(opts->mode, &mode);
	if (r < 0)
		return r;
	if (capacity > SIZE_MAX - BHC_ARENA_REGION_HEADER_SIZE)
		return -ENOMEM;
	fork_init();
	req = (struct region_request){
		.size = capacity + BHC_ARENA_REGION_HEADER_SIZE,
		.backing = opts->backing,
		.page_shift = opts->page_shift,
	};

	retain_tick();
	ap = retain_take(mode, &req);
	if (!ap) {
		ap = calloc(1, sizeof(*ap));
		if (!ap)
			return -ENOMEM;
		r = acquire_region(mode, &req, capacity, &ap->region);
		if (r < 0) {
			free(ap);
			return r;
		}
	}
	arena_start(ap);
	*arenap = ap->arena;
	return 0;
}

/** bhc_arena_new() - create an arena of at least @capacity bytes; see bhc_arena(3). */
BHC_EXPORT int bhc_arena_new(size_t capacity, struct bhc_arena **arenap)
{
	return bhc_arena_new_opts(capacity, NULL, arenap);
}

/* End @arena; keep its region for reuse if @keep and the bounds allow, else give it back. */
static void arena_end(struct bhc_arena *arena, bool keep)
{
	struct arena_priv *ap = arena_priv(arena);
	int saved_errno = errno;

	thread_forget_arena(arena);
	arena_list_del(ap);
	if (!keep || !retain_keep(ap)) {
		checked_fini(ap);
		source_release(&ap->region);
		free(ap);
	}
	retain_tick();
	errno = saved_errno;
}

/** arena_give_back() - end @arena and give its region back at once, never keeping it. */
void arena_give_back(struct bhc_arena *arena)
{
	arena_end(arena, false);
}

/**
 * bhc_arena_free() - end the arena. Its region is kept for this process's
 * next arena (retain.c) or given back; errno is left as it was. NULL is a no-op.
 */
BHC_EXPORT void bhc_arena_free(struct bhc_arena *arena)
{
	if (arena)
		arena_end(arena, true);
}

/** bhc_arena__fail() - set errno to @err and return NULL (for the inline functions). */
BHC_EXPORT void *bhc_arena__fail(int err)
{
	errno = err;
	return NULL;
}

/**
 * bhc_arena__alloc_slow() - what the inline bhc_arena_alloc() does not
 * handle: large or invalid alignments, a full arena, and every allocation in
 * checked mode (live.floor is UINT64_MAX then; the real floor is ap->base).
 */
BHC_EXPORT void *bhc_arena__alloc_slow(struct bhc_arena *arena, size_t size, size_t align)
{
	struct arena_priv *ap = arena_priv(arena);
	uint64_t p;

	if (!align || (align & (align - 1)) || align > ap->page_size)
		return bhc_arena__fail(EINVAL);
	if (__builtin_sub_overflow(arena->live.cursor, size, &p))
		return bhc_arena__fail(ENOMEM);
	p &= ~(uint64_t)(align - 1);
	if (p < ap->base)
		return bhc_arena__fail(ENOMEM);
	arena->live.cursor = p;
	arena->live.n_allocs++;
	if (ap->checked)
		checked_alloc(ap, p, size);
	return (void *)(uintptr_t)p;
}

static void note_high_water(struct bhc_arena *arena)
{
	uint64_t used = arena->live.top - arena->live.cursor;

	if (used > arena->live.high_water)
		arena->live.high_water = used;
}

/** bhc_arena_reset() - free every allocation at once, in O(1). */
BHC_EXPORT void bhc_arena_reset(struct bhc_arena *arena)
{
	uint64_t old;

	if (!arena)
		return;
	old = arena->live.cursor;
	note_high_water(arena);
	arena->live.cursor = arena->live.top;
	arena->live.n_resets++;
	if (BHC__UNLIKELY(arena->live.floor == UINT64_MAX))
		checked_release(arena_priv(arena), old, arena->live.top);
}

/**
 * bhc_arena_scope_leave() - rewind to where @scope was entered. A no-op if the
 * arena was reset since then or an enclosing scope already rewound past it.
 */
BHC_EXPORT void bhc_arena_scope_leave(struct bhc_arena_scope *scope)
{
	struct bhc_arena *arena = scope->arena;
	uint64_t old;

	if (!arena)
		return;
	scope->arena = NULL;
	old = arena->live.cursor;
	if (scope->n_resets != arena->live.n_resets || scope->cursor < old ||
	    scope->cursor > arena->live.top)
		return;
	note_high_water(arena);
	arena->live.cursor = scope->cursor;
	if (BHC__UNLIKELY(arena->live.floor == UINT64_MAX))
		checked_release(arena_priv(arena), old, scope->cursor);
}

/** bhc_arena_stats() - a snapshot of @arena; 0 or -EINVAL. */
BHC_EXPORT int bhc_arena_stats(const struct bhc_arena *arena, struct bhc_arena_stats *st)
{
	const struct arena_priv *ap;
	uint64_t cursor;

	if (!arena || !st)
		return -EINVAL;
	ap = arena_priv(arena);
	cursor = arena->live.cursor;
	*st = (struct bhc_arena_stats){
		.capacity = ap->top - ap->base,
		.used = ap->top - cursor,
		.remaining = cursor - ap->base,
		.high_water = arena->live.high_water,
		.n_allocs = arena->live.n_allocs,
		.n_resets = arena->live.n_resets,
		.region_id = ap->region.region_id,
		.region_size = ap->region.size,
		.page_size = ap->page_size,
		.source = ap->region.source->id,
		.backing = ap->region.backing,
		.source_name = ap->region.source->name,
		.backing_name = bhc_arena_backing_name(ap->region.backing, ap->region.page_shift),
	};
	if (st->used > st->high_water)
		st->high_water = st->used;
	return 0;
}

/** bhc_arena_backing_name() - a backing's name as the stats and tools print it. */
BHC_EXPORT const char *bhc_arena_backing_name(enum bhc_arena_backing backing,
					      unsigned int page_shift)
{
	return backing_name(backing, page_shift);
}

/** bhc_arena_version() - the library's version, e.g. "0.1.0". */
BHC_EXPORT const char *bhc_arena_version(void)
{
	return PACKAGE_VERSION;
}
