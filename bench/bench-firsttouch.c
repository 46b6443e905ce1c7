// SPDX-License-Identifier: MIT
/*
 * bench-firsttouch: the first full write of a 512 MiB region leased from
 * bhc-arenad, against the first write of fresh anonymous small-page memory
 * (every 4 KiB page faulted in and zeroed by the kernel on first touch) and
 * against memset of memory that is already resident (the limit: no fault,
 * only the stores).
 *
 * Each case is one memset of the arena's whole capacity (512 MiB minus the
 * 4 KiB header). The daemon's region is leased warm (untimed) and given
 * back after the write (untimed). It is written twice over, in two cases:
 * at once after the lease, as a program would, while the daemon makes the
 * replacement for its warm pool (zeroing as many bytes: the two share the
 * memory bandwidth); and once that replacement is made, which is the cost
 * of the region itself. The fresh mapping is made, written and
 * unmapped every round (mmap and madvise are inside the timed part, munmap
 * is not); the resident buffer is mapped and written once before the
 * measurement. The cases run interleaved, round by round; the figure is the
 * median round.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bhc/arena.h>

#include "bench-common.h"
#include "bench-daemon.h"

/* 512 MiB; 64 MiB in a quick run */
#define REGION_SIZE (region_size)
#define CAPACITY (region_size - BHC_ARENA_REGION_HEADER_SIZE)
#define PAGE_2M_KB 2048ul
#define TARGET_RATIO 1.25
#define WAIT_WARM_MS 120000

static size_t region_size = (size_t)512 << 20;

enum ft_case {
	FT_DAEMON, /* written at once after the lease */
	FT_DAEMON_IDLE, /* written once the daemon's refill is done */
	FT_FRESH,
	FT_RESIDENT,
	FT_N_CASES,
};

struct ft_state {
	struct bench_daemon *daemon;
	unsigned char *resident; /* the limit's buffer, written once already */
	size_t resident_size;
	char backing[FT_N_CASES][24];
	unsigned int round; /* varies the byte written */
	char why[200]; /* the first failure */
};

static int fill_byte(struct ft_state *s)
{
	return 0x11 + (int)(s->round++ % 0xe0);
}

/* Check the write landed (and keep the compiler from dropping it). */
static bool written(const unsigned char *p, size_t n, int c)
{
	bench_escape(p);
	return p[0] == c && p[n / 2] == c && p[n - 1] == c;
}

/* Lease a warm region, write it (once the pool is idle again if @idle); ns or -1. */
static double daemon_write(struct ft_state *s, enum ft_case k, bool idle)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_DAEMON };
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	unsigned char *p;
	uint64_t t0, t1;
	int c = fill_byte(s), r;

	/* A warm region, as a program would normally find one. */
	r = bench_daemon_wait_warm(s->daemon, REGION_SIZE, 1, WAIT_WARM_MS);
	if (r < 0) {
		snprintf(s->why, sizeof(s->why), "daemon: no warm region: %s", strerror(-r));
		return -1;
	}
	r = bhc_arena_new_opts(CAPACITY, &opts, &arena);
	if (r < 0) {
		snprintf(s->why, sizeof(s->why), "bhc_arena_new_opts (daemon): %s", strerror(-r));
		return -1;
	}
	bhc_arena_stats(arena, &st);
	snprintf(s->backing[k], sizeof(s->backing[k]), "%s", st.backing_name);
	p = bhc_arena_alloc(arena, CAPACITY, 4096);
	if (!p || st.source != BHC_ARENA_SOURCE_DAEMON) {
		snprintf(s->why, sizeof(s->why), "daemon: %s",
			 p ? "not a daemon region" : "cannot allocate the capacity");
		bhc_arena_free(arena);
		return -1;
	}
	/* Until the replacement is made, and no longer (untimed). */
	r = idle ? bench_daemon_wait_warm(s->daemon, REGION_SIZE, 1, WAIT_WARM_MS) : 0;
	if (r < 0) {
		snprintf(s->why, sizeof(s->why), "daemon: no refill: %s", strerror(-r));
		bhc_arena_free(arena);
		return -1;
	}
	bench_drain_stores();
	t0 = bench_now_ns();
	memset(p, c, CAPACITY);
	bench_drain_stores();
	t1 = bench_now_ns();
	r = written(p, CAPACITY, c);
	bhc_arena_free(arena);
	if (!r) {
		snprintf(s->why, sizeof(s->why), "daemon: the write did not land");
		return -1;
	}
	return (double)(t1 - t0);
}

static double run_daemon(void *ctx)
{
	return daemon_write(ctx, FT_DAEMON, false);
}

static double run_daemon_idle(void *ctx)
{
	return daemon_write(ctx, FT_DAEMON_IDLE, true);
}

