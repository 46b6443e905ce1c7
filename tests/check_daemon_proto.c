/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the daemon's pure parts: wire decoding and encoding
 * (daemon/proto.c) and configuration parsing and validation
 * (daemon/config.c). The conversation with a running daemon is tested by
 * check_daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "../daemon/config.h"
#include "../daemon/proto.h"
#include "tap.h"
#include "common/size.h"

static void hdr(struct bhc_arena_msg_hdr *h, uint16_t type, uint32_t length, uint32_t seq)
{
	h->magic = BHC_ARENA_PROTO_MAGIC;
	h->version = BHC_ARENA_PROTO_VERSION;
	h->type = type;
	h->length = length;
	h->seq = seq;
}

static int decode(const void *buf, size_t len, struct proto_msg *msg, struct proto_error *err)
{
	memset(err, 0, sizeof(*err));
	return proto_decode(buf, len, len, msg, err);
}

static struct bhc_arena_msg_hello make_hello(const char *tag, uint32_t flags)
{
	struct bhc_arena_msg_hello m;

	memset(&m, 0, sizeof(m));
	hdr(&m.hdr, BHC_ARENA_MSG_HELLO, sizeof(m), 7);
	m.pid = 1234;
	m.flags = flags;
	snprintf(m.tag, sizeof(m.tag), "%s", tag);
	return m;
}

static struct bhc_arena_msg_acquire make_acquire(uint64_t size, uint32_t flags, uint32_t shift)
{
	struct bhc_arena_msg_acquire m;

	memset(&m, 0, sizeof(m));
	hdr(&m.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(m), 9);
	m.size = size;
	m.flags = flags;
	m.page_shift = shift;
	return m;
}

START_TEST(test_hello)
{
	struct bhc_arena_msg_hello m = make_hello("job-1:a/b+c=d@e_f.G9", BHC_ARENA_HELLO_ADMIN);
	struct proto_error err;
	struct proto_msg msg;

	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), 0);
	ck_assert_uint_eq(msg.type, BHC_ARENA_MSG_HELLO);
	ck_assert_uint_eq(msg.seq, 7);
	ck_assert_uint_eq(msg.hello.pid, 1234);
	ck_assert_uint_eq(msg.hello.flags, BHC_ARENA_HELLO_ADMIN);
	ck_assert_str_eq(msg.hello.tag, "job-1:a/b+c=d@e_f.G9");

	m = make_hello("", 0);
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), 0);
	ck_assert_str_eq(msg.hello.tag, "");
}
END_TEST

START_TEST(test_hello_refused)
{
	struct bhc_arena_msg_hello m = make_hello("has space", 0);
	struct proto_error err;
	struct proto_msg msg;

	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EINVAL);
	ck_assert_uint_eq(err.request_type, BHC_ARENA_MSG_HELLO);
	ck_assert_uint_eq(err.seq, 7);
	ck_assert_ptr_nonnull(strstr(err.text, "offset 3"));

	m = make_hello("x", 0);
	memset(m.tag, 'a', sizeof(m.tag));
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EINVAL);
	ck_assert_ptr_nonnull(strstr(err.text, "NUL"));

	m = make_hello("ok", 0x10);
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EINVAL);

	m = make_hello("\xc3\xa9", 0);
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EINVAL);
	ck_assert(!err.fatal);
}
END_TEST

START_TEST(test_acquire)
{
	struct bhc_arena_msg_acquire m = make_acquire(5000, BHC_ARENA_ACQ_NO_HUGE, 30);
	struct proto_error err;
	struct proto_msg msg;
	static const uint32_t good_flags[] = { 0, BHC_ARENA_ACQ_REQUIRE_HUGE,
					       BHC_ARENA_ACQ_PREFER_HUGE, BHC_ARENA_ACQ_NO_HUGE };
	size_t i;

	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), 0);
	ck_assert_uint_eq(msg.acquire.size, 5000);
	ck_assert_uint_eq(msg.acquire.flags, BHC_ARENA_ACQ_NO_HUGE);
	ck_assert_uint_eq(msg.acquire.page_shift, 30);
	for (i = 0; i < ARRAY_SIZE(good_flags); i++) {
		m = make_acquire(1, good_flags[i], 21);
		ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), 0);
	}
}
END_TEST

