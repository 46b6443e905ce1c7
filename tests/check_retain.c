/* SPDX-License-Identifier: MIT */
/*
 * Process-local reuse: a freed arena's region is kept by the process and
 * serves its next arena; it never reaches another process; the bounds
 * (BHC_ARENA_RETAIN, idle time, room the daemon lacks, exit) hold. Against a
 * real bhc-arenad on a private socket, with real processes; what the daemon
 * holds is read from its admin JSON (bhc-arenactl --json regions).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include <bhc/arena.h>

#include "check_arena_util.h"
#include "tap.h"
#include "util-daemon.h"

#define MIB ((size_t)1 << 20)
/* bhc_arena_new(16 MiB - header) takes exactly one 16 MiB region */
#define CAP16 (16 * MIB - BHC_ARENA_REGION_HEADER_SIZE)

static struct bhc_test_daemon d;

static const char config_small[] = "[pool]\n"
				   "hugepages = off\n"
				   "warm = none\n";

static void daemon_start(const char *config)
{
	bhc_test_daemon_setup(&d, config);
	bhc_test_daemon_start_ready(&d, NULL, 20000);
	ck_assert_int_eq(setenv("BHC_ARENA_SOCKET", d.socket, 1), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "daemon", 1), 0);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The daemon's regions leased by @pid, from `bhc-arenactl --json regions --pid`. */
static struct json_object *regions_of(pid_t pid)
{
	char cmd[1024], pidstr[16];
	struct json_object *j, *regions;
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	FILE *p;

	ck_assert_ptr_nonnull(out);
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' --json regions --pid %s",
		 getenv("BHC_ARENACTL"), d.socket, pidstr);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (len < cap - 1 && !feof(p))
		len += fread(out + len, 1, cap - 1 - len, p);
	out[len] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	j = json_tokener_parse(out);
	ck_assert_msg(j, "not JSON: %s", out);
	free(out);
	ck_assert(json_object_object_get_ex(j, "regions", &regions));
	json_object_get(regions);
	json_object_put(j);
	return regions;
}

static size_t n_regions_of(pid_t pid)
{
	struct json_object *r = regions_of(pid);
	size_t n = json_object_array_length(r);

	json_object_put(r);
	return n;
}

static bool holds_region(pid_t pid, uint64_t id)
{
	struct json_object *r = regions_of(pid), *e, *v;
	bool found = false;
	size_t i;

	for (i = 0; i < json_object_array_length(r); i++) {
		e = json_object_array_get_idx(r, i);
		if (json_object_object_get_ex(e, "id", &v) &&
		    (uint64_t)json_object_get_int64(v) == id)
			found = true;
	}
	json_object_put(r);
	return found;
}

/* Wait until the daemon lists @n regions of @pid. */
static bool wait_n_regions(pid_t pid, size_t n, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();

	for (;;) {
		if (n_regions_of(pid) == n)
			return true;
		if (bhc_test_now_ms() > deadline)
			return false;
		sleep_ms(20);
	}
}

static const struct bhc_arena_region_state *region_state(const struct bhc_arena *arena)
{
	return (const void *)(test_region_start(arena) + BHC_ARENA_REGION_STATE_OFFSET);
}

static struct bhc_arena *arena_new(size_t capacity)
{
	struct bhc_arena *a = NULL;

	ck_assert_int_eq(bhc_arena_new(capacity, &a), 0);
	return a;
}

