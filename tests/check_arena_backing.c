/* SPDX-License-Identifier: MIT */
/*
 * libbhc-arena local region sources: each backing (hugetlb 2 MiB and 1 GiB,
 * THP, small pages) on real memory, the BHC_ARENA_MODE / BHC_ARENA_BACKING
 * environment, and the pre-fault paths of kernels without
 * MADV_POPULATE_WRITE or with a short hugetlb pool, simulated with seccomp.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <check.h>

#include <bhc/arena.h>

#include "check_arena_util.h"
#include "tap.h"
#include "util-hugepages.h"

#define MIB ((size_t)1 << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static struct bhc_arena *arena_opts(size_t capacity, uint32_t backing, uint32_t page_shift, int *rp)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL,
				       .backing = backing,
				       .page_shift = page_shift };
	struct bhc_arena *arena = NULL;

	*rp = bhc_arena_new_opts(capacity, &opts, &arena);
	return *rp ? NULL : arena;
}

/* The VmFlags line of the mapping that contains @addr, from /proc/self/smaps. */
static void vm_flags(const void *addr, char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	unsigned long lo, hi;
	char line[512];
	int in = 0;

	ck_assert_ptr_nonnull(f);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			size_t n = strlen(line + 8);

			if (n >= len)
				n = len - 1;
			memcpy(buf, line + 8, n);
			buf[n] = '\0';
			break;
		}
	}
	fclose(f);
	ck_assert_msg(buf[0], "no VmFlags for %p in /proc/self/smaps", addr);
}

static int has_flag(const char *flags, const char *flag)
{
	char word[8];
	const char *p;
	int n;

	for (p = flags; sscanf(p, "%7s%n", word, &n) == 1; p += n)
		if (!strcmp(word, flag))
			return 1;
	return 0;
}

/* Every page of the region is resident: it was pre-faulted. */
static void assert_prefaulted(const struct bhc_arena *arena)
{
	size_t size = test_region_info(arena)->size, page = (size_t)sysconf(_SC_PAGESIZE), i;
	unsigned char *vec = malloc(size / page);

	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore(test_region_start(arena), size, vec), 0);
	for (i = 0; i < size / page; i++)
		ck_assert_msg(vec[i] & 1, "page %zu of %zu not resident", i, size / page);
	free(vec);
}

/* What every region, whatever its backing, must be. */
static void assert_region_sane(const struct bhc_arena *arena, uint32_t backing)
{
	struct bhc_arena_stats st;
	char flags[256];

	ck_assert_int_eq(bhc_arena_stats(arena, &st), 0);
	ck_assert_uint_eq(st.backing, backing);
	ck_assert_int_eq(st.source, BHC_ARENA_SOURCE_LOCAL);
	ck_assert_uint_eq(st.region_size % st.page_size, 0);
	ck_assert_uint_eq((uintptr_t)test_region_start(arena) % st.page_size, 0);
	vm_flags(test_region_start(arena), flags, sizeof(flags));
	ck_assert_msg(has_flag(flags, "dc"), "region is not MADV_DONTFORK: %s", flags);
	assert_prefaulted(arena);
}

static int thp_never(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (!f)
		return 1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[never]") != NULL;
}

/*
 * Make madvise(MADV_POPULATE_WRITE) over at least @min_len bytes fail with
 * @err in this process, as an old kernel (EINVAL) or an exhausted hugetlb
 * pool (EFAULT) would.
 */
static void seccomp_populate_fails(int err, size_t min_len)
{
#if defined(__x86_64__)
	const unsigned int arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
	const unsigned int arch = AUDIT_ARCH_AARCH64;
#else
	const unsigned int arch = 0;
#endif
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_madvise, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* little-endian: the low half of args[n] comes first */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MADV_POPULATE_WRITE, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]) + 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2), /* >= 4 GiB: fail it */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned int)min_len, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned int)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(filter), .filter = filter };

	if (!arch)
		bhc_test_skip("no seccomp architecture constant for this machine in the test");
	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
		bhc_test_skip("seccomp filters unavailable: %s", strerror(errno));
	/* the filter works */
	{
		void *p = mmap(NULL, min_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);

		ck_assert_ptr_ne(p, MAP_FAILED);
		ck_assert_int_eq(madvise(p, min_len, MADV_POPULATE_WRITE), -1);
		ck_assert_int_eq(errno, err);
		munmap(p, min_len);
	}
}

