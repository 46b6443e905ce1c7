/* SPDX-License-Identifier: MIT */
/*
 * Numeric kernels on four kinds of memory, measured side by side
 * (bench-kernels, bench-blas):
 *
 *   daemon        an arena leased from a private bhc-arenad's warm pool of
 *                 hugetlb regions: made and pre-faulted before the program asks
 *   local hugetlb an arena the process maps itself on hugetlb pages
 *                 (pre-faulted when it is created)
 *   local small   an arena on 4 KiB pages (pre-faulted when it is created)
 *   glibc malloc  aligned_alloc(): pages fault in on first touch
 *
 * A kernel says how much memory its working set needs, how to lay it out and
 * touch it for the first time (prepare), how to run once (run) and how to
 * check a run against a plain implementation (verify). The driver checks
 * every kind of memory once, then measures two things, each in interleaved
 * rounds (round 1 runs every kind once, then round 2, ...):
 *
 *   first touch   acquire the memory, prepare, run once, give it back: what a
 *                 program pays when its working set is new (milliseconds)
 *   steady        run again on a working set already touched (the kernel's
 *                 own unit, e.g. GUP/s)
 *
 * and reports the median, the min-max spread and the speed-up over glibc
 * malloc, taken round by round (each round's pair ran back to back).
 */
#ifndef BHC_BENCH_KERNELS_MEM_H
#define BHC_BENCH_KERNELS_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bhc/arena.h>

#include "bench-common.h"
#include "bench-daemon.h"

enum mem_kind {
	MEM_DAEMON,
	MEM_HUGETLB,
	MEM_SMALL,
	MEM_MALLOC,
	MEM_N_KINDS,
};

#define MEM_MAX_CLASSES 8

/* One kind of memory: whether it can be had here and what it turned out to be. */
struct mem_variant {
	enum mem_kind kind;
	bool available;
	bool mixed; /* some arena came with another backing than the probe's */
	uint32_t backing; /* enum bhc_arena_backing the probe got (arena kinds) */
	char label[64]; /* "daemon hugetlb-2M", "glibc malloc", ... */
	char why[256]; /* when !available */
};

/* The memory kinds of one benchmark program, with its daemon. */
struct mem_setup {
	struct mem_variant variants[MEM_N_KINDS];
	const struct bench_opts *opts;
	struct bench_hugepages hp; /* 2 MiB pages reserved for the daemon and local hugetlb */
	struct bench_daemon daemon;
	bool daemon_running;
	bool settle_by_idle; /* no warm status from the daemon: wait until it idles */
	bool settle_failed; /* said once that the daemon cannot be asked */
	uint64_t classes[MEM_MAX_CLASSES]; /* daemon region sizes, one warm class each */
	size_t n_classes;
};

/* A working set: memory of one kind, from which a kernel allocates its data. */
struct mem_ws {
	struct mem_setup *setup;
	enum mem_kind kind;
	struct bhc_arena *arena; /* arena kinds; NULL for malloc */
	void *blocks[8]; /* malloc: what mem_ws_close() frees */
	size_t n_blocks;
};

/**
 * mem_region_size() - bytes of the region an arena for @ws_bytes of data gets
 * (header included, rounded to 2 MiB pages): the daemon's warm class for it.
 */
uint64_t mem_region_size(size_t ws_bytes);

/**
 * mem_setup_init() - reserve hugepages, start a private daemon with one warm
 * region of each size in @ws_bytes (arena capacities the kernels will ask
 * for) and find out which kinds of memory are available; say all of it on
 * stdout. A kind that cannot be had is marked, with the reason: not an error.
 * Returns 0 or -errno.
 */
int mem_setup_init(struct mem_setup *ms, const struct bench_opts *opts, const size_t *ws_bytes,
		   size_t n_ws);

/** mem_setup_fini() - stop the daemon (the hugepages go back at exit). */
void mem_setup_fini(struct mem_setup *ms);

/**
 * mem_ws_open() - a working set of @kind with room for @bytes (allocations
 * from an arena are 64-byte aligned: add 64 per allocation). Returns 0 or
 * -errno.
 */
int mem_ws_open(struct mem_setup *ms, enum mem_kind kind, size_t bytes, struct mem_ws *ws);

/** mem_ws_alloc() - @bytes aligned to 64 from @ws, or NULL. */
void *mem_ws_alloc(struct mem_ws *ws, size_t bytes);

/** mem_ws_close() - give all of @ws back. */
void mem_ws_close(struct mem_ws *ws);

/**
 * mem_settle() - wait until the daemon has refilled its warm class for
 * @ws_bytes (or, when it cannot say, has been idle for a moment), so that its
 * background work never overlaps a timed run.
 */
void mem_settle(struct mem_setup *ms, size_t ws_bytes);

/* --- kernels ------------------------------------------------------------------ */

/* A kernel the driver can run on every kind of memory. */
struct kernel {
	const char *name; /* short, for tables and plots: "GUPS" */
	const char *what; /* one line: sizes and method */
	const char *unit; /* of the steady figure: "GUP/s", "GB/s", "GFLOP/s" */
	double work; /* units of @unit per run, e.g. 1e-9 x updates */
	size_t ws_bytes; /* room a working set needs */
	size_t state_size; /* bytes of the kernel's state (the callbacks' @state) */
	/* Allocate the data from @ws and write it: its first touch. 0 or -errno. */
	int (*prepare)(void *state, struct mem_ws *ws);
	/* One run of the kernel over the prepared data. 0 or -errno. */
	int (*run)(void *state);
	/*
	 * After prepare and one run: compare with a plain implementation.
	 * Returns 0, or -EDOM with what differs in @why.
	 */
	int (*verify)(void *state, char *why, size_t why_len);
};

/* Rounds and warm-up rounds of one measurement. */
struct kernel_rounds {
	unsigned int n_first_touch; /* first-touch rounds */
	unsigned int n_steady; /* steady rounds */
	unsigned int n_steady_warmup; /* discarded steady rounds */
};

struct kernel_report;

/** kernel_report_new() - an empty report; 0 or -ENOMEM. */
int kernel_report_new(struct kernel_report **reportp);

/** kernel_report_free() - free @report; NULL is a no-op. */
void kernel_report_free(struct kernel_report *report);

/**
 * kernel_measure() - check @k on every available kind of memory, then measure
 * its first touch and its steady state, and add the results to @report.
 * Returns 0, -EDOM if a check failed (after saying what differed) or -errno.
 */
int kernel_measure(struct mem_setup *ms, const struct kernel *k, const struct kernel_rounds *rounds,
		   struct kernel_report *report);

/**
 * kernel_report_print() - print the results as a table and, with an output
 * directory, write "<name>.csv"/".md" (every figure) and "<name>-summary.csv"
 * (speed-ups over malloc with their spread, for the plot). Returns 0 or -errno.
 */
int kernel_report_print(const struct kernel_report *report, const struct mem_setup *ms,
			const char *name);

#endif /* BHC_BENCH_KERNELS_MEM_H */
