/* SPDX-License-Identifier: MIT */
/*
 * libbhc-arena per-thread state: thread arenas (lazy, distinct, given back
 * at thread exit), bhc_with_arena() (room promise, dedicated arenas,
 * nesting), and fork() (the child never shares an arena with its parent).
 *
 * Also built as tests/check_arena_threads_tsan with -fsanitize=thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include <bhc/arena.h>

#include "check_arena_util.h"
#include "tap.h"

#define MIB ((size_t)1 << 20)
#define N_THREADS 16
#define THREAD_SIZE "1M"

struct thread_report {
	pthread_barrier_t *barrier;
	struct bhc_arena *arena;
	char *region;
	size_t region_size;
	struct test_region_probe probe; /* the region, seen while the thread held it */
	int ok;
};

static void *thread_main(void *arg)
{
	struct thread_report *rep = arg;
	struct bhc_arena *a = bhc_arena_thread();
	struct bhc_arena_stats st;
	unsigned char *p;
	size_t i, n;

	if (!a || bhc_arena_thread() != a || bhc_arena_stats(a, &st) < 0)
		return NULL;
	rep->arena = a;
	rep->region = test_region_start(a);
	rep->region_size = st.region_size;
	if (!test_region_dontfork(rep->region, rep->region_size, &rep->probe))
		return NULL;
	n = st.capacity / 2;
	p = bhc_arena_alloc(a, n, 64);
	if (!p)
		return NULL;
	memset(p, (int)(uintptr_t)rep & 0xff, n);
	/* all threads hold their arenas at once */
	pthread_barrier_wait(rep->barrier);
	for (i = 0; i < n; i++)
		if (p[i] != ((uintptr_t)rep & 0xff))
			return NULL;
	rep->ok = st.capacity >= MIB && st.used == 0;
	return NULL;
}

START_TEST(test_thread_arenas)
{
	struct thread_report rep[N_THREADS];
	pthread_t tid[N_THREADS];
	pthread_barrier_t barrier;
	int i, j;

	ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, N_THREADS), 0);
	memset(rep, 0, sizeof(rep));
	for (i = 0; i < N_THREADS; i++) {
		rep[i].barrier = &barrier;
		ck_assert_int_eq(pthread_create(&tid[i], NULL, thread_main, &rep[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++)
		ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
	pthread_barrier_destroy(&barrier);

	for (i = 0; i < N_THREADS; i++) {
		ck_assert_msg(rep[i].ok, "thread %d failed", i);
		for (j = 0; j < i; j++) {
			bool apart = rep[i].region + rep[i].region_size <= rep[j].region ||
				     rep[j].region + rep[j].region_size <= rep[i].region;

			ck_assert_msg(apart, "thread arenas %d and %d overlap", i, j);
		}
		/* given back when the thread exited */
		ck_assert_msg(test_region_gone(&rep[i].probe),
			      "arena of thread %d still mapped after its exit", i);
	}
}
END_TEST

START_TEST(test_thread_arena_lazy)
{
	struct bhc_arena *a, *b;
	struct bhc_arena_stats st;

	a = bhc_arena_thread();
	ck_assert_ptr_nonnull(a);
	b = bhc_arena_thread();
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(bhc_arena_stats(a, &st), 0);
	ck_assert_uint_ge(st.capacity, MIB);
	ck_assert_uint_lt(st.capacity, BHC_ARENA_DEFAULT_SIZE);

	/* freeing it by mistake does not leave a dangling thread arena */
	bhc_arena_free(a);
	b = bhc_arena_thread();
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(bhc_arena_stats(b, &st), 0);
}
END_TEST

START_TEST(test_thread_size_env)
{
	static const struct {
		const char *value;
		size_t min, max; /* 0: must fail with EINVAL */
	} cases[] = {
		{ "64K", 64 << 10, 4 * MIB },
		{ "3M", 3 * MIB, 8 * MIB },
		{ "3MiB", 3 * MIB, 8 * MIB },
		{ "100000", 100000, 4 * MIB },
		{ "", BHC_ARENA_DEFAULT_SIZE, 32 * MIB },
		{ "0", 0, 0 },
		{ "12Q", 0, 0 },
		{ "-1M", 0, 0 },
		{ "M", 0, 0 },
		{ "99999999999999999999G", 0, 0 },
	};
	struct bhc_arena_stats st;
	size_t i;
	int status;
	pid_t pid;

	/* each in a process of its own: a thread's arena is created once */
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct bhc_arena *a;

			setenv("BHC_ARENA_THREAD_SIZE", cases[i].value, 1);
			errno = 0;
			a = bhc_arena_thread();
			if (!cases[i].max)
				_exit(a == NULL && errno == EINVAL ? 0 : 1);
			if (!a || bhc_arena_stats(a, &st) < 0)
				_exit(2);
			_exit(st.capacity >= cases[i].min && st.capacity <= cases[i].max ? 0 : 3);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "BHC_ARENA_THREAD_SIZE=%s: status %#x", cases[i].value, status);
	}
}
END_TEST

