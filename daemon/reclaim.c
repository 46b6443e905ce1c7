/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "log.h"
#include "peer.h"
#include "proto.h"
#include "reclaim.h"
#include "region.h"
#include "server.h"
#include "common/size.h"

/* Bytes of @peer's leases of the kind wanted whose headers say kept; one pread each. */
static uint64_t kept_bytes(const struct peer *peer, uint32_t huge_shift)
{
	struct list_head *pos;
	uint64_t bytes = 0;

	list_for_each(pos, &peer->leases) {
		const struct region *region = list_entry(pos, struct region, link);
		struct region_usage u;

		if (huge_shift && (region->backing != BHC_ARENA_BACKING_HUGETLB ||
				   region->page_shift != huge_shift))
			continue;
		if (region_read_usage(region, &u) == 0 && u.kept)
			bytes += region->size;
	}
	return bytes;
}

/* RECLAIM @bytes from the peers (of @user only, unless NULL) that keep regions of the kind. */
static unsigned int ask(struct server *server, uint64_t bytes, uint32_t huge_shift,
			const struct user *user)
{
	uint64_t now = uv_now(server->loop), kept;
	struct bhc_arena_msg_reclaim m;
	struct list_head *pos, *n;
	unsigned int asked = 0;
	char desc[160], a[32], b[32];

	list_for_each_safe(pos, n, &server->peers) {
		struct peer *peer = list_entry(pos, struct peer, link);

		if (!peer->said_hello || peer->admin || peer->closing || peer->hung_up ||
		    list_empty(&peer->leases) || (user && peer->user != user))
			continue;
		/* one RECLAIM until it sends something: it may read only then */
		if (peer->n_reclaims && peer->n_requests == peer->reclaim_requests)
			continue;
		if (peer->reclaim_checked_ms &&
		    now - peer->reclaim_checked_ms < RECLAIM_INTERVAL_MS)
			continue;
		peer->reclaim_checked_ms = now;
		kept = kept_bytes(peer, huge_shift);
		if (!kept)
			continue;
		proto_encode_reclaim(&m, bytes);
		log_debug("%s keeps %s: RECLAIM %s", peer_describe(peer, desc, sizeof(desc)),
			  size_format_iec(kept, a, sizeof(a)),
			  size_format_iec(bytes, b, sizeof(b)));
		/* may close the peer (and unlink it): list_for_each_safe */
		if (peer_send(peer, &m, sizeof(m), -1) < 0)
			continue;
		peer->n_reclaims++;
		peer->reclaim_requests = peer->n_requests;
		server->n_reclaims++;
		asked++;
	}
	return asked;
}

unsigned int reclaim_ask(struct server *server, uint64_t bytes, uint32_t huge_shift)
{
	server->n_reclaim_short++;
	return ask(server, bytes, huge_shift, NULL);
}

unsigned int reclaim_ask_user(struct server *server, const struct user *user, uint64_t bytes)
{
	return ask(server, bytes, 0, user);
}
