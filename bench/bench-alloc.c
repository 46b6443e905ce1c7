// SPDX-License-Identifier: MIT
/*
 * bench-alloc: the cost of one allocation with bhc_arena_alloc() against
 * glibc malloc, obstack, APR pools, talloc, jemalloc and mimalloc, and the
 * cost of bhc_arena_reset() after 1 and after 1,000,000 allocations.
 *
 * Every allocator runs the same batches (see alloc-peers.h) in the same
 * process, interleaved round by round, so the ratios compare like with like
 * even when the machine is busy: one slow moment hits every row alike.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bhc/arena.h>

#include "alloc-peers.h"
#include "bench-common.h"

/* The 16-byte figure of Rust's bumpalo, the reference in the issue. */
#define BUMPALO_REF_NS 0.6
#define TARGET_VS_MALLOC 10.0
#define TARGET_VS_APR 1.5
#define RESET_BIG 1000000u
#define STATIC_TLS_SURPLUS 16384u
/* A reset sample this far above the median had an interrupt in it. */
#define RESET_SLACK_NS 250.0
#define RESET_MAX_ARENAS 16

struct alloc_config {
	size_t n_objects; /* per batch */
	unsigned int n_rounds; /* measured, interleaved */
	uint64_t target_ns; /* length of one measurement */
	size_t n_reset_big; /* resets timed after RESET_BIG allocations */
	size_t n_reset_small; /* resets timed after one allocation */
	size_t n_reset_loop; /* iterations of each cross-check loop */
	size_t n_reset_arenas; /* arenas reset per timed interval */
};

static const char *const workload_names[ALLOC_N_WORKLOADS] = {
	[ALLOC_16] = "16 B",
	[ALLOC_64] = "64 B",
	[ALLOC_MIXED] = "mixed 8..256 B",
	[ALLOC_ALIGNED64] = "64 B aligned to 64",
};

void alloc_fail(const char *who, size_t size)
{
	fprintf(stderr, "bench-alloc: %s(%zu) failed: %s\n", who, size, strerror(errno));
	exit(EXIT_FAILURE);
}

/* --- bhc_arena ------------------------------------------------------------------ */

static int arena_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL };
	struct bhc_arena *arena;
	int r;

	r = bhc_arena_new_opts(w->max_bytes, &opts, &arena);
	if (r < 0) {
		snprintf(why, why_size, "bhc_arena_new_opts: %s", strerror(-r));
		return r;
	}
	*statep = arena;
	return 0;
}

static void arena_close(void *state)
{
	bhc_arena_free(state);
}

static inline __attribute__((always_inline)) void
arena_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	struct bhc_arena *arena = state;
	size_t i;

	for (i = 0; i < w->n; i++) {
		size_t n = alloc_size(w, i, size);
		void *p = bhc_arena_alloc(arena, n, align);

		if (!p)
			alloc_fail("bhc_arena_alloc", n);
		bench_touch(p, i);
	}
	bhc_arena_reset(arena);
}

ALLOC_DEFINE_BATCHES(arena_batch)

static const struct alloc_peer alloc_peer_arena = {
	.name = "bhc_arena",
	.method = "bhc_arena_alloc; bhc_arena_reset",
	.open = arena_open,
	.close = arena_close,
	.batch = ALLOC_BATCHES(arena_batch),
};

/* --- glibc malloc ------------------------------------------------------------------ */

static int glibc_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	*statep = NULL;
	return 0;
}

static void glibc_close(void *state)
{
}

static inline __attribute__((always_inline)) void *glibc_alloc(size_t n, size_t align)
{
	/* malloc() aligns to 16, enough for every workload but the 64-aligned one. */
	void *p = align > 16 ? aligned_alloc(align, n) : malloc(n);

	if (!p)
		alloc_fail(align > 16 ? "aligned_alloc" : "malloc", n);
	return p;
}

/* The "malloc+free": each object is freed as soon as it is used. */
static inline __attribute__((always_inline)) void
glibc_pair_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		void *p = glibc_alloc(alloc_size(w, i, size), align);

		bench_touch(p, i);
		free(p);
	}
}

/* The batch lives until its end, like the arena's objects. */
static inline __attribute__((always_inline)) void
glibc_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		void *p = glibc_alloc(alloc_size(w, i, size), align);

		bench_touch(p, i);
		w->ptrs[i] = p;
	}
	for (i = 0; i < w->n; i++)
		free(w->ptrs[i]);
}

