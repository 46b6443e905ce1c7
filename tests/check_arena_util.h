/* SPDX-License-Identifier: MIT */
/* Helpers shared by the check_arena* suites. */
#ifndef BHC_TESTS_CHECK_ARENA_UTIL_H
#define BHC_TESTS_CHECK_ARENA_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <check.h>

#include <bhc/arena.h>

/* The region an arena lives in: the handle sits at BHC_ARENA_REGION_LIVE_OFFSET. */
static inline const struct bhc_arena_region_info *test_region_info(const struct bhc_arena *arena)
{
	return (const void *)((const char *)arena - BHC_ARENA_REGION_LIVE_OFFSET);
}

static inline char *test_region_start(const struct bhc_arena *arena)
{
	return (char *)arena - BHC_ARENA_REGION_LIVE_OFFSET;
}

/* Is any page of [addr, addr + len) mapped in this process? */
static inline bool test_is_mapped(const void *addr, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[1];
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(page - 1);

	for (; p < (uintptr_t)addr + len; p += (uintptr_t)page)
		if (mincore((void *)p, (size_t)page, vec) == 0 || errno != ENOMEM)
			return true;
	return false;
}

/* What identifies an arena region's mapping: its file (a memfd) or its name. */
struct test_region_probe {
	uintptr_t lo, hi; /* the region's addresses */
	unsigned long dev_major, dev_minor, inode; /* inode 0: anonymous */
	char name[128]; /* "/memfd:... (deleted)", "[anon:bhc-arena]", or "" */
};

struct test_mapping_line {
	unsigned long lo, hi, dev_major, dev_minor, inode;
	char name[128];
};

/* Parse a /proc/self/smaps mapping line ("lo-hi perms off maj:min inode name"). */
static inline bool test_parse_mapping(const char *line, struct test_mapping_line *m)
{
	unsigned long off;
	char perms[8];
	int n = 0;

	if (!strchr(line, '-') || strchr(line, '-') > strchr(line, ' '))
		return false;
	if (sscanf(line, "%lx-%lx %7s %lx %lx:%lx %lu %n", &m->lo, &m->hi, perms, &off,
		   &m->dev_major, &m->dev_minor, &m->inode, &n) < 7)
		return false;
	snprintf(m->name, sizeof(m->name), "%s", n > 0 ? line + n : "");
	m->name[strcspn(m->name, "\n")] = '\0';
	return true;
}

static inline bool test_same_mapping(const struct test_region_probe *probe,
				     const struct test_mapping_line *m)
{
	if (probe->inode)
		return m->inode == probe->inode && m->dev_major == probe->dev_major &&
		       m->dev_minor == probe->dev_minor;
	return probe->name[0] && !strcmp(m->name, probe->name);
}

/*
 * Walk the mappings that overlap [lo, hi): calls @fn(m, has_dontfork, ctx)
 * for each; stops when it returns false.
 */
static inline void
test_each_mapping(uintptr_t lo, uintptr_t hi,
		  bool (*fn)(const struct test_mapping_line *m, bool dc, void *ctx), void *ctx)
{
	struct test_mapping_line m, cur;
	bool overlap = false;
	char line[512];
	FILE *f;

	f = fopen("/proc/self/smaps", "re");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		if (test_parse_mapping(line, &m)) {
			overlap = m.lo < hi && m.hi > lo;
			cur = m;
			continue;
		}
		if (overlap && !strncmp(line, "VmFlags:", 8)) {
			overlap = false;
			if (!fn(&cur, strstr(line, " dc") != NULL, ctx))
				break;
		}
	}
	fclose(f);
}

struct test_probe_walk {
	struct test_region_probe *probe;
	unsigned int n, n_dc;
};

static inline bool test_probe_one(const struct test_mapping_line *m, bool dc, void *ctx)
{
	struct test_probe_walk *w = ctx;

	if (!w->n++) {
		w->probe->dev_major = m->dev_major;
		w->probe->dev_minor = m->dev_minor;
		w->probe->inode = m->inode;
		snprintf(w->probe->name, sizeof(w->probe->name), "%s", m->name);
	}
	w->n_dc += dc;
	return true;
}

/*
 * Is the live region at [start, start + len) mapped here and MADV_DONTFORK
 * ("dc" in VmFlags) on every page? Fills *@probe (if given) for
 * test_region_gone(). Every "gone after fork/free" check starts here: it
 * proves the region is there, and marked, before it may count as gone.
 */
static inline bool test_region_dontfork(const void *start, size_t len,
					struct test_region_probe *probe)
{
	struct test_region_probe tmp;
	struct test_probe_walk w = { probe ? probe : &tmp, 0, 0 };

	w.probe->lo = (uintptr_t)start;
	w.probe->hi = (uintptr_t)start + len;
	test_each_mapping(w.probe->lo, w.probe->hi, test_probe_one, &w);
	return w.n > 0 && w.n_dc == w.n;
}

/* test_region_dontfork() as an assertion; fills *@probe. */
static inline void test_region_probe(const void *start, size_t len, struct test_region_probe *probe)
{
	ck_assert_msg(test_region_dontfork(start, len, probe),
		      "the region at %p (%zu bytes) is not mapped, or not MADV_DONTFORK", start,
		      len);
}

static inline bool test_gone_one(const struct test_mapping_line *m, bool dc, void *ctx)
{
	const struct test_region_probe *probe = *(const struct test_region_probe **)ctx;

	if (dc || test_same_mapping(probe, m)) {
		*(const struct test_region_probe **)ctx = NULL;
		return false;
	}
	return true;
}

/*
 * Is the region @probe saw (test_region_probe(), while it was live) gone? Its
 * addresses may have been reused meanwhile (by a sanitizer runtime, a thread
 * stack), so "unmapped" is too strict: gone means no mapping there is the
 * region's own (the same memfd, or the same mapping name) or MADV_DONTFORK.
 */
static inline bool test_region_gone(const struct test_region_probe *probe)
{
	const struct test_region_probe *p = probe;

	test_each_mapping(probe->lo, probe->hi, test_gone_one, &p);
	return p != NULL;
}

/* A local arena with the given backing (0 = best available); fails the test on error. */
static inline struct bhc_arena *test_arena_new(size_t capacity, uint32_t backing)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL, .backing = backing };
	struct bhc_arena *arena = NULL;
	int r;

	r = bhc_arena_new_opts(capacity, &opts, &arena);
	ck_assert_msg(r == 0, "bhc_arena_new_opts(%zu, backing %u): %d", capacity, backing, r);
	ck_assert_ptr_nonnull(arena);
	return arena;
}

#endif /* BHC_TESTS_CHECK_ARENA_UTIL_H */