struct with_ctx {
	size_t size;
	struct bhc_arena *seen;
	size_t remaining;
	uint64_t cursor_in;
	int calls;
	int ret;
};

static int record_fn(struct bhc_arena *arena, void *data)
{
	struct with_ctx *ctx = data;

	ctx->calls++;
	ctx->seen = arena;
	ctx->remaining = bhc_arena_remaining(arena);
	ctx->cursor_in = arena->live.cursor;
	/* the promise: size bytes fit, in one block or in many */
	if (!bhc_arena_alloc(arena, ctx->size / 2, 64) ||
	    !bhc_arena_alloc(arena, ctx->size - ctx->size / 2, 1))
		return -1000;
	return ctx->ret;
}

START_TEST(test_with_arena_promise)
{
	struct with_ctx ctx = { .size = 1000, .ret = 42 };
	struct bhc_arena *t = bhc_arena_thread();
	uint64_t cursor;

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(bhc_arena_alloc(t, 100, 8));
	cursor = t->live.cursor;
	ck_assert_int_eq(bhc_with_arena(1000, record_fn, &ctx), 42);
	ck_assert_int_eq(ctx.calls, 1);
	ck_assert_ptr_eq(ctx.seen, t); /* room in the thread's arena: a scope in it */
	ck_assert_uint_ge(ctx.remaining, 1000);
	ck_assert_uint_eq(ctx.cursor_in, cursor); /* after what was there */
	ck_assert_uint_eq(t->live.cursor, cursor); /* and rewound */

	ctx.ret = -7;
	ck_assert_int_eq(bhc_with_arena(0, record_fn, &ctx), -7);
	ck_assert_int_eq(ctx.calls, 2);
	ck_assert_int_eq(bhc_with_arena(10, NULL, &ctx), -EINVAL);
}
END_TEST

START_TEST(test_with_arena_dedicated)
{
	struct with_ctx ctx = { .ret = 5 };
	struct bhc_arena *t = bhc_arena_thread();
	struct bhc_arena_stats st;
	uint64_t cursor;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(bhc_arena_stats(t, &st), 0);
	cursor = t->live.cursor;

	/* bigger than the thread's arena: one of its own, of at least that size */
	ctx.size = st.capacity + 1;
	ck_assert_int_eq(bhc_with_arena(ctx.size, record_fn, &ctx), 5);
	ck_assert_ptr_ne(ctx.seen, t);
	ck_assert_uint_ge(ctx.remaining, ctx.size);
	ck_assert_uint_eq(t->live.cursor, cursor);

	/* the thread's arena is nearly full: likewise */
	ck_assert_ptr_nonnull(bhc_arena_alloc(t, bhc_arena_remaining(t) - 100, 8));
	cursor = t->live.cursor;
	ctx.size = 4096;
	ck_assert_int_eq(bhc_with_arena(ctx.size, record_fn, &ctx), 5);
	ck_assert_ptr_ne(ctx.seen, t);
	ck_assert_uint_ge(ctx.remaining, BHC_ARENA_DEFAULT_SIZE);
	ck_assert_uint_eq(t->live.cursor, cursor);

	/* none can be had: fn is not called */
	ctx.calls = 0;
	ck_assert_int_eq(bhc_with_arena((size_t)1 << 50, record_fn, &ctx), -ENOMEM);
	ck_assert_int_eq(bhc_with_arena(SIZE_MAX, record_fn, &ctx), -ENOMEM);
	ck_assert_int_eq(ctx.calls, 0);
}
END_TEST

