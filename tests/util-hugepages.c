/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#include "util-hugepages.h"

#define LOCK_PATH "/tmp/bhc-arena-test-hugepages.lock"

static char saved_path[128];
static long saved_nr = -1;
static int lock_fd = -1;
static int guard_fd = -1; /* write end of the guardian's pipe */

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

static void take_lock(void)
{
	if (lock_fd < 0) {
		lock_fd = open(LOCK_PATH, O_CREAT | O_RDWR | O_CLOEXEC, 0666);
		if (lock_fd >= 0)
			flock(lock_fd, LOCK_EX);
	}
}

static void nr_path_of(unsigned long page_kb, char *path, size_t len)
{
	snprintf(path, len, "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages", page_kb);
}

/*
 * The guardian: a shell in its own session (out of reach of the process
 * group kill of a timed-out Check test) that reads its stdin, a pipe whose
 * only writer is this process, until end of file, and then writes the saved
 * pool size back. exec() drops every mapping this process has, so it
 * holds no hugepage; it keeps only the pool lock (until the pool is back).
 */
static int guardian_start(void)
{
	char value[32];
	int p[2], fd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	snprintf(value, sizeof(value), "%ld", saved_nr);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid == 0) {
		setsid();
		dup2(p[0], STDIN_FILENO);
		for (fd = 3; fd < 1024; fd++)
			if (fd != lock_fd)
				close(fd);
		if (lock_fd >= 0)
			fcntl(lock_fd, F_SETFD, 0);
		execl("/bin/sh", "sh", "-c", "while read -r x; do :; done; echo \"$0\" > \"$1\"",
		      value, saved_path, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	guard_fd = p[1];
	return 0;
}

int bhc_test_hugepages_guard(unsigned long page_kb)
{
	char nr_path[128];
	long nr;

	if (geteuid() != 0)
		return -EPERM;
	take_lock();
	nr_path_of(page_kb, nr_path, sizeof(nr_path));
	if (saved_nr >= 0)
		return strcmp(saved_path, nr_path) ? -EBUSY : 0;
	nr = bhc_test_read_long(nr_path);
	if (nr < 0)
		return -ENOENT;
	snprintf(saved_path, sizeof(saved_path), "%s", nr_path);
	saved_nr = nr;
	atexit(restore);
	return guardian_start();
}

long bhc_test_hugepages_available(unsigned long page_kb)
{
	char path[128];
	long n_free = bhc_test_hugepages_free(page_kb), n_resv;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/resv_hugepages",
		 page_kb);
	n_resv = bhc_test_read_long(path);
	if (n_free < 0 || n_resv < 0)
		return -1;
	return n_free > n_resv ? n_free - n_resv : 0;
}

int bhc_test_hugepages_set_available(unsigned long page_kb, unsigned long n, char *why,
				     size_t why_len)
{
	char nr_path[128];
	long nr, avail;
	int r, tries;

	nr_path_of(page_kb, nr_path, sizeof(nr_path));
	if (access(nr_path, F_OK) != 0) {
		snprintf(why, why_len, "this kernel has no %lu kB hugepage size", page_kb);
		return -ENOENT;
	}
	if (geteuid() != 0) {
		snprintf(why, why_len, "only root can size the %lu kB hugepage pool", page_kb);
		return -EPERM;
	}
	r = bhc_test_hugepages_guard(page_kb);
	if (r < 0) {
		snprintf(why, why_len, "cannot guard %s: %s", nr_path, strerror(-r));
		return r;
	}
	/* others outside the lock may move the counts: settle in a few steps */
	for (tries = 0; tries < 5; tries++) {
		avail = bhc_test_hugepages_available(page_kb);
		nr = bhc_test_read_long(nr_path);
		if (avail < 0 || nr < 0) {
			snprintf(why, why_len, "cannot read the %lu kB pool", page_kb);
			return -EIO;
		}
		if (avail == (long)n)
			return 0;
		if (nr + (long)n - avail < 0)
			break;
		r = bhc_test_write_long(nr_path, nr + (long)n - avail);
		if (r < 0) {
			snprintf(why, why_len, "cannot write %s: %s", nr_path, strerror(-r));
			return r;
		}
	}
	snprintf(why, why_len,
		 "cannot make exactly %lu %lu kB hugepages available (%ld are; memory fragmented?)",
		 n, page_kb, bhc_test_hugepages_available(page_kb));
	return -EAGAIN;
}

long bhc_test_hugepages_free(unsigned long page_kb)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB/free_hugepages",
		 page_kb);
	return bhc_test_read_long(path);
}

int bhc_test_hugepages_size_supported(unsigned long page_kb, char *why, size_t why_len)
{
	char path[128], line[4096];
	bool flag = false;
	FILE *f;

	if (page_kb == 1048576) {
		f = fopen("/proc/cpuinfo", "re");
		while (f && !flag && fgets(line, sizeof(line), f))
			flag = !strncmp(line, "flags", 5) && strstr(line, " pdpe1gb");
		if (f)
			fclose(f);
		if (!flag) {
			snprintf(why, why_len,
				 "this CPU has no 1 GiB pages (no pdpe1gb flag in /proc/cpuinfo)");
			return 0;
		}
	}
	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%lukB", page_kb);
	if (access(path, F_OK) != 0) {
		snprintf(why, why_len, "this kernel has no %lu kB hugepages (no %s)", page_kb,
			 path);
		return 0;
	}
	return 1;
}

int bhc_test_hugepages_reserve(unsigned long page_kb, unsigned long n_free, char *why,
			       size_t why_len)
{
	char nr_path[128];
	long free_now, nr;
	int r;

	snprintf(nr_path, sizeof(nr_path), "/sys/kernel/mm/hugepages/hugepages-%lukB/nr_hugepages",
		 page_kb);
	if (!bhc_test_hugepages_size_supported(page_kb, why, why_len))
		return -ENOENT;
	take_lock();
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
	r = bhc_test_hugepages_guard(page_kb);
	if (r < 0) {
		snprintf(why, why_len, "cannot guard %s: %s", nr_path, strerror(-r));
		return r;
	}
	/* a gigantic page needs 1 GiB of contiguous memory: compact first */
	if (page_kb >= 1048576)
		bhc_test_write_long("/proc/sys/vm/compact_memory", 1);
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
