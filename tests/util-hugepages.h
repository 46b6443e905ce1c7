/* SPDX-License-Identifier: MIT */
#ifndef BHC_TESTS_UTIL_HUGEPAGES_H
#define BHC_TESTS_UTIL_HUGEPAGES_H

#include <stddef.h>

/**
 * bhc_test_hugepages_reserve() - make sure @n_free pages of @page_kb KiB are
 * free in the system pool for this test process. As root it raises
 * vm.nr_hugepages for the size as needed and restores the old value when the
 * process exits. Holds a lock for the life of the process so that parallel
 * tests do not fight over the pool. Returns 0, or -errno with a reason in
 * @why (suitable for bhc_test_skip()).
 */
int bhc_test_hugepages_reserve(unsigned long page_kb, unsigned long n_free, char *why,
			       size_t why_len);

/** bhc_test_hugepages_free() - free pages of @page_kb KiB now, or -1. */
long bhc_test_hugepages_free(unsigned long page_kb);

/** bhc_test_read_long() - the integer a sysfs or procfs file @path starts with, or -1. */
long bhc_test_read_long(const char *path);

/** bhc_test_write_long() - write @v and a newline to the file @path; 0 or -errno. */
int bhc_test_write_long(const char *path, long v);

#endif