static double run_fresh(void *ctx)
{
	struct ft_state *s = ctx;
	unsigned char *p;
	uint64_t t0, t1;
	int c = fill_byte(s);
	bool ok;

	bench_drain_stores();
	t0 = bench_now_ns();
	p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(s->why, sizeof(s->why), "fresh: mmap: %s", strerror(errno));
		return -1;
	}
	/* Small pages whatever the THP setting: the point is the page faults. */
	madvise(p, REGION_SIZE, MADV_NOHUGEPAGE);
	memset(p + BHC_ARENA_REGION_HEADER_SIZE, c, CAPACITY);
	bench_drain_stores();
	t1 = bench_now_ns();
	ok = written(p + BHC_ARENA_REGION_HEADER_SIZE, CAPACITY, c);
	munmap(p, REGION_SIZE);
	if (!ok) {
		snprintf(s->why, sizeof(s->why), "fresh: the write did not land");
		return -1;
	}
	return (double)(t1 - t0);
}

static double run_resident(void *ctx)
{
	struct ft_state *s = ctx;
	unsigned char *p = s->resident + BHC_ARENA_REGION_HEADER_SIZE;
	uint64_t t0, t1;
	int c = fill_byte(s);

	bench_drain_stores();
	t0 = bench_now_ns();
	memset(p, c, CAPACITY);
	bench_drain_stores();
	t1 = bench_now_ns();
	if (!written(p, CAPACITY, c)) {
		snprintf(s->why, sizeof(s->why), "resident: the write did not land");
		return -1;
	}
	return (double)(t1 - t0);
}

/*
 * The limit's buffer, of the daemon's kind of page when that can be had
 * (hugetlb, else a THP-advised mapping), written once so every page is
 * resident.
 */
static int resident_map(struct ft_state *s, bool huge)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
	void *p = MAP_FAILED;

	s->resident_size = REGION_SIZE;
	if (huge)
		p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, flags | MAP_HUGETLB, -1, 0);
	if (p != MAP_FAILED) {
		snprintf(s->backing[FT_RESIDENT], sizeof(s->backing[FT_RESIDENT]), "hugetlb-2M");
	} else {
		p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, flags & ~MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return -errno;
		madvise(p, REGION_SIZE, MADV_HUGEPAGE);
		snprintf(s->backing[FT_RESIDENT], sizeof(s->backing[FT_RESIDENT]),
			 "anon, thp-advised");
	}
	s->resident = p;
	memset(s->resident, 0x5a, REGION_SIZE);
	return 0;
}

struct ft_result {
	struct bench_stats st[FT_N_CASES];
};

static const char *const case_names[FT_N_CASES] = {
	[FT_DAEMON] = "daemon region, at once (pool refilling)",
	[FT_DAEMON_IDLE] = "daemon region, once the pool is refilled",
	[FT_FRESH] = "fresh mmap, small pages (first touch)",
	[FT_RESIDENT] = "resident memory (the limit)",
};

static int report(const struct ft_state *s, const struct ft_result *res, unsigned int n_rounds,
		  const struct bench_hugepages *hp, const struct bench_opts *opts)
{
	static const struct bench_column cols[] = {
		{ "memory", true },	   { "backing", true }, { "rounds", false },
		{ "median ms", false },	   { "min ms", false }, { "GB/s", false },
		{ "time / limit", false },
	};
	static const struct bench_column vcols[] = {
		{ "comparison", true },
		{ "measured", false },
		{ "target", false },
		{ "verdict", true },
	};
	double limit = res->st[FT_RESIDENT].p50, ratio;
	struct bench_table *t;
	char title[256];
	int k, r;

	snprintf(title, sizeof(title),
		 "first full write of a %zu MiB region (one memset of %zu bytes); hugetlb: %s",
		 region_size >> 20, (size_t)CAPACITY, hp->ok ? "reserved" : hp->why);
	r = bench_table_new(title, cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	for (k = 0; k < FT_N_CASES; k++) {
		const struct bench_stats *st = &res->st[k];

		bench_table_row(t);
		bench_table_cell(t, "%s", case_names[k]);
		bench_table_cell(t, "%s", s->backing[k]);
		bench_table_cell(t, "%u", n_rounds);
		bench_table_cell(t, "%.1f", st->p50 / 1e6);
		bench_table_cell(t, "%.1f", st->min / 1e6);
		bench_table_cell(t, "%.2f", (double)CAPACITY / st->p50);
		bench_table_cell(t, "%.2fx", st->p50 / limit);
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "firsttouch");
	bench_table_free(t);
	if (r < 0)
		return r;

	r = bench_table_new(opts->quick ? "targets (quick run: the verdicts mean nothing)" :
					  "targets",
			    vcols, ARRAY_SIZE(vcols), &t);
	if (r < 0)
		return r;
	ratio = res->st[FT_DAEMON].p50 / limit;
	bench_table_row(t);
	bench_table_cell(t, "daemon region at once / resident memset (time)");
	bench_table_cell(t, "%.2fx", ratio);
	bench_table_cell(t, "<= %.2fx", TARGET_RATIO);
	bench_table_cell(t, "%s", ratio <= TARGET_RATIO ? "met" : "NOT MET");
	ratio = res->st[FT_DAEMON_IDLE].p50 / limit;
	bench_table_row(t);
	bench_table_cell(t, "daemon region, pool refilled / resident memset (time)");
	bench_table_cell(t, "%.2fx", ratio);
	bench_table_cell(t, "<= %.2fx", TARGET_RATIO);
	bench_table_cell(t, "%s", ratio <= TARGET_RATIO ? "met" : "NOT MET");
	bench_table_row(t);
	bench_table_cell(t, "fresh small pages / daemon region at once (speed-up)");
	bench_table_cell(t, "%.1fx", res->st[FT_FRESH].p50 / res->st[FT_DAEMON].p50);
	bench_table_cell(t, "(information)");
	bench_table_cell(t, "-");
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "firsttouch-verdicts");
	bench_table_free(t);
	return r;
}

