// SPDX-License-Identifier: MIT
/*
 * bench-reuse: what process-local reuse of regions buys.
 *
 *  1. Back-to-back bhc_arena_new() + one allocation (written) + bhc_arena_free()
 *     of 16 MiB and of 64 MiB, from the daemon and local, with reuse on (the
 *     default BHC_ARENA_RETAIN) and off (BHC_ARENA_RETAIN=0): per-cycle p50
 *     and p99, and the ratio off/on. Targets: p50 <= 2 µs with reuse, and
 *     at least 1000x faster than without.
 *  2. bhc_with_arena() in a loop at 1 MiB (a scope in the thread's arena) and
 *     at 32 MiB (beyond it: an arena of its own, the thread's spare), ns per
 *     call, daemon and local. Target: 32 MiB costs at most 2x 1 MiB.
 *
 * BHC_ARENA_RETAIN is read once per process, so every configuration runs in
 * a child process of its own, started before the library is used, and
 * reports its samples through a pipe. The daemon is this benchmark's own,
 * on its embedded defaults (warm 16M:4,64M:2, hugepages = prefer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bhc/arena.h>

#include "bench-common.h"
#include "bench-daemon.h"

#define MIB ((size_t)1 << 20)
#define PAGE_2M_KB 2048ul
#define TARGET_CYCLE_P50_NS 2000.0
#define TARGET_SPEEDUP 1000.0
#define TARGET_WITH_RATIO 2.0
#define MAX_SAMPLES 20000u

struct cycle_case {
	const char *mode; /* BHC_ARENA_MODE */
	size_t size; /* arena capacity: the region is one size class */
	bool reuse;
	unsigned int n; /* cycles */
	struct bench_stats st;
	int err;
};

/* In the child: @n cycles, each timed; the samples (ns) go to @fd. */
static int cycle_child(const struct cycle_case *c, int fd)
{
	static double samples[MAX_SAMPLES];
	struct bhc_arena *a;
	unsigned int i;
	uint64_t t0;
	char *p;
	int r;

	setenv("BHC_ARENA_MODE", c->mode, 1);
	setenv("BHC_ARENA_RETAIN", c->reuse ? "1G" : "0", 1);
	for (i = 0; i < c->n; i++) {
		t0 = bench_now_ns();
		r = bhc_arena_new(c->size - BHC_ARENA_REGION_HEADER_SIZE, &a);
		if (r < 0) {
			fprintf(stderr, "bench-reuse: bhc_arena_new(%s): %s\n", c->mode,
				strerror(-r));
			return 1;
		}
		p = bhc_arena_alloc(a, 4096, 64);
		if (!p)
			return 1;
		p[0] = 1;
		bench_escape(p);
		bhc_arena_free(a);
		samples[i] = (double)(bench_now_ns() - t0);
	}
	return write(fd, samples, c->n * sizeof(double)) == (ssize_t)(c->n * sizeof(double)) ? 0 :
											       1;
}

/* Run @c in a child process; fill c->st. */
static int run_cycle_case(struct cycle_case *c)
{
	static double samples[MAX_SAMPLES];
	size_t want = c->n * sizeof(double), got = 0;
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	pid = bench_fork_child();
	if (pid < 0)
		return (int)pid;
	if (pid == 0) {
		close(fds[0]);
		_exit(cycle_child(c, fds[1]));
	}
	close(fds[1]);
	while (got < want && (n = read(fds[0], (char *)samples + got, want - got)) > 0)
		got += (size_t)n;
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) ||
	    got != want)
		return -EIO;
	return bench_stats_compute(samples, c->n, &c->st);
}

struct with_case {
	const char *mode;
	size_t size;
	double ns; /* per call, median of the rounds */
	int err;
};

static int with_fn(struct bhc_arena *arena, void *ctx)
{
	char *p = bhc_arena_alloc(arena, 1024, 64);

	(void)ctx;
	if (!p)
		return -ENOMEM;
	p[0] = 1;
	bench_escape(p);
	return 0;
}

