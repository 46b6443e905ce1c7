/* SPDX-License-Identifier: MIT */
/*
 * The C library's inline fast path, compiled from <bhc/arena.h>, for the
 * crate's tests (the Rust fast path must agree with it) and its benchmark
 * (the Rust fast path must be as quick). build.rs links it into those only.
 */
#include <stdint.h>

#include <bhc/arena.h>

int bhc_rts_arena_c_alloc(struct bhc_arena *arena, size_t size, size_t align, void **p);
int bhc_rts_arena_c_alloc16_loop(struct bhc_arena *arena, uint64_t n);

/* One bhc_arena_alloc(): 0 and *p, or the errno it set. */
int bhc_rts_arena_c_alloc(struct bhc_arena *arena, size_t size, size_t align, void **p)
{
	*p = bhc_arena_alloc(arena, size, align);
	return *p ? 0 : errno;
}

/*
 * @n allocations of 16 bytes, each pointer handed to an empty asm with a
 * memory clobber: the loop the Rust side runs with core::hint::black_box(),
 * which spills the value and clobbers memory the same way. 0, or -1 if an
 * allocation failed.
 */
int bhc_rts_arena_c_alloc16_loop(struct bhc_arena *arena, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		void *p = bhc_arena_alloc(arena, 16, 8);

		if (!p)
			return -1;
		__asm__ volatile("" : : "r"(&p) : "memory");
	}
	return 0;
}
