/* SPDX-License-Identifier: MIT */
/*
 * libbhc-arena core: allocation, alignment, exhaustion, overflow, scopes,
 * reset and statistics, on real local regions.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <check.h>

#include <bhc/arena.h>

#include "check_arena_util.h"
#include "tap.h"

#define ERRNO_CANARY 4242

/* Allocation moved nothing and set errno to @err. */
#define assert_failed_unchanged(arena, p, err, exp_cursor, exp_n_allocs)   \
	do {                                                               \
		ck_assert_ptr_null(p);                                     \
		ck_assert_int_eq(errno, (err));                            \
		ck_assert_uint_eq((arena)->live.cursor, (exp_cursor));     \
		ck_assert_uint_eq((arena)->live.n_allocs, (exp_n_allocs)); \
	} while (0)

START_TEST(test_align_enum)
{
	static const size_t aligns[] = { BHC_ALIGN_DEFAULT, BHC_ALIGN_SIMD128, BHC_ALIGN_SIMD256,
					 BHC_ALIGN_SIMD512, BHC_ALIGN_CACHE_LINE };
	static const size_t sizes[] = { 0, 1, 3, 7, 8, 13, 33, 64, 100, 4095 };
	struct bhc_arena *a = test_arena_new(1 << 20, 0);
	size_t i, j;

	for (i = 0; i < ARRAY_SIZE(aligns); i++) {
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			uint64_t before = a->live.cursor;
			char *p;

			errno = ERRNO_CANARY;
			p = bhc_arena_alloc(a, sizes[j], aligns[i]);
			ck_assert_ptr_nonnull(p);
			ck_assert_int_eq(errno, ERRNO_CANARY); /* untouched on success */
			ck_assert_uint_eq((uintptr_t)p % aligns[i], 0);
			/* the block lies below the previous cursor, inside the data */
			ck_assert_uint_le((uintptr_t)p + sizes[j], before);
			ck_assert_uint_ge((uintptr_t)p, a->live.base);
			memset(p, 0x5a, sizes[j]);
		}
	}
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_align_odd)
{
	static const size_t bad[] = { 0, 3, 24, 48, 4097, (size_t)1 << 63 | 1 };
	struct bhc_arena *a = test_arena_new(1 << 20, BHC_ARENA_BACKING_SMALL);
	struct bhc_arena_stats st;
	uint64_t cursor, n_allocs;
	void *p;
	size_t i;

	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_eq(st.page_size, (size_t)sysconf(_SC_PAGESIZE));
	cursor = a->live.cursor;
	n_allocs = a->live.n_allocs;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		volatile size_t align = bad[i]; /* not a constant: alloc_align() would warn */

		errno = 0;
		p = bhc_arena_alloc(a, 16, align);
		assert_failed_unchanged(a, p, EINVAL, cursor, n_allocs);
	}
	/* larger than the region's page: not guaranteed, refused */
	errno = 0;
	p = bhc_arena_alloc(a, 16, st.page_size * 2);
	assert_failed_unchanged(a, p, EINVAL, cursor, n_allocs);
	errno = 0;
	p = bhc_arena_alloc(a, 16, (size_t)2 << 20);
	assert_failed_unchanged(a, p, EINVAL, cursor, n_allocs);

	/* a page is always fine */
	p = bhc_arena_alloc(a, 16, st.page_size);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % st.page_size, 0);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_exhaustion)
{
	struct bhc_arena *a = test_arena_new(1 << 16, 0);
	size_t cap = bhc_arena_capacity(a);
	uint64_t cursor;
	char *p;

	ck_assert_uint_ge(cap, 1 << 16);
	ck_assert_uint_eq(bhc_arena_remaining(a), cap);

	/* one byte more than the capacity fails on an empty arena */
	errno = 0;
	p = bhc_arena_alloc(a, cap + 1, 1);
	assert_failed_unchanged(a, p, ENOMEM, a->live.top, 0);

	/* exactly the capacity succeeds and starts at the first data byte */
	p = bhc_arena_alloc(a, cap, 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p, test_region_start(a) + BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert_uint_eq(bhc_arena_remaining(a), 0);
	ck_assert_uint_eq(bhc_arena_used(a), cap);
	p[0] = 1;
	p[cap - 1] = 2;

	/* and then nothing more, not even a zero-byte block at a stricter alignment */
	cursor = a->live.cursor;
	errno = 0;
	p = bhc_arena_alloc(a, 1, 1);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 1);
	errno = 0;
	p = bhc_arena_alloc(a, 1, 4096);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 1);

	/*
	 * base is page aligned, so with room for size bytes an allocation of any
	 * alignment up to a page fits: rounding down never passes base
	 */
	bhc_arena_reset(a);
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, cap - 72, 1));
	p = bhc_arena_alloc(a, 72, 4096);
	ck_assert_ptr_eq(p, test_region_start(a) + BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert_uint_eq(bhc_arena_remaining(a), 0);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_overflow)
{
	struct bhc_arena *a = test_arena_new(1 << 16, 0);
	uint64_t cursor = a->live.cursor;
	volatile size_t n = SIZE_MAX / 4;
	uint64_t *u;
	void *p;

	errno = 0;
	u = bhc_arena_alloc_slice(a, uint64_t, n);
	assert_failed_unchanged(a, u, EOVERFLOW, cursor, 0);

	errno = 0;
	p = bhc_arena_alloc_array(a, 2, SIZE_MAX, 1);
	assert_failed_unchanged(a, p, EOVERFLOW, cursor, 0);

	errno = 0;
	p = bhc_arena_alloc_aligned(a, float, n * 2, BHC_ALIGN_SIMD512);
	assert_failed_unchanged(a, p, EOVERFLOW, cursor, 0);

	/* no overflow, just too big */
	errno = 0;
	u = bhc_arena_alloc_slice(a, uint64_t, SIZE_MAX / 8);
	assert_failed_unchanged(a, u, ENOMEM, cursor, 0);

	/* zero elements is a valid, empty block */
	u = bhc_arena_alloc_slice(a, uint64_t, 0);
	ck_assert_ptr_nonnull(u);
	bhc_arena_free(a);
}
END_TEST