ALLOC_DEFINE_BATCHES(glibc_pair_batch)
ALLOC_DEFINE_BATCHES(glibc_batch)

static const struct alloc_peer alloc_peer_glibc_pair = {
	.name = "glibc malloc+free",
	.method = "malloc; free at once",
	.open = glibc_open,
	.close = glibc_close,
	.batch = ALLOC_BATCHES(glibc_pair_batch),
};

static const struct alloc_peer alloc_peer_glibc = {
	.name = "glibc malloc",
	.method = "malloc; free each at batch end",
	.open = glibc_open,
	.close = glibc_close,
	.batch = ALLOC_BATCHES(glibc_batch),
};

/* --- the floor ---------------------------------------------------------------------- */

/*
 * Not an allocator: the least any bump allocator can cost in this
 * benchmark. A cursor in a register walks down a buffer with no bounds
 * check, no counter and no header to update, and each object gets its byte
 * written like everyone's. What the arena costs above this row is its
 * checks and bookkeeping; the rest is the write.
 */
struct floor_state {
	unsigned char *buf;
	size_t size;
};

static int floor_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	struct floor_state *s = calloc(1, sizeof(*s));

	if (s) {
		s->size = w->max_bytes;
		s->buf = aligned_alloc(4096, s->size);
	}
	if (!s || !s->buf) {
		free(s);
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	memset(s->buf, 0, s->size);
	*statep = s;
	return 0;
}

static void floor_close(void *state)
{
	struct floor_state *s = state;

	free(s->buf);
	free(s);
}

static inline __attribute__((always_inline)) void
floor_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	struct floor_state *s = state;
	uintptr_t cursor = (uintptr_t)s->buf + s->size;
	size_t i;

	for (i = 0; i < w->n; i++) {
		cursor = (cursor - alloc_size(w, i, size)) & ~(uintptr_t)(align - 1);
		bench_touch((void *)cursor, i);
	}
}

ALLOC_DEFINE_BATCHES(floor_batch)

static const struct alloc_peer alloc_peer_floor = {
	.name = "(floor: bump, no checks)",
	.method = "register cursor, no bounds check or counter; not an allocator",
	.open = floor_open,
	.close = floor_close,
	.batch = ALLOC_BATCHES(floor_batch),
};

/* The rows of the table, in order; the arena first: it is the reference. */
static const struct alloc_peer *const peers[] = {
	&alloc_peer_arena,    &alloc_peer_glibc_pair, &alloc_peer_glibc,
	&alloc_peer_obstack,  &alloc_peer_apr,	      &alloc_peer_talloc,
	&alloc_peer_jemalloc, &alloc_peer_mimalloc,   &alloc_peer_mimalloc_heap,
	&alloc_peer_floor,
};
#define N_PEERS ARRAY_SIZE(peers)

/* --- measuring ---------------------------------------------------------------------- */

struct peer_slot {
	const struct alloc_peer *peer;
	void *state;
	bool open;
	char why[256]; /* why the peer is not measured */
};

struct alloc_case {
	struct peer_slot *slot;
	enum alloc_workload workload;
	const struct alloc_work *work;
	size_t n_batches;
};

/* One measurement: n_batches batches, in ns per allocation. */
static double alloc_case_run(void *ctx)
{
	struct alloc_case *c = ctx;
	void (*batch)(void *state, const struct alloc_work *w) = c->slot->peer->batch[c->workload];
	uint64_t t0, t1;
	size_t b;

	t0 = bench_now_ns();
	for (b = 0; b < c->n_batches; b++)
		batch(c->slot->state, c->work);
	t1 = bench_now_ns();
	return (double)(t1 - t0) / (double)(c->n_batches * c->work->n);
}

/* Pick n_batches so that one measurement lasts about @target_ns. */
static void alloc_case_calibrate(struct alloc_case *c, uint64_t target_ns)
{
	double best = 0;
	int i;

	c->n_batches = 1;
	for (i = 0; i < 3; i++) {
		double ns = alloc_case_run(c) * (double)c->work->n;

		if (i == 0 || ns < best)
			best = ns;
	}
	if (best < 1)
		best = 1;
	c->n_batches = (size_t)((double)target_ns / best) + 1;
}

/* The fixed pseudo-random sizes of the mixed workload (xorshift64*, fixed seed). */
static void make_mixed_sizes(uint32_t *sizes, size_t n)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		sizes[i] = ALLOC_MIXED_MIN + (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32) %
						     (ALLOC_MIXED_MAX - ALLOC_MIXED_MIN + 1);
	}
}

