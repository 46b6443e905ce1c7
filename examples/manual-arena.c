/* SPDX-License-Identifier: MIT */
/*
 * A manually managed arena: bhc_arena_new(), allocate, bhc_arena_reset()
 * after each batch, bhc_arena_free(). The reset is O(1) and the next batch
 * reuses the same memory. Prints TAP so that `make check` can run it.
 */
#include <stdio.h>
#include <string.h>

#include <bhc/arena.h>

struct token {
	const char *text;
	size_t len;
	struct token *next;
};

/* Split @line into a list of words, every node and copy in the arena. */
static struct token *tokenize(struct bhc_arena *arena, const char *line, size_t *np)
{
	struct token *head = NULL, **tail = &head;
	const char *p = line;

	*np = 0;
	while (*p) {
		size_t len = strcspn(p, " ");
		struct token *t;
		char *copy;

		if (len) {
			t = bhc_arena_alloc_value(arena, struct token, (struct token){ 0 });
			copy = bhc_arena_alloc(arena, len + 1, 1);
			if (!t || !copy)
				return NULL;
			memcpy(copy, p, len);
			copy[len] = '\0';
			t->text = copy;
			t->len = len;
			*tail = t;
			tail = &t->next;
			(*np)++;
		}
		p += len;
		p += strspn(p, " ");
	}
	return head;
}

int main(void)
{
	static const char *const batches[] = {
		"the hot arena allocates by bumping a pointer",
		"a reset frees everything at once",
		"and the next batch reuses the very same memory",
	};
	struct bhc_arena *arena;
	struct bhc_arena_stats st;
	void *first_node = NULL;
	int ok = 1, r;
	size_t i, n;

	printf("1..1\n");
	r = bhc_arena_new(1 << 20, &arena);
	if (r < 0) {
		printf("not ok 1 - bhc_arena_new: %s\n", strerror(-r));
		return 1;
	}
	for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
		struct token *t = tokenize(arena, batches[i], &n);

		if (!t) {
			ok = 0;
			break;
		}
		if (!first_node)
			first_node = t;
		ok &= t == first_node; /* reset gave the same memory back */
		printf("# batch %zu: %zu words, first \"%s\", %zu bytes used\n", i, n, t->text,
		       bhc_arena_used(arena));
		bhc_arena_reset(arena);
	}
	bhc_arena_stats(arena, &st);
	printf("# %s region of %zu bytes (%s pages): %llu allocations, %llu resets, "
	       "high-water %zu bytes\n",
	       st.source_name, st.region_size, st.backing_name, (unsigned long long)st.n_allocs,
	       (unsigned long long)st.n_resets, st.high_water);
	ok &= st.n_resets == 3 && st.used == 0 && st.high_water > 0;
	bhc_arena_free(arena);
	printf("%s 1 - manual arena: new, alloc, reset, free\n", ok ? "ok" : "not ok");
	return !ok;
}
