/* SPDX-License-Identifier: MIT */
/*
 * Checked mode: arenas under AddressSanitizer or Valgrind memcheck.
 *
 * A bump allocator hides its allocations from memory checkers: to them the
 * region is one big block, so a use after reset or after a scope exit goes
 * unnoticed. In checked mode the library tells the checker what is handed out
 * and what is given back:
 *
 *  - AddressSanitizer: the data area is poisoned at creation; an allocation
 *    unpoisons exactly its bytes (to ASan's 8-byte granularity); a reset or
 *    scope exit poisons what it frees, so touching it later is reported as a
 *    use-after-poison.
 *  - Valgrind: the arena is a mempool (VALGRIND_CREATE_MEMPOOL on the arena
 *    handle), each allocation a VALGRIND_MEMPOOL_ALLOC chunk, and a reset or
 *    scope exit trims the pool to what survives.
 *
 * The inline fast path in <bhc/arena.h> knows nothing of this: checked mode
 * sets live.floor to UINT64_MAX, so its capacity test always fails and every
 * allocation takes bhc_arena__alloc_slow(), which bumps against the real floor
 * (its private copy of live.base) and calls checked_alloc(). Unchecked
 * programs pay nothing.
 *
 * ASan is detected at run time through weak references to its interface, so
 * a program built with -fsanitize=address gets checked arenas from a library
 * built without it. The references have default visibility: a hidden weak
 * undefined symbol would be resolved (to NULL) when the library is linked.
 */
#include <stddef.h>
#include <stdint.h>

#include "arena-internal.h"
#include "valgrind-stub.h"

extern void __asan_poison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak, visibility("default")));
extern void __asan_unpoison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak, visibility("default")));

static void *ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

/** checked_detect() - the memory checker this process runs under, if any. */
enum checked_kind checked_detect(void)
{
	if (__asan_poison_memory_region && __asan_unpoison_memory_region)
		return CHECKED_ASAN;
	if (RUNNING_ON_VALGRIND)
		return CHECKED_VALGRIND;
	return CHECKED_NONE;
}

/** checked_init() - announce a new arena's empty data area to the checker. */
void checked_init(struct arena_priv *ap)
{
	switch (ap->checked) {
	case CHECKED_ASAN:
		__asan_poison_memory_region(ptr(ap->base), ap->top - ap->base);
		break;
	case CHECKED_VALGRIND:
		VALGRIND_CREATE_MEMPOOL(ap->arena, 0, 0);
		VALGRIND_MAKE_MEM_NOACCESS(ptr(ap->base), ap->top - ap->base);
		break;
	case CHECKED_NONE:
		break;
	}
}

/** checked_alloc() - make [@addr, @addr + @size) usable. */
void checked_alloc(struct arena_priv *ap, uint64_t addr, size_t size)
{
	switch (ap->checked) {
	case CHECKED_ASAN:
		__asan_unpoison_memory_region(ptr(addr), size);
		break;
	case CHECKED_VALGRIND:
		/* a zero-byte chunk gives access to nothing and would outlive trims */
		if (size)
			VALGRIND_MEMPOOL_ALLOC(ap->arena, ptr(addr), size);
		break;
	case CHECKED_NONE:
		break;
	}
}

/**
 * checked_release() - [@from, @to) was given back by a reset or scope exit;
 * everything at or above @to stays allocated.
 */
void checked_release(struct arena_priv *ap, uint64_t from, uint64_t to)
{
	if (from >= to)
		return;
	switch (ap->checked) {
	case CHECKED_ASAN:
		__asan_poison_memory_region(ptr(from), to - from);
		break;
	case CHECKED_VALGRIND:
		VALGRIND_MEMPOOL_TRIM(ap->arena, ptr(to), ap->top - to);
		VALGRIND_MAKE_MEM_NOACCESS(ptr(from), to - from);
		break;
	case CHECKED_NONE:
		break;
	}
}

/**
 * checked_fini() - the arena goes away: leave no poison behind for whatever
 * is mapped at these addresses next (also in a fork child, where the region
 * is gone but the checker's bookkeeping was inherited).
 */
void checked_fini(struct arena_priv *ap)
{
	switch (ap->checked) {
	case CHECKED_ASAN:
		__asan_unpoison_memory_region(ptr(ap->base), ap->top - ap->base);
		break;
	case CHECKED_VALGRIND:
		VALGRIND_DESTROY_MEMPOOL(ap->arena);
		break;
	case CHECKED_NONE:
		break;
	}
}

/**
 * checked_keep() - the arena's region is kept for reuse (retain.c): every data
 * byte becomes inaccessible, so a use of a freed arena's memory is reported
 * until checked_init() starts the next arena on it.
 */
void checked_keep(struct arena_priv *ap)
{
	switch (ap->checked) {
	case CHECKED_ASAN:
		__asan_poison_memory_region(ptr(ap->base), ap->top - ap->base);
		break;
	case CHECKED_VALGRIND:
		VALGRIND_DESTROY_MEMPOOL(ap->arena);
		VALGRIND_MAKE_MEM_NOACCESS(ptr(ap->base), ap->top - ap->base);
		break;
	case CHECKED_NONE:
		break;
	}
}

/** checked_unkeep() - a kept region goes back: leave no poison behind (see checked_fini()). */
void checked_unkeep(struct arena_priv *ap)
{
	if (ap->checked == CHECKED_ASAN)
		__asan_unpoison_memory_region(ptr(ap->base), ap->top - ap->base);
}
