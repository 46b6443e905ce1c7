/* SPDX-License-Identifier: MIT */
/*
 * Checked mode: under AddressSanitizer and Valgrind a use after reset or
 * after a scope exit, and a write into alignment padding, are reported; a
 * legal program runs clean. The misuse happens in helper programs
 * (arena-asan-helper, built with -fsanitize=address against the ordinary
 * library; arena-valgrind-helper, run under valgrind).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#define OUT_MAX 65536
#define ASAN_EXIT 23
#define VALGRIND_EXIT 99

/* Present when this test program itself was built with AddressSanitizer. */
extern void __asan_poison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak));

struct run {
	int status;
	char out[OUT_MAX]; /* stdout and stderr */
};

/* A program next to this one. */
static void sibling(const char *name, char *path, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	ck_assert_ptr_nonnull(slash);
	*slash = '\0';
	n = snprintf(path, len, "%s/%s", self, name);
	ck_assert(n > 0 && (size_t)n < len);
}

static void run(char *const argv[], struct run *r)
{
	size_t used = 0;
	char drain[4096];
	int pipefd[2];
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		if (used < sizeof(r->out) - 1)
			n = read(pipefd[0], r->out + used, sizeof(r->out) - 1 - used);
		else
			n = read(pipefd[0], drain, sizeof(drain));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used < sizeof(r->out) - 1)
			used += (size_t)n;
	}
	r->out[used] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &r->status, 0) < 0)
		ck_assert_int_eq(errno, EINTR);
}

static bool exited_with(const struct run *r, int code)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == code;
}

static void run_asan(const char *mode, struct run *r)
{
	char path[PATH_MAX];
	char *argv[] = { path, (char *)mode, NULL };

	sibling("arena-asan-helper", path, sizeof(path));
	setenv("ASAN_OPTIONS", "exitcode=23:abort_on_error=0:detect_leaks=1", 1);
	run(argv, r);
	if (!strstr(r->out, "checked-mode"))
		bhc_test_skip("cannot run a program built with -fsanitize=address here: %.160s",
			      r->out);
	ck_assert_msg(strstr(r->out, "checked-mode on"), "ASan not detected by the library: %s",
		      r->out);
}

static void expect_asan_report(const char *mode, const char *report)
{
	static struct run r;

	run_asan(mode, &r);
	ck_assert_msg(!strstr(r.out, "went unnoticed"), "%s", r.out);
	ck_assert_msg(exited_with(&r, ASAN_EXIT), "status %#x: %s", r.status, r.out);
	ck_assert_msg(strstr(r.out, report), "no \"%s\" in: %s", report, r.out);
	ck_assert_msg(strstr(r.out, "WRITE of size 1"), "%s", r.out);
}

START_TEST(test_asan_use_after_reset)
{
	expect_asan_report("use-after-reset", "ERROR: AddressSanitizer: use-after-poison");
}
END_TEST

START_TEST(test_asan_use_after_scope)
{
	expect_asan_report("use-after-scope", "ERROR: AddressSanitizer: use-after-poison");
}
END_TEST

START_TEST(test_asan_overflow)
{
	/*
	 * A partly addressable granule below an addressable one: ASan cannot
	 * name the kind ("unknown-crash"), but it catches the write.
	 */
	expect_asan_report("overflow", "ERROR: AddressSanitizer:");
}
END_TEST

START_TEST(test_asan_use_after_free)
{
	expect_asan_report("use-after-free", "ERROR: AddressSanitizer: use-after-poison");
}
END_TEST

START_TEST(test_asan_clean)
{
	static struct run r;

	run_asan("ok", &r);
	ck_assert_msg(exited_with(&r, 0), "status %#x: %s", r.status, r.out);
	ck_assert_msg(!strstr(r.out, "AddressSanitizer"), "%s", r.out);
}
END_TEST