static void peers_open(struct peer_slot *slots, const struct alloc_work *w)
{
	size_t i;

	for (i = 0; i < N_PEERS; i++) {
		slots[i].peer = peers[i];
		if (peers[i]->missing) {
			snprintf(slots[i].why, sizeof(slots[i].why), "missing (%s)",
				 peers[i]->missing);
			continue;
		}
		if (peers[i]->open(w, &slots[i].state, slots[i].why, sizeof(slots[i].why)) < 0) {
			char reason[sizeof(slots[i].why)];

			memcpy(reason, slots[i].why, sizeof(reason));
			snprintf(slots[i].why, sizeof(slots[i].why), "missing (%.200s)", reason);
			continue;
		}
		slots[i].open = true;
	}
}

static void peers_close(struct peer_slot *slots)
{
	size_t i;

	for (i = 0; i < N_PEERS; i++)
		if (slots[i].open)
			slots[i].peer->close(slots[i].state);
}

/* Median over the rounds of @c, in *@st; false if the case did not run. */
static bool case_stats(const struct bench_case *c, unsigned int n_rounds, struct bench_stats *st)
{
	return c && !c->err && bench_stats_compute(c->samples, n_rounds, st) == 0;
}

struct alloc_results {
	double arena_p50[ALLOC_N_WORKLOADS];
	double glibc_pair_16;
	double apr_16;
};

static int report_alloc(struct bench_case *cases, struct peer_slot *slots, unsigned int n_rounds,
			const struct bench_opts *opts, struct alloc_results *res)
{
	static const struct bench_column cols[] = {
		{ "workload", true }, { "allocator", true },	   { "median ns", false },
		{ "min ns", false },  { "x arena (same)", false }, { "x arena 16 B", false },
		{ "method", true },
	};
	struct bench_table *t;
	struct bench_stats st;
	size_t p;
	int wl, r;

	r = bench_table_new("ns per allocation (batch amortised; median and min of the rounds)",
			    cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	res->glibc_pair_16 = res->apr_16 = NAN;
	for (wl = 0; wl < ALLOC_N_WORKLOADS; wl++)
		res->arena_p50[wl] = case_stats(&cases[wl], n_rounds, &st) ? st.p50 : NAN;
	for (wl = 0; wl < ALLOC_N_WORKLOADS; wl++) {
		if (wl)
			bench_table_add_rule(t);
		for (p = 0; p < N_PEERS; p++) {
			struct bench_case *c = slots[p].open ? &cases[p * ALLOC_N_WORKLOADS + wl] :
							       NULL;

			bench_table_row(t);
			bench_table_cell(t, "%s", workload_names[wl]);
			bench_table_cell(t, "%s", slots[p].peer->name);
			if (!case_stats(c, n_rounds, &st)) {
				bench_table_cell(t, "%s", c ? "failed" : slots[p].why);
				bench_table_cell(t, "-");
				bench_table_cell(t, "-");
				bench_table_cell(t, "-");
			} else {
				bench_table_cell(t, "%.2f", st.p50);
				bench_table_cell(t, "%.2f", st.min);
				bench_table_cell(t, "%.1f", st.p50 / res->arena_p50[wl]);
				bench_table_cell(t, "%.1f", st.p50 / res->arena_p50[ALLOC_16]);
				if (wl == ALLOC_16 && slots[p].peer == &alloc_peer_glibc_pair)
					res->glibc_pair_16 = st.p50;
				if (wl == ALLOC_16 && slots[p].peer == &alloc_peer_apr)
					res->apr_16 = st.p50;
			}
			bench_table_cell(t, "%s", slots[p].peer->method);
		}
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "alloc");
	bench_table_free(t);
	return r;
}

/* Medians side by side, one row per allocator (and what the plot draws). */
static int report_summary(struct bench_case *cases, struct peer_slot *slots, unsigned int n_rounds,
			  const struct bench_opts *opts)
{
	struct bench_column cols[1 + ALLOC_N_WORKLOADS] = { { "allocator", true } };
	struct bench_table *t;
	struct bench_stats st;
	size_t p;
	int wl, r;

	for (wl = 0; wl < ALLOC_N_WORKLOADS; wl++)
		cols[1 + wl] = (struct bench_column){ workload_names[wl], false };
	r = bench_table_new("median ns per allocation, side by side", cols, 1 + ALLOC_N_WORKLOADS,
			    &t);
	if (r < 0)
		return r;
	for (p = 0; p < N_PEERS; p++) {
		bench_table_row(t);
		bench_table_cell(t, "%s", slots[p].peer->name);
		for (wl = 0; wl < ALLOC_N_WORKLOADS; wl++) {
			struct bench_case *c = slots[p].open ? &cases[p * ALLOC_N_WORKLOADS + wl] :
							       NULL;

			if (case_stats(c, n_rounds, &st))
				bench_table_cell(t, "%.2f", st.p50);
			else
				bench_table_cell(t, "%s", c ? "failed" : slots[p].why);
		}
	}
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "alloc-summary");
	bench_table_free(t);
	return r;
}

