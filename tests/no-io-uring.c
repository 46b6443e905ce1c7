/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for tests: io_uring_queue_init() fails with ENOSYS, as it
 * does under a seccomp filter or a kernel without io_uring, so that the
 * daemon's thread-pool fallback is exercised for real.
 */
#include <errno.h>

struct io_uring;

__attribute__((visibility("default"))) int
io_uring_queue_init(unsigned int entries, struct io_uring *ring, unsigned int flags);

int io_uring_queue_init(unsigned int entries, struct io_uring *ring, unsigned int flags)
{
	return -ENOSYS;
}