START_TEST(test_acquire_refused)
{
	static const struct {
		uint64_t size;
		uint32_t flags, shift;
		const char *text;
	} bad[] = {
		{ 0, 0, 0, "size 0" },
		{ 1, 0x8, 0, "unknown ACQUIRE flags 0x8" },
		{ 1, BHC_ARENA_ACQ_REQUIRE_HUGE | BHC_ARENA_ACQ_NO_HUGE, 0, "at most one" },
		{ 1, BHC_ARENA_ACQ_FLAGS_ALL, 0, "at most one" },
		{ 1, 0, 12, "page_shift 12" },
		{ 1, 0, 22, "page_shift 22" },
	};
	struct bhc_arena_msg_acquire m;
	struct proto_error err;
	struct proto_msg msg;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		m = make_acquire(bad[i].size, bad[i].flags, bad[i].shift);
		ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
		ck_assert_int_eq(err.error, EINVAL);
		ck_assert_uint_eq(err.request_type, BHC_ARENA_MSG_ACQUIRE);
		ck_assert_uint_eq(err.seq, 9);
		ck_assert(!err.fatal);
		ck_assert_msg(strstr(err.text, bad[i].text), "case %zu: %s", i, err.text);
	}
}
END_TEST

START_TEST(test_release_admin)
{
	struct bhc_arena_msg_release rel;
	unsigned char buf[64];
	struct proto_error err;
	struct proto_msg msg;

	memset(&rel, 0, sizeof(rel));
	hdr(&rel.hdr, BHC_ARENA_MSG_RELEASE, sizeof(rel), 3);
	rel.region_id = 42;
	ck_assert_int_eq(decode(&rel, sizeof(rel), &msg, &err), 0);
	ck_assert_uint_eq(msg.release.region_id, 42);

	hdr((struct bhc_arena_msg_hdr *)buf, BHC_ARENA_MSG_ADMIN, 16 + 13, 4);
	memcpy(buf + 16, "{\"cmd\":\"ls\"}x", 13);
	ck_assert_int_eq(decode(buf, 29, &msg, &err), 0);
	ck_assert_uint_eq(msg.admin.len, 13);
	ck_assert_ptr_eq(msg.admin.json, (const char *)buf + 16);

	hdr((struct bhc_arena_msg_hdr *)buf, BHC_ARENA_MSG_ADMIN, 16, 4);
	ck_assert_int_eq(decode(buf, 16, &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EINVAL);
}
END_TEST

/* The restart extension: the HELLO flag, REGISTER in, GRANT with a token and REGISTERED out. */
START_TEST(test_register)
{
	struct bhc_arena_msg_hello h = make_hello("t", BHC_ARENA_HELLO_LEASE_TOKENS);
	struct bhc_arena_msg_register m;
	struct bhc_arena_msg_grant_token g;
	struct bhc_arena_msg_registered ok;
	uint64_t token[2] = { 0x1122334455667788u, 0x99aabbccddeeff00u };
	unsigned char big[sizeof(m) + 8];
	struct proto_error err;
	struct proto_msg msg;

	ck_assert_int_eq(decode(&h, sizeof(h), &msg, &err), 0);
	ck_assert_uint_eq(msg.hello.flags, BHC_ARENA_HELLO_LEASE_TOKENS);

	memset(&m, 0, sizeof(m));
	hdr(&m.hdr, BHC_ARENA_MSG_REGISTER, sizeof(m), 11);
	m.region_id = (UINT64_C(3) << 32) | 5;
	m.size = 16u << 20;
	m.backing = BHC_ARENA_BACKING_HUGETLB;
	m.page_shift = 21;
	m.token[0] = token[0];
	m.token[1] = token[1];
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), 0);
	ck_assert_uint_eq(msg.type, BHC_ARENA_MSG_REGISTER);
	ck_assert_uint_eq(msg.seq, 11);
	ck_assert_uint_eq(msg.reg.region_id, (UINT64_C(3) << 32) | 5);
	ck_assert_uint_eq(BHC_ARENA_REGION_ID_INSTANCE(msg.reg.region_id), 3);
	ck_assert_uint_eq(msg.reg.size, 16u << 20);
	ck_assert_uint_eq(msg.reg.backing, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_uint_eq(msg.reg.page_shift, 21);
	ck_assert(msg.reg.token[0] == token[0] && msg.reg.token[1] == token[1]);
	ck_assert_int_eq(msg.reg.fd, -1);
	/* any other length is refused */
	memset(big, 0, sizeof(big));
	memcpy(big, &m, sizeof(m));
	((struct bhc_arena_msg_hdr *)(void *)big)->length = sizeof(big);
	ck_assert_int_eq(decode(big, sizeof(big), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EBADMSG);
	/* REGISTERED comes from the daemon, never to it */
	proto_encode_registered(&ok, 11, m.region_id);
	ck_assert_int_eq(decode(&ok, sizeof(ok), &msg, &err), -EBADMSG);

	proto_encode_grant_token(&g, 4, 9, 2u << 20, BHC_ARENA_BACKING_SMALL, 12, token);
	ck_assert_uint_eq(g.grant.hdr.type, BHC_ARENA_MSG_GRANT);
	ck_assert_uint_eq(g.grant.hdr.length, 64);
	ck_assert_uint_eq(g.grant.region_id, 9);
	ck_assert_uint_eq(g.grant.header_size, BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert(g.token[0] == token[0] && g.token[1] == token[1]);
	ck_assert_uint_eq(ok.hdr.type, BHC_ARENA_MSG_REGISTERED);
	ck_assert_uint_eq(ok.hdr.length, sizeof(ok));
	ck_assert_uint_eq(ok.hdr.seq, 11);
	ck_assert_str_eq(proto_type_name(BHC_ARENA_MSG_REGISTER), "REGISTER");
}
END_TEST

START_TEST(test_header_refused)
{
	struct bhc_arena_msg_hello m = make_hello("t", 0);
	unsigned char big[BHC_ARENA_MSG_MAX + 100];
	struct proto_error err;
	struct proto_msg msg;

	ck_assert_int_eq(decode(&m, 0, &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.text, "empty"));

	ck_assert_int_eq(decode(&m, 10, &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EBADMSG);
	ck_assert_uint_eq(err.request_type, 0);
	ck_assert(!err.fatal);

	m.hdr.magic = 0x12345678;
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EPROTO);
	ck_assert(err.fatal);

	m = make_hello("t", 0);
	m.hdr.version = 2;
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EPROTONOSUPPORT);
	ck_assert(err.fatal);
	ck_assert_ptr_nonnull(strstr(err.text, "version 1"));

	m = make_hello("t", 0);
	m.hdr.length = 80;
	ck_assert_int_eq(decode(&m, sizeof(m), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EBADMSG);
	ck_assert_uint_eq(err.request_type, BHC_ARENA_MSG_HELLO);

	/* A datagram larger than the receive buffer: only the buffer's worth is there. */
	memset(big, 0, sizeof(big));
	hdr((struct bhc_arena_msg_hdr *)big, BHC_ARENA_MSG_ACQUIRE, sizeof(big), 5);
	ck_assert_int_eq(proto_decode(big, BHC_ARENA_MSG_MAX, sizeof(big), &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EMSGSIZE);
	ck_assert_uint_eq(err.seq, 5);
	ck_assert(!err.fatal);

	/* A fixed message of the wrong size, consistent with its length field. */
	hdr((struct bhc_arena_msg_hdr *)big, BHC_ARENA_MSG_ACQUIRE, 40, 5);
	ck_assert_int_eq(decode(big, 40, &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.text, "ACQUIRE is 32 bytes"));

	hdr((struct bhc_arena_msg_hdr *)big, 99, 16, 5);
	ck_assert_int_eq(decode(big, 16, &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.text, "unknown message type 99"));

	hdr((struct bhc_arena_msg_hdr *)big, BHC_ARENA_MSG_GRANT, 48, 5);
	ck_assert_int_eq(decode(big, 48, &msg, &err), -EBADMSG);
	ck_assert_int_eq(err.error, EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.text, "sent by the daemon"));
}
END_TEST

START_TEST(test_encode)
{
	struct bhc_arena_msg_welcome w;
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_released r;
	struct bhc_arena_msg_error e;
	struct proto_error err;
	unsigned char buf[128];
	size_t n;

	proto_encode_welcome(&w, 1, 2, 3, 4, 21, BHC_ARENA_HUGEPAGES_PREFER);
	ck_assert_uint_eq(w.hdr.magic, BHC_ARENA_PROTO_MAGIC);
	ck_assert_uint_eq(w.hdr.length, sizeof(w));
	ck_assert_uint_eq(w.hdr.type, BHC_ARENA_MSG_WELCOME);
	ck_assert_uint_eq(w.client_id, 2);
	ck_assert_uint_eq(w.policy, BHC_ARENA_HUGEPAGES_PREFER);

	proto_encode_grant(&g, 5, 6, 1 << 21, BHC_ARENA_BACKING_HUGETLB, 21);
	ck_assert_uint_eq(g.hdr.seq, 5);
	ck_assert_uint_eq(g.hdr.length, 48);
	ck_assert_uint_eq(g.header_size, BHC_ARENA_REGION_HEADER_SIZE);
	ck_assert_uint_eq(g.header_version, BHC_ARENA_REGION_VERSION);

	proto_encode_released(&r, 8, 9);
	ck_assert_uint_eq(r.hdr.type, BHC_ARENA_MSG_RELEASED);
	ck_assert_uint_eq(r.region_id, 9);

	proto_set_error(&err, ENOENT, BHC_ARENA_MSG_RELEASE, 11, false, "%s", "gone");
	proto_encode_error(&e, &err);
	ck_assert_uint_eq(e.hdr.length, 216);
	ck_assert_int_eq(e.error, ENOENT);
	ck_assert_uint_eq(e.request_type, BHC_ARENA_MSG_RELEASE);
	ck_assert_uint_eq(e.hdr.seq, 11);
	ck_assert_str_eq(e.text, "gone");

	/* An over-long text is cut and stays NUL-terminated. */
	proto_set_error(&err, EINVAL, 0, 0, false, "%0300d", 1);
	proto_encode_error(&e, &err);
	ck_assert_uint_eq(strlen(e.text), BHC_ARENA_ERROR_TEXT_MAX - 1);

	n = proto_encode_admin_reply(buf, sizeof(buf), 3, 0, BHC_ARENA_ADMIN_MORE, "{}", 2);
	ck_assert_uint_eq(n, 26);
	ck_assert_uint_eq(((struct bhc_arena_msg_hdr *)buf)->length, 26);
	ck_assert_uint_eq(((struct bhc_arena_msg_admin_reply *)buf)->flags, BHC_ARENA_ADMIN_MORE);
	ck_assert_int_eq(memcmp(buf + 24, "{}", 2), 0);
	ck_assert_uint_eq(proto_encode_admin_reply(buf, sizeof(buf), 3, 0, 0, NULL, 200), 0);
}
END_TEST

/* Random and mutated datagrams: every outcome is a message or a well-formed refusal. */
START_TEST(test_random_input)
{
	unsigned char buf[BHC_ARENA_MSG_MAX + 16];
	struct bhc_arena_msg_acquire seed = make_acquire(1 << 20, 0, 21);
	struct proto_error err;
	struct proto_msg msg;
	unsigned int i, j, n_ok = 0;

	srand(12345);
	for (i = 0; i < 200000; i++) {
		size_t len = (size_t)rand() % 128;

		if (i & 1) {
			for (j = 0; j < len; j++)
				buf[j] = (unsigned char)rand();
		} else {
			memcpy(buf, &seed, sizeof(seed));
			len = sizeof(seed);
			buf[rand() % (int)len] ^= (unsigned char)(1u << (rand() % 8));
		}
		if (decode(buf, len, &msg, &err) == 0) {
			n_ok++;
			continue;
		}
		ck_assert_int_gt(err.error, 0);
		ck_assert_ptr_nonnull(memchr(err.text, '\0', sizeof(err.text)));
		ck_assert_uint_gt(strlen(err.text), 0);
	}
	ck_assert_uint_gt(n_ok, 0);
}
END_TEST

START_TEST(test_config_sizes)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "16M", 16ull << 20 },
		{ "2MiB", 2ull << 20 },
		{ "1g", 1ull << 30 },
		{ "3T", 3ull << 40 },
		{ " 64K ", 64ull << 10 },
		{ "100B", 100 },
	};
	static const char *const bad[] = { "", "M", "-1", "16Q", "1.5G", "99999999999T", "1 6M" };
	char buf[32];
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		ck_assert_msg(size_parse(good[i].s, &v) == 0, "%s", good[i].s);
		ck_assert_uint_eq(v, good[i].v);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(size_parse(bad[i], &v) < 0, "'%s' accepted", bad[i]);
	ck_assert_str_eq(size_format_exact(16ull << 20, buf, sizeof(buf)), "16M");
	ck_assert_str_eq(size_format_exact(3ull << 30, buf, sizeof(buf)), "3G");
	ck_assert_str_eq(size_format_exact(1536ull << 20, buf, sizeof(buf)), "1536M");
	ck_assert_str_eq(size_format_exact(4097, buf, sizeof(buf)), "4097");
}
END_TEST

