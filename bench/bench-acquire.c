// SPDX-License-Identifier: MIT
/*
 * bench-acquire: how long bhc_arena_new() takes to lease a warm 64 MiB
 * region from bhc-arenad (ACQUIRE, GRANT with the memfd, mmap with
 * MAP_POPULATE, header check; the connection is made beforehand), with 1
 * and with 16 client processes asking at once, against what a process pays
 * to get the same memory itself: mmap(MAP_ANONYMOUS | MAP_PRIVATE |
 * MAP_HUGETLB | MAP_POPULATE) of 64 MiB.
 *
 * The benchmark runs its own daemon with a warm pool of W regions. A round
 * waits until all W are ready and the daemon is idle, lets every client
 * take W / clients samples back to back (so every sample is a warm
 * hand-out: the pool never runs dry within a burst), waits for the refill,
 * then lets every client take as many baseline samples. Each sample is
 * timed alone; releasing the region or unmapping is outside the timed part.
 * Daemon and baseline phases alternate round by round.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bhc/arena.h>

#include "bench-common.h"
#include "bench-daemon.h"

#define REGION_SIZE ((size_t)64 << 20)
#define PAGE_2M_KB 2048ul
#define TARGET_P50_US 50.0
#define TARGET_P99_US 250.0
#define TARGET_SPEEDUP 20.0
#define WAIT_WARM_MS 120000
#define MAX_CLIENT_CASES 2

enum phase {
	PHASE_DAEMON,
	PHASE_LOCAL,
	N_PHASES,
};

struct acq_config {
	unsigned int clients[MAX_CLIENT_CASES]; /* client processes of each case */
	size_t n_cases;
	unsigned int warm; /* regions kept warm: the burst of one round */
	unsigned int n_rounds; /* rounds of each case */
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
	unsigned int per_burst; /* samples per client per round */
	unsigned int n_rounds;
	bool local_huge; /* baseline with MAP_HUGETLB (else small pages, labelled) */
	struct client_slot slots[16];
	double samples[]; /* [phase][client][round * per_burst + i], ns */
};

/* Results of one case. */
struct acq_result {
	unsigned int n_clients;
	struct bench_stats st[N_PHASES];
	char backing[N_PHASES][16];
};

static double *sample_at(struct acq_shared *sh, enum phase ph, unsigned int client, size_t i)
{
	size_t per_client = (size_t)sh->per_burst * sh->n_rounds;

	return &sh->samples[((size_t)ph * sh->n_clients + client) * per_client + i];
}

static void set_backing(struct client_slot *slot, enum phase ph, const char *name)
{
	if (!slot->backing[ph][0])
		snprintf(slot->backing[ph], sizeof(slot->backing[ph]), "%s", name);
	else if (strcmp(slot->backing[ph], name) != 0)
		snprintf(slot->backing[ph], sizeof(slot->backing[ph]), "mixed");
}

/* One timed bhc_arena_new() from the daemon; release untimed. Returns ns or -errno. */
static double daemon_sample(struct client_slot *slot)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_DAEMON };
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	uint64_t t0, t1;
	int r;

	t0 = bench_now_ns();
	r = bhc_arena_new_opts(REGION_SIZE - BHC_ARENA_REGION_HEADER_SIZE, &opts, &arena);
	t1 = bench_now_ns();
	if (r < 0) {
		snprintf(slot->why, sizeof(slot->why), "bhc_arena_new_opts (daemon): %s",
			 strerror(-r));
		return r;
	}
	r = bhc_arena_stats(arena, &st);
	if (r == 0 && (st.source != BHC_ARENA_SOURCE_DAEMON || st.region_size != REGION_SIZE)) {
		snprintf(slot->why, sizeof(slot->why),
			 "got a %zu-byte region from the %s source, not 64 MiB from the daemon",
			 st.region_size, st.source_name);
		r = -EPROTO;
	}
	if (r == 0)
		set_backing(slot, PHASE_DAEMON, st.backing_name);
	bhc_arena_free(arena);
	return r < 0 ? r : (double)(t1 - t0);
}

/* One timed mmap of 64 MiB, hugetlb and populated (the baseline); munmap untimed. */
static double local_sample(struct client_slot *slot, bool huge)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | (huge ? MAP_HUGETLB : 0);
	uint64_t t0, t1;
	void *p;

	t0 = bench_now_ns();
	p = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, flags, -1, 0);
	t1 = bench_now_ns();
	if (p == MAP_FAILED) {
		snprintf(slot->why, sizeof(slot->why), "mmap(64 MiB%s): %s",
			 huge ? ", MAP_HUGETLB" : "", strerror(errno));
		return -errno;
	}
	bench_touch(p, 1);
	munmap(p, REGION_SIZE);
	set_backing(slot, PHASE_LOCAL, huge ? "hugetlb-2M" : "small");
	return (double)(t1 - t0);
}

