/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "util-hugepages.h"

#define LOCK_PATH "/tmp/bhc-arena-test-hugepages.lock"

static char saved_path[128];
static long saved_nr = -1;

long bhc_test_read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

int bhc_test_write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		r = -EIO;
	if (fclose(f) != 0 && !r)
		r = -errno;
	return r;
}

static void restore(void)
{
	if (saved_nr >= 0)
		bhc_test_write_long(saved_path, saved_nr);
	saved_nr = -1;
}

long bhc_test_hugepages_free(unsigned long page_kb)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/free_hugepages",
		 page_kb);
	return bhc_test_read_long(path);
}

int bhc_test_hugepages_reserve(unsigned long page_kb, unsigned long n_free, char *why,
			       size_t why_len)
{
	static int lock_fd = -1;
	char nr_path[128];
	long free_now, nr;

	snprintf(nr_path, sizeof(nr_path), "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages",
		 page_kb);
	if (access(nr_path, F_OK) != 0) {
		snprintf(why, why_len, "this kernel has no %lu kB hugepage size", page_kb);
		return -ENOENT;
	}
	if (lock_fd < 0) {
		lock_fd = open(LOCK_PATH, O_CREAT | O_RDWR | O_CLOEXEC, 0666);
		if (lock_fd >= 0)
			flock(lock_fd, LOCK_EX);
	}
	free_now = bhc_test_hugepages_free(page_kb);
	if (free_now >= (long)n_free)
		return 0;
	if (geteuid() != 0) {
		snprintf(
			why, why_len,
			"needs %lu free %lu kB hugepages (%ld free) and only root can reserve them",
			n_free, page_kb, free_now);
		return -EPERM;
	}
	nr = bhc_test_read_long(nr_path);
	if (nr < 0) {
		snprintf(why, why_len, "cannot read %s", nr_path);
		return -EIO;
	}
	if (saved_nr < 0) {
		snprintf(saved_path, sizeof(saved_path), "%s", nr_path);
		saved_nr = nr;
		atexit(restore);
	}
	bhc_test_write_long(nr_path, nr + (long)n_free - free_now);
	free_now = bhc_test_hugepages_free(page_kb);
	if (free_now < (long)n_free) {
		snprintf(
			why, why_len,
			"the kernel could reserve only %ld of %lu %lu kB hugepages (memory fragmented?)",
			free_now, n_free, page_kb);
		restore();
		return -ENOMEM;
	}
	return 0;
}