START_TEST(test_config_keys)
{
	struct config *cfg;
	char err[CONFIG_ERROR_MAX];

	ck_assert_int_eq(config_new(&cfg), 0);
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "2M:3, 8M:1", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg->n_warm, 2);
	ck_assert_uint_eq(cfg->warm[0].size, 2u << 20);
	ck_assert_uint_eq(cfg->warm[0].target, 3);
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "none", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg->n_warm, 0);
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "2M", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "2M:0", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "2M:1,2M:2", err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "twice"));
	ck_assert_int_eq(config_set(cfg, "pool", "hugepages", "require", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg->hugepages, BHC_ARENA_HUGEPAGES_REQUIRE);
	ck_assert_int_eq(config_set(cfg, "pool", "hugepages", "maybe", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(config_set(cfg, "pool", "page_size", "1G", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg->page_shift, 30);
	ck_assert_int_eq(config_set(cfg, "pool", "page_size", "4K", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(config_set(cfg, "limits", "handshake_timeout", "250ms", err, sizeof(err)),
			 0);
	ck_assert_uint_eq(cfg->handshake_timeout_ms, 250);
	ck_assert_int_eq(config_set(cfg, "limits", "stall_timeout", "2min", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg->stall_timeout_ms, 120000);
	ck_assert_int_eq(config_set(cfg, "limits", "handshake_timeout", "0", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(config_set(cfg, "daemon", "socket_mode", "0660", err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg->socket_mode, 0660);
	ck_assert_int_eq(config_set(cfg, "daemon", "socket_mode", "0999", err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(config_set(cfg, "daemon", "log_level", "debug", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(cfg, "pool", "io_uring", "no", err, sizeof(err)), 0);
	ck_assert(!cfg->io_uring);
	ck_assert_int_eq(config_set(cfg, "pool", "io_depth", "0", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(config_set(cfg, "limits", "total", "0", err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(config_set(cfg, "limits", "nope", "1", err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "unknown key");
	ck_assert_int_eq(config_set(cfg, "nope", "x", "1", err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "unknown section"));
	config_free(cfg);
}
END_TEST

START_TEST(test_config_validate)
{
	struct config *cfg;
	char err[CONFIG_ERROR_MAX];

	ck_assert_int_eq(config_new(&cfg), 0);
	ck_assert_int_eq(config_set(cfg, "daemon", "socket", "/tmp/x.sock", err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "3M:1", err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a multiple of page_size"));
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "1G:5", err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "[limits] total"));
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "2G:1", err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "exceeds max_region_size"));
	ck_assert_int_eq(config_set(cfg, "pool", "warm", "16M:4,64M:2", err, sizeof(err)), 0);
	ck_assert_int_eq(config_set(cfg, "pool", "page_size", "1G", err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(config_set(cfg, "daemon", "socket", "relative.sock", err, sizeof(err)), 0);
	ck_assert_int_eq(config_validate(cfg, err, sizeof(err)), -EINVAL);
	config_free(cfg);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(test_config_load)
{
	char path[] = "/tmp/bhc-arenad-conf.XXXXXX", err[CONFIG_ERROR_MAX], want[600];
	const char *sets[] = { "limits.total=8G", "pool.warm=2M:1" };
	struct config_source src = { .path = path, .path_explicit = true };
	struct config *cfg;
	bool missing = true;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(path,
		   "# comment\n[daemon]\nsocket = /tmp/a.sock\n\n[limits]\ntotal = 2G ; inline\n"
		   "per_uid_regions = 7\n");
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), 0);
	ck_assert(!missing);
	ck_assert_str_eq(cfg->socket, "/tmp/a.sock");
	ck_assert_uint_eq(cfg->total, 2ull << 30);
	ck_assert_uint_eq(cfg->per_uid_regions, 7);
	config_free(cfg);

	src.sets = sets;
	src.n_sets = 2;
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg->total, 8ull << 30);
	ck_assert_uint_eq(cfg->n_warm, 1);
	config_free(cfg);
	src.n_sets = 0;

	write_file(path, "[daemon]\nsocket = /tmp/a.sock\n[pool]\nhugepages = sometimes\n");
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:4: [pool] hugepages: 'sometimes'", path);
	ck_assert_msg(strstr(err, want), "%s", err);

	write_file(path, "[pool]\nwarm 16M\n");
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: syntax error", path);
	ck_assert_msg(strstr(err, want), "%s", err);

	write_file(path, "total = 1G\n");
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, ":1: total: key outside a section"), "%s", err);

	unlink(path);
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));

	src.path_explicit = false;
	sets[0] = "daemon.socket=/tmp/b.sock";
	src.n_sets = 1;
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), 0);
	ck_assert(missing);
	ck_assert_uint_eq(cfg->n_warm, 2);
	config_free(cfg);

	sets[0] = "pool.warm";
	ck_assert_int_eq(config_load(&src, &cfg, &missing, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "--set pool.warm: expected SECTION.KEY=VALUE"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-proto");
	TCase *tc;

	tc = tcase_create("decode");
	tcase_add_test(tc, test_hello);
	tcase_add_test(tc, test_hello_refused);
	tcase_add_test(tc, test_acquire);
	tcase_add_test(tc, test_acquire_refused);
	tcase_add_test(tc, test_release_admin);
	tcase_add_test(tc, test_header_refused);
	tcase_add_test(tc, test_register);
	tcase_add_test(tc, test_random_input);
	suite_add_tcase(s, tc);
	tc = tcase_create("encode");
	tcase_add_test(tc, test_encode);
	suite_add_tcase(s, tc);
	tc = tcase_create("config");
	tcase_add_test(tc, test_config_sizes);
	tcase_add_test(tc, test_config_keys);
	tcase_add_test(tc, test_config_validate);
	tcase_add_test(tc, test_config_load);
	suite_add_tcase(s, tc);
	return bhc_test_run(s);
}
