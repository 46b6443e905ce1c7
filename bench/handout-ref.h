/* SPDX-License-Identifier: MIT */
/*
 * The reference server of bench-handout: the least any server that hands
 * out one fresh memfd per request must do, to tell what the machine allows
 * from what bhc-arenad costs. One process, epoll and io_uring as in the
 * daemon: it keeps @ahead regions made ahead (memfd_create, ftruncate,
 * fallocate through io_uring with its workers on one CPU, as bhc-arenad's
 * [pool] io_cpus = auto on one NUMA node, then the seals), answers a
 * request with a region's fd (SCM_RIGHTS) and punches a region through
 * io_uring when its client gives it back. No pool classes, no accounting,
 * no limits, no validation, no replies to releases (its client writes the
 * info header, as the library does).
 */
#ifndef BHC_BENCH_HANDOUT_REF_H
#define BHC_BENCH_HANDOUT_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define REF_MAX_CLIENTS 8

struct ref_server {
	pid_t pid;
	unsigned int n_clients;
	int fd[REF_MAX_CLIENTS]; /* the clients' ends, one per worker */
};

/*
 * ref_server_start() - fork the server for @n_clients, regions of @size
 * bytes (hugetlb 2 MiB pages if @huge, else shmem), @ahead made ahead.
 * Returns 0 or -errno.
 */
int ref_server_start(struct ref_server *rs, unsigned int n_clients, size_t size, bool huge,
		     unsigned int ahead);

/*
 * ref_cycle() - one hand-out on @fd, done as the library does it: ask,
 * take the fd, map the region, mark it MADV_DONTFORK, close the fd, write
 * its 64-byte info header, unmap it, give it back. Returns 0 or -errno.
 */
int ref_cycle(int fd, size_t size);

/* ref_server_stop() - hang up on the server and wait for it; 0 if it exited cleanly. */
int ref_server_stop(struct ref_server *rs);

#endif
