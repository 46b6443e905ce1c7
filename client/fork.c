/* SPDX-License-Identifier: MIT */
/*
 * fork(2): the fork lock, the registry of live arenas, and the handlers.
 *
 * One mutex, the fork lock, covers the list of live arenas here and the list
 * of kept regions (retain.c); the daemon source maps a grant and marks it
 * MADV_DONTFORK under it too. fork() takes it first (the prepare handler),
 * so a child never inherits a half-edited list or a shared mapping not yet
 * marked. None of this is on the allocation fast path.
 *
 * In the child, every inherited arena and kept region is forgotten: its
 * checker state finished, its source's ->forget() called (bookkeeping only:
 * the mapping is not in the child, and the daemon connection is the
 * parent's); then the calling thread's state goes (thread.c), then every
 * source's ->atfork_child() (the daemon source drops its inherited
 * connection; the next acquire connects afresh).
 */
#include <pthread.h>
#include <stdlib.h>

#include "arena-internal.h"

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena_priv *all_arenas; /* under fork_lock */

/** arena_list_lock() - take the fork lock. */
void arena_list_lock(void)
{
	pthread_mutex_lock(&fork_lock);
}

/** arena_list_unlock() - release the fork lock. */
void arena_list_unlock(void)
{
	pthread_mutex_unlock(&fork_lock);
}

/** arena_list_add() - @ap's arena is live. */
void arena_list_add(struct arena_priv *ap)
{
	arena_list_lock();
	ap->prev = NULL;
	ap->next = all_arenas;
	if (all_arenas)
		all_arenas->prev = ap;
	all_arenas = ap;
	arena_list_unlock();
}

/** arena_list_del() - @ap's arena ends. */
void arena_list_del(struct arena_priv *ap)
{
	arena_list_lock();
	if (ap->prev)
		ap->prev->next = ap->next;
	else
		all_arenas = ap->next;
	if (ap->next)
		ap->next->prev = ap->prev;
	ap->prev = ap->next = NULL;
	arena_list_unlock();
}

/**
 * arena_regions_foreach() - call @fn on the region of every live arena (the
 * threads' spares among them) and every kept region, under the fork lock:
 * none can be freed or kept meanwhile. @fn must not take the fork lock.
 */
void arena_regions_foreach(void (*fn)(struct region *region, void *data), void *data)
{
	struct arena_priv *ap;

	arena_list_lock();
	for (ap = all_arenas; ap; ap = ap->next)
		fn(&ap->region, data);
	retain_foreach_locked(fn, data);
	arena_list_unlock();
}

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
	struct arena_priv *ap, *next;

	for (ap = all_arenas; ap; ap = next) {
		next = ap->next;
		checked_fini(ap);
		source_forget(&ap->region);
		free(ap);
	}
	all_arenas = NULL;
	retain_forget_all_locked();
	arena_list_unlock();
	thread_atfork_child();
	source_atfork_child();
}

static void fork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/** fork_init() - install the fork handlers; called before any arena exists. */
void fork_init(void)
{
	pthread_once(&fork_once, fork_register);
}