static int measure_alloc(const struct alloc_config *cfg, const struct bench_opts *opts,
			 struct alloc_results *res)
{
	struct peer_slot slots[N_PEERS] = { 0 };
	struct alloc_case acases[N_PEERS * ALLOC_N_WORKLOADS];
	struct bench_case cases[N_PEERS * ALLOC_N_WORKLOADS];
	struct alloc_work w = { .n = cfg->n_objects };
	uint32_t *sizes;
	size_t n_cases = 0, i;
	int wl, r = -ENOMEM;

	sizes = calloc(w.n, sizeof(*sizes));
	w.ptrs = calloc(w.n, sizeof(*w.ptrs));
	if (!sizes || !w.ptrs)
		goto out_free;
	make_mixed_sizes(sizes, w.n);
	w.sizes = sizes;
	w.max_bytes = w.n * (ALLOC_MIXED_MAX + 64);

	peers_open(slots, &w);
	if (!slots[0].open) {
		fprintf(stderr, "bench-alloc: no arena to measure: %s\n", slots[0].why);
		r = -EIO;
		goto out_close;
	}
	/* Case p * ALLOC_N_WORKLOADS + wl is peer p's workload wl; no run() if p is missing. */
	memset(cases, 0, sizeof(cases));
	for (i = 0; i < N_PEERS; i++) {
		for (wl = 0; wl < ALLOC_N_WORKLOADS; wl++) {
			struct alloc_case *ac = &acases[i * ALLOC_N_WORKLOADS + wl];

			if (!slots[i].open)
				continue;
			*ac = (struct alloc_case){ &slots[i], wl, &w, 1 };
			alloc_case_calibrate(ac, cfg->target_ns);
			cases[i * ALLOC_N_WORKLOADS + wl] = (struct bench_case){
				.name = slots[i].peer->name, .run = alloc_case_run, .ctx = ac
			};
			n_cases++;
		}
	}
	printf("\n%zu objects per batch; %zu measurements of ~%.0f ms each, interleaved over "
	       "%u rounds after 1 warm-up round ...\n",
	       w.n, n_cases, (double)cfg->target_ns / 1e6, cfg->n_rounds);
	fflush(stdout);
	r = bench_interleave(cases, N_PEERS * ALLOC_N_WORKLOADS, 1, cfg->n_rounds);
	if (r < 0)
		goto out_close;
	r = report_alloc(cases, slots, cfg->n_rounds, opts, res);
	if (!r)
		r = report_summary(cases, slots, cfg->n_rounds, opts);
	for (i = 0; i < N_PEERS * ALLOC_N_WORKLOADS; i++)
		free(cases[i].samples);
out_close:
	peers_close(slots);
out_free:
	free(w.ptrs);
	free(sizes);
	return r;
}

/* --- reset ------------------------------------------------------------------------- */

static void arena_fill(struct bhc_arena *arena, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		void *p = bhc_arena_alloc(arena, 16, BHC_ALIGN_DEFAULT);

		if (!p)
			alloc_fail("bhc_arena_alloc", 16);
		bench_touch(p, i);
	}
}

/* The loops of the cross-check: n iterations each, in ns per iteration. */
struct reset_loop {
	struct bhc_arena *arena;
	size_t n;
};

static double loop_alloc_reset_pairs(void *ctx)
{
	struct reset_loop *l = ctx;
	uint64_t t0, t1;
	size_t i;

	t0 = bench_now_ns();
	for (i = 0; i < l->n; i++) {
		void *p = bhc_arena_alloc(l->arena, 16, BHC_ALIGN_DEFAULT);

		if (!p)
			alloc_fail("bhc_arena_alloc", 16);
		bench_touch(p, i);
		bhc_arena_reset(l->arena);
	}
	t1 = bench_now_ns();
	return (double)(t1 - t0) / (double)l->n;
}

