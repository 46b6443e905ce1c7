/* SPDX-License-Identifier: MIT */
/*
 * SIMD-aligned buffers: bhc_arena_alloc_aligned() with BHC_ALIGN_SIMD256
 * gives 32-byte aligned memory that 256-bit vector loads can use directly.
 * Uses GCC/Clang vector extensions (8 floats per vector). Prints TAP so that
 * `make check` can run it.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bhc/arena.h>

typedef float v8f __attribute__((vector_size(32)));

#define N 4096

int main(void)
{
	struct bhc_arena *arena;
	float *x, *y;
	const v8f *vx, *vy;
	v8f acc = { 0 };
	float simd = 0, scalar = 0;
	int i, ok = 1, r;

	printf("1..1\n");
	r = bhc_arena_new(1 << 20, &arena);
	if (r < 0) {
		printf("not ok 1 - bhc_arena_new: %s\n", strerror(-r));
		return 1;
	}
	/* an odd-sized allocation first, so that the alignment has work to do */
	bhc_arena_alloc(arena, 3, 1);
	x = bhc_arena_alloc_aligned(arena, float, N, BHC_ALIGN_SIMD256);
	y = bhc_arena_alloc_aligned(arena, float, N, BHC_ALIGN_SIMD256);
	if (!x || !y) {
		printf("not ok 1 - allocation failed\n");
		return 1;
	}
	printf("# x at %p (mod 32 = %u), y at %p (mod 32 = %u)\n", (void *)x,
	       (unsigned)((uintptr_t)x % 32), (void *)y, (unsigned)((uintptr_t)y % 32));
	ok &= (uintptr_t)x % BHC_ALIGN_SIMD256 == 0 && (uintptr_t)y % BHC_ALIGN_SIMD256 == 0;

	for (i = 0; i < N; i++) {
		x[i] = (float)(i % 17);
		y[i] = 0.5f;
	}
	/* the arena guarantees the alignment: view the buffers as vectors, load aligned */
	vx = __builtin_assume_aligned(x, BHC_ALIGN_SIMD256);
	vy = __builtin_assume_aligned(y, BHC_ALIGN_SIMD256);
	for (i = 0; i < N / 8; i++)
		acc += vx[i] * vy[i];
	for (i = 0; i < 8; i++)
		simd += acc[i];
	for (i = 0; i < N; i++)
		scalar += x[i] * y[i];
	printf("# dot product: %.1f with 8-wide vectors, %.1f scalar\n", simd, scalar);
	ok &= simd == scalar;

	/* every alignment of the seed's Alignment enum */
	{
		static const size_t aligns[] = { BHC_ALIGN_DEFAULT, BHC_ALIGN_SIMD128,
						 BHC_ALIGN_SIMD256, BHC_ALIGN_SIMD512,
						 BHC_ALIGN_CACHE_LINE };

		for (i = 0; i < 5; i++) {
			void *p = bhc_arena_alloc(arena, 5, aligns[i]);

			ok &= p && (uintptr_t)p % aligns[i] == 0;
		}
	}
	bhc_arena_free(arena);
	printf("%s 1 - SIMD-aligned allocation\n", ok ? "ok" : "not ok");
	return !ok;
}
