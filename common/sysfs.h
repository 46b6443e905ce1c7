/* SPDX-License-Identifier: MIT */
/*
 * Small kernel files (sysfs, procfs) and the hugetlb pools they describe,
 * read the same way by the daemon, the library, bhc-arenactl, tests and
 * benchmarks.
 */
#ifndef BHC_COMMON_SYSFS_H
#define BHC_COMMON_SYSFS_H

#include <stddef.h>
#include <stdint.h>

#define SYSFS_HUGEPAGES "/sys/kernel/mm/hugepages"
#define SYSFS_THP "/sys/kernel/mm/transparent_hugepage"

/** sysfs_read_str() - a small file into @buf, NUL-terminated, trailing newline cut. 0 or -errno. */
int sysfs_read_str(const char *path, char *buf, size_t len);

/** sysfs_read_ulong() - a file holding one unsigned number. 0 or -errno. */
int sysfs_read_ulong(const char *path, unsigned long *valp);

/** hugetlb_read() - a counter of the pool of 1 << @shift byte pages ("free_hugepages"), or -1. */
long hugetlb_read(uint32_t shift, const char *file);

/**
 * hugetlb_available() - pages of 1 << @shift bytes a new hugetlb file can
 * get now: free and not reserved by someone's mapping, plus what overcommit
 * still lets the kernel add as surplus pages. -1 if the kernel has no such
 * page size.
 */
long hugetlb_available(uint32_t shift);

#endif
