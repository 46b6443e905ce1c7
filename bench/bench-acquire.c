// SPDX-License-Identifier: MIT
/*
 * bench-acquire: how long bhc_arena_new() takes to lease a warm 64 MiB
 * region from bhc-arenad (ACQUIRE, GRANT with the memfd, mmap, header
 * check; the connection is made beforehand), with 1
 * and with 16 client processes asking at once, against what a process pays
 * to get the same memory itself: mmap(MAP_ANONYMOUS | MAP_PRIVATE |
 * MAP_HUGETLB | MAP_POPULATE) of 64 MiB.
 *
 * The benchmark runs its own daemon with a warm pool of as many regions as
 * there are clients. A round waits until the pool is full and the daemon
 * idle (no region being made), then every client takes one sample at once;
 * so every sample is a warm hand-out, and the acquisitions are paced to the
 * daemon's refill rate instead of piling refills up behind a burst. A
 * baseline round does the same with the local mmap. Each sample is timed
 * alone; releasing the region or unmapping is outside the timed part.
 *
 * Two more phases, paced alike, measure the parts a lease cannot avoid, to
 * tell the daemon's own cost from the machine's: an empty request and reply
 * through a SOCK_SEQPACKET socket to a one-thread epoll echo server (the
 * two process wake-ups of any round trip), and the mapping the library makes
 * of a grant (mmap, MADV_DONTFORK, the info header written) of a resident
 * 64 MiB hugetlb memfd the client made itself.
 *
 * Phases alternate round by round, the first one rotating.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/memfd.h>

#include <bhc/arena.h>

#include "bench-common.h"
#include "bench-daemon.h"

#define REGION_SIZE ((size_t)64 << 20)
#define PAGE_2M_KB 2048ul
#define TARGET_P50_US 50.0
#define TARGET_P99_US 250.0
#define TARGET_SPEEDUP 20.0
#define TARGET_FLOOR_RATIO 1.2
#define WAIT_WARM_MS 120000
#define MAX_CLIENT_CASES 2
#define MAX_CLIENTS 16
#define PING_SIZE 32 /* an ACQUIRE's size */
#define PONG_SIZE 48 /* a GRANT's size */

enum phase {
	PHASE_DAEMON, /* bhc_arena_new() from the daemon */
	PHASE_LOCAL, /* the baseline: mmap HUGETLB | POPULATE */
	PHASE_IPC, /* part: a round trip to an echo server */
	PHASE_MAP, /* part: mapping a resident hugetlb memfd as the library does */
	N_PHASES,
};

/* Names of the phases in the samples file. */
static const char *const phase_key[N_PHASES] = {
	[PHASE_DAEMON] = "daemon",
	[PHASE_LOCAL] = "local",
	[PHASE_IPC] = "ipc",
	[PHASE_MAP] = "map",
};

static const char phase_cmd[N_PHASES] = {
	[PHASE_DAEMON] = 'd',
	[PHASE_LOCAL] = 'l',
	[PHASE_IPC] = 'i',
	[PHASE_MAP] = 'm',
};

struct acq_config {
	unsigned int clients[MAX_CLIENT_CASES]; /* client processes of each case */
	size_t n_cases;
	unsigned int warm; /* regions kept warm: at least the clients of the largest case */
	unsigned int n_samples; /* samples of each case and phase, all clients together */
};

/* What one client process reports, in memory shared with the parent. */
struct client_slot {
	int err; /* 0 or -errno of the first failure */
	char why[160];
	char backing[N_PHASES][16]; /* backing of what each phase got */
};

/* One case (a number of clients) under way; lives in MAP_SHARED memory. */
struct acq_shared {
	unsigned int n_clients;
	unsigned int n_rounds; /* one sample per client and phase per round */
	bool huge; /* hugetlb can be had (else small pages, labelled) */
	struct client_slot slots[MAX_CLIENTS];
	double samples[]; /* [phase][client][round], ns */
};

/* Results of one case. */
struct acq_result {
	unsigned int n_clients;
	uint64_t n_warm; /* daemon samples the daemon counts as warm; UINT64_MAX: unknown */
	struct bench_stats st[N_PHASES];
	char backing[N_PHASES][16];
};

