/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

_Static_assert(sizeof(struct bhc_arena_msg_hdr) == 16, "header layout");
_Static_assert(sizeof(struct bhc_arena_msg_hello) == 88, "hello layout");
_Static_assert(sizeof(struct bhc_arena_msg_welcome) == 48, "welcome layout");
_Static_assert(sizeof(struct bhc_arena_msg_acquire) == 32, "acquire layout");
_Static_assert(sizeof(struct bhc_arena_msg_grant) == 48, "grant layout");
_Static_assert(sizeof(struct bhc_arena_msg_release) == 24, "release layout");
_Static_assert(sizeof(struct bhc_arena_msg_released) == 24, "released layout");
_Static_assert(sizeof(struct bhc_arena_msg_error) == 216, "error layout");
_Static_assert(sizeof(struct bhc_arena_msg_admin_reply) == 24, "admin reply layout");
_Static_assert(sizeof(struct bhc_arena_msg_grant_token) == 64, "grant with token layout");
_Static_assert(sizeof(struct bhc_arena_msg_register) == 56, "register layout");
_Static_assert(sizeof(struct bhc_arena_msg_registered) == 24, "registered layout");
_Static_assert(sizeof(struct bhc_arena_region_info) == 64, "region info layout");
_Static_assert(sizeof(struct bhc_arena_region_live) == 64, "region live layout");
_Static_assert(sizeof(struct bhc_arena_region_state) == 64, "region state layout");
_Static_assert(sizeof(struct bhc_arena_msg_reclaim) == 24, "reclaim layout");

const char *proto_type_name(uint16_t type)
{
	static const char *const names[] = {
		[BHC_ARENA_MSG_HELLO] = "HELLO",
		[BHC_ARENA_MSG_WELCOME] = "WELCOME",
		[BHC_ARENA_MSG_ACQUIRE] = "ACQUIRE",
		[BHC_ARENA_MSG_GRANT] = "GRANT",
		[BHC_ARENA_MSG_RELEASE] = "RELEASE",
		[BHC_ARENA_MSG_RELEASED] = "RELEASED",
		[BHC_ARENA_MSG_ERROR] = "ERROR",
		[BHC_ARENA_MSG_ADMIN] = "ADMIN",
		[BHC_ARENA_MSG_ADMIN_REPLY] = "ADMIN_REPLY",
		[BHC_ARENA_MSG_RECLAIM] = "RECLAIM",
		[BHC_ARENA_MSG_REGISTER] = "REGISTER",
		[BHC_ARENA_MSG_REGISTERED] = "REGISTERED",
	};

	if (type < ARRAY_SIZE(names) && names[type])
		return names[type];
	return "unknown";
}

void proto_set_error(struct proto_error *err, int error, uint16_t request_type, uint32_t seq,
		     bool fatal, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->error = error;
	err->request_type = request_type;
	err->seq = seq;
	err->fatal = fatal;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
}

static int decode_hello(const struct bhc_arena_msg_hello *m, struct proto_msg *msg,
			struct proto_error *err)
{
	size_t i;

	const uint32_t known = BHC_ARENA_HELLO_ADMIN | BHC_ARENA_HELLO_LEASE_TOKENS;

	if (m->flags & ~known) {
		proto_set_error(err, EINVAL, m->hdr.type, m->hdr.seq, false,
				"unknown HELLO flags 0x%x", m->flags & ~known);
		return -EBADMSG;
	}
	for (i = 0; i < BHC_ARENA_TAG_MAX && m->tag[i]; i++) {
		if (!bhc_arena_tag_char_valid((unsigned char)m->tag[i])) {
			proto_set_error(err, EINVAL, m->hdr.type, m->hdr.seq, false,
					"tag has byte 0x%02x at offset %zu; allowed are "
					"A-Z a-z 0-9 and . _ : @ / + = -",
					(unsigned char)m->tag[i], i);
			return -EBADMSG;
		}
	}
	if (i == BHC_ARENA_TAG_MAX) {
		proto_set_error(err, EINVAL, m->hdr.type, m->hdr.seq, false,
				"tag is not NUL-terminated within %u bytes", BHC_ARENA_TAG_MAX);
		return -EBADMSG;
	}
	msg->hello.pid = m->pid;
	msg->hello.flags = m->flags;
	memcpy(msg->hello.tag, m->tag, i + 1);
	return 0;
}

static int decode_acquire(const struct bhc_arena_msg_acquire *m, struct proto_msg *msg,
			  struct proto_error *err)
{
	uint32_t policy = m->flags & BHC_ARENA_ACQ_FLAGS_ALL;

