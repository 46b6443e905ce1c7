/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the daemon's message decoder and validator
 * (daemon/proto.c), exactly as peer.c calls it on every datagram a client
 * sends. The input is one datagram; it is decoded as received whole and,
 * when larger than the daemon's receive buffer, as received truncated.
 * Whatever the bytes, the decoder must either accept a message that obeys
 * every documented rule (docs/PROTOCOL.md) or refuse it with a positive
 * errno and a non-empty, NUL-terminated text; and an ERROR built from the
 * refusal must be a well-formed reply.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../daemon/proto.h"

#define CHECK(cond)              \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

static bool known_errno(int e)
{
	switch (e) {
	case EINVAL:
	case EPROTO:
	case EBADMSG:
	case EMSGSIZE:
	case EPROTONOSUPPORT:
		return true;
	}
	return false;
}

static void check_accepted(const uint8_t *buf, size_t len, const struct proto_msg *msg)
{
	struct bhc_arena_msg_hdr hdr;
	uint32_t policy;

	memcpy(&hdr, buf, sizeof(hdr));
	CHECK(hdr.magic == BHC_ARENA_PROTO_MAGIC);
	CHECK(hdr.version == BHC_ARENA_PROTO_VERSION);
	CHECK(hdr.length == len && len <= BHC_ARENA_MSG_MAX);
	CHECK(msg->type == hdr.type && msg->seq == hdr.seq);
	switch (msg->type) {
	case BHC_ARENA_MSG_HELLO:
		CHECK(len == sizeof(struct bhc_arena_msg_hello));
		CHECK((msg->hello.flags &
		       ~(BHC_ARENA_HELLO_ADMIN | BHC_ARENA_HELLO_LEASE_TOKENS)) == 0);
		CHECK(memchr(msg->hello.tag, '\0', sizeof(msg->hello.tag)) != NULL);
		CHECK(bhc_arena_tag_valid(msg->hello.tag));
		break;
	case BHC_ARENA_MSG_ACQUIRE:
		CHECK(len == sizeof(struct bhc_arena_msg_acquire));
		CHECK(msg->acquire.size > 0);
		CHECK((msg->acquire.flags & ~BHC_ARENA_ACQ_FLAGS_ALL) == 0);
		policy = msg->acquire.flags;
		CHECK((policy & (policy - 1)) == 0);
		CHECK(msg->acquire.page_shift == 0 || msg->acquire.page_shift == 21 ||
		      msg->acquire.page_shift == 30);
		break;
	case BHC_ARENA_MSG_RELEASE:
		CHECK(len == sizeof(struct bhc_arena_msg_release));
		break;
	case BHC_ARENA_MSG_REGISTER:
		CHECK(len == sizeof(struct bhc_arena_msg_register));
		break;
	case BHC_ARENA_MSG_ADMIN:
		CHECK(msg->admin.len >= 1);
		CHECK((const uint8_t *)msg->admin.json == buf + sizeof(hdr));
		CHECK(sizeof(hdr) + msg->admin.len == len);
		break;
	default:
		abort(); /* only client messages are ever accepted */
	}
}

static void check_refused(const struct proto_error *err)
{
	struct bhc_arena_msg_error m;

	CHECK(err->error > 0 && known_errno(err->error));
	CHECK(memchr(err->text, '\0', sizeof(err->text)) != NULL);
	CHECK(err->text[0] != '\0');
	proto_encode_error(&m, err);
	CHECK(m.hdr.magic == BHC_ARENA_PROTO_MAGIC && m.hdr.type == BHC_ARENA_MSG_ERROR);
	CHECK(m.hdr.length == sizeof(m) && m.error == err->error);
	CHECK(m.text[sizeof(m.text) - 1] == '\0');
	/* the name is printed in the daemon's log for every refusal */
	CHECK(proto_type_name(err->request_type) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int fuzz_accepts(const uint8_t *data, size_t size);

/* Whether the decoder takes @data as one valid message (the corpus replay asks for seeds). */
int fuzz_accepts(const uint8_t *data, size_t size)
{
	struct proto_error err;
	struct proto_msg msg;
	uint8_t *copy;
	int r;

	if (size > BHC_ARENA_MSG_MAX)
		return 0;
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = proto_decode(copy, size, size, &msg, &err);
	free(copy);
	return r == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_error err;
	struct proto_msg msg;
	size_t avail = size < BHC_ARENA_MSG_MAX ? size : BHC_ARENA_MSG_MAX;
	uint8_t *copy;
	int r;

	/* a copy of exactly the received bytes, so ASan sees any read past them */
	copy = malloc(avail ? avail : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, avail);
	memset(&err, 0, sizeof(err));
	r = proto_decode(copy, avail, size, &msg, &err);
	if (r == 0)
		check_accepted(copy, size, &msg);
	else
		check_refused(&err);
	CHECK(r == 0 || r == -EBADMSG);
	/* the same datagram announced larger than what arrived: always refused */
	r = proto_decode(copy, avail, size + 1 + (size & 0xff), &msg, &err);
	CHECK(r == -EBADMSG);
	check_refused(&err);
	free(copy);
	return 0;
}