static double *sample_at(struct acq_shared *sh, enum phase ph, unsigned int client, size_t i)
{
	return &sh->samples[((size_t)ph * sh->n_clients + client) * sh->n_rounds + i];
}

static void set_backing(struct client_slot *slot, enum phase ph, const char *name)
{
	if (!slot->backing[ph][0])
		snprintf(slot->backing[ph], sizeof(slot->backing[ph]), "%s", name);
	else if (strcmp(slot->backing[ph], name) != 0)
		snprintf(slot->backing[ph], sizeof(slot->backing[ph]), "mixed");
}

/* --- the client processes ---------------------------------------------------------- */

/* A client's own things. */
struct client {
	struct acq_shared *sh;
	struct client_slot *slot;
	int echo_fd; /* its socket to the echo server */
	int memfd; /* a resident 64 MiB memfd for PHASE_MAP */
};

static double fail(struct client *c, int err, const char *what)
{
	snprintf(c->slot->why, sizeof(c->slot->why), "%s: %s", what, strerror(-err));
	return err;
}

/* One timed bhc_arena_new() from the daemon; release untimed. Returns ns or -errno. */
static double daemon_sample(struct client *c)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_DAEMON };
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	uint64_t t0, t1;
	int r;

	t0 = bench_now_ns();
	r = bhc_arena_new_opts(REGION_SIZE - BHC_ARENA_REGION_HEADER_SIZE, &opts, &arena);
	t1 = bench_now_ns();
	if (r < 0)
		return fail(c, r, "bhc_arena_new_opts (daemon)");
	r = bhc_arena_stats(arena, &st);
	if (r == 0 && (st.source != BHC_ARENA_SOURCE_DAEMON || st.region_size != REGION_SIZE)) {
		snprintf(c->slot->why, sizeof(c->slot->why),
			 "got a %zu-byte region from the %s source, not 64 MiB from the daemon",
			 st.region_size, st.source_name);
		r = -EPROTO;
	}
	if (r == 0)
		set_backing(c->slot, PHASE_DAEMON, st.backing_name);
	bhc_arena_free(arena);
	return r < 0 ? r : (double)(t1 - t0);
}

/* One timed mmap of 64 MiB, hugetlb and populated (the baseline); munmap untimed. */
static double local_sample(struct client *c)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (c->sh->huge ? MAP_HUGETLB : 0);
	uint64_t t0, t1;
	void *p;

	t0 = bench_now_ns();
	p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, flags, -1, 0);
	t1 = bench_now_ns();
	if (p == MAP_FAILED)
		return fail(c, -errno, c->sh->huge ? "mmap(64 MiB, MAP_HUGETLB)" : "mmap(64 MiB)");
	bench_touch(p, 1);
	munmap(p, REGION_SIZE);
	set_backing(c->slot, PHASE_LOCAL, c->sh->huge ? "hugetlb-2M" : "small");
	return (double)(t1 - t0);
}

/* One timed round trip of an ACQUIRE-sized message to the echo server. */
static double ipc_sample(struct client *c)
{
	char buf[PONG_SIZE] = { 0 };
	uint64_t t0, t1;
	ssize_t n;

	t0 = bench_now_ns();
	n = send(c->echo_fd, buf, PING_SIZE, 0);
	if (n == PING_SIZE)
		n = recv(c->echo_fd, buf, sizeof(buf), 0);
	t1 = bench_now_ns();
	if (n != PONG_SIZE)
		return fail(c, n < 0 ? -errno : -EPROTO, "echo round trip");
	set_backing(c->slot, PHASE_IPC, "-");
	return (double)(t1 - t0);
}

/*
 * One timed mapping of the client's own resident memfd, as the library maps
 * a grant: hugetlb is mapped, marked MADV_DONTFORK and its info header
 * written (the rest is faulted in by the program's first touches); shmem is
 * populated.
 */
