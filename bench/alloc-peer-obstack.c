// SPDX-License-Identifier: MIT
/*
 * GNU obstack (glibc): obstack_alloc, then obstack_free back to a mark taken
 * at the start of the batch. The chunk size is set so that one chunk holds a
 * whole batch, as the arena's one region does; with the default 4 KiB chunks
 * every batch would also malloc and free chunks.
 */
#include "alloc-peers.h"

#if HAVE_BENCH_OBSTACK
#include <errno.h>
#include <obstack.h>
#include <stdlib.h>

#define obstack_chunk_alloc malloc
#define obstack_chunk_free free

struct obstack_state {
	struct obstack ob; /* default workloads: 8-byte alignment, like the arena's */
	struct obstack ob64; /* the 64-byte aligned workload */
};

static int obstack_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	struct obstack_state *s = calloc(1, sizeof(*s));
	size_t chunk = w->max_bytes + 4096;

	/* obstack_begin() calls obstack_alloc_failed_handler (which exits) on ENOMEM. */
	if (!s || !obstack_begin(&s->ob, chunk) || !obstack_begin(&s->ob64, chunk)) {
		free(s);
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	obstack_alignment_mask(&s->ob) = ALLOC_ALIGN_DEFAULT - 1;
	obstack_alignment_mask(&s->ob64) = 64 - 1;
	*statep = s;
	return 0;
}

static void obstack_close(void *state)
{
	struct obstack_state *s = state;

	obstack_free(&s->ob, NULL);
	obstack_free(&s->ob64, NULL);
	free(s);
}

static inline __attribute__((always_inline)) void
obstack_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	struct obstack_state *s = state;
	struct obstack *ob = align > ALLOC_ALIGN_DEFAULT ? &s->ob64 : &s->ob;
	void *mark = obstack_alloc(ob, 0);
	size_t i;

	for (i = 0; i < w->n; i++) {
		/* obstack_alloc() never returns NULL: its failure handler exits. */
		void *p = obstack_alloc(ob, alloc_size(w, i, size));

		bench_touch(p, i);
	}
	obstack_free(ob, mark);
}

ALLOC_DEFINE_BATCHES(obstack_batch)

const struct alloc_peer alloc_peer_obstack = {
	.name = "obstack",
	.method = "obstack_alloc; obstack_free to a mark",
	.open = obstack_open,
	.close = obstack_close,
	.batch = ALLOC_BATCHES(obstack_batch),
};
#else
const struct alloc_peer alloc_peer_obstack = {
	.name = "obstack",
	.method = "obstack_alloc; obstack_free to a mark",
	.missing = "not installed",
};
#endif