static double loop_allocs(void *ctx)
{
	struct reset_loop *l = ctx;
	uint64_t t0, t1;
	size_t i;

	t0 = bench_now_ns();
	for (i = 0; i < l->n; i += 4096) {
		arena_fill(l->arena, 4096);
		bhc_arena_reset(l->arena);
	}
	t1 = bench_now_ns();
	return (double)(t1 - t0) / (double)l->n;
}

struct reset_row {
	struct bench_stats st; /* raw samples (ns per arena), timer included */
	struct bench_mean mean; /* their robust mean */
};

enum reset_kind {
	RESET_1, /* after 1 allocation */
	RESET_1_TRAFFIC, /* after RESET_BIG allocations, a reset, then 1 allocation */
	RESET_BIG_KIND, /* after RESET_BIG allocations */
	RESET_N_KINDS,
};

struct reset_results {
	size_t n_arenas;
	struct reset_row reset[RESET_N_KINDS]; /* the timed resets */
	struct reset_row empty[RESET_N_KINDS]; /* empty intervals in the same state */
	double loop_pairs; /* median ns per {alloc 16 B; reset} */
	double loop_alloc; /* median ns per 16 B allocation, reset every 4096 */
};

/* Cross-check of the one-allocation figure with no clock inside the loop. */
static int measure_reset_loops(const struct alloc_config *cfg, struct bhc_arena *arena,
			       struct reset_results *res)
{
	struct reset_loop loop = { arena, cfg->n_reset_loop };
	struct bench_case cases[] = {
		{ .name = "alloc+reset", .run = loop_alloc_reset_pairs, .ctx = &loop },
		{ .name = "alloc", .run = loop_allocs, .ctx = &loop },
	};
	struct bench_stats st;
	int r;

	r = bench_interleave(cases, 2, 1, cfg->n_rounds);
	if (r < 0)
		return r;
	r = bench_stats_compute(cases[0].samples, cfg->n_rounds, &st);
	res->loop_pairs = st.p50;
	if (!r)
		r = bench_stats_compute(cases[1].samples, cfg->n_rounds, &st);
	res->loop_alloc = st.p50;
	free(cases[0].samples);
	free(cases[1].samples);
	return r;
}

struct reset_bench {
	struct bhc_arena *arenas[RESET_MAX_ARENAS]; /* reset back to back in one interval */
	size_t n_arenas;
	struct bhc_arena *spare; /* reset to warm the reset's code path */
};

/*
 * One sample: fill every arena with @n_allocs touched allocations (after
 * @n_before more and a reset, if @n_before), bring their header lines back
 * into the cache (the allocations in the other arenas may have evicted
 * them), warm the reset's and the clock's code, wait for the stores to
 * drain; then time the resets of all arenas back to back, or (@empty) an
 * empty interval after which they are reset untimed. Returns ns per arena.
 */
static double reset_sample(const struct reset_bench *rb, size_t n_before, size_t n_allocs,
			   bool empty)
{
	size_t used = 0, i;
	uint64_t t0, t1;

	for (i = 0; i < rb->n_arenas; i++) {
		if (n_before) {
			arena_fill(rb->arenas[i], n_before);
			bhc_arena_reset(rb->arenas[i]);
		}
		arena_fill(rb->arenas[i], n_allocs);
	}
	for (i = 0; i < rb->n_arenas; i++)
		used += bhc_arena_used(rb->arenas[i]);
	bench_escape(&used);
	bhc_arena_reset(rb->spare);
	bench_now_ns();
	bench_drain_stores();
	t0 = bench_now_ns();
	if (!empty)
		for (i = 0; i < rb->n_arenas; i++)
			bhc_arena_reset(rb->arenas[i]);
	t1 = bench_now_ns();
	if (empty)
		for (i = 0; i < rb->n_arenas; i++)
			bhc_arena_reset(rb->arenas[i]);
	return (double)(t1 - t0) / (double)rb->n_arenas;
}

static void reset_bench_free(struct reset_bench *rb)
{
	size_t i;

	for (i = 0; i < rb->n_arenas; i++)
		bhc_arena_free(rb->arenas[i]);
	bhc_arena_free(rb->spare);
}

