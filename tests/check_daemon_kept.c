/* SPDX-License-Identifier: MIT */
/*
 * Kept regions as bhc-arenad sees them, with a real daemon on a private
 * socket and raw protocol clients that map real regions:
 *   - the region header's state (in use or kept) in the admin JSON of
 *     regions, clients and status, and a state out of range not believed;
 *   - RECLAIM: a daemon short of room ([limits] total) asks a client that
 *     keeps a region for it, the client RELEASEs it, the next acquire
 *     succeeds; a client that keeps nothing is never asked; each client's
 *     headers are read for it at most once per 100 ms;
 *   - warm targets that follow demand: a burst of acquires raises a
 *     class's target above its configured count, idle lowers it back.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "tap.h"
#include "util-daemon.h"
#include "util-hugepages.h"

#define MiB (UINT64_C(1) << 20)

static struct bhc_test_daemon d;

static void start(const char *config)
{
	bhc_test_daemon_setup(&d, config);
	bhc_test_daemon_start_ready(&d, NULL, 10000);
}

/* A region a raw client holds and has mapped, headers set up as the library does. */
struct held {
	struct bhc_arena_msg_grant g;
	int fd;
	unsigned char *map;
};

static uint64_t last_client_id;

static int client(const char *tag)
{
	struct bhc_arena_msg_welcome w;
	int fd = bhc_test_connect(d.socket);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, tag, 0, &w), 0);
	last_client_id = w.client_id;
	return fd;
}

static void hold_flags(int sock, uint64_t size, uint32_t flags, struct held *h)
{
	struct bhc_arena_region_info *info;
	struct bhc_arena_region_live *live;
	uint64_t base, top;

	ck_assert_int_eq(bhc_test_acquire(sock, size, flags, 0, &h->g, &h->fd, NULL), 0);
	h->map = mmap(NULL, h->g.size, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
	ck_assert_ptr_ne(h->map, MAP_FAILED);
	info = (void *)h->map;
	live = (void *)(h->map + BHC_ARENA_REGION_LIVE_OFFSET);
	info->magic = BHC_ARENA_REGION_MAGIC;
	info->version = BHC_ARENA_REGION_VERSION;
	info->header_size = BHC_ARENA_REGION_HEADER_SIZE;
	info->region_id = h->g.region_id;
	info->size = h->g.size;
	info->backing = h->g.backing;
	info->page_shift = h->g.page_shift;
	base = (uint64_t)(uintptr_t)h->map + BHC_ARENA_REGION_HEADER_SIZE;
	top = (uint64_t)(uintptr_t)h->map + h->g.size;
	live->base = base;
	live->top = top;
	live->floor = base;
	live->cursor = top - 4096;
	live->n_allocs = 1;
	live->high_water = 4096;
}

static void hold(int sock, uint64_t size, struct held *h)
{
	hold_flags(sock, size, BHC_ARENA_ACQ_NO_HUGE, h);
}

static struct bhc_arena_region_state *state_of(struct held *h)
{
	return (void *)(h->map + BHC_ARENA_REGION_STATE_OFFSET);
}

static void keep(struct held *h, uint64_t reuses)
{
	struct bhc_arena_region_state *st = state_of(h);

	st->kept_ns = (uint64_t)time(NULL) * UINT64_C(1000000000);
	st->n_reuses = reuses;
	__atomic_store_n(&st->use, BHC_ARENA_REGION_KEPT, __ATOMIC_RELEASE);
}

static void unhold(struct held *h)
{
	munmap(h->map, h->g.size);
	close(h->fd);
}

/* --- the admin JSON over a raw connection ------------------------------------------ */

static struct json_object *admin(const char *body)
{
	static unsigned char buf[BHC_ARENA_ADMIN_CHUNK_MAX + 64];
	unsigned char msg[BHC_ARENA_MSG_MAX];
	struct bhc_arena_msg_admin_reply rep;
	struct bhc_arena_msg_welcome w;
	size_t len = strlen(body), total = 0;
	char *json = NULL;
	struct json_object *j;
	int fd = bhc_test_connect(d.socket);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, "admin", BHC_ARENA_HELLO_ADMIN, &w), 0);
	bhc_test_hdr((void *)msg, BHC_ARENA_MSG_ADMIN,
		     (uint32_t)(sizeof(struct bhc_arena_msg_hdr) + len), 7);
	memcpy(msg + sizeof(struct bhc_arena_msg_hdr), body, len);
	ck_assert_int_eq(bhc_test_send(fd, msg, sizeof(struct bhc_arena_msg_hdr) + len, -1), 0);
	do {
		n = bhc_test_recv(fd, buf, sizeof(buf) - 1, NULL, 5000);
		ck_assert_int_ge(n, (ssize_t)sizeof(rep));
		memcpy(&rep, buf, sizeof(rep));
		ck_assert_uint_eq(rep.hdr.type, BHC_ARENA_MSG_ADMIN_REPLY);
		ck_assert_int_eq(rep.status, 0);
		json = realloc(json, total + (size_t)n - sizeof(rep) + 1);
		ck_assert_ptr_nonnull(json);
		memcpy(json + total, buf + sizeof(rep), (size_t)n - sizeof(rep));
		total += (size_t)n - sizeof(rep);
	} while (rep.flags & BHC_ARENA_ADMIN_MORE);
	json[total] = '\0';
	close(fd);
	j = json_tokener_parse(json);
	ck_assert_msg(j, "not JSON: %s", json);
	free(json);
	return j;
}

