// SPDX-License-Identifier: MIT
/* Kernels on four kinds of memory, measured side by side: see bench-kernels-mem.h. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-kernels-mem.h"

#define HUGE_SHIFT 21
#define HUGE_SIZE (UINT64_C(1) << HUGE_SHIFT)
#define HUGE_KB (HUGE_SIZE >> 10)
#define ALLOC_ALIGN 64
#define DAEMON_READY_MS 180000
#define SETTLE_MS 60000
#define SETTLE_IDLE_MS 50
/* Spare hugepages on top of the computed need: a probe region, rounding. */
#define HUGE_SPARE 8
/*
 * And room for one more of the largest working sets: other processes on the
 * machine (a test's daemon, say) may take free hugepages meanwhile.
 */
#define HUGE_SPARE_LARGEST 1

static const char *const kind_names[MEM_N_KINDS] = {
	[MEM_DAEMON] = "daemon",
	[MEM_HUGETLB] = "local hugetlb",
	[MEM_SMALL] = "local small",
	[MEM_MALLOC] = "glibc malloc",
};

uint64_t mem_region_size(size_t ws_bytes)
{
	return ((uint64_t)ws_bytes + BHC_ARENA_REGION_HEADER_SIZE + HUGE_SIZE - 1) &
	       ~(HUGE_SIZE - 1);
}

/* The arena capacity that fills a region of mem_region_size(@ws_bytes) exactly. */
static size_t arena_capacity(size_t ws_bytes)
{
	return (size_t)mem_region_size(ws_bytes) - BHC_ARENA_REGION_HEADER_SIZE;
}

static void arena_opts_for(const struct mem_setup *ms, enum mem_kind kind,
			   struct bhc_arena_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	switch (kind) {
	case MEM_DAEMON:
		opts->mode = BHC_ARENA_MODE_DAEMON;
		/* Insist on hugetlb when the daemon has it: no silent fallback. */
		if (ms->hp.ok) {
			opts->backing = BHC_ARENA_BACKING_HUGETLB;
			opts->page_shift = HUGE_SHIFT;
		}
		break;
	case MEM_HUGETLB:
		opts->mode = BHC_ARENA_MODE_LOCAL;
		opts->backing = BHC_ARENA_BACKING_HUGETLB;
		opts->page_shift = HUGE_SHIFT;
		break;
	case MEM_SMALL:
		opts->mode = BHC_ARENA_MODE_LOCAL;
		opts->backing = BHC_ARENA_BACKING_SMALL;
		break;
	default:
		break;
	}
}

/* --- set-up -------------------------------------------------------------------------- */

static void add_class(struct mem_setup *ms, uint64_t size)
{
	size_t i;

	for (i = 0; i < ms->n_classes; i++)
		if (ms->classes[i] == size)
			return;
	if (ms->n_classes < MEM_MAX_CLASSES)
		ms->classes[ms->n_classes++] = size;
}

static int start_daemon(struct mem_setup *ms)
{
	char warm[256] = "", policy[64], maxsize[64], total[64];
	const char *sets[] = { warm, policy, "pool.page_size=2M", maxsize, total, NULL };
	uint64_t sum = 0, max = 0;
	size_t i, len = 0;
	int r;

	for (i = 0; i < ms->n_classes; i++) {
		sum += ms->classes[i];
		if (ms->classes[i] > max)
			max = ms->classes[i];
		len += (size_t)snprintf(warm + len, sizeof(warm) - len, "%s%" PRIu64 "M:1",
					i ? "," : "pool.warm=", ms->classes[i] >> 20);
		if (len >= sizeof(warm))
			return -ENAMETOOLONG;
	}
	snprintf(policy, sizeof(policy), "pool.hugepages=%s", ms->hp.ok ? "require" : "prefer");
	snprintf(maxsize, sizeof(maxsize), "pool.max_region_size=%" PRIu64 "M", max >> 20);
	/* Each class: one leased, one warm (its replacement); and a spare. */
	snprintf(total, sizeof(total), "limits.total=%" PRIu64 "M",
		 (2 * sum + HUGE_SPARE * HUGE_SIZE) >> 20);
	printf("daemon:      bhc-arenad --set %s --set %s --set %s --set %s --set %s\n", warm,
	       policy, sets[2], maxsize, total);
	fflush(stdout);
	r = bench_daemon_start(&ms->daemon, sets, DAEMON_READY_MS);
	if (r < 0)
		return r;
	ms->daemon_running = true;
	return 0;
}

