/* SPDX-License-Identifier: MIT */
/*
 * Choosing a region source by mode (BHC_ARENA_MODE), and the dispatch of
 * release and fork hooks to the source a region came from. See source.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "conn.h"
#include "source.h"

int source_resolve_mode(uint32_t mode, enum bhc_arena_mode *modep)
{
	const char *env;

	switch (mode) {
	case BHC_ARENA_MODE_AUTO:
	case BHC_ARENA_MODE_DAEMON:
	case BHC_ARENA_MODE_LOCAL:
		*modep = mode;
		return 0;
	case BHC_ARENA_MODE_ENV:
		break;
	default:
		return -EINVAL;
	}

	env = getenv("BHC_ARENA_MODE");
	if (!env || !*env || !strcasecmp(env, "auto"))
		*modep = BHC_ARENA_MODE_AUTO;
	else if (!strcasecmp(env, "daemon"))
		*modep = BHC_ARENA_MODE_DAEMON;
	else if (!strcasecmp(env, "local"))
		*modep = BHC_ARENA_MODE_LOCAL;
	else
		return -EINVAL;
	return 0;
}

/* Errors of the daemon source that mean "no daemon answers here". */
static bool source_daemon_unreachable(int r)
{
	switch (-r) {
	case ECONNREFUSED: /* socket file without a listener */
	case ENOENT: /* no socket file */
	case ENOTDIR:
	case EACCES: /* not ours to use */
	case ECONNRESET:
	case EPIPE:
	case ENOTCONN:
	case EUSERS: /* it answers, but serves no more connections */
		return true;
	default:
		return false;
	}
}

int source_acquire(enum bhc_arena_mode mode, const struct region_request *req,
		   struct region *region)
{
	int r;

	switch (mode) {
	case BHC_ARENA_MODE_LOCAL:
		return source_local.acquire(req, region);
	case BHC_ARENA_MODE_DAEMON:
		return source_daemon.acquire(req, region);
	case BHC_ARENA_MODE_AUTO:
		/* no daemon a moment ago: do not pay a failed connect for every arena */
		if (!conn_daemon_absent()) {
			r = source_daemon.acquire(req, region);
			/* a backing the daemon cannot give may still be had locally */
			if (!source_daemon_unreachable(r) && !(req->backing && r == -EOPNOTSUPP))
				return r;
		}
		return source_local.acquire(req, region);
	default:
		return -EINVAL;
	}
}

void source_release(struct region *region)
{
	region->source->release(region);
}

void source_forget(struct region *region)
{
	if (region->source->forget)
		region->source->forget(region);
}

void source_atfork_child(void)
{
	if (source_local.atfork_child)
		source_local.atfork_child();
	if (source_daemon.atfork_child)
		source_daemon.atfork_child();
}

bool source_reusable(const struct region *region)
{
	return !region->source->reusable || region->source->reusable(region);
}

void region_set_use(const struct region *region, uint32_t use)
{
	struct bhc_arena_region_state *st =
		(void *)((char *)region->addr + BHC_ARENA_REGION_STATE_OFFSET);

	if (use == BHC_ARENA_REGION_KEPT)
		st->kept_ns = clock_realtime_ns();
	else if (st->use == BHC_ARENA_REGION_KEPT)
		st->n_reuses++;
	st->use = use;
}

void region_write_info(const struct region *region)
{
	struct bhc_arena_region_info *info = region->addr;

	*info = (struct bhc_arena_region_info){
		.magic = BHC_ARENA_REGION_MAGIC,
		.version = BHC_ARENA_REGION_VERSION,
		.header_size = BHC_ARENA_REGION_HEADER_SIZE,
		.region_id = region->region_id,
		.size = region->size,
		.backing = region->backing,
		.page_shift = region->page_shift,
		.created_ns = clock_realtime_ns(),
	};
}
