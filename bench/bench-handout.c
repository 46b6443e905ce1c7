// SPDX-License-Identifier: MIT
/*
 * bench-handout: how many 2 MiB regions per second bhc-arenad hands out
 * when clients take them as fast as they can once the warm pool has run
 * dry (the daemon's sustained replenishment rate), against the rate at
 * which the kernel itself makes hugetlb memfds of that size:
 * memfd_create(MFD_HUGETLB) + ftruncate + fallocate + close in a loop.
 *
 * Each side runs with one worker process and with as many as the machine
 * has CPUs (at least two): one client cannot by itself keep the daemon
 * busy (it waits for each reply), several can. A daemon round waits for
 * the pool to be full and idle, drains it (those hand-outs are not
 * counted), lets every worker make one untimed acquire (which connects
 * it), then counts acquire + release cycles (bhc_arena_new() and
 * bhc_arena_free() of a 2 MiB region; the free sends RELEASE and does
 * not wait for the pages to be back) over a fixed time. A kernel round runs
 * the loop for as long. Rounds alternate; the figure is the median round.
 *
 * A third side is a reference server (handout-ref.h): the same hand-out
 * (a fresh sealed hugetlb memfd per request, made ahead through io_uring,
 * punched through io_uring on release) with nothing else around it, to show
 * what a server of this kind can reach on the machine at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/memfd.h>

#include <bhc/arena.h>

#include "bench-common.h"
#include "bench-daemon.h"
#include "handout-ref.h"

#define REGION_SIZE ((size_t)2 << 20)
#define PAGE_2M_KB 2048ul
#define TARGET_FRACTION 0.80
#define WAIT_WARM_MS 60000
#define WARM_TARGET 4u
/* Hand-outs skipped at the start of a daemon round: the warm pool and then some. */
#define DRAIN (2 * WARM_TARGET)
#define MAX_WORKERS 8
#define MAX_ALIVE 16
/* Regions the daemon holds for one client: the warm ones, one leased, one being dropped. */
#define DAEMON_FOOTPRINT (WARM_TARGET + 2)

enum ho_case {
	HO_DAEMON_1,
	HO_REF_1, /* the reference server (handout-ref.h) */
	HO_KERNEL_1,
	HO_KERNEL_HELD, /* 1 worker keeping as many regions alive as the daemon holds */
	HO_DAEMON_N,
	HO_REF_N,
	HO_KERNEL_N,
	HO_N_CASES,
};

struct ho_state;

/* One case: a side and a number of workers. */
struct ho_case_ctx {
	struct ho_state *s;
	bool daemon;
	bool ref; /* the reference server instead of the daemon */
	struct ref_server rs; /* during a reference round */
	unsigned int n_workers;
	unsigned int n_alive; /* kernel: regions each worker keeps (1: closed at once) */
	uint64_t n_counted; /* regions counted over the measured rounds */
};

struct ho_state {
	struct bench_daemon *daemon;
	uint64_t round_ns; /* length of one measured round */
	bool huge; /* hugetlb can be had (else both sides use shmem, labelled) */
	char daemon_backing[24];
	struct ho_case_ctx cases[HO_N_CASES];
	char *why; /* MAP_SHARED, BENCH_WHY bytes: the first failure, also a worker's */
};

#define BENCH_WHY 200

/* What a worker reports at the end of a round. */
struct ho_report {
	uint64_t n; /* cycles done */
	uint64_t end_ns; /* when the last one ended */
	int err;
};

/* Remember the first failure: "@what: strerror(@err)". */
static void say_why(struct ho_state *s, const char *what, int err)
{
	if (!s->why[0])
		snprintf(s->why, BENCH_WHY, "%s: %s", what, strerror(err));
}

