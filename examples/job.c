/* SPDX-License-Identifier: MIT */
/*
 * A BHC-style job: it takes an arena (from bhc-arenad when one runs — see
 * BHC_ARENA_MODE), runs a kernel whose temporaries live in nested scopes,
 * keeps a working set in the arena, reports what it got and holds it for a
 * while so that `bhc-arenactl clients` has something to show.
 *
 *   job [SECONDS-TO-HOLD [MIB]]        (defaults: 0 s, a 64 MiB region)
 *
 * Prints TAP, so `make check` runs it as a test too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <bhc/arena.h>

/* Sum of squares of 1..n computed through a temporary vector in a scope. */
static double sum_squares(struct bhc_arena *arena, size_t n)
{
	BHC_ARENA_SCOPE(scope, arena);
	double *tmp = bhc_arena_alloc_aligned(arena, double, n, BHC_ALIGN_SIMD256);
	double s = 0;

	if (!tmp)
		return -1;
	for (size_t i = 0; i < n; i++)
		tmp[i] = (double)(i + 1) * (double)(i + 1);
	for (size_t i = 0; i < n; i++)
		s += tmp[i];
	return s;
}

int main(int argc, char **argv)
{
	unsigned int hold = argc > 1 ? (unsigned int)atoi(argv[1]) : 0;
	size_t mib = argc > 2 ? (size_t)atoi(argv[2]) : 64;
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	size_t n = 1u << 16, keep;
	double want = (double)n * (n + 1) * (2.0 * n + 1) / 6, got;
	unsigned char *working;
	int r;

	printf("1..1\n");
	/* exactly one region of MIB MiB: the header takes the first 4 KiB */
	r = bhc_arena_new((mib << 20) - BHC_ARENA_REGION_HEADER_SIZE, &arena);
	if (r < 0) {
		printf("not ok 1 - bhc_arena_new: %d\n", r);
		return 1;
	}
	for (int round = 0; round < 100; round++) {
		got = sum_squares(arena, n);
		if (got != want) {
			printf("not ok 1 - round %d: %.0f, want %.0f\n", round, got, want);
			return 1;
		}
	}
	/* A working set that stays: half the arena, touched. */
	keep = bhc_arena_capacity(arena) / 2;
	working = bhc_arena_alloc(arena, keep, BHC_ALIGN_CACHE_LINE);
	if (!working) {
		printf("not ok 1 - working set of %zu bytes\n", keep);
		return 1;
	}
	for (size_t i = 0; i < keep; i += 4096)
		working[i] = (unsigned char)i;
	bhc_arena_stats(arena, &st);
	printf("# pid %d: %s region %llu of %zu MiB (%s), %zu MiB used, %llu allocations\n",
	       (int)getpid(), st.source_name, (unsigned long long)st.region_id,
	       st.region_size >> 20, st.backing_name, st.used >> 20,
	       (unsigned long long)st.n_allocs);
	fflush(stdout);
	sleep(hold);
	bhc_arena_free(arena);
	printf("ok 1 - job: 100 kernels in scopes, working set held %u s\n", hold);
	return 0;
}
