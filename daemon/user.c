/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "user.h"

int user_ref(struct list_head *users, uid_t uid, struct user **userp)
{
	struct list_head *pos;
	struct user *user;

	list_for_each(pos, users) {
		user = list_entry(pos, struct user, link);
		if (user->uid == uid) {
			user->n_peers++;
			*userp = user;
			return 0;
		}
	}
	user = calloc(1, sizeof(*user));
	if (!user)
		return -ENOMEM;
	user->uid = uid;
	user->n_peers = 1;
	list_add_tail(&user->link, users);
	*userp = user;
	return 0;
}

void user_unref(struct user *user)
{
	if (!user || --user->n_peers || user->n_abandoned)
		return;
	list_del(&user->link);
	free(user);
}

void user_abandoned_done(struct user *user, uint64_t bytes)
{
	user->n_abandoned--;
	user->n_regions--;
	user->bytes -= bytes;
	if (user->n_peers || user->n_abandoned)
		return;
	list_del(&user->link);
	free(user);
}
