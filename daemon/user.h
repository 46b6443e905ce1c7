/* SPDX-License-Identifier: MIT */
/*
 * Per-uid accounting behind [limits] per_uid_bytes and per_uid_regions. A
 * user exists while it has connections, or regions still being made for
 * acquires its connections abandoned: work in flight stays charged to the
 * uid that caused it until it is finished. Peers hold a reference.
 */
#ifndef BHC_DAEMON_USER_H
#define BHC_DAEMON_USER_H

#include <stdint.h>
#include <sys/types.h>

#include "list.h"

/* One uid with at least one connection; on server->users, freed by user_unref(). */
struct user {
	uid_t uid;
	unsigned int n_peers; /* connections of this uid (the references) */
	uint64_t n_regions; /* leased, plus one for each acquire in progress or abandoned */
	uint64_t bytes; /* bytes of those */
	uint64_t n_acquired; /* grants, ever (while the user existed) */
	uint64_t n_refused; /* acquires refused by a per-uid limit */
	uint64_t n_abandoned; /* regions being made for acquires whose connection closed */
	struct list_head link; /* server->users */
};

/** user_ref() - the user for @uid on @users, created if needed; 0 or -ENOMEM. */
int user_ref(struct list_head *users, uid_t uid, struct user **userp);

/** user_unref() - drop a reference; the last one unlists and frees @user (if nothing is abandoned). */
void user_unref(struct user *user);

/**
 * user_abandoned_done() - a region made for an abandoned acquire of
 * @bytes is finished or gone: uncharge it, and free @user if that was all.
 */
void user_abandoned_done(struct user *user, uint64_t bytes);

#endif