/* One acquire + release of a 2 MiB region from the daemon; 0 or -errno. */
static int daemon_cycle(struct ho_state *s)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_DAEMON };
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	int r;

	r = bhc_arena_new_opts(REGION_SIZE - BHC_ARENA_REGION_HEADER_SIZE, &opts, &arena);
	if (r < 0) {
		say_why(s, "bhc_arena_new_opts (daemon)", -r);
		return r;
	}
	if (!s->daemon_backing[0]) {
		bhc_arena_stats(arena, &st);
		snprintf(s->daemon_backing, sizeof(s->daemon_backing), "%s", st.backing_name);
		if (st.source != BHC_ARENA_SOURCE_DAEMON || st.region_size != REGION_SIZE) {
			say_why(s, "not a 2 MiB daemon region", EPROTO);
			bhc_arena_free(arena);
			return -EPROTO;
		}
	}
	bhc_arena_free(arena);
	return 0;
}

/*
 * What the daemon does to make a region, without the daemon: one memfd,
 * filled; closed at once, or with @n_alive > 1 once @n_alive - 1 newer ones
 * exist (a process-wide ring: a worker is a process of its own).
 */
static int kernel_cycle(struct ho_state *s, unsigned int n_alive)
{
	static int ring[MAX_ALIVE];
	static unsigned int next, n_open;
	unsigned int flags = MFD_CLOEXEC | (s->huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
	int fd, r;

	if (n_alive > MAX_ALIVE)
		n_alive = MAX_ALIVE;
	if (n_alive > 1 && n_open == n_alive) {
		close(ring[next]);
		n_open--;
	}

	fd = memfd_create("bench-handout", flags);
	if (fd < 0) {
		r = -errno;
		say_why(s, "memfd_create", -r);
		return r;
	}
	if (ftruncate(fd, (off_t)REGION_SIZE) < 0 || fallocate(fd, 0, 0, (off_t)REGION_SIZE) < 0) {
		r = -errno;
		say_why(s, "ftruncate/fallocate", -r);
		close(fd);
		return r;
	}
	if (n_alive <= 1) {
		close(fd);
		return 0;
	}
	ring[next] = fd;
	next = (next + 1) % n_alive;
	n_open++;
	return 0;
}

/*
 * A worker process: for the daemon, one untimed cycle first (it connects);
 * then, told to go, cycles until the deadline it was given, and reports.
 */
static int cycle(struct ho_case_ctx *cc, unsigned int index)
{
	int r;

	if (cc->daemon)
		return daemon_cycle(cc->s);
	if (!cc->ref)
		return kernel_cycle(cc->s, cc->n_alive);
	r = ref_cycle(cc->rs.fd[index], REGION_SIZE);
	if (r < 0)
		say_why(cc->s, "reference server", -r);
	return r;
}

static void worker_main(struct ho_case_ctx *cc, unsigned int index, int go_fd, int report_fd)
{
	struct ho_report rep = { 0 };
	uint64_t deadline;
	char ready = 'r';

	if (cc->daemon)
		rep.err = daemon_cycle(cc->s);
	if (write(report_fd, &ready, 1) != 1 ||
	    read(go_fd, &deadline, sizeof(deadline)) != sizeof(deadline))
		_exit(EXIT_FAILURE);
	while (!rep.err && (rep.end_ns = bench_now_ns()) < deadline) {
		rep.err = cycle(cc, index);
		if (!rep.err)
			rep.n++;
	}
	rep.end_ns = bench_now_ns();
	if (write(report_fd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(EXIT_FAILURE);
	_exit(rep.err ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* Run @cc->n_workers workers for one round; returns regions per second or -1. */
static double run_workers(struct ho_case_ctx *cc)
{
	int go[MAX_WORKERS], report[2], fds[2], status;
	pid_t pid[MAX_WORKERS];
	uint64_t t0, deadline, end = 0, n = 0;
	unsigned int i, k, n_started = 0;
	struct ho_report rep;
	bool ok = true;
	char byte;

	if (pipe2(report, O_CLOEXEC) < 0)
		return -1;
	for (i = 0; i < cc->n_workers; i++) {
		if (pipe2(fds, O_CLOEXEC) < 0) {
			ok = false;
			break;
		}
		pid[i] = bench_fork_child();
		if (pid[i] < 0) {
			close(fds[0]);
			close(fds[1]);
			ok = false;
			break;
		}
		if (pid[i] == 0) {
			close(report[0]);
			close(fds[1]);
			worker_main(cc, i, fds[0], report[1]);
		}
		close(fds[0]);
		go[i] = fds[1];
		n_started++;
	}
	close(report[1]);
	for (i = 0; ok && i < n_started; i++)
		ok = read(report[0], &byte, 1) == 1;
	t0 = bench_now_ns();
	deadline = t0 + cc->s->round_ns;
	for (i = 0; i < n_started; i++) {
		if (ok && write(go[i], &deadline, sizeof(deadline)) != sizeof(deadline))
			ok = false;
		close(go[i]);
	}
	for (k = 0; k < n_started; k++) {
		if (read(report[0], &rep, sizeof(rep)) != sizeof(rep) || rep.err) {
			ok = false;
			continue;
		}
		n += rep.n;
		if (rep.end_ns > end)
			end = rep.end_ns;
	}
	close(report[0]);
	for (i = 0; i < n_started; i++)
		waitpid(pid[i], &status, 0);
	if (!ok || end <= t0) {
		if (!cc->s->why[0])
			snprintf(cc->s->why, BENCH_WHY, "a worker failed");
		return -1;
	}
	cc->n_counted += n;
	return (double)n * 1e9 / (double)(end - t0);
}

static double run_case(void *ctx)
{
	struct ho_case_ctx *cc = ctx;
	struct ho_state *s = cc->s;
	unsigned int i;
	double rate;
	int r;

	if (cc->ref) {
		/* A server of its own for every round, its regions made ahead. */
		r = ref_server_start(&cc->rs, cc->n_workers, REGION_SIZE, s->huge, WARM_TARGET);
		if (r < 0) {
			say_why(s, "starting the reference server", -r);
			return -1;
		}
		rate = run_workers(cc);
		r = ref_server_stop(&cc->rs);
		if (r < 0 && rate >= 0) {
			say_why(s, "the reference server failed", -r);
			return -1;
		}
		return rate;
	}
	if (cc->daemon) {
		/* Start every round alike: pool full and idle, then drained. */
		r = bench_daemon_wait_warm(s->daemon, REGION_SIZE, WARM_TARGET, WAIT_WARM_MS);
		if (r < 0) {
			say_why(s, "daemon: warm pool not refilled", -r);
			return -1;
		}
		for (i = 0; i < DRAIN; i++) {
			if (daemon_cycle(s) < 0)
				return -1;
		}
	}
	return run_workers(cc);
}

static const char *case_name(const struct ho_case_ctx *cc, char *buf, size_t len)
{
	char alive[48] = "";

	if (!cc->daemon && cc->n_alive > 1)
		snprintf(alive, sizeof(alive), ", %u alive", cc->n_alive);
	snprintf(buf, len, "%s, %u worker%s%s",
		 cc->daemon ? "daemon: bhc_arena_new + bhc_arena_free" :
		 cc->ref    ? "reference server (epoll + io_uring, nothing else)" :
			      "kernel: memfd_create + ftruncate + fallocate + close",
		 cc->n_workers, cc->n_workers == 1 ? "" : "s", alive);
	return buf;
}

/* The kernel case a daemon or reference case is held against, or -1. */
static int reference(enum ho_case k)
{
	return k == HO_DAEMON_1 || k == HO_REF_1 ? HO_KERNEL_1 :
	       k == HO_DAEMON_N || k == HO_REF_N ? HO_KERNEL_N :
						   -1;
}

static void verdict(struct bench_table *t, const struct ho_state *s, const struct bench_stats *st,
		    enum ho_case daemon, enum ho_case kernel, bool information)
{
	double fraction = st[daemon].p50 / st[kernel].p50;
	const struct ho_case_ctx *num = &s->cases[daemon], *den = &s->cases[kernel];
	char name[128];

	bench_table_row(t);
	if (den->ref)
		bench_table_cell(t, "daemon / reference server, %u worker%s", den->n_workers,
				 den->n_workers == 1 ? "" : "s");
	else
		bench_table_cell(t, "%s / %s", num->ref ? "reference server" : "daemon",
				 case_name(den, name, sizeof(name)));
	bench_table_cell(t, "%.0f%%", 100.0 * fraction);
	if (information) {
		bench_table_cell(t, "(information)");
		bench_table_cell(t, "-");
		return;
	}
	bench_table_cell(t, ">= %.0f%%", 100.0 * TARGET_FRACTION);
	bench_table_cell(t, "%s", fraction >= TARGET_FRACTION ? "met" : "NOT MET");
}

static int report(const struct ho_state *s, const struct bench_stats *st, unsigned int n_rounds,
		  const struct bench_hugepages *hp, const struct bench_opts *opts)
{
	static const struct bench_column cols[] = {
		{ "source", true },   { "backing", true },	  { "rounds", false },
		{ "regions", false }, { "median /s", false },	  { "min /s", false },
		{ "max /s", false },  { "µs per region", false }, { "/ kernel", false },
	};
	static const struct bench_column vcols[] = {
		{ "comparison", true },
		{ "measured", false },
		{ "target", false },
		{ "verdict", true },
	};
	struct bench_table *t;
	char title[256], name[128];
	int k, r;

	snprintf(title, sizeof(title),
		 "sustained hand-out of 2 MiB regions (warm pool drained first); hugetlb: %s",
		 hp->ok ? "reserved" : hp->why);
	r = bench_table_new(title, cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	for (k = 0; k < HO_N_CASES; k++) {
		const struct ho_case_ctx *cc = &s->cases[k];
		int ref = reference(k);

		if (k == HO_DAEMON_N)
			bench_table_add_rule(t);
		bench_table_row(t);
		bench_table_cell(t, "%s", case_name(cc, name, sizeof(name)));
		bench_table_cell(t, "%s",
				 cc->daemon ? s->daemon_backing :
				 s->huge    ? "hugetlb-2M" :
					      "shmem (no hugetlb)");
		bench_table_cell(t, "%u", n_rounds);
		bench_table_cell(t, "%llu", (unsigned long long)cc->n_counted);
		bench_table_cell(t, "%.0f", st[k].p50);
		bench_table_cell(t, "%.0f", st[k].min);
		bench_table_cell(t, "%.0f", st[k].max);
		/* wall time per region at the rate of all workers together */
		bench_table_cell(t, "%.1f", 1e6 / st[k].p50);
		/* each daemon row against the kernel row with as many workers */
		if (ref >= 0)
			bench_table_cell(t, "%.0f%%", 100.0 * st[k].p50 / st[ref].p50);
		else
			bench_table_cell(t, "%s", "-");
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "handout");
	bench_table_free(t);
	if (r < 0)
		return r;

	r = bench_table_new(opts->quick ? "targets (quick run: the verdicts mean nothing)" :
					  "targets",
			    vcols, ARRAY_SIZE(vcols), &t);
	if (r < 0)
		return r;
	verdict(t, s, st, HO_DAEMON_1, HO_KERNEL_1, false);
	verdict(t, s, st, HO_DAEMON_N, HO_KERNEL_N, false);
	verdict(t, s, st, HO_DAEMON_1, HO_KERNEL_HELD, true);
	verdict(t, s, st, HO_REF_1, HO_KERNEL_1, true);
	verdict(t, s, st, HO_REF_N, HO_KERNEL_N, true);
	verdict(t, s, st, HO_DAEMON_1, HO_REF_1, true);
	verdict(t, s, st, HO_DAEMON_N, HO_REF_N, true);
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "handout-verdicts");
	bench_table_free(t);
	return r;
}

int main(int argc, char **argv)
{
	const char *sets[] = { "pool.warm=2M:4", "limits.total=128M", NULL, NULL };
	struct ho_state s = { 0 };
	struct bench_case cases[HO_N_CASES];
	struct bench_stats st[HO_N_CASES];
	struct bench_hugepages hp;
	struct bench_machine m;
	struct bench_opts opts;
	struct bench_daemon d;
	unsigned int n_rounds, n_workers;
	char name[128];
	long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int k, r;

	/* every region fresh from the daemon: reuse is what bench-reuse measures */
	setenv("BHC_ARENA_RETAIN", "0", 1);

	r = bench_parse_opts(argc, argv,
			     "Sustained hand-out of 2 MiB regions: bhc-arenad against the kernel's "
			     "hugetlb memfd fallocate rate.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	n_rounds = opts.quick ? 2 : 9;
	s.round_ns = opts.quick ? 50000000u : 1000000000u;
	n_workers = n_cpus < 2 ? 2 : n_cpus > MAX_WORKERS ? MAX_WORKERS : (unsigned int)n_cpus;
	s.why = mmap(NULL, BENCH_WHY, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s.why == MAP_FAILED) {
		r = -errno;
		goto out_fail;
	}
	for (k = 0; k < HO_N_CASES; k++) {
		s.cases[k] = (struct ho_case_ctx){
			.s = &s,
			.daemon = k == HO_DAEMON_1 || k == HO_DAEMON_N,
			.ref = k == HO_REF_1 || k == HO_REF_N,
			.n_workers = k == HO_DAEMON_N || k == HO_REF_N || k == HO_KERNEL_N ?
					     n_workers :
					     1,
			.n_alive = k == HO_KERNEL_HELD ? DAEMON_FOOTPRINT : 1,
		};
		cases[k] = (struct bench_case){ .run = run_case, .ctx = &s.cases[k] };
	}

	printf("== bench-handout: sustained hand-out of 2 MiB regions%s ==\n",
	       opts.quick ? " (quick)" : "");
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	r = bench_cleanup_init();
	if (r < 0)
		goto out_fail;
	/* Warm and being made (<= the target each), leased, being dropped; the kernel's. */
	bench_hugepages_reserve(PAGE_2M_KB, 5 * WARM_TARGET + 6 * n_workers + DAEMON_FOOTPRINT,
				&hp);
	printf("hugetlb 2 MiB: %s (%ld free)\n", hp.ok ? "reserved" : hp.why, hp.n_free);
	s.huge = hp.ok;
	sets[2] = hp.ok ? "pool.hugepages=require" : "pool.hugepages=off";
	printf("daemon: --set %s --set %s --set %s\n", sets[0], sets[1], sets[2]);
	fflush(stdout);
	r = bench_daemon_start(&d, sets, WAIT_WARM_MS);
	if (r < 0)
		goto out_fail;
	s.daemon = &d;
	/* One untimed round of each, so that the counts start at 0. */
	for (k = 0; k < HO_N_CASES; k++) {
		if (run_case(&s.cases[k]) < 0) {
			fprintf(stderr, "bench-handout: %s\n", s.why);
			r = -EIO;
			goto out_stop;
		}
		s.cases[k].n_counted = 0;
	}
	r = bench_interleave(cases, HO_N_CASES, 0, n_rounds);
	if (r < 0)
		goto out_stop;
	for (k = 0; k < HO_N_CASES; k++) {
		if (cases[k].err) {
			fprintf(stderr, "bench-handout: %s: %s\n",
				case_name(&s.cases[k], name, sizeof(name)), s.why);
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
