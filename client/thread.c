/* SPDX-License-Identifier: MIT */
/*
 * Per-thread state: the thread's arena (created lazily, freed at thread
 * exit), the stack of bhc_with_arena() calls, the spare arena a
 * bhc_with_arena() too large for the thread's arena reuses, and what a fork
 * child must forget. Nothing here is on the allocation fast path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "arena-internal.h"
#include "common/size.h"

/* One bhc_with_arena() call in progress; lives on that call's stack. */
struct with_frame {
	struct bhc_arena *arena;
	struct with_frame *prev;
};

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key; /* value: the thread's arena, freed by thread_key_destroy() */
static pthread_key_t spare_key; /* value: the thread's spare, dropped by spare_key_destroy() */
static int thread_key_error; /* positive errno if the key could not be created */
static bool thread_key_live;

/*
 * initial-exec: bhc_arena_thread() is a TLS load, not a __tls_get_addr()
 * call. Costs 16 bytes of the static TLS surplus when the library is dlopen()ed.
 */
#define THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

static THREAD_LOCAL struct bhc_arena *thread_arena;
static THREAD_LOCAL struct with_frame *with_top;

/*
 * The last arena this thread's bhc_with_arena() made for itself, reset and
 * kept for the next such call: taking it back costs a few loads and stores,
 * not even the lock of the process's kept list (retain.c), against whose
 * bound its bytes count. Dropped when the process must give kept regions
 * back (spare_epoch changed), when it sat unused for the idle time, at
 * thread exit, and forgotten in a fork child.
 */
static THREAD_LOCAL struct bhc_arena *with_spare_owned; /* in use or not */
static THREAD_LOCAL struct bhc_arena *with_spare; /* with_spare_owned while not in use */
static THREAD_LOCAL unsigned long with_spare_epoch;
/* for thread_expire_spare(): puts counted, and the count and time it last saw */
static THREAD_LOCAL unsigned long with_spare_puts, with_spare_seen_puts;
static THREAD_LOCAL uint64_t with_spare_seen_ms;

/*
 * Bumped in a fork child. A bhc_with_arena() call that was in progress when
 * its thread forked finds it changed on return in the child: its arena is
 * gone there and must not be touched. Written only while the child is still
 * single-threaded, never in the parent.
 */
static volatile unsigned long fork_generation;

/**
 * thread_atfork_child() - in a fork child: the calling thread (the only one
 * there) forgets its arena, its bhc_with_arena() calls and its spare, all
 * of which were on the lists just forgotten.
 */
void thread_atfork_child(void)
{
	thread_arena = NULL;
	with_top = NULL;
	with_spare = with_spare_owned = NULL;
	if (thread_key_live) {
		pthread_setspecific(thread_key, NULL);
		pthread_setspecific(spare_key, NULL);
	}
	fork_generation++;
}

/** thread_forget_arena() - @arena is being freed: drop it if it is this thread's arena. */
void thread_forget_arena(const struct bhc_arena *arena)
{
	if (thread_arena != arena)
		return;
	thread_arena = NULL;
	pthread_setspecific(thread_key, NULL);
}

static void thread_key_destroy(void *value)
{
	bhc_arena_free(value);
}

/**
 * thread_drop_spare() - unless a bhc_with_arena() uses it now, give the
 * thread's spare back (@give_back: the process must hold less) or to the
 * process's kept list.
 */
void thread_drop_spare(bool give_back)
{
	struct bhc_arena *arena = with_spare;

	if (!arena)
		return;
	with_spare = with_spare_owned = NULL;
	pthread_setspecific(spare_key, NULL);
	retain_unreserve(arena_priv(arena)->region.size);
	if (give_back)
		arena_give_back(arena);
	else
		bhc_arena_free(arena);
}

/**
 * thread_expire_spare() - drop the thread's spare once it sat unused for
 * @idle_ms, as seen by this thread's calls at @now_ms (retain_now_ms()): a
 * put is counted, not timed, to keep the clock off bhc_with_arena().
 */
void thread_expire_spare(uint64_t now_ms, uint64_t idle_ms)
{
	if (!with_spare)
		return;
	if (with_spare_puts != with_spare_seen_puts || !with_spare_seen_ms) {
		with_spare_seen_puts = with_spare_puts;
		with_spare_seen_ms = now_ms;
	} else if (now_ms - with_spare_seen_ms >= idle_ms) {
		thread_drop_spare(true);
	}
}

static void spare_key_destroy(void *value)
{
	(void)value;
	thread_drop_spare(false);
}

static void thread_key_init(void)
{
	thread_key_error = pthread_key_create(&thread_key, thread_key_destroy);
	if (!thread_key_error) {
		thread_key_error = pthread_key_create(&spare_key, spare_key_destroy);
		if (thread_key_error)
			pthread_key_delete(thread_key);
	}
	thread_key_live = !thread_key_error;
}

/*
 * The main thread runs no key destructors: give its arena back when the
 * library is finalised (process exit, or dlclose). Unless a bhc_with_arena()
 * call is still in progress (exit() from inside one): then it stays. The key
 * goes too, so that no thread exit after an unload calls into unmapped code.
 */
