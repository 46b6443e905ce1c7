/* SPDX-License-Identifier: MIT */
/*
 * Nested scopes: an inner bhc_with_arena() allocates after the outer one's
 * cursor and gives its memory back on return, while the outer allocations
 * stay valid. BHC_ARENA_SCOPE does the same for a C block. Prints TAP so
 * that `make check` can run it.
 */
#include <stdio.h>

#include <bhc/arena.h>

#define N 100

struct ctx {
	float *a;
	float dot;
	size_t inner_used, outer_used_after;
};

static int inner(struct bhc_arena *arena, void *data)
{
	struct ctx *c = data;
	float *b = bhc_arena_alloc_slice(arena, float, N);
	int i;

	if (!b)
		return -1;
	for (i = 0; i < N; i++)
		b[i] = 2.0f;
	c->dot = 0;
	for (i = 0; i < N; i++)
		c->dot += c->a[i] * b[i];
	c->inner_used = bhc_arena_used(arena);
	return 0; /* b is freed here */
}

static int outer(struct bhc_arena *arena, void *data)
{
	struct ctx *c = data;
	int i, r;

	c->a = bhc_arena_alloc_slice(arena, float, N);
	if (!c->a)
		return -1;
	for (i = 0; i < N; i++)
		c->a[i] = (float)i;
	r = bhc_with_arena(N * sizeof(float), inner, c);
	c->outer_used_after = bhc_arena_used(arena);
	/* a is still valid */
	return r == 0 && c->a[N - 1] == (float)(N - 1) ? 0 : -1;
}

int main(void)
{
	struct ctx c = { 0 };
	struct bhc_arena *t = bhc_arena_thread();
	size_t base_used;
	int ok;

	printf("1..1\n");
	if (!t) {
		printf("not ok 1 - no thread arena\n");
		return 1;
	}
	base_used = bhc_arena_used(t);
	ok = bhc_with_arena(4096, outer, &c) == 0;
	printf("# dot product %.0f; %zu bytes used inside, %zu after the inner scope, %zu after both\n",
	       c.dot, c.inner_used, c.outer_used_after, bhc_arena_used(t));
	ok &= c.dot == 9900.0f && c.inner_used > c.outer_used_after &&
	      bhc_arena_used(t) == base_used;

	/* the same with a block-scoped guard */
	{
		BHC_ARENA_SCOPE(scope, t);
		char *tmp = bhc_arena_alloc(t, 1000, 8);

		ok &= tmp != NULL && bhc_arena_used(t) >= base_used + 1000;
	}
	ok &= bhc_arena_used(t) == base_used;
	printf("%s 1 - nested scopes rewind exactly\n", ok ? "ok" : "not ok");
	return !ok;
}