/* Try @kind once with a small arena: available or not, and what it is. */
static void probe(struct mem_setup *ms, enum mem_kind kind, size_t ws_bytes)
{
	struct mem_variant *v = &ms->variants[kind];
	struct bhc_arena_opts opts;
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	int r;

	arena_opts_for(ms, kind, &opts);
	r = bhc_arena_new_opts(arena_capacity(ws_bytes), &opts, &arena);
	if (r < 0) {
		v->available = false;
		snprintf(v->why, sizeof(v->why), "bhc_arena_new_opts(%s) failed: %s%s%s",
			 kind_names[kind], strerror(-r), ms->hp.ok ? "" : "; hugepages ",
			 ms->hp.ok ? "" : ms->hp.why);
		return;
	}
	if (bhc_arena_stats(arena, &st) == 0) {
		snprintf(v->label, sizeof(v->label), "%s %s", st.source_name, st.backing_name);
		v->backing = st.backing;
	}
	bhc_arena_free(arena);
	v->available = true;
}

int mem_setup_init(struct mem_setup *ms, const struct bench_opts *opts, const size_t *ws_bytes,
		   size_t n_ws)
{
	unsigned long n_huge;
	uint64_t sum = 0, max = 0;
	char thp[32];
	size_t i, smallest = SIZE_MAX;
	int r;
	enum mem_kind k;

	memset(ms, 0, sizeof(*ms));
	ms->opts = opts;
	for (k = 0; k < MEM_N_KINDS; k++) {
		ms->variants[k].kind = k;
		snprintf(ms->variants[k].label, sizeof(ms->variants[k].label), "%s", kind_names[k]);
	}
	for (i = 0; i < n_ws; i++) {
		add_class(ms, mem_region_size(ws_bytes[i]));
		if (ws_bytes[i] < smallest)
			smallest = ws_bytes[i];
	}
	for (i = 0; i < ms->n_classes; i++) {
		sum += ms->classes[i];
		if (ms->classes[i] > max)
			max = ms->classes[i];
	}
	r = bench_cleanup_init();
	if (r < 0)
		return r;

	/* The daemon: a leased and a warm region per class; local: one at a time. */
	n_huge = (unsigned long)((2 * sum + (1 + HUGE_SPARE_LARGEST) * max) / HUGE_SIZE) +
		 HUGE_SPARE;
	bench_hugepages_reserve(HUGE_KB, n_huge, &ms->hp);
	printf("hugepages:   %lu of 2 MiB wanted: %s%s\n", n_huge, ms->hp.ok ? "free" : ms->hp.why,
	       ms->hp.raised ? " (nr_hugepages raised for this run, restored at exit)" : "");
	printf("THP:         %s (glibc malloc gets 4 KiB pages unless this is \"always\")\n",
	       bench_thp_mode("enabled", thp, sizeof(thp)));

	r = start_daemon(ms);
	if (r < 0) {
		ms->variants[MEM_DAEMON].available = false;
		snprintf(ms->variants[MEM_DAEMON].why, sizeof(ms->variants[MEM_DAEMON].why),
			 "bhc-arenad did not start: %s", strerror(-r));
	} else {
		probe(ms, MEM_DAEMON, smallest);
	}
	probe(ms, MEM_HUGETLB, smallest);
	probe(ms, MEM_SMALL, smallest);
	ms->variants[MEM_MALLOC].available = true;
	if (ms->variants[MEM_DAEMON].available)
		mem_settle(ms, smallest);

	for (k = 0; k < MEM_N_KINDS; k++) {
		const struct mem_variant *v = &ms->variants[k];

		printf("memory %-13s %s\n", kind_names[k],
		       v->available ? v->label : "UNAVAILABLE: ");
		if (!v->available)
			printf("               %s\n", v->why);
	}
	fflush(stdout);
	return 0;
}

void mem_setup_fini(struct mem_setup *ms)
{
	if (ms->daemon_running)
		bench_daemon_stop(&ms->daemon);
	ms->daemon_running = false;
	/* nr_hugepages goes back at exit (bench_cleanup_init()). */
}

/* CPU time bhc-arenad has used, all its threads (io_uring workers included), in ticks. */
static int daemon_cpu_ticks(pid_t pid, unsigned long long *ticksp)
{
	unsigned long long user, sys;
	char path[64], buf[1024], *p;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* after "pid (comm)": state and ten fields, then utime and stime */
	p = p ? strrchr(buf, ')') : NULL;
	if (!p)
		return -EIO;
	n = sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user, &sys);
	if (n != 2)
		return -EIO;
	*ticksp = user + sys;
	return 0;
}

