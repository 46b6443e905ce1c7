// SPDX-License-Identifier: MIT
/*
 * bench-kernels: numeric kernels with their working set in an arena leased
 * from bhc-arenad (hugetlb, pre-faulted by the daemon), in arenas the process
 * maps itself (hugetlb, small pages) and in glibc malloc memory:
 *
 *   GUPS     random xor-updates over a 1 GiB table of u64 (HPCC RandomAccess):
 *            the TLB case, with many misses in flight at once
 *   chase    dependent random reads over a 1 GiB table (a linked structure):
 *            the TLB case where nothing hides a page walk
 *   stencil  a 3-point Jacobi sweep in place over a 1 GiB array of doubles,
 *            with a Kahan-compensated sum of the result: the streaming case
 *   matmul   a blocked single-precision matrix multiply whose packed panels
 *            are temporaries, allocated per block in an arena scope
 *            (BHC_ARENA_SCOPE) or with malloc/free: the "temporaries cost
 *            nothing to free" case
 *
 * Every result is checked against a plain implementation on every kind of
 * memory before anything is timed. BHC_BENCH_QUICK=1 (or -q) shrinks the
 * working sets to tens of MiB: a smoke test whose timings mean nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-kernels-mem.h"

/* A good 64-bit mix of @z (splitmix64's output function). */
static inline uint64_t splitmix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* --- GUPS ------------------------------------------------------------------------------ */

/* Independent random streams: their misses overlap, as in HPCC's RandomAccess. */
#define GUPS_STREAMS 8

struct gups {
	uint64_t *table;
	size_t n_entries; /* a power of two */
	uint64_t n_updates; /* a multiple of GUPS_STREAMS */
};

static size_t gups_entries, gups_updates;