/* A client process: a warm-up acquire (connects), then bursts on command. */
static void client_main(struct acq_shared *sh, unsigned int idx, int cmd_fd, int done_fd)
{
	struct client_slot *slot = &sh->slots[idx];
	unsigned int round[N_PHASES] = { 0, 0 };
	char cmd, done = 0;
	double v;

	v = daemon_sample(slot);
	if (v < 0)
		slot->err = (int)v;
	memset(slot->backing[PHASE_DAEMON], 0, sizeof(slot->backing[PHASE_DAEMON]));
	if (write(done_fd, &done, 1) != 1)
		_exit(EXIT_FAILURE);
	while (read(cmd_fd, &cmd, 1) == 1 && cmd != 'q') {
		enum phase ph = cmd == 'd' ? PHASE_DAEMON : PHASE_LOCAL;
		unsigned int i;

		for (i = 0; !slot->err && i < sh->per_burst; i++) {
			v = ph == PHASE_DAEMON ? daemon_sample(slot) :
						 local_sample(slot, sh->local_huge);
			if (v < 0)
				slot->err = (int)v;
			else
				*sample_at(sh, ph, idx, (size_t)round[ph] * sh->per_burst + i) = v;
		}
		round[ph]++;
		if (write(done_fd, &done, 1) != 1)
			break;
	}
	_exit(slot->err ? EXIT_FAILURE : EXIT_SUCCESS);
}

/* The parent's end of the clients. */
struct clients {
	unsigned int n;
	pid_t pid[16];
	int cmd_fd[16];
	int done_fd; /* every client writes a byte here when a burst is over */
};

static int clients_command(struct clients *c, struct acq_shared *sh, char cmd)
{
	unsigned int i, n_done = 0;
	char byte;

	for (i = 0; i < c->n; i++) {
		if (write(c->cmd_fd[i], &cmd, 1) != 1)
			return -EPIPE;
	}
	while (n_done < c->n) {
		if (read(c->done_fd, &byte, 1) != 1)
			return -EPIPE;
		n_done++;
	}
	for (i = 0; i < c->n; i++) {
		if (sh->slots[i].err) {
			fprintf(stderr, "bench-acquire: client %u: %s\n", i, sh->slots[i].why);
			return sh->slots[i].err;
		}
	}
	return 0;
}

static void clients_stop(struct clients *c)
{
	unsigned int i;
	int status;

	for (i = 0; i < c->n; i++) {
		close(c->cmd_fd[i]);
		waitpid(c->pid[i], &status, 0);
	}
	close(c->done_fd);
	c->n = 0;
}

/* Fork @sh->n_clients clients and wait until each has made its warm-up acquire. */
static int clients_start(struct clients *c, struct acq_shared *sh)
{
	int done[2], cmd[2], r = 0;
	unsigned int i, n_done = 0;
	char byte;

	if (pipe2(done, O_CLOEXEC) < 0)
		return -errno;
	c->n = 0;
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
			client_main(sh, i, cmd[0], done[1]);
		}
		close(cmd[0]);
		c->cmd_fd[i] = cmd[1];
		c->n++;
	}
	close(done[1]);
	while (r == 0 && n_done < c->n) {
		if (read(c->done_fd, &byte, 1) != 1)
			r = -EPIPE;
		n_done++;
	}
	for (i = 0; r == 0 && i < c->n; i++) {
		if (sh->slots[i].err) {
			fprintf(stderr, "bench-acquire: client %u: %s\n", i, sh->slots[i].why);
			r = sh->slots[i].err;
		}
	}
	if (r < 0)
		clients_stop(c);
	return r;
}

static int run_case(const struct acq_config *cfg, unsigned int n_clients, bool local_huge,
		    struct bench_daemon *d, struct acq_result *res)
{
	unsigned int per_burst = cfg->warm / n_clients, round, i, k;
	size_t per_client = (size_t)per_burst * cfg->n_rounds;
	size_t n_samples = per_client * n_clients;
	size_t bytes = sizeof(struct acq_shared) + N_PHASES * n_samples * sizeof(double);
	struct clients c = { 0 };
	struct acq_shared *sh;
	int r;

