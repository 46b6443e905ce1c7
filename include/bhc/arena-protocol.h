/* SPDX-License-Identifier: MIT */
/*
 * bhc-arena wire protocol and region header layout.
 *
 * This header is installed so that other runtimes (BHC's Rust RTS, for one)
 * can speak to bhc-arenad directly; docs/PROTOCOL.md describes the
 * conversation in prose. Everything here is fixed-width and little-endian.
 * Messages travel over an AF_UNIX SOCK_SEQPACKET socket, one message per
 * datagram, and are never split or merged.
 */
#ifndef BHC_ARENA_PROTOCOL_H
#define BHC_ARENA_PROTOCOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "bhc-arena protocol structs are little-endian; byte-swap on this host"
#endif

#define BHC_ARENA_PROTO_MAGIC 0x41434842u /* "BHCA" read as LE u32 */
#define BHC_ARENA_PROTO_VERSION 1u

/* Largest datagram either side may send; larger ones are a protocol error. */
#define BHC_ARENA_MSG_MAX 4096u
/* Largest admin reply chunk; a reply longer than this comes in several. */
#define BHC_ARENA_ADMIN_CHUNK_MAX 65536u
/* Bytes of a tag (job id) including the terminating NUL. */
#define BHC_ARENA_TAG_MAX 64u
/* Bytes of an error text including the terminating NUL. */
#define BHC_ARENA_ERROR_TEXT_MAX 192u

/* Default listening socket (root daemon); non-root daemons use
 * $XDG_RUNTIME_DIR/bhc-arena/arenad.sock. */
#define BHC_ARENA_SOCKET_PATH "/run/bhc-arena/arenad.sock"
#define BHC_ARENA_SOCKET_USER_SUBPATH "bhc-arena/arenad.sock"

enum bhc_arena_msg_type {
	BHC_ARENA_MSG_HELLO = 1, /* client -> daemon */
	BHC_ARENA_MSG_WELCOME = 2, /* daemon -> client */
	BHC_ARENA_MSG_ACQUIRE = 3, /* client -> daemon */
	BHC_ARENA_MSG_GRANT = 4, /* daemon -> client, carries one fd */
	BHC_ARENA_MSG_RELEASE = 5, /* client -> daemon */
	BHC_ARENA_MSG_RELEASED = 6, /* daemon -> client */
	BHC_ARENA_MSG_ERROR = 7, /* daemon -> client */
	BHC_ARENA_MSG_ADMIN = 8, /* client -> daemon, JSON request */
	BHC_ARENA_MSG_ADMIN_REPLY = 9, /* daemon -> client, JSON reply */
	BHC_ARENA_MSG_RECLAIM = 10, /* daemon -> client, unsolicited (seq 0) */
	BHC_ARENA_MSG_REGISTER = 11, /* client -> daemon, carries one fd (lease tokens only) */
	BHC_ARENA_MSG_REGISTERED = 12, /* daemon -> client */
};

/* Every message starts with this header. */
struct bhc_arena_msg_hdr {
	uint32_t magic; /* BHC_ARENA_PROTO_MAGIC */
	uint16_t version; /* BHC_ARENA_PROTO_VERSION */
	uint16_t type; /* enum bhc_arena_msg_type */
	uint32_t length; /* bytes of the whole message, header included */
	uint32_t seq; /* chosen by the client from 1 up, echoed in the reply; 0: answers no request */
};

/* hello.flags */
#define BHC_ARENA_HELLO_ADMIN 0x1u /* admin/inspection session, holds no leases */
/*
 * The client wants lease tokens: every GRANT on this connection is a
 * struct bhc_arena_msg_grant_token (64 bytes), and REGISTER is allowed.
 * A daemon that does not know the flag refuses the HELLO (EINVAL) and closes
 * the connection: the client connects again without it.
 */
#define BHC_ARENA_HELLO_LEASE_TOKENS 0x2u

struct bhc_arena_msg_hello {
	struct bhc_arena_msg_hdr hdr;
	uint32_t pid; /* informational; the daemon uses SO_PEERCRED */
	uint32_t flags; /* BHC_ARENA_HELLO_* */
	char tag[BHC_ARENA_TAG_MAX]; /* optional job id, NUL-terminated, [A-Za-z0-9._:@/+=-] */
};

/* Whether @c may appear in a tag: A-Z a-z 0-9 and . _ : @ / + = - */
static inline int bhc_arena_tag_char_valid(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '+' || c == '=' ||
	       c == '-';
}

/* Whether the NUL-terminated @tag fits hello.tag and uses only tag characters ("" does). */
static inline int bhc_arena_tag_valid(const char *tag)
{
	unsigned int i;

	for (i = 0; tag[i]; i++)
		if (i + 1 >= BHC_ARENA_TAG_MAX || !bhc_arena_tag_char_valid((unsigned char)tag[i]))
			return 0;
	return 1;
}