static inline uint64_t xorshift64(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* The start of stream @s: well spread, never 0 (xorshift would stay there). */
static uint64_t gups_seed(unsigned int s)
{
	return splitmix64(s) | 1;
}

static int gups_prepare(void *state, struct mem_ws *ws)
{
	struct gups *g = state;
	size_t i;

	g->n_entries = gups_entries;
	g->n_updates = gups_updates;
	g->table = mem_ws_alloc(ws, g->n_entries * sizeof(*g->table));
	if (!g->table)
		return -ENOMEM;
	for (i = 0; i < g->n_entries; i++)
		g->table[i] = i;
	return 0;
}

#define GUPS_STEP(s)                     \
	do {                             \
		x##s = xorshift64(x##s); \
		t[x##s & mask] ^= x##s;  \
	} while (0)

static int gups_run(void *state)
{
	struct gups *g = state;
	uint64_t *t = g->table, mask = g->n_entries - 1, j;
	uint64_t x0 = gups_seed(0), x1 = gups_seed(1), x2 = gups_seed(2), x3 = gups_seed(3);
	uint64_t x4 = gups_seed(4), x5 = gups_seed(5), x6 = gups_seed(6), x7 = gups_seed(7);

	for (j = 0; j < g->n_updates / GUPS_STREAMS; j++) {
		GUPS_STEP(0);
		GUPS_STEP(1);
		GUPS_STEP(2);
		GUPS_STEP(3);
		GUPS_STEP(4);
		GUPS_STEP(5);
		GUPS_STEP(6);
		GUPS_STEP(7);
	}
	return 0;
}

/*
 * HPCC's check: xor is its own inverse, so replaying the same updates with a
 * plain loop, one stream after the other, must give back the initial table
 * exactly. Any update lost, doubled or misplaced leaves an entry wrong.
 */
static int gups_verify(void *state, char *why, size_t why_len)
{
	struct gups *g = state;
	uint64_t mask = g->n_entries - 1, j;
	size_t i, n_wrong = 0, first = 0;
	unsigned int s;

	for (s = 0; s < GUPS_STREAMS; s++) {
		uint64_t x = gups_seed(s);

		for (j = 0; j < g->n_updates / GUPS_STREAMS; j++) {
			x = xorshift64(x);
			g->table[x & mask] ^= x;
		}
	}
	for (i = 0; i < g->n_entries; i++) {
		if (g->table[i] != i && !n_wrong++)
			first = i;
	}
	if (n_wrong) {
		snprintf(why, why_len, "%zu of %zu entries wrong after the replay (first: %zu)",
			 n_wrong, g->n_entries, first);
		return -EDOM;
	}
	snprintf(why, why_len, "a plain replay of the %llu updates restored all %zu entries",
		 (unsigned long long)g->n_updates, g->n_entries);
	return 0;
}

/* --- chase ------------------------------------------------------------------------------- */

/*
 * Dependent random reads: where the next read goes depends on what the last
 * one returned, as when walking a linked structure or a hash chain. Nothing
 * overlaps the misses, so every TLB miss adds its page walk to the latency.
 * The step number is mixed into each address so that the walk never falls
 * into a short cycle that would fit in a cache.
 */
struct chase {
	uint64_t *table;
	size_t n_entries; /* a power of two */
	uint64_t n_steps;
	uint64_t result; /* xor of every value read by the last walk */
};

static size_t chase_entries, chase_steps;

#define CHASE_STEP_MIX UINT64_C(0x9e3779b97f4a7c15)

static int chase_prepare(void *state, struct mem_ws *ws)
{
	struct chase *ch = state;
	size_t i;

	ch->n_entries = chase_entries;
	ch->n_steps = chase_steps;
	ch->table = mem_ws_alloc(ws, ch->n_entries * sizeof(*ch->table));
	if (!ch->table)
		return -ENOMEM;
	for (i = 0; i < ch->n_entries; i++)
		ch->table[i] = splitmix64(i);
	return 0;
}

static int chase_run(void *state)
{
	struct chase *ch = state;
	const uint64_t *t = ch->table;
	uint64_t mask = ch->n_entries - 1, idx = 0, acc = 0, s;

	for (s = 0; s < ch->n_steps; s++) {
		uint64_t v = t[idx];

		acc ^= v;
		idx = (v + s * CHASE_STEP_MIX) & mask;
	}
	ch->result = acc;
	return 0;
}

/* The same walk with every entry computed from its index instead of read. */
static int chase_verify(void *state, char *why, size_t why_len)
{
	struct chase *ch = state;
	uint64_t mask = ch->n_entries - 1, idx = 0, acc = 0, s;

	for (s = 0; s < ch->n_steps; s++) {
		uint64_t v = splitmix64(idx);

		acc ^= v;
		idx = (v + s * CHASE_STEP_MIX) & mask;
	}
	if (acc != ch->result) {
		snprintf(why, why_len, "walk of %llu steps read %016llx, plain %016llx",
			 (unsigned long long)ch->n_steps, (unsigned long long)ch->result,
			 (unsigned long long)acc);
		return -EDOM;
	}
	snprintf(why, why_len, "a plain walk of the %llu steps read the same (%016llx)",
		 (unsigned long long)ch->n_steps, (unsigned long long)acc);
	return 0;
}

/* --- stencil ----------------------------------------------------------------------------- */

#define STENCIL_LANES 4

struct stencil {
	double *a;
	size_t n;
	double sum; /* of the array after the last sweep */
};

static size_t stencil_n;

/* Initial values: multiples of 1/1024 in [0, 1), exact in binary. */
static inline double stencil_init(size_t i)
{
	return (double)((i * UINT64_C(2654435761)) & 1023) / 1024.0;
}

static inline double stencil_point(double left, double mid, double right)
{
	return 0.25 * left + 0.5 * mid + 0.25 * right;
}

static int stencil_prepare(void *state, struct mem_ws *ws)
{
	struct stencil *st = state;
	size_t i;

	st->n = stencil_n;
	st->a = mem_ws_alloc(ws, st->n * sizeof(*st->a));
	if (!st->a)
		return -ENOMEM;
	for (i = 0; i < st->n; i++)
		st->a[i] = stencil_init(i);
	return 0;
}

/* Kahan-compensated addition of @v into (*@s, *@c). */
static inline void kahan_add(double *s, double *c, double v)
{
	double y = v - *c, t = *s + y;

	*c = (t - *s) - y;
	*s = t;
}

/*
 * One Jacobi sweep in place: each inner point becomes a weighted mean of its
 * old neighbours (the old left neighbour is carried in a register), the end
 * points stay. The new values are summed by STENCIL_LANES Kahan sums, so
 * that the sum is not one long chain of dependent additions.
 */
static int stencil_run(void *state)
{
	struct stencil *st = state;
	double *a = st->a, s[STENCIL_LANES] = { 0 }, c[STENCIL_LANES] = { 0 };
	double prev = a[0], total = 0, comp = 0;
	size_t i, n = st->n, l;

	kahan_add(&s[0], &c[0], a[0]);
	for (i = 1; i + STENCIL_LANES < n; i += STENCIL_LANES) {
		for (l = 0; l < STENCIL_LANES; l++) {
			double cur = a[i + l], v = stencil_point(prev, cur, a[i + l + 1]);

			a[i + l] = v;
			prev = cur;
			kahan_add(&s[l], &c[l], v);
		}
	}
	for (; i + 1 < n; i++) {
		double cur = a[i], v = stencil_point(prev, cur, a[i + 1]);

		a[i] = v;
		prev = cur;
		kahan_add(&s[0], &c[0], v);
	}
	kahan_add(&s[0], &c[0], a[n - 1]);
	for (l = 0; l < STENCIL_LANES; l++) {
		kahan_add(&total, &comp, s[l]);
		kahan_add(&total, &comp, -c[l]);
	}
	st->sum = total;
	return 0;
}

/* Recompute every point from the initial values and sum them in long double. */
static int stencil_verify(void *state, char *why, size_t why_len)
{
	struct stencil *st = state;
	size_t i, n = st->n, n_wrong = 0, first = 0;
	long double ref_sum = 0;
	double rel;

	for (i = 0; i < n; i++) {
		double ref = i == 0 || i == n - 1 ?
				     stencil_init(i) :
				     stencil_point(stencil_init(i - 1), stencil_init(i),
						   stencil_init(i + 1));

		if (fabs(st->a[i] - ref) > 1e-15 && !n_wrong++)
			first = i;
		ref_sum += ref;
	}
	rel = fabs((double)((long double)st->sum - ref_sum)) / fabs((double)ref_sum);
	if (n_wrong || !(rel <= 1e-12)) {
		snprintf(why, why_len,
			 "%zu of %zu points wrong (first: %zu); sum %.17g, plain %.17Lg (rel. "
			 "error %.1e)",
			 n_wrong, n, first, st->sum, ref_sum, rel);
		return -EDOM;
	}
	snprintf(why, why_len, "all %zu points as recomputed; Kahan sum %.17g (rel. error %.1e)", n,
		 st->sum, rel);
	return 0;
}

/* --- matmul ------------------------------------------------------------------------------- */

/*
 * GotoBLAS-style blocking: a KC x NC panel of B and an MC x KC block of A are
 * packed into temporaries laid out for an MR x NR micro-kernel written with
 * GCC vector extensions (four-float vectors: baseline x86-64, no -march).
 */
#define MM_MR 4
#define MM_NR 8
#define MM_KC 256
#define MM_MC 128
#define MM_NC 512
#define MM_CHECK_N 203 /* ragged against every block size */

typedef float v4sf __attribute__((vector_size(16)));

struct matmul {
	float *a, *b, *c; /* n x n, row-major */
	size_t n;
	struct mem_ws *ws; /* where the temporaries come from */
	unsigned long n_temps; /* allocated by the last multiply */
};

static size_t matmul_n;

static size_t round_up(size_t v, size_t to)
{
	return (v + to - 1) / to * to;
}

/* Room a multiply of n x n needs for its temporaries at any one time, with alignment. */
static size_t matmul_temp_bytes(void)
{
	return (MM_KC * MM_NC + MM_MC * MM_KC) * sizeof(float) + 2 * 64;
}

static void matmul_fill(float *m, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n * n; i++)
		m[i] = (float)((i * 2654435761u + seed * 40503u) % 2001) / 1000.0f - 1.0f;
}

/* B[pc.., jc..] (kc x nc) into NR-column panels, k-major, zero-padded. */
static void pack_b(float *bp, const float *b, size_t n, size_t pc, size_t kc, size_t jc, size_t nc)
{
	size_t jp, k, j;

	for (jp = 0; jp < nc; jp += MM_NR)
		for (k = 0; k < kc; k++, bp += MM_NR)
			for (j = 0; j < MM_NR; j++)
				bp[j] = jp + j < nc ? b[(pc + k) * n + jc + jp + j] : 0.0f;
}

/* A[ic.., pc..] (mc x kc) into MR-row panels, k-major, zero-padded. */
static void pack_a(float *ap, const float *a, size_t n, size_t ic, size_t mc, size_t pc, size_t kc)
{
	size_t ip, k, i;

	for (ip = 0; ip < mc; ip += MM_MR)
		for (k = 0; k < kc; k++, ap += MM_MR)
			for (i = 0; i < MM_MR; i++)
				ap[i] = ip + i < mc ? a[(ic + ip + i) * n + pc + k] : 0.0f;
}

/* C[mr x nr at c] += Ap panel x Bp panel over kc. */
static void micro_kernel(float *c, size_t n, size_t mr, size_t nr, const float *ap, const float *bp,
			 size_t kc)
{
	v4sf acc[MM_MR][2], b0, b1;
	float out[MM_MR][MM_NR];
	size_t k, i, j;

	memset(acc, 0, sizeof(acc));

	for (k = 0; k < kc; k++, ap += MM_MR, bp += MM_NR) {
		memcpy(&b0, bp, sizeof(b0));
		memcpy(&b1, bp + 4, sizeof(b1));
		for (i = 0; i < MM_MR; i++) {
			acc[i][0] += ap[i] * b0;
			acc[i][1] += ap[i] * b1;
		}
	}
	memcpy(out, acc, sizeof(out));
	for (i = 0; i < mr; i++)
		for (j = 0; j < nr; j++)
			c[i * n + j] += out[i][j];
}

/* C[ic.., jc..] += packed A block x packed B panel. */
static void macro_kernel(float *c, size_t n, size_t ic, size_t mc, size_t jc, size_t nc,
			 const float *ap, const float *bp, size_t kc)
{
	size_t ip, jp;

	for (jp = 0; jp < nc; jp += MM_NR)
		for (ip = 0; ip < mc; ip += MM_MR)
			micro_kernel(c + (ic + ip) * n + jc + jp, n,
				     mc - ip < MM_MR ? mc - ip : MM_MR,
				     nc - jp < MM_NR ? nc - jp : MM_NR, ap + ip * kc, bp + jp * kc,
				     kc);
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* The temporaries in arena scopes: each block's panel is gone when its scope ends. */
static int multiply_arena(struct bhc_arena *arena, const float *a, const float *b, float *c,
			  size_t n, unsigned long *n_temps)
{
	size_t jc, pc, ic;

	for (jc = 0; jc < n; jc += MM_NC) {
		size_t nc = min_size(MM_NC, n - jc);

		for (pc = 0; pc < n; pc += MM_KC) {
			size_t kc = min_size(MM_KC, n - pc);
			BHC_ARENA_SCOPE(b_scope, arena);
			float *bp = bhc_arena_alloc_aligned(arena, float, kc *round_up(nc, MM_NR),
							    BHC_ALIGN_SIMD512);

			if (!bp)
				return -ENOMEM;
			(*n_temps)++;
			pack_b(bp, b, n, pc, kc, jc, nc);
			for (ic = 0; ic < n; ic += MM_MC) {
				size_t mc = min_size(MM_MC, n - ic);
				BHC_ARENA_SCOPE(a_scope, arena);
				float *ap = bhc_arena_alloc_aligned(
					arena, float, round_up(mc, MM_MR) * kc, BHC_ALIGN_SIMD512);

				if (!ap)
					return -ENOMEM;
				(*n_temps)++;
				pack_a(ap, a, n, ic, mc, pc, kc);
				macro_kernel(c, n, ic, mc, jc, nc, ap, bp, kc);
			}
		}
	}
	return 0;
}

/* The same with malloc and free per block. */
static int multiply_malloc(const float *a, const float *b, float *c, size_t n,
			   unsigned long *n_temps)
{
	size_t jc, pc, ic;

	for (jc = 0; jc < n; jc += MM_NC) {
		size_t nc = min_size(MM_NC, n - jc);

		for (pc = 0; pc < n; pc += MM_KC) {
			size_t kc = min_size(MM_KC, n - pc);
			float *bp = aligned_alloc(
				64, round_up(kc * round_up(nc, MM_NR) * sizeof(float), 64));

			if (!bp)
				return -ENOMEM;
			(*n_temps)++;
			pack_b(bp, b, n, pc, kc, jc, nc);
			for (ic = 0; ic < n; ic += MM_MC) {
				size_t mc = min_size(MM_MC, n - ic);
				float *ap = aligned_alloc(
					64, round_up(round_up(mc, MM_MR) * kc * sizeof(float), 64));

				if (!ap) {
					free(bp);
					return -ENOMEM;
				}
				(*n_temps)++;
				pack_a(ap, a, n, ic, mc, pc, kc);
				macro_kernel(c, n, ic, mc, jc, nc, ap, bp, kc);
				free(ap);
			}
			free(bp);
		}
	}
	return 0;
}

static int multiply(struct mem_ws *ws, const float *a, const float *b, float *c, size_t n,
		    unsigned long *n_temps)
{
	memset(c, 0, n * n * sizeof(*c));
	*n_temps = 0;
	if (ws->arena)
		return multiply_arena(ws->arena, a, b, c, n, n_temps);
	return multiply_malloc(a, b, c, n, n_temps);
}

static int matmul_prepare(void *state, struct mem_ws *ws)
{
	struct matmul *m = state;
	size_t bytes;

	m->n = matmul_n;
	m->ws = ws;
	bytes = m->n * m->n * sizeof(float);
	m->a = mem_ws_alloc(ws, bytes);
	m->b = mem_ws_alloc(ws, bytes);
	m->c = mem_ws_alloc(ws, bytes);
	if (!m->a || !m->b || !m->c)
		return -ENOMEM;
	matmul_fill(m->a, m->n, 1);
	matmul_fill(m->b, m->n, 2);
	memset(m->c, 0, bytes);
	return 0;
}

static int matmul_run(void *state)
{
	struct matmul *m = state;

	return multiply(m->ws, m->a, m->b, m->c, m->n, &m->n_temps);
}

/*
 * Check C[i][j] against a plain dot product in double. Float accumulation
 * over n terms is off by at most about n * 2^-24 of the sum of |a_ik b_kj|:
 * allow twice that. A lost or misplaced block is off by far more.
 */
static bool matmul_entry_ok(const float *a, const float *b, const float *c, size_t n, size_t i,
			    size_t j, double *errp)
{
	double s = 0, abs_sum = 0, err;
	size_t k;

	for (k = 0; k < n; k++) {
		double p = (double)a[i * n + k] * b[k * n + j];

		s += p;
		abs_sum += fabs(p);
	}
	err = fabs(c[i * n + j] - s);
	if (abs_sum > 0 && err / abs_sum > *errp)
		*errp = err / abs_sum;
	return err <= 2.0 * (double)n * 0x1p-24 * abs_sum + 1e-30;
}

/* Every entry when @n is small; else edge rows and columns and random entries. */
static size_t matmul_check(const float *a, const float *b, const float *c, size_t n, double *errp)
{
	const size_t lines[] = { 0, 1, MM_MR - 1, MM_MR, MM_NR, MM_MC - 1, MM_MC, n - 1 };
	size_t i, j, l, n_wrong = 0;
	uint64_t x = 0x2545f4914f6cdd1dull;

	if (n <= 256) {
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				n_wrong += !matmul_entry_ok(a, b, c, n, i, j, errp);
		return n_wrong;
	}
	for (l = 0; l < ARRAY_SIZE(lines); l++)
		for (j = 0; j < n; j++) {
			n_wrong += !matmul_entry_ok(a, b, c, n, lines[l], j, errp);
			n_wrong += !matmul_entry_ok(a, b, c, n, j, lines[l], errp);
		}
	for (l = 0; l < 512; l++) {
		x = xorshift64(x);
		n_wrong += !matmul_entry_ok(a, b, c, n, (x >> 8) % n, (x >> 36) % n, errp);
	}
	return n_wrong;
}

static int matmul_verify(void *state, char *why, size_t why_len)
{
	struct matmul *m = state;
	size_t n = MM_CHECK_N, bytes = n * n * sizeof(float), n_wrong, n_small_wrong;
	unsigned long n_temps;
	double err = 0;
	float *a, *b, *c;
	int r;

	n_wrong = matmul_check(m->a, m->b, m->c, m->n, &err);
	/* A ragged size on the same memory: every block edge case. */
	a = mem_ws_alloc(m->ws, bytes);
	b = mem_ws_alloc(m->ws, bytes);
	c = mem_ws_alloc(m->ws, bytes);
	if (!a || !b || !c) {
		snprintf(why, why_len, "no room for the %zu x %zu check", n, n);
		return -ENOMEM;
	}
	matmul_fill(a, n, 3);
	matmul_fill(b, n, 4);
	r = multiply(m->ws, a, b, c, n, &n_temps);
	if (r < 0) {
		snprintf(why, why_len, "the %zu x %zu multiply failed: %s", n, n, strerror(-r));
		return r;
	}
	n_small_wrong = matmul_check(a, b, c, n, &err);
	if (n_wrong || n_small_wrong) {
		snprintf(why, why_len,
			 "%zu entries wrong at n = %zu, %zu at n = %zu (largest rel. error %.1e)",
			 n_wrong, m->n, n_small_wrong, n, err);
		return -EDOM;
	}
	snprintf(why, why_len,
		 "n = %zu (%lu temporaries) and n = %zu as plain dot products (largest rel. "
		 "error %.1e)",
		 m->n, m->n_temps, n, err);
	return 0;
}

/* --- main ------------------------------------------------------------------------------------ */

static char gups_what[160], chase_what[160], stencil_what[160], matmul_what[200];

static struct kernel kernel_gups = {
	.name = "GUPS",
	.what = gups_what,
	.unit = "GUP/s",
	.state_size = sizeof(struct gups),
	.prepare = gups_prepare,
	.run = gups_run,
	.verify = gups_verify,
};

static struct kernel kernel_chase = {
	.name = "chase",
	.what = chase_what,
	.unit = "Msteps/s",
	.state_size = sizeof(struct chase),
	.prepare = chase_prepare,
	.run = chase_run,
	.verify = chase_verify,
};

static struct kernel kernel_stencil = {
	.name = "stencil",
	.what = stencil_what,
	.unit = "GB/s",
	.state_size = sizeof(struct stencil),
	.prepare = stencil_prepare,
	.run = stencil_run,
	.verify = stencil_verify,
};

static struct kernel kernel_matmul = {
	.name = "matmul",
	.what = matmul_what,
	.unit = "GFLOP/s",
	.state_size = sizeof(struct matmul),
	.prepare = matmul_prepare,
	.run = matmul_run,
	.verify = matmul_verify,
};

static const char *mib(size_t bytes, char *buf, size_t len)
{
	if (bytes >= (1u << 30) && !(bytes & ((1u << 30) - 1)))
		snprintf(buf, len, "%zu GiB", bytes >> 30);
	else
		snprintf(buf, len, "%zu MiB", bytes >> 20);
	return buf;
}

static void configure(bool quick)
{
	size_t check = 3 * MM_CHECK_N * MM_CHECK_N * sizeof(float) + 3 * 64;
	unsigned long n_blocks;
	char size[32];

	gups_entries = quick ? (size_t)1 << 22 : (size_t)1 << 27;
	gups_updates = quick ? (size_t)1 << 20 : (size_t)1 << 24;
	chase_entries = gups_entries;
	chase_steps = quick ? (size_t)1 << 18 : (size_t)1 << 20;
	stencil_n = quick ? (size_t)1 << 22 : (size_t)1 << 27;
	matmul_n = quick ? 256 : 1024;

	kernel_gups.ws_bytes = gups_entries * sizeof(uint64_t) + 64;
	kernel_gups.work = (double)gups_updates * 1e-9;
	snprintf(gups_what, sizeof(gups_what),
		 "%zu Mi random xor-updates (%d xorshift streams) over a %s table of u64",
		 gups_updates >> 20, GUPS_STREAMS,
		 mib(gups_entries * sizeof(uint64_t), size, sizeof(size)));

	kernel_chase.ws_bytes = chase_entries * sizeof(uint64_t) + 64;
	kernel_chase.work = (double)chase_steps * 1e-6;
	snprintf(chase_what, sizeof(chase_what),
		 "%zu Ki dependent random reads (each address from the last value) over a %s "
		 "table of u64",
		 chase_steps >> 10, mib(chase_entries * sizeof(uint64_t), size, sizeof(size)));

	kernel_stencil.ws_bytes = stencil_n * sizeof(double) + 64;
	kernel_stencil.work = (double)stencil_n * 2 * sizeof(double) * 1e-9;
	snprintf(stencil_what, sizeof(stencil_what),
		 "3-point Jacobi sweep in place over %s of doubles, Kahan-summed (GB/s: read "
		 "+ written)",
		 mib(stencil_n * sizeof(double), size, sizeof(size)));

	kernel_matmul.ws_bytes =
		3 * matmul_n * matmul_n * sizeof(float) + 3 * 64 + matmul_temp_bytes() + check;
	kernel_matmul.work = 2.0 * (double)matmul_n * matmul_n * matmul_n * 1e-9;
	n_blocks =
		(unsigned long)((matmul_n + MM_NC - 1) / MM_NC * ((matmul_n + MM_KC - 1) / MM_KC));
	snprintf(matmul_what, sizeof(matmul_what),
		 "C = A B, n = %zu, float; %lu packed B panels (%dx%d) and %lu A blocks (%dx%d) "
		 "as temporaries per multiply",
		 matmul_n, n_blocks, MM_KC, MM_NC,
		 n_blocks * (unsigned long)((matmul_n + MM_MC - 1) / MM_MC), MM_MC, MM_KC);
}

int main(int argc, char **argv)
{
	const struct kernel *kernels[] = { &kernel_gups, &kernel_chase, &kernel_stencil,
					   &kernel_matmul };
	size_t ws[ARRAY_SIZE(kernels)], i;
	struct kernel_rounds rounds;
	struct kernel_report *report;
	struct bench_machine m;
	struct bench_opts opts;
	struct mem_setup ms;
	int r, status = EXIT_SUCCESS;

	r = bench_parse_opts(argc, argv,
			     "Numeric kernels on daemon hugepage arenas, local arenas and malloc.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	configure(opts.quick);
	rounds = (struct kernel_rounds){
		.n_first_touch = opts.quick ? 2 : 5,
		.n_steady = opts.quick ? 2 : 5,
		.n_steady_warmup = opts.quick ? 0 : 1,
	};

	printf("== bench-kernels: numeric kernels on hot hugepage regions%s ==\n",
	       opts.quick ? " (quick)" : "");
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	for (i = 0; i < ARRAY_SIZE(kernels); i++)
		ws[i] = kernels[i]->ws_bytes;
	r = mem_setup_init(&ms, &opts, ws, ARRAY_SIZE(ws));
	if (r < 0) {
		fprintf(stderr, "bench-kernels: set-up failed: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	r = kernel_report_new(&report);
	if (r < 0)
		goto out_fini;
	for (i = 0; i < ARRAY_SIZE(kernels); i++) {
		r = kernel_measure(&ms, kernels[i], &rounds, report);
		if (r == -EDOM)
			status = EXIT_FAILURE;
		else if (r < 0)
			goto out_free_report;
	}
	r = kernel_report_print(report, &ms, "kernels");
	if (status != EXIT_SUCCESS)
		fprintf(stderr, "bench-kernels: a result was WRONG (see the checks above)\n");

out_free_report:
	kernel_report_free(report);
out_fini:
	mem_setup_fini(&ms);
	if (r < 0 && r != -EDOM) {
		fprintf(stderr, "bench-kernels: %s\n", strerror(-r));
		status = EXIT_FAILURE;
	}
	return status;
}