/* In the child: rounds of @calls calls per size, interleaved; medians to @fd. */
static int with_child(const char *mode, unsigned int rounds, unsigned int calls, int fd)
{
	static const size_t sizes[2] = { 1 * MIB, 32 * MIB };
	static double samples[2][64];
	double med[2];
	struct bench_stats st;
	unsigned int r, i, k;
	uint64_t t0;

	setenv("BHC_ARENA_MODE", mode, 1);
	unsetenv("BHC_ARENA_RETAIN");
	if (!bhc_arena_thread())
		return 1;
	for (r = 0; r < rounds + 1; r++) {
		for (k = 0; k < 2; k++) {
			t0 = bench_now_ns();
			for (i = 0; i < calls; i++)
				if (bhc_with_arena(sizes[k], with_fn, NULL) != 0)
					return 1;
			if (r) /* round 0 warms up */
				samples[k][r - 1] = (double)(bench_now_ns() - t0) / calls;
		}
	}
	for (k = 0; k < 2; k++) {
		if (bench_stats_compute(samples[k], rounds, &st) < 0)
			return 1;
		med[k] = st.p50;
	}
	return write(fd, med, sizeof(med)) == sizeof(med) ? 0 : 1;
}

static int run_with_case(const char *mode, unsigned int rounds, unsigned int calls,
			 struct with_case out[2])
{
	double med[2];
	int fds[2], status;
	pid_t pid;

	if (pipe(fds) < 0)
		return -errno;
	pid = bench_fork_child();
	if (pid < 0)
		return (int)pid;
	if (pid == 0) {
		close(fds[0]);
		_exit(with_child(mode, rounds, calls, fds[1]));
	}
	close(fds[1]);
	if (read(fds[0], med, sizeof(med)) != sizeof(med))
		med[0] = med[1] = -1;
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) ||
	    med[0] < 0)
		return -EIO;
	out[0] = (struct with_case){ .mode = mode, .size = 1 * MIB, .ns = med[0] };
	out[1] = (struct with_case){ .mode = mode, .size = 32 * MIB, .ns = med[1] };
	return 0;
}

