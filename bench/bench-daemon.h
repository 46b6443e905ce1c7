/* SPDX-License-Identifier: MIT */
/*
 * Hugepages, a private bhc-arenad and its admin status for the region
 * benchmarks (bench/bench-daemon.c).
 *
 * NOTE: this header was reconstructed from bench-daemon.c by the
 * bench-kernels helper, who overwrote the original by mistake at 21:40;
 * the owner should check it against what they meant.
 */
#ifndef BHC_BENCH_DAEMON_H
#define BHC_BENCH_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Room for a temporary directory whose socket path fits in sun_path. */
#define BENCH_PATH_MAX 80

/* What bench_hugepages_reserve() found or did. */
struct bench_hugepages {
	unsigned long page_kb; /* page size asked for */
	unsigned long n_wanted; /* free pages asked for */
	long n_free; /* free pages now, -1 if unknown */
	bool ok; /* n_wanted pages are free */
	bool raised; /* nr_hugepages was raised (restored at exit) */
	char why[160]; /* when !ok: "unavailable (...)" */
};

struct bench_admin;

/* A private bhc-arenad. */
struct bench_daemon {
	char binary[PATH_MAX];
	char dir[BENCH_PATH_MAX];
	char socket[BENCH_PATH_MAX + 16];
	char log[BENCH_PATH_MAX + 16];
	char config[BENCH_PATH_MAX + 16];
	pid_t pid; /* 0 when not running */
	struct bench_admin *admin; /* admin session, opened on first use */
};

/* A warm class and the pool's counters, from the daemon's admin status. */
struct bench_daemon_status {
	uint64_t warm_ready;
	uint64_t warm_target;
	uint64_t pending_bytes;
	uint64_t grants;
	uint64_t regions_created;
	uint64_t fallbacks;
	uint64_t acquire_errors;
};

/**
 * bench_cleanup_init() - undo what this process changed (nr_hugepages, the
 * daemon and its directory) at exit and on SIGINT, SIGTERM, SIGHUP, SIGQUIT.
 * Returns 0 or -errno.
 */
int bench_cleanup_init(void);

/** bench_hugepages_free() - free pages of @page_kb KiB now, or -1. */
long bench_hugepages_free(unsigned long page_kb);

/** bench_thp_mode() - the selected value of transparent_hugepage/@file in @buf. */
const char *bench_thp_mode(const char *file, char *buf, size_t len);

/**
 * bench_hugepages_reserve() - make @n_free pages of @page_kb KiB free, raising
 * the pool as root under the test suite's hugepage lock. Fills *@hp; returns
 * 0 (hp->ok says whether it worked and hp->why why not).
 */
int bench_hugepages_reserve(unsigned long page_kb, unsigned long n_free,
			    struct bench_hugepages *hp);

/** bench_sleep_ms() - sleep @ms milliseconds, through signals. */
void bench_sleep_ms(unsigned int ms);

/** bench_fork_child() - fork() a child that dies with this process; as fork(). */
pid_t bench_fork_child(void);

/**
 * bench_daemon_start() - run bhc-arenad on a private socket with the
 * "section.key=value" overrides @sets (NULL-terminated), set
 * $BHC_ARENA_SOCKET and wait up to @timeout_ms until it is ready.
 * Returns 0 or -errno (after saying why on stderr).
 */
int bench_daemon_start(struct bench_daemon *d, const char *const *sets, int timeout_ms);

/** bench_daemon_stop() - stop the daemon and remove its directory. */
void bench_daemon_stop(struct bench_daemon *d);

/**
 * bench_daemon_status() - the warm class of @size bytes and the pool's
 * counters, over an admin session. Returns 0 or -errno.
 */
int bench_daemon_status(struct bench_daemon *d, uint64_t size, struct bench_daemon_status *st);

/**
 * bench_daemon_wait_warm() - wait up to @timeout_ms until @n regions of @size
 * bytes are warm and none is being made. Returns 0, -ETIMEDOUT or -errno.
 */
int bench_daemon_wait_warm(struct bench_daemon *d, uint64_t size, uint64_t n, int timeout_ms);

#endif /* BHC_BENCH_DAEMON_H */