	if (m->flags & ~BHC_ARENA_ACQ_FLAGS_ALL) {
		proto_set_error(err, EINVAL, m->hdr.type, m->hdr.seq, false,
				"unknown ACQUIRE flags 0x%x", m->flags & ~BHC_ARENA_ACQ_FLAGS_ALL);
		return -EBADMSG;
	}
	if (policy & (policy - 1)) {
		proto_set_error(err, EINVAL, m->hdr.type, m->hdr.seq, false,
				"at most one of REQUIRE_HUGE, PREFER_HUGE and NO_HUGE may be set");
		return -EBADMSG;
	}
	if (m->page_shift != 0 && m->page_shift != 21 && m->page_shift != 30) {
		proto_set_error(err, EINVAL, m->hdr.type, m->hdr.seq, false,
				"page_shift %u is not 0 (default), 21 (2 MiB) or 30 (1 GiB)",
				m->page_shift);
		return -EBADMSG;
	}
	if (m->size == 0) {
		proto_set_error(err, EINVAL, m->hdr.type, m->hdr.seq, false,
				"a region of size 0 was asked for");
		return -EBADMSG;
	}
	msg->acquire.size = m->size;
	msg->acquire.flags = m->flags;
	msg->acquire.page_shift = m->page_shift;
	return 0;
}

int proto_decode(const void *buf, size_t avail, size_t datagram_len, struct proto_msg *msg,
		 struct proto_error *err)
{
	struct bhc_arena_msg_hdr hdr;
	size_t want = 0;

	if (datagram_len == 0) {
		proto_set_error(err, EBADMSG, 0, 0, false, "empty message");
		return -EBADMSG;
	}
	if (datagram_len < sizeof(hdr) || avail < sizeof(hdr)) {
		proto_set_error(err, EBADMSG, 0, 0, false,
				"message of %zu bytes is shorter than the %zu-byte header",
				datagram_len, sizeof(hdr));
		return -EBADMSG;
	}
	memcpy(&hdr, buf, sizeof(hdr));
	if (hdr.magic != BHC_ARENA_PROTO_MAGIC) {
		proto_set_error(err, EPROTO, 0, 0, true,
				"bad magic 0x%08x: not the bhc-arena protocol", hdr.magic);
		return -EBADMSG;
	}
	if (hdr.version != BHC_ARENA_PROTO_VERSION) {
		proto_set_error(
			err, EPROTONOSUPPORT, hdr.type, hdr.seq, true,
			"protocol version %u is not supported; this daemon speaks version %u",
			hdr.version, BHC_ARENA_PROTO_VERSION);
		return -EBADMSG;
	}
	if (datagram_len > BHC_ARENA_MSG_MAX || avail < datagram_len) {
		proto_set_error(err, EMSGSIZE, hdr.type, hdr.seq, false,
				"message of %zu bytes exceeds the limit of %u bytes", datagram_len,
				BHC_ARENA_MSG_MAX);
		return -EBADMSG;
	}
	if (hdr.length != datagram_len) {
		proto_set_error(err, EBADMSG, hdr.type, hdr.seq, false,
				"length field says %u bytes but the message has %zu", hdr.length,
				datagram_len);
		return -EBADMSG;
	}
	switch (hdr.type) {
	case BHC_ARENA_MSG_HELLO:
		want = sizeof(struct bhc_arena_msg_hello);
		break;
	case BHC_ARENA_MSG_ACQUIRE:
		want = sizeof(struct bhc_arena_msg_acquire);
		break;
	case BHC_ARENA_MSG_RELEASE:
		want = sizeof(struct bhc_arena_msg_release);
		break;
	case BHC_ARENA_MSG_REGISTER:
		want = sizeof(struct bhc_arena_msg_register);
		break;
	case BHC_ARENA_MSG_ADMIN:
		break;
	case BHC_ARENA_MSG_RECLAIM:
	case BHC_ARENA_MSG_REGISTERED:
	case BHC_ARENA_MSG_WELCOME:
	case BHC_ARENA_MSG_GRANT:
	case BHC_ARENA_MSG_RELEASED:
	case BHC_ARENA_MSG_ERROR:
	case BHC_ARENA_MSG_ADMIN_REPLY:
		proto_set_error(err, EBADMSG, hdr.type, hdr.seq, false,
				"%s is sent by the daemon, not to it", proto_type_name(hdr.type));
		return -EBADMSG;
	default:
		proto_set_error(err, EBADMSG, hdr.type, hdr.seq, false, "unknown message type %u",
				hdr.type);
		return -EBADMSG;
	}
	if (want && datagram_len != want) {
		proto_set_error(err, EBADMSG, hdr.type, hdr.seq, false, "%s is %zu bytes, not %zu",
				proto_type_name(hdr.type), want, datagram_len);
		return -EBADMSG;
	}
	memset(msg, 0, sizeof(*msg));
	msg->type = hdr.type;
	msg->seq = hdr.seq;
	switch (hdr.type) {
	case BHC_ARENA_MSG_HELLO: {
		struct bhc_arena_msg_hello m;

		memcpy(&m, buf, sizeof(m));
		return decode_hello(&m, msg, err);
	}
	case BHC_ARENA_MSG_ACQUIRE: {
		struct bhc_arena_msg_acquire m;

		memcpy(&m, buf, sizeof(m));
		return decode_acquire(&m, msg, err);
	}
	case BHC_ARENA_MSG_RELEASE: {
		struct bhc_arena_msg_release m;

		memcpy(&m, buf, sizeof(m));
		msg->release.region_id = m.region_id;
		return 0;
	}
	case BHC_ARENA_MSG_REGISTER: {
		struct bhc_arena_msg_register m;

		memcpy(&m, buf, sizeof(m));
		msg->reg.region_id = m.region_id;
		msg->reg.size = m.size;
		msg->reg.backing = m.backing;
		msg->reg.page_shift = m.page_shift;
		msg->reg.token[0] = m.token[0];
		msg->reg.token[1] = m.token[1];
		msg->reg.fd = -1;
		return 0;
	}
	default: /* BHC_ARENA_MSG_ADMIN */
		if (datagram_len == sizeof(hdr)) {
			proto_set_error(err, EINVAL, hdr.type, hdr.seq, false,
					"ADMIN request without a JSON body");
			return -EBADMSG;
		}
		msg->admin.json = (const char *)buf + sizeof(hdr);
		msg->admin.len = datagram_len - sizeof(hdr);
		return 0;
	}
}