static int reset_bench_init(struct reset_bench *rb, size_t n_arenas)
{
	struct bhc_arena_opts aopts = { .mode = BHC_ARENA_MODE_LOCAL };
	int r;

	memset(rb, 0, sizeof(*rb));
	r = bhc_arena_new_opts(1u << 20, &aopts, &rb->spare);
	while (!r && rb->n_arenas < n_arenas) {
		r = bhc_arena_new_opts((size_t)RESET_BIG * 16 + (1u << 20), &aopts,
				       &rb->arenas[rb->n_arenas]);
		if (!r)
			rb->n_arenas++;
	}
	if (r < 0)
		reset_bench_free(rb);
	return r;
}

/*
 * The reset by itself. A sample times the resets of several arenas back to
 * back, each holding 1 or RESET_BIG fresh, touched allocations made outside
 * the timed interval; the mean of as many empty intervals timed in the very
 * same state is subtracted. Several arenas per interval and means rather
 * than medians, because the clock moves in steps (10 ns on some virtual
 * machines) and a reset takes a few ns: see bench_robust_mean().
 *
 * A million allocations write 16 MB per arena, which leaves the caches,
 * the TLBs and the memory controller in another state than one allocation
 * does, whatever the reset does. So the million is compared with one
 * allocation made after the same million allocations and a reset: the same
 * traffic, only the count differs. The one-allocation case without that
 * traffic is shown too: a reset as a tight loop sees it.
 *
 * (Subtracting an allocate-only loop from an allocate+reset loop instead
 * would bury a nanosecond-scale reset under the noise of a million
 * allocations; for one allocation it works, and is done as a cross-check.)
 */
static int measure_reset(const struct alloc_config *cfg, struct reset_results *res)
{
	static const size_t n_before[RESET_N_KINDS] = { [RESET_1_TRAFFIC] = RESET_BIG };
	static const size_t n_allocs[RESET_N_KINDS] = {
		[RESET_1] = 1, [RESET_1_TRAFFIC] = 1, [RESET_BIG_KIND] = RESET_BIG
	};
	size_t per_big = cfg->n_reset_small / cfg->n_reset_big, n[RESET_N_KINDS] = { 0 }, b, j;
	double *v[RESET_N_KINDS][2] = { { 0 } };
	struct reset_bench rb;
	int i, e, r = -ENOMEM;

	for (i = 0; i < RESET_N_KINDS; i++) {
		size_t n_max = i == RESET_1 ? per_big * cfg->n_reset_big : cfg->n_reset_big;

		for (e = 0; e < 2; e++) {
			v[i][e] = calloc(n_max, sizeof(*v[i][e]));
			if (!v[i][e])
				goto out_free;
		}
	}
	r = reset_bench_init(&rb, cfg->n_reset_arenas);
	if (r < 0) {
		fprintf(stderr, "bench-alloc: bhc_arena_new_opts: %s\n", strerror(-r));
		goto out_free;
	}
	printf("\ntiming resets of %zu arenas at a time: %zu times after %u allocations each, "
	       "%zu times after 1; as many empty intervals ...\n",
	       rb.n_arenas, cfg->n_reset_big, RESET_BIG, (per_big + 1) * cfg->n_reset_big);
	fflush(stdout);
	reset_sample(&rb, 0, RESET_BIG, false); /* warm up */
	for (b = 0; b < cfg->n_reset_big; b++) {
		for (i = RESET_1_TRAFFIC; i < RESET_N_KINDS; i++) {
			for (e = 0; e < 2; e++)
				v[i][e][n[i]] = reset_sample(&rb, n_before[i], n_allocs[i], e);
			n[i]++;
		}
		for (j = 0; j < per_big; j++) {
			for (e = 0; e < 2; e++)
				v[RESET_1][e][n[RESET_1]] = reset_sample(&rb, 0, 1, e);
			n[RESET_1]++;
		}
	}
	for (i = 0, r = 0; i < RESET_N_KINDS && !r; i++) {
		for (e = 0; e < 2 && !r; e++) {
			struct reset_row *row = e ? &res->empty[i] : &res->reset[i];

			r = bench_stats_compute(v[i][e], n[i], &row->st);
			if (!r)
				r = bench_robust_mean(v[i][e], n[i], RESET_SLACK_NS / rb.n_arenas,
						      &row->mean);
		}
	}
	if (!r)
		r = measure_reset_loops(cfg, rb.arenas[0], res);
	res->n_arenas = rb.n_arenas;
	reset_bench_free(&rb);
out_free:
	for (i = 0; i < RESET_N_KINDS; i++)
		for (e = 0; e < 2; e++)
			free(v[i][e]);
	return r;
}

