/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/memfd.h>

#include "log.h"
#include "pool.h"
#include "region.h"
#include "common/backing.h"
#include "common/clock.h"
#include "common/size.h"
#include "common/sysfs.h"

#define THP_SYSFS "/sys/kernel/mm/transparent_hugepage"

static void region_fail(struct region *region, int err);
static void region_fallback(struct region *region, int err);

/* The word in [brackets] of a sysfs choice file such as shmem_enabled. */
static int read_choice(const char *path, char *buf, size_t len)
{
	char line[256], *open, *close;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	open = strchr(line, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!close)
		return -EIO;
	*close = '\0';
	snprintf(buf, len, "%s", open + 1);
	return 0;
}

/* log2 of the PMD (transparent hugepage) size, 21 on x86-64. */
static uint32_t thp_shift(void)
{
	unsigned long long bytes = 0;
	FILE *f = fopen(THP_SYSFS "/hpage_pmd_size", "re");

	if (f) {
		if (fscanf(f, "%llu", &bytes) != 1)
			bytes = 0;
		fclose(f);
	}
	if (bytes < 4096 || (bytes & (bytes - 1)))
		return 21;
	return (uint32_t)__builtin_ctzll(bytes);
}

bool region_shmem_thp(void)
{
	char top[32], pmd[32];
	unsigned long pmd_kb = (1ul << thp_shift()) >> 10;
	char path[128];

	if (read_choice(THP_SYSFS "/shmem_enabled", top, sizeof(top)) < 0)
		return false;
	/* Since Linux 6.11 each folio size has its own knob; "inherit" defers to the top one. */
	snprintf(path, sizeof(path), THP_SYSFS "/hugepages-%lukB/shmem_enabled", pmd_kb);
	if (read_choice(path, pmd, sizeof(pmd)) == 0 && strcmp(pmd, "inherit") != 0)
		return strcmp(pmd, "always") == 0 || strcmp(pmd, "within_size") == 0;
	return strcmp(top, "always") == 0 || strcmp(top, "within_size") == 0 ||
	       strcmp(top, "force") == 0;
}

long region_hugepages_free(uint32_t shift)
{
	return hugetlb_read(shift, "free_hugepages");
}

/*
 * hugetlb_available() as start_hugetlb() sees it: read again at most every
 * AVAIL_CACHE_MS (three sysfs files are a dozen system calls, a fifth of
 * the loop's work per region when small regions are made in a stream) and
 * debited in between by the pages each new region takes. A region that
 * does not fit, or a hugetlb fallocate that failed, reads again at once.
 */
#define AVAIL_CACHE_MS 100

static struct {
	uint32_t shift; /* page size read, 0: nothing cached */
	uint64_t read_ms; /* CLOCK_MONOTONIC of the read */
	long avail; /* pages, -1 if unknown */
} avail_cache;

/* Pages of 1 << @shift a new file can get, for @need of them; -1 when unknown. */
static long hugepages_available_cached(uint32_t shift, uint64_t need)
{
	uint64_t now = clock_monotonic_ms();

	if (avail_cache.shift != shift || now - avail_cache.read_ms >= AVAIL_CACHE_MS ||
	    (avail_cache.avail >= 0 && (uint64_t)avail_cache.avail < need)) {
		avail_cache.shift = shift;
		avail_cache.read_ms = now;
		avail_cache.avail = hugetlb_available(shift);
	}
	return avail_cache.avail;
}

/* Page shift of the system's default hugepage size (Hugepagesize in /proc/meminfo). */
static uint32_t default_huge_shift(void)
{
	char line[128];
	unsigned long kb = 0;
	uint32_t shift = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 21;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
			break;
	}
	fclose(f);
	while (kb > 1) {
		kb >>= 1;
		shift++;
	}
	return kb ? shift + 10 : 21;
}

int region_new(struct pool *pool, uint64_t id, uint64_t size, uint32_t policy, uint32_t want_shift,
	       struct region **regionp)
{
	struct region *region;

	region = calloc(1, sizeof(*region));
	if (!region)
		return -ENOMEM;
	region->pool = pool;
	region->id = id;
	region->fd = -1;
	region->size = size;
	region->policy = policy;
	region->want_shift = want_shift;
	region->state = REGION_NEW;
	list_init(&region->link);
	list_init(&region->pool_link);
	*regionp = region;
	return 0;
}

void region_close(struct region *region)
{
	if (region->fd >= 0)
		close(region->fd);
	region->fd = -1;
}

void region_free(struct region *region)
{
	if (!region)
		return;
	region_close(region);
	free(region);
}

/* memfd_create() and ftruncate(); 0 or -errno. */
static int open_memfd(struct region *region, bool hugetlb)
{
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	char name[64];
	int fd, r;

	if (hugetlb)
		flags |= MFD_HUGETLB | (region->want_shift << MFD_HUGE_SHIFT);
	snprintf(name, sizeof(name), "bhc-arena:%" PRIu64, region->id);
	fd = memfd_create(name, flags);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)region->size) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	region->fd = fd;
	return 0;
}