static uint64_t region_id(const struct bhc_arena *a)
{
	struct bhc_arena_stats st;

	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	return st.region_id;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* The same region, its own bytes left as they were, a fresh arena on it. */
static void check_reused(const char *mode)
{
	const struct bhc_arena_region_state *kept;
	struct bhc_arena_stats st;
	struct bhc_arena *a, *b;
	unsigned char *p;
	char *start;

	ck_assert_int_eq(setenv("BHC_ARENA_MODE", mode, 1), 0);
	a = arena_new(CAP16);
	start = test_region_start(a);
	p = bhc_arena_alloc(a, 4096, 64);
	ck_assert_ptr_nonnull(p);
	memset(p, 0xa5, 4096);
	ck_assert_uint_eq(region_state(a)->use, BHC_ARENA_REGION_IN_USE);
	bhc_arena_free(a);
	/* kept: still mapped here, and marked so for the daemon */
	ck_assert(test_is_mapped(start, 4096));
	kept = (const void *)(start + BHC_ARENA_REGION_STATE_OFFSET);
	ck_assert_uint_eq(kept->use, BHC_ARENA_REGION_KEPT);

	b = arena_new(CAP16);
	ck_assert_ptr_eq(test_region_start(b), start);
	ck_assert_int_eq(bhc_arena_stats(b, &st), 0);
	ck_assert_uint_eq(st.used, 0);
	ck_assert_uint_eq(st.n_allocs, 0);
	ck_assert_uint_eq(st.n_resets, 0);
	ck_assert_uint_eq(st.high_water, 0);
	ck_assert_uint_ge(st.capacity, CAP16);
	ck_assert_uint_eq(region_state(b)->use, BHC_ARENA_REGION_IN_USE);
	ck_assert_uint_eq(region_state(b)->n_reuses, 1);
	errno = ERANGE;
	bhc_arena_free(b);
	ck_assert_int_eq(errno, ERANGE);
	b = arena_new(CAP16);
	ck_assert_uint_ne(region_state(b)->kept_ns, 0);
	/* not zeroed again: the bytes are this process's own */
	ck_assert_ptr_eq(bhc_arena_alloc(b, 4096, 64), p);
	ck_assert_uint_eq(p[0], 0xa5);
	bhc_arena_free(b);
}

START_TEST(test_reuse_local)
{
	check_reused("local");
}
END_TEST

START_TEST(test_reuse_daemon)
{
	struct bhc_arena *a;
	uint64_t id;
	int i;

	daemon_start(config_small);
	check_reused("daemon");
	a = arena_new(CAP16);
	id = region_id(a);
	ck_assert_uint_ne(id, 0);
	bhc_arena_free(a);
	/* a hundred more arenas: one lease, the same region, no round trip */
	for (i = 0; i < 100; i++) {
		a = arena_new(CAP16);
		ck_assert_uint_eq(region_id(a), id);
		bhc_arena_free(a);
	}
	ck_assert_uint_eq(n_regions_of(getpid()), 1);
	ck_assert(holds_region(getpid(), id));
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

START_TEST(test_retain_off)
{
	struct bhc_arena *a;
	uint64_t id;
	char *start;

	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN", "0", 1), 0);
	daemon_start(config_small);
	a = arena_new(CAP16);
	id = region_id(a);
	start = test_region_start(a);
	ck_assert(holds_region(getpid(), id));
	/* the release goes out without waiting; errno stays the caller's */
	errno = ERANGE;
	bhc_arena_free(a);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert(!test_is_mapped(start, 4096));
	ck_assert(wait_n_regions(getpid(), 0, 5000));
	a = arena_new(CAP16);
	ck_assert_uint_ne(region_id(a), id);
	bhc_arena_free(a);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/*
 * Another process never sees this one's bytes: a process started before
 * (not a fork of a process holding kept regions), and a fork child of a
 * process that keeps some, each get a different region, all zero.
 */
static int other_process_arena(uint64_t parent_id, const char *parent_start)
{
	struct bhc_arena *a;
	unsigned char *p;
	size_t cap;

	if (parent_start && test_is_mapped(parent_start, 4096))
		return 10; /* the kept region was inherited */
	if (bhc_arena_new(CAP16, &a) < 0)
		return 11;
	if (parent_id && region_id(a) == parent_id)
		return 12;
	cap = bhc_arena_capacity(a);
	p = bhc_arena_alloc(a, cap, 8);
	if (!p || !all_zero(p, cap))
		return 13;
	bhc_arena_free(a);
	return 0;
}

START_TEST(test_never_crosses_processes)
{
	int go[2], status;
	pid_t other, child;
	struct bhc_arena *a;
	unsigned char *p;
	char *start;
	uint64_t id;
	char c;

	daemon_start(config_small);
	ck_assert_int_eq(pipe(go), 0);
	other = fork();
	ck_assert_int_ge(other, 0);
	if (other == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(9);
		_exit(other_process_arena(0, NULL));
	}
	close(go[0]);

	a = arena_new(CAP16);
	id = region_id(a);
	start = test_region_start(a);
	p = bhc_arena_alloc(a, bhc_arena_capacity(a), 8);
	ck_assert_ptr_nonnull(p);
	memset(p, 0x5a, bhc_arena_capacity(a));
	bhc_arena_free(a);
	ck_assert(test_is_mapped(start, 4096)); /* kept: the positive first */
	ck_assert(holds_region(getpid(), id));

	ck_assert_int_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	ck_assert_int_eq(waitpid(other, &status, 0), other);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "other process: %#x", status);

	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(other_process_arena(id, start));
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork child: %#x", status);

	/* and the parent still reuses its own */
	a = arena_new(CAP16);
	ck_assert_uint_eq(region_id(a), id);
	bhc_arena_free(a);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/*
 * The same for regions the process mapped itself, which have no daemon lease
 * that ends with the fork: the child must not even look at the parent's
 * kept list (the regions are not mapped in the child).
 */
START_TEST(test_never_crosses_fork_local)
{
	struct bhc_arena *a;
	unsigned char *p;
	char *start;
	int status;
	pid_t child;

	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "local", 1), 0);
	a = arena_new(CAP16);
	start = test_region_start(a);
	p = bhc_arena_alloc(a, bhc_arena_capacity(a), 8);
	ck_assert_ptr_nonnull(p);
	memset(p, 0x5a, bhc_arena_capacity(a));
	bhc_arena_free(a);
	ck_assert(test_is_mapped(start, 4096)); /* kept: the positive first */

	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(other_process_arena(0, start));
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork child: %#x", status);

	a = arena_new(CAP16);
	ck_assert_ptr_eq(test_region_start(a), start);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_bound)
{
	struct bhc_arena *a[3];
	uint64_t ids[3];
	int i;

	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN", "40M", 1), 0);
	daemon_start(config_small);
	for (i = 0; i < 3; i++) {
		a[i] = arena_new(CAP16);
		ids[i] = region_id(a[i]);
	}
	ck_assert_uint_eq(n_regions_of(getpid()), 3);
	for (i = 0; i < 3; i++)
		bhc_arena_free(a[i]);
	/* 40M keeps two 16 MiB regions: the one kept longest went back */
	ck_assert(wait_n_regions(getpid(), 2, 5000));
	ck_assert(!holds_region(getpid(), ids[0]));
	ck_assert(holds_region(getpid(), ids[1]));
	ck_assert(holds_region(getpid(), ids[2]));
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* Two 16 MiB arenas freed under a bound of @retain: how many regions stay leased. */
static bool two_freed_leave(const char *retain, size_t n)
{
	struct bhc_arena *a, *b;
	bool ok;

	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN", retain, 1), 0);
	daemon_start(config_small);
	a = arena_new(CAP16);
	b = arena_new(CAP16);
	bhc_arena_free(a);
	bhc_arena_free(b);
	/* a release is sent without waiting: settle, then the count must hold */
	ok = wait_n_regions(getpid(), n, 5000);
	sleep_ms(200);
	ok = ok && n_regions_of(getpid()) == n;
	bhc_test_daemon_stop_clean(&d);
	return ok;
}

/* The exact fit: two 16 MiB regions under a 32M bound. */
START_TEST(test_bound_exact)
{
	ck_assert(two_freed_leave("32M", 2));
}
END_TEST

/* One byte under: the second region does not fit beside the first. */
START_TEST(test_bound_one_under)
{
	ck_assert(two_freed_leave("33554431", 1));
}
END_TEST

START_TEST(test_idle)
{
	struct bhc_arena *a;
	uint64_t id;

	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN_IDLE_MS", "100", 1), 0);
	daemon_start(config_small);
	a = arena_new(CAP16);
	id = region_id(a);
	bhc_arena_free(a);
	ck_assert(holds_region(getpid(), id));
	sleep_ms(300);
	/* the next call of the library sees it idle and gives it back */
	a = arena_new(CAP16);
	ck_assert_uint_ne(region_id(a), id);
	ck_assert(wait_n_regions(getpid(), 1, 5000));
	ck_assert(!holds_region(getpid(), id));
	bhc_arena_free(a);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* The daemon refuses for want of room: kept regions go back and the acquire is served. */
START_TEST(test_room_from_kept)
{
	struct bhc_arena *a;
	uint64_t id;

	daemon_start("[pool]\nhugepages = off\nwarm = none\n[limits]\ntotal = 40M\n");
	a = arena_new(32 * MIB);
	id = region_id(a);
	bhc_arena_free(a);
	ck_assert(holds_region(getpid(), id));
	/* a 34 MiB region is kept; 16 MiB more would pass 40M, and it is too big to serve 16M */
	a = arena_new(CAP16);
	ck_assert_uint_ne(region_id(a), id);
	ck_assert(wait_n_regions(getpid(), 1, 5000));
	bhc_arena_free(a);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/*
 * Another process's acquire finds no room: the daemon sends this one RECLAIM,
 * which its next library call answers by giving its kept region back.
 */
START_TEST(test_reclaim)
{
	struct bhc_arena_opts local = { .mode = BHC_ARENA_MODE_LOCAL };
	int go[2], done[2], status;
	struct bhc_arena *a;
	char c, res[2];
	uint64_t id;
	pid_t other;

	daemon_start("[pool]\nhugepages = off\nwarm = none\n[limits]\ntotal = 40M\n");
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(done), 0);
	other = fork();
	ck_assert_int_ge(other, 0);
	if (other == 0) {
		/* twice: once while this process keeps its region, once after */
		for (int i = 0; i < 2; i++) {
			if (read(go[0], &c, 1) != 1)
				_exit(9);
			c = bhc_arena_new(CAP16, &a) == 0 ? 'y' : 'n';
			if (c == 'y')
				bhc_arena_free(a);
			if (write(done[1], &c, 1) != 1)
				_exit(9);
		}
		_exit(0);
	}
	a = arena_new(32 * MIB);
	id = region_id(a);
	bhc_arena_free(a);
	ck_assert(holds_region(getpid(), id));

	ck_assert_int_eq(write(go[1], "1", 1), 1);
	ck_assert_int_eq(read(done[0], &res[0], 1), 1);
	ck_assert_msg(res[0] == 'n', "the other process found room beside a kept 34 MiB region");
	/* this process's next call (after the poll interval) hears the RECLAIM */
	sleep_ms(150);
	ck_assert_int_eq(bhc_arena_new_opts(1 * MIB, &local, &a), 0);
	bhc_arena_free(a);
	ck_assert(wait_n_regions(getpid(), 0, 5000));

	ck_assert_int_eq(write(go[1], "2", 1), 1);
	ck_assert_int_eq(read(done[0], &res[1], 1), 1);
	ck_assert_msg(res[1] == 'y', "the other process still found no room");
	ck_assert_int_eq(waitpid(other, &status, 0), other);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

static int big_fn(struct bhc_arena *arena, void *ctx)
{
	uint64_t *ids = ctx;
	unsigned char *p = bhc_arena_alloc(arena, 1 << 20, 64);

	if (!p)
		return -ENOMEM;
	p[0] = 1;
	ids[ids[0] ? 1 : 0] = region_id(arena);
	return 0;
}

/* with_arena beyond the thread's arena reuses one region: no new lease per call. */
START_TEST(test_with_arena_big)
{
	uint64_t ids[2] = { 0, 0 };
	int i;

	daemon_start(config_small);
	ck_assert_ptr_nonnull(bhc_arena_thread());
	for (i = 0; i < 200; i++) {
		ck_assert_int_eq(bhc_with_arena(32 * MIB, big_fn, ids), 0);
		ck_assert_uint_eq(ids[1] ? ids[1] : ids[0], ids[0]);
	}
	/* the thread's arena and the one spare */
	ck_assert_uint_eq(n_regions_of(getpid()), 2);
	ck_assert(holds_region(getpid(), ids[0]));
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* The thread's spare goes back once this thread's calls see it unused for the idle time. */
START_TEST(test_with_arena_spare_idle)
{
	uint64_t ids[2] = { 0, 0 };
	struct bhc_arena *a;

	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN_IDLE_MS", "100", 1), 0);
	daemon_start(config_small);
	ck_assert_ptr_nonnull(bhc_arena_thread());
	ck_assert_int_eq(bhc_with_arena(32 * MIB, big_fn, ids), 0);
	ck_assert(holds_region(getpid(), ids[0]));
	/* the first call of the library after the use notes it, a later one drops it */
	a = arena_new(CAP16);
	bhc_arena_free(a);
	sleep_ms(300);
	a = arena_new(CAP16);
	bhc_arena_free(a);
	ck_assert(wait_n_regions(getpid(), 2, 5000));
	ck_assert(!holds_region(getpid(), ids[0]));
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* Kept regions end with the process, however it ends. */
static void check_exit(int sig)
{
	struct bhc_arena *a;
	pid_t pid;
	int status;

	daemon_start(config_small);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (bhc_arena_new(CAP16, &a) < 0)
			_exit(3);
		bhc_arena_free(a);
		if (bhc_arena_new(32 * MIB, &a) < 0)
			_exit(4);
		bhc_arena_free(a);
		if (sig)
			raise(sig);
		exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (sig)
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == sig);
	else
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(wait_n_regions(pid, 0, 5000));
	bhc_test_daemon_stop_clean(&d);
}

START_TEST(test_exit_releases)
{
	check_exit(0);
}
END_TEST

START_TEST(test_kill_releases)
{
	check_exit(SIGKILL);
}
END_TEST

static Suite *retain_suite(void)
{
	const struct bhc_test_case cases[] = {
		{ "reuse_local", test_reuse_local },
		{ "reuse_daemon", test_reuse_daemon },
		{ "retain_off", test_retain_off },
		{ "never_crosses_processes", test_never_crosses_processes },
		{ "never_crosses_fork_local", test_never_crosses_fork_local },
		{ "bound", test_bound },
		{ "bound_exact", test_bound_exact },
		{ "bound_one_under", test_bound_one_under },
		{ "idle", test_idle },
		{ "room_from_kept", test_room_from_kept },
		{ "reclaim", test_reclaim },
		{ "with_arena_big", test_with_arena_big },
		{ "with_arena_spare_idle", test_with_arena_spare_idle },
		{ "exit_releases", test_exit_releases },
		{ "kill_releases", test_kill_releases },
	};

	return bhc_test_suite("retain", cases, ARRAY_SIZE(cases));
}

int main(void)
{
	unsetenv("BHC_ARENA_RETAIN");
	unsetenv("BHC_ARENA_RETAIN_IDLE_MS");
	/* small pages: leave the shared hugetlb pool to the tests that reserve it */
	setenv("BHC_ARENA_BACKING", "small", 1);
	setenv("BHC_ARENA_MODE", "local", 1);
	return bhc_test_run(retain_suite());
}
