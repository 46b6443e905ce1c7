/* SPDX-License-Identifier: MIT */
/*
 * lease-holder: a test client that holds real regions of bhc-arenad.
 *
 * It speaks the wire protocol itself (HELLO, ACQUIRE -> GRANT + memfd),
 * maps each region, allocates a known number of bytes the way the library
 * does (downward from the top, keeping the cursor and counts in the live
 * header), prints what it holds as one JSON line on stdout and waits:
 * SIGUSR1 scribbles garbage over the live headers, SIGUSR2 punches a hole
 * over each header page, SIGTERM/SIGINT (or the parent's death) end it.
 * Every action is acknowledged with a JSON line so a test can wait for it.
 *
 *   lease-holder [--socket PATH] [--tag TAG] [--regions N] [--size BYTES]
 *                [--used BYTES] [--allocs N] [--resets N] [--high-water BYTES]
 *                [--no-huge] [--scribble] [--die-with-parent]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <bhc/arena-protocol.h>

#define MAX_REGIONS 64

struct held {
	uint64_t id, size;
	uint32_t backing, page_shift, header_size;
	int fd;
	void *map;
};

struct opts {
	const char *socket, *tag;
	unsigned long n_regions;
	uint64_t size, used, allocs, resets, high_water;
	bool high_water_set, no_huge, scribble, die_with_parent;
};

static struct held held[MAX_REGIONS];
static unsigned long n_held;
static uint32_t seq;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("lease-holder: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void hdr_init(struct bhc_arena_msg_hdr *h, uint16_t type, uint32_t len)
{
	h->magic = BHC_ARENA_PROTO_MAGIC;
	h->version = BHC_ARENA_PROTO_VERSION;
	h->type = type;
	h->length = len;
	h->seq = ++seq;
}

/* Receive one message into @buf; returns its length and the fd that came with it in *@fdp. */
static size_t recv_one(int sock, void *buf, size_t len, int *fdp)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf.buf,
			     .msg_controllen = sizeof(cbuf.buf) };
	struct cmsghdr *c;
	ssize_t n;

	*fdp = -1;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		die("recvmsg: %s", strerror(errno));
	if (n == 0)
		die("the daemon closed the connection");
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fdp, CMSG_DATA(c), sizeof(int));
	return (size_t)n;
}

static void fail_on_error(const void *buf, size_t n, const char *what)
{
	struct bhc_arena_msg_error e;

	if (n != sizeof(e))
		die("%s: unexpected message", what);
	memcpy(&e, buf, sizeof(e));
	e.text[sizeof(e.text) - 1] = '\0';
	{
		struct json_object *t = json_object_new_string(e.text);

		printf("{\"error\":%d,\"text\":%s}\n", e.error, json_object_to_json_string(t));
		json_object_put(t);
	}
	fflush(stdout);
	die("%s refused: %s (errno %d)", what, e.text, e.error);
}

static int session(const struct opts *o, uint64_t *client_idp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bhc_arena_msg_hello hello = { 0 };
	struct bhc_arena_msg_welcome w;
	char buf[BHC_ARENA_MSG_MAX];
	size_t n;
	int sock, fd;

	if (strlen(o->socket) >= sizeof(sa.sun_path))
		die("socket path too long");
	strcpy(sa.sun_path, o->socket);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s: %s", o->socket, strerror(errno));
	hdr_init(&hello.hdr, BHC_ARENA_MSG_HELLO, sizeof(hello));
	hello.pid = (uint32_t)getpid();
	if (o->tag)
		snprintf(hello.tag, sizeof(hello.tag), "%s", o->tag);
	if (send(sock, &hello, sizeof(hello), MSG_NOSIGNAL) != sizeof(hello))
		die("send hello: %s", strerror(errno));
	n = recv_one(sock, buf, sizeof(buf), &fd);
	memcpy(&w.hdr, buf, sizeof(w.hdr));
	if (w.hdr.type == BHC_ARENA_MSG_ERROR)
		fail_on_error(buf, n, "hello");
	if (w.hdr.type != BHC_ARENA_MSG_WELCOME || n != sizeof(w))
		die("hello answered with type %u", w.hdr.type);
	memcpy(&w, buf, sizeof(w));
	*client_idp = w.client_id;
	return sock;
}