/*
 * Without the daemon's status, wait until it has used no CPU for a while:
 * making a region (zeroing its pages) and dropping one both take CPU time.
 */
static int settle_idle(struct mem_setup *ms, unsigned int timeout_ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
	unsigned long long before, after;
	int r;

	for (;;) {
		r = daemon_cpu_ticks(ms->daemon.pid, &before);
		if (r < 0)
			return r;
		bench_sleep_ms(SETTLE_IDLE_MS);
		r = daemon_cpu_ticks(ms->daemon.pid, &after);
		if (r < 0)
			return r;
		if (after == before)
			return 0;
		if (bench_now_ns() > deadline)
			return -ETIMEDOUT;
	}
}

void mem_settle(struct mem_setup *ms, size_t ws_bytes)
{
	int r;

	if (!ms->daemon_running)
		return;
	if (!ms->settle_by_idle) {
		r = bench_daemon_wait_warm(&ms->daemon, mem_region_size(ws_bytes), 1, SETTLE_MS);
		if (r == 0 || r == -ETIMEDOUT)
			return;
		printf("settle:      the daemon's warm pool cannot be read (%s): waiting instead "
		       "until it has used no CPU for %d ms before each timed run\n",
		       strerror(-r), SETTLE_IDLE_MS);
		fflush(stdout);
		ms->settle_by_idle = true;
	}
	r = settle_idle(ms, SETTLE_MS);
	if (r < 0 && !ms->settle_failed) {
		fprintf(stderr, "bench: cannot tell whether bhc-arenad is idle (%s)\n",
			strerror(-r));
		ms->settle_failed = true;
	}
}

/* --- working sets ------------------------------------------------------------------- */

int mem_ws_open(struct mem_setup *ms, enum mem_kind kind, size_t bytes, struct mem_ws *ws)
{
	struct mem_variant *v = &ms->variants[kind];
	struct bhc_arena_opts opts;
	struct bhc_arena_stats st;
	int r;

	memset(ws, 0, sizeof(*ws));
	ws->setup = ms;
	ws->kind = kind;
	if (kind == MEM_MALLOC)
		return 0;
	arena_opts_for(ms, kind, &opts);
	r = bhc_arena_new_opts(arena_capacity(bytes), &opts, &ws->arena);
	if (r < 0)
		return r;
	/* A daemon that may fall back must not pass small pages off as huge ones. */
	if (bhc_arena_stats(ws->arena, &st) == 0 && st.backing != v->backing && !v->mixed) {
		printf("WARNING:     a %s arena came with %s pages: figures labelled \"%s\" "
		       "mix backings\n",
		       kind_names[kind], st.backing_name, v->label);
		fflush(stdout);
		v->mixed = true;
	}
	return 0;
}

void *mem_ws_alloc(struct mem_ws *ws, size_t bytes)
{
	void *p;

	if (ws->arena)
		return bhc_arena_alloc(ws->arena, bytes, ALLOC_ALIGN);
	if (ws->n_blocks == ARRAY_SIZE(ws->blocks)) {
		errno = ENOMEM;
		return NULL;
	}
	p = aligned_alloc(ALLOC_ALIGN, (bytes + ALLOC_ALIGN - 1) & ~(size_t)(ALLOC_ALIGN - 1));
	if (p)
		ws->blocks[ws->n_blocks++] = p;
	return p;
}

void mem_ws_close(struct mem_ws *ws)
{
	size_t i;

	bhc_arena_free(ws->arena);
	ws->arena = NULL;
	for (i = 0; i < ws->n_blocks; i++)
		free(ws->blocks[i]);
	ws->n_blocks = 0;
}

/* --- the driver -------------------------------------------------------------------------- */

enum timing {
	TIMING_FIRST_TOUCH,
	TIMING_STEADY,
	N_TIMINGS,
};

/* One kernel's figures in one timing, every kind of memory. */
struct report_entry {
	char kernel[32];
	char what[160];
	char unit[16];
	enum timing timing;
	bool higher_better;
	unsigned int n; /* samples per kind */
	bool have[MEM_N_KINDS];
	double *samples[MEM_N_KINDS]; /* owned */
};

struct kernel_report {
	struct report_entry *entries;
	size_t n_entries;
};

int kernel_report_new(struct kernel_report **reportp)
{
	*reportp = calloc(1, sizeof(**reportp));
	return *reportp ? 0 : -ENOMEM;
}

