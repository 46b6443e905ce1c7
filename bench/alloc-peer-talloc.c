// SPDX-License-Identifier: MIT
/*
 * talloc: children of a talloc_pool() big enough for a whole batch (the
 * arena-like way to use talloc: no malloc per child), freed together with
 * talloc_free_children(), which empties the pool again. talloc has no
 * aligned allocation: the aligned workload asks for size + 63 and rounds up.
 */
#include "alloc-peers.h"

#if HAVE_BENCH_TALLOC
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <talloc.h>

/* A talloc chunk header is 96 bytes on LP64 and children are 16-aligned. */
#define TALLOC_CHILD_OVERHEAD 128u

struct talloc_state {
	void *pool;
};

static int talloc_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	struct talloc_state *s = calloc(1, sizeof(*s));

	if (!s)
		goto out_nomem;
	s->pool = talloc_pool(NULL, w->max_bytes + w->n * TALLOC_CHILD_OVERHEAD);
	if (!s->pool) {
		free(s);
		goto out_nomem;
	}
	*statep = s;
	return 0;

out_nomem:
	snprintf(why, why_size, "out of memory");
	return -ENOMEM;
}

static void talloc_close(void *state)
{
	struct talloc_state *s = state;

	talloc_free(s->pool);
	free(s);
}

static inline __attribute__((always_inline)) void
talloc_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	struct talloc_state *s = state;
	size_t i;

	for (i = 0; i < w->n; i++) {
		size_t n = alloc_size(w, i, size);
		void *p;

		if (align > ALLOC_ALIGN_DEFAULT) {
			p = talloc_size(s->pool, n + align - 1);
			if (!p)
				alloc_fail("talloc_size", n);
			p = alloc_align_up(p, align);
		} else {
			p = talloc_size(s->pool, n);
			if (!p)
				alloc_fail("talloc_size", n);
		}
		bench_touch(p, i);
	}
	talloc_free_children(s->pool);
}

ALLOC_DEFINE_BATCHES(talloc_batch)

const struct alloc_peer alloc_peer_talloc = {
	.name = "talloc pool",
	.method = "talloc_size in a talloc_pool; talloc_free_children",
	.open = talloc_open,
	.close = talloc_close,
	.batch = ALLOC_BATCHES(talloc_batch),
};
#else
const struct alloc_peer alloc_peer_talloc = {
	.name = "talloc pool",
	.method = "talloc_size in a talloc_pool; talloc_free_children",
	.missing = "not installed",
};
#endif