/*
 * Bytes of hugetlb pages this process has mapped. The pool's free count is
 * shared with every other process (other tests run in parallel), this is not.
 */
static size_t hugetlb_mapped(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long kb = 0;
	char line[256];
	int found = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugetlbPages: %lu kB", &kb) == 1) {
			found = 1;
			break;
		}
	fclose(f);
	ck_assert_msg(found, "no HugetlbPages in /proc/self/status");
	return (size_t)kb << 10;
}

/* hugetlb mappings of this process, faulted in or not (a leak would show here) */
static int hugetlb_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "anon_hugepage"))
			n++;
	fclose(f);
	return n;
}

/* More pages than the pool has free, with a margin for pages freed meanwhile. */
static size_t more_than_free_2m(void)
{
	long n = bhc_test_hugepages_free(2048);

	return ((size_t)(n > 0 ? n : 0) + 64) * 2 * MIB;
}

static void reserve_or_skip(unsigned long page_kb, unsigned long n)
{
	char why[256];

	if (bhc_test_hugepages_reserve(page_kb, n, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
}

START_TEST(test_small)
{
	struct bhc_arena *a;
	struct bhc_arena_stats st;
	char flags[256];
	int r;

	a = arena_opts(3 * MIB + 5, BHC_ARENA_BACKING_SMALL, 0, &r);
	ck_assert_int_eq(r, 0);
	assert_region_sane(a, BHC_ARENA_BACKING_SMALL);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_str_eq(st.backing_name, "small");
	ck_assert_uint_eq(st.page_size, (size_t)sysconf(_SC_PAGESIZE));
	/* rounded to the page, no more */
	ck_assert_uint_eq(st.region_size, 3 * MIB + 2 * st.page_size);
	ck_assert_uint_ge(st.capacity, 3 * MIB + 5);
	/* kept off THP even where THP is "always" */
	vm_flags(test_region_start(a), flags, sizeof(flags));
	if (!thp_never())
		ck_assert_msg(has_flag(flags, "nh"), "small region lacks MADV_NOHUGEPAGE: %s",
			      flags);
	/* page alignment is the most a small region grants */
	ck_assert_ptr_nonnull(bhc_arena_alloc(a, 10, 4096));
	ck_assert_ptr_null(bhc_arena_alloc(a, 10, 8192));
	ck_assert_int_eq(errno, EINVAL);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_thp)
{
	struct bhc_arena *a;
	struct bhc_arena_stats st;
	char flags[256];
	void *p;
	int r;

	if (thp_never()) {
		a = arena_opts(MIB, BHC_ARENA_BACKING_THP, 0, &r);
		ck_assert_ptr_null(a);
		ck_assert_int_eq(r, -EOPNOTSUPP);
		bhc_test_skip(
			"transparent hugepages are disabled ([never]); checked that THP is refused");
	}
	a = arena_opts(5 * MIB, BHC_ARENA_BACKING_THP, 0, &r);
	ck_assert_int_eq(r, 0);
	assert_region_sane(a, BHC_ARENA_BACKING_THP);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_str_eq(st.backing_name, "thp");
	ck_assert_uint_ge(st.page_size, 2 * MIB);
	ck_assert_uint_ge(st.capacity, 5 * MIB);
	vm_flags(test_region_start(a), flags, sizeof(flags));
	ck_assert_msg(has_flag(flags, "hg"), "THP region lacks MADV_HUGEPAGE: %s", flags);
	/* a huge page's alignment is granted */
	p = bhc_arena_alloc(a, 100, st.page_size);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % st.page_size, 0);
	ck_assert_ptr_null(bhc_arena_alloc(a, 100, st.page_size * 2));
	ck_assert_int_eq(errno, EINVAL);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_hugetlb_2m)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL };
	struct bhc_arena *a, *b;
	struct bhc_arena_stats st;
	char *p;
	int r;

	/* room for this test and a margin for other processes that take pages */
	reserve_or_skip(2048, 8);
	ck_assert_uint_eq(hugetlb_mapped(), 0);
	a = arena_opts(4 * MIB, BHC_ARENA_BACKING_HUGETLB, 21, &r);
	ck_assert_msg(r == 0, "hugetlb-2M with %ld free pages: %d", bhc_test_hugepages_free(2048),
		      r);
	assert_region_sane(a, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_str_eq(st.backing_name, "hugetlb-2M");
	ck_assert_uint_eq(st.page_size, 2 * MIB);
	ck_assert_uint_eq(st.region_size, 6 * MIB); /* 4 MiB + the header, in 2 MiB pages */
	ck_assert_uint_eq(hugetlb_mapped(), 6 * MIB);

	/* alignments up to the huge page, not beyond */
	p = bhc_arena_alloc(a, 64, 4096);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 4096, 0);
	p = bhc_arena_alloc(a, 64, 2 * MIB);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % (2 * MIB), 0);
	ck_assert_ptr_null(bhc_arena_alloc(a, 64, 4 * MIB));
	ck_assert_int_eq(errno, EINVAL);
	memset(bhc_arena_alloc(a, MIB, 64), 0x77, MIB);

	/* with the pool short, hugetlb is refused up front and nothing leaks */
	b = arena_opts(more_than_free_2m(), BHC_ARENA_BACKING_HUGETLB, 21, &r);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(r, -ENOMEM);
	ck_assert_uint_eq(hugetlb_mapped(), 6 * MIB);
	ck_assert_int_eq(hugetlb_vmas(), 1);
	bhc_arena_free(a);
	ck_assert_uint_eq(hugetlb_mapped(), 0);
	ck_assert_int_eq(hugetlb_vmas(), 0);

	/* with room in the pool, the default chain takes hugetlb-2M */
	ck_assert_int_eq(bhc_arena_new_opts(MIB, &opts, &b), 0);
	ck_assert_int_eq(bhc_arena_stats(b, &st), 0);
	if (st.backing != BHC_ARENA_BACKING_HUGETLB)
		ck_assert_msg(bhc_test_hugepages_free(2048) < 1,
			      "chain chose %s with 2M hugepages free", st.backing_name);
	else
		ck_assert_str_eq(st.backing_name, "hugetlb-2M");
	bhc_arena_free(b);
}
END_TEST

