/* SPDX-License-Identifier: MIT */
/*
 * Admin requests (BHC_ARENA_MSG_ADMIN): a JSON object in, a JSON reply out,
 * sent in chunks of at most BHC_ARENA_ADMIN_CHUNK_MAX bytes. docs/ADMIN.md
 * is the contract: the commands (status, clients, regions, snapshot,
 * pool-set, reload), every field of the replies, and who may do what.
 *
 * Replies echo the seq of the request being handled (peer->request_seq).
 */
#ifndef BHC_DAEMON_ADMIN_H
#define BHC_DAEMON_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct peer;
struct server;
struct ucred;

/**
 * admin_handle() - answer the ADMIN request @json (@len bytes, not
 * NUL-terminated, at least one byte) from @peer, which has said HELLO.
 * Every request gets an ADMIN_REPLY, errors included (status and an
 * "error" member). Returns 0 once it is queued, or -errno when no reply
 * could be built (out of memory), and then the caller answers with ERROR.
 */
int admin_handle(struct server *server, struct peer *peer, const char *json, size_t len);

/**
 * admin_privileged() - whether the client of the socket @fd, with
 * SO_PEERCRED @cred, is an admin: uid 0, or a member of the group @group
 * (primary or supplementary, as of connect; NULL or "": none).
 */
bool admin_privileged(const char *group, int fd, const struct ucred *cred);

/**
 * admin_request_check() - parse and validate the ADMIN body @json (@len
 * bytes, not NUL-terminated) as admin_handle() does, without a server:
 * JSON, command, members and their types, and for pool-set the warm
 * targets (sizes rounded to @page_size). Access is not checked. Returns 0,
 * or the positive errno the reply would carry (EINVAL, EMSGSIZE,
 * EPROTONOSUPPORT, ENOMEM) with the reply's message in @msg. For tests and
 * fuzzing.
 */
int admin_request_check(const char *json, size_t len, uint64_t page_size, char *msg,
			size_t msg_len);

/**
 * admin_send_reply() - send @len bytes of JSON as ADMIN_REPLY chunks with
 * @status (0 or a positive errno), every chunk but the last flagged
 * BHC_ARENA_ADMIN_MORE; each chunk is one datagram of at most
 * BHC_ARENA_ADMIN_CHUNK_MAX bytes, header included. Returns 0 or -errno
 * (the peer is then being closed).
 */
int admin_send_reply(struct peer *peer, int32_t status, const char *json, size_t len);

#endif
