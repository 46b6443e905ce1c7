/* SPDX-License-Identifier: MIT */
/*
 * Uses or misuses an arena the way checked mode must see, for
 * check_arena_checked. Built twice: with -fsanitize=address
 * (arena-asan-helper) and plainly, to run under Valgrind
 * (arena-valgrind-helper). The library is the ordinary one either way.
 *
 *   arena-*-helper ok|use-after-reset|use-after-scope|overflow|use-after-free
 *
 * use-after-free writes to an arena freed while its region is kept for reuse.
 *
 * Prints "checked-mode on|off" on stderr before any misuse, so that the test
 * can tell a launch failure from a misuse that went unnoticed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bhc/arena.h>

static int with_fn(struct bhc_arena *arena, void *ctx)
{
	char *p = bhc_arena_alloc(arena, 1000, 16);

	if (!p)
		return -1;
	memset(p, 1, 1000);
	return p[999] == 1 ? 0 : -1;
}

/* Everything legal: a checker must stay silent. */
static int use_well(struct bhc_arena *a)
{
	struct bhc_arena_scope s;
	char *p, *q;
	int i;

	for (i = 0; i < 3; i++) {
		p = bhc_arena_alloc(a, 100, 8);
		if (!p)
			return 1;
		memset(p, 'a', 100);
		bhc_arena_scope_enter(a, &s);
		q = bhc_arena_alloc(a, 13, 1);
		if (!q)
			return 1;
		memset(q, 'b', 13);
		q = bhc_arena_alloc_zeroed(a, 4096, 4096);
		if (!q || q[4095])
			return 1;
		bhc_arena_scope_leave(&s);
		if (p[99] != 'a')
			return 1;
		q = bhc_arena_alloc(a, 13, 1); /* the same bytes again, usable again */
		if (!q)
			return 1;
		memset(q, 'c', 13);
		bhc_arena_reset(a);
	}
	if (bhc_with_arena(2000, with_fn, NULL) != 0)
		return 1;
	p = bhc_arena_alloc(bhc_arena_thread(), 64, 64);
	if (!p)
		return 1;
	memset(p, 0, 64);
	return 0;
}

int main(int argc, char **argv)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL };
	struct bhc_arena_scope s;
	struct bhc_arena *a;
	const char *mode = argc > 1 ? argv[1] : "ok";
	volatile char *p;
	int r;

	r = bhc_arena_new_opts(1 << 20, &opts, &a);
	if (r < 0) {
		fprintf(stderr, "arena-checked-helper: bhc_arena_new_opts: %s\n", strerror(-r));
		return 2;
	}
	fprintf(stderr, "arena-checked-helper: %s: checked-mode %s\n", mode,
		a->live.floor == UINT64_MAX ? "on" : "off");

	if (!strcmp(mode, "ok")) {
		r = use_well(a);
		bhc_arena_free(a);
		if (r)
			return r;
		/* the region kept by the free serves the next arena, clean again */
		r = bhc_arena_new_opts(1 << 20, &opts, &a);
		if (r < 0)
			return 2;
		r = use_well(a);
		bhc_arena_free(a);
		return r;
	}
	if (!strcmp(mode, "use-after-reset")) {
		p = bhc_arena_alloc(a, 64, 8);
		p[0] = 1;
		bhc_arena_reset(a);
		p[0] = 2; /* must be reported */
	} else if (!strcmp(mode, "use-after-scope")) {
		bhc_arena_scope_enter(a, &s);
		p = bhc_arena_alloc(a, 64, 8);
		p[0] = 1;
		bhc_arena_scope_leave(&s);
		p[0] = 2; /* must be reported */
	} else if (!strcmp(mode, "overflow")) {
		p = bhc_arena_alloc(a, 13, 8); /* 3 bytes of padding above it */
		memset((char *)p, 0, 13);
		p[13] = 1; /* must be reported */
	} else if (!strcmp(mode, "use-after-free")) {
		p = bhc_arena_alloc(a, 64, 8);
		p[0] = 1;
		bhc_arena_free(a);
		p[0] = 2; /* must be reported: the region is kept, not unmapped */
		return 0;
	} else {
		fprintf(stderr, "arena-checked-helper: unknown mode %s\n", mode);
		return 2;
	}
	fprintf(stderr, "arena-checked-helper: %s went unnoticed\n", mode);
	bhc_arena_free(a);
	return 0;
}