	sh = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -errno;
	sh->n_clients = n_clients;
	sh->per_burst = per_burst;
	sh->n_rounds = cfg->n_rounds;
	sh->local_huge = local_huge;
	r = clients_start(&c, sh);
	if (r < 0)
		goto out_unmap;
	for (round = 0; round < cfg->n_rounds; round++) {
		/* Alternate which phase goes first, so neither always follows the other. */
		for (k = 0; k < N_PHASES; k++) {
			enum phase ph = (round + k) % 2 ? PHASE_LOCAL : PHASE_DAEMON;

			/* Pool full and idle: no refill competes with either phase's start. */
			r = bench_daemon_wait_warm(d, REGION_SIZE, cfg->warm, WAIT_WARM_MS);
			if (r < 0)
				goto out_stop;
			r = clients_command(&c, sh, ph == PHASE_DAEMON ? 'd' : 'l');
			if (r < 0)
				goto out_stop;
		}
	}
	res->n_clients = n_clients;
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

static void verdict(struct bench_table *t, const char *what, const char *measured,
		    const char *target, bool met)
{
	bench_table_row(t);
	bench_table_cell(t, "%s", what);
	bench_table_cell(t, "%s", measured);
	bench_table_cell(t, "%s", target);
	bench_table_cell(t, "%s", met ? "met" : "NOT MET");
}

static int report(const struct acq_config *cfg, const struct acq_result *res,
		  const struct bench_hugepages *hp, const struct bench_opts *opts)
{
	static const struct bench_column cols[] = {
		{ "clients", false }, { "source", true },
		{ "backing", true },  { "samples", false },
		{ "p50 µs", false },  { "p99 µs", false },
		{ "max µs", false },  { "local/daemon p50", false },
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
	r = bench_table_new(title, cols, sizeof(cols) / sizeof(cols[0]), &t);
	if (r < 0)
		return r;
	for (i = 0; i < cfg->n_cases; i++) {
		for (k = 0; k < N_PHASES; k++) {
			const struct bench_stats *st = &res[i].st[k];

			bench_table_row(t);
			bench_table_cell(t, "%u", res[i].n_clients);
			bench_table_cell(t, "%s",
					 k == PHASE_DAEMON ? "daemon: bhc_arena_new" :
					 hp->ok		   ? "local: mmap HUGETLB|POPULATE" :
							     "local: mmap POPULATE (no hugetlb)");
			bench_table_cell(t, "%s", res[i].backing[k]);
			bench_table_cell(t, "%zu", st->n);
			bench_table_cell(t, "%.1f", st->p50 / 1e3);
			bench_table_cell(t, "%.1f", st->p99 / 1e3);
			bench_table_cell(t, "%.1f", st->max / 1e3);
			if (k == PHASE_DAEMON)
				bench_table_cell(t, "%s", "-");
			else
				bench_table_cell(t, "%.0fx", st->p50 / res[i].st[PHASE_DAEMON].p50);
		}
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "acquire");
	bench_table_free(t);
	if (r < 0)
		return r;

	r = bench_table_new(opts->quick ? "targets (quick run: the verdicts mean nothing)" :
					  "targets",
			    vcols, sizeof(vcols) / sizeof(vcols[0]), &v);
	if (r < 0)
		return r;
	for (i = 0; i < cfg->n_cases; i++) {
		const struct bench_stats *dm = &res[i].st[PHASE_DAEMON];
		const struct bench_stats *lo = &res[i].st[PHASE_LOCAL];
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
	const char *sets[] = { warm_set, total_set, policy_set, "pool.io_depth=8", NULL };
	struct acq_result res[MAX_CLIENT_CASES];
	struct bench_hugepages hp;
	struct bench_daemon d;
	struct acq_config cfg;
	struct bench_machine m;
	struct bench_opts opts;
	unsigned int max_clients, n_regions;
	char thp[32], shmem_thp[32];
	size_t i;
	int r;

	r = bench_parse_opts(argc, argv,
			     "Region acquisition latency: bhc-arenad against a local hugetlb mmap.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	cfg = (struct acq_config){
		.clients = { 1, opts.quick ? 4 : 16 },
		.n_cases = 2,
		.warm = opts.quick ? 4 : 32,
		.n_rounds = opts.quick ? 2 : 32,
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
	 * client, a few being dropped. The baseline phase runs with the pool
	 * full and idle and needs one region's pages per client.
	 */
	n_regions = cfg.warm + max_clients + 4;
	bench_hugepages_reserve(PAGE_2M_KB, (unsigned long)n_regions * (REGION_SIZE >> 21), &hp);
	printf("hugetlb 2 MiB: %s (%ld free)\n", hp.ok ? "reserved" : hp.why, hp.n_free);
	printf("thp: %s, shmem %s\n", bench_thp_mode("enabled", thp, sizeof(thp)),
	       bench_thp_mode("shmem_enabled", shmem_thp, sizeof(shmem_thp)));
	snprintf(warm_set, sizeof(warm_set), "pool.warm=64M:%u", cfg.warm);
	snprintf(total_set, sizeof(total_set), "limits.total=%uM", n_regions * 64);
	/* With the pages reserved, a fallback would be a fault of the run: refuse it. */
	snprintf(policy_set, sizeof(policy_set), "pool.hugepages=%s", hp.ok ? "require" : "prefer");
	printf("daemon: --set %s --set %s --set %s --set %s\n", sets[0], sets[1], sets[2], sets[3]);
	fflush(stdout);
	r = bench_daemon_start(&d, sets, WAIT_WARM_MS);
	if (r < 0)
		goto out_fail;
	for (i = 0; i < cfg.n_cases; i++) {
		r = run_case(&cfg, cfg.clients[i], hp.ok, &d, &res[i]);
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
