/* SPDX-License-Identifier: MIT */
/*
 * Regions from a real bhc-arenad: many client processes at once, leases
 * reclaimed from a killed client (hugepages back in the pool), fresh
 * regions that read as zero, seals, the hugepage policies and their
 * fallbacks, no SIGBUS ever, live usage read back by the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/magic.h>

#include <check.h>

#include "tap.h"
#include "util-daemon.h"
#include "util-hugepages.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define HDR BHC_ARENA_REGION_HEADER_SIZE

static struct bhc_test_daemon d;

static void start(const char *config, const char *const *args)
{
	bhc_test_daemon_setup(&d, config);
	bhc_test_daemon_start_ready(&d, args, 20000);
}

static void stop(void)
{
	bhc_test_daemon_stop_clean(&d);
}

static int client(const char *tag, struct bhc_arena_msg_welcome *w)
{
	struct bhc_arena_msg_welcome tmp;
	int fd = bhc_test_connect(d.socket);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, tag, 0, w ? w : &tmp), 0);
	return fd;
}

/* The backing a shmem region must report: THP only if shmem THP is really in effect. */
static uint32_t expected_shmem_backing(void)
{
	char top[128] = "", pmd[128] = "";
	FILE *f;

	f = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re");
	if (f) {
		if (!fgets(top, sizeof(top), f))
			top[0] = '\0';
		fclose(f);
	}
	f = fopen("/sys/kernel/mm/transparent_hugepage/hugepages-2048kB/shmem_enabled", "re");
	if (f) {
		if (!fgets(pmd, sizeof(pmd), f))
			pmd[0] = '\0';
		fclose(f);
	}
	if (pmd[0] && !strstr(pmd, "[inherit]"))
		return strstr(pmd, "[always]") || strstr(pmd, "[within_size]") ?
			       BHC_ARENA_BACKING_THP :
			       BHC_ARENA_BACKING_SMALL;
	return strstr(top, "[always]") || strstr(top, "[within_size]") || strstr(top, "[force]") ?
		       BHC_ARENA_BACKING_THP :
		       BHC_ARENA_BACKING_SMALL;
}

/* The backing a grant reports must be the truth: hugetlb if and only if on hugetlbfs. */
static void check_backing(int fd, const struct bhc_arena_msg_grant *g)
{
	struct statfs sfs;

	ck_assert_int_eq(fstatfs(fd, &sfs), 0);
	ck_assert_msg((sfs.f_type == HUGETLBFS_MAGIC) == (g->backing == BHC_ARENA_BACKING_HUGETLB),
		      "region %" PRIu64 " reported backing %u, file system 0x%lx", g->region_id,
		      g->backing, (unsigned long)sfs.f_type);
	if (g->backing == BHC_ARENA_BACKING_HUGETLB)
		ck_assert_uint_eq((uint64_t)sfs.f_bsize, 1ull << g->page_shift);
}

/*
 * Bytes of hugetlb pages in the files process @pid holds open, from
 * /proc/PID/fd: what the daemon itself keeps, whatever else uses the pool.
 */
static uint64_t hugetlb_held(pid_t pid)
{
	char dir_path[64], path[64 + sizeof(((struct dirent *)NULL)->d_name)];
	uint64_t bytes = 0;
	struct dirent *de;
	struct statfs sfs;
	struct stat st;
	DIR *dir;

	snprintf(dir_path, sizeof(dir_path), "/proc/%d/fd", (int)pid);
	dir = opendir(dir_path);
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir_path, de->d_name);
		if (statfs(path, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC &&
		    stat(path, &st) == 0)
			bytes += (uint64_t)st.st_blocks * 512;
	}
	closedir(dir);
	return bytes;
}

/* Wait (bounded) until the daemon holds @want bytes of hugetlb pages; what it holds then. */
static uint64_t wait_held(pid_t pid, uint64_t want, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	uint64_t held;

	for (;;) {
		held = hugetlb_held(pid);
		if (held == want || bhc_test_now_ms() >= deadline)
			return held;
		usleep(10 * 1000);
	}
}

