/* SPDX-License-Identifier: MIT */
/*
 * What the region benchmarks (bench-acquire, bench-firsttouch, bench-handout,
 * and the kernels' memory cases) share: hugetlb pages reserved for the run
 * and given back at the end, a private bhc-arenad started from the build
 * tree on a socket in a temporary directory, and the daemon's status (how
 * many warm regions are ready).
 *
 * Whatever the run changed in the system (vm.nr_hugepages, a daemon, a
 * temporary directory) is undone when the process that called
 * bench_cleanup_init() exits, returns from main(), or is stopped by SIGINT,
 * SIGTERM, SIGHUP or SIGQUIT. Forked client processes never undo anything
 * (bench_fork_child()); they leave with _exit().
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

/**
 * bench_cleanup_init() - make the calling process the one that undoes the
 * run's changes (nr_hugepages, the daemon and its directory) at exit and on
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT. Call it once, first. Returns 0 or
 * -errno.
 */
int bench_cleanup_init(void);

/* --- hugepages ---------------------------------------------------------------- */

/* What bench_hugepages_reserve() found or did. */
struct bench_hugepages {
	unsigned long page_kb; /* page size asked for */
	unsigned long n_wanted; /* free pages asked for */
	long n_free; /* free pages once reserved, -1 if unknown */
	bool ok; /* at least n_wanted pages are free */
	bool raised; /* this run raised nr_hugepages (restored at the end) */
	char why[160]; /* when !ok: "unavailable (not root; ...)" and the like */
};

/**
 * bench_hugepages_reserve() - make sure @n_free pages of @page_kb KiB are
 * free. As root, raises the size's nr_hugepages as needed and puts the old
 * value back at the end. Holds the lock the test suite's hugepage helper
 * uses (tests/util-hugepages.c) for the rest of the process, so that a test
 * running meanwhile neither shrinks the pool under the benchmark nor
 * restores a value that would leak the benchmark's pages. Fills *@hp in
 * every case; returns 0 whether or not the pages could be had (hp->ok).
 */
int bench_hugepages_reserve(unsigned long page_kb, unsigned long n_free,
			    struct bench_hugepages *hp);

/** bench_hugepages_restore() - put nr_hugepages back now (else done at exit); idempotent. */
void bench_hugepages_restore(void);

/** bench_hugepages_free() - free hugepages of @page_kb KiB now, or -1. */
long bench_hugepages_free(unsigned long page_kb);

/** bench_thp_mode() - the [selected] word of transparent_hugepage/@file in @buf. */
const char *bench_thp_mode(const char *file, char *buf, size_t len);

/* --- a private daemon --------------------------------------------------------- */

struct bench_admin;

/* A bhc-arenad of the benchmark's own. */
struct bench_daemon {
	char binary[PATH_MAX]; /* the bhc-arenad that runs */
	char dir[BENCH_PATH_MAX]; /* private temporary directory */
	char socket[BENCH_PATH_MAX + 16]; /* dir/arenad.sock */
	char log[BENCH_PATH_MAX + 16]; /* dir/arenad.log: its stderr and stdout */
	char config[BENCH_PATH_MAX + 16]; /* dir/arenad.conf: empty, so /etc is not read */
	pid_t pid; /* 0 when not running */
	struct bench_admin *admin; /* admin session, opened on first use */
	bool no_admin; /* the daemon has no admin status: its SIGUSR1 log is read instead */
};

/* A warm class and the pool's counters. */
struct bench_daemon_status {
	uint64_t warm_ready; /* regions of the size asked for ready now */
	uint64_t warm_target; /* regions of that size the daemon keeps ready */
	uint64_t pending_bytes; /* bytes of regions being made */
	uint64_t grants; /* regions granted, ever */
	uint64_t regions_created;
	uint64_t fallbacks; /* regions made with a weaker backing than hugetlb */
	uint64_t acquire_errors;
	uint64_t warm_handed_out; /* warm regions of the size leased, ever; UINT64_MAX: unknown */
};

/**
 * bench_daemon_start() - start bhc-arenad ($BHC_ARENAD, else the one built
 * next to this program, ../daemon/bhc-arenad) on a private socket with the
 * NULL-terminated "section.key=value" overrides @sets (e.g.
 * "pool.warm=64M:32"), and wait up to @timeout_ms until it reports its warm
 * pool reserved ("ready:"). Exports BHC_ARENA_SOCKET for the library.
 * Returns 0, or -errno after printing why and the end of the daemon's log.
 */
int bench_daemon_start(struct bench_daemon *d, const char *const *sets, int timeout_ms);

/** bench_daemon_stop() - stop the daemon and remove its directory; idempotent. */
void bench_daemon_stop(struct bench_daemon *d);

/**
 * bench_daemon_status() - the warm class of @size bytes and the pool's
 * counters: from the admin "status" request, or, from a daemon that answers
 * that with ENOSYS, from the pool state it logs on SIGUSR1 (which also
 * gives warm_handed_out). Returns 0, or -errno after printing why.
 */
int bench_daemon_status(struct bench_daemon *d, uint64_t size, struct bench_daemon_status *st);

/**
 * bench_daemon_log_state() - the status from the pool state the daemon logs
 * on SIGUSR1 (class line and totals), which says how many warm regions of
 * the class were handed out (warm_handed_out), as the admin status does not.
 * Returns 0, or -errno after printing why.
 */
int bench_daemon_log_state(struct bench_daemon *d, uint64_t size, struct bench_daemon_status *st);

/**
 * bench_daemon_wait_warm() - wait up to @timeout_ms until @n regions of
 * @size bytes are ready and no region is being made. Returns 0,
 * -ETIMEDOUT (after printing the status), or another -errno.
 */
int bench_daemon_wait_warm(struct bench_daemon *d, uint64_t size, uint64_t n, int timeout_ms);

/* --- processes ----------------------------------------------------------------- */

/**
 * bench_fork_child() - fork() for a client process: the child gets SIGTERM
 * when the benchmark dies and never runs the benchmark's cleanup. Returns
 * what fork() returns (-1 with errno on failure).
 */
pid_t bench_fork_child(void);

/** bench_sleep_ms() - sleep @ms milliseconds, through signals. */
void bench_sleep_ms(unsigned int ms);

#endif /* BHC_BENCH_DAEMON_H */