void kernel_report_free(struct kernel_report *report)
{
	size_t i;
	int k;

	if (!report)
		return;
	for (i = 0; i < report->n_entries; i++)
		for (k = 0; k < MEM_N_KINDS; k++)
			free(report->entries[i].samples[k]);
	free(report->entries);
	free(report);
}

/* What a case of bench_interleave() runs. */
struct run_ctx {
	struct mem_setup *ms;
	const struct kernel *k;
	enum mem_kind kind;
	void *state;
	struct mem_ws ws; /* steady: open for all rounds */
};

static double seconds_since(uint64_t t0)
{
	return (double)(bench_now_ns() - t0) * 1e-9;
}

/* First touch: acquire, prepare, run, give back. Milliseconds. */
static double run_first_touch(void *data)
{
	struct run_ctx *c = data;
	struct mem_ws ws;
	uint64_t t0;
	int r;

	mem_settle(c->ms, c->k->ws_bytes);
	bench_drain_stores();
	t0 = bench_now_ns();
	r = mem_ws_open(c->ms, c->kind, c->k->ws_bytes, &ws);
	if (r < 0)
		goto out_fail;
	r = c->k->prepare(c->state, &ws);
	if (r == 0)
		r = c->k->run(c->state);
	mem_ws_close(&ws);
	if (r < 0)
		goto out_fail;
	return seconds_since(t0) * 1e3;

out_fail:
	fprintf(stderr, "bench: %s, first touch on %s: %s\n", c->k->name,
		c->ms->variants[c->kind].label, strerror(-r));
	return -1;
}

/* Steady: one more run over the touched working set. The kernel's unit per second. */
static double run_steady(void *data)
{
	struct run_ctx *c = data;
	uint64_t t0;
	double s;
	int r;

	bench_drain_stores();
	t0 = bench_now_ns();
	r = c->k->run(c->state);
	s = seconds_since(t0);
	if (r < 0) {
		fprintf(stderr, "bench: %s on %s: %s\n", c->k->name, c->ms->variants[c->kind].label,
			strerror(-r));
		return -1;
	}
	return c->k->work / s;
}

/* Prepare, run and verify @k on @kind once. 0, -EDOM (wrong result) or -errno. */
static int check_one(struct run_ctx *c)
{
	char why[256] = "";
	struct mem_ws ws;
	int r;

	r = mem_ws_open(c->ms, c->kind, c->k->ws_bytes, &ws);
	if (r < 0) {
		snprintf(why, sizeof(why), "no working set: %s", strerror(-r));
		goto out_print;
	}
	r = c->k->prepare(c->state, &ws);
	if (r == 0)
		r = c->k->run(c->state);
	if (r == 0)
		r = c->k->verify(c->state, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-r));
	mem_ws_close(&ws);
out_print:
	/* A wrong result fails the run; memory that cannot be had only leaves a gap. */
	printf("check %-8s on %-20s %s: %s\n", c->k->name, c->ms->variants[c->kind].label,
	       r == 0	  ? "ok" :
	       r == -EDOM ? "WRONG" :
			    "not measured",
	       why);
	fflush(stdout);
	return r;
}

static int report_add(struct kernel_report *report, const struct kernel *k, enum timing timing,
		      struct bench_case *cases, unsigned int n)
{
	struct report_entry *e, *entries;
	int kind;

	entries = realloc(report->entries, (report->n_entries + 1) * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	report->entries = entries;
	e = &entries[report->n_entries++];
	memset(e, 0, sizeof(*e));
	snprintf(e->kernel, sizeof(e->kernel), "%s", k->name);
	snprintf(e->what, sizeof(e->what), "%s", k->what);
	snprintf(e->unit, sizeof(e->unit), "%s", timing == TIMING_STEADY ? k->unit : "ms");
	e->timing = timing;
	e->higher_better = timing == TIMING_STEADY;
	e->n = n;
	for (kind = 0; kind < MEM_N_KINDS; kind++) {
		if (!cases[kind].run || cases[kind].err)
			continue;
		e->samples[kind] = cases[kind].samples;
		cases[kind].samples = NULL;
		e->have[kind] = true;
	}
	return 0;
}

static void free_cases(struct bench_case *cases)
{
	int kind;

	for (kind = 0; kind < MEM_N_KINDS; kind++) {
		free(cases[kind].samples);
		cases[kind].samples = NULL;
	}
}

int kernel_measure(struct mem_setup *ms, const struct kernel *k, const struct kernel_rounds *rounds,
		   struct kernel_report *report)
{
	struct run_ctx ctx[MEM_N_KINDS];
	struct bench_case cases[MEM_N_KINDS];
	bool ok[MEM_N_KINDS];
	int r = 0, kind, failed = 0;