static void run_valgrind(const char *mode, struct run *r)
{
	char path[PATH_MAX];
	char *argv[] = { (char *)"valgrind", (char *)"-q", (char *)"--error-exitcode=99",
			 (char *)"--leak-check=full",
			 /* a clean run leaves nothing, not even the main thread's arena */
			 (char *)(strcmp(mode, "ok") ? "--errors-for-leak-kinds=definite" :
						       "--errors-for-leak-kinds=all"),
			 path, (char *)mode, NULL };

	if (__asan_poison_memory_region)
		bhc_test_skip("this build uses AddressSanitizer, which Valgrind cannot run");
	if (system("valgrind --version >/dev/null 2>&1") != 0)
		bhc_test_skip("valgrind is not installed");
	sibling("arena-valgrind-helper", path, sizeof(path));
	run(argv, r);
	if (strstr(r->out, "Valgrind: debuginfo reader"))
		bhc_test_skip("this valgrind cannot read the debug info this compiler wrote "
			      "(DWARF 5 as clang writes it?)");
	ck_assert_msg(strstr(r->out, "checked-mode on"),
		      "Valgrind not detected by the library (status %#x): %s", r->status, r->out);
}

static void expect_valgrind_report(const char *mode)
{
	static struct run r;

	run_valgrind(mode, &r);
	ck_assert_msg(exited_with(&r, VALGRIND_EXIT), "status %#x: %s", r.status, r.out);
	ck_assert_msg(strstr(r.out, "Invalid write of size 1"), "%s", r.out);
}

START_TEST(test_valgrind_use_after_reset)
{
	expect_valgrind_report("use-after-reset");
}
END_TEST

START_TEST(test_valgrind_use_after_scope)
{
	expect_valgrind_report("use-after-scope");
}
END_TEST

START_TEST(test_valgrind_overflow)
{
	expect_valgrind_report("overflow");
}
END_TEST

START_TEST(test_valgrind_use_after_free)
{
	expect_valgrind_report("use-after-free");
}
END_TEST

START_TEST(test_valgrind_clean)
{
	static struct run r;

	run_valgrind("ok", &r);
	ck_assert_msg(exited_with(&r, 0), "status %#x: %s", r.status, r.out);
}
END_TEST

/* Without a checker the inline fast path is live; with one, it is bypassed. */
START_TEST(test_fast_path_state)
{
	struct bhc_arena *a = test_arena_new(1 << 16, 0);

	if (__asan_poison_memory_region)
		ck_assert_uint_eq(a->live.floor, UINT64_MAX);
	else
		ck_assert_uint_eq(a->live.floor, a->live.base);
	bhc_arena_free(a);
}
END_TEST

static Suite *checked_suite(void)
{
	const struct bhc_test_case cases[] = {
		{ "fast_path_state", test_fast_path_state },
		{ "asan_use_after_reset", test_asan_use_after_reset },
		{ "asan_use_after_scope", test_asan_use_after_scope },
		{ "asan_overflow", test_asan_overflow },
		{ "asan_use_after_free", test_asan_use_after_free },
		{ "asan_clean", test_asan_clean },
		{ "valgrind_use_after_reset", test_valgrind_use_after_reset },
		{ "valgrind_use_after_scope", test_valgrind_use_after_scope },
		{ "valgrind_overflow", test_valgrind_overflow },
		{ "valgrind_use_after_free", test_valgrind_use_after_free },
		{ "valgrind_clean", test_valgrind_clean },
	};

	return bhc_test_suite("arena_checked", cases, ARRAY_SIZE(cases));
}

int main(void)
{
	/* regions are kept for reuse (the default), which checked mode must see through */
	unsetenv("BHC_ARENA_RETAIN");
	setenv("BHC_ARENA_MODE", "local", 1);
	setenv("BHC_ARENA_THREAD_SIZE", "1M", 1);
	/* leave the shared hugetlb pool to the tests that reserve it (check_arena_backing) */
	setenv("BHC_ARENA_BACKING", "small", 1);
	return bhc_test_run(checked_suite());
}
