/* SPDX-License-Identifier: MIT */
/*
 * The local region source: the process maps its regions itself. Best
 * available first: hugetlb pages, then transparent huge pages, then small
 * pages. Every region is pre-faulted by an operation that
 * reports failure as an error instead of a SIGBUS on first touch:
 * MADV_POPULATE_WRITE (Linux 5.14), else for anonymous memory a write to each
 * page (which cannot SIGBUS), else for hugetlb mlock(), whose population
 * reports a missing huge page as an error too. Every mapping is MADV_DONTFORK:
 * a child of fork() never shares a region with its parent.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "arena-internal.h"
#include "common/sysfs.h"
#include "compat.h"

#define HUGETLB_DEFAULT_SHIFT 21
#define THP_DEFAULT_SIZE (2ul << 20)

/* *@outp = @v rounded up to a multiple of @align (a power of two); false on overflow. */
static bool round_up(size_t v, size_t align, size_t *outp)
{
	if (v > SIZE_MAX - (align - 1))
		return false;
	*outp = (v + align - 1) & ~(align - 1);
	return true;
}

static unsigned int log2_size(size_t v)
{
	return (unsigned int)(8 * sizeof(unsigned long) - 1 - __builtin_clzl(v));
}

static size_t small_page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (size_t)page : 4096;
}

/*
 * $BHC_ARENA_BACKING = auto | hugetlb | hugetlb-2M | hugetlb-1G | thp | small:
 * the backing to use when the caller did not ask for one.
 */
static int env_backing(uint32_t *backingp, uint32_t *shiftp)
{
	const char *env = getenv("BHC_ARENA_BACKING");

	if (!env || !*env || !strcasecmp(env, "auto"))
		return 0;
	if (!strcasecmp(env, "hugetlb")) {
		*backingp = BHC_ARENA_BACKING_HUGETLB;
	} else if (!strcasecmp(env, "hugetlb-2M")) {
		*backingp = BHC_ARENA_BACKING_HUGETLB;
		if (!*shiftp)
			*shiftp = 21;
	} else if (!strcasecmp(env, "hugetlb-1G")) {
		*backingp = BHC_ARENA_BACKING_HUGETLB;
		if (!*shiftp)
			*shiftp = 30;
	} else if (!strcasecmp(env, "thp")) {
		*backingp = BHC_ARENA_BACKING_THP;
	} else if (!strcasecmp(env, "small")) {
		*backingp = BHC_ARENA_BACKING_SMALL;
	} else {
		return -EINVAL;
	}
	return 0;
}

/*
 * Can the hugetlb pool of 2^@shift byte pages give @n_pages now? 0 if it
 * looks so (the mapping and pre-fault still decide), -EOPNOTSUPP if the
 * kernel has no such page size, -ENOMEM if the pool is short.
 */
static int hugetlb_pool_check(unsigned int shift, size_t n_pages)
{
	long n_avail = hugetlb_available(shift);

	if (n_avail < 0)
		return -EOPNOTSUPP;
	return (size_t)n_avail >= n_pages ? 0 : -ENOMEM;
}

/* Is THP usable for this process? Sets *@sizep to its page size. */
static bool thp_available(size_t *sizep)
{
	char buf[128];
	unsigned long size;

	if (sysfs_read_str(SYSFS_THP "/enabled", buf, sizeof(buf)) < 0 || strstr(buf, "[never]"))
		return false;
	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) > 0)
		return false;
	if (sysfs_read_ulong(SYSFS_THP "/hpage_pmd_size", &size) < 0 || !size ||
	    (size & (size - 1)))
		size = THP_DEFAULT_SIZE;
	*sizep = size;
	return true;
}

/*
 * Fault in [addr, addr + len) for writing, failing with an error rather than
 * a signal. @can_touch: plain writes are safe (anonymous memory, which is
 * only ever short of RAM, never of pages in a pool).
 */
static int prefault(void *addr, size_t len, bool can_touch)
{
	volatile char *p = addr;
	size_t off, page;
	int r;

	do
		r = madvise(addr, len, MADV_POPULATE_WRITE);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	if (!r)
		return 0;
	if (errno != EINVAL)
		return -ENOMEM; /* EFAULT: the pool ran out; ENOMEM; EHWPOISON */

	/* Linux < 5.14 */
	if (can_touch) {
		page = small_page_size();
		for (off = 0; off < len; off += page)
			p[off] = 0;
		return 0;
	}
	if (mlock(addr, len) < 0)
		return -ENOMEM;
	munlock(addr, len);
	return 0;
}

/*
 * mmap()'s error as ours. Our flags are valid (the hugetlb size was checked in
 * sysfs), so EINVAL can only mean a length the system refuses (Valgrind says
 * so for lengths beyond the address space, where the kernel says ENOMEM).
 */