static void acquire(int sock, const struct opts *o, struct held *h)
{
	struct bhc_arena_msg_acquire a = { 0 };
	struct bhc_arena_msg_grant g;
	char buf[BHC_ARENA_MSG_MAX];
	size_t n;
	int fd;

	hdr_init(&a.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(a));
	a.size = o->size;
	a.flags = o->no_huge ? BHC_ARENA_ACQ_NO_HUGE : 0;
	if (send(sock, &a, sizeof(a), MSG_NOSIGNAL) != sizeof(a))
		die("send acquire: %s", strerror(errno));
	n = recv_one(sock, buf, sizeof(buf), &fd);
	memcpy(&g.hdr, buf, sizeof(g.hdr));
	if (g.hdr.type == BHC_ARENA_MSG_ERROR)
		fail_on_error(buf, n, "acquire");
	if (g.hdr.type != BHC_ARENA_MSG_GRANT || n != sizeof(g) || fd < 0)
		die("acquire answered with type %u (fd %d)", g.hdr.type, fd);
	memcpy(&g, buf, sizeof(g));
	h->id = g.region_id;
	h->size = g.size;
	h->backing = g.backing;
	h->page_shift = g.page_shift;
	h->header_size = g.header_size;
	h->fd = fd;
	h->map = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h->map == MAP_FAILED)
		die("mmap region %" PRIu64 ": %s", h->id, strerror(errno));
	/* PROTOCOL.md section 6, step 4: the client writes the info header */
	*(struct bhc_arena_region_info *)h->map = (struct bhc_arena_region_info){
		.magic = BHC_ARENA_REGION_MAGIC,
		.version = g.header_version,
		.header_size = g.header_size,
		.region_id = g.region_id,
		.size = g.size,
		.backing = g.backing,
		.page_shift = g.page_shift,
		.created_ns = (uint64_t)time(NULL) * 1000000000u,
	};
}

/* Allocate @used bytes as the library would and keep the live header current. */
static void use(struct held *h, const struct opts *o)
{
	struct bhc_arena_region_live *live =
		(void *)((char *)h->map + BHC_ARENA_REGION_LIVE_OFFSET);
	uint64_t base = (uint64_t)(uintptr_t)h->map + h->header_size;
	uint64_t top = (uint64_t)(uintptr_t)h->map + h->size;
	uint64_t used = o->used;

	if (used > top - base)
		die("--used %" PRIu64 " is more than the capacity %" PRIu64, used, top - base);
	live->base = base;
	live->top = top;
	live->floor = base;
	live->cursor = top - used;
	/* the bytes are really written: the region is in use */
	memset((void *)(uintptr_t)live->cursor, 0xa5, used);
	live->n_allocs = o->allocs;
	live->n_resets = o->resets;
	live->high_water = o->high_water_set ? o->high_water : used;
}

static void scribble(void)
{
	unsigned long i;

	for (i = 0; i < n_held; i++) {
		struct bhc_arena_region_live *live =
			(void *)((char *)held[i].map + BHC_ARENA_REGION_LIVE_OFFSET);

		/* everything out of range: a cursor far below the base, a top that
		 * does not match the size, counts at the limit */
		live->cursor = 3;
		live->top = UINT64_MAX - 5;
		live->base = 12345;
		live->floor = UINT64_MAX;
		live->n_allocs = UINT64_MAX;
		live->n_resets = UINT64_MAX - 1;
		live->high_water = UINT64_MAX;
		live->priv = 0xdeadbeef;
	}
}

static void punch(void)
{
	unsigned long i;

	for (i = 0; i < n_held; i++) {
		uint64_t page = 1ull << held[i].page_shift;

		if (fallocate(held[i].fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			      (off_t)page) < 0)
			fprintf(stderr, "lease-holder: punch region %" PRIu64 ": %s\n", held[i].id,
				strerror(errno));
	}
}

