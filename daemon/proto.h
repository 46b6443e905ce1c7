/* SPDX-License-Identifier: MIT */
/*
 * Pure decoding and encoding of the wire protocol (include/bhc/arena-protocol.h).
 * No I/O and no daemon state: proto_decode() takes the bytes of one datagram
 * and either yields a validated message or says exactly why it is refused,
 * so a fuzzer can drive it directly.
 */
#ifndef BHC_DAEMON_PROTO_H
#define BHC_DAEMON_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bhc/arena-protocol.h>

/* A validated client message. Pointers point into the decoded buffer. */
struct proto_msg {
	uint16_t type; /* BHC_ARENA_MSG_HELLO, _ACQUIRE, _RELEASE or _ADMIN */
	uint32_t seq;
	union {
		struct {
			uint32_t pid;
			uint32_t flags;
			char tag[BHC_ARENA_TAG_MAX]; /* NUL-terminated, charset checked */
		} hello;
		struct {
			uint64_t size; /* > 0, not yet rounded */
			uint32_t flags;
			uint32_t page_shift; /* 0, 21 or 30 */
		} acquire;
		struct {
			uint64_t region_id;
		} release;
		struct {
			uint64_t region_id;
			uint64_t size;
			uint32_t backing;
			uint32_t page_shift;
			uint64_t token[2];
			int fd; /* the memfd that came with it (set by the reader), or -1 */
		} reg; /* REGISTER */
		struct {
			const char *json; /* not NUL-terminated */
			size_t len; /* >= 1 */
		} admin;
	};
};

/* Why a message was refused: what the ERROR reply says. */
struct proto_error {
	int32_t error; /* positive errno */
	uint16_t request_type; /* type of the refused message, 0 if not known */
	uint32_t seq; /* its seq, 0 if not known */
	bool fatal; /* the connection must be closed after the reply */
	char text[BHC_ARENA_ERROR_TEXT_MAX];
};

/**
 * proto_decode() - validate one datagram of @datagram_len bytes whose first
 * @avail bytes are at @buf (@avail < @datagram_len when the datagram was
 * larger than the receive buffer). Returns 0 and fills @msg, or -EBADMSG and
 * fills @err.
 */
int proto_decode(const void *buf, size_t avail, size_t datagram_len, struct proto_msg *msg,
		 struct proto_error *err);

/** proto_set_error() - fill @err (printf-style text, truncated to fit). */
__attribute__((format(printf, 6, 7))) void proto_set_error(struct proto_error *err, int error,
							   uint16_t request_type, uint32_t seq,
							   bool fatal, const char *fmt, ...);

/** proto_encode_welcome() - fill a WELCOME reply. */
void proto_encode_welcome(struct bhc_arena_msg_welcome *m, uint32_t seq, uint64_t client_id,
			  uint64_t daemon_start_ns, uint64_t max_region_size, uint32_t page_shift,
			  uint32_t policy);

/** proto_encode_grant() - fill a GRANT reply (the fd travels beside it). */
void proto_encode_grant(struct bhc_arena_msg_grant *m, uint32_t seq, uint64_t region_id,
			uint64_t size, uint32_t backing, uint32_t page_shift);

/** proto_encode_grant_token() - a GRANT with the lease token (HELLO asked for tokens). */
void proto_encode_grant_token(struct bhc_arena_msg_grant_token *m, uint32_t seq, uint64_t region_id,
			      uint64_t size, uint32_t backing, uint32_t page_shift,
			      const uint64_t token[2]);

/** proto_encode_registered() - fill a REGISTERED reply. */
void proto_encode_registered(struct bhc_arena_msg_registered *m, uint32_t seq, uint64_t region_id);

/** proto_encode_released() - fill a RELEASED reply. */
void proto_encode_released(struct bhc_arena_msg_released *m, uint32_t seq, uint64_t region_id);

/** proto_encode_reclaim() - fill a RECLAIM (seq 0: it answers no request). */
void proto_encode_reclaim(struct bhc_arena_msg_reclaim *m, uint64_t bytes);

/** proto_encode_error() - fill an ERROR reply from @err. */
void proto_encode_error(struct bhc_arena_msg_error *m, const struct proto_error *err);

/**
 * proto_encode_admin_reply() - fill one ADMIN_REPLY chunk at @buf (of @cap
 * bytes) with @len bytes of JSON; returns the datagram's size, or 0 if it
 * does not fit.
 */
size_t proto_encode_admin_reply(void *buf, size_t cap, uint32_t seq, int32_t status, uint32_t flags,
				const char *json, size_t len);

/** proto_type_name() - "HELLO", "ACQUIRE", ... or "unknown". */
const char *proto_type_name(uint16_t type);

#endif