static double map_sample(struct client *c)
{
	int populate = c->sh->huge ? 0 : MAP_POPULATE;
	uint64_t t0, t1;
	void *p;

	t0 = bench_now_ns();
	p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | populate, c->memfd, 0);
	if (p != MAP_FAILED) {
		madvise(p, REGION_SIZE, MADV_DONTFORK);
		memset(p, 0x5a, 64);
	}
	t1 = bench_now_ns();
	if (p == MAP_FAILED)
		return fail(c, -errno, "mmap(memfd)");
	bench_touch(p, 1);
	munmap(p, REGION_SIZE);
	set_backing(c->slot, PHASE_MAP, c->sh->huge ? "hugetlb-2M" : "shmem");
	return (double)(t1 - t0);
}

static int make_memfd(struct client *c)
{
	unsigned int flags = MFD_CLOEXEC | (c->sh->huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
	int r;

	c->memfd = memfd_create("bench-acquire", flags);
	if (c->memfd < 0)
		return (int)fail(c, -errno, "memfd_create");
	if (ftruncate(c->memfd, (off_t)REGION_SIZE) < 0 ||
	    fallocate(c->memfd, 0, 0, (off_t)REGION_SIZE) < 0) {
		r = -errno;
		close(c->memfd);
		return (int)fail(c, r, "memfd ftruncate/fallocate");
	}
	return 0;
}

/* A client process: a warm-up acquire (connects), then one sample per command. */
static void client_main(struct acq_shared *sh, unsigned int idx, int cmd_fd, int done_fd,
			int echo_fd)
{
	struct client c = { .sh = sh, .slot = &sh->slots[idx], .echo_fd = echo_fd };
	unsigned int round[N_PHASES] = { 0 };
	char cmd, done = 0;
	double v;
	int ph;

	v = daemon_sample(&c);
	if (v < 0)
		c.slot->err = (int)v;
	else
		c.slot->err = make_memfd(&c);
	memset(c.slot->backing, 0, sizeof(c.slot->backing));
	if (write(done_fd, &done, 1) != 1)
		_exit(EXIT_FAILURE);
	while (read(cmd_fd, &cmd, 1) == 1 && cmd != 'q') {
		for (ph = 0; ph < N_PHASES && phase_cmd[ph] != cmd; ph++)
			;
		switch (ph) {
		case PHASE_DAEMON:
			v = daemon_sample(&c);
			break;
		case PHASE_LOCAL:
			v = local_sample(&c);
			break;
		case PHASE_IPC:
			v = ipc_sample(&c);
			break;
		case PHASE_MAP:
			v = map_sample(&c);
			break;
		default:
			v = fail(&c, -EINVAL, "unknown command");
		}
		if (v < 0 && !c.slot->err)
			c.slot->err = (int)v;
		else if (v >= 0 && round[ph] < sh->n_rounds)
			*sample_at(sh, ph, idx, round[ph]++) = v;
		if (write(done_fd, &done, 1) != 1)
			break;
	}
	_exit(c.slot->err ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* The echo server: one thread, epoll, like the daemon's loop; exits when all hang up. */
static void echo_main(const int *fds, unsigned int n)
{
	struct epoll_event ev[MAX_CLIENTS];
	unsigned int i, n_open = n;
	char buf[PONG_SIZE] = { 0 };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		_exit(EXIT_FAILURE);
	for (i = 0; i < n; i++) {
		ev[0] = (struct epoll_event){ .events = EPOLLIN, .data.fd = fds[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev[0]) < 0)
			_exit(EXIT_FAILURE);
	}
	while (n_open > 0) {
		int k, m = epoll_wait(ep, ev, MAX_CLIENTS, -1);

		for (k = 0; k < m; k++) {
			int fd = ev[k].data.fd;

			if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0 ||
			    send(fd, buf, PONG_SIZE, MSG_DONTWAIT) != PONG_SIZE) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				n_open--;
			}
		}
	}
	_exit(EXIT_SUCCESS);
}

/* --- the parent's end ---------------------------------------------------------------- */

struct clients {
	unsigned int n;
	pid_t pid[MAX_CLIENTS];
	int cmd_fd[MAX_CLIENTS];
	int done_fd; /* every client writes a byte here when its sample is taken */
	pid_t echo_pid;
};

static int clients_check(struct acq_shared *sh)
{
	unsigned int i;

	for (i = 0; i < sh->n_clients; i++) {
		if (sh->slots[i].err) {
			fprintf(stderr, "bench-acquire: client %u: %s\n", i, sh->slots[i].why);
			return sh->slots[i].err;
		}
	}
	return 0;
}

static int clients_wait(struct clients *c, unsigned int n)
{
	char byte;

	for (; n > 0; n--) {
		if (read(c->done_fd, &byte, 1) != 1)
			return -EPIPE;
	}
	return 0;
}

static int clients_command(struct clients *c, struct acq_shared *sh, char cmd)
{
	unsigned int i;
	int r;

	for (i = 0; i < c->n; i++) {
		if (write(c->cmd_fd[i], &cmd, 1) != 1)
			return -EPIPE;
	}
	r = clients_wait(c, c->n);
	return r < 0 ? r : clients_check(sh);
}

static void clients_stop(struct clients *c)
{
	unsigned int i;
	int status;

	for (i = 0; i < c->n; i++) {
		close(c->cmd_fd[i]);
		waitpid(c->pid[i], &status, 0);
	}
	if (c->echo_pid > 0)
		waitpid(c->echo_pid, &status, 0);
	close(c->done_fd);
	c->n = 0;
	c->echo_pid = 0;
}

static void close_all(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Fork the echo server and @sh->n_clients clients, and wait until each
 * client has made its warm-up acquire (which connects it) and its memfd.
 */
static int clients_start(struct clients *c, struct acq_shared *sh)
{
	int done[2], cmd[2], r = 0, client_end[MAX_CLIENTS], server_end[MAX_CLIENTS];
	unsigned int i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < MAX_CLIENTS; i++)
		client_end[i] = server_end[i] = -1;
	for (i = 0; i < sh->n_clients; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			r = -errno;
			goto out_close;
		}
		client_end[i] = sv[0];
		server_end[i] = sv[1];
	}
	c->echo_pid = bench_fork_child();
	if (c->echo_pid < 0) {
		r = -errno;
		goto out_close;
	}
	if (c->echo_pid == 0) {
		close_all(client_end, sh->n_clients);
		echo_main(server_end, sh->n_clients);
	}
	close_all(server_end, sh->n_clients);
	if (pipe2(done, O_CLOEXEC) < 0) {
		r = -errno;
		goto out_close;
	}
	c->done_fd = done[0];
	for (i = 0; i < sh->n_clients; i++) {
		if (pipe2(cmd, O_CLOEXEC) < 0) {
			r = -errno;
			break;
		}
		c->pid[i] = bench_fork_child();
		if (c->pid[i] < 0) {
			r = -errno;
			close(cmd[0]);
			close(cmd[1]);
			break;
		}
		if (c->pid[i] == 0) {
			close(cmd[1]);
			close(done[0]);
			client_main(sh, i, cmd[0], done[1], client_end[i]);
		}
		close(cmd[0]);
		close(client_end[i]);
		client_end[i] = -1;
		c->cmd_fd[i] = cmd[1];
		c->n++;
	}
	close(done[1]);
	close_all(client_end, sh->n_clients);
	if (r == 0)
		r = clients_wait(c, c->n);
	if (r == 0)
		r = clients_check(sh);
	if (r < 0)
		clients_stop(c);
	return r;

out_close:
	close_all(client_end, sh->n_clients);
	close_all(server_end, sh->n_clients);
	if (c->echo_pid > 0)
		waitpid(c->echo_pid, NULL, 0);
	return r;
}

