/* SPDX-License-Identifier: MIT */
/*
 * The allocators bench-alloc compares, one file each (alloc-peer-*.c). A
 * peer that configure did not find is still defined, with .missing set, so
 * the table says so instead of leaving a row out.
 *
 * Every peer runs the same batch: allocate w->n objects (the workload's
 * sizes), write one byte into each (bench_touch(): a realistic first use,
 * the same for everyone, and what keeps the compiler from dropping an
 * allocation), then give the whole batch back in the way that allocator
 * does best (reset, clear, destroy, or free one by one).
 */
#ifndef BHC_BENCH_ALLOC_PEERS_H
#define BHC_BENCH_ALLOC_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench-common.h"

enum alloc_workload {
	ALLOC_16, /* 16 bytes, default alignment */
	ALLOC_64, /* 64 bytes, default alignment */
	ALLOC_MIXED, /* the fixed pseudo-random sequence of sizes 8..256 */
	ALLOC_ALIGNED64, /* 64 bytes aligned to 64 (BHC_ALIGN_CACHE_LINE) */
	ALLOC_N_WORKLOADS,
};

/*
 * How jemalloc and mimalloc are dlopen()ed (see alloc-peer-jemalloc.c).
 * The sanitizers refuse RTLD_DEEPBIND; without it the library's own calls
 * to malloc could go to glibc's (or the sanitizer's), fine for a smoke run.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define ALLOC_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#endif
#endif
#ifndef ALLOC_DLOPEN_FLAGS
#define ALLOC_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)
#endif

/* Default alignment asked of allocators that take one: BHC_ALIGN_DEFAULT. */
#define ALLOC_ALIGN_DEFAULT 8u
#define ALLOC_MIXED_MIN 8u
#define ALLOC_MIXED_MAX 256u

/* What one batch does; the same for every peer. */
struct alloc_work {
	size_t n; /* objects per batch */
	const uint32_t *sizes; /* n sizes for ALLOC_MIXED */
	void **ptrs; /* n slots for peers that free objects one by one */
	size_t max_bytes; /* bytes of the largest batch, alignment padding included */
};

struct alloc_peer {
	const char *name;
	const char *method; /* how a batch allocates and gives back */
	const char *missing; /* NULL if built in, else why not ("not installed") */
	/* Set up for @w; 0, or -errno with the reason written to @why. */
	int (*open)(const struct alloc_work *w, void **statep, char *why, size_t why_size);
	void (*close)(void *state);
	void (*batch[ALLOC_N_WORKLOADS])(void *state, const struct alloc_work *w);
};

extern const struct alloc_peer alloc_peer_obstack;
extern const struct alloc_peer alloc_peer_apr;
extern const struct alloc_peer alloc_peer_talloc;
extern const struct alloc_peer alloc_peer_jemalloc;
extern const struct alloc_peer alloc_peer_mimalloc;
extern const struct alloc_peer alloc_peer_mimalloc_heap;

/** alloc_fail() - report that @who returned NULL mid-batch, and exit. */
__attribute__((noreturn, cold)) void alloc_fail(const char *who, size_t size);

/* Size of object @i: a constant, or (@size == 0) the mixed sequence. */
static inline __attribute__((always_inline)) size_t alloc_size(const struct alloc_work *w, size_t i,
							       size_t size)
{
	return size ? size : w->sizes[i];
}

/* @p rounded up to a multiple of @align (for peers without an aligned call). */
static inline void *alloc_align_up(void *p, size_t align)
{
	return (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

/*
 * The four batch functions of a peer from one always-inline body
 * @fn(state, w, size, align) with size 0 meaning "mixed": the constants
 * reach the allocator's call, as sizeof() does in real code.
 */
#define ALLOC_DEFINE_BATCHES(fn)                                            \
	static void fn##_16(void *state, const struct alloc_work *w)        \
	{                                                                   \
		fn(state, w, 16, ALLOC_ALIGN_DEFAULT);                      \
	}                                                                   \
	static void fn##_64(void *state, const struct alloc_work *w)        \
	{                                                                   \
		fn(state, w, 64, ALLOC_ALIGN_DEFAULT);                      \
	}                                                                   \
	static void fn##_mixed(void *state, const struct alloc_work *w)     \
	{                                                                   \
		fn(state, w, 0, ALLOC_ALIGN_DEFAULT);                       \
	}                                                                   \
	static void fn##_aligned64(void *state, const struct alloc_work *w) \
	{                                                                   \
		fn(state, w, 64, 64);                                       \
	}

#define ALLOC_BATCHES(fn)                                                               \
	{                                                                               \
		[ALLOC_16] = fn##_16, [ALLOC_64] = fn##_64, [ALLOC_MIXED] = fn##_mixed, \
		[ALLOC_ALIGNED64] = fn##_aligned64,                                     \
	}

#endif /* BHC_BENCH_ALLOC_PEERS_H */