struct bhc_arena_msg_welcome {
	struct bhc_arena_msg_hdr hdr;
	uint64_t client_id; /* daemon-assigned, unique for the daemon's life */
	uint64_t daemon_start_ns; /* CLOCK_REALTIME of daemon start, identifies an instance */
	uint64_t max_region_size; /* largest region one acquire may ask for */
	uint32_t page_shift; /* the daemon's default page size (21 = 2 MiB) */
	uint32_t policy; /* enum bhc_arena_hugepage_policy of the daemon */
};

enum bhc_arena_hugepage_policy {
	BHC_ARENA_HUGEPAGES_REQUIRE = 1, /* hugetlb or an error */
	BHC_ARENA_HUGEPAGES_PREFER = 2, /* hugetlb, else THP shmem, else small shmem */
	BHC_ARENA_HUGEPAGES_OFF = 3, /* never hugetlb */
};

/* acquire.flags: at most one of the policy flags; none means the daemon's policy */
#define BHC_ARENA_ACQ_REQUIRE_HUGE 0x1u
#define BHC_ARENA_ACQ_PREFER_HUGE 0x2u
#define BHC_ARENA_ACQ_NO_HUGE 0x4u
#define BHC_ARENA_ACQ_FLAGS_ALL 0x7u

struct bhc_arena_msg_acquire {
	struct bhc_arena_msg_hdr hdr;
	uint64_t size; /* region bytes wanted, header included; rounded up to the page size */
	uint32_t flags; /* BHC_ARENA_ACQ_* */
	uint32_t page_shift; /* 0: daemon default; else 21 (2 MiB) or 30 (1 GiB) */
};

enum bhc_arena_backing {
	BHC_ARENA_BACKING_NONE = 0,
	BHC_ARENA_BACKING_HUGETLB = 1, /* hugetlbfs pages of 1 << page_shift bytes */
	BHC_ARENA_BACKING_THP = 2, /* shmem/anonymous with transparent hugepages */
	BHC_ARENA_BACKING_SMALL = 3, /* base pages */
};

struct bhc_arena_msg_grant {
	struct bhc_arena_msg_hdr hdr;
	uint64_t region_id; /* daemon-unique, never reused */
	uint64_t size; /* bytes of the memfd (>= requested) */
	uint32_t backing; /* enum bhc_arena_backing */
	uint32_t page_shift; /* page size of the backing */
	uint32_t header_size; /* BHC_ARENA_REGION_HEADER_SIZE: data starts here */
	uint32_t header_version; /* BHC_ARENA_REGION_VERSION */
};

/*
 * A GRANT on a connection whose HELLO had BHC_ARENA_HELLO_LEASE_TOKENS: the
 * 48-byte GRANT followed by the lease token, a MAC the daemon computed over
 * the region (id, size, backing, page size, memfd inode, lessee uid) with a
 * node secret. The client keeps the memfd and the token and, after the
 * daemon restarted, hands both back with REGISTER.
 */
struct bhc_arena_msg_grant_token {
	struct bhc_arena_msg_grant grant;
	uint64_t token[2];
};

/*
 * REGISTER: "I still hold this region of an earlier daemon instance; count
 * it as mine". Carries the region's memfd in SCM_RIGHTS (exactly one). The
 * daemon checks the fd (a sealed memfd of that size and backing), the token
 * and the id (of an earlier instance, not registered yet) and answers
 * REGISTERED, or ERROR and charges nobody.
 */
struct bhc_arena_msg_register {
	struct bhc_arena_msg_hdr hdr;
	uint64_t region_id;
	uint64_t size;
	uint32_t backing;
	uint32_t page_shift;
	uint64_t token[2];
};

struct bhc_arena_msg_registered {
	struct bhc_arena_msg_hdr hdr;
	uint64_t region_id;
};

/*
 * Region ids: the daemon instance in the high bits, a counter in the low
 * ones, so that no id names two regions across restarts. The instance is
 * a counter the daemon keeps in its state directory; ids stay below 2^53.
 */
#define BHC_ARENA_REGION_ID_COUNTER_BITS 32u
#define BHC_ARENA_REGION_ID_INSTANCE(id) ((id) >> BHC_ARENA_REGION_ID_COUNTER_BITS)

struct bhc_arena_msg_release {
	struct bhc_arena_msg_hdr hdr;
	uint64_t region_id;
};

struct bhc_arena_msg_released {
	struct bhc_arena_msg_hdr hdr;
	uint64_t region_id;
};

