/* SPDX-License-Identifier: MIT */
/*
 * Thread-local arenas: every thread that calls bhc_arena_thread() gets an
 * arena of its own, created on first use and given back when the thread
 * exits. No locks: an arena belongs to one thread. (A thread that starts
 * after another has exited may well get the same addresses again.) Prints TAP so that
 * `make check` can run it.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <bhc/arena.h>

#define N_THREADS 4
#define N_ITEMS 10000

static pthread_barrier_t all_started;

struct worker {
	int id;
	struct bhc_arena *arena;
	char backing[16];
	uint64_t sum;
	size_t high_water;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct bhc_arena *a = bhc_arena_thread();
	struct bhc_arena_stats st;
	int round, i;

	w->arena = a;
	pthread_barrier_wait(&all_started); /* all arenas exist at once */
	if (!a)
		return NULL;
	for (round = 0; round < 10; round++) {
		uint32_t *v = bhc_arena_alloc_slice(a, uint32_t, N_ITEMS);

		if (!v)
			return NULL;
		for (i = 0; i < N_ITEMS; i++)
			v[i] = (uint32_t)(w->id * i);
		for (i = 0; i < N_ITEMS; i++)
			w->sum += v[i];
		bhc_arena_reset(a); /* this thread's arena only */
	}
	bhc_arena_stats(a, &st);
	snprintf(w->backing, sizeof(w->backing), "%s", st.backing_name);
	w->high_water = st.high_water;
	return NULL;
}

int main(void)
{
	struct worker w[N_THREADS];
	pthread_t tid[N_THREADS];
	int i, j, ok = 1;

	printf("1..1\n");
	memset(w, 0, sizeof(w));
	pthread_barrier_init(&all_started, NULL, N_THREADS);
	for (i = 0; i < N_THREADS; i++) {
		w[i].id = i + 1;
		if (pthread_create(&tid[i], NULL, work, &w[i]) != 0) {
			printf("not ok 1 - pthread_create\n");
			return 1;
		}
	}
	for (i = 0; i < N_THREADS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&all_started);
	for (i = 0; i < N_THREADS; i++) {
		uint64_t expect = 10ull * (uint64_t)w[i].id * N_ITEMS * (N_ITEMS - 1) / 2;

		printf("# thread %d: arena %p (%s), sum %llu, high-water %zu bytes\n", w[i].id,
		       (void *)w[i].arena, w[i].backing, (unsigned long long)w[i].sum,
		       w[i].high_water);
		ok &= w[i].arena && w[i].sum == expect;
		for (j = 0; j < i; j++)
			ok &= w[i].arena != w[j].arena;
	}
	printf("%s 1 - one arena per thread\n", ok ? "ok" : "not ok");
	return !ok;
}
