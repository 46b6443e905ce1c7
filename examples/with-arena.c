/* SPDX-License-Identifier: MIT */
/*
 * bhc_with_arena(): temporaries that live exactly as long as a computation.
 *
 * Standardises a data set (z-scores) with a scratch buffer from the arena;
 * the buffer is gone when the callback returns. Prints TAP so that
 * `make check` can run it.
 */
#include <math.h>
#include <stdio.h>

#include <bhc/arena.h>

#define N 100000

struct job {
	const double *in;
	size_t n;
	double mean, stddev, max_z;
};

static int standardise(struct bhc_arena *arena, void *data)
{
	struct job *job = data;
	double *dev = bhc_arena_alloc_slice(arena, double, job->n);
	double sum = 0, sq = 0;
	size_t i;

	if (!dev)
		return -1; /* cannot happen: bhc_with_arena() promised the room */
	for (i = 0; i < job->n; i++)
		sum += job->in[i];
	job->mean = sum / (double)job->n;
	for (i = 0; i < job->n; i++) {
		dev[i] = job->in[i] - job->mean;
		sq += dev[i] * dev[i];
	}
	job->stddev = sqrt(sq / (double)job->n);
	job->max_z = 0;
	for (i = 0; i < job->n; i++)
		if (fabs(dev[i] / job->stddev) > job->max_z)
			job->max_z = fabs(dev[i] / job->stddev);
	printf("# scratch: %zu bytes used in an arena with %zu bytes left\n", bhc_arena_used(arena),
	       bhc_arena_remaining(arena));
	return 0;
}

int main(void)
{
	static double data[N];
	struct job job = { .in = data, .n = N };
	struct bhc_arena *t;
	size_t used_before;
	int i, r, ok;

	printf("1..1\n");
	for (i = 0; i < N; i++)
		data[i] = 10.0 + 3.0 * sin(i * 0.001) + (i % 7) * 0.1;

	t = bhc_arena_thread();
	used_before = t ? bhc_arena_used(t) : 0;
	r = bhc_with_arena(N * sizeof(double), standardise, &job);
	printf("# mean %.4f, stddev %.4f, largest |z| %.3f\n", job.mean, job.stddev, job.max_z);
	/* the scratch buffer went back when standardise() returned */
	ok = r == 0 && t && bhc_arena_used(t) == used_before && job.stddev > 2.0 &&
	     job.stddev < 2.3 && job.max_z < 2.0;
	printf("%s 1 - with_arena scratch buffer\n", ok ? "ok" : "not ok");
	return !ok;
}
