/* SPDX-License-Identifier: MIT */
/*
 * Region sources: where an arena's memory comes from.
 *
 * A source hands out regions: mappings whose first BHC_ARENA_REGION_HEADER_SIZE
 * bytes are a region header with its struct bhc_arena_region_info filled in
 * (magic, version, header_size, region_id, size, backing, page_shift,
 * created_ns) by region_write_info(): both sources write it themselves (a
 * daemon region arrives zero from its first byte, region header version 2).
 * Touching anything above the header can neither allocate a page nor raise
 * SIGBUS. arena.c checks the header, then owns the live part ([64, 128)) and
 * the data.
 *
 * Two sources exist:
 *
 *  - source_local (source-local.c): the process maps the memory itself,
 *    hugetlb, then THP, then small pages.
 *
 *  - source_daemon (source-daemon.c, over the connection in conn.c): leases
 *    regions from bhc-arenad as sealed memfds.
 *
 * THE DAEMON SEAM. source.c reaches the daemon source only through the
 * pointer `daemon_source` defined at the top of source.c (&source_daemon;
 * a build without it would set NULL). With it NULL, BHC_ARENA_MODE_DAEMON
 * fails with -ECONNREFUSED and BHC_ARENA_MODE_AUTO uses the local source.
 * The daemon is plugged in thus:
 *
 *   1. define `const struct region_source source_daemon = { ... };` in
 *      client/source-daemon.c (declared below) and add the file (and conn.c)
 *      to client_libbhc_arena_la_SOURCES in client/local.mk;
 *   2. point `daemon_source` in source.c at &source_daemon.
 *
 * A plain pointer rather than a weak symbol: with the static library a weak
 * reference would not pull source-daemon.o out of the archive.
 *
 * In AUTO mode an error from the daemon source that means "no daemon here"
 * (see source_daemon_unreachable() in source.c) falls back to the local
 * source, as does -EOPNOTSUPP for a backing the request names; any other
 * error (quota, policy) is returned to the caller. A missing daemon is
 * remembered for a moment (conn_daemon_absent()), so that AUTO mode does not
 * try to connect for every arena of a process that has none.
 *
 * FORK. In a child of fork() every inherited arena is forgotten by the child
 * handler in thread.c: for each region it calls the region's source ->forget()
 * (free bookkeeping, close fds; never munmap, never talk to the daemon: the
 * mappings are MADV_DONTFORK and the connection is the parent's), then every
 * source's ->atfork_child() (the daemon source drops its inherited connection
 * there; the next acquire connects afresh).
 */
#ifndef BHC_CLIENT_SOURCE_H
#define BHC_CLIENT_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <bhc/arena.h>

struct region_source;

/* What bhc_arena_new_opts() asks a source for. */
struct region_request {
	size_t size; /* bytes wanted, header included; the source rounds up */
	uint32_t backing; /* 0: best available; else exactly this enum bhc_arena_backing */
	uint32_t page_shift; /* hugetlb page size: 0 (source default), 21 or 30 */
};

/* A region a source handed out. */
struct region {
	void *addr; /* start of the mapping (the region header) */
	size_t size; /* bytes mapped, header included */
	uint64_t region_id; /* 0 for local regions */
	uint32_t backing; /* enum bhc_arena_backing */
	uint32_t page_shift; /* log2 of the backing's page size */
	const struct region_source *source; /* who gave it; who takes it back */
	void *source_data; /* the source's own per-region state, or NULL */
};

struct region_source {
	const char *name; /* "local", "daemon": bhc_arena_stats().source_name */
	enum bhc_arena_source id;

	/*
	 * Map a region of at least req->size bytes and fill *region, with the
	 * header's info part written. Returns 0 or -errno; on error nothing is
	 * left mapped or allocated.
	 */
	int (*acquire)(const struct region_request *req, struct region *region);

	/* Give a region back: unmap it, tell the daemon. */
	void (*release)(struct region *region);

	/*
	 * In a forked child: drop an inherited region's bookkeeping without
	 * touching the mapping (it is not in the child) or the daemon. May be NULL.
	 */
	void (*forget)(struct region *region);

	/* In a forked child: drop the source's inherited global state. May be NULL. */
	void (*atfork_child)(void);
};

/* source-local.c */
extern const struct region_source source_local;

/* source-daemon.c (see THE DAEMON SEAM above) */
extern const struct region_source source_daemon;

/**
 * source_resolve_mode() - turn bhc_arena_opts.mode into AUTO, DAEMON or LOCAL,
 * reading $BHC_ARENA_MODE for BHC_ARENA_MODE_ENV. Returns 0 or -EINVAL.
 */
int source_resolve_mode(uint32_t mode, enum bhc_arena_mode *modep);

/**
 * source_acquire() - get a region for @req from the source @mode selects.
 * Returns 0 or -errno (-ECONNREFUSED: daemon mode and no daemon).
 */
int source_acquire(enum bhc_arena_mode mode, const struct region_request *req,
		   struct region *region);

/** source_release() - give @region back to the source it came from. */
void source_release(struct region *region);

/** source_forget() - drop @region in a forked child (see FORK above). */
void source_forget(struct region *region);

/** source_atfork_child() - every source's fork child hook (see FORK above). */
void source_atfork_child(void);

/**
 * region_write_info() - fill in @region's struct bhc_arena_region_info at
 * region->addr from its fields (created_ns: now, CLOCK_REALTIME).
 */
void region_write_info(const struct region *region);

#endif /* BHC_CLIENT_SOURCE_H */
