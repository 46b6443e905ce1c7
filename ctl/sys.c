/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl: the system's hugetlb pools, one directory per page size
 * under /sys/kernel/mm/hugepages (what hugeadm --pool-list shows).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arenactl.h"

/* One decimal counter from @dir/@name; 0 if it cannot be read. */
static uint64_t read_counter(int dirfd, const char *name)
{
	char buf[32];
	unsigned long long v;
	ssize_t n;
	char *end;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return 0;
	return v;
}

static int cmp_pool(const void *a, const void *b)
{
	const struct ctl_hugepage_pool *pa = a, *pb = b;

	return (pa->page_size > pb->page_size) - (pa->page_size < pb->page_size);
}

int ctl_read_hugepage_pools(const char *sysfs_dir, struct ctl_hugepage_pool *pools, size_t max)
{
	struct dirent *de;
	size_t n = 0;
	DIR *dir;

	dir = opendir(sysfs_dir);
	if (!dir)
		return -errno;
	while (n < max && (de = readdir(dir))) {
		struct ctl_hugepage_pool *p = &pools[n];
		unsigned long long kb;
		char *end;
		int fd;

		if (strncmp(de->d_name, "hugepages-", 10))
			continue;
		errno = 0;
		kb = strtoull(de->d_name + 10, &end, 10);
		if (errno || strcmp(end, "kB") || kb == 0 || kb > (UINT64_MAX >> 10))
			continue;
		fd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		p->page_size = (uint64_t)kb << 10;
		p->total = read_counter(fd, "nr_hugepages");
		p->free = read_counter(fd, "free_hugepages");
		p->reserved = read_counter(fd, "resv_hugepages");
		p->surplus = read_counter(fd, "surplus_hugepages");
		p->overcommit = read_counter(fd, "nr_overcommit_hugepages");
		close(fd);
		n++;
	}
	closedir(dir);
	qsort(pools, n, sizeof(*pools), cmp_pool);
	return (int)n;
}

struct json_object *ctl_hugepage_pools_json(const struct ctl_hugepage_pool *pools, size_t n)
{
	struct json_object *arr, *o;
	size_t i;

	arr = json_object_new_array();
	if (!arr)
		return NULL;
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		if (!o || json_object_array_add(arr, o)) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		json_object_object_add(o, "page_size", json_object_new_uint64(pools[i].page_size));
		json_object_object_add(o, "total", json_object_new_uint64(pools[i].total));
		json_object_object_add(o, "free", json_object_new_uint64(pools[i].free));
		json_object_object_add(o, "reserved", json_object_new_uint64(pools[i].reserved));
		json_object_object_add(o, "surplus", json_object_new_uint64(pools[i].surplus));
		json_object_object_add(o, "overcommit",
				       json_object_new_uint64(pools[i].overcommit));
	}
	return arr;
}