int main(int argc, char **argv)
{
	char warm_set[64], total_set[64];
	const char *sets[] = { warm_set, total_set, NULL, NULL };
	struct ft_state s = { 0 };
	struct bench_case cases[FT_N_CASES] = {
		[FT_DAEMON] = { .name = "daemon", .run = run_daemon, .ctx = &s },
		[FT_DAEMON_IDLE] = { .name = "daemon (pool idle)",
				     .run = run_daemon_idle,
				     .ctx = &s },
		[FT_FRESH] = { .name = "fresh", .run = run_fresh, .ctx = &s },
		[FT_RESIDENT] = { .name = "resident", .run = run_resident, .ctx = &s },
	};
	struct ft_result res = { 0 };
	struct bench_hugepages hp;
	struct bench_machine m;
	struct bench_opts opts;
	struct bench_daemon d;
	unsigned int n_rounds;
	char thp[32];
	int k, r;

	/* every region fresh from the daemon: reuse is what bench-reuse measures */
	setenv("BHC_ARENA_RETAIN", "0", 1);

	r = bench_parse_opts(argc, argv,
			     "First full write of a 512 MiB region: bhc-arenad against fresh and "
			     "resident memory.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	n_rounds = opts.quick ? 2 : 11;
	if (opts.quick)
		region_size = (size_t)64 << 20;
	snprintf(warm_set, sizeof(warm_set), "pool.warm=%zuM:1", region_size >> 20);
	snprintf(total_set, sizeof(total_set), "limits.total=%zuM", 4 * (region_size >> 20));

	printf("== bench-firsttouch: first full write of a region%s ==\n",
	       opts.quick ? " (quick)" : "");
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	r = bench_cleanup_init();
	if (r < 0)
		goto out_fail;
	/* Daemon: one warm, one leased, one being dropped; plus the resident buffer. */
	bench_hugepages_reserve(PAGE_2M_KB, 4 * (REGION_SIZE >> 21), &hp);
	printf("hugetlb 2 MiB: %s (%ld free)\n", hp.ok ? "reserved" : hp.why, hp.n_free);
	printf("thp: %s\n", bench_thp_mode("enabled", thp, sizeof(thp)));
	sets[2] = hp.ok ? "pool.hugepages=require" : "pool.hugepages=prefer";
	printf("daemon: --set %s --set %s --set %s\n", sets[0], sets[1], sets[2]);
	fflush(stdout);
	r = resident_map(&s, hp.ok);
	if (r < 0)
		goto out_fail;
	r = bench_daemon_start(&d, sets, WAIT_WARM_MS);
	if (r < 0)
		goto out_unmap;
	s.daemon = &d;
	r = bench_interleave(cases, FT_N_CASES, 1, n_rounds);
	if (r < 0)
		goto out_stop;
	snprintf(s.backing[FT_FRESH], sizeof(s.backing[FT_FRESH]), "small");
	for (k = 0; k < FT_N_CASES; k++) {
		if (cases[k].err) {
			fprintf(stderr, "bench-firsttouch: %s: %s\n", cases[k].name, s.why);
			r = cases[k].err;
			goto out_free;
		}
		r = bench_stats_compute(cases[k].samples, n_rounds, &res.st[k]);
		if (r < 0)
			goto out_free;
	}
	bench_daemon_stop(&d);
	r = report(&s, &res, n_rounds, &hp, &opts);
	for (k = 0; k < FT_N_CASES; k++)
		free(cases[k].samples);
	munmap(s.resident, s.resident_size);
	if (r < 0)
		goto out_fail;
	return EXIT_SUCCESS;

out_free:
	for (k = 0; k < FT_N_CASES; k++)
		free(cases[k].samples);
out_stop:
	bench_daemon_stop(&d);
out_unmap:
	munmap(s.resident, s.resident_size);
out_fail:
	fprintf(stderr, "bench-firsttouch: %s\n", strerror(-r));
	return EXIT_FAILURE;
}
