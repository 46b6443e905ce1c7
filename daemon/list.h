/* SPDX-License-Identifier: MIT */
/*
 * Intrusive doubly linked lists and container_of, after the kernel's.
 * An object embeds a struct list_head per list it can be on; the list does
 * not own its entries.
 */
#ifndef BHC_DAEMON_LIST_H
#define BHC_DAEMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name)     \
	{                        \
		&(name), &(name) \
	}

static inline void list_init(struct list_head *head)
{
	head->next = head;
	head->prev = head;
}

static inline bool list_empty(const struct list_head *head)
{
	return head->next == head;
}

/* An entry that was list_init()ed or list_del()ed is on no list. */
static inline bool list_linked(const struct list_head *entry)
{
	return entry->next != entry;
}

static inline void list__insert(struct list_head *entry, struct list_head *prev,
				struct list_head *next)
{
	next->prev = entry;
	entry->next = next;
	entry->prev = prev;
	prev->next = entry;
}

/* Add @entry at the end of @head. */
static inline void list_add_tail(struct list_head *entry, struct list_head *head)
{
	list__insert(entry, head->prev, head);
}

/* Add @entry at the front of @head. */
static inline void list_add(struct list_head *entry, struct list_head *head)
{
	list__insert(entry, head, head->next);
}

/* Unlink @entry and leave it on no list; a no-op for an unlinked entry. */
static inline void list_del(struct list_head *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
	list_init(entry);
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)

#define list_for_each(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
#define list_for_each_safe(pos, n, head)                               \
	for ((pos) = (head)->next, (n) = (pos)->next; (pos) != (head); \
	     (pos) = (n), (n) = (pos)->next)

#endif