/* Short of hugetlb pages, the best-available chain goes on to THP or small pages. */
START_TEST(test_hugetlb_short_chain)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL };
	struct bhc_arena_stats st;
	struct bhc_arena *a;

	reserve_or_skip(2048, 0); /* the pool lock: nobody grows the pool meanwhile */
	ck_assert_int_eq(bhc_arena_new_opts(more_than_free_2m(), &opts, &a), 0);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_ne(st.backing, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_uint_eq(hugetlb_mapped(), 0);
	assert_region_sane(a, st.backing);
	bhc_arena_free(a);
}
END_TEST

START_TEST(test_hugetlb_1g)
{
	struct bhc_arena *a;
	struct bhc_arena_stats st;
	char *p;
	int r;

	reserve_or_skip(1048576, 1);
	a = arena_opts(16 * MIB, BHC_ARENA_BACKING_HUGETLB, 30, &r);
	ck_assert_msg(r == 0, "hugetlb-1G with %ld free pages: %d",
		      bhc_test_hugepages_free(1048576), r);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_str_eq(st.backing_name, "hugetlb-1G");
	ck_assert_uint_eq(st.page_size, 1024 * MIB);
	ck_assert_uint_eq(st.region_size, 1024 * MIB);
	ck_assert_uint_eq(hugetlb_mapped(), 1024 * MIB);
	assert_region_sane(a, BHC_ARENA_BACKING_HUGETLB);
	p = bhc_arena_alloc(a, 4096, 2 * MIB);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % (2 * MIB), 0);
	bhc_arena_free(a);
	ck_assert_uint_eq(hugetlb_mapped(), 0);
}
END_TEST

START_TEST(test_opts_invalid_backing_combos)
{
	int r;

	/* 1 GiB pages on a kernel or pool without them: an error, never a crash */
	if (bhc_test_hugepages_free(1048576) < 1) {
		ck_assert_ptr_null(arena_opts(MIB, BHC_ARENA_BACKING_HUGETLB, 30, &r));
		ck_assert(r == -ENOMEM || r == -EOPNOTSUPP);
	}
	ck_assert_ptr_null(arena_opts(MIB, BHC_ARENA_BACKING_HUGETLB, 25, &r));
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(arena_opts(MIB, 9, 0, &r));
	ck_assert_int_eq(r, -EINVAL);
}
END_TEST

