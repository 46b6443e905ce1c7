/* SPDX-License-Identifier: MIT */
/*
 * libbhc-arena: the BHC runtime's hot arena.
 *
 * An arena is one memory region (hugepage-backed when the system allows) in
 * which allocation is a pointer bump and freeing is a reset or a scope exit.
 * Regions come from bhc-arenad when it runs, else from the process itself.
 * The allocation fast path below is inline, makes no system call, uses no
 * atomic and writes errno only on failure.
 *
 * An arena is not thread-safe: use one per thread (bhc_arena_thread()).
 * See bhc_arena(3).
 */
#ifndef BHC_ARENA_H
#define BHC_ARENA_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bhc/arena-protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BHC_ARENA_VERSION_MAJOR 0
#define BHC_ARENA_VERSION_MINOR 1

/*
 * Capacity of a thread's arena and the usual size of bhc_arena_new(): it
 * fills exactly one 16 MiB region (eight 2 MiB pages) whose first 4 KiB hold
 * the region header.
 */
#define BHC_ARENA_DEFAULT_SIZE ((size_t)(16u << 20) - BHC_ARENA_REGION_HEADER_SIZE)

/* Alignments of the seed's Alignment enum, in bytes. */
enum bhc_alignment {
	BHC_ALIGN_DEFAULT = 8,
	BHC_ALIGN_SIMD128 = 16,
	BHC_ALIGN_SIMD256 = 32,
	BHC_ALIGN_SIMD512 = 64,
	BHC_ALIGN_CACHE_LINE = 64,
};

/* Where an arena's region came from. */
enum bhc_arena_source {
	BHC_ARENA_SOURCE_NONE = 0,
	BHC_ARENA_SOURCE_LOCAL = 1, /* mapped by this process */
	BHC_ARENA_SOURCE_DAEMON = 2, /* leased from bhc-arenad */
};

/* How to find a region; BHC_ARENA_MODE_ENV reads $BHC_ARENA_MODE. */
enum bhc_arena_mode {
	BHC_ARENA_MODE_ENV = 0,
	BHC_ARENA_MODE_AUTO = 1, /* daemon if its socket answers, else local */
	BHC_ARENA_MODE_DAEMON = 2, /* daemon or an error */
	BHC_ARENA_MODE_LOCAL = 3, /* never ask the daemon */
};

/*
 * Options for bhc_arena_new_opts(). Zero-initialise and set what you need;
 * all-zero means what bhc_arena_new() does.
 */
struct bhc_arena_opts {
	uint32_t mode; /* enum bhc_arena_mode */
	uint32_t backing; /* 0: best available; else enum bhc_arena_backing, strictly */
	uint32_t page_shift; /* with BHC_ARENA_BACKING_HUGETLB: 21 or 30; 0 = default */
	uint32_t reserved[5];
};

/*
 * The arena handle. It lives inside the region header (struct
 * bhc_arena_region_live, at BHC_ARENA_REGION_LIVE_OFFSET in
 * bhc/arena-protocol.h), so the daemon and bhc-arenactl see usage as it
 * happens. Treat the fields as private: use the functions below.
 */
struct bhc_arena {
	struct bhc_arena_region_live live;
};

/* A snapshot of an arena, from bhc_arena_stats(). */
struct bhc_arena_stats {
	size_t capacity; /* bytes allocations can use */
	size_t used; /* bytes below the cursor now */
	size_t remaining; /* capacity - used */
	size_t high_water; /* most bytes in use at any time observed */
	uint64_t n_allocs; /* successful allocations */
	uint64_t n_resets; /* resets */
	uint64_t region_id; /* daemon region id; 0 for a local region */
	size_t region_size; /* bytes of the region, header included */
	size_t page_size; /* bytes of one page of the backing */
	enum bhc_arena_source source;
	enum bhc_arena_backing backing;
	const char *source_name; /* "local" or "daemon" */
	const char *backing_name; /* "hugetlb-1G", "hugetlb-2M", "thp" or "small" */
};

/* A saved cursor: what a scope gives back when it ends. */
struct bhc_arena_scope {
	struct bhc_arena *arena;
	uint64_t cursor;
	uint64_t n_resets;
};