__attribute__((destructor)) static void thread_lib_fini(void)
{
	if (thread_arena && !with_top)
		bhc_arena_free(thread_arena);
	if (!with_top)
		thread_drop_spare(true);
	retain_release_all();
	if (thread_key_live) {
		thread_key_live = false;
		pthread_key_delete(thread_key);
		pthread_key_delete(spare_key);
	}
}

static int thread_arena_size(size_t *sizep)
{
	const char *env = getenv("BHC_ARENA_THREAD_SIZE");
	uint64_t bytes;

	*sizep = BHC_ARENA_DEFAULT_SIZE;
	if (!env || !*env)
		return 0;
	if (size_parse(env, &bytes) < 0 || !bytes || bytes > SIZE_MAX)
		return -EINVAL;
	*sizep = (size_t)bytes;
	return 0;
}

/* The slow part of bhc_arena_thread(): the thread's first call. */
static __attribute__((noinline)) struct bhc_arena *thread_arena_create(void)
{
	struct bhc_arena *arena;
	size_t size;
	int r;

	pthread_once(&key_once, thread_key_init);
	if (!thread_key_live)
		return bhc_arena__fail(thread_key_error ? thread_key_error : EAGAIN);
	r = thread_arena_size(&size);
	if (r < 0)
		return bhc_arena__fail(-r);
	r = bhc_arena_new(size, &arena);
	if (r < 0)
		return bhc_arena__fail(-r);
	r = pthread_setspecific(thread_key, arena);
	if (r) {
		bhc_arena_free(arena);
		return bhc_arena__fail(r);
	}
	thread_arena = arena;
	return arena;
}

/** bhc_arena_thread() - the calling thread's arena, created on first use. */
BHC_EXPORT struct bhc_arena *bhc_arena_thread(void)
{
	if (BHC__LIKELY(thread_arena))
		return thread_arena;
	return thread_arena_create();
}

/* The thread's spare if it has @size bytes, started afresh; NULL if not. */
static struct bhc_arena *spare_take(size_t size)
{
	struct bhc_arena *arena = with_spare;
	struct arena_priv *ap;

	if (!arena)
		return NULL;
	ap = arena_priv(arena);
	/* the epoch changes too when a daemon lease may have ended (retain.c) */
	if (BHC__UNLIKELY(with_spare_epoch != retain_spare_epoch())) {
		with_spare_epoch = retain_spare_epoch();
		thread_drop_spare(true);
		return NULL;
	}
	if (ap->top - ap->base < size)
		return NULL;
	with_spare = NULL;
	region_set_use_again(&ap->region, BHC_ARENA_REGION_IN_USE);
	arena->live.cursor = ap->top;
	arena->live.n_allocs = 0;
	arena->live.n_resets = 0;
	arena->live.high_water = 0;
	return arena;
}

/*
 * bhc_with_arena()'s own @arena is done: it becomes the thread's spare again
 * if it was, or instead of a smaller one not in use; else it is freed (to the
 * process's kept list).
 */
static void spare_put(struct bhc_arena *arena)
{
	struct arena_priv *ap = arena_priv(arena);

	if (arena != with_spare_owned) {
		if (with_spare_owned &&
		    (!with_spare || arena_priv(with_spare_owned)->region.size >= ap->region.size)) {
			bhc_arena_free(arena);
			return;
		}
		thread_drop_spare(false);
		if (!thread_key_live || !retain_reserve(ap->region.size)) {
			bhc_arena_free(arena);
			return;
		}
		with_spare_owned = arena;
		with_spare_seen_ms = 0;
		pthread_setspecific(spare_key, arena);
		region_set_use(&ap->region, BHC_ARENA_REGION_KEPT);
	} else {
		region_set_use_again(&ap->region, BHC_ARENA_REGION_KEPT);
	}
	bhc_arena_reset(arena);
	with_spare_puts++;
	with_spare = arena;
	with_spare_epoch = retain_spare_epoch();
}

/** bhc_with_arena() - run @fn with an arena that has @size bytes free; see bhc_arena(3). */
BHC_EXPORT int bhc_with_arena(size_t size, int (*fn)(struct bhc_arena *arena, void *ctx), void *ctx)
{
	unsigned long generation = fork_generation;
	struct bhc_arena_scope scope;
	struct with_frame frame;
	struct bhc_arena *arena;
	int r;

	if (!fn)
		return -EINVAL;

	/* The innermost call's arena, else the thread's: a scope in it if it has room. */
	arena = with_top ? with_top->arena : bhc_arena_thread();
	if (arena && bhc_arena_remaining(arena) >= size) {
		bhc_arena_scope_enter(arena, &scope);
		frame = (struct with_frame){ .arena = arena, .prev = with_top };
		with_top = &frame;
		r = fn(arena, ctx);
		if (generation == fork_generation) {
			with_top = frame.prev;
			bhc_arena_scope_leave(&scope);
		}
		return r;
	}

	/* Else an arena of its own, current for nested calls until fn returns. */
	arena = spare_take(size);
	if (!arena) {
		r = bhc_arena_new(size > BHC_ARENA_DEFAULT_SIZE ? size : BHC_ARENA_DEFAULT_SIZE,
				  &arena);
		if (r < 0)
			return r;
	}
	frame = (struct with_frame){ .arena = arena, .prev = with_top };
	with_top = &frame;
	r = fn(arena, ctx);
	if (generation == fork_generation) {
		with_top = frame.prev;
		spare_put(arena);
	}
	return r;
}