/*
 * The array size at its boundaries: a product of exactly SIZE_MAX is no
 * overflow (just too big), one element more is; and a product that wraps to
 * a small number (16 x (2^60 + 1) = 16 mod 2^64) is an overflow, not a
 * 16-byte block. An exact fit of the arena succeeds.
 */
START_TEST(test_array_boundaries)
{
	struct bhc_arena *a = test_arena_new(1 << 16, 0);
	size_t cap = bhc_arena_remaining(a);
	uint64_t cursor = a->live.cursor;
	volatile size_t n;
	void *p;

	/* exactly SIZE_MAX bytes: no overflow, ENOMEM */
	errno = 0;
	n = SIZE_MAX / 3;
	p = bhc_arena_alloc_array(a, 3, n, 1);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 0);
	errno = 0;
	p = bhc_arena_alloc_array(a, 1, SIZE_MAX, 1);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 0);
	/* one element more wraps to 2 */
	errno = 0;
	n = SIZE_MAX / 3 + 1;
	p = bhc_arena_alloc_array(a, 3, n, 1);
	assert_failed_unchanged(a, p, EOVERFLOW, cursor, 0);
	/* wraps to a small size that would fit */
	errno = 0;
	n = ((size_t)1 << 60) + 1;
	p = bhc_arena_alloc_array(a, 16, n, 1);
	assert_failed_unchanged(a, p, EOVERFLOW, cursor, 0);
	errno = 0;
	n = (size_t)1 << 32;
	p = bhc_arena_alloc_array(a, n, n, 1); /* wraps to 0 */
	assert_failed_unchanged(a, p, EOVERFLOW, cursor, 0);
	errno = 0;
	n = SIZE_MAX / 8 + 2; /* 8 x n wraps to 8 */
	p = bhc_arena_alloc_slice(a, uint64_t, n);
	assert_failed_unchanged(a, p, EOVERFLOW, cursor, 0);

	/* the arena's exact capacity as an array fits; one element more does not */
	errno = 0;
	p = bhc_arena_alloc_array(a, 8, cap / 8 + 1, 8);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 0);
	p = bhc_arena_alloc_array(a, 8, cap / 8, 8);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(bhc_arena_used(a), cap / 8 * 8);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_huge_size)
{
	struct bhc_arena *a = test_arena_new(1 << 16, 0);
	uint64_t cursor = a->live.cursor;
	void *p;

	/* larger than the cursor's address: must not wrap around */
	errno = 0;
	p = bhc_arena_alloc(a, SIZE_MAX, 1);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 0);
	errno = 0;
	p = bhc_arena_alloc(a, (size_t)cursor + 1, 1);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 0);
	errno = 0;
	p = bhc_arena_alloc(a, (size_t)cursor, 1); /* would be address 0 */
	assert_failed_unchanged(a, p, ENOMEM, cursor, 0);
	errno = 0;
	p = bhc_arena_alloc(a, (size_t)(cursor - a->live.base) + 1, 1);
	assert_failed_unchanged(a, p, ENOMEM, cursor, 0);
	/* the same through the slow path (an alignment the inline path does not take) */
	errno = 0;
	p = bhc_arena_alloc(a, SIZE_MAX, 8192);
	ck_assert_ptr_null(p);
	ck_assert(errno == ENOMEM || errno == EINVAL);
	ck_assert_uint_eq(a->live.cursor, cursor);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_scopes_nested)
{
	struct bhc_arena *a = test_arena_new(1 << 20, 0);
	struct bhc_arena_scope outer, inner, innermost;
	uint64_t c0, c1, c2;
	char *x, *y, *z;

	x = bhc_arena_alloc(a, 100, 8);
	c0 = a->live.cursor;
	bhc_arena_scope_enter(a, &outer);
	y = bhc_arena_alloc(a, 1000, 16);
	ck_assert(y < x);
	c1 = a->live.cursor;
	bhc_arena_scope_enter(a, &inner);
	z = bhc_arena_alloc(a, 5000, 64);
	ck_assert(z < y);
	c2 = a->live.cursor;
	bhc_arena_scope_enter(a, &innermost);
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 3, 1));
	bhc_arena_scope_leave(&innermost);
	ck_assert_uint_eq(a->live.cursor, c2);
	ck_assert_ptr_null(innermost.arena);
	bhc_arena_scope_leave(&inner);
	ck_assert_uint_eq(a->live.cursor, c1);
	/* the next allocation reuses exactly what the inner scope gave back */
	ck_assert_ptr_eq(bhc_arena_alloc(a, 5000, 64), z);
	bhc_arena_scope_leave(&outer);
	ck_assert_uint_eq(a->live.cursor, c0);
	ck_assert_uint_eq(bhc_arena_used(a), a->live.top - c0);
	/* leaving twice is harmless */
	bhc_arena_scope_leave(&outer);
	ck_assert_uint_eq(a->live.cursor, c0);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_scopes_out_of_order)
{
	struct bhc_arena *a = test_arena_new(1 << 20, 0);
	struct bhc_arena_scope outer, inner, after_reset;
	uint64_t c0, c_inner;

	c0 = a->live.cursor;
	bhc_arena_scope_enter(a, &outer);
	bhc_arena_alloc(a, 64, 8);
	bhc_arena_scope_enter(a, &inner);
	bhc_arena_alloc(a, 64, 8);
	c_inner = inner.cursor;
	ck_assert_uint_lt(c_inner, c0);
	/* the enclosing scope ends first: the inner one must not pull the cursor down */
	bhc_arena_scope_leave(&outer);
	ck_assert_uint_eq(a->live.cursor, c0);
	bhc_arena_scope_leave(&inner);
	ck_assert_uint_eq(a->live.cursor, c0);

	/* a reset since the scope began makes its end a no-op */
	bhc_arena_alloc(a, 4096, 8);
	bhc_arena_scope_enter(a, &after_reset);
	bhc_arena_alloc(a, 4096, 8);
	bhc_arena_reset(a);
	bhc_arena_alloc(a, 16, 8);
	c0 = a->live.cursor;
	bhc_arena_scope_leave(&after_reset);
	ck_assert_uint_eq(a->live.cursor, c0);
	bhc_arena_free(a);
}
END_TEST