static void encode_hdr(struct bhc_arena_msg_hdr *hdr, uint16_t type, size_t length, uint32_t seq)
{
	hdr->magic = BHC_ARENA_PROTO_MAGIC;
	hdr->version = BHC_ARENA_PROTO_VERSION;
	hdr->type = type;
	hdr->length = (uint32_t)length;
	hdr->seq = seq;
}

void proto_encode_welcome(struct bhc_arena_msg_welcome *m, uint32_t seq, uint64_t client_id,
			  uint64_t daemon_start_ns, uint64_t max_region_size, uint32_t page_shift,
			  uint32_t policy)
{
	memset(m, 0, sizeof(*m));
	encode_hdr(&m->hdr, BHC_ARENA_MSG_WELCOME, sizeof(*m), seq);
	m->client_id = client_id;
	m->daemon_start_ns = daemon_start_ns;
	m->max_region_size = max_region_size;
	m->page_shift = page_shift;
	m->policy = policy;
}

void proto_encode_grant(struct bhc_arena_msg_grant *m, uint32_t seq, uint64_t region_id,
			uint64_t size, uint32_t backing, uint32_t page_shift)
{
	memset(m, 0, sizeof(*m));
	encode_hdr(&m->hdr, BHC_ARENA_MSG_GRANT, sizeof(*m), seq);
	m->region_id = region_id;
	m->size = size;
	m->backing = backing;
	m->page_shift = page_shift;
	m->header_size = BHC_ARENA_REGION_HEADER_SIZE;
	m->header_version = BHC_ARENA_REGION_VERSION;
}

void proto_encode_grant_token(struct bhc_arena_msg_grant_token *m, uint32_t seq, uint64_t region_id,
			      uint64_t size, uint32_t backing, uint32_t page_shift,
			      const uint64_t token[2])
{
	memset(m, 0, sizeof(*m));
	proto_encode_grant(&m->grant, seq, region_id, size, backing, page_shift);
	m->grant.hdr.length = sizeof(*m);
	m->token[0] = token[0];
	m->token[1] = token[1];
}

void proto_encode_registered(struct bhc_arena_msg_registered *m, uint32_t seq, uint64_t region_id)
{
	memset(m, 0, sizeof(*m));
	encode_hdr(&m->hdr, BHC_ARENA_MSG_REGISTERED, sizeof(*m), seq);
	m->region_id = region_id;
}

void proto_encode_released(struct bhc_arena_msg_released *m, uint32_t seq, uint64_t region_id)
{
	memset(m, 0, sizeof(*m));
	encode_hdr(&m->hdr, BHC_ARENA_MSG_RELEASED, sizeof(*m), seq);
	m->region_id = region_id;
}

void proto_encode_reclaim(struct bhc_arena_msg_reclaim *m, uint64_t bytes)
{
	memset(m, 0, sizeof(*m));
	encode_hdr(&m->hdr, BHC_ARENA_MSG_RECLAIM, sizeof(*m), 0);
	m->bytes = bytes;
}

void proto_encode_error(struct bhc_arena_msg_error *m, const struct proto_error *err)
{
	memset(m, 0, sizeof(*m));
	encode_hdr(&m->hdr, BHC_ARENA_MSG_ERROR, sizeof(*m), err->seq);
	m->error = err->error;
	m->request_type = err->request_type;
	memcpy(m->text, err->text, sizeof(m->text));
	m->text[sizeof(m->text) - 1] = '\0';
}

size_t proto_encode_admin_reply(void *buf, size_t cap, uint32_t seq, int32_t status, uint32_t flags,
				const char *json, size_t len)
{
	struct bhc_arena_msg_admin_reply m;

	if (cap < sizeof(m) || len > cap - sizeof(m))
		return 0;
	memset(&m, 0, sizeof(m));
	encode_hdr(&m.hdr, BHC_ARENA_MSG_ADMIN_REPLY, sizeof(m) + len, seq);
	m.status = status;
	m.flags = flags;
	memcpy(buf, &m, sizeof(m));
	if (len)
		memcpy((char *)buf + sizeof(m), json, len);
	return sizeof(m) + len;
}
