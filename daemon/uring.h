/* SPDX-License-Identifier: MIT */
/*
 * The io_uring bridge: slow kernel work on region files (fallocate to
 * reserve and pre-fault, hole punching to give pages back) runs off the
 * libuv loop. Completions come back through an eventfd registered with the
 * ring and watched by a uv_poll_t. At most max_inflight operations run at
 * once; the rest wait in a FIFO. Without io_uring (io_uring_queue_init
 * failing, e.g. under seccomp, or [pool] io_uring = no) the same operations
 * run in libuv's thread pool instead, still off the loop.
 */
#ifndef BHC_DAEMON_URING_H
#define BHC_DAEMON_URING_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>
#include <uv.h>

#include "list.h"

struct uring;

/*
 * One operation. Its owner embeds it, sets @done and passes it to
 * uring_fallocate(); the owner must stay alive until @done has run.
 */
struct uring_op {
	/* called on the loop with 0 or -errno (-ECANCELED when stopped) */
	void (*done)(struct uring_op *op, int res);
	/* private to uring.c */
	struct uring *uring;
	int fd;
	int mode;
	uint64_t offset;
	uint64_t len;
	int res;
	bool busy; /* between uring_fallocate() and @done */
	struct list_head link; /* uring->queue while waiting for a slot */
	uv_work_t work; /* the thread-pool fallback */
};

/* The bridge; embedded in struct server. */
struct uring {
	uv_loop_t *loop;
	struct io_uring ring;
	bool have_ring; /* else operations go to the thread pool */
	int event_fd; /* registered with the ring, -1 without */
	uv_poll_t poll; /* watches event_fd */
	bool poll_open;
	unsigned int max_inflight;
	unsigned int n_inflight; /* submitted and not yet completed */
	unsigned int n_queued;
	struct list_head queue; /* struct uring_op.link, oldest first */
	uint64_t n_done; /* operations completed, for statistics */
	bool stopping;
	void (*stopped)(struct uring *uring); /* called once drained and closed */
};

/**
 * uring_init() - set up the bridge on @loop with at most @max_inflight
 * operations at once. With @use_io_uring false, or when the kernel refuses
 * io_uring, the thread pool is used (and a warning says why).
 * Returns 0 or -errno.
 */
int uring_init(struct uring *uring, uv_loop_t *loop, unsigned int max_inflight, bool use_io_uring);

/**
 * uring_fallocate() - fallocate(@fd, @mode, @offset, @len) off the loop;
 * @op->done runs on the loop with the result. @fd must stay open until then.
 * Returns 0, or -ESHUTDOWN once the bridge is stopping (@done is not called).
 */
int uring_fallocate(struct uring *uring, struct uring_op *op, int fd, int mode, uint64_t offset,
		    uint64_t len);

/**
 * uring_set_cpus() - let the kernel's io_uring workers, which do the
 * fallocates, run only on the CPUs in @set (IORING_REGISTER_IOWQ_AFF,
 * Linux 5.14). Returns 0, -EOPNOTSUPP without a ring (the thread pool is
 * left alone), or -errno from the kernel.
 */
int uring_set_cpus(struct uring *uring, const cpu_set_t *set);

/**
 * uring_stop() - refuse new operations, complete the queued ones with
 * -ECANCELED, ask the kernel to cancel those in flight, wait for them and
 * close; @stopped runs when all of that is done.
 */
void uring_stop(struct uring *uring, void (*stopped)(struct uring *uring));

/** uring_backend() - "io_uring" or "thread pool". */
const char *uring_backend(const struct uring *uring);

#endif