struct nest {
	size_t inner_size;
	struct bhc_arena *outer_arena, *inner_arena;
	char *outer_block, *inner_block;
	uint64_t outer_cursor_after_inner;
	uint64_t outer_cursor_before_inner;
	int outer_intact;
	bool outer_probed; /* outer_probe saw the outer arena's region, marked */
	struct test_region_probe outer_probe;
	int depth;
};

static int inner_fn(struct bhc_arena *arena, void *data)
{
	struct nest *n = data;

	n->inner_arena = arena;
	n->inner_block = bhc_arena_alloc(arena, 256, 16);
	if (!n->inner_block)
		return -1;
	memset(n->inner_block, 0xee, 256);
	if (n->depth++ < 3) /* deeper still */
		return bhc_with_arena(64, inner_fn, n);
	return 0;
}

static int outer_fn(struct bhc_arena *arena, void *data)
{
	struct nest *n = data;
	int i, r;

	n->outer_arena = arena;
	n->outer_probed = test_region_dontfork(test_region_start(arena),
					       BHC_ARENA_REGION_HEADER_SIZE, &n->outer_probe);
	n->outer_block = bhc_arena_alloc(arena, 512, 16);
	if (!n->outer_block)
		return -1;
	memset(n->outer_block, 0xaa, 512);
	n->outer_cursor_before_inner = arena->live.cursor;
	r = bhc_with_arena(n->inner_size, inner_fn, n);
	n->outer_cursor_after_inner = arena->live.cursor;
	/* the outer block survived the inner calls (it is gone once we return) */
	n->outer_intact = 1;
	for (i = 0; i < 512; i++)
		if ((unsigned char)n->outer_block[i] != 0xaa)
			n->outer_intact = 0;
	return r;
}

START_TEST(test_with_arena_nested)
{
	struct bhc_arena *t = bhc_arena_thread();
	struct bhc_arena_stats st;
	struct nest n = { .inner_size = 1000 };
	uint64_t cursor;

	ck_assert_ptr_nonnull(t);
	cursor = t->live.cursor;
	ck_assert_int_eq(bhc_with_arena(4096, outer_fn, &n), 0);
	ck_assert_ptr_eq(n.outer_arena, t);
	ck_assert_ptr_eq(n.inner_arena, t);
	ck_assert(n.inner_block < n.outer_block);
	ck_assert(n.inner_block + 256 <= n.outer_block);
	ck_assert_uint_eq(n.outer_cursor_after_inner, n.outer_cursor_before_inner);
	ck_assert(n.outer_intact);
	ck_assert_uint_eq(t->live.cursor, cursor);

	/* outer in a dedicated arena: the nested calls allocate from it too */
	ck_assert_int_eq(bhc_arena_stats(t, &st), 0);
	memset(&n, 0, sizeof(n));
	n.inner_size = 1000;
	ck_assert_int_eq(bhc_with_arena(st.capacity + MIB, outer_fn, &n), 0);
	ck_assert_ptr_ne(n.outer_arena, t);
	ck_assert_ptr_eq(n.inner_arena, n.outer_arena);
	ck_assert(n.inner_block + 256 <= n.outer_block);
	ck_assert_uint_eq(n.outer_cursor_after_inner, n.outer_cursor_before_inner);
	/* and it is gone afterwards */
	ck_assert(n.outer_probed);
	ck_assert(test_region_gone(&n.outer_probe));
	ck_assert_uint_eq(t->live.cursor, cursor);

	/* inner bigger than the outer's arena: a dedicated inner one */
	memset(&n, 0, sizeof(n));
	n.inner_size = st.capacity + MIB;
	ck_assert_int_eq(bhc_with_arena(100, outer_fn, &n), 0);
	ck_assert_ptr_eq(n.outer_arena, t);
	ck_assert_ptr_ne(n.inner_arena, t);
	ck_assert_uint_eq(n.outer_cursor_after_inner, n.outer_cursor_before_inner);
	ck_assert_uint_eq(t->live.cursor, cursor);
}
END_TEST