/* Net ns of one kind of reset, and its standard error. */
static double reset_net(const struct reset_results *res, enum reset_kind kind, double *semp)
{
	const struct bench_mean *r = &res->reset[kind].mean, *e = &res->empty[kind].mean;

	if (semp)
		*semp = sqrt(r->sem * r->sem + e->sem * e->sem);
	return r->mean - e->mean;
}

static int report_reset(const struct reset_results *res, const struct bench_opts *opts)
{
	static const struct bench_column cols[] = {
		{ "reset after", true }, { "ns", false },	{ "+-", false },
		{ "p99 ns", false },	 { "empty ns", false }, { "samples", false },
		{ "method", true },
	};
	static const char *const names[RESET_N_KINDS] = {
		[RESET_1] = "1 allocation",
		[RESET_1_TRAFFIC] = "1 allocation, after 1,000,000 and a reset",
		[RESET_BIG_KIND] = "1,000,000 allocations",
	};
	struct bench_table *t;
	char method[128];
	int i, r;

	r = bench_table_new("ns per bhc_arena_reset() (robust mean +- standard error, net of an "
			    "empty interval timed in the same state)",
			    cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	snprintf(method, sizeof(method), "%zu arenas per timed interval", res->n_arenas);
	for (i = 0; i < RESET_N_KINDS; i++) {
		const struct reset_row *row = &res->reset[i];
		double sem, net = reset_net(res, i, &sem);

		bench_table_row(t);
		bench_table_cell(t, "%s", names[i]);
		bench_table_cell(t, "%.2f", net);
		if (sem < 0.005)
			bench_table_cell(t, "<0.01");
		else
			bench_table_cell(t, "%.2f", sem);
		bench_table_cell(t, "%.1f", row->st.p99 - res->empty[i].mean.mean);
		bench_table_cell(t, "%.2f", res->empty[i].mean.mean);
		bench_table_cell(t, "%zu/%zu", row->mean.n_kept, row->st.n);
		bench_table_cell(t, "%s", method);
	}
	bench_table_row(t);
	bench_table_cell(t, "1 allocation");
	bench_table_cell(t, "%.2f", res->loop_pairs - res->loop_alloc);
	bench_table_cell(t, "-");
	bench_table_cell(t, "-");
	bench_table_cell(t, "-");
	bench_table_cell(t, "-");
	bench_table_cell(t, "loop {alloc; reset} %.2f - loop {alloc} %.2f", res->loop_pairs,
			 res->loop_alloc);
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "alloc-reset");
	bench_table_free(t);
	return r;
}

/* --- verdicts ----------------------------------------------------------------------- */

static void verdict_ratio(struct bench_table *t, const char *what, double peer, double arena,
			  double target)
{
	bench_table_row(t);
	bench_table_cell(t, "%s", what);
	if (isnan(peer) || isnan(arena)) {
		bench_table_cell(t, "-");
		bench_table_cell(t, ">= %.1fx", target);
		bench_table_cell(t, "not measured");
		return;
	}
	bench_table_cell(t, "%.1fx", peer / arena);
	bench_table_cell(t, ">= %.1fx", target);
	bench_table_cell(t, "%s", peer / arena >= target ? "met" : "NOT MET");
}

/*
 * Independent of the count: the two costs differ by less than 1 ns, or a
 * quarter of the cost, or three standard errors of the difference (what the
 * clock can resolve in this run).
 */
static void verdict_reset(struct bench_table *t, const struct reset_results *rr)
{
	double sem_big, sem_1, big = reset_net(rr, RESET_BIG_KIND, &sem_big);
	double one = reset_net(rr, RESET_1_TRAFFIC, &sem_1);
	double tol =
		fmax(fmax(1.0, 0.25 * fmax(big, one)), 3 * sqrt(sem_big * sem_big + sem_1 * sem_1));

	bench_table_row(t);
	bench_table_cell(t, "reset after 1e6 allocations / after 1 (same traffic)");
	bench_table_cell(t, "%.2f / %.2f ns", big, one);
	bench_table_cell(t, "~1 (O(1))");
	bench_table_cell(t, "%s (differ by %.2f ns, tolerance %.2f ns)",
			 fabs(big - one) <= tol ? "met" : "NOT MET", fabs(big - one), tol);
}

