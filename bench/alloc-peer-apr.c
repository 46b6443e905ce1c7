// SPDX-License-Identifier: MIT
/*
 * APR pools: apr_palloc, then apr_pool_clear per batch. APR has no aligned
 * allocation, so the 64-byte aligned workload asks for size + 63 and rounds
 * up, which is what an APR user has to do.
 */
#include "alloc-peers.h"

#if HAVE_BENCH_APR
#include <apr_general.h>
#include <apr_pools.h>
#include <stdlib.h>
#include <errno.h>

struct apr_state {
	apr_pool_t *pool;
};

static int apr_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	struct apr_state *s;
	apr_status_t st;

	st = apr_initialize();
	if (st != APR_SUCCESS)
		goto out_fail;
	s = calloc(1, sizeof(*s));
	if (!s) {
		apr_terminate();
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	st = apr_pool_create(&s->pool, NULL);
	if (st != APR_SUCCESS) {
		free(s);
		apr_terminate();
		goto out_fail;
	}
	*statep = s;
	return 0;

out_fail:
	apr_strerror(st, why, why_size);
	return -EIO;
}

static void apr_close(void *state)
{
	struct apr_state *s = state;

	apr_pool_destroy(s->pool);
	free(s);
	apr_terminate();
}

static inline __attribute__((always_inline)) void apr_batch(void *state, const struct alloc_work *w,
							    size_t size, size_t align)
{
	struct apr_state *s = state;
	size_t i;

	for (i = 0; i < w->n; i++) {
		size_t n = alloc_size(w, i, size);
		void *p;

		/* apr_palloc() aligns to 8, the default of every workload but one. */
		if (align > ALLOC_ALIGN_DEFAULT) {
			p = apr_palloc(s->pool, n + align - 1);
			if (!p)
				alloc_fail("apr_palloc", n);
			p = alloc_align_up(p, align);
		} else {
			p = apr_palloc(s->pool, n);
			if (!p)
				alloc_fail("apr_palloc", n);
		}
		bench_touch(p, i);
	}
	apr_pool_clear(s->pool);
}

ALLOC_DEFINE_BATCHES(apr_batch)

const struct alloc_peer alloc_peer_apr = {
	.name = "APR pool",
	.method = "apr_palloc; apr_pool_clear",
	.open = apr_open,
	.close = apr_close,
	.batch = ALLOC_BATCHES(apr_batch),
};
#else
const struct alloc_peer alloc_peer_apr = {
	.name = "APR pool",
	.method = "apr_palloc; apr_pool_clear",
	.missing = "not installed",
};
#endif