/* fork(): exit codes of the child, checked by the parent */
enum {
	CHILD_OK = 0,
	CHILD_NO_ARENA = 10,
	CHILD_SAME_REGION,
	CHILD_PARENT_MAPPED,
	CHILD_ALLOC,
	CHILD_GRANDCHILD,
	CHILD_WITH_ARENA,
};

static int wait_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

/* In the child: the parent's arena @pa is gone, a fresh one works. */
static int child_checks(struct bhc_arena *pa, char *parent_block)
{
	struct bhc_arena *ca;
	unsigned char *p;
	pid_t pid;
	int status;

	/* first, before a new mapping may take the free addresses */
	if (test_is_mapped(test_region_start(pa), BHC_ARENA_REGION_HEADER_SIZE))
		return CHILD_PARENT_MAPPED;
	ca = bhc_arena_thread();
	if (!ca)
		return CHILD_NO_ARENA;
	p = bhc_arena_alloc(ca, 4096, 64);
	if (!p)
		return CHILD_ALLOC;
	memset(p, 0x55, 4096);

	/* touching the parent's arena memory is a fault, not shared access */
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		parent_block[0] = 1;
		_exit(0);
	}
	status = wait_status(pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
		return CHILD_GRANDCHILD;
	return CHILD_OK;
}

struct fork_thread {
	int child_status;
	int parent_intact;
};

static void *fork_thread_main(void *arg)
{
	struct fork_thread *ft = arg;
	struct bhc_arena *a = bhc_arena_thread();
	char *block;
	pid_t pid;
	int i;

	if (!a)
		return NULL;
	block = bhc_arena_alloc(a, 4096, 64);
	if (!block)
		return NULL;
	memset(block, 0xaa, 4096);
	pid = fork();
	if (pid == 0)
		_exit(child_checks(a, block));
	ft->child_status = wait_status(pid);
	ft->parent_intact = 1;
	for (i = 0; i < 4096; i++)
		if ((unsigned char)block[i] != 0xaa)
			ft->parent_intact = 0;
	return NULL;
}

START_TEST(test_fork_in_thread)
{
	struct fork_thread ft = { .child_status = -1 };
	pthread_t tid;

	ck_assert_int_eq(pthread_create(&tid, NULL, fork_thread_main, &ft), 0);
	ck_assert_int_eq(pthread_join(tid, NULL), 0);
	ck_assert_msg(WIFEXITED(ft.child_status) && WEXITSTATUS(ft.child_status) == CHILD_OK,
		      "child status %#x", ft.child_status);
	ck_assert(ft.parent_intact);
}
END_TEST

/* Other threads' arenas are forgotten in the child too. */
struct holder {
	pthread_barrier_t *barrier;
	char *region;
};

static void *hold_arena(void *arg)
{
	struct holder *h = arg;
	struct bhc_arena *a = bhc_arena_thread();

	h->region = a ? test_region_start(a) : NULL;
	pthread_barrier_wait(h->barrier); /* arena created */
	pthread_barrier_wait(h->barrier); /* parent forked */
	return NULL;
}