/*
 * Check the backing, then, in a child, map the region and write and read
 * back every 4 KiB page; the child must not die (no SIGBUS, ever).
 */
static void touch_all(int fd, const struct bhc_arena_msg_grant *g)
{
	uint64_t size = g->size;
	pid_t pid;
	int status;

	check_backing(fd, g);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		volatile unsigned char *p;
		uint64_t off;

		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(3);
		for (off = HDR; off < size; off += 4096)
			p[off] = (unsigned char)(off >> 12);
		for (off = HDR; off < size; off += 4096) {
			if (p[off] != (unsigned char)(off >> 12))
				_exit(4);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(!WIFSIGNALED(status), "child touching the region died of signal %d",
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

/* Offset of the first nonzero byte in [from, size), or size (no ck_assert per byte: it is slow). */
static uint64_t first_nonzero(const unsigned char *p, uint64_t from, uint64_t size)
{
	uint64_t off;

	for (off = from; off < size; off++) {
		if (p[off])
			return off;
	}
	return size;
}

/*
 * A region as the daemon hands it out: zero from its first byte (region
 * header version 2: the client writes the info header, the daemon never
 * maps the region).
 */
static void check_new(const unsigned char *p, const struct bhc_arena_msg_grant *g)
{
	uint64_t off = first_nonzero(p, 0, g->size);

	ck_assert_uint_eq(g->header_version, BHC_ARENA_REGION_VERSION);
	ck_assert_uint_eq(g->header_size, HDR);
	ck_assert_msg(off == g->size, "byte %" PRIu64 " of region %" PRIu64 " is not zero", off,
		      g->region_id);
}

static const char off_config[] = "[pool]\n"
				 "hugepages = off\n"
				 "warm = 2M:4\n"
				 "max_region_size = 1G\n"
				 "[limits]\n"
				 "total = 2G\n";

/* --- many clients at once ---------------------------------------------------- */

#define N_PROCS 16
#define N_REGIONS 4

static const uint64_t sizes[N_REGIONS] = { 2 * MiB, 4 * MiB, 6 * MiB, 2 * MiB };

/* One worker: four regions, a pattern written into each and verified, two released. */
static int worker(int index, uint64_t *ids)
{
	struct bhc_arena_msg_welcome w;
	struct bhc_arena_msg_grant g[N_REGIONS];
	uint64_t *p[N_REGIONS], i, n, tag = (uint64_t)getpid() << 32;
	char name[32];
	struct statfs sfs;
	struct stat st;
	int fd, rfd, k;

	snprintf(name, sizeof(name), "worker-%d", index);
	fd = bhc_test_connect(d.socket);
	if (fd < 0 || bhc_test_hello(fd, name, 0, &w) != 0)
		return 10;
	for (k = 0; k < N_REGIONS; k++) {
		if (bhc_test_acquire(fd, sizes[k], 0, 0, &g[k], &rfd, NULL) != 0)
			return 11;
		if (g[k].size != sizes[k] || g[k].backing == BHC_ARENA_BACKING_HUGETLB)
			return 12;
		if (fstat(rfd, &st) < 0 || (uint64_t)st.st_size != g[k].size)
			return 13;
		if (fstatfs(rfd, &sfs) < 0 || sfs.f_type == HUGETLBFS_MAGIC)
			return 18;
		p[k] = mmap(NULL, g[k].size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
		close(rfd);
		if (p[k] == MAP_FAILED)
			return 14;
		/* new, header included: the client writes the info header (version 2) */
		for (i = 0; i < HDR / 8; i++) {
			if (p[k][i])
				return 15;
		}
		ids[k] = g[k].region_id;
		n = g[k].size / 8;
		for (i = HDR / 8; i < n; i++)
			p[k][i] = tag | ((uint64_t)k << 28) | i;
	}
	for (k = 0; k < N_REGIONS; k++) {
		n = g[k].size / 8;
		for (i = HDR / 8; i < n; i++) {
			if (p[k][i] != (tag | ((uint64_t)k << 28) | i))
				return 16;
		}
	}
	for (k = 0; k < 2; k++) {
		munmap(p[k], g[k].size);
		if (bhc_test_release(fd, g[k].region_id, NULL) != 0)
			return 17;
	}
	return 0;
}

START_TEST(test_many_clients)
{
	uint64_t *ids;
	pid_t pids[N_PROCS];
	int i, j, status;

	start(off_config, NULL);
	ids = mmap(NULL, N_PROCS * N_REGIONS * sizeof(*ids), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(ids, MAP_FAILED);
	for (i = 0; i < N_PROCS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			_exit(worker(i, ids + i * N_REGIONS));
	}
	for (i = 0; i < N_PROCS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "worker %d: status 0x%x", i, status);
	}
	for (i = 0; i < N_PROCS * N_REGIONS; i++) {
		ck_assert_uint_gt(ids[i], 0);
		for (j = 0; j < i; j++)
			ck_assert_uint_ne(ids[i], ids[j]);
	}
	/* Each worker released two regions itself; closing released the other two. */
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.leased", 0, 10000), 0);
	ck_assert_uint_eq(bhc_test_admin_u64(&d, "counters.grants"), N_PROCS * N_REGIONS);
	munmap(ids, N_PROCS * N_REGIONS * sizeof(*ids));
	stop();
}
END_TEST

/* --- reclaim from a killed client ----------------------------------------------- */

/* A child that leases @n regions of @size (flags @flags), reports its client id, and waits. */
static pid_t victim(int n, uint64_t size, uint32_t flags, uint64_t *client_id)
{
	int report[2];
	pid_t pid;

	ck_assert_int_eq(pipe(report), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct bhc_arena_msg_welcome w;
		struct bhc_arena_msg_grant g;
		uint64_t id = 0;
		int fd, rfd, i;
		unsigned char *p;

		close(report[0]);
		fd = bhc_test_connect(d.socket);
		if (fd >= 0 && bhc_test_hello(fd, "victim", 0, &w) == 0)
			id = w.client_id;
		for (i = 0; id && i < n; i++) {
			if (bhc_test_acquire(fd, size, flags, 0, &g, &rfd, NULL) != 0) {
				id = 0;
				break;
			}
			p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
			if (p == MAP_FAILED) {
				id = 0;
				break;
			}
			memset(p + HDR, 0xee, g.size - HDR);
		}
		if (write(report[1], &id, sizeof(id)) != sizeof(id))
			_exit(1);
		pause();
		_exit(0);
	}
	close(report[1]);
	ck_assert_int_eq(read(report[0], client_id, sizeof(*client_id)), sizeof(*client_id));
	close(report[0]);
	ck_assert_uint_gt(*client_id, 0);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int status;

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* Wait (bounded) until the admin JSON lists no client @id any more; true if it went. */
static bool client_gone(uint64_t id, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();

	while (bhc_test_admin_row_u64(&d, "clients", "id", id, "regions") >= 0) {
		if (bhc_test_now_ms() >= deadline)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

START_TEST(test_kill_reclaims)
{
	uint64_t id;
	pid_t pid;

	start(off_config, NULL);
	pid = victim(5, 4 * MiB, 0, &id);
	/* the admin view sees the victim's leases first */
	ck_assert_int_eq(bhc_test_admin_row_u64(&d, "clients", "id", id, "regions"), 5);
	ck_assert_uint_eq(bhc_test_admin_u64(&d, "pool.leased"), 20 * MiB);
	kill_and_reap(pid);
	ck_assert(client_gone(id, 5000));
	/* The admin view shows only the warm pool left (4 x 2 MiB), nothing leased. */
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.leased", 0, 5000), 0);
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.reserved", 8 * MiB, 5000), 8 * MiB);
	ck_assert_int_eq(bhc_test_admin_client_u64(&d, pid, "regions"), -1);
	stop();
}
END_TEST

static long wait_free(long want, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	long now;

	for (;;) {
		now = bhc_test_hugepages_free(2048);
		if (now == want || bhc_test_now_ms() >= deadline)
			return now;
		usleep(10 * 1000);
	}
}

START_TEST(test_kill_returns_hugepages)
{
	static const char config[] = "[pool]\n"
				     "hugepages = require\n"
				     "warm = 2M:2\n"
				     "max_region_size = 64M\n"
				     "[limits]\n"
				     "total = 128M\n";
	struct bhc_arena_msg_grant g;
	char why[256];
	long baseline, during, after;
	unsigned char *p;
	uint64_t id;
	pid_t pid;
	int fd, rfd;

	if (bhc_test_hugepages_reserve(2048, 16, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	start(config, NULL);
	/* The warm pool (2 pages) is in; what is free now is the baseline. */
	ck_assert_uint_eq(hugetlb_held(d.pid), 4 * MiB);
	baseline = bhc_test_hugepages_free(2048);
	pid = victim(4, 4 * MiB, BHC_ARENA_ACQ_REQUIRE_HUGE, &id);
	ck_assert_uint_eq(hugetlb_held(d.pid), 20 * MiB);
	during = bhc_test_hugepages_free(2048);
	ck_assert_int_eq(bhc_test_admin_row_u64(&d, "clients", "id", id, "regions"), 4);
	kill_and_reap(pid);
	ck_assert(client_gone(id, 5000));
	ck_assert_uint_eq(bhc_test_admin_wait_u64(&d, "pool.leased", 0, 5000), 0);
	/* The daemon keeps its warm pool and nothing else... */
	ck_assert_uint_eq(wait_held(d.pid, 4 * MiB, 5000), 4 * MiB);
	/* ...so the pool is back where it was (unless someone else uses it meanwhile). */
	after = wait_free(baseline, 5000);
	ck_assert_msg(after == baseline, "HugePages_Free %ld (baseline %ld, %ld while leased)",
		      after, baseline, during);
	/* A hugetlb region handed out after another client filled one reads as zero. */
	fd = client("zero", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_uint_eq(g.page_shift, 21);
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	check_new(p, &g);
	touch_all(rfd, &g);
	munmap(p, g.size);
	close(rfd);
	close(fd);
	ck_assert(bhc_test_daemon_log_wait(&d, "tag \"zero\") disconnected", 1, 5000));
	ck_assert_uint_eq(wait_held(d.pid, 4 * MiB, 5000), 4 * MiB);
	stop();
}
END_TEST

/* --- what a client gets ---------------------------------------------------------- */

START_TEST(test_fresh_regions_are_zero)
{
	static const uint64_t round_sizes[] = { 2 * MiB, 2 * MiB, 8 * MiB, 8 * MiB, 2 * MiB };
	struct bhc_arena_msg_grant g, prev = { 0 };
	unsigned char *p;
	uint64_t off;
	int a, b, rfd;
	size_t k;

	start(off_config, NULL);
	a = client("filler", NULL);
	b = client("reader", NULL);
	for (k = 0; k < ARRAY_SIZE(round_sizes); k++) {
		/* The filler scribbles over all of it, header included. */
		ck_assert_int_eq(bhc_test_acquire(a, round_sizes[k], 0, 0, &g, &rfd, NULL), 0);
		ck_assert_uint_ne(g.region_id, prev.region_id);
		p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
		ck_assert_ptr_ne(p, MAP_FAILED);
		close(rfd);
		check_new(p, &g);
		memset(p, 0xa5, g.size);
		ck_assert_int_eq(bhc_test_release(a, g.region_id, NULL), 0);
		munmap(p, g.size);
		prev = g;
		/* The reader's region is all zero. */
		ck_assert_int_eq(bhc_test_acquire(b, round_sizes[k], 0, 0, &g, &rfd, NULL), 0);
		ck_assert_uint_ne(g.region_id, prev.region_id);
		p = mmap(NULL, g.size, PROT_READ, MAP_SHARED, rfd, 0);
		ck_assert_ptr_ne(p, MAP_FAILED);
		close(rfd);
		off = first_nonzero(p, 0, g.size);
		ck_assert_msg(off == g.size, "round %zu: byte %" PRIu64 " is not zero", k, off);
		munmap(p, g.size);
		ck_assert_int_eq(bhc_test_release(b, g.region_id, NULL), 0);
	}
	close(a);
	close(b);
	stop();
}
END_TEST

START_TEST(test_sealed)
{
	struct bhc_arena_msg_grant g;
	struct stat st;
	int fd, rfd, seals;

	start(off_config, NULL);
	fd = client("sealed", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL), 0);
	seals = fcntl(rfd, F_GET_SEALS);
	ck_assert_int_eq(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	ck_assert_int_eq(ftruncate(rfd, (off_t)g.size * 2), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(ftruncate(rfd, (off_t)g.size / 2), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fallocate(rfd, 0, (off_t)g.size, 4096), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fcntl(rfd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(fstat(rfd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, g.size);
	ck_assert_int_ne(fcntl(rfd, F_GETFD) & FD_CLOEXEC, 0);
	close(rfd);
	close(fd);
	stop();
}
END_TEST

/* The daemon reads the live header with pread() and clamps what it finds. */
START_TEST(test_live_usage)
{
	struct bhc_arena_msg_grant g;
	struct bhc_arena_region_live live;
	unsigned char *p;
	char needle[256];
	int fd, rfd;

	start(off_config, NULL);
	fd = client("usage", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 8 * MiB, 0, 0, &g, &rfd, NULL), 0);
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(&live, 0, sizeof(live));
	live.base = (uintptr_t)p + HDR;
	live.top = (uintptr_t)p + g.size;
	live.cursor = live.top - MiB;
	live.high_water = 3 * MiB;
	live.n_allocs = 5;
	live.n_resets = 2;
	memcpy(p + BHC_ARENA_REGION_LIVE_OFFSET, &live, sizeof(live));
	ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
	snprintf(needle, sizeof(needle),
		 "region %" PRIu64 ": 8 MiB %s, used 1048576 high-water 3145728 allocs 5 resets 2",
		 g.region_id, g.backing == BHC_ARENA_BACKING_THP ? "thp" : "small");
	ck_assert_msg(bhc_test_daemon_log_wait(&d, needle, 1, 5000), "no '%s'", needle);

	/* Nonsense is clamped. */
	live.cursor = live.top + 4096;
	live.high_water = UINT64_MAX;
	memcpy(p + BHC_ARENA_REGION_LIVE_OFFSET, &live, sizeof(live));
	ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
	snprintf(needle, sizeof(needle), "region %" PRIu64 ": 8 MiB %s, used 0 high-water %llu",
		 g.region_id, g.backing == BHC_ARENA_BACKING_THP ? "thp" : "small",
		 (unsigned long long)(g.size - HDR));
	ck_assert_msg(bhc_test_daemon_log_wait(&d, needle, 1, 5000), "no '%s'", needle);

	/* A client may punch a hole in its own header: the daemon reads zeros, not a fault. */
	ck_assert_int_eq(fallocate(rfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, HDR), 0);
	ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
	snprintf(needle, sizeof(needle),
		 "region %" PRIu64 ": 8 MiB %s, used 0 high-water 0 allocs 0 resets 0 (header "
		 "damaged)",
		 g.region_id, g.backing == BHC_ARENA_BACKING_THP ? "thp" : "small");
	ck_assert_msg(bhc_test_daemon_log_wait(&d, needle, 1, 5000), "no '%s'", needle);
	munmap(p, g.size);
	close(rfd);
	close(fd);
	stop();
}
END_TEST

/* --- hugepage policies -------------------------------------------------------- */

static char policy_config[512];

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

/* Hold the hugepage pool lock (reserving @want pages as root if possible); pages available now. */
static long hold_hugepages(unsigned long want)
{
	char why[256];

	if (bhc_test_hugepages_reserve(2048, want, why, sizeof(why)) < 0 &&
	    bhc_test_hugepages_reserve(2048, 0, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	return hugepages_available();
}

/* Exactly @n 2 MiB pages available to a new region: the pool sized so (root), restored after. */
static void make_available(unsigned long n)
{
	char why[256];

	if (bhc_test_hugepages_set_available(2048, n, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	ck_assert_int_eq(hugepages_available(), (long)n);
}

static const char *policy(const char *hugepages)
{
	snprintf(policy_config, sizeof(policy_config),
		 "[pool]\nhugepages = %s\nwarm = none\nmax_region_size = 1G\n"
		 "[limits]\ntotal = 3G\n",
		 hugepages);
	return policy_config;
}

/* Three pages: one lease, then an exact fit of the two left, then a clear ENOMEM. */
START_TEST(test_require_short)
{
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	int fd, rfd;

	make_available(3);
	start(policy("require"), NULL);
	fd = client("require", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, BHC_ARENA_BACKING_HUGETLB);
	touch_all(rfd, &g);
	close(rfd);
	/* one page more than is left */
	ck_assert_int_eq(bhc_test_acquire(fd, 6 * MiB, 0, 0, NULL, NULL, &e), ENOMEM);
	ck_assert_msg(strstr(e.text, "raise vm.nr_hugepages"), "%s", e.text);
	ck_assert_msg(strstr(e.text, "(have 2 free)"), "%s", e.text);
	/* the failed attempt kept nothing: only the 2 MiB lease */
	ck_assert_uint_eq(hugetlb_held(d.pid), 2 * MiB);
	/* exactly what is left */
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, BHC_ARENA_BACKING_HUGETLB);
	touch_all(rfd, &g);
	close(rfd);
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, NULL, NULL, &e), ENOMEM);
	ck_assert_msg(strstr(e.text, "(have 0 free)"), "%s", e.text);
	ck_assert_uint_eq(hugetlb_held(d.pid), 6 * MiB);
	close(fd);
	stop();
}
END_TEST

/* Two pages: one lease; two more pages fall back to shmem; one more is hugetlb again. */
START_TEST(test_prefer_falls_back)
{
	struct bhc_arena_msg_grant g;
	int fd, rfd;

	make_available(2);
	start(policy("prefer"), NULL);
	fd = client("prefer", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, BHC_ARENA_BACKING_HUGETLB);
	touch_all(rfd, &g);
	close(rfd);
	ck_assert_uint_eq(bhc_test_admin_u64(&d, "counters.fallbacks"), 0);
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.size, 4 * MiB);
	ck_assert_uint_eq(g.backing, expected_shmem_backing());
	touch_all(rfd, &g);
	close(rfd);
	ck_assert_uint_eq(bhc_test_admin_u64(&d, "counters.fallbacks"), 1);
	/* the exact fit of the page left is hugetlb */
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, BHC_ARENA_BACKING_HUGETLB);
	touch_all(rfd, &g);
	close(rfd);
	/* NO_HUGE gets shmem even when hugepages would be there. */
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, BHC_ARENA_ACQ_NO_HUGE, 0, &g, &rfd, NULL),
			 0);
	ck_assert_uint_eq(g.backing, expected_shmem_backing());
	check_backing(rfd, &g);
	close(rfd);
	close(fd);
	stop();
}
END_TEST

/*
 * RELEASED means the pages are back: the moment it arrives, the hugepages
 * of the region are free in the system pool (the daemon punched them first).
 */
START_TEST(test_released_pages_back)
{
	struct bhc_arena_msg_grant g;
	long before;
	int fd, rfd, round;

	make_available(32);
	start(policy("require"), NULL);
	fd = client("released", NULL);
	for (round = 0; round < 3; round++) {
		ck_assert_int_eq(bhc_test_acquire(fd, 64 * MiB, 0, 0, &g, &rfd, NULL), 0);
		ck_assert_uint_eq(g.backing, BHC_ARENA_BACKING_HUGETLB);
		close(rfd);
		before = bhc_test_hugepages_free(2048);
		ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
		ck_assert_int_eq(bhc_test_hugepages_free(2048), before + 32);
	}
	close(fd);
	stop();
}
END_TEST

START_TEST(test_off_never_hugetlb)
{
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	int fd, rfd;

	hold_hugepages(4);
	start(policy("off"), NULL);
	fd = client("off", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, expected_shmem_backing());
	touch_all(rfd, &g);
	close(rfd);
	ck_assert_int_eq(
		bhc_test_acquire(fd, 4 * MiB, BHC_ARENA_ACQ_PREFER_HUGE, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, expected_shmem_backing());
	close(rfd);
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, BHC_ARENA_ACQ_REQUIRE_HUGE, 0, NULL, NULL,
					  &e),
			 EPERM);
	ck_assert_ptr_nonnull(strstr(e.text, "hugepages are disabled on this daemon"));
	ck_assert_uint_eq(hugetlb_held(d.pid), 0);
	close(fd);
	stop();
}
END_TEST

/* 1 GiB pages: without a free one, require names the 1 GiB pool and prefer falls back. */
START_TEST(test_gigantic_short)
{
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	char why[256];
	int fd, rfd;

	if (!bhc_test_hugepages_size_supported(1048576, why, sizeof(why)))
		bhc_test_skip("%s", why);
	/* Hold the lock of the 1 GiB pool so that no other test fills it meanwhile. */
	if (bhc_test_hugepages_reserve(1048576, 0, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	if (bhc_test_hugepages_set_available(1048576, 0, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	hold_hugepages(0);
	start(policy("require"), NULL);
	fd = client("gigantic", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 16 * MiB, 0, 30, NULL, NULL, &e), ENOMEM);
	ck_assert_msg(strstr(e.text, "1 GiB hugepages") && strstr(e.text, "hugepages-1048576kB"),
		      "%s", e.text);
	close(fd);
	stop();
	start(policy("prefer"), NULL);
	fd = client("gigantic", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, 16 * MiB, 0, 30, &g, &rfd, NULL), 0);
	/* the fallback is sized for its own pages, not 64 times larger (issue 12) */
	ck_assert_uint_eq(g.size, 16 * MiB);
	ck_assert_uint_eq(g.backing, expected_shmem_backing());
	touch_all(rfd, &g);
	close(rfd);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_gigantic)
{
	struct bhc_arena_msg_grant g;
	char why[256];
	int fd, rfd;

	if (bhc_test_hugepages_reserve(1048576, 1, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	start(policy("require"), NULL);
	fd = client("gigantic", NULL);
	ck_assert_int_eq(bhc_test_acquire(fd, GiB, 0, 30, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.backing, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_uint_eq(g.page_shift, 30);
	ck_assert_uint_eq(g.size, GiB);
	touch_all(rfd, &g);
	close(rfd);
	close(fd);
	stop();
}
END_TEST

static void add(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 90 * bhc_test_timeout_scale());
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("daemon-regions");

	signal(SIGPIPE, SIG_IGN);
	/* one TCase per test: a TAP line names the test that failed */
	add(s, "many_clients", test_many_clients);
	add(s, "kill_reclaims", test_kill_reclaims);
	add(s, "kill_returns_hugepages", test_kill_returns_hugepages);
	add(s, "fresh_regions_are_zero", test_fresh_regions_are_zero);
	add(s, "sealed", test_sealed);
	add(s, "live_usage", test_live_usage);
	add(s, "require_short", test_require_short);
	add(s, "prefer_falls_back", test_prefer_falls_back);
	add(s, "released_pages_back", test_released_pages_back);
	add(s, "off_never_hugetlb", test_off_never_hugetlb);
	add(s, "gigantic_short", test_gigantic_short);
	add(s, "gigantic", test_gigantic);
	return bhc_test_run(s);
}