static void report(uint64_t client_id, const struct opts *o, const char *event)
{
	struct json_object *j = json_object_new_object(), *arr = json_object_new_array();
	uint64_t leased = 0;
	unsigned long i;

	json_object_object_add(j, "event", json_object_new_string(event));
	json_object_object_add(j, "pid", json_object_new_int64(getpid()));
	json_object_object_add(j, "uid", json_object_new_int64(getuid()));
	json_object_object_add(j, "client_id", json_object_new_uint64(client_id));
	json_object_object_add(j, "tag", json_object_new_string(o->tag ? o->tag : ""));
	for (i = 0; i < n_held; i++) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "id", json_object_new_uint64(held[i].id));
		json_object_object_add(r, "size", json_object_new_uint64(held[i].size));
		json_object_object_add(r, "capacity",
				       json_object_new_uint64(held[i].size - held[i].header_size));
		json_object_object_add(r, "backing", json_object_new_int(held[i].backing));
		json_object_object_add(r, "page_size",
				       json_object_new_uint64(1ull << held[i].page_shift));
		json_object_array_add(arr, r);
		leased += held[i].size;
	}
	json_object_object_add(j, "regions", arr);
	json_object_object_add(j, "leased", json_object_new_uint64(leased));
	json_object_object_add(j, "used", json_object_new_uint64(o->used * n_held));
	json_object_object_add(
		j, "high_water",
		json_object_new_uint64((o->high_water_set ? o->high_water : o->used) * n_held));
	json_object_object_add(j, "allocs", json_object_new_uint64(o->allocs * n_held));
	json_object_object_add(j, "resets", json_object_new_uint64(o->resets * n_held));
	puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
	json_object_put(j);
}

static uint64_t number(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		die("invalid %s '%s'", what, s);
	switch (*end) {
	case 'K':
		v <<= 10, end++;
		break;
	case 'M':
		v <<= 20, end++;
		break;
	case 'G':
		v <<= 30, end++;
		break;
	}
	if (*end)
		die("invalid %s '%s'", what, s);
	return v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "tag", required_argument, NULL, 't' },
		{ "regions", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'S' },
		{ "used", required_argument, NULL, 'u' },
		{ "allocs", required_argument, NULL, 'a' },
		{ "resets", required_argument, NULL, 'r' },
		{ "high-water", required_argument, NULL, 'h' },
		{ "no-huge", no_argument, NULL, 'H' },
		{ "scribble", no_argument, NULL, 'x' },
		{ "die-with-parent", no_argument, NULL, 'D' },
		{},
	};
	struct opts o = { .socket = getenv("BHC_ARENA_SOCKET"), .n_regions = 1, .size = 16u << 20 };
	uint64_t client_id;
	sigset_t set;
	int c, sock, sig;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o.socket = optarg;
			break;
		case 't':
			o.tag = optarg;
			break;
		case 'n':
			o.n_regions = number(optarg, "count");
			break;
		case 'S':
			o.size = number(optarg, "size");
			break;
		case 'u':
			o.used = number(optarg, "used");
			break;
		case 'a':
			o.allocs = number(optarg, "allocs");
			break;
		case 'r':
			o.resets = number(optarg, "resets");
			break;
		case 'h':
			o.high_water = number(optarg, "high water");
			o.high_water_set = true;
			break;
		case 'H':
			o.no_huge = true;
			break;
		case 'x':
			o.scribble = true;
			break;
		case 'D':
			o.die_with_parent = true;
			break;
		default:
			die("usage: see the comment at the top of tests/lease-holder.c");
		}
	}
	if (!o.socket || o.n_regions > MAX_REGIONS)
		die("need --socket (or BHC_ARENA_SOCKET) and at most %d regions", MAX_REGIONS);
	/* never outlive the test that started us */
	if (o.die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1))
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);

	sock = session(&o, &client_id);
	for (n_held = 0; n_held < o.n_regions; n_held++) {
		acquire(sock, &o, &held[n_held]);
		use(&held[n_held], &o);
	}
	if (o.scribble)
		scribble();
	report(client_id, &o, o.scribble ? "scribbled" : "holding");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			scribble();
			report(client_id, &o, "scribbled");
		} else if (sig == SIGUSR2) {
			punch();
			report(client_id, &o, "punched");
		} else {
			break;
		}
	}
	close(sock);
	return 0;
}