START_TEST(test_fork_other_threads)
{
	struct holder h[4];
	pthread_barrier_t b;
	pthread_t tid[4];
	struct bhc_arena_stats st;
	struct bhc_arena *mine;
	int i, status;
	pid_t pid;

	ck_assert_int_eq(pthread_barrier_init(&b, NULL, 5), 0);
	for (i = 0; i < 4; i++) {
		h[i].barrier = &b;
		ck_assert_int_eq(pthread_create(&tid[i], NULL, hold_arena, &h[i]), 0);
	}
	pthread_barrier_wait(&b);
	mine = bhc_arena_thread();
	ck_assert_ptr_nonnull(mine);
	for (i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(h[i].region);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct bhc_arena *a;

		if (test_is_mapped(test_region_start(mine), 4096))
			_exit(2);
		for (i = 0; i < 4; i++)
			if (test_is_mapped(h[i].region, 4096))
				_exit(3 + i);
		a = bhc_arena_thread();
		if (!a || bhc_arena_stats(a, &st) < 0 || !bhc_arena_alloc(a, 100, 8))
			_exit(1);
		_exit(0);
	}
	status = wait_status(pid);
	pthread_barrier_wait(&b);
	for (i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&b);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	/* the parent still has them all */
	ck_assert_int_eq(bhc_arena_stats(mine, &st), 0);
	ck_assert(test_is_mapped(test_region_start(mine), 4096));
}
END_TEST

/* fork() from inside bhc_with_arena(): both sides return from it cleanly. */
static int fork_inside_fn(struct bhc_arena *arena, void *data)
{
	pid_t *pidp = data;
	char *p = bhc_arena_alloc(arena, 128, 8);

	if (!p)
		return -1;
	*pidp = fork();
	return *pidp < 0 ? -1 : 0;
}

static int small_fn(struct bhc_arena *arena, void *data)
{
	return bhc_arena_alloc(arena, 64, 8) ? 0 : -1;
}

START_TEST(test_fork_inside_with_arena)
{
	struct bhc_arena *t = bhc_arena_thread();
	struct bhc_arena_stats st;
	uint64_t cursor;
	pid_t pid = -1;
	size_t sizes[2];
	int i, r, status;

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(bhc_arena_stats(t, &st), 0);
	sizes[0] = 1024; /* a scope in the thread arena */
	sizes[1] = st.capacity + MIB; /* a dedicated arena */
	cursor = t->live.cursor;
	for (i = 0; i < 2; i++) {
		r = bhc_with_arena(sizes[i], fork_inside_fn, &pid);
		if (pid == 0) {
			/* the child: its with_arena returned without touching gone arenas */
			if (r != 0)
				_exit(CHILD_WITH_ARENA);
			if (bhc_with_arena(100, small_fn, NULL) != 0)
				_exit(CHILD_WITH_ARENA + 1);
			/* a fresh thread arena (perhaps at the parent's old address) */
			if (!bhc_arena_thread() || bhc_arena_thread()->live.n_allocs != 1)
				_exit(CHILD_WITH_ARENA + 2);
			_exit(CHILD_OK);
		}
		ck_assert_int_eq(r, 0);
		status = wait_status(pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK,
			      "size %zu: child status %#x", sizes[i], status);
		ck_assert_uint_eq(t->live.cursor, cursor);
	}
}
END_TEST

static Suite *threads_suite(void)
{
	const struct bhc_test_case cases[] = {
		{ "thread_arenas", test_thread_arenas },
		{ "thread_arena_lazy", test_thread_arena_lazy },
		{ "thread_size_env", test_thread_size_env },
		{ "with_arena_promise", test_with_arena_promise },
		{ "with_arena_dedicated", test_with_arena_dedicated },
		{ "with_arena_nested", test_with_arena_nested },
		{ "fork_in_thread", test_fork_in_thread },
		{ "fork_other_threads", test_fork_other_threads },
		{ "fork_inside_with_arena", test_fork_inside_with_arena },
	};

	return bhc_test_suite("arena_threads", cases, ARRAY_SIZE(cases));
}

int main(void)
{
	/* these tests check that a freed region goes back; reuse is check_retain's */
	setenv("BHC_ARENA_RETAIN", "0", 1);
	setenv("BHC_ARENA_MODE", "local", 1);
	setenv("BHC_ARENA_THREAD_SIZE", THREAD_SIZE, 1);
	/* leave the shared hugetlb pool to the tests that reserve it (check_arena_backing) */
	setenv("BHC_ARENA_BACKING", "small", 1);
	return bhc_test_run(threads_suite());
}