/* Every sample of a case, as acquire-samples-<clients>.csv: phase, client, round, µs. */
static int save_samples(struct acq_shared *sh, const struct bench_opts *opts)
{
	char name[64], *path;
	unsigned int ph, i, k;
	FILE *f;
	int r;

	snprintf(name, sizeof(name), "acquire-samples-%u.csv", sh->n_clients);
	r = bench_out_path(opts, name, &path);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	f = fopen(path, "we");
	free(path);
	if (!f)
		return -errno;
	fprintf(f, "phase,client,round,us\r\n");
	for (ph = 0; ph < N_PHASES; ph++) {
		for (i = 0; i < sh->n_clients; i++) {
			for (k = 0; k < sh->n_rounds; k++)
				fprintf(f, "%s,%u,%u,%.3f\r\n", phase_key[ph], i, k,
					*sample_at(sh, ph, i, k) / 1e3);
		}
	}
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

static int run_case(const struct acq_config *cfg, unsigned int n_clients, bool huge,
		    struct bench_daemon *d, const struct bench_opts *opts, struct acq_result *res)
{
	unsigned int n_rounds = cfg->n_samples / n_clients, round, i, k;
	size_t n_samples = (size_t)n_rounds * n_clients;
	size_t bytes = sizeof(struct acq_shared) + N_PHASES * n_samples * sizeof(double);
	struct bench_daemon_status st0, st1;
	struct clients c;
	struct acq_shared *sh;
	int r;

	sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -errno;
	sh->n_clients = n_clients;
	sh->n_rounds = n_rounds;
	sh->huge = huge;
	r = clients_start(&c, sh);
	if (r < 0)
		goto out_unmap;
	/* the log, not the admin status: it counts warm hand-outs */
	r = bench_daemon_log_state(d, REGION_SIZE, &st0);
	if (r < 0)
		goto out_stop;
	for (round = 0; round < n_rounds; round++) {
		for (k = 0; k < N_PHASES; k++) {
			enum phase ph = (round + k) % N_PHASES;

			/* Pool full and idle before every phase: all paced alike. */
			r = bench_daemon_wait_warm(d, REGION_SIZE, cfg->warm, WAIT_WARM_MS);
			if (r < 0)
				goto out_stop;
			r = clients_command(&c, sh, phase_cmd[ph]);
			if (r < 0)
				goto out_stop;
		}
	}
	r = bench_daemon_log_state(d, REGION_SIZE, &st1);
	if (r < 0)
		goto out_stop;
	r = save_samples(sh, opts);
	if (r < 0)
		fprintf(stderr, "bench-acquire: cannot write the samples: %s\n", strerror(-r));
	res->n_clients = n_clients;
	res->n_warm = UINT64_MAX;
	if (st0.warm_handed_out != UINT64_MAX && st1.warm_handed_out != UINT64_MAX)
		res->n_warm = st1.warm_handed_out - st0.warm_handed_out;
	if (st1.grants - st0.grants != n_samples) {
		fprintf(stderr, "bench-acquire: the daemon granted %llu regions for %zu samples\n",
			(unsigned long long)(st1.grants - st0.grants), n_samples);
		r = -EPROTO;
		goto out_stop;
	}
	for (k = 0; k < N_PHASES; k++) {
		r = bench_stats_compute(sample_at(sh, k, 0, 0), n_samples, &res->st[k]);
		if (r < 0)
			goto out_stop;
		snprintf(res->backing[k], sizeof(res->backing[k]), "%s", sh->slots[0].backing[k]);
		for (i = 1; i < n_clients; i++) {
			if (strcmp(sh->slots[i].backing[k], res->backing[k]) != 0)
				snprintf(res->backing[k], sizeof(res->backing[k]), "mixed");
		}
	}

out_stop:
	clients_command(&c, sh, 'q');
	clients_stop(&c);
out_unmap:
	munmap(sh, bytes);
	return r;
}

/* --- report ---------------------------------------------------------------------------- */

static void verdict(struct bench_table *t, const char *what, const char *measured,
		    const char *target, bool met)
{
	bench_table_row(t);
	bench_table_cell(t, "%s", what);
	bench_table_cell(t, "%s", measured);
	bench_table_cell(t, "%s", target);
	bench_table_cell(t, "%s", met ? "met" : "NOT MET");
}

static const char *phase_name(enum phase ph, bool huge)
{
	switch (ph) {
	case PHASE_DAEMON:
		return "daemon: bhc_arena_new";
	case PHASE_LOCAL:
		return huge ? "local: mmap HUGETLB|POPULATE" : "local: mmap POPULATE (no hugetlb)";
	case PHASE_IPC:
		return "part: IPC round trip (echo server)";
	default:
		return huge ? "part: mmap + header write, own memfd" :
			      "part: mmap POPULATE of own memfd";
	}
}

static void table_row(struct bench_table *t, const struct acq_result *res, enum phase ph, bool huge)
{
	const struct bench_stats *st = &res->st[ph];

	bench_table_row(t);
	bench_table_cell(t, "%u", res->n_clients);
	bench_table_cell(t, "%s", phase_name(ph, huge));
	bench_table_cell(t, "%s", res->backing[ph]);
	bench_table_cell(t, "%zu", st->n);
	if (ph != PHASE_DAEMON)
		bench_table_cell(t, "%s", "-");
	else if (res->n_warm == UINT64_MAX)
		bench_table_cell(t, "%s", "paced");
	else
		bench_table_cell(t, "%llu", (unsigned long long)res->n_warm);
	bench_table_cell(t, "%.1f", st->p50 / 1e3);
	bench_table_cell(t, "%.1f", st->p99 / 1e3);
	bench_table_cell(t, "%.1f", st->max / 1e3);
	if (ph == PHASE_LOCAL)
		bench_table_cell(t, "%.0fx", st->p50 / res->st[PHASE_DAEMON].p50);
	else
		bench_table_cell(t, "%s", "-");
}

static int report(const struct acq_config *cfg, const struct acq_result *res,
		  const struct bench_hugepages *hp, const struct bench_opts *opts)
{
	static const struct bench_column cols[] = {
		{ "clients", false }, { "what", true },	   { "backing", true },
		{ "samples", false }, { "warm", false },   { "p50 µs", false },
		{ "p99 µs", false },  { "max µs", false }, { "local/daemon p50", false },
	};
	static const struct bench_column vcols[] = {
		{ "comparison", true },
		{ "measured", false },
		{ "target", false },
		{ "verdict", true },
	};
	struct bench_table *t, *v;
	char title[256], what[96], measured[64], target[64];
	size_t i;
	int k, r;

	snprintf(title, sizeof(title),
		 "acquire latency, warm 64 MiB region (connect excluded, mmap included); "
		 "hugetlb: %s",
		 hp->ok ? "reserved" : hp->why);
	r = bench_table_new(title, cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	for (i = 0; i < cfg->n_cases; i++) {
		if (i)
			bench_table_add_rule(t);
		for (k = 0; k < N_PHASES; k++)
			table_row(t, &res[i], k, hp->ok);
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "acquire");
	bench_table_free(t);
	if (r < 0)
		return r;

	r = bench_table_new(opts->quick ? "targets (quick run: the verdicts mean nothing)" :
					  "targets",
			    vcols, ARRAY_SIZE(vcols), &v);
	if (r < 0)
		return r;
	for (i = 0; i < cfg->n_cases; i++) {
		const struct bench_stats *dm = &res[i].st[PHASE_DAEMON];
		const struct bench_stats *lo = &res[i].st[PHASE_LOCAL];
		double floor_ns;
		unsigned int n = res[i].n_clients;
		const char *s = n == 1 ? "" : "s";

		snprintf(what, sizeof(what), "daemon p50, %u client%s", n, s);
		snprintf(measured, sizeof(measured), "%.1f µs", dm->p50 / 1e3);
		snprintf(target, sizeof(target), "< %.0f µs", TARGET_P50_US);
		verdict(v, what, measured, target, dm->p50 / 1e3 < TARGET_P50_US);
		snprintf(what, sizeof(what), "daemon p99, %u client%s", n, s);
		snprintf(measured, sizeof(measured), "%.1f µs", dm->p99 / 1e3);
		snprintf(target, sizeof(target), "< %.0f µs", TARGET_P99_US);
		verdict(v, what, measured, target, dm->p99 / 1e3 < TARGET_P99_US);
		/* the floor: what any lease pays, a round trip and the mapping */
		floor_ns = res[i].st[PHASE_IPC].p50 + res[i].st[PHASE_MAP].p50;
		snprintf(what, sizeof(what), "daemon p50 / floor (echo + map p50), %u client%s", n,
			 s);
		snprintf(measured, sizeof(measured), "%.2fx of %.1f µs", dm->p50 / floor_ns,
			 floor_ns / 1e3);
		snprintf(target, sizeof(target), "<= %.1fx", TARGET_FLOOR_RATIO);
		verdict(v, what, measured, target, dm->p50 <= TARGET_FLOOR_RATIO * floor_ns);
		snprintf(what, sizeof(what), "local mmap / daemon, p50, %u client%s", n, s);
		snprintf(measured, sizeof(measured), "%.0fx", lo->p50 / dm->p50);
		snprintf(target, sizeof(target), ">= %.0fx", TARGET_SPEEDUP);
		verdict(v, what, measured, target, lo->p50 / dm->p50 >= TARGET_SPEEDUP);
	}
	bench_table_print(v, stdout);
	r = bench_table_save(v, opts, "acquire-verdicts");
	bench_table_free(v);
	return r;
}

int main(int argc, char **argv)
{
	char warm_set[64], total_set[64], policy_set[64];
	const char *sets[] = { warm_set, total_set, policy_set, NULL };
	struct acq_result res[MAX_CLIENT_CASES];
	struct bench_hugepages hp;
	struct bench_daemon d;
	struct acq_config cfg;
	struct bench_machine m;
	struct bench_opts opts;
	unsigned int max_clients, n_daemon, n_pages;
	char thp[32], shmem_thp[32];
	size_t i;
	int r;

	/* every region fresh from the daemon: reuse is what bench-reuse measures */
	setenv("BHC_ARENA_RETAIN", "0", 1);

	r = bench_parse_opts(argc, argv,
			     "Region acquisition latency: bhc-arenad against a local hugetlb mmap.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	cfg = (struct acq_config){
		.clients = { 1, opts.quick ? 2 : 16 },
		.n_cases = 2,
		.warm = opts.quick ? 2 : 16,
		.n_samples = opts.quick ? 8 : 1024,
	};
	max_clients = cfg.clients[cfg.n_cases - 1];

	printf("== bench-acquire: region acquisition latency%s ==\n", opts.quick ? " (quick)" : "");
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	r = bench_cleanup_init();
	if (r < 0)
		goto out_fail;
	/*
	 * Regions the daemon may hold at once: the warm pool, one leased per
	 * client, a few being dropped. Besides: each client's own memfd, and
	 * in the baseline phase (pool full and idle) one mapping per client.
	 */
	n_daemon = cfg.warm + max_clients + 4;
	n_pages = (n_daemon + max_clients) * (unsigned int)(REGION_SIZE >> 21);
	bench_hugepages_reserve(PAGE_2M_KB, n_pages, &hp);
	printf("hugetlb 2 MiB: %s (%ld free)\n", hp.ok ? "reserved" : hp.why, hp.n_free);
	printf("thp: %s, shmem %s\n", bench_thp_mode("enabled", thp, sizeof(thp)),
	       bench_thp_mode("shmem_enabled", shmem_thp, sizeof(shmem_thp)));
	snprintf(warm_set, sizeof(warm_set), "pool.warm=64M:%u", cfg.warm);
	snprintf(total_set, sizeof(total_set), "limits.total=%uM", n_daemon * 64);
	/* With the pages reserved, a fallback would be a fault of the run: refuse it. */
	snprintf(policy_set, sizeof(policy_set), "pool.hugepages=%s", hp.ok ? "require" : "prefer");
	printf("daemon: --set %s --set %s --set %s\n", sets[0], sets[1], sets[2]);
	fflush(stdout);
	r = bench_daemon_start(&d, sets, WAIT_WARM_MS);
	if (r < 0)
		goto out_fail;
	for (i = 0; i < cfg.n_cases; i++) {
		r = run_case(&cfg, cfg.clients[i], hp.ok, &d, &opts, &res[i]);
		if (r < 0)
			goto out_stop;
	}
	bench_daemon_stop(&d);
	r = report(&cfg, res, &hp, &opts);
	if (r < 0)
		goto out_fail;
	return EXIT_SUCCESS;

out_stop:
	bench_daemon_stop(&d);
out_fail:
	fprintf(stderr, "bench-acquire: %s\n", strerror(-r));
	return EXIT_FAILURE;
}