START_TEST(test_mode_env)
{
	struct bhc_arena_opts opts = { 0 };
	struct bhc_arena_stats st;
	struct bhc_arena *a = NULL;

	/* no daemon here, whatever runs on the machine */
	setenv("BHC_ARENA_SOCKET", "/nonexistent/bhc-arena-test/arenad.sock", 1);
	setenv("BHC_ARENA_BACKING", "small", 1); /* modes only: leave the hugetlb pool alone */

	setenv("BHC_ARENA_MODE", "local", 1);
	ck_assert_int_eq(bhc_arena_new(4096, &a), 0);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_str_eq(st.source_name, "local");
	bhc_arena_free(a);

	setenv("BHC_ARENA_MODE", "LOCAL", 1);
	ck_assert_int_eq(bhc_arena_new(4096, &a), 0);
	bhc_arena_free(a);

	unsetenv("BHC_ARENA_MODE");
	ck_assert_int_eq(bhc_arena_new(4096, &a), 0); /* auto, no daemon: local */
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_int_eq(st.source, BHC_ARENA_SOURCE_LOCAL);
	bhc_arena_free(a);
	setenv("BHC_ARENA_MODE", "auto", 1);
	ck_assert_int_eq(bhc_arena_new(4096, &a), 0);
	bhc_arena_free(a);

	a = NULL;
	setenv("BHC_ARENA_MODE", "bogus", 1);
	ck_assert_int_eq(bhc_arena_new(4096, &a), -EINVAL);
	setenv("BHC_ARENA_MODE", "locall", 1);
	ck_assert_int_eq(bhc_arena_new(4096, &a), -EINVAL);
	errno = 0;
	ck_assert_ptr_null(bhc_arena_thread());
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(bhc_with_arena(64, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(a);

	/* explicit modes in the options win over the environment */
	opts.mode = BHC_ARENA_MODE_LOCAL;
	ck_assert_int_eq(bhc_arena_new_opts(4096, &opts, &a), 0);
	bhc_arena_free(a);
	a = NULL;

	/* daemon mode without a daemon */
	setenv("BHC_ARENA_MODE", "daemon", 1);
	ck_assert_int_eq(bhc_arena_new(4096, &a), -ECONNREFUSED);
	ck_assert_ptr_null(a);
	errno = 0;
	ck_assert_ptr_null(bhc_arena_thread());
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_int_eq(bhc_arena_new_opts(4096, &opts, &a), 0); /* LOCAL still works */
	bhc_arena_free(a);
	unsetenv("BHC_ARENA_MODE");
	opts.mode = BHC_ARENA_MODE_DAEMON;
	ck_assert_int_eq(bhc_arena_new_opts(4096, &opts, &a), -ECONNREFUSED);
}
END_TEST

START_TEST(test_backing_env)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL };
	struct bhc_arena_stats st;
	struct bhc_arena *a = NULL;
	int r;

	setenv("BHC_ARENA_BACKING", "small", 1);
	ck_assert_int_eq(bhc_arena_new_opts(MIB, &opts, &a), 0);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_str_eq(st.backing_name, "small");
	bhc_arena_free(a);

	/* the options win over the environment */
	if (!thp_never()) {
		opts.backing = BHC_ARENA_BACKING_THP;
		ck_assert_int_eq(bhc_arena_new_opts(MIB, &opts, &a), 0);
		ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
		ck_assert_str_eq(st.backing_name, "thp");
		bhc_arena_free(a);
		opts.backing = 0;

		setenv("BHC_ARENA_BACKING", "THP", 1);
		ck_assert_int_eq(bhc_arena_new_opts(MIB, &opts, &a), 0);
		ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
		ck_assert_str_eq(st.backing_name, "thp");
		bhc_arena_free(a);
	}

	/* forcing hugetlb means hugetlb or an error, never something else */
	reserve_or_skip(2048, 0); /* the pool lock: nobody grows the pool meanwhile */
	setenv("BHC_ARENA_BACKING", "hugetlb-2M", 1);
	r = bhc_arena_new_opts(more_than_free_2m(), &opts, &a);
	ck_assert_int_eq(r, -ENOMEM);
	setenv("BHC_ARENA_BACKING", "hugetlb", 1);
	r = bhc_arena_new_opts(more_than_free_2m(), &opts, &a);
	ck_assert_int_eq(r, -ENOMEM);
	ck_assert_uint_eq(hugetlb_mapped(), 0);

	a = NULL;
	setenv("BHC_ARENA_BACKING", "huge", 1);
	ck_assert_int_eq(bhc_arena_new_opts(MIB, &opts, &a), -EINVAL);
	ck_assert_ptr_null(a);
	setenv("BHC_ARENA_BACKING", "auto", 1);
	ck_assert_int_eq(bhc_arena_new_opts(MIB, &opts, &a), 0);
	bhc_arena_free(a);
}
END_TEST