static int mmap_error(void)
{
	return errno == EINVAL ? -ENOMEM : -errno;
}

/* Name the mapping in /proc/PID/maps where the kernel supports it. */
static void name_mapping(void *addr, size_t len)
{
	(void)prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)addr, len, "bhc-arena");
}

static int finish_mapping(void *addr, size_t len, bool can_touch)
{
	if (madvise(addr, len, MADV_DONTFORK) < 0)
		return -errno;
	name_mapping(addr, len);
	return prefault(addr, len, can_touch);
}

static void region_fill(struct region *region, void *addr, size_t len, uint32_t backing,
			unsigned int shift)
{
	*region = (struct region){
		.addr = addr,
		.size = len,
		.region_id = 0,
		.backing = backing,
		.page_shift = shift,
		.source = &source_local,
	};
	region_write_info(region);
}

static int map_hugetlb(size_t want, unsigned int shift, struct region *region)
{
	size_t len;
	void *addr;
	int r;

	if (!round_up(want, (size_t)1 << shift, &len))
		return -ENOMEM;
	r = hugetlb_pool_check(shift, len >> shift);
	if (r < 0)
		return r;
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (int)(shift << MAP_HUGE_SHIFT), -1,
		    0);
	if (addr == MAP_FAILED)
		return mmap_error();
	r = finish_mapping(addr, len, false);
	if (r < 0)
		goto out_unmap;
	region_fill(region, addr, len, BHC_ARENA_BACKING_HUGETLB, shift);
	return 0;

out_unmap:
	munmap(addr, len);
	return r;
}

static int map_thp(size_t want, struct region *region)
{
	size_t hpage, len, head;
	char *raw, *addr;
	int r;

	if (!thp_available(&hpage))
		return -EOPNOTSUPP;
	if (!round_up(want, hpage, &len) || len > SIZE_MAX - hpage)
		return -ENOMEM;

	/* Over-map by one huge page and trim, so that the region is aligned to it. */
	raw = mmap(NULL, len + hpage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return mmap_error();
	addr = (char *)(((uintptr_t)raw + hpage - 1) & ~(uintptr_t)(hpage - 1));
	head = (size_t)(addr - raw);
	if (head)
		munmap(raw, head);
	if (hpage - head)
		munmap(addr + len, hpage - head);

	if (madvise(addr, len, MADV_HUGEPAGE) < 0) {
		r = -EOPNOTSUPP;
		goto out_unmap;
	}
	r = finish_mapping(addr, len, true);
	if (r < 0)
		goto out_unmap;
	region_fill(region, addr, len, BHC_ARENA_BACKING_THP, log2_size(hpage));
	return 0;

out_unmap:
	munmap(addr, len);
	return r;
}

static int map_small(size_t want, struct region *region)
{
	size_t page = small_page_size(), len;
	void *addr;
	int r;

	if (!round_up(want, page, &len))
		return -ENOMEM;
	addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr == MAP_FAILED)
		return mmap_error();
	/* "small" must stay true when THP is enabled system-wide; fails harmlessly without THP */
	(void)madvise(addr, len, MADV_NOHUGEPAGE);
	r = finish_mapping(addr, len, true);
	if (r < 0)
		goto out_unmap;
	region_fill(region, addr, len, BHC_ARENA_BACKING_SMALL, log2_size(page));
	return 0;

out_unmap:
	munmap(addr, len);
	return r;
}

static int local_acquire(const struct region_request *req, struct region *region)
{
	uint32_t backing = req->backing, shift = req->page_shift;
	int r;

	if (!backing) {
		r = env_backing(&backing, &shift);
		if (r < 0)
			return r;
	}
	if (!shift)
		shift = HUGETLB_DEFAULT_SHIFT;

	switch (backing) {
	case BHC_ARENA_BACKING_HUGETLB:
		return map_hugetlb(req->size, shift, region);
	case BHC_ARENA_BACKING_THP:
		return map_thp(req->size, region);
	case BHC_ARENA_BACKING_SMALL:
		return map_small(req->size, region);
	case BHC_ARENA_BACKING_NONE:
		break;
	default:
		return -EINVAL;
	}

	if (!map_hugetlb(req->size, shift, region))
		return 0;
	if (!map_thp(req->size, region))
		return 0;
	return map_small(req->size, region);
}

static void local_release(struct region *region)
{
	munmap(region->addr, region->size);
	region->addr = NULL;
}

const struct region_source source_local = {
	.name = "local",
	.id = BHC_ARENA_SOURCE_LOCAL,
	.acquire = local_acquire,
	.release = local_release,
	.forget = NULL, /* nothing but the mapping, which the child does not have */
	.atfork_child = NULL, /* no global state */
};
