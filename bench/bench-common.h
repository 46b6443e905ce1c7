/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the bench/ programs: a monotonic nanosecond timer,
 * interleaved repeats, sample statistics, aligned text tables that are also
 * written as CSV, and a description of the machine.
 *
 * Timing uses clock_gettime(CLOCK_MONOTONIC) (the vDSO, no system call), not
 * rdtsc: it is portable, its unit is a real nanosecond whatever the CPU's
 * frequency does, and its ~20 ns cost is amortised by timing whole loops.
 */
#ifndef BHC_BENCH_COMMON_H
#define BHC_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__clang__)
#define BENCH_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define BENCH_COMPILER "gcc " __VERSION__
#else
#define BENCH_COMPILER "cc " __VERSION__
#endif

/* --- keeping the compiler honest ------------------------------------------ */

/* Make @p escape: the compiler must assume it is read and that memory changed. */
static inline void bench_escape(const void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

/* Store one byte into @p; a volatile store is never elided, nor is its allocation. */
static inline void bench_touch(void *p, size_t v)
{
	*(volatile unsigned char *)p = (unsigned char)v;
}

/*
 * Wait until every earlier store has reached the cache (a full fence): so a
 * timed interval that follows does not pay for the draining of stores made
 * before it.
 */
static inline void bench_drain_stores(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* --- options ---------------------------------------------------------------- */

/* What every bench program accepts on its command line. */
struct bench_opts {
	const char *out_dir; /* -o DIR or $BHC_BENCH_OUT: where CSV files go; NULL: none */
	bool quick; /* -q or BHC_BENCH_QUICK=1: small sizes, a smoke run in seconds */
};

/**
 * bench_parse_opts() - fill *@opts from the environment and @argv (-o DIR, -q, -h),
 * creating the output directory. Returns 0, 1 after printing the help for
 * -h, or -errno after printing what was wrong.
 */
int bench_parse_opts(int argc, char **argv, const char *what, struct bench_opts *opts);

/**
 * bench_out_path() - "<out_dir>/<name>" in *@pathp (free() it), creating
 * out_dir if needed. Returns 0, -ENOENT when no output directory was asked
 * for, or another -errno.
 */
int bench_out_path(const struct bench_opts *opts, const char *name, char **pathp);

/* --- time --------------------------------------------------------------------- */

/** bench_now_ns() - CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/**
 * bench_timer_overhead_ns() - median of @n_samples back-to-back
 * bench_now_ns() differences: what a single timed region costs by itself.
 */
double bench_timer_overhead_ns(size_t n_samples);

/* --- statistics ------------------------------------------------------------- */

/* Order statistics of a set of samples. */
struct bench_stats {
	size_t n;
	double min;
	double p50;
	double p99;
	double max;
	double mean;
};

/**
 * bench_stats_compute() - statistics of @n samples (not modified; at least
 * one). Percentiles are nearest-rank. Returns 0, -EINVAL or -ENOMEM.
 */
int bench_stats_compute(const double *samples, size_t n, struct bench_stats *st);

/* A mean that leaves out outliers; see bench_robust_mean(). */
struct bench_mean {
	double mean;
	double sem; /* standard error of the mean */
	size_t n_kept;
};

/**
 * bench_robust_mean() - mean and standard error of the @n samples that are
 * at most @slack above their median. Where the clock moves in coarse steps
 * (10 ns on some virtual machines), the mean of many short intervals whose
 * start falls anywhere between two steps resolves far below the step, where
 * a median cannot; the cut drops the samples an interrupt or a preemption
 * landed in. Returns 0, -EINVAL (no samples) or -ENOMEM.
 */
int bench_robust_mean(const double *samples, size_t n, double slack, struct bench_mean *m);

/**
 * bench_percentile() - the nearest-rank @q-quantile (0..1) of @n sorted samples.
 */
double bench_percentile(const double *sorted, size_t n, double q);

/* --- interleaved repeats ------------------------------------------------------ */

/*
 * One thing to measure. run() does one measurement and returns its figure
 * (e.g. ns per operation) or a negative number on failure. Cases are run
 * interleaved: round 1 runs every case once, then round 2, ...; so a slow
 * moment of the machine hits every case alike instead of one case entirely.
 */
struct bench_case {
	const char *name;
	double (*run)(void *ctx);
	void *ctx;
	double *samples; /* n_rounds figures; bench_interleave() allocates, caller free()s */
	int err; /* 0, or the first failure (then samples are not valid) */
};

/**
 * bench_interleave() - run @n_warmup discarded rounds and @n_rounds measured
 * rounds over @cases; fills each case's samples. A case whose run() fails is
 * marked (err = -EIO) and not run again; one without run() is skipped
 * (err = -ENOENT). Returns 0 or -ENOMEM.
 */
int bench_interleave(struct bench_case *cases, size_t n_cases, unsigned int n_warmup,
		     unsigned int n_rounds);

/* --- tables --------------------------------------------------------------- */

/* A column: its heading, and whether it is text (left-aligned) or a number. */
struct bench_column {
	const char *name;
	bool text;
};

struct bench_table;

/**
 * bench_table_new() - an empty table titled @title with @n_columns columns
 * (copied). Returns 0 and sets *@tablep, or -ENOMEM / -EINVAL.
 */
int bench_table_new(const char *title, const struct bench_column *columns, size_t n_columns,
		    struct bench_table **tablep);

/** bench_table_free() - free @table; NULL is a no-op. */
void bench_table_free(struct bench_table *table);

/**
 * bench_table_row() - start a new row; fill it with bench_table_cell(), one
 * call per column, left to right. Returns 0 or -ENOMEM.
 */
int bench_table_row(struct bench_table *table);

/**
 * bench_table_cell() - the next cell of the current row, printf-formatted.
 * Returns 0, -ENOMEM, or -EINVAL when the row is already full. A failure is
 * also remembered and returned by bench_table_write_csv().
 */
int bench_table_cell(struct bench_table *table, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** bench_table_add_rule() - a horizontal rule in the printed table (not in the CSV). */
int bench_table_add_rule(struct bench_table *table);

/** bench_table_print() - print the title and the aligned table to @f. */
void bench_table_print(const struct bench_table *table, FILE *f);

/** bench_table_print_markdown() - the table as a Markdown pipe table. */
void bench_table_print_markdown(const struct bench_table *table, FILE *f);

/**
 * bench_table_write_csv() - write the header and rows to @path (RFC 4180
 * quoting). Returns 0 or -errno.
 */
int bench_table_write_csv(const struct bench_table *table, const char *path);

/**
 * bench_table_save() - write @table as "<out_dir>/<name>.csv" and, as a
 * Markdown table, "<out_dir>/<name>.md" when an output directory was asked
 * for (else do nothing); complains on stderr on failure. Returns 0 or -errno.
 */
int bench_table_save(const struct bench_table *table, const struct bench_opts *opts,
		     const char *name);

/* --- the machine -------------------------------------------------------------- */

/* What the figures were measured on. */
struct bench_machine {
	char cpu[128]; /* "model name" from /proc/cpuinfo */
	char kernel[200]; /* uname -srm */
	char compiler[128]; /* the compiler that built bench-common.c */
	char date[64]; /* local time, ISO 8601 */
	char clocksource[32];
	long n_cpus;
};

/** bench_machine_get() - describe this machine; unknown fields read "unknown". */
void bench_machine_get(struct bench_machine *m);

/** bench_machine_print() - print @m as "key: value" lines. */
void bench_machine_print(const struct bench_machine *m, FILE *f);

#endif /* BHC_BENCH_COMMON_H */
