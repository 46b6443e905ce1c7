// SPDX-License-Identifier: MIT
/*
 * mimalloc, two ways: mi_malloc then mi_free of every object (a general
 * allocator, like jemalloc), and a mi_heap per batch, mi_heap_malloc then
 * mi_heap_destroy (which frees all of a heap's objects at once: the
 * arena-like use of mimalloc, and its fairest match for a reset; the
 * mi_heap_new of each batch is part of its cost, as a reset is part of the
 * arena's).
 *
 * Debian's libmimalloc.so.2 overrides malloc/free when linked, which would
 * turn every glibc row into a mimalloc row; so, as for jemalloc, it is
 * dlopen()ed with RTLD_LOCAL | RTLD_DEEPBIND and called through pointers.
 */
#include "alloc-peers.h"

#if HAVE_BENCH_MIMALLOC
#include <dlfcn.h>
#include <errno.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>

#define MIMALLOC_SONAME "libmimalloc.so.2"

struct mimalloc_state {
	void *dl;
	void *(*malloc)(size_t size);
	void *(*malloc_aligned)(size_t size, size_t align);
	void (*free)(void *p);
	mi_heap_t *(*heap_new)(void);
	void *(*heap_malloc)(mi_heap_t *heap, size_t size);
	void *(*heap_malloc_aligned)(mi_heap_t *heap, size_t size, size_t align);
	void (*heap_destroy)(mi_heap_t *heap);
};

static int mimalloc_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	struct mimalloc_state *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	s->dl = dlopen(MIMALLOC_SONAME, ALLOC_DLOPEN_FLAGS);
	if (!s->dl) {
		snprintf(why, why_size, "dlopen: %s", dlerror());
		free(s);
		return -ENOENT;
	}
	*(void **)&s->malloc = dlsym(s->dl, "mi_malloc");
	*(void **)&s->malloc_aligned = dlsym(s->dl, "mi_malloc_aligned");
	*(void **)&s->free = dlsym(s->dl, "mi_free");
	*(void **)&s->heap_new = dlsym(s->dl, "mi_heap_new");
	*(void **)&s->heap_malloc = dlsym(s->dl, "mi_heap_malloc");
	*(void **)&s->heap_malloc_aligned = dlsym(s->dl, "mi_heap_malloc_aligned");
	*(void **)&s->heap_destroy = dlsym(s->dl, "mi_heap_destroy");
	if (!s->malloc || !s->malloc_aligned || !s->free || !s->heap_new || !s->heap_malloc ||
	    !s->heap_malloc_aligned || !s->heap_destroy) {
		snprintf(why, why_size, "%s lacks a mi_* function", MIMALLOC_SONAME);
		dlclose(s->dl);
		free(s);
		return -ENOENT;
	}
	*statep = s;
	return 0;
}

static void mimalloc_close(void *state)
{
	struct mimalloc_state *s = state;

	/* Not dlclose()d: mimalloc keeps thread-local heaps and destructors alive. */
	free(s);
}

static inline __attribute__((always_inline)) void
mimalloc_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	struct mimalloc_state *s = state;
	size_t i;

	for (i = 0; i < w->n; i++) {
		size_t n = alloc_size(w, i, size);
		void *p = align > ALLOC_ALIGN_DEFAULT ? s->malloc_aligned(n, align) : s->malloc(n);

		if (!p)
			alloc_fail("mi_malloc", n);
		bench_touch(p, i);
		w->ptrs[i] = p;
	}
	for (i = 0; i < w->n; i++)
		s->free(w->ptrs[i]);
}

static inline __attribute__((always_inline)) void
mimalloc_heap_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	struct mimalloc_state *s = state;
	mi_heap_t *heap = s->heap_new();
	size_t i;

	if (!heap)
		alloc_fail("mi_heap_new", 0);
	for (i = 0; i < w->n; i++) {
		size_t n = alloc_size(w, i, size);
		void *p = align > ALLOC_ALIGN_DEFAULT ? s->heap_malloc_aligned(heap, n, align) :
							s->heap_malloc(heap, n);

		if (!p)
			alloc_fail("mi_heap_malloc", n);
		bench_touch(p, i);
	}
	s->heap_destroy(heap);
}

ALLOC_DEFINE_BATCHES(mimalloc_batch)
ALLOC_DEFINE_BATCHES(mimalloc_heap_batch)

const struct alloc_peer alloc_peer_mimalloc = {
	.name = "mimalloc",
	.method = "mi_malloc; mi_free each (dlopen, RTLD_LOCAL)",
	.open = mimalloc_open,
	.close = mimalloc_close,
	.batch = ALLOC_BATCHES(mimalloc_batch),
};

const struct alloc_peer alloc_peer_mimalloc_heap = {
	.name = "mimalloc heap",
	.method = "mi_heap_new; mi_heap_malloc; mi_heap_destroy",
	.open = mimalloc_open,
	.close = mimalloc_close,
	.batch = ALLOC_BATCHES(mimalloc_heap_batch),
};
#else
const struct alloc_peer alloc_peer_mimalloc = {
	.name = "mimalloc",
	.method = "mi_malloc; mi_free each",
	.missing = "not installed",
};

const struct alloc_peer alloc_peer_mimalloc_heap = {
	.name = "mimalloc heap",
	.method = "mi_heap_new; mi_heap_malloc; mi_heap_destroy",
	.missing = "not installed",
};
#endif
