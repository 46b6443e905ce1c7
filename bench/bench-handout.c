// SPDX-License-Identifier: MIT
/*
 * bench-handout: how many 2 MiB regions per second bhc-arenad can hand out
 * when a client takes them as fast as it can, once the warm pool has run
 * dry (the daemon's sustained replenishment rate), against the rate at
 * which the kernel itself makes hugetlb memfds of that size:
 * memfd_create(MFD_HUGETLB) + ftruncate + fallocate + close in a loop.
 *
 * A daemon round first drains the warm pool (those hand-outs are not
 * counted), then counts acquire + release cycles (bhc_arena_new() and
 * bhc_arena_free() of a 2 MiB region) over a fixed time. A kernel round
 * runs the loop for as long. Rounds alternate; the figure is the median.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/memfd.h>

#include <bhc/arena.h>

#include "bench-common.h"
#include "bench-daemon.h"

#define REGION_SIZE ((size_t)2 << 20)
#define PAGE_2M_KB 2048ul
#define TARGET_FRACTION 0.80
#define WAIT_WARM_MS 60000
#define WARM_TARGET 4u
/* Hand-outs skipped at the start of a daemon round: the warm pool and then some. */
#define DRAIN (2 * WARM_TARGET)

enum ho_case {
	HO_DAEMON,
	HO_KERNEL,
	HO_N_CASES,
};

struct ho_state {
	struct bench_daemon *daemon;
	uint64_t round_ns; /* length of one measured round */
	bool huge; /* hugetlb can be had (else both sides use shmem, labelled) */
	char backing[HO_N_CASES][24];
	uint64_t n_counted[HO_N_CASES]; /* regions counted over all rounds */
	char why[200];
};

/* One acquire + release of a 2 MiB region from the daemon; 0 or -1. */
static int daemon_cycle(struct ho_state *s)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_DAEMON };
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	int r;

	r = bhc_arena_new_opts(REGION_SIZE - BHC_ARENA_REGION_HEADER_SIZE, &opts, &arena);
	if (r < 0) {
		snprintf(s->why, sizeof(s->why), "bhc_arena_new_opts (daemon): %s", strerror(-r));
		return -1;
	}
	if (!s->backing[HO_DAEMON][0]) {
		bhc_arena_stats(arena, &st);
		snprintf(s->backing[HO_DAEMON], sizeof(s->backing[HO_DAEMON]), "%s",
			 st.backing_name);
		if (st.source != BHC_ARENA_SOURCE_DAEMON || st.region_size != REGION_SIZE) {
			snprintf(s->why, sizeof(s->why), "got a %zu-byte %s region", st.region_size,
				 st.source_name);
			bhc_arena_free(arena);
			return -1;
		}
	}
	bhc_arena_free(arena);
	return 0;
}

static double run_daemon(void *ctx)
{
	struct ho_state *s = ctx;
	uint64_t t0, t1, n = 0;
	unsigned int i;
	int r;

	/* Start every round alike: pool full and idle, then drained. */
	r = bench_daemon_wait_warm(s->daemon, REGION_SIZE, WARM_TARGET, WAIT_WARM_MS);
	if (r < 0) {
		snprintf(s->why, sizeof(s->why), "daemon: warm pool not refilled: %s",
			 strerror(-r));
		return -1;
	}
	for (i = 0; i < DRAIN; i++) {
		if (daemon_cycle(s) < 0)
			return -1;
	}
	t0 = bench_now_ns();
	do {
		if (daemon_cycle(s) < 0)
			return -1;
		n++;
		t1 = bench_now_ns();
	} while (t1 - t0 < s->round_ns);
	s->n_counted[HO_DAEMON] += n;
	return (double)n * 1e9 / (double)(t1 - t0);
}