	printf("\n-- %s: %s\n", k->name, k->what);
	fflush(stdout);
	memset(ctx, 0, sizeof(ctx));
	memset(cases, 0, sizeof(cases));
	for (kind = 0; kind < MEM_N_KINDS; kind++) {
		ctx[kind] = (struct run_ctx){ .ms = ms, .k = k, .kind = kind };
		ok[kind] = false;
		if (!ms->variants[kind].available)
			continue;
		ctx[kind].state = calloc(1, k->state_size);
		if (!ctx[kind].state) {
			r = -ENOMEM;
			goto out_free_state;
		}
		mem_settle(ms, k->ws_bytes);
		r = check_one(&ctx[kind]);
		if (r == -EDOM)
			failed = r;
		ok[kind] = r == 0;
	}
	r = 0;

	for (kind = 0; kind < MEM_N_KINDS; kind++)
		cases[kind] = (struct bench_case){ .name = ms->variants[kind].label,
						   .run = ok[kind] ? run_first_touch : NULL,
						   .ctx = &ctx[kind] };
	r = bench_interleave(cases, MEM_N_KINDS, 0, rounds->n_first_touch);
	if (r < 0)
		goto out_free_state;
	r = report_add(report, k, TIMING_FIRST_TOUCH, cases, rounds->n_first_touch);
	free_cases(cases);
	if (r < 0)
		goto out_free_state;

