// SPDX-License-Identifier: MIT
/*
 * bench-blas: OpenBLAS sgemm with its matrices in an arena leased from
 * bhc-arenad, in local arenas and in glibc malloc memory, side by side (see
 * bench-kernels-mem.h). OpenBLAS packs its operands into buffers of its own,
 * so this measures what the placement of A, B and C is worth to a tuned
 * library, first touch included.
 *
 * OpenBLAS runs on one thread unless $OPENBLAS_NUM_THREADS says otherwise:
 * on a small machine a second thread competes with the daemon and with
 * whatever else runs, and the figures would measure that.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-kernels-mem.h"

#define N_SAMPLES 64

struct sgemm {
	float *a, *b, *c; /* n x n, row-major */
	size_t n;
};

static size_t sgemm_n;

static void fill(float *m, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n * n; i++)
		m[i] = (float)((i * 2654435761u + seed * 40503u) % 2001) / 1000.0f - 1.0f;
}

static int sgemm_prepare(void *state, struct mem_ws *ws)
{
	struct sgemm *g = state;
	size_t bytes;

	g->n = sgemm_n;
	bytes = g->n * g->n * sizeof(float);
	g->a = mem_ws_alloc(ws, bytes);
	g->b = mem_ws_alloc(ws, bytes);
	g->c = mem_ws_alloc(ws, bytes);
	if (!g->a || !g->b || !g->c)
		return -ENOMEM;
	fill(g->a, g->n, 1);
	fill(g->b, g->n, 2);
	memset(g->c, 0, bytes);
	return 0;
}

static int sgemm_run(void *state)
{
	struct sgemm *g = state;
	int n = (int)g->n;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, g->a, n, g->b, n,
		    0.0f, g->c, n);
	return 0;
}

/*
 * A few entries (corners and random ones) against plain dot products in
 * double, allowing twice the float accumulation bound n * 2^-24 of the sum of
 * |a_ik b_kj|.
 */
static int sgemm_verify(void *state, char *why, size_t why_len)
{
	struct sgemm *g = state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	size_t n = g->n, s, k, n_wrong = 0;
	double worst = 0;

	for (s = 0; s < N_SAMPLES; s++) {
		size_t i, j;
		double sum = 0, abs_sum = 0, err;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = s < 4 ? (s & 1) * (n - 1) : (x >> 8) % n;
		j = s < 4 ? (s >> 1) * (n - 1) : (x >> 36) % n;
		for (k = 0; k < n; k++) {
			double p = (double)g->a[i * n + k] * g->b[k * n + j];

			sum += p;
			abs_sum += fabs(p);
		}
		err = fabs(g->c[i * n + j] - sum);
		if (abs_sum > 0 && err / abs_sum > worst)
			worst = err / abs_sum;
		n_wrong += err > 2.0 * (double)n * 0x1p-24 * abs_sum + 1e-30;
	}
	if (n_wrong) {
		snprintf(why, why_len, "%zu of %d sampled entries wrong (largest rel. error %.1e)",
			 n_wrong, N_SAMPLES, worst);
		return -EDOM;
	}
	snprintf(why, why_len, "%d entries as plain dot products (largest rel. error %.1e)",
		 N_SAMPLES, worst);
	return 0;
}

static char sgemm_what[160];

static struct kernel kernel_sgemm = {
	.name = "sgemm",
	.what = sgemm_what,
	.unit = "GFLOP/s",
	.state_size = sizeof(struct sgemm),
	.prepare = sgemm_prepare,
	.run = sgemm_run,
	.verify = sgemm_verify,
};

int main(int argc, char **argv)
{
	const char *threads = getenv("OPENBLAS_NUM_THREADS");
	struct kernel_rounds rounds;
	struct kernel_report *report;
	struct bench_machine m;
	struct bench_opts opts;
	struct mem_setup ms;
	int r, status = EXIT_SUCCESS;

	r = bench_parse_opts(argc, argv,
			     "OpenBLAS sgemm on daemon hugepage arenas, local arenas and malloc.",
			     &opts);
	if (r)
		return r > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	if (!threads || !*threads)
		openblas_set_num_threads(1);
	sgemm_n = opts.quick ? 256 : 2048;
	kernel_sgemm.ws_bytes = 3 * (sgemm_n * sgemm_n * sizeof(float) + 64);
	kernel_sgemm.work = 2.0 * (double)sgemm_n * sgemm_n * sgemm_n * 1e-9;
	snprintf(sgemm_what, sizeof(sgemm_what),
		 "OpenBLAS cblas_sgemm, C = A B, n = %zu, row-major, %d thread%s", sgemm_n,
		 openblas_get_num_threads(), openblas_get_num_threads() == 1 ? "" : "s");
	rounds = (struct kernel_rounds){
		.n_first_touch = opts.quick ? 2 : 5,
		.n_steady = opts.quick ? 2 : 5,
		.n_steady_warmup = opts.quick ? 0 : 1,
	};

	printf("== bench-blas: OpenBLAS sgemm on hot hugepage regions%s ==\n",
	       opts.quick ? " (quick)" : "");
	bench_machine_get(&m);
	bench_machine_print(&m, stdout);
	printf("openblas:    %s, core %s, %d thread%s (%s)\n", openblas_get_config(),
	       openblas_get_corename(), openblas_get_num_threads(),
	       openblas_get_num_threads() == 1 ? "" : "s",
	       threads && *threads ? "$OPENBLAS_NUM_THREADS" : "set by bench-blas");
	r = mem_setup_init(&ms, &opts, &kernel_sgemm.ws_bytes, 1);
	if (r < 0) {
		fprintf(stderr, "bench-blas: set-up failed: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	r = kernel_report_new(&report);
	if (r < 0)
		goto out_fini;
	r = kernel_measure(&ms, &kernel_sgemm, &rounds, report);
	if (r == 0 || r == -EDOM) {
		int p = kernel_report_print(report, &ms, "blas");

		if (p < 0 && r == 0)
			r = p;
	}
	kernel_report_free(report);
out_fini:
	mem_setup_fini(&ms);
	if (r == -EDOM) {
		fprintf(stderr, "bench-blas: a result was WRONG (see the checks above)\n");
		status = EXIT_FAILURE;
	} else if (r < 0) {
		fprintf(stderr, "bench-blas: %s\n", strerror(-r));
		status = EXIT_FAILURE;
	}
	return status;
}