static int report_verdicts(const struct alloc_results *a, const struct reset_results *rr,
			   const struct bench_opts *opts)
{
	static const struct bench_column cols[] = {
		{ "comparison", true },
		{ "measured", false },
		{ "target", false },
		{ "verdict", true },
	};
	double arena16 = a->arena_p50[ALLOC_16];
	struct bench_table *t;
	int r;

	r = bench_table_new(opts->quick ? "targets (quick run: the verdicts mean nothing)" :
					  "targets",
			    cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	verdict_ratio(t, "glibc malloc+free / arena, 16 B", a->glibc_pair_16, arena16,
		      TARGET_VS_MALLOC);
	verdict_ratio(t, "APR apr_palloc / arena, 16 B", a->apr_16, arena16, TARGET_VS_APR);

	bench_table_row(t);
	bench_table_cell(t, "arena 16 B, absolute");
	bench_table_cell(t, "%.2f ns", arena16);
	bench_table_cell(t, "~%.1f ns (bumpalo)", BUMPALO_REF_NS);
	/* Within 25% counts as "near": the reference was measured on another machine. */
	if (arena16 <= BUMPALO_REF_NS * 1.25)
		bench_table_cell(t, "met");
	else
		bench_table_cell(t, "NOT MET (%.1fx the reference)", arena16 / BUMPALO_REF_NS);

	verdict_reset(t, rr);
	bench_table_print(t, stdout);
	r = bench_table_save(t, opts, "alloc-verdicts");
	bench_table_free(t);
	return r;
}

/* --- main ----------------------------------------------------------------------------- */

/*
 * jemalloc's library uses initial-exec TLS: dlopen() fails with "cannot
 * allocate memory in static TLS block" unless glibc reserves more static
 * TLS than its default surplus. That is only settable before the process
 * starts, so re-execute once with the tunable added. If that fails, the
 * run goes on and the jemalloc row says why it is missing.
 */
static void reexec_with_static_tls(char **argv)
{
	const char *old = getenv("GLIBC_TUNABLES");
	char *tunables;

	if (getenv("BHC_BENCH_ALLOC_REEXEC") || (old && strstr(old, "rtld.optional_static_tls")))
		return;
	if (asprintf(&tunables, "%s%sglibc.rtld.optional_static_tls=%u", old ? old : "",
		     old && *old ? ":" : "", STATIC_TLS_SURPLUS) < 0)
		return;
	if (setenv("GLIBC_TUNABLES", tunables, 1) == 0 &&
	    setenv("BHC_BENCH_ALLOC_REEXEC", "1", 1) == 0) {
		fflush(NULL);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "bench-alloc: cannot re-execute itself: %s\n", strerror(errno));
	}
	free(tunables);
}

static void print_arena_info(void)
{
	struct bhc_arena_opts aopts = { .mode = BHC_ARENA_MODE_LOCAL };
	struct bhc_arena_stats st;
	struct bhc_arena *arena;

	if (bhc_arena_new_opts(1u << 20, &aopts, &arena) < 0)
		return;
	if (bhc_arena_stats(arena, &st) == 0)
		printf("arena:       libbhc-arena %s, %s region, %s backing\n", bhc_arena_version(),
		       st.source_name, st.backing_name);
	bhc_arena_free(arena);
}

int main(int argc, char **argv)
{
	struct alloc_config cfg;
	struct bench_machine m;
	struct bench_opts opts;
	struct alloc_results ares = { 0 };
	struct reset_results rres = { 0 };
	int r;

	reexec_with_static_tls(argv);
	r = bench_parse_opts(argc, argv, "Allocation fast path: bhc_arena_alloc against its peers.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	cfg = (struct alloc_config){
		.n_objects = 4096,
		.n_rounds = opts.quick ? 3 : 7,
		.target_ns = opts.quick ? 1000000 : 20000000,
		.n_reset_big = opts.quick ? 5 : 200,
		.n_reset_arenas = opts.quick ? 4 : 8,
		.n_reset_small = opts.quick ? 1000 : 100000,
		.n_reset_loop = opts.quick ? 1u << 16 : 1u << 22,
	};

	printf("== bench-alloc: allocation fast path%s ==\n", opts.quick ? " (quick)" : "");
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	print_arena_info();

	r = measure_alloc(&cfg, &opts, &ares);
	if (r < 0)
		goto out_fail;
	r = measure_reset(&cfg, &rres);
	if (r < 0)
		goto out_fail;
	r = report_reset(&rres, &opts);
	if (r < 0)
		goto out_fail;
	r = report_verdicts(&ares, &rres, &opts);
	if (r < 0)
		goto out_fail;
	return EXIT_SUCCESS;

out_fail:
	fprintf(stderr, "bench-alloc: %s\n", strerror(-r));
	return EXIT_FAILURE;
}
