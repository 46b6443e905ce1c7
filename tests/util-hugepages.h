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

/**
 * bhc_test_hugepages_guard() - remember vm.nr_hugepages for @page_kb now (if
 * not yet remembered) and make sure it is written back when this process
 * ends, however it ends: at exit, and from a guardian process that outlives
 * it (a test killed by Check's timeout, or by SIGKILL, restores the pool
 * too). Takes the pool lock. Root only; 0 or -errno.
 */
int bhc_test_hugepages_guard(unsigned long page_kb);

/**
 * bhc_test_hugepages_set_available() - as root, set vm.nr_hugepages for
 * @page_kb so that exactly @n pages are free and unreserved (what a new
 * region can get): a shortage or a surplus made on purpose, whatever the
 * host had. The old size comes back as bhc_test_hugepages_guard() says.
 * Returns 0, or -errno with a reason in @why (suitable for bhc_test_skip()).
 */
int bhc_test_hugepages_set_available(unsigned long page_kb, unsigned long n, char *why,
				     size_t why_len);

/** bhc_test_hugepages_available() - free minus reserved pages of @page_kb KiB, or -1. */
long bhc_test_hugepages_available(unsigned long page_kb);

/**
 * bhc_test_hugepages_size_supported() - whether the CPU and the kernel have
 * hugepages of @page_kb KiB; if not, @why names the missing feature (the
 * CPU flag pdpe1gb for 1 GiB pages, or the kernel's sysfs pool).
 */
int bhc_test_hugepages_size_supported(unsigned long page_kb, char *why, size_t why_len);

/** bhc_test_hugepages_free() - free pages of @page_kb KiB now, or -1. */
long bhc_test_hugepages_free(unsigned long page_kb);

/** bhc_test_read_long() - the integer a sysfs or procfs file @path starts with, or -1. */
long bhc_test_read_long(const char *path);

/** bhc_test_write_long() - write @v and a newline to the file @path; 0 or -errno. */
int bhc_test_write_long(const char *path, long v);

#endif
