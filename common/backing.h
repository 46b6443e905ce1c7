/* SPDX-License-Identifier: MIT */
/*
 * Names of region backings (enum bhc_arena_backing and a page size), as
 * the library's stats, the daemon's log and admin JSON, and bhc-arenactl
 * print them.
 */
#ifndef BHC_COMMON_BACKING_H
#define BHC_COMMON_BACKING_H

#include <stdint.h>

/** backing_family() - "hugetlb", "thp", "small" or "none": the backing without its page size. */
const char *backing_family(uint32_t backing);

/**
 * backing_name() - "hugetlb-2M", "hugetlb-1G" (any hugetlb page size the
 * kernel has: "hugetlb-64K" ... "hugetlb-16G"), "thp", "small" or "none".
 */
const char *backing_name(uint32_t backing, uint32_t page_shift);

#endif
