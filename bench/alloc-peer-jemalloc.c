// SPDX-License-Identifier: MIT
/*
 * jemalloc: mallocx, then dallocx of every object of the batch.
 *
 * Debian's libjemalloc.so.2 exports malloc/free unprefixed: linking it would
 * replace glibc's malloc for the whole process, glibc and APR and talloc
 * rows included. So it is dlopen()ed with RTLD_LOCAL (its symbols stay out
 * of the global scope: everyone else keeps glibc malloc) and RTLD_DEEPBIND
 * (what it references resolves inside it first), and called through
 * mallocx/dallocx pointers, an indirect call like the PLT call any shared
 * allocator costs. Its static TLS needs glibc's surplus raised, which
 * bench-alloc does by re-executing itself with GLIBC_TUNABLES set.
 */
#include "alloc-peers.h"

#if HAVE_BENCH_JEMALLOC
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define JEMALLOC_SONAME "libjemalloc.so.2"
/* MALLOCX_LG_ALIGN() of <jemalloc/jemalloc.h>: flags are log2 of the alignment. */
#define JE_MALLOCX_LG_ALIGN(lg) ((int)(lg))

struct jemalloc_state {
	void *dl;
	void *(*mallocx)(size_t size, int flags);
	void (*dallocx)(void *p, int flags);
};

static int jemalloc_open(const struct alloc_work *w, void **statep, char *why, size_t why_size)
{
	struct jemalloc_state *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(why, why_size, "out of memory");
		return -ENOMEM;
	}
	s->dl = dlopen(JEMALLOC_SONAME, ALLOC_DLOPEN_FLAGS);
	if (!s->dl)
		goto out_dlerror;
	*(void **)&s->mallocx = dlsym(s->dl, "mallocx");
	*(void **)&s->dallocx = dlsym(s->dl, "dallocx");
	if (!s->mallocx || !s->dallocx)
		goto out_dlclose;
	*statep = s;
	return 0;

out_dlclose:
	dlclose(s->dl);
	snprintf(why, why_size, "%s has no mallocx/dallocx", JEMALLOC_SONAME);
	free(s);
	return -ENOENT;
out_dlerror:
	snprintf(why, why_size, "dlopen: %s", dlerror());
	free(s);
	return -ENOENT;
}

static void jemalloc_close(void *state)
{
	struct jemalloc_state *s = state;

	/* Not dlclose()d: jemalloc keeps thread caches and TSD destructors alive. */
	free(s);
}

static inline __attribute__((always_inline)) void
jemalloc_batch(void *state, const struct alloc_work *w, size_t size, size_t align)
{
	struct jemalloc_state *s = state;
	int flags = align > ALLOC_ALIGN_DEFAULT ? JE_MALLOCX_LG_ALIGN(__builtin_ctzl(align)) : 0;
	size_t i;

	for (i = 0; i < w->n; i++) {
		size_t n = alloc_size(w, i, size);
		void *p = s->mallocx(n, flags);

		if (!p)
			alloc_fail("mallocx", n);
		bench_touch(p, i);
		w->ptrs[i] = p;
	}
	for (i = 0; i < w->n; i++)
		s->dallocx(w->ptrs[i], 0);
}

ALLOC_DEFINE_BATCHES(jemalloc_batch)

const struct alloc_peer alloc_peer_jemalloc = {
	.name = "jemalloc",
	.method = "mallocx; dallocx each (dlopen, RTLD_LOCAL)",
	.open = jemalloc_open,
	.close = jemalloc_close,
	.batch = ALLOC_BATCHES(jemalloc_batch),
};
#else
const struct alloc_peer alloc_peer_jemalloc = {
	.name = "jemalloc",
	.method = "mallocx; dallocx each",
	.missing = "not installed",
};
#endif
