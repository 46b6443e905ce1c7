// SPDX-License-Identifier: MIT
/* The reference server of bench-handout; see handout-ref.h. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/falloc.h>
#include <linux/memfd.h>
#include <liburing.h>

#include "handout-ref.h"

#define REF_MAX_AHEAD 16
#define REF_PUNCH 1ull /* user_data bit: a punch, not a region being made */

struct ref_state {
	struct io_uring ring;
	size_t size;
	bool huge;
	unsigned int ahead, n_making, n_ready, n_waiting;
	int ready[REF_MAX_AHEAD];
	int conn[REF_MAX_CLIENTS]; /* -1 once hung up */
	int held[REF_MAX_CLIENTS]; /* the region each client holds, or -1 */
	int waiting[REF_MAX_CLIENTS]; /* clients waiting for a region, oldest first */
};

/* A datagram of one u64 with room for one fd: what a hand-out is. */
struct fd_msg {
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	uint64_t id;
	struct iovec iov;
	struct msghdr mh;
};

static void fd_msg_init(struct fd_msg *m)
{
	m->iov = (struct iovec){ .iov_base = &m->id, .iov_len = sizeof(m->id) };
	m->mh = (struct msghdr){
		.msg_iov = &m->iov,
		.msg_iovlen = 1,
		.msg_control = m->ctrl.buf,
		.msg_controllen = sizeof(m->ctrl.buf),
	};
}

static void send_region(int sock, int fd)
{
	struct fd_msg m;
	struct cmsghdr *cmsg;

	fd_msg_init(&m);
	m.id = (uint64_t)fd;
	cmsg = CMSG_FIRSTHDR(&m.mh);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	(void)sendmsg(sock, &m.mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int submit_fallocate(struct ref_state *st, int fd, int mode, uint64_t data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&st->ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_fallocate(sqe, fd, mode, 0, (off_t)st->size);
	io_uring_sqe_set_data64(sqe, data);
	return io_uring_submit(&st->ring) < 0 ? -EIO : 0;
}

/* Start making regions until @ahead are ready or being made. */
static int top_up(struct ref_state *st)
{
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING |
			     (st->huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
	int fd;

	while (st->n_ready + st->n_making < st->ahead) {
		fd = memfd_create("bench-ref", flags);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)st->size) < 0 ||
		    submit_fallocate(st, fd, 0, (uint64_t)fd << 1)) {
			close(fd);
			return -EIO;
		}
		st->n_making++;
	}
	return 0;
}

static void hand_out(struct ref_state *st, unsigned int client, int fd)
{
	send_region(st->conn[client], fd);
	st->held[client] = fd;
}

static int on_completion(struct ref_state *st, uint64_t data, int res)
{
	int fd = (int)(data >> 1);
	unsigned int client;

	if (data & REF_PUNCH) {
		close(fd);
		return 0;
	}
	st->n_making--;
	if (res < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		close(fd);
		return res < 0 ? res : -errno;
	}
	if (st->n_waiting) {
		client = (unsigned int)st->waiting[0];
		memmove(st->waiting, st->waiting + 1, --st->n_waiting * sizeof(st->waiting[0]));
		hand_out(st, client, fd);
	} else {
		st->ready[st->n_ready++] = fd;
	}
	return 0;
}

/* Read what @client sent; 0, or 1 once it has hung up. */
static int on_request(struct ref_state *st, unsigned int client)
{
	char req;
	ssize_t n;

	while ((n = recv(st->conn[client], &req, 1, MSG_DONTWAIT)) == 1) {
		if (req == 'r' && st->held[client] >= 0) {
			if (submit_fallocate(st, st->held[client],
					     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     ((uint64_t)st->held[client] << 1) | REF_PUNCH) < 0)
				close(st->held[client]);
			st->held[client] = -1;
		} else if (req == 'a' && st->n_ready) {
			hand_out(st, client, st->ready[0]);
			memmove(st->ready, st->ready + 1, --st->n_ready * sizeof(st->ready[0]));
		} else if (req == 'a') {
			st->waiting[st->n_waiting++] = (int)client;
		}
	}
	return n == 0 ? 1 : 0;
}

/* Keep the io_uring workers on the highest-numbered CPU this process may use. */
static void confine_workers(struct ref_state *st)
{
	cpu_set_t allowed, one;
	int cpu;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return;
	for (cpu = CPU_SETSIZE - 1; cpu > 0 && !CPU_ISSET(cpu, &allowed); cpu--)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	(void)io_uring_register_iowq_aff(&st->ring, sizeof(one), &one);
}

