/* SPDX-License-Identifier: MIT */
/*
 * The daemon region source: regions leased from bhc-arenad (the
 * conversation is docs/PROTOCOL.md's). A region arrives as a sealed, pre-faulted memfd; it is mapped
 * shared and marked MADV_DONTFORK (page tables filled in for small pages,
 * see map_grant()). Its fd is kept, close-on-exec, while the region is held
 * if the daemon gave a lease token with it: after a daemon restart the fd
 * and the token register the region with the new instance (conn.c calls
 * conn_reregister_hook()). Without a token the fd is closed at once (the
 * mapping keeps the memory alive). The region arrives zero from its first byte: this source
 * writes the header's info part from the GRANT (region header version 2),
 * arena.c the live part, which the daemon and bhc-arenactl read to see
 * usage as it happens.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena-internal.h"
#include "compat.h"
#include "conn.h"

/* A daemon region's own state (region->source_data). */
struct daemon_region {
	uint64_t generation; /* of the connection holding the lease */
	int fd; /* the memfd, kept to register the region again; -1 without a token */
	dev_t dev; /* of that memfd: a program may close descriptors it does not own */
	ino_t ino;
	uint64_t token[2];
};

/*
 * Is dr->fd still the region's memfd? A program that closed it behind our
 * back may have reused the number for a file of its own: then it is
 * forgotten, neither closed nor sent. Returns dr->fd or -1.
 */
static int region_fd(struct daemon_region *dr)
{
	struct stat st;

	if (dr->fd < 0)
		return -1;
	if (fstat(dr->fd, &st) < 0 || st.st_dev != dr->dev || st.st_ino != dr->ino)
		dr->fd = -1;
	return dr->fd;
}

static void close_region_fd(struct daemon_region *dr)
{
	if (region_fd(dr) >= 0)
		close(dr->fd);
	dr->fd = -1;
}

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

/*
 * Map @len bytes of @fd (at @hint, with MAP_FIXED in @flags) and mark the mapping
 * MADV_DONTFORK, under the fork lock: no child of fork() can inherit the
 * shared mapping before it is marked.
 */
static int map_locked(void *hint, size_t len, int fd, int flags, void **addrp)
{
	void *p;
	int r = 0;

	arena_list_lock();
	p = mmap(hint, len, PROT_READ | PROT_WRITE, MAP_SHARED | flags, fd, 0);
	if (p == MAP_FAILED) {
		r = errno == EINVAL ? -ENOMEM : -errno;
	} else if (madvise(p, len, MADV_DONTFORK) < 0) {
		r = -errno;
		munmap(p, len);
	}
	arena_list_unlock();
	if (r < 0)
		return r;
	*addrp = p;
	return 0;
}

/*
 * Map the granted memfd so that no first write can fault for long or SIGBUS.
 *
 * A hugetlb region's pages are all in the memfd already (the daemon
 * allocated and zeroed them with fallocate before sealing it against
 * shrinking), so its first touch of each huge page is a minor fault that
 * only installs one page-table entry, ~1 µs per 2 MiB and never an
 * allocation. Those are left to the program's first touches: populating the
 * 32 PMDs of a 64 MiB region up front costs 40 µs, most of an acquire
 * (BENCHMARKS.md, region acquisition), for nothing the program cannot do
 * as cheaply on its way through the region.
 *
 * THP and small-page shmem regions would take a fault per 4 KiB page, so
 * their page tables are filled in here: MADV_POPULATE_WRITE (Linux 5.14)
 * runs outside the fork lock (it takes a while for a large region of small
 * pages) and reports a page the region lacks as an error rather than a
 * later SIGBUS; older kernels map again with MAP_POPULATE, which cannot
 * report one (the daemon allocated every page before it sent the region).
 */
static int map_grant(const struct conn_grant *g, void **addrp)
{
	size_t len = (size_t)g->size;
	void *addr;
	int r;

	r = map_locked(NULL, len, g->fd, 0, &addr);
	if (r < 0)
		return r;
	if (g->backing == BHC_ARENA_BACKING_HUGETLB) {
		*addrp = addr;
		return 0;
	}
	do
		r = madvise(addr, len, MADV_POPULATE_WRITE);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	if (r < 0 && errno != EINVAL) {
		munmap(addr, len);
		return -ENOMEM; /* EFAULT: a page is missing; ENOMEM; EHWPOISON */
	}
	if (r < 0) {
		r = map_locked(addr, len, g->fd, MAP_FIXED | MAP_POPULATE, &addr);
		if (r < 0) {
			munmap(addr, len);
			return r;
		}
	}
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
	if (r < 0) {
		close(g.fd);
		goto out_release;
	}
	dr->fd = -1;
	if (g.has_token) {
		struct stat st;

		if (fstat(g.fd, &st) == 0) {
			dr->fd = g.fd;
			dr->dev = st.st_dev;
			dr->ino = st.st_ino;
			dr->token[0] = g.token[0];
			dr->token[1] = g.token[1];
		} else {
			close(g.fd);
		}
	} else {
		close(g.fd);
	}
	/* a backing named in the request is that backing or an error */
	if (req->backing && g.backing != req->backing) {
		r = -EOPNOTSUPP;
		goto out_unmap;
	}

	dr->generation = g.generation;
	retain_connection_changed(g.generation);
	*region = (struct region){
		.addr = addr,
		.size = (size_t)g.size,
		.region_id = g.region_id,
		.backing = g.backing,
		.page_shift = g.page_shift,
		.source = &source_daemon,
		.source_data = dr,
	};
	/* the region is zero from its first byte: the header is ours to write (version 2) */
	region_write_info(region);
	return 0;

out_unmap:
	munmap(addr, (size_t)g.size);
	close_region_fd(dr);
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
	close_region_fd(dr);
	free(dr);
	region->addr = NULL;
	region->source_data = NULL;
}

static bool daemon_reusable(const struct region *region)
{
	const struct daemon_region *dr = region->source_data;

	return dr->generation == conn_generation();
}

static void daemon_forget(struct region *region)
{
	struct daemon_region *dr = region->source_data;

	if (dr)
		close_region_fd(dr); /* our copy of the parent's descriptor */
	free(dr);
	region->source_data = NULL;
}

struct reregister {
	uint64_t generation;
	bool lost; /* the connection broke: stop */
};

static void reregister_one(struct region *region, void *data)
{
	struct reregister *rr = data;
	struct daemon_region *dr = region->source_data;
	struct conn_registration reg;
	int r;

	if (rr->lost || region->source != &source_daemon || !dr ||
	    dr->generation == rr->generation || region_fd(dr) < 0)
		return;
	reg = (struct conn_registration){
		.fd = dr->fd,
		.region_id = region->region_id,
		.size = region->size,
		.backing = region->backing,
		.page_shift = region->page_shift,
		.token = { dr->token[0], dr->token[1] },
	};
	r = conn_register_locked(&reg);
	if (r == 0)
		dr->generation = rr->generation;
	else if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN || r == -ETIMEDOUT)
		rr->lost = true;
	/* refused: the region stays ours, unaccounted, as before lease tokens */
}

void conn_reregister_hook(uint64_t generation)
{
	struct reregister rr = { .generation = generation };

	arena_regions_foreach(reregister_one, &rr);
}

const struct region_source source_daemon = {
	.name = "daemon",
	.id = BHC_ARENA_SOURCE_DAEMON,
	.acquire = daemon_acquire,
	.release = daemon_release,
	.forget = daemon_forget,
	.atfork_child = conn_atfork_child,
	.reusable = daemon_reusable,
};
