/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "uring.h"

static void op_complete(struct uring *uring, struct uring_op *op, int res);

const char *uring_backend(const struct uring *uring)
{
	return uring->have_ring ? "io_uring" : "thread pool";
}

static void work_run(uv_work_t *work)
{
	struct uring_op *op = container_of(work, struct uring_op, work);

	op->res = fallocate(op->fd, op->mode, (off_t)op->offset, (off_t)op->len) < 0 ? -errno : 0;
}

static void work_after(uv_work_t *work, int status)
{
	struct uring_op *op = container_of(work, struct uring_op, work);

	op_complete(op->uring, op, status == UV_ECANCELED ? -ECANCELED : op->res);
}

static void op_start_thread(struct uring *uring, struct uring_op *op)
{
	int r;

	r = uv_queue_work(uring->loop, &op->work, work_run, work_after);
	if (r < 0) {
		/* Only invalid arguments make uv_queue_work() fail. */
		log_err("uv_queue_work: %s", uv_strerror(r));
		abort();
	}
}

static void op_start(struct uring *uring, struct uring_op *op)
{
	struct io_uring_sqe *sqe;
	int r;

	uring->n_inflight++;
	if (!uring->have_ring) {
		op_start_thread(uring, op);
		return;
	}
	sqe = io_uring_get_sqe(&uring->ring);
	if (!sqe) {
		op_start_thread(uring, op);
		return;
	}
	io_uring_prep_fallocate(sqe, op->fd, op->mode, (off_t)op->offset, (off_t)op->len);
	io_uring_sqe_set_data(sqe, op);
	r = io_uring_submit(&uring->ring);
	if (r < 0) {
		/* The sqe stays in the ring; take it back by running the op elsewhere. */
		log_warning("io_uring_submit: %s; running the operation in a thread", strerror(-r));
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, NULL);
		op_start_thread(uring, op);
	}
}

/* Start queued operations while there is room. */
static void pump(struct uring *uring)
{
	struct uring_op *op;

	while (!uring->stopping && uring->n_inflight < uring->max_inflight &&
	       !list_empty(&uring->queue)) {
		op = list_first_entry(&uring->queue, struct uring_op, link);
		list_del(&op->link);
		uring->n_queued--;
		op_start(uring, op);
	}
}

static void poll_closed(uv_handle_t *handle)
{
	struct uring *uring = handle->data;

	io_uring_queue_exit(&uring->ring);
	close(uring->event_fd);
	uring->event_fd = -1;
	uring->have_ring = false;
	uring->poll_open = false;
	if (uring->stopped)
		uring->stopped(uring);
}

static void maybe_stopped(struct uring *uring)
{
	if (!uring->stopping || uring->n_inflight || !uring->stopped)
		return;
	if (uring->poll_open) {
		if (!uv_is_closing((uv_handle_t *)&uring->poll))
			uv_close((uv_handle_t *)&uring->poll, poll_closed);
		return;
	}
	uring->stopped(uring);
	uring->stopped = NULL;
}

static void op_complete(struct uring *uring, struct uring_op *op, int res)
{
	uring->n_inflight--;
	uring->n_done++;
	op->busy = false;
	pump(uring);
	op->done(op, res);
	maybe_stopped(uring);
}

static void reap(struct uring *uring)
{
	struct io_uring_cqe *cqe;
	struct uring_op *op;
	int res;

	while (uring->have_ring && io_uring_peek_cqe(&uring->ring, &cqe) == 0) {
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&uring->ring, cqe);
		if (op) /* NULL: a cancel request or a nop */
			op_complete(uring, op, res);
	}
}

static void on_event(uv_poll_t *poll, int status, int events)
{
	struct uring *uring = poll->data;
	uint64_t count;

	if (read(uring->event_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warning("reading the io_uring eventfd: %m");
	reap(uring);
}

int uring_init(struct uring *uring, uv_loop_t *loop, unsigned int max_inflight, bool use_io_uring)
{
	unsigned int entries = max_inflight < 8 ? 16 : 2 * max_inflight;
	int r;

	memset(uring, 0, sizeof(*uring));
	uring->loop = loop;
	uring->max_inflight = max_inflight ? max_inflight : 1;
	uring->event_fd = -1;
	list_init(&uring->queue);
	if (!use_io_uring) {
		log_notice("io_uring disabled by [pool] io_uring = no: region operations run "
			   "in a thread pool");
		return 0;
	}
	r = io_uring_queue_init(entries, &uring->ring, 0);
	if (r < 0) {
		log_warning("io_uring is unavailable (%s): region operations run in a thread "
			    "pool instead",
			    strerror(-r));
		return 0;
	}
	uring->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (uring->event_fd < 0) {
		r = -errno;
		goto out_exit;
	}
	r = io_uring_register_eventfd(&uring->ring, uring->event_fd);
	if (r < 0) {
		log_warning("io_uring_register_eventfd: %s: region operations run in a thread "
			    "pool instead",
			    strerror(-r));
		close(uring->event_fd);
		uring->event_fd = -1;
		io_uring_queue_exit(&uring->ring);
		return 0;
	}
	r = uv_poll_init(loop, &uring->poll, uring->event_fd);
	if (r < 0)
		goto out_close_fd;
	uring->poll.data = uring;
	uring->poll_open = true;
	uring->have_ring = true;
	r = uv_poll_start(&uring->poll, UV_READABLE, on_event);
	if (r < 0)
		goto out_close_poll;
	return 0;

out_close_poll:
	/* poll_closed() tears the ring down once the loop has closed the handle. */
	uv_close((uv_handle_t *)&uring->poll, poll_closed);
	return r;
out_close_fd:
	close(uring->event_fd);
	uring->event_fd = -1;
out_exit:
	io_uring_queue_exit(&uring->ring);
	return r;
}

int uring_fallocate(struct uring *uring, struct uring_op *op, int fd, int mode, uint64_t offset,
		    uint64_t len)
{
	if (uring->stopping)
		return -ESHUTDOWN;
	op->uring = uring;
	op->fd = fd;
	op->mode = mode;
	op->offset = offset;
	op->len = len;
	op->res = 0;
	op->busy = true;
	if (uring->n_inflight < uring->max_inflight && list_empty(&uring->queue)) {
		op_start(uring, op);
	} else {
		list_add_tail(&op->link, &uring->queue);
		uring->n_queued++;
	}
	return 0;
}

int uring_set_cpus(struct uring *uring, const cpu_set_t *set)
{
	if (!uring->have_ring)
		return -EOPNOTSUPP;
	return io_uring_register_iowq_aff(&uring->ring, sizeof(*set), set);
}

void uring_stop(struct uring *uring, void (*stopped)(struct uring *uring))
{
	struct io_uring_sqe *sqe;
	struct uring_op *op;

	uring->stopping = true;
	uring->stopped = stopped;
	while (!list_empty(&uring->queue)) {
		op = list_first_entry(&uring->queue, struct uring_op, link);
		list_del(&op->link);
		uring->n_queued--;
		op->busy = false;
		op->done(op, -ECANCELED);
	}
	if (uring->have_ring && uring->n_inflight) {
		sqe = io_uring_get_sqe(&uring->ring);
		if (sqe) {
			io_uring_prep_cancel(sqe, NULL, IORING_ASYNC_CANCEL_ANY);
			io_uring_sqe_set_data(sqe, NULL);
			io_uring_submit(&uring->ring);
		}
		log_info("waiting for %u region operations to finish", uring->n_inflight);
	}
	maybe_stopped(uring);
}