	for (kind = 0; kind < MEM_N_KINDS; kind++) {
		cases[kind] =
			(struct bench_case){ .name = ms->variants[kind].label, .ctx = &ctx[kind] };
		if (!ok[kind])
			continue;
		r = mem_ws_open(ms, kind, k->ws_bytes, &ctx[kind].ws);
		if (r == 0)
			r = k->prepare(ctx[kind].state, &ctx[kind].ws);
		if (r < 0) {
			fprintf(stderr, "bench: %s on %s: %s\n", k->name, ms->variants[kind].label,
				strerror(-r));
			continue;
		}
		cases[kind].run = run_steady;
	}
	mem_settle(ms, k->ws_bytes);
	r = bench_interleave(cases, MEM_N_KINDS, rounds->n_steady_warmup, rounds->n_steady);
	if (r == 0)
		r = report_add(report, k, TIMING_STEADY, cases, rounds->n_steady);
	free_cases(cases);
	for (kind = 0; kind < MEM_N_KINDS; kind++)
		mem_ws_close(&ctx[kind].ws);

out_free_state:
	for (kind = 0; kind < MEM_N_KINDS; kind++)
		free(ctx[kind].state);
	return r < 0 ? r : failed;
}

/* --- the report ---------------------------------------------------------------------------- */

static const char *const timing_names[N_TIMINGS] = {
	[TIMING_FIRST_TOUCH] = "first touch",
	[TIMING_STEADY] = "steady",
};

/* Speed-up of @kind over malloc in each round, sorted; NULL if either is missing. */
static double *round_speedups(const struct report_entry *e, int kind)
{
	double *v;
	unsigned int i;

	if (!e->have[kind] || !e->have[MEM_MALLOC] || !e->n)
		return NULL;
	v = calloc(e->n, sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < e->n; i++) {
		double a = e->samples[kind][i], m = e->samples[MEM_MALLOC][i];

		v[i] = e->higher_better ? a / m : m / a;
	}
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min and max of the per-round speed-ups; false if there are none. */
static bool speedup_stats(const struct report_entry *e, int kind, double *med, double *lo,
			  double *hi)
{
	double *v = round_speedups(e, kind);

	if (!v)
		return false;
	qsort(v, e->n, sizeof(*v), cmp_double);
	*med = bench_percentile(v, e->n, 0.5);
	*lo = v[0];
	*hi = v[e->n - 1];
	free(v);
	return true;
}

/* Three significant digits or so. */
static void cell_figure(struct bench_table *t, double v)
{
	int decimals = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;

	bench_table_cell(t, "%.*f", decimals, v);
}

static int print_full(const struct kernel_report *report, const struct mem_setup *ms,
		      const char *name)
{
	static const struct bench_column cols[] = {
		{ "kernel", true },  { "timing", true },    { "memory", true },
		{ "median", false }, { "min", false },	    { "max", false },
		{ "unit", true },    { "x malloc", false }, { "x min..max", false },
	};
	struct bench_table *t;
	size_t i;
	int r, kind;

	r = bench_table_new(ms->opts->quick ?
				    "quick run: the figures mean nothing, only the checks count" :
				    "median of the rounds, their min and max; speed-up over glibc "
				    "malloc taken round by round (higher is better)",
			    cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	for (i = 0; i < report->n_entries; i++) {
		const struct report_entry *e = &report->entries[i];

		if (i)
			bench_table_add_rule(t);
		for (kind = 0; kind < MEM_N_KINDS; kind++) {
			struct bench_stats st;
			double med, lo, hi;

			if (!e->have[kind] || bench_stats_compute(e->samples[kind], e->n, &st) < 0)
				continue;
			bench_table_row(t);
			bench_table_cell(t, "%s", e->kernel);
			bench_table_cell(t, "%s", timing_names[e->timing]);
			bench_table_cell(t, "%s", ms->variants[kind].label);
			cell_figure(t, st.p50);
			cell_figure(t, st.min);
			cell_figure(t, st.max);
			bench_table_cell(t, "%s", e->unit);
			if (kind != MEM_MALLOC && speedup_stats(e, kind, &med, &lo, &hi)) {
				bench_table_cell(t, "%.2f", med);
				bench_table_cell(t, "%.2f..%.2f", lo, hi);
			} else {
				bench_table_cell(t, "%s", kind == MEM_MALLOC ? "1" : "-");
				bench_table_cell(t, "-");
			}
		}
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, ms->opts, name);
	bench_table_free(t);
	return r;
}

/* "<name>-summary.csv": one row per kernel and timing, median/min/max speed-up per kind. */
static int print_summary(const struct kernel_report *report, const struct mem_setup *ms,
			 const char *name)
{
	struct bench_column cols[1 + 3 * MEM_MALLOC];
	char heads[3 * MEM_MALLOC][96], file[64];
	struct bench_table *t;
	size_t i, c = 0;
	int r, kind;

	cols[c++] = (struct bench_column){ "case", true };
	for (kind = 0; kind < MEM_MALLOC; kind++) {
		snprintf(heads[3 * kind], sizeof(heads[0]), "%s", ms->variants[kind].label);
		snprintf(heads[3 * kind + 1], sizeof(heads[0]), "%s min", ms->variants[kind].label);
		snprintf(heads[3 * kind + 2], sizeof(heads[0]), "%s max", ms->variants[kind].label);
		cols[c++] = (struct bench_column){ heads[3 * kind], false };
		cols[c++] = (struct bench_column){ heads[3 * kind + 1], false };
		cols[c++] = (struct bench_column){ heads[3 * kind + 2], false };
	}
	r = bench_table_new("speed-up over glibc malloc (median, min, max of the rounds)", cols, c,
			    &t);
	if (r < 0)
		return r;
	for (i = 0; i < report->n_entries; i++) {
		const struct report_entry *e = &report->entries[i];

		bench_table_row(t);
		bench_table_cell(t, "%s %s", e->kernel, timing_names[e->timing]);
		for (kind = 0; kind < MEM_MALLOC; kind++) {
			double med, lo, hi;

			if (speedup_stats(e, kind, &med, &lo, &hi)) {
				bench_table_cell(t, "%.3f", med);
				bench_table_cell(t, "%.3f", lo);
				bench_table_cell(t, "%.3f", hi);
			} else {
				bench_table_cell(t, "-");
				bench_table_cell(t, "-");
				bench_table_cell(t, "-");
			}
		}
	}
	bench_table_print(t, stdout);
	snprintf(file, sizeof(file), "%s-summary", name);
	r = bench_table_save(t, ms->opts, file);
	bench_table_free(t);
	return r;
}

int kernel_report_print(const struct kernel_report *report, const struct mem_setup *ms,
			const char *name)
{
	size_t i;
	int r;

	printf("\n== %s: results ==\n", name);
	for (i = 0; i < report->n_entries; i++)
		if (report->entries[i].timing == TIMING_FIRST_TOUCH)
			printf("%-8s %s\n", report->entries[i].kernel, report->entries[i].what);
	printf("first touch: acquire the working set, write it, run once, give it back (ms, "
	       "lower is better)\nsteady:      run again over the touched working set\n");
	r = print_full(report, ms, name);
	if (r < 0)
		return r;
	return print_summary(report, ms, name);
}
