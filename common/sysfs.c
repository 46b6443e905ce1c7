/* SPDX-License-Identifier: MIT */
/* Small kernel files and hugetlb pools (sysfs.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysfs.h"

int sysfs_read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, r = 0;

	if (!len)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return r;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

int sysfs_read_ulong(const char *path, unsigned long *valp)
{
	char buf[32] = "", *end;
	unsigned long v;
	int r;

	r = sysfs_read_str(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*valp = v;
	return 0;
}

long hugetlb_read(uint32_t shift, const char *file)
{
	char path[128];
	unsigned long v;

	if (shift < 10 || shift > 40)
		return -1;
	snprintf(path, sizeof(path), SYSFS_HUGEPAGES "/hugepages-%lukB/%s", (1ul << shift) >> 10,
		 file);
	if (sysfs_read_ulong(path, &v) < 0 || v > LONG_MAX)
		return -1;
	return (long)v;
}

long hugetlb_available(uint32_t shift)
{
	long n_free = hugetlb_read(shift, "free_hugepages");
	long n_resv = hugetlb_read(shift, "resv_hugepages");
	long n_over = hugetlb_read(shift, "nr_overcommit_hugepages");
	long n_surplus = hugetlb_read(shift, "surplus_hugepages");
	long n;

	if (n_free < 0 || n_resv < 0)
		return -1;
	n = n_free > n_resv ? n_free - n_resv : 0;
	if (n_over > 0 && n_surplus >= 0 && n_over > n_surplus)
		n += n_over - n_surplus;
	return n;
}
