/* SPDX-License-Identifier: MIT */
/*
 * The seed's numeric kernel: a matrix multiply whose temporaries (a
 * transposed copy of B and the product) live in an arena, and whose result
 * is copied out before the arena scope ends. Checked against a plain triple
 * loop. Prints TAP so that `make check` can run it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bhc/arena.h>

struct matrix {
	size_t rows, cols;
	float *v; /* rows * cols, row-major, malloc'd */
};

struct matmul {
	const struct matrix *a, *b;
	struct matrix *out;
};

static size_t temp_size(const struct matrix *a, const struct matrix *b)
{
	/* B transposed, the product, and alignment slack */
	return (b->rows * b->cols + a->rows * b->cols) * sizeof(float) + 2 * BHC_ALIGN_SIMD512;
}

static int matmul_kernel(struct bhc_arena *arena, void *data)
{
	struct matmul *m = data;
	const struct matrix *a = m->a, *b = m->b;
	float *bt = bhc_arena_alloc_aligned(arena, float, b->rows * b->cols, BHC_ALIGN_SIMD512);
	float *tmp = bhc_arena_alloc_aligned(arena, float, a->rows * b->cols, BHC_ALIGN_SIMD512);
	size_t i, j, k;

	if (!bt || !tmp)
		return -1;
	for (i = 0; i < b->rows; i++) /* transposed: the inner loop reads both rows sequentially */
		for (j = 0; j < b->cols; j++)
			bt[j * b->rows + i] = b->v[i * b->cols + j];
	for (i = 0; i < a->rows; i++)
		for (j = 0; j < b->cols; j++) {
			float s = 0;

			for (k = 0; k < a->cols; k++)
				s += a->v[i * a->cols + k] * bt[j * b->rows + k];
			tmp[i * b->cols + j] = s;
		}
	/* copy the result out of the arena: tmp and bt go when we return */
	m->out->rows = a->rows;
	m->out->cols = b->cols;
	m->out->v = malloc(a->rows * b->cols * sizeof(float));
	if (!m->out->v)
		return -1;
	memcpy(m->out->v, tmp, a->rows * b->cols * sizeof(float));
	return 0;
}

static int matrix_multiply(const struct matrix *a, const struct matrix *b, struct matrix *out)
{
	struct matmul m = { a, b, out };

	return bhc_with_arena(temp_size(a, b), matmul_kernel, &m);
}

static int matrix_init(struct matrix *m, size_t rows, size_t cols, unsigned int seed)
{
	size_t i;

	m->rows = rows;
	m->cols = cols;
	m->v = malloc(rows * cols * sizeof(float));
	if (!m->v)
		return -1;
	for (i = 0; i < rows * cols; i++)
		m->v[i] = (float)((i * 2654435761u + seed) % 1000) / 500.0f - 1.0f;
	return 0;
}

int main(void)
{
	struct matrix a, b, c = { 0 };
	double max_err = 0;
	size_t i, j, k;
	int ok;

	printf("1..1\n");
	if (matrix_init(&a, 150, 200, 1) || matrix_init(&b, 200, 120, 2)) {
		printf("not ok 1 - out of memory\n");
		return 1;
	}
	ok = matrix_multiply(&a, &b, &c) == 0 && c.rows == 150 && c.cols == 120;
	for (i = 0; ok && i < c.rows; i++)
		for (j = 0; j < c.cols; j++) {
			double s = 0;

			for (k = 0; k < a.cols; k++)
				s += (double)a.v[i * a.cols + k] * b.v[k * b.cols + j];
			if (fabs(s - c.v[i * c.cols + j]) > max_err)
				max_err = fabs(s - c.v[i * c.cols + j]);
		}
	printf("# %zux%zu times %zux%zu with %zu bytes of arena temporaries; largest error %.2e\n",
	       a.rows, a.cols, b.rows, b.cols, temp_size(&a, &b), max_err);
	ok &= max_err < 1e-3;
	free(a.v);
	free(b.v);
	free(c.v);
	printf("%s 1 - matrix multiply with arena temporaries\n", ok ? "ok" : "not ok");
	return !ok;
}