static void server_main(struct ref_state *st, unsigned int n_clients)
{
	struct epoll_event ev = { .events = EPOLLIN }, evs[REF_MAX_CLIENTS + 1];
	struct io_uring_cqe *cqe;
	unsigned int i, n_open = n_clients;
	int ep, efd, k, m;
	uint64_t count;

	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep < 0 || efd < 0 || io_uring_queue_init(64, &st->ring, 0) < 0 ||
	    io_uring_register_eventfd(&st->ring, efd) < 0)
		_exit(EXIT_FAILURE);
	confine_workers(st);
	ev.data.u32 = REF_MAX_CLIENTS;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		_exit(EXIT_FAILURE);
	for (i = 0; i < n_clients; i++) {
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, st->conn[i], &ev) < 0)
			_exit(EXIT_FAILURE);
	}
	while (n_open) {
		if (top_up(st) < 0)
			_exit(EXIT_FAILURE);
		m = epoll_wait(ep, evs, REF_MAX_CLIENTS + 1, -1);
		for (k = 0; k < m; k++) {
			i = evs[k].data.u32;
			if (i < REF_MAX_CLIENTS) {
				if (st->conn[i] >= 0 && on_request(st, i)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, st->conn[i], NULL);
					close(st->conn[i]);
					st->conn[i] = -1;
					n_open--;
				}
				continue;
			}
			(void)!read(efd, &count, sizeof(count));
			while (io_uring_peek_cqe(&st->ring, &cqe) == 0) {
				uint64_t data = io_uring_cqe_get_data64(cqe);
				int res = cqe->res;

				io_uring_cqe_seen(&st->ring, cqe);
				if (on_completion(st, data, res) < 0)
					_exit(EXIT_FAILURE);
			}
		}
	}
	_exit(EXIT_SUCCESS);
}

int ref_server_start(struct ref_server *rs, unsigned int n_clients, size_t size, bool huge,
		     unsigned int ahead)
{
	struct ref_state st = { .size = size, .huge = huge, .ahead = ahead };
	int sv[2], r = 0;
	unsigned int i;

	if (!n_clients || n_clients > REF_MAX_CLIENTS || !ahead || ahead > REF_MAX_AHEAD)
		return -EINVAL;
	memset(rs, 0, sizeof(*rs));
	for (i = 0; i < n_clients; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			r = -errno;
			break;
		}
		rs->fd[i] = sv[0];
		st.conn[i] = sv[1];
		st.held[i] = -1;
		rs->n_clients++;
	}
	if (!r) {
		rs->pid = fork();
		if (rs->pid < 0)
			r = -errno;
		if (rs->pid == 0) {
			for (i = 0; i < n_clients; i++)
				close(rs->fd[i]);
			server_main(&st, n_clients);
		}
	}
	for (i = 0; i < rs->n_clients; i++)
		close(st.conn[i]);
	if (r < 0) {
		for (i = 0; i < rs->n_clients; i++)
			close(rs->fd[i]);
		rs->n_clients = 0;
	}
	return r;
}

int ref_cycle(int fd, size_t size)
{
	struct cmsghdr *cmsg;
	struct fd_msg m;
	int region;
	void *p;

	fd_msg_init(&m);
	if (send(fd, "a", 1, MSG_NOSIGNAL) != 1 ||
	    recvmsg(fd, &m.mh, MSG_CMSG_CLOEXEC) != sizeof(m.id))
		return -EPIPE;
	cmsg = CMSG_FIRSTHDR(&m.mh);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	memcpy(&region, CMSG_DATA(cmsg), sizeof(int));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, region, 0);
	close(region);
	if (p == MAP_FAILED)
		return -ENOMEM;
	madvise(p, size, MADV_DONTFORK);
	memset(p, 0x5a, 64);
	munmap(p, size);
	return send(fd, "r", 1, MSG_NOSIGNAL) == 1 ? 0 : -EPIPE;
}

int ref_server_stop(struct ref_server *rs)
{
	unsigned int i;
	int status;

	for (i = 0; i < rs->n_clients; i++)
		close(rs->fd[i]);
	rs->n_clients = 0;
	if (rs->pid <= 0 || waitpid(rs->pid, &status, 0) < 0)
		return -ECHILD;
	rs->pid = 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}
