/* SPDX-License-Identifier: MIT */
/*
 * A client of the installed library for scripts/check-deb.sh, built with
 * `cc deb-client.c $(pkg-config --cflags --libs bhc-arena)` against the
 * installed -dev package. It leases one region from the daemon
 * ($BHC_ARENA_SOCKET, $BHC_ARENA_MODE=daemon), fills part of it, prints one
 * line "leased REGION_ID BACKING USED" and holds the lease until a line
 * arrives on stdin, so that the script can look at it through bhc-arenactl.
 */
#include <stdio.h>
#include <string.h>

#include <bhc/arena.h>

int main(void)
{
	struct bhc_arena_stats st;
	struct bhc_arena *arena;
	char line[16];
	size_t n = 1u << 20;
	unsigned char *p;
	int r;

	r = bhc_arena_new(n, &arena);
	if (r < 0) {
		fprintf(stderr, "deb-client: bhc_arena_new: %s\n", strerror(-r));
		return 1;
	}
	p = bhc_arena_alloc(arena, n / 2, BHC_ALIGN_CACHE_LINE);
	if (!p) {
		fprintf(stderr, "deb-client: bhc_arena_alloc of %zu bytes failed\n", n / 2);
		return 1;
	}
	memset(p, 0xa5, n / 2);
	r = bhc_arena_stats(arena, &st);
	if (r < 0) {
		fprintf(stderr, "deb-client: bhc_arena_stats: %s\n", strerror(-r));
		return 1;
	}
	if (st.source != BHC_ARENA_SOURCE_DAEMON) {
		fprintf(stderr, "deb-client: region not leased from the daemon (%s)\n",
			st.source_name);
		return 1;
	}
	printf("leased %llu %s %zu\n", (unsigned long long)st.region_id, st.backing_name, st.used);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	bhc_arena_free(arena);
	printf("released %s\n", bhc_arena_version());
	return 0;
}