static int scope_guard_return(struct bhc_arena *a, int early)
{
	BHC_ARENA_SCOPE(s, a);

	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 512, 8));
	if (early)
		return 1;
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 512, 8));
	return 0;
}

START_TEST(test_scope_guard)
{
	struct bhc_arena *a = test_arena_new(1 << 20, 0);
	uint64_t c0 = a->live.cursor;
	int i;

	ck_assert_int_eq(scope_guard_return(a, 1), 1);
	ck_assert_uint_eq(a->live.cursor, c0);
	ck_assert_int_eq(scope_guard_return(a, 0), 0);
	ck_assert_uint_eq(a->live.cursor, c0);

	/* left by goto */
	{
		BHC_ARENA_SCOPE(s, a);

		ck_assert_ptr_nonnull(bhc_arena_alloc(a, 100, 8));
		ck_assert_uint_lt(a->live.cursor, c0);
		goto out;
	}
out:
	ck_assert_uint_eq(a->live.cursor, c0);

	/* left by break, once per iteration, nested in an outer guard */
	{
		BHC_ARENA_SCOPE(outer, a);
		uint64_t c1;

		ck_assert_ptr_nonnull(bhc_arena_alloc(a, 8, 8));
		c1 = a->live.cursor;
		for (i = 0; i < 10; i++) {
			BHC_ARENA_SCOPE(s, a);

			ck_assert_ptr_nonnull(bhc_arena_alloc(a, 1000, 8));
			if (i == 5)
				break;
		}
		ck_assert_uint_eq(a->live.cursor, c1);
	}
	ck_assert_uint_eq(a->live.cursor, c0);

	/* a guard whose scope was left by hand does nothing more */
	{
		BHC_ARENA_SCOPE(s, a);

		bhc_arena_alloc(a, 8, 8);
		bhc_arena_scope_leave(&s);
		ck_assert_uint_eq(a->live.cursor, c0);
		bhc_arena_alloc(a, 8, 8);
	}
	ck_assert_uint_lt(a->live.cursor, c0);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_reset_reuse)
{
	struct bhc_arena *a = test_arena_new(1 << 20, 0);
	void *first[16], *again[16];
	int i, round;

	for (round = 0; round < 3; round++) {
		for (i = 0; i < 16; i++) {
			void **slot = round ? &again[i] : &first[i];

			*slot = bhc_arena_alloc(a, (size_t)i * 37 + 1, (size_t)1 << (i % 7));
			ck_assert_ptr_nonnull(*slot);
			memset(*slot, i, (size_t)i * 37 + 1);
		}
		if (round)
			ck_assert_mem_eq(first, again, sizeof(first));
		bhc_arena_reset(a);
		ck_assert_uint_eq(bhc_arena_used(a), 0);
		ck_assert_uint_eq(a->live.n_resets, (uint64_t)round + 1);
	}
	bhc_arena_free(a);
}
END_TEST