static void finish(struct region *region)
{
	int r;

	/*
	 * The region stays as the kernel made it, zero from the first byte:
	 * its client writes the info header (region header version 2). The
	 * loop never maps a region: a page fault here would wait for the
	 * hugetlb fault mutex that a worker holds while it zeroes a page, up
	 * to a whole 1 GiB page, and the unmap would interrupt the workers to
	 * flush their TLBs.
	 */
	region->created_ns = clock_realtime_ns();
	if (fcntl(region->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		r = -errno;
		snprintf(region->error, sizeof(region->error), "cannot seal the region: %s",
			 strerror(-r));
		region_fail(region, r);
		return;
	}
	region->created(region, 0);
}

static void region_fail(struct region *region, int err)
{
	region_close(region);
	region->created(region, err);
}

static void shmem_done(struct uring_op *op, int res)
{
	struct region *region = container_of(op, struct region, op);
	char size[32];

	if (res < 0) {
		snprintf(region->error, sizeof(region->error),
			 "cannot reserve a %s shared-memory region: %s",
			 size_format_iec(region->size, size, sizeof(size)), strerror(-res));
		region_fail(region, res == -ENOSPC ? -ENOMEM : res);
		return;
	}
	finish(region);
}

static void hugetlb_short(struct region *region)
{
	char page[16], size[16];
	long n_free = hugetlb_available(region->want_shift);

	if (n_free < 0)
		n_free = region_hugepages_free(region->want_shift);

	size_format_iec(UINT64_C(1) << region->want_shift, page, sizeof(page));
	size_format_iec(region->size, size, sizeof(size));
	if (region->want_shift == default_huge_shift())
		snprintf(region->error, sizeof(region->error),
			 "no free %s hugepages for a %s region: raise vm.nr_hugepages "
			 "(have %ld free)",
			 page, size, n_free < 0 ? 0 : n_free);
	else
		snprintf(region->error, sizeof(region->error),
			 "no free %s hugepages for a %s region: raise nr_hugepages in "
			 "/sys/kernel/mm/hugepages/hugepages-%lukB (have %ld free)",
			 page, size, (1ul << region->want_shift) >> 10, n_free < 0 ? 0 : n_free);
}

static void hugetlb_done(struct uring_op *op, int res)
{
	struct region *region = container_of(op, struct region, op);

	if (res == 0) {
		finish(region);
		return;
	}
	region_close(region);
	avail_cache.shift = 0; /* someone took the pages: read again next time */
	if (res == -ENOSPC || res == -ENOMEM) {
		hugetlb_short(region);
		region_fallback(region, -ENOMEM);
		return;
	}
	snprintf(region->error, sizeof(region->error), "cannot reserve hugepages: %s",
		 strerror(-res));
	region_fallback(region, res);
}

static int start_shmem(struct region *region, struct uring *uring)
{
	uint64_t page = UINT64_C(1) << thp_shift(), fit;
	char size[32];
	int r;

	/*
	 * A region sized for larger hugepages that falls back to shmem is
	 * rounded to the transparent hugepage size instead (a multiple of the
	 * small page size too): 16 MiB asked with 1 GiB pages is 16 MiB of
	 * shmem, not 1 GiB.
	 */
	if (region->request && region->request < region->size) {
		fit = (region->request + page - 1) & ~(page - 1);
		if (fit < region->size)
			pool_resize(region->pool, region, fit);
	}
	r = open_memfd(region, false);
	if (r < 0) {
		snprintf(region->error, sizeof(region->error),
			 "cannot create a %s shared-memory file: %s",
			 size_format_iec(region->size, size, sizeof(size)), strerror(-r));
		return r;
	}
	if (region_shmem_thp()) {
		region->backing = BHC_ARENA_BACKING_THP;
		region->page_shift = thp_shift();
	} else {
		region->backing = BHC_ARENA_BACKING_SMALL;
		region->page_shift = (uint32_t)__builtin_ctzl((unsigned long)sysconf(_SC_PAGESIZE));
	}
	region->op.done = shmem_done;
	r = uring_fallocate(uring, &region->op, region->fd, 0, 0, region->size);
	if (r < 0) {
		region_close(region);
		snprintf(region->error, sizeof(region->error), "the daemon is stopping");
	}
	return r;
}

/* Hugetlb could not be had (@err, text in region->error): fall back or fail. */
static void region_fallback(struct region *region, int err)
{
	struct uring *uring = region->op.uring;
	int r;

	if (region->policy != BHC_ARENA_HUGEPAGES_PREFER) {
		region_fail(region, err);
		return;
	}
	log_debug("region %" PRIu64 ": %s; falling back to shared memory", region->id,
		  region->error);
	r = start_shmem(region, uring);
	if (r < 0)
		region_fail(region, r);
}

static int start_hugetlb(struct region *region, struct uring *uring)
{
	uint64_t need = region->size >> region->want_shift;
	long avail = hugepages_available_cached(region->want_shift, need);
	char page[32];
	int r;

	/* Plainly short: do not allocate (and zero) pages only to give them back. */
	if (avail >= 0 && (uint64_t)avail < need) {
		hugetlb_short(region);
		return -ENOMEM;
	}
	if (avail >= 0)
		avail_cache.avail -= (long)need;
	r = open_memfd(region, true);
	if (r < 0) {
		size_format_iec(UINT64_C(1) << region->want_shift, page, sizeof(page));
		/* memfd_create(): EINVAL for a size the kernel cannot name, ENODEV for one it lacks */
		if (r == -EINVAL || r == -ENODEV)
			snprintf(region->error, sizeof(region->error),
				 "this kernel has no %s hugepages", page);
		else
			snprintf(region->error, sizeof(region->error),
				 "cannot create a hugetlb file of %s pages: %s", page,
				 strerror(-r));
		return r == -EINVAL || r == -ENODEV ? -EOPNOTSUPP : r;
	}
	region->backing = BHC_ARENA_BACKING_HUGETLB;
	region->page_shift = region->want_shift;
	region->op.done = hugetlb_done;
	r = uring_fallocate(uring, &region->op, region->fd, 0, 0, region->size);
	if (r < 0) {
		region_close(region);
		snprintf(region->error, sizeof(region->error), "the daemon is stopping");
	}
	return r;
}

int region_create(struct region *region, struct uring *uring,
		  void (*created)(struct region *region, int err))
{
	int r;

	region->created = created;
	region->state = REGION_CREATING;
	region->op.uring = uring;
	if (region->policy == BHC_ARENA_HUGEPAGES_OFF)
		return start_shmem(region, uring);
	r = start_hugetlb(region, uring);
	if (r == 0 || r == -ESHUTDOWN || region->policy != BHC_ARENA_HUGEPAGES_PREFER)
		return r;
	log_debug("region %" PRIu64 ": %s; falling back to shared memory", region->id,
		  region->error);
	return start_shmem(region, uring);
}

static void punch_done(struct uring_op *op, int res)
{
	struct region *region = container_of(op, struct region, op);

	region->punched(region, res);
}

int region_punch(struct region *region, struct uring *uring,
		 void (*punched)(struct region *region, int err))
{
	region->punched = punched;
	region->op.done = punch_done;
	return uring_fallocate(uring, &region->op, region->fd,
			       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, region->size);
}

static uint64_t clamp_bytes(uint64_t v, uint64_t max)
{
	return v > max ? max : v;
}

int region_read_usage(const struct region *region, struct region_usage *usage)
{
	struct {
		struct bhc_arena_region_info info;
		struct bhc_arena_region_live live;
		struct bhc_arena_region_state state;
	} hdr;
	uint64_t room = region->size > BHC_ARENA_REGION_HEADER_SIZE ?
				region->size - BHC_ARENA_REGION_HEADER_SIZE :
				0;
	ssize_t n;

	_Static_assert(sizeof(hdr) == 192, "info, live and state are the first 192 bytes");
	_Static_assert(offsetof(__typeof__(hdr), state) == BHC_ARENA_REGION_STATE_OFFSET,
		       "the state follows the live header");
	memset(usage, 0, sizeof(*usage));
	if (region->fd < 0)
		return -EBADF;
	n = pread(region->fd, &hdr, sizeof(hdr), 0);
	if (n < 0)
		return -errno;
	if (n != sizeof(hdr))
		return -EIO;
	usage->header_valid = hdr.info.magic == BHC_ARENA_REGION_MAGIC &&
			      hdr.info.version == BHC_ARENA_REGION_VERSION;
	usage->used = hdr.live.top >= hdr.live.cursor ?
			      clamp_bytes(hdr.live.top - hdr.live.cursor, room) :
			      0;
	usage->high_water = clamp_bytes(hdr.live.high_water, room);
	usage->n_allocs = hdr.live.n_allocs;
	usage->n_resets = hdr.live.n_resets;
	/* what a client's own mapping would have: base + room == top, cursor between */
	usage->clamped = !usage->header_valid || hdr.live.top < hdr.live.base ||
			 hdr.live.top - hdr.live.base != room || hdr.live.cursor < hdr.live.base ||
			 hdr.live.cursor > hdr.live.top || hdr.live.high_water > room;
	/* a state other than in use (0) or kept (1) is not believed: in use */
	if (hdr.state.use != BHC_ARENA_REGION_IN_USE && hdr.state.use != BHC_ARENA_REGION_KEPT)
		usage->clamped = true;
	usage->kept = usage->header_valid && hdr.state.use == BHC_ARENA_REGION_KEPT;
	usage->kept_ns = usage->kept ? hdr.state.kept_ns : 0;
	usage->n_reuses = usage->header_valid ? hdr.state.n_reuses : 0;
	return 0;
}
