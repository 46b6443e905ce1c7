/* SPDX-License-Identifier: MIT */
/*
 * The daemon region source: regions leased from bhc-arenad (DESIGN.md
 * section 3). A region arrives as a sealed, pre-faulted memfd; it is mapped
 * shared with its page tables populated, marked MADV_DONTFORK, and its fd is
 * closed at once (the mapping keeps the memory alive). The daemon wrote the
 * header's info part before sealing; arena.c writes the live part, which the
 * daemon and bhc-arenactl read to see usage as it happens.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena-internal.h"
#include "conn.h"

/* A daemon region's own state (region->source_data). */
struct daemon_region {
	uint64_t generation; /* of the connection holding the lease */
};

/* The ACQUIRE flags for a request: a named backing is asked for strictly. */
static int request_flags(const struct region_request *req, uint32_t *flagsp)
{
	switch (req->backing) {
	case BHC_ARENA_BACKING_NONE:
		*flagsp = 0; /* the daemon's policy */
		return 0;
	case BHC_ARENA_BACKING_HUGETLB:
		*flagsp = BHC_ARENA_ACQ_REQUIRE_HUGE;
		return 0;
	case BHC_ARENA_BACKING_THP:
	case BHC_ARENA_BACKING_SMALL:
		*flagsp = BHC_ARENA_ACQ_NO_HUGE; /* shmem: THP or not as the system has it */
		return 0;
	default:
		return -EINVAL;
	}
}

/* Does the region's header say what the grant said? (arena.c checks it again.) */
static bool header_matches(const void *addr, const struct conn_grant *g)
{
	const struct bhc_arena_region_info *info = addr;

	return info->magic == BHC_ARENA_REGION_MAGIC && info->version == BHC_ARENA_REGION_VERSION &&
	       info->header_size == BHC_ARENA_REGION_HEADER_SIZE &&
	       info->region_id == g->region_id && info->size == g->size &&
	       info->backing == g->backing && info->page_shift == g->page_shift;
}

/*
 * Map the granted memfd. Under the fork lock, so that no child of fork()
 * can inherit the shared mapping before it is MADV_DONTFORK.
 */
static int map_grant(const struct conn_grant *g, void **addrp)
{
	void *addr;
	int r = 0;

	arena_list_lock();
	addr = mmap(NULL, (size_t)g->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, g->fd,
		    0);
	if (addr == MAP_FAILED) {
		r = errno == EINVAL ? -ENOMEM : -errno;
	} else if (madvise(addr, (size_t)g->size, MADV_DONTFORK) < 0) {
		r = -errno;
		munmap(addr, (size_t)g->size);
	}
	arena_list_unlock();
	if (r < 0)
		return r;
	*addrp = addr;
	return 0;
}

static int daemon_acquire(const struct region_request *req, struct region *region)
{
	struct daemon_region *dr;
	struct conn_grant g;
	uint32_t flags;
	void *addr;
	int r;

	r = request_flags(req, &flags);
	if (r < 0)
		return r;
	dr = malloc(sizeof(*dr));
	if (!dr)
		return -ENOMEM;
	r = conn_acquire(req->size, flags, req->page_shift, &g);
	if (r < 0)
		goto out_free;

	r = map_grant(&g, &addr);
	close(g.fd);
	if (r < 0)
		goto out_release;
	if (!header_matches(addr, &g)) {
		r = -EPROTO;
		goto out_unmap;
	}
	/* a backing named in the request is that backing or an error */
	if (req->backing && g.backing != req->backing) {
		r = -EOPNOTSUPP;
		goto out_unmap;
	}

	dr->generation = g.generation;
	*region = (struct region){
		.addr = addr,
		.size = (size_t)g.size,
		.region_id = g.region_id,
		.backing = g.backing,
		.page_shift = g.page_shift,
		.source = &source_daemon,
		.source_data = dr,
	};
	return 0;

out_unmap:
	munmap(addr, (size_t)g.size);
out_release:
	(void)conn_release(g.region_id, g.generation);
out_free:
	free(dr);
	return r;
}

static void daemon_release(struct region *region)
{
	struct daemon_region *dr = region->source_data;

	/* unmap first: the daemon punches the pages out once it hears RELEASE */
	munmap(region->addr, region->size);
	(void)conn_release(region->region_id, dr->generation);
	free(dr);
	region->addr = NULL;
	region->source_data = NULL;
}

static void daemon_forget(struct region *region)
{
	free(region->source_data);
	region->source_data = NULL;
}

const struct region_source source_daemon = {
	.name = "daemon",
	.id = BHC_ARENA_SOURCE_DAEMON,
	.acquire = daemon_acquire,
	.release = daemon_release,
	.forget = daemon_forget,
	.atfork_child = conn_atfork_child,
};