static void verdict(struct bench_table *v, const char *what, double measured, int decimals,
		    double target, bool ok)
{
	bench_table_row(v);
	bench_table_cell(v, "%s", what);
	bench_table_cell(v, "%.*f", decimals, measured);
	bench_table_cell(v, "%.*f", decimals, target);
	bench_table_cell(v, "%s", ok ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
	static const struct bench_column ccols[] = {
		{ "source", true },	 { "size", true },    { "reuse", true },
		{ "cycles", false },	 { "p50 µs", false }, { "p99 µs", false },
		{ "off/on p50", false },
	};
	static const struct bench_column wcols[] = {
		{ "source", true },
		{ "with_arena size", true },
		{ "ns/call", false },
		{ "vs 1 MiB", false },
	};
	static const struct bench_column vcols[] = {
		{ "comparison", true },
		{ "measured", false },
		{ "target", false },
		{ "verdict", true },
	};
	static const char *const modes[2] = { "daemon", "local" };
	static const size_t sizes[2] = { 16 * MIB, 64 * MIB };
	struct cycle_case cycles[8];
	struct with_case withs[4];
	struct bench_table *t, *w, *v;
	struct bench_hugepages hp;
	struct bench_daemon d;
	struct bench_opts opts;
	struct bench_machine m;
	char what[128];
	size_t i, n = 0, k;
	int r;

	r = bench_parse_opts(argc, argv, "process-local reuse of regions", &opts);
	if (r)
		return r < 0 ? 1 : 0;
	if (bench_cleanup_init() < 0)
		return 1;
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	bench_hugepages_reserve(PAGE_2M_KB, 64, &hp);
	printf("hugepages: %s\n\n", hp.ok ? "64 free 2 MiB pages" : hp.why);
	if (bench_daemon_start(&d, NULL, 60000) < 0)
		return 1;

	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++) {
			cycles[n++] = (struct cycle_case){ .mode = modes[i],
							   .size = sizes[k],
							   .reuse = false,
							   .n = opts.quick ? 20 : 200 };
			cycles[n++] = (struct cycle_case){ .mode = modes[i],
							   .size = sizes[k],
							   .reuse = true,
							   .n = opts.quick ? 1000 : MAX_SAMPLES };
		}
	for (i = 0; i < n; i++)
		cycles[i].err = run_cycle_case(&cycles[i]);
	for (i = 0; i < 2; i++) {
		r = run_with_case(modes[i], opts.quick ? 5 : 21, opts.quick ? 20000 : 200000,
				  &withs[2 * i]);
		withs[2 * i].err = withs[2 * i + 1].err = r;
	}
	bench_daemon_stop(&d);

	if (bench_table_new("new + alloc + free, back to back (one process per row)", ccols,
			    ARRAY_SIZE(ccols), &t) < 0 ||
	    bench_table_new("bhc_with_arena() in a loop (median of rounds)", wcols,
			    ARRAY_SIZE(wcols), &w) < 0 ||
	    bench_table_new(opts.quick ? "targets (quick run: the verdicts mean nothing)" :
					 "targets",
			    vcols, ARRAY_SIZE(vcols), &v) < 0)
		return 1;
	for (i = 0; i < n; i++) {
		const struct cycle_case *c = &cycles[i];

		bench_table_row(t);
		bench_table_cell(t, "%s", c->mode);
		bench_table_cell(t, "%zu MiB", c->size / MIB);
		bench_table_cell(t, "%s", c->reuse ? "on" : "off");
		bench_table_cell(t, "%u", c->n);
		if (c->err) {
			bench_table_cell(t, "failed");
			bench_table_cell(t, "-");
			bench_table_cell(t, "-");
			continue;
		}
		bench_table_cell(t, "%.3f", c->st.p50 / 1e3);
		bench_table_cell(t, "%.3f", c->st.p99 / 1e3);
		if (c->reuse && !cycles[i - 1].err) {
			double ratio = cycles[i - 1].st.p50 / c->st.p50;

			bench_table_cell(t, "%.0fx", ratio);
			snprintf(what, sizeof(what), "%s %zu MiB cycle p50 with reuse (µs)",
				 c->mode, c->size / MIB);
			verdict(v, what, c->st.p50 / 1e3, 3, TARGET_CYCLE_P50_NS / 1e3,
				c->st.p50 <= TARGET_CYCLE_P50_NS);
			snprintf(what, sizeof(what), "%s %zu MiB: reuse off / on (x)", c->mode,
				 c->size / MIB);
			verdict(v, what, ratio, 0, TARGET_SPEEDUP, ratio >= TARGET_SPEEDUP);
		} else {
			bench_table_cell(t, "-");
		}
	}
	for (i = 0; i < 4; i++) {
		bench_table_row(w);
		bench_table_cell(w, "%s", withs[i].mode ? withs[i].mode : modes[i / 2]);
		bench_table_cell(w, "%zu MiB", (i % 2 ? 32 * MIB : MIB) / MIB);
		if (withs[i].err) {
			bench_table_cell(w, "failed");
			bench_table_cell(w, "-");
			continue;
		}
		bench_table_cell(w, "%.1f", withs[i].ns);
		bench_table_cell(w, "%.2fx", withs[i].ns / withs[i - i % 2].ns);
		if (i % 2) {
			double ratio = withs[i].ns / withs[i - 1].ns;

			snprintf(what, sizeof(what), "%s with_arena 32 MiB / 1 MiB (x)",
				 withs[i].mode);
			verdict(v, what, ratio, 2, TARGET_WITH_RATIO, ratio <= TARGET_WITH_RATIO);
		}
	}
	bench_table_print(t, stdout);
	putchar('\n');
	bench_table_print(w, stdout);
	putchar('\n');
	bench_table_print(v, stdout);
	bench_table_save(t, &opts, "reuse-cycle");
	bench_table_save(w, &opts, "reuse-with-arena");
	bench_table_save(v, &opts, "reuse-targets");
	bench_table_free(t);
	bench_table_free(w);
	bench_table_free(v);
	return 0;
}
