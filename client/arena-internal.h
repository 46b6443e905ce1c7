/* SPDX-License-Identifier: MIT */
/*
 * Private parts of libbhc-arena shared by its .c files. Nothing here is
 * exported: the version script client/libbhc-arena.sym lists the ABI.
 */
#ifndef BHC_CLIENT_ARENA_INTERNAL_H
#define BHC_CLIENT_ARENA_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bhc/arena.h>

#include "source.h"

/* Marks the definition of a public function (AM_CFLAGS has -fvisibility=hidden). */
#define BHC_EXPORT __attribute__((visibility("default")))

/* How allocations are made visible to a memory checker (see checked.c). */
enum checked_kind {
	CHECKED_NONE = 0,
	CHECKED_ASAN = 1, /* AddressSanitizer: poison / unpoison the data */
	CHECKED_VALGRIND = 2, /* Valgrind memcheck: the arena is a mempool */
};

/*
 * Library-private state of an arena, pointed to by arena->live.priv. The
 * public struct bhc_arena itself lives in the region header.
 */
struct arena_priv {
	struct bhc_arena *arena; /* in region.addr's header; dies with the region */
	struct region region; /* owned: given back by bhc_arena_free() */
	uint64_t base, top; /* data bounds; private copies of live.base/top */
	size_t page_size; /* largest alignment the region guarantees */
	enum checked_kind checked; /* fixed at creation */
	uint64_t kept_ms; /* CLOCK_MONOTONIC ms when retain.c last kept the region */
	/*
	 * Under the fork lock: in the list of live arenas (arena.c) while an
	 * arena uses the region, in the kept list (retain.c) while it is kept.
	 */
	struct arena_priv *prev, *next;
};

static inline struct arena_priv *arena_priv(const struct bhc_arena *arena)
{
	return (struct arena_priv *)(uintptr_t)arena->live.priv;
}

/* fork.c */
void fork_init(void);
void arena_list_lock(void);
void arena_list_unlock(void);
void arena_list_add(struct arena_priv *ap);
void arena_list_del(struct arena_priv *ap);
void arena_regions_foreach(void (*fn)(struct region *region, void *data), void *data);

/* arena.c */
void arena_start(struct arena_priv *ap);
void arena_give_back(struct bhc_arena *arena);

/* retain.c */
size_t retain_limit(void);
uint64_t retain_now_ms(void);
bool retain_keep(struct arena_priv *ap);
struct arena_priv *retain_take(enum bhc_arena_mode mode, const struct region_request *req);
void retain_tick(void);
bool retain_release_all(void);
unsigned long retain_spare_epoch(void);
bool retain_reserve(size_t bytes);
void retain_unreserve(size_t bytes);
void retain_connection_changed(uint64_t generation);
void retain_forget_all_locked(void);
void retain_foreach_locked(void (*fn)(struct region *region, void *data), void *data);

/* thread.c */
void thread_atfork_child(void);
void thread_forget_arena(const struct bhc_arena *arena);
void thread_drop_spare(bool give_back);
void thread_expire_spare(uint64_t now_ms, uint64_t idle_ms);

/* checked.c */
enum checked_kind checked_detect(void);
void checked_init(struct arena_priv *ap);
void checked_alloc(struct arena_priv *ap, uint64_t addr, size_t size);
void checked_release(struct arena_priv *ap, uint64_t from, uint64_t to);
void checked_fini(struct arena_priv *ap);
void checked_keep(struct arena_priv *ap);
void checked_unkeep(struct arena_priv *ap);

#endif /* BHC_CLIENT_ARENA_INTERNAL_H */
