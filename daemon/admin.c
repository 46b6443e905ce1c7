/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include <bhc/arena-protocol.h>

#include "admin.h"
#include "peer.h"
#include "proto.h"

int admin_handle(struct server *server, struct peer *peer, const char *json, size_t len)
{
	return peer_send_error(peer, ENOSYS, "admin requests are not implemented yet");
}

int admin_send_reply(struct peer *peer, int32_t status, const char *json, size_t len)
{
	const size_t room = BHC_ARENA_ADMIN_CHUNK_MAX - sizeof(struct bhc_arena_msg_admin_reply);
	size_t off = 0, n, size;
	unsigned char *buf;
	int r = 0;

	buf = malloc(BHC_ARENA_ADMIN_CHUNK_MAX);
	if (!buf)
		return -ENOMEM;
	do {
		n = len - off < room ? len - off : room;
		size = proto_encode_admin_reply(buf, BHC_ARENA_ADMIN_CHUNK_MAX, peer->request_seq,
						status, off + n < len ? BHC_ARENA_ADMIN_MORE : 0,
						json + off, n);
		r = peer_send(peer, buf, size, -1);
		off += n;
	} while (r == 0 && off < len);
	free(buf);
	return r;
}
