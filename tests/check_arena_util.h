/* SPDX-License-Identifier: MIT */
/* Helpers shared by the check_arena* suites. */
#ifndef BHC_TESTS_CHECK_ARENA_UTIL_H
#define BHC_TESTS_CHECK_ARENA_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <check.h>

#include <bhc/arena.h>

/* The region an arena lives in: the handle sits at BHC_ARENA_REGION_LIVE_OFFSET. */
static inline const struct bhc_arena_region_info *test_region_info(const struct bhc_arena *arena)
{
	return (const void *)((const char *)arena - BHC_ARENA_REGION_LIVE_OFFSET);
}

static inline char *test_region_start(const struct bhc_arena *arena)
{
	return (char *)arena - BHC_ARENA_REGION_LIVE_OFFSET;
}

/* Is any page of [addr, addr + len) mapped in this process? */
static inline bool test_is_mapped(const void *addr, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[1];
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(page - 1);

	for (; p < (uintptr_t)addr + len; p += (uintptr_t)page)
		if (mincore((void *)p, (size_t)page, vec) == 0 || errno != ENOMEM)
			return true;
	return false;
}

/*
 * Is an arena region that was at [start, start + len) gone? Its addresses may
 * have been reused meanwhile (by a sanitizer runtime, a thread stack), so
 * "unmapped" is too strict: gone means no mapping there is MADV_DONTFORK
 * ("dc" in VmFlags), which every region is and other mappings rarely are.
 */
static inline bool test_region_gone(const void *start, size_t len)
{
	uintptr_t lo = (uintptr_t)start, hi = lo + len;
	unsigned long vm_lo, vm_hi;
	bool overlap = false, gone = true;
	char line[512];
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &vm_lo, &vm_hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			overlap = vm_lo < hi && vm_hi > lo;
			continue;
		}
		if (overlap && !strncmp(line, "VmFlags:", 8) && strstr(line, " dc")) {
			gone = false;
			break;
		}
	}
	fclose(f);
	return gone;
}

/* A local arena with the given backing (0 = best available); fails the test on error. */
static inline struct bhc_arena *test_arena_new(size_t capacity, uint32_t backing)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL, .backing = backing };
	struct bhc_arena *arena = NULL;
	int r;

	r = bhc_arena_new_opts(capacity, &opts, &arena);
	ck_assert_msg(r == 0, "bhc_arena_new_opts(%zu, backing %u): %d", capacity, backing, r);
	ck_assert_ptr_nonnull(arena);
	return arena;
}

#endif /* BHC_TESTS_CHECK_ARENA_UTIL_H */