/* A kernel before 5.14 answers MADV_POPULATE_WRITE with EINVAL. */
START_TEST(test_no_populate_write_small)
{
	struct bhc_arena *a;
	int r;

	seccomp_populate_fails(EINVAL, 4096);
	a = arena_opts(3 * MIB, BHC_ARENA_BACKING_SMALL, 0, &r);
	ck_assert_int_eq(r, 0);
	assert_region_sane(a, BHC_ARENA_BACKING_SMALL);
	bhc_arena_free(a);
	if (!thp_never()) {
		a = arena_opts(3 * MIB, BHC_ARENA_BACKING_THP, 0, &r);
		ck_assert_int_eq(r, 0);
		assert_region_sane(a, BHC_ARENA_BACKING_THP);
		bhc_arena_free(a);
	}
}
END_TEST

START_TEST(test_no_populate_write_hugetlb)
{
	struct bhc_arena *a;
	int r;

	reserve_or_skip(2048, 4);
	seccomp_populate_fails(EINVAL, 4096);
	a = arena_opts(MIB, BHC_ARENA_BACKING_HUGETLB, 21, &r);
	ck_assert_int_eq(r, 0); /* pre-faulted through mlock() */
	assert_region_sane(a, BHC_ARENA_BACKING_HUGETLB);
	ck_assert_uint_eq(hugetlb_mapped(), 2 * MIB);
	bhc_arena_free(a);
	ck_assert_uint_eq(hugetlb_mapped(), 0);
}
END_TEST

/*
 * The pool runs dry between the check and the pre-fault (another process,
 * a cgroup limit): MADV_POPULATE_WRITE fails with EFAULT where a first touch
 * would SIGBUS. The region is dropped and the chain goes on.
 */
START_TEST(test_populate_fails_hugetlb)
{
	struct bhc_arena_opts opts = { .mode = BHC_ARENA_MODE_LOCAL };
	struct bhc_arena_stats st;
	struct bhc_arena *a;
	int r;

	reserve_or_skip(2048, 4);
	/* regions of 2 MiB and more fail to populate; 1 MiB + header of small pages does not */
	seccomp_populate_fails(EFAULT, 2 * MIB);
	a = arena_opts(MIB, BHC_ARENA_BACKING_HUGETLB, 21, &r);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(r, -ENOMEM);
	ck_assert_uint_eq(hugetlb_mapped(), 0); /* mapped, failed, unmapped */
	ck_assert_int_eq(hugetlb_vmas(), 0);
	if (!thp_never()) {
		a = arena_opts(MIB, BHC_ARENA_BACKING_THP, 0, &r);
		ck_assert_ptr_null(a);
		ck_assert_int_eq(r, -ENOMEM);
	}
	ck_assert_int_eq(bhc_arena_new_opts(MIB, &opts, &a), 0);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_str_eq(st.backing_name, "small");
	ck_assert_uint_eq(hugetlb_mapped(), 0);
	ck_assert_int_eq(hugetlb_vmas(), 0);
	assert_region_sane(a, BHC_ARENA_BACKING_SMALL);
	bhc_arena_free(a);
}
END_TEST

static Suite *backing_suite(void)
{
	const struct bhc_test_case cases[] = {
		{ "small", test_small },
		{ "thp", test_thp },
		{ "hugetlb_2m", test_hugetlb_2m },
		{ "hugetlb_short_chain", test_hugetlb_short_chain },
		{ "hugetlb_1g", test_hugetlb_1g },
		{ "opts_invalid_backing_combos", test_opts_invalid_backing_combos },
		{ "mode_env", test_mode_env },
		{ "backing_env", test_backing_env },
		{ "no_populate_write_small", test_no_populate_write_small },
		{ "no_populate_write_hugetlb", test_no_populate_write_hugetlb },
		{ "populate_fails_hugetlb", test_populate_fails_hugetlb },
	};

	return bhc_test_suite("arena_backing", cases, ARRAY_SIZE(cases));
}

int main(void)
{
	/* these tests check that a freed region goes back; reuse is check_retain's */
	setenv("BHC_ARENA_RETAIN", "0", 1);
	setenv("BHC_ARENA_MODE", "local", 1);
	unsetenv("BHC_ARENA_BACKING");
	return bhc_test_run(backing_suite());
}