/* --- setup (0 or -errno) -------------------------------------------------- */

/**
 * bhc_arena_new() - create an arena of at least @capacity bytes.
 * The region is pre-faulted: no later access faults it in or can SIGBUS.
 * Returns 0 and sets *@arenap, or -ENOMEM, -EINVAL, -ECONNREFUSED (daemon
 * mode without a daemon) and the other errors of bhc_arena(3).
 */
int bhc_arena_new(size_t capacity, struct bhc_arena **arenap);

/** bhc_arena_new_opts() - bhc_arena_new() with explicit mode and backing. */
int bhc_arena_new_opts(size_t capacity, const struct bhc_arena_opts *opts,
		       struct bhc_arena **arenap);

/** bhc_arena_free() - give the region back (to the daemon, or unmap). NULL is a no-op. */
void bhc_arena_free(struct bhc_arena *arena);

/** bhc_arena_reset() - free every allocation at once, in O(1). */
void bhc_arena_reset(struct bhc_arena *arena);

/** bhc_arena_stats() - fill *@st; returns 0 or -EINVAL. */
int bhc_arena_stats(const struct bhc_arena *arena, struct bhc_arena_stats *st);

/**
 * bhc_arena_thread() - the calling thread's arena, created on first use with
 * BHC_ARENA_DEFAULT_SIZE (or $BHC_ARENA_THREAD_SIZE) and given back when the
 * thread exits. NULL with errno set if it cannot be created.
 */
struct bhc_arena *bhc_arena_thread(void);

/**
 * bhc_with_arena() - run @fn with an arena that has at least @size bytes free.
 * Nested calls allocate after the enclosing one's cursor and rewind on
 * return. The room is checked (and found) before @fn runs. Returns what @fn
 * returns, or -ENOMEM (and @fn is not called) if no such arena can be had.
 */
int bhc_with_arena(size_t size, int (*fn)(struct bhc_arena *arena, void *ctx), void *ctx);

/** bhc_arena_backing_name() - "hugetlb-2M", "hugetlb-1G", "thp", "small", "none". */
const char *bhc_arena_backing_name(enum bhc_arena_backing backing, unsigned int page_shift);

/** bhc_arena_version() - the library's version string. */
const char *bhc_arena_version(void);

/** bhc_arena_scope_leave() - rewind the arena to where @scope was entered. */
void bhc_arena_scope_leave(struct bhc_arena_scope *scope);

/* Out-of-line parts of the inline functions; not for direct use. */
void *bhc_arena__alloc_slow(struct bhc_arena *arena, size_t size, size_t align);
void *bhc_arena__fail(int err);

/* --- the fast path --------------------------------------------------------- */

#define BHC__LIKELY(x) __builtin_expect(!!(x), 1)
#define BHC__UNLIKELY(x) __builtin_expect(!!(x), 0)
/* Alignments the inline path handles; larger ones are checked out of line. */
#define BHC__INLINE_ALIGN_MAX 4096u

/**
 * bhc_arena_alloc() - @size bytes aligned to @align (a power of two).
 * Returns NULL with errno ENOMEM when the arena is full, EINVAL for an
 * alignment that is not a power of two or exceeds the region's page size.
 * The arena bumps downward, so rounding to an alignment is a mask.
 */
static inline __attribute__((always_inline, malloc, alloc_size(2), alloc_align(3))) void *
bhc_arena_alloc(struct bhc_arena *arena, size_t size, size_t align)
{
	uint64_t p;

	if (BHC__UNLIKELY((align & (align - 1)) |
			  ((align - 1) & ~(size_t)(BHC__INLINE_ALIGN_MAX - 1))))
		return bhc_arena__alloc_slow(arena, size, align);
	if (BHC__UNLIKELY(__builtin_sub_overflow(arena->live.cursor, size, &p)))
		return bhc_arena__alloc_slow(arena, size, align);
	p &= ~(uint64_t)(align - 1);
	if (BHC__UNLIKELY(p < arena->live.floor))
		return bhc_arena__alloc_slow(arena, size, align);
	arena->live.cursor = p;
	arena->live.n_allocs++;
	return (void *)(uintptr_t)p;
}