struct bhc_arena_msg_error {
	struct bhc_arena_msg_hdr hdr;
	int32_t error; /* positive errno value */
	uint16_t request_type; /* type of the message being answered, 0 if unknown */
	uint16_t reserved;
	char text[BHC_ARENA_ERROR_TEXT_MAX]; /* human-readable, NUL-terminated */
};

/*
 * RECLAIM: the daemon is short of memory (a size class ran dry, the hugepage
 * pool is short) and asks for kept regions back. Sent, with seq 0 and
 * answering no request, only to a client one of whose regions says
 * BHC_ARENA_REGION_KEPT in its header: a client that never keeps regions never
 * receives it. The client answers by RELEASEing kept regions, at least @bytes
 * of them if it has that many; there is no reply message.
 */
struct bhc_arena_msg_reclaim {
	struct bhc_arena_msg_hdr hdr;
	uint64_t bytes; /* kept bytes wanted back; UINT64_MAX: all of them */
};

/* An admin request: the header followed by a JSON object (not NUL-terminated),
 * at most BHC_ARENA_MSG_MAX bytes in all. */
struct bhc_arena_msg_admin {
	struct bhc_arena_msg_hdr hdr;
	char json[];
};

/* admin_reply.flags */
#define BHC_ARENA_ADMIN_MORE 0x1u /* more chunks of this reply follow */

/* An admin reply chunk: concatenate the json parts of all chunks with the
 * same seq until one arrives without BHC_ARENA_ADMIN_MORE. */
struct bhc_arena_msg_admin_reply {
	struct bhc_arena_msg_hdr hdr;
	int32_t status; /* 0 or a positive errno; the JSON says more */
	uint32_t flags; /* BHC_ARENA_ADMIN_* */
	char json[];
};

/*
 * Region header: the first BHC_ARENA_REGION_HEADER_SIZE bytes of every region.
 *
 * [0, 64)    struct bhc_arena_region_info, written by the client that maps the
 *            region (header version 2: from the GRANT; the daemon never maps
 *            a region, so a new region is zero from its first byte), or by
 *            the library for a region it made itself (local mode).
 * [64, 128)  struct bhc_arena_region_live, written by the client as it
 *            allocates; the daemon and bhc-arenactl read it and trust none of it.
 * [128, 192) struct bhc_arena_region_state, written by the client: whether
 *            an arena uses the region or the process keeps it for reuse.
 *            Zero (in use) from a client that never keeps regions.
 * [192, 4096) reserved, zero.
 * Allocations are carved downward from the end of the region towards
 * region_start + BHC_ARENA_REGION_HEADER_SIZE.
 */
#define BHC_ARENA_REGION_MAGIC 0x414e455241434842ull /* "BHCARENA" read as LE u64 */
#define BHC_ARENA_REGION_VERSION 2u
#define BHC_ARENA_REGION_HEADER_SIZE 4096u
#define BHC_ARENA_REGION_LIVE_OFFSET 64u
#define BHC_ARENA_REGION_STATE_OFFSET 128u

struct bhc_arena_region_info {
	uint64_t magic; /* BHC_ARENA_REGION_MAGIC */
	uint32_t version; /* BHC_ARENA_REGION_VERSION */
	uint32_t header_size; /* BHC_ARENA_REGION_HEADER_SIZE */
	uint64_t region_id; /* 0 for a local region */
	uint64_t size; /* region bytes, header included */
	uint32_t backing; /* enum bhc_arena_backing */
	uint32_t page_shift;
	uint64_t created_ns; /* CLOCK_REALTIME when the client set the header up */
	uint64_t reserved[2];
};

/* Addresses are the client's virtual addresses of its own mapping. */
struct bhc_arena_region_live {
	uint64_t cursor; /* lowest allocated byte; top - cursor = bytes used */
	uint64_t floor; /* libbhc-arena: fast-path limit; the daemon ignores it */
	uint64_t n_allocs; /* allocations since the client set the live section up */
	uint64_t n_resets; /* resets since then */
	uint64_t high_water; /* most bytes ever used at a reset or scope exit */
	uint64_t top; /* address of the region's end */
	uint64_t base; /* address of the first data byte (region + header_size) */
	uint64_t priv; /* library-private */
};

/* region_state.use */
enum bhc_arena_region_use {
	BHC_ARENA_REGION_IN_USE = 0, /* an arena of the process allocates from it */
	BHC_ARENA_REGION_KEPT = 1, /* freed by the program, kept by the process for reuse */
};

struct bhc_arena_region_state {
	uint32_t use; /* enum bhc_arena_region_use */
	uint32_t reserved0;
	uint64_t kept_ns; /* CLOCK_REALTIME when it was last kept; 0 if never */
	uint64_t n_reuses; /* times the process took it again after keeping it */
	uint64_t reserved[5];
};

#ifdef __cplusplus
}
#endif
#endif /* BHC_ARENA_PROTOCOL_H */
