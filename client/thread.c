/* SPDX-License-Identifier: MIT */
/*
 * Per-thread state: the thread's arena (created lazily, freed at thread
 * exit), the stack of bhc_with_arena() calls, and what a fork child must
 * forget. Nothing here is on the allocation fast path.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "arena-internal.h"

/* One bhc_with_arena() call in progress; lives on that call's stack. */
struct with_frame {
	struct bhc_arena *arena;
	struct with_frame *prev;
};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key; /* value: the thread's arena, freed by thread_key_destroy() */
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
 * Bumped in a fork child. A bhc_with_arena() call that was in progress when
 * its thread forked finds it changed on return in the child: its arena is
 * gone there and must not be touched. Written only while the child is still
 * single-threaded, never in the parent.
 */
static volatile unsigned long fork_generation;

static void atfork_prepare(void)
{
	arena_list_lock();
}

static void atfork_parent(void)
{
	arena_list_unlock();
}

static void atfork_child(void)
{
	arena_forget_all_locked();
	arena_list_unlock();
	thread_arena = NULL;
	with_top = NULL;
	if (thread_key_live)
		pthread_setspecific(thread_key, NULL);
	fork_generation++;
	source_atfork_child();
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/** thread_atfork_init() - install the fork handlers; called before any arena exists. */
void thread_atfork_init(void)
{
	pthread_once(&atfork_once, atfork_register);
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

static void thread_key_init(void)
{
	thread_key_error = pthread_key_create(&thread_key, thread_key_destroy);
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
	if (thread_key_live) {
		thread_key_live = false;
		pthread_key_delete(thread_key);
	}
}

static int thread_arena_size(size_t *sizep)
{
	const char *env = getenv("BHC_ARENA_THREAD_SIZE");

	*sizep = BHC_ARENA_DEFAULT_SIZE;
	if (!env || !*env)
		return 0;
	return parse_size(env, sizep) < 0 ? -EINVAL : 0;
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
	r = bhc_arena_new(size > BHC_ARENA_DEFAULT_SIZE ? size : BHC_ARENA_DEFAULT_SIZE, &arena);
	if (r < 0)
		return r;
	frame = (struct with_frame){ .arena = arena, .prev = with_top };
	with_top = &frame;
	r = fn(arena, ctx);
	if (generation == fork_generation) {
		with_top = frame.prev;
		bhc_arena_free(arena);
	}
	return r;
}