/** bhc_arena_alloc_array() - @n elements of @elem_size bytes; EOVERFLOW if n * size overflows. */
static inline __attribute__((always_inline, malloc, alloc_size(2, 3))) void *
bhc_arena_alloc_array(struct bhc_arena *arena, size_t elem_size, size_t n, size_t align)
{
	size_t bytes;

	if (BHC__UNLIKELY(__builtin_mul_overflow(elem_size, n, &bytes)))
		return bhc_arena__fail(EOVERFLOW);
	return bhc_arena_alloc(arena, bytes, align);
}

/** bhc_arena_alloc_zeroed() - bhc_arena_alloc() and clear the bytes. */
static inline void *bhc_arena_alloc_zeroed(struct bhc_arena *arena, size_t size, size_t align)
{
	void *p = bhc_arena_alloc(arena, size, align);

	if (p)
		memset(p, 0, size);
	return p;
}

#define BHC__MAX_ALIGN(a, b) ((size_t)(a) > (size_t)(b) ? (size_t)(a) : (size_t)(b))

/* T *bhc_arena_alloc_slice(arena, T, len): len elements of T, overflow-checked. */
#define bhc_arena_alloc_slice(arena, T, len) \
	((T *)bhc_arena_alloc_array((arena), sizeof(T), (len), __alignof__(T)))

/* T *bhc_arena_alloc_aligned(arena, T, len, enum bhc_alignment) */
#define bhc_arena_alloc_aligned(arena, T, len, align)          \
	((T *)bhc_arena_alloc_array((arena), sizeof(T), (len), \
				    BHC__MAX_ALIGN((align), __alignof__(T))))

/* T *bhc_arena_alloc_value(arena, T, value): one T initialised to value. */
#define bhc_arena_alloc_value(arena, T, value)                                        \
	__extension__({                                                               \
		T *bhc__v = (T *)bhc_arena_alloc((arena), sizeof(T), __alignof__(T)); \
		if (bhc__v)                                                           \
			*bhc__v = (value);                                            \
		bhc__v;                                                               \
	})

/** bhc_arena_used() - bytes allocated since the last reset. */
static inline size_t bhc_arena_used(const struct bhc_arena *arena)
{
	return (size_t)(arena->live.top - arena->live.cursor);
}

/** bhc_arena_remaining() - bytes still free (before alignment padding). */
static inline size_t bhc_arena_remaining(const struct bhc_arena *arena)
{
	return (size_t)(arena->live.cursor - arena->live.base);
}

/** bhc_arena_capacity() - bytes the arena can hand out in all. */
static inline size_t bhc_arena_capacity(const struct bhc_arena *arena)
{
	return (size_t)(arena->live.top - arena->live.base);
}

/* --- scopes ------------------------------------------------------------------ */

/** bhc_arena_scope_enter() - remember the cursor; bhc_arena_scope_leave() rewinds to it. */
static inline void bhc_arena_scope_enter(struct bhc_arena *arena, struct bhc_arena_scope *scope)
{
	scope->arena = arena;
	scope->cursor = arena->live.cursor;
	scope->n_resets = arena->live.n_resets;
}

static inline struct bhc_arena_scope bhc_arena__scope_begin(struct bhc_arena *arena)
{
	struct bhc_arena_scope scope;

	bhc_arena_scope_enter(arena, &scope);
	return scope;
}

static inline void bhc_arena__scope_cleanup(struct bhc_arena_scope *scope)
{
	if (scope->arena)
		bhc_arena_scope_leave(scope);
}

/*
 * BHC_ARENA_SCOPE(name, arena): a scope that ends when @name goes out of
 * C scope, however the block is left. (unused: clang does not count the
 * cleanup as a use and would warn about a guard never named again.)
 */
#define BHC_ARENA_SCOPE(name, arena)                                                             \
	struct bhc_arena_scope name __attribute__((cleanup(bhc_arena__scope_cleanup), unused)) = \
		bhc_arena__scope_begin(arena)

#ifdef __cplusplus
}
#endif
#endif /* BHC_ARENA_H */