/* What the daemon does to make a region, without the daemon: one memfd, filled. */
static int kernel_cycle(struct ho_state *s)
{
	unsigned int flags = MFD_CLOEXEC | (s->huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
	int fd, r;

	fd = memfd_create("bench-handout", flags);
	if (fd < 0) {
		snprintf(s->why, sizeof(s->why), "memfd_create: %s", strerror(errno));
		return -1;
	}
	if (ftruncate(fd, (off_t)REGION_SIZE) < 0) {
		snprintf(s->why, sizeof(s->why), "ftruncate: %s", strerror(errno));
		goto out_close;
	}
	r = fallocate(fd, 0, 0, (off_t)REGION_SIZE);
	if (r < 0) {
		snprintf(s->why, sizeof(s->why), "fallocate: %s", strerror(errno));
		goto out_close;
	}
	close(fd);
	return 0;

out_close:
	close(fd);
	return -1;
}

static double run_kernel(void *ctx)
{
	struct ho_state *s = ctx;
	uint64_t t0, t1, n = 0;

	t0 = bench_now_ns();
	do {
		if (kernel_cycle(s) < 0)
			return -1;
		n++;
		t1 = bench_now_ns();
	} while (t1 - t0 < s->round_ns);
	s->n_counted[HO_KERNEL] += n;
	return (double)n * 1e9 / (double)(t1 - t0);
}

static int report(const struct ho_state *s, const struct bench_stats *st, unsigned int n_rounds,
		  const struct bench_hugepages *hp, const struct bench_opts *opts)
{
	static const struct bench_column cols[] = {
		{ "source", true },   { "backing", true },	  { "rounds", false },
		{ "regions", false }, { "median /s", false },	  { "min /s", false },
		{ "max /s", false },  { "µs per region", false }, { "of kernel", false },
	};
	static const struct bench_column vcols[] = {
		{ "comparison", true },
		{ "measured", false },
		{ "target", false },
		{ "verdict", true },
	};
	static const char *const names[HO_N_CASES] = {
		[HO_DAEMON] = "daemon: bhc_arena_new + bhc_arena_free",
		[HO_KERNEL] = "kernel: memfd_create + ftruncate + fallocate + close",
	};
	double kernel = st[HO_KERNEL].p50, fraction = st[HO_DAEMON].p50 / kernel;
	struct bench_table *t;
	char title[256];
	int k, r;

	snprintf(title, sizeof(title),
		 "sustained hand-out of 2 MiB regions (warm pool drained first); hugetlb: %s",
		 hp->ok ? "reserved" : hp->why);
	r = bench_table_new(title, cols, sizeof(cols) / sizeof(cols[0]), &t);
	if (r < 0)
		return r;
	for (k = 0; k < HO_N_CASES; k++) {
		bench_table_row(t);
		bench_table_cell(t, "%s", names[k]);
		bench_table_cell(t, "%s", s->backing[k]);
		bench_table_cell(t, "%u", n_rounds);
		bench_table_cell(t, "%llu", (unsigned long long)s->n_counted[k]);
		bench_table_cell(t, "%.0f", st[k].p50);
		bench_table_cell(t, "%.0f", st[k].min);
		bench_table_cell(t, "%.0f", st[k].max);
		bench_table_cell(t, "%.1f", 1e6 / st[k].p50);
		bench_table_cell(t, "%.0f%%", 100.0 * st[k].p50 / kernel);
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "handout");
	bench_table_free(t);
	if (r < 0)
		return r;

	r = bench_table_new(opts->quick ? "targets (quick run: the verdicts mean nothing)" :
					  "targets",
			    vcols, sizeof(vcols) / sizeof(vcols[0]), &t);
	if (r < 0)
		return r;
	bench_table_row(t);
	bench_table_cell(t, "daemon hand-out rate / kernel fallocate rate");
	bench_table_cell(t, "%.0f%%", 100.0 * fraction);
	bench_table_cell(t, ">= %.0f%%", 100.0 * TARGET_FRACTION);
	bench_table_cell(t, "%s", fraction >= TARGET_FRACTION ? "met" : "NOT MET");
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "handout-verdicts");
	bench_table_free(t);
	return r;
}

int main(int argc, char **argv)
{
	const char *sets[] = { "pool.warm=2M:4", "limits.total=128M", NULL, NULL };
	struct ho_state s = { 0 };
	struct bench_case cases[HO_N_CASES] = {
		[HO_DAEMON] = { .name = "daemon", .run = run_daemon, .ctx = &s },
		[HO_KERNEL] = { .name = "kernel", .run = run_kernel, .ctx = &s },
	};
	struct bench_stats st[HO_N_CASES];
	struct bench_hugepages hp;
	struct bench_machine m;
	struct bench_opts opts;
	struct bench_daemon d;
	unsigned int n_rounds;
	int k, r;

	r = bench_parse_opts(argc, argv,
			     "Sustained hand-out of 2 MiB regions: bhc-arenad against the kernel's "
			     "hugetlb memfd fallocate rate.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	n_rounds = opts.quick ? 2 : 9;
	s.round_ns = opts.quick ? 50000000u : 1000000000u;

	printf("== bench-handout: sustained hand-out of 2 MiB regions%s ==\n",
	       opts.quick ? " (quick)" : "");
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	r = bench_cleanup_init();
	if (r < 0)
		goto out_fail;
	/* Warm and being made (<= the target each), leased, being dropped; the kernel's one. */
	bench_hugepages_reserve(PAGE_2M_KB, 4 * WARM_TARGET + 8, &hp);
	printf("hugetlb 2 MiB: %s (%ld free)\n", hp.ok ? "reserved" : hp.why, hp.n_free);
	s.huge = hp.ok;
	sets[2] = hp.ok ? "pool.hugepages=require" : "pool.hugepages=off";
	printf("daemon: --set %s --set %s --set %s\n", sets[0], sets[1], sets[2]);
	fflush(stdout);
	snprintf(s.backing[HO_KERNEL], sizeof(s.backing[HO_KERNEL]), "%s",
		 hp.ok ? "hugetlb-2M" : "shmem (no hugetlb)");
	r = bench_daemon_start(&d, sets, WAIT_WARM_MS);
	if (r < 0)
		goto out_fail;
	s.daemon = &d;
	/* One untimed round of each, outside bench_interleave() so the counts start at 0. */
	if (run_daemon(&s) < 0 || run_kernel(&s) < 0) {
		fprintf(stderr, "bench-handout: %s\n", s.why);
		r = -EIO;
		goto out_stop;
	}
	memset(s.n_counted, 0, sizeof(s.n_counted));
	r = bench_interleave(cases, HO_N_CASES, 0, n_rounds);
	if (r < 0)
		goto out_stop;
	for (k = 0; k < HO_N_CASES; k++) {
		if (cases[k].err) {
			fprintf(stderr, "bench-handout: %s: %s\n", cases[k].name, s.why);
			r = cases[k].err;
			goto out_free;
		}
		r = bench_stats_compute(cases[k].samples, n_rounds, &st[k]);
		if (r < 0)
			goto out_free;
	}
	bench_daemon_stop(&d);
	r = report(&s, st, n_rounds, &hp, &opts);
	for (k = 0; k < HO_N_CASES; k++)
		free(cases[k].samples);
	if (r < 0)
		goto out_fail;
	return EXIT_SUCCESS;

out_free:
	for (k = 0; k < HO_N_CASES; k++)
		free(cases[k].samples);
out_stop:
	bench_daemon_stop(&d);
out_fail:
	fprintf(stderr, "bench-handout: %s\n", strerror(-r));
	return EXIT_FAILURE;
}