/* The member at "a.b.c" of @o (NULL if absent). */
static struct json_object *at(struct json_object *o, const char *path)
{
	char key[64];
	const char *dot;

	while (o && *path) {
		dot = strchr(path, '.');
		snprintf(key, sizeof(key), "%.*s", dot ? (int)(dot - path) : (int)strlen(path),
			 path);
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path = dot ? dot + 1 : "";
	}
	return o;
}

static uint64_t num(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	ck_assert_msg(v && json_object_is_type(v, json_type_int), "no integer %s in %s", path,
		      json_object_to_json_string(o));
	return json_object_get_uint64(v);
}

static const char *str(struct json_object *o, const char *path)
{
	struct json_object *v = at(o, path);

	ck_assert_msg(v && json_object_is_type(v, json_type_string), "no string %s in %s", path,
		      json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* The element of array @path in @o whose "id" is @id. */
static struct json_object *row(struct json_object *o, const char *path, uint64_t id)
{
	struct json_object *arr = at(o, path);
	size_t i;

	ck_assert_ptr_nonnull(arr);
	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *r = json_object_array_get_idx(arr, i);

		if (num(r, "id") == id)
			return r;
	}
	ck_abort_msg("no %s row with id %" PRIu64 " in %s", path, id,
		     json_object_to_json_string(o));
	return NULL;
}

/* bhc-arenactl --socket ... @cmd: its stdout (malloc'd); it must exit 0. */
static char *ctl(const char *cmd)
{
	char line[512], *out = NULL;
	size_t len = 0, n;
	FILE *p;

	ck_assert_ptr_nonnull(getenv("BHC_ARENACTL"));
	snprintf(line, sizeof(line), "COLUMNS=200 '%s' --socket '%s' %s", getenv("BHC_ARENACTL"),
		 d.socket, cmd);
	p = popen(line, "r");
	ck_assert_ptr_nonnull(p);
	do {
		out = realloc(out, len + 4097);
		ck_assert_ptr_nonnull(out);
		n = fread(out + len, 1, 4096, p);
		len += n;
	} while (n > 0);
	out[len] = '\0';
	ck_assert_msg(pclose(p) == 0, "bhc-arenactl %s failed: %s", cmd, out);
	return out;
}

/* The line of @text that contains @needle (into @buf), or "" if none. */
static const char *line_with(const char *text, const char *needle, char *buf, size_t len)
{
	const char *at = strstr(text, needle), *start, *end;

	buf[0] = '\0';
	if (!at)
		return buf;
	for (start = at; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(at, '\n');
	snprintf(buf, len, "%.*s", (int)(end ? end - start : (long)strlen(start)), start);
	return buf;
}

/* The STATE of region @id in a `regions` table (the words after its id), or "". */
static const char *region_state(const char *table, uint64_t id, char *buf, size_t len)
{
	const char *l = table;
	char first[32], second[32], third[32];

	buf[0] = '\0';
	while (l && *l) {
		if (sscanf(l, "%31s %31s %31s", first, second, third) == 3 &&
		    strtoull(first, NULL, 10) == id &&
		    strspn(first, "0123456789") == strlen(first)) {
			if (!strcmp(second, "in"))
				snprintf(buf, len, "%s %s", second, third);
			else
				snprintf(buf, len, "%s", second);
			return buf;
		}
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	return buf;
}

/* --- state in the admin JSON ---------------------------------------------------------- */

static const char kept_config[] = "[pool]\n"
				  "hugepages = off\n"
				  "warm = none\n"
				  "[limits]\n"
				  "total = 64M\n";

START_TEST(test_state_reported)
{
	struct bhc_arena_msg_welcome w;
	struct json_object *j, *r, *v;
	char *out, buf[512];
	struct held a, b;
	uint64_t id;
	int sock;

	start(kept_config);
	sock = bhc_test_connect(d.socket);
	ck_assert_int_ge(sock, 0);
	ck_assert_int_eq(bhc_test_hello(sock, "keeper", 0, &w), 0);
	id = w.client_id;
	hold(sock, 4 * MiB, &a);
	hold(sock, 8 * MiB, &b);

	/* nothing kept yet: both in use, every kept total 0 */
	j = admin("{\"cmd\":\"snapshot\"}");
	r = row(j, "regions", a.g.region_id);
	ck_assert_str_eq(str(r, "use"), "in_use");
	ck_assert_str_eq(str(r, "header"), "ok");
	ck_assert(json_object_object_get_ex(r, "kept_since", &v) && v == NULL);
	ck_assert_uint_eq(num(j, "pool.kept"), 0);
	ck_assert_uint_eq(num(j, "pool.in_use"), 12 * MiB);
	ck_assert_uint_eq(num(row(j, "clients", id), "kept"), 0);
	ck_assert_uint_eq(num(row(j, "clients", id), "in_use"), 12 * MiB);
	json_object_put(j);

	/* the process keeps a: kept apart from in use everywhere */
	keep(&a, 3);
	j = admin("{\"cmd\":\"snapshot\"}");
	r = row(j, "regions", a.g.region_id);
	ck_assert_str_eq(str(r, "use"), "kept");
	ck_assert_str_eq(str(r, "header"), "ok");
	ck_assert_uint_eq(num(r, "reuses"), 3);
	ck_assert_uint_eq(num(r, "kept_since"), state_of(&a)->kept_ns / 1000000000u);
	ck_assert_str_eq(str(row(j, "regions", b.g.region_id), "use"), "in_use");
	ck_assert_uint_eq(num(j, "pool.kept"), 4 * MiB);
	ck_assert_uint_eq(num(j, "pool.in_use"), 8 * MiB);
	ck_assert_uint_eq(num(j, "pool.leased"), 12 * MiB);
	r = row(j, "clients", id);
	ck_assert_uint_eq(num(r, "kept"), 4 * MiB);
	ck_assert_uint_eq(num(r, "kept_regions"), 1);
	ck_assert_uint_eq(num(r, "in_use"), 8 * MiB);
	ck_assert_uint_eq(num(r, "leased"), 12 * MiB);
	r = json_object_array_get_idx(at(j, "backings"), 0);
	ck_assert_uint_eq(num(r, "kept.regions"), 1);
	ck_assert_uint_eq(num(r, "kept.bytes"), 4 * MiB);
	json_object_put(j);

	/* and in bhc-arenactl: a state column, kept totals, a metric */
	out = ctl("regions");
	ck_assert_str_eq(region_state(out, a.g.region_id, buf, sizeof(buf)), "kept");
	ck_assert_str_eq(region_state(out, b.g.region_id, buf, sizeof(buf)), "in use");
	free(out);
	out = ctl("status");
	ck_assert_msg(*line_with(out, "  kept      4M of 12M leased", buf, sizeof(buf)),
		      "no kept line in:\n%s", out);
	free(out);
	out = ctl("clients");
	ck_assert_ptr_nonnull(strstr(line_with(out, "COMMAND", buf, sizeof(buf)), "KEPT"));
	free(out);
	out = ctl("metrics");
	ck_assert_msg(strstr(out, "\nbhc_arena_kept_bytes 4194304\n"), "no kept bytes in:\n%s",
		      out);
	ck_assert_msg(strstr(out, "\nbhc_arena_tag_kept_bytes{tag=\"keeper\"} 4194304\n"),
		      "no kept bytes of the tag in:\n%s", out);
	free(out);

	/* a state that is neither: not believed, in use and clamped */
	state_of(&a)->use = 7;
	j = admin("{\"cmd\":\"regions\"}");
	r = row(j, "regions", a.g.region_id);
	ck_assert_str_eq(str(r, "use"), "in_use");
	ck_assert_str_eq(str(r, "header"), "clamped");
	json_object_put(j);
	/* kept, but the info header is broken: not believed either */
	state_of(&a)->use = BHC_ARENA_REGION_KEPT;
	((struct bhc_arena_region_info *)(void *)a.map)->magic = 0;
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_eq(num(j, "pool.kept"), 0);
	json_object_put(j);

	unhold(&a);
	unhold(&b);
	close(sock);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- RECLAIM ------------------------------------------------------------------------------ */

static const char short_config[] = "[pool]\n"
				   "hugepages = off\n"
				   "warm = none\n"
				   "[limits]\n"
				   "total = 16M\n";

/* Expect a RECLAIM on @sock within @timeout_ms; returns its bytes. */
static uint64_t expect_reclaim(int sock, int timeout_ms)
{
	struct bhc_arena_msg_reclaim m;
	ssize_t n = bhc_test_recv(sock, &m, sizeof(m), NULL, timeout_ms);

	ck_assert_int_eq(n, sizeof(m));
	ck_assert_uint_eq(m.hdr.magic, BHC_ARENA_PROTO_MAGIC);
	ck_assert_uint_eq(m.hdr.type, BHC_ARENA_MSG_RECLAIM);
	ck_assert_uint_eq(m.hdr.length, sizeof(m));
	ck_assert_uint_eq(m.hdr.seq, 0);
	return m.bytes;
}

static void expect_nothing(int sock, int timeout_ms)
{
	unsigned char buf[256];

	ck_assert_int_eq(bhc_test_recv(sock, buf, sizeof(buf), NULL, timeout_ms), -ETIMEDOUT);
}

static int acquire_status(int sock, uint64_t size, struct held *h)
{
	struct bhc_arena_msg_error e;
	int r = bhc_test_acquire(sock, size, BHC_ARENA_ACQ_NO_HUGE, 0, &h->g, &h->fd, &e);

	if (r == ENOSPC)
		ck_assert_ptr_nonnull(strstr(e.text, "[limits] total"));
	return r;
}

START_TEST(test_reclaim_kept)
{
	int keeper, other;
	uint64_t keeper_id;
	struct held a, b, c, c2;
	struct json_object *j;

	start(short_config);
	keeper = client("keeper");
	keeper_id = last_client_id;
	other = client("other");
	hold(keeper, 8 * MiB, &a);
	hold(keeper, 8 * MiB, &b);
	keep(&a, 0);

	/* full: the acquire fails, and the client that keeps a region is asked for it */
	ck_assert_int_eq(acquire_status(other, 8 * MiB, &c), ENOSPC);
	ck_assert_uint_eq(expect_reclaim(keeper, 2000), 8 * MiB);
	/* asked again, at once and 150 ms on: it has sent nothing (it may be idle, not
	 * reading), so it is not asked again */
	ck_assert_int_eq(acquire_status(other, 8 * MiB, &c), ENOSPC);
	usleep(150 * 1000);
	ck_assert_int_eq(acquire_status(other, 8 * MiB, &c), ENOSPC);
	expect_nothing(keeper, 100);
	j = admin("{\"cmd\":\"snapshot\"}");
	ck_assert_uint_eq(num(j, "counters.pool_short"), 3);
	ck_assert_uint_eq(num(j, "counters.reclaims"), 1);
	ck_assert_uint_eq(num(row(j, "clients", keeper_id), "reclaims"), 1);
	json_object_put(j);

	/* the client answers by releasing what it keeps: the next acquire succeeds */
	unhold(&a);
	ck_assert_int_eq(bhc_test_release(keeper, a.g.region_id, NULL), 0);
	ck_assert_int_eq(acquire_status(other, 8 * MiB, &c), 0);
	ck_assert_uint_eq(c.g.size, 8 * MiB);

	/* full again, and it keeps b: having sent a request since, it is asked again */
	keep(&b, 1);
	usleep(150 * 1000);
	ck_assert_int_eq(acquire_status(other, 8 * MiB, &c2), ENOSPC);
	ck_assert_uint_eq(expect_reclaim(keeper, 2000), 8 * MiB);
	expect_nothing(other, 50);
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_eq(num(j, "counters.reclaims"), 2);
	json_object_put(j);

	close(c.fd);
	unhold(&b);
	close(keeper);
	close(other);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

START_TEST(test_no_reclaim_without_kept)
{
	int holder, other, garbled;
	struct held a, b, c, g;
	struct json_object *j;

	start("[pool]\nhugepages = off\nwarm = none\n[limits]\ntotal = 24M\n");
	holder = client("holder");
	garbled = client("garbled");
	other = client("other");
	hold(holder, 8 * MiB, &a);
	hold(holder, 8 * MiB, &b);
	hold(garbled, 8 * MiB, &g);
	/* a state out of range is not "kept" */
	state_of(&g)->use = 2;

	ck_assert_int_eq(acquire_status(other, 8 * MiB, &c), ENOSPC);
	expect_nothing(holder, 300);
	expect_nothing(garbled, 50);
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_eq(num(j, "counters.pool_short"), 1);
	ck_assert_uint_eq(num(j, "counters.reclaims"), 0);
	json_object_put(j);

	/* the same client once it keeps one (and 100 ms on): asked, and only it */
	keep(&b, 1);
	usleep(150 * 1000);
	ck_assert_int_eq(acquire_status(other, 8 * MiB, &c), ENOSPC);
	ck_assert_uint_eq(expect_reclaim(holder, 2000), 8 * MiB);
	expect_nothing(garbled, 100);
	expect_nothing(other, 50);
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_eq(num(j, "counters.reclaims"), 1);
	json_object_put(j);

	unhold(&a);
	unhold(&b);
	unhold(&g);
	close(holder);
	close(garbled);
	close(other);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* A per-uid limit refuses an acquire: that user's clients that keep regions are asked. */
START_TEST(test_reclaim_per_uid)
{
	int keeper, other;
	struct held a, b, c;
	struct bhc_arena_msg_error e;

	start("[pool]\nhugepages = off\nwarm = none\n[limits]\ntotal = 1G\n"
	      "per_uid_bytes = 16M\n");
	keeper = client("keeper");
	other = client("other");
	hold(keeper, 8 * MiB, &a);
	hold(keeper, 8 * MiB, &b);
	keep(&b, 0);
	ck_assert_int_eq(bhc_test_acquire(other, 4 * MiB, BHC_ARENA_ACQ_NO_HUGE, 0, &c.g, &c.fd,
					  &e),
			 EDQUOT);
	ck_assert_ptr_nonnull(strstr(e.text, "per_uid_bytes"));
	ck_assert_uint_eq(expect_reclaim(keeper, 2000), 4 * MiB);
	unhold(&b);
	ck_assert_int_eq(bhc_test_release(keeper, b.g.region_id, NULL), 0);
	ck_assert_int_eq(
		bhc_test_acquire(other, 4 * MiB, BHC_ARENA_ACQ_NO_HUGE, 0, &c.g, &c.fd, NULL), 0);
	close(c.fd);
	/* a in use, c in use: refused again, and nobody is asked */
	usleep(150 * 1000);
	ck_assert_int_eq(bhc_test_acquire(other, 8 * MiB, BHC_ARENA_ACQ_NO_HUGE, 0, &c.g, &c.fd,
					  &e),
			 EDQUOT);
	expect_nothing(keeper, 200);
	unhold(&a);
	close(keeper);
	close(other);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* 2 MiB pages free and not reserved by anyone's mapping (what a new file can get), or -1. */
static long hugepages_available(void)
{
	long n_free = bhc_test_hugepages_free(2048);
	long n_resv =
		bhc_test_read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages");

	if (n_free < 0 || n_resv < 0)
		return n_free;
	return n_free > n_resv ? n_free - n_resv : 0;
}

/* Hugepages short: only a client that keeps a hugetlb region is asked. */
START_TEST(test_reclaim_hugepages)
{
	int keeper, shm_keeper, other;
	struct held a, s, c;
	struct bhc_arena_msg_error e;
	char why[256];
	long avail;

	if (bhc_test_hugepages_reserve(2048, 4, why, sizeof(why)) < 0 &&
	    bhc_test_hugepages_reserve(2048, 0, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	avail = hugepages_available();
	if (avail < 1)
		bhc_test_skip("no 2 MiB hugepage is free (%ld)", avail);
	if (avail > 64)
		bhc_test_skip("%ld 2 MiB hugepages are free (someone else's): too many to run "
			      "short of",
			      avail);
	start("[pool]\nhugepages = require\nwarm = none\n[limits]\ntotal = 3G\n");
	keeper = client("keeper");
	shm_keeper = client("shm-keeper");
	other = client("other");
	hold_flags(keeper, 2 * MiB, 0, &a);
	ck_assert_uint_eq(a.g.backing, BHC_ARENA_BACKING_HUGETLB);
	hold(shm_keeper, 2 * MiB, &s);
	ck_assert_uint_ne(s.g.backing, BHC_ARENA_BACKING_HUGETLB);
	keep(&a, 0);
	keep(&s, 0);
	avail = hugepages_available();

	/* one page more than there is: ENOMEM, and the hugetlb keeper is asked */
	ck_assert_int_eq(bhc_test_acquire(other, (uint64_t)(avail + 1) * 2 * MiB, 0, 0, &c.g, &c.fd,
					  &e),
			 ENOMEM);
	ck_assert_ptr_nonnull(strstr(e.text, "hugepages"));
	ck_assert_uint_eq(expect_reclaim(keeper, 2000), (uint64_t)(avail + 1) * 2 * MiB);
	expect_nothing(shm_keeper, 200);

	/* it gives its region back: the same acquire now succeeds */
	unhold(&a);
	ck_assert_int_eq(bhc_test_release(keeper, a.g.region_id, NULL), 0);
	ck_assert_int_eq(bhc_test_acquire(other, (uint64_t)(avail + 1) * 2 * MiB, 0, 0, &c.g, &c.fd,
					  NULL),
			 0);
	ck_assert_uint_eq(c.g.backing, BHC_ARENA_BACKING_HUGETLB);
	close(c.fd);
	unhold(&s);
	close(keeper);
	close(shm_keeper);
	close(other);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- warm targets follow demand ------------------------------------------------------ */

/* warm_targets[] entry of @size in a fresh status. */
static struct json_object *class_of(struct json_object *j, uint64_t size)
{
	struct json_object *arr = at(j, "pool.warm_targets");
	size_t i;

	for (i = 0; arr && i < json_object_array_length(arr); i++) {
		struct json_object *t = json_object_array_get_idx(arr, i);

		if (num(t, "size") == size)
			return t;
	}
	ck_abort_msg("no warm class of %" PRIu64 " bytes", size);
	return NULL;
}

/* Wait until the class of @size has target @target and @ready ready; false after @ms. */
static bool class_settles(uint64_t size, uint64_t target, uint64_t ready, int ms)
{
	uint64_t end = bhc_test_now_ms() + (uint64_t)ms * bhc_test_timeout_scale();

	for (;;) {
		struct json_object *j = admin("{\"cmd\":\"status\"}");
		struct json_object *t = class_of(j, size);
		bool ok = num(t, "target") == target && num(t, "ready") == ready;

		json_object_put(j);
		if (ok)
			return true;
		if (bhc_test_now_ms() > end)
			return false;
		usleep(50 * 1000);
	}
}

/* Six new clients, each with one region of @size; then they go away. */
static void burst(uint64_t size)
{
	struct held h[6];
	int sock[6], i;

	for (i = 0; i < 6; i++) {
		sock[i] = client("burst");
		hold(sock[i], size, &h[i]);
	}
	for (i = 0; i < 6; i++) {
		unhold(&h[i]);
		close(sock[i]);
	}
}

START_TEST(test_warm_follows_demand)
{
	struct json_object *j, *t;
	char *out;

	/* a long window: the demand of the burst stays while the test looks */
	start("[pool]\nhugepages = off\nwarm = 2M:1\nwarm_max = 6\nwarm_window = 60s\n"
	      "[limits]\ntotal = 256M\n");
	j = admin("{\"cmd\":\"status\"}");
	t = class_of(j, 2 * MiB);
	ck_assert_uint_eq(num(t, "count"), 1);
	ck_assert_uint_eq(num(t, "target"), 1);
	ck_assert_uint_eq(num(t, "max"), 6);
	ck_assert_uint_eq(num(j, "pool.warm_max"), 6);
	json_object_put(j);
	out = ctl("status");
	ck_assert_msg(strstr(out, "warm targets 2M x 1 (now 1, 1 ready)"), "%s", out);
	free(out);

	/* a burst of six new processes: the target rises to six, and they are made */
	burst(2 * MiB);
	ck_assert_msg(class_settles(2 * MiB, 6, 6, 5000), "the raised target was not made warm");
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_eq(num(class_of(j, 2 * MiB), "count"), 1);
	ck_assert_uint_eq(num(j, "pool.warm"), 12 * MiB);
	json_object_put(j);
	/* bhc-arenactl status shows the configured count and the target now */
	out = ctl("status");
	ck_assert_msg(strstr(out, "warm targets 2M x 1 (now 6, 6 ready)"), "%s", out);
	free(out);

	/* another burst: the target holds, and is made again */
	burst(2 * MiB);
	ck_assert_msg(class_settles(2 * MiB, 6, 6, 5000), "the target did not hold");
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

START_TEST(test_demand_fades)
{
	struct json_object *j;

	start("[pool]\nhugepages = off\nwarm = 2M:1\nwarm_max = 6\nwarm_window = 1s\n"
	      "[limits]\ntotal = 256M\n");
	burst(2 * MiB);
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_ge(num(class_of(j, 2 * MiB), "target"), 3);
	json_object_put(j);
	/* idle: it falls back to the configured count, and the surplus is dropped */
	ck_assert_msg(class_settles(2 * MiB, 1, 1, 15000), "the target did not fall back");
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_eq(num(j, "pool.warm"), 2 * MiB);
	json_object_put(j);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* Demand never crowds out an acquire: warm regions above the count give their room up. */
START_TEST(test_demand_yields_room)
{
	struct held h[4], big;
	struct json_object *j;
	int sock, big_sock, i;

	start("[pool]\nhugepages = off\nwarm = 2M:1\nwarm_max = 4\nwarm_window = 60s\n"
	      "[limits]\ntotal = 16M\n");
	sock = client("burst");
	for (i = 0; i < 4; i++)
		hold(sock, 2 * MiB, &h[i]);
	for (i = 0; i < 4; i++) {
		unhold(&h[i]);
		ck_assert_int_eq(bhc_test_release(sock, h[i].g.region_id, NULL), 0);
	}
	ck_assert_msg(class_settles(2 * MiB, 4, 4, 5000), "demand did not raise the target");
	/* 8M warm of 16M: a 12M acquire needs the room of the surplus */
	big_sock = client("big");
	ck_assert_int_eq(acquire_status(big_sock, 12 * MiB, &big), 0);
	j = admin("{\"cmd\":\"status\"}");
	ck_assert_uint_ge(num(j, "counters.demand_shed"), 2);
	ck_assert_uint_eq(num(class_of(j, 2 * MiB), "target"), 1);
	json_object_put(j);
	close(big.fd);
	close(big_sock);
	close(sock);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

int main(void)
{
	const struct bhc_test_case cases[] = {
		{ "state", test_state_reported },
		{ "reclaim", test_reclaim_kept },
		{ "no-reclaim", test_no_reclaim_without_kept },
		{ "reclaim-hugepages", test_reclaim_hugepages },
		{ "reclaim-per-uid", test_reclaim_per_uid },
		{ "demand", test_warm_follows_demand },
		{ "demand-fades", test_demand_fades },
		{ "demand-yields", test_demand_yields_room },
	};

	signal(SIGPIPE, SIG_IGN);
	return bhc_test_run(bhc_test_suite("daemon-kept", cases, sizeof(cases) / sizeof(cases[0])));
}