/*
 * Reset and scope exit are O(1): they never touch the data. With the data
 * made inaccessible, any touch would kill the test with SIGSEGV.
 */
START_TEST(test_reset_o1)
{
	size_t cap = 64u << 20;
	struct bhc_arena *a = test_arena_new(cap, BHC_ARENA_BACKING_SMALL);
	void *data = test_region_start(a) + BHC_ARENA_REGION_HEADER_SIZE;
	struct bhc_arena_scope s;
	char *p;

	p = bhc_arena_alloc(a, cap / 2, 4096);
	ck_assert_ptr_nonnull(p);
	bhc_arena_scope_enter(a, &s);
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, cap / 4, 4096));
	ck_assert_int_eq(mprotect(data, bhc_arena_capacity(a), PROT_NONE), 0);
	bhc_arena_scope_leave(&s);
	ck_assert_uint_eq(a->live.cursor, (uintptr_t)p);
	bhc_arena_reset(a);
	ck_assert_uint_eq(a->live.cursor, a->live.top);
	ck_assert_int_eq(mprotect(data, bhc_arena_capacity(a), PROT_READ | PROT_WRITE), 0);
	ck_assert_uint_eq(a->live.n_resets, 1);
	ck_assert_uint_ge(a->live.high_water, cap / 2 + cap / 4);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_stats)
{
	struct bhc_arena *a = test_arena_new(100000, 0);
	struct bhc_arena_scope s;
	struct bhc_arena_stats st;
	size_t cap;

	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	cap = st.capacity;
	ck_assert_uint_ge(cap, 100000);
	ck_assert_uint_eq(cap, bhc_arena_capacity(a));
	ck_assert_uint_eq(st.region_size, cap + BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert_uint_eq(st.region_size % st.page_size, 0);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_uint_eq(st.remaining, cap);
	ck_assert_uint_eq(st.high_water, 0);
	ck_assert_uint_eq(st.n_allocs, 0);
	ck_assert_uint_eq(st.n_resets, 0);
	ck_assert_uint_eq(st.region_id, 0);
	ck_assert_int_eq(st.source, BHC_ARENA_SOURCE_LOCAL);
	ck_assert_str_eq(st.source_name, "local");
	ck_assert_str_eq(st.backing_name,
			 bhc_arena_backing_name(st.backing,
						(unsigned int)__builtin_ctzl(st.page_size)));
	ck_assert(st.backing >= BHC_ARENA_BACKING_HUGETLB && st.backing <= BHC_ARENA_BACKING_SMALL);

	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 1000, 8));
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 24, 8));
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_eq(st.used, 1024);
	ck_assert_uint_eq(st.used, bhc_arena_used(a));
	ck_assert_uint_eq(st.remaining, bhc_arena_remaining(a));
	ck_assert_uint_eq(st.used + st.remaining, cap);
	ck_assert_uint_eq(st.n_allocs, 2);
	ck_assert_uint_eq(st.high_water, 1024); /* the current use counts */

	bhc_arena_scope_enter(a, &s);
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 4096, 4096));
	bhc_arena_scope_leave(&s);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_eq(st.used, 1024);
	ck_assert_uint_ge(st.high_water, 1024 + 4096);
	ck_assert_uint_eq(st.n_allocs, 3);

	bhc_arena_reset(a);
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 10, 1));
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_eq(st.used, 10);
	ck_assert_uint_ge(st.high_water, 1024 + 4096);
	ck_assert_uint_eq(st.n_resets, 1);
	ck_assert_uint_eq(st.n_allocs, 4);

	/* failures are not counted */
	ck_assert_ptr_null(bhc_arena_alloc(a, cap, 1));
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_eq(st.n_allocs, 4);

	ck_assert_int_eq(bhc_arena_stats(NULL, &st), -EINVAL);
	ck_assert_int_eq(bhc_arena_stats(a, NULL), -EINVAL);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_region_header)
{
	struct bhc_arena *a = test_arena_new(12345, 0);
	const struct bhc_arena_region_info *info = test_region_info(a);
	const char *start = test_region_start(a);
	struct bhc_arena_stats st;
	size_t i;

	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_eq((uintptr_t)start % st.page_size, 0);
	ck_assert_uint_eq(info->magic, BHC_ARENA_REGION_MAGIC);
	ck_assert_uint_eq(info->version, BHC_ARENA_REGION_VERSION);
	ck_assert_uint_eq(info->header_size, BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert_uint_eq(info->region_id, 0);
	ck_assert_uint_eq(info->size, st.region_size);
	ck_assert_uint_eq(info->backing, st.backing);
	ck_assert_uint_eq((size_t)1 << info->page_shift, st.page_size);
	ck_assert_uint_gt(info->created_ns, 1600000000ull * 1000000000ull);
	ck_assert_uint_eq(a->live.top, (uintptr_t)start + st.region_size);
	ck_assert_uint_eq(a->live.base, (uintptr_t)start + BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert_uint_eq(a->live.cursor, a->live.top);
	ck_assert_uint_ne(a->live.priv, 0);
	/* [128, 4096) is reserved and zero */
	for (i = 128; i < BHC_ARENA_REGION_HEADER_SIZE; i++)
		ck_assert_int_eq(start[i], 0);
	/* the live part follows allocations */
	bhc_arena_alloc(a, 40, 8);
	ck_assert_uint_eq(a->live.cursor, a->live.top - 40);
	ck_assert_uint_eq(a->live.n_allocs, 1);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_new_errors)
{
	struct bhc_arena *sentinel = (struct bhc_arena *)(uintptr_t)0x1234;
	struct bhc_arena *a = sentinel;
	struct bhc_arena_opts opts;

	ck_assert_int_eq(bhc_arena_new(0, &a), -EINVAL);
	ck_assert_int_eq(bhc_arena_new(4096, NULL), -EINVAL);
	ck_assert_int_eq(bhc_arena_new(SIZE_MAX, &a), -ENOMEM);
	ck_assert_int_eq(bhc_arena_new(SIZE_MAX - 4095, &a), -ENOMEM);
	ck_assert_int_eq(bhc_arena_new((size_t)1 << 50, &a),
			 -ENOMEM); /* beyond the address space */
	ck_assert_ptr_eq(a, sentinel);

	memset(&opts, 0, sizeof(opts));
	opts.reserved[4] = 1;
	ck_assert_int_eq(bhc_arena_new_opts(4096, &opts, &a), -EINVAL);
	memset(&opts, 0, sizeof(opts));
	opts.backing = 4;
	ck_assert_int_eq(bhc_arena_new_opts(4096, &opts, &a), -EINVAL);
	memset(&opts, 0, sizeof(opts));
	opts.page_shift = 22;
	ck_assert_int_eq(bhc_arena_new_opts(4096, &opts, &a), -EINVAL);
	memset(&opts, 0, sizeof(opts));
	opts.mode = 4;
	ck_assert_int_eq(bhc_arena_new_opts(4096, &opts, &a), -EINVAL);
	ck_assert_ptr_eq(a, sentinel);

	/* NULL options mean the defaults; NULL arena frees nothing */
	ck_assert_int_eq(bhc_arena_new_opts(4096, NULL, &a), 0);
	ck_assert_ptr_ne(a, sentinel);
	ck_assert_uint_ge(bhc_arena_capacity(a), 4096);
	bhc_arena_free(a);
	bhc_arena_free(NULL);
	bhc_arena_reset(NULL);
}
END_TEST

START_TEST(test_free_unmaps)
{
	struct bhc_arena *a = test_arena_new(1 << 20, 0);
	char *start = test_region_start(a);
	size_t size = test_region_info(a)->size;
	struct test_region_probe probe;

	ck_assert(test_is_mapped(start, size));
	test_region_probe(start, size, &probe);
	ck_assert(!test_region_gone(&probe));
	bhc_arena_free(a);
	ck_assert(test_region_gone(&probe));
}
END_TEST

START_TEST(test_values)
{
	struct point {
		double x, y;
		int tag;
	};
	struct bhc_arena *a = test_arena_new(1 << 20, 0);
	volatile size_t huge = SIZE_MAX;
	struct point *pt;
	float *v;
	char *z;
	int *one;
	size_t i;

	one = bhc_arena_alloc_value(a, int, 42);
	ck_assert_ptr_nonnull(one);
	ck_assert_int_eq(*one, 42);
	pt = bhc_arena_alloc_value(a, struct point, ((struct point){ 1.5, -2.0, 7 }));
	ck_assert_ptr_nonnull(pt);
	ck_assert_uint_eq((uintptr_t)pt % __alignof__(struct point), 0);
	ck_assert(pt->x == 1.5 && pt->y == -2.0 && pt->tag == 7);
	ck_assert_int_eq(*one, 42);

	v = bhc_arena_alloc_aligned(a, float, 1000, BHC_ALIGN_SIMD256);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq((uintptr_t)v % 32, 0);
	for (i = 0; i < 1000; i++)
		v[i] = (float)i;

	/* zeroed memory is zero even where an earlier allocation wrote */
	bhc_arena_reset(a);
	z = bhc_arena_alloc(a, 4096, 8);
	memset(z, 0xff, 4096);
	bhc_arena_reset(a);
	z = bhc_arena_alloc_zeroed(a, 4096, 8);
	ck_assert_ptr_nonnull(z);
	for (i = 0; i < 4096; i++)
		ck_assert_int_eq(z[i], 0);
	ck_assert_ptr_null(bhc_arena_alloc_zeroed(a, huge, 8));
	ck_assert_int_eq(errno, ENOMEM);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(bhc_arena_backing_name(BHC_ARENA_BACKING_HUGETLB, 21), "hugetlb-2M");
	ck_assert_str_eq(bhc_arena_backing_name(BHC_ARENA_BACKING_HUGETLB, 30), "hugetlb-1G");
	ck_assert_str_eq(bhc_arena_backing_name(BHC_ARENA_BACKING_THP, 21), "thp");
	ck_assert_str_eq(bhc_arena_backing_name(BHC_ARENA_BACKING_SMALL, 12), "small");
	ck_assert_str_eq(bhc_arena_backing_name(BHC_ARENA_BACKING_NONE, 0), "none");
	ck_assert_str_eq(bhc_arena_backing_name((enum bhc_arena_backing)99, 0), "none");
	ck_assert_str_eq(bhc_arena_version(), PACKAGE_VERSION);
}
END_TEST

static Suite *arena_suite(void)
{
	const struct bhc_test_case cases[] = {
		{ "align_enum", test_align_enum },
		{ "align_odd", test_align_odd },
		{ "exhaustion", test_exhaustion },
		{ "overflow", test_overflow },
		{ "array_boundaries", test_array_boundaries },
		{ "huge_size", test_huge_size },
		{ "scopes_nested", test_scopes_nested },
		{ "scopes_out_of_order", test_scopes_out_of_order },
		{ "scope_guard", test_scope_guard },
		{ "reset_reuse", test_reset_reuse },
		{ "reset_o1", test_reset_o1 },
		{ "stats", test_stats },
		{ "region_header", test_region_header },
		{ "new_errors", test_new_errors },
		{ "free_unmaps", test_free_unmaps },
		{ "values", test_values },
		{ "names", test_names },
	};

	return bhc_test_suite("arena", cases, ARRAY_SIZE(cases));
}

int main(void)
{
	/* these tests check that a freed region goes back; reuse is check_retain's */
	setenv("BHC_ARENA_RETAIN", "0", 1);
	/* never lease from a daemon that happens to run on this machine */
	setenv("BHC_ARENA_MODE", "local", 1);
	/* leave the shared hugetlb pool to the tests that reserve it (check_arena_backing) */
	setenv("BHC_ARENA_BACKING", "small", 1);
	return bhc_test_run(arena_suite());
}
