/* SPDX-License-Identifier: MIT */
/*
 * TAP output for Check suites. Check knows pass, failure and error only; a
 * skip is an early exit with status BHC_TEST_SKIP_STATUS, and the reason
 * travels through a shared anonymous mapping that every forked test inherits
 * (tests run one after another, so the n-th skip result owns the n-th entry).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"

#define BHC_TEST_SKIP_STATUS 77
#define SKIP_MAX 256
#define SKIP_REASON_MAX 240

struct skip_table {
	unsigned int n_skips;
	char reason[SKIP_MAX][SKIP_REASON_MAX];
};

static struct skip_table *skips;

void bhc_test_skip(const char *fmt, ...)
{
	va_list ap;

	if (skips && skips->n_skips < SKIP_MAX) {
		va_start(ap, fmt);
		vsnprintf(skips->reason[skips->n_skips], SKIP_REASON_MAX, fmt, ap);
		va_end(ap);
		skips->n_skips++;
	}
	fflush(NULL);
	_exit(BHC_TEST_SKIP_STATUS);
}

static int is_skip(TestResult *tr)
{
	static const char early[] = "Early exit with return value 77";

	return tr_rtype(tr) == CK_ERROR && tr_msg(tr) && strstr(tr_msg(tr), early);
}

static void print_oneline(const char *s)
{
	for (; s && *s; s++)
		putchar(*s == '\n' ? ' ' : *s);
}

Suite *bhc_test_suite(const char *name, const struct bhc_test_case *cases, size_t n_cases)
{
	Suite *s = suite_create(name);
	size_t i;

	for (i = 0; i < n_cases; i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int bhc_test_run(Suite *suite)
{
	SRunner *sr;
	TestResult **results;
	unsigned int next_skip = 0;
	int i, n, failed = 0;

	skips = mmap(NULL, sizeof(*skips), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	if (skips == MAP_FAILED) {
		printf("Bail out! cannot map the skip table\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sr = srunner_create(suite);
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_SILENT);
	n = srunner_ntests_run(sr);
	results = srunner_results(sr);
	printf("1..%d\n", n);
	for (i = 0; i < n; i++) {
		TestResult *tr = results[i];

		if (is_skip(tr)) {
			const char *why = next_skip < skips->n_skips ? skips->reason[next_skip] :
								       "(no reason)";

			next_skip++;
			printf("ok %d - %s # SKIP ", i + 1, tr_tcname(tr));
			print_oneline(why);
			putchar('\n');
		} else if (tr_rtype(tr) == CK_PASS) {
			printf("ok %d - %s\n", i + 1, tr_tcname(tr));
		} else {
			failed++;
			printf("not ok %d - %s: %s:%d: ", i + 1, tr_tcname(tr),
			       tr_lfile(tr) ? tr_lfile(tr) : "?", tr_lno(tr));
			print_oneline(tr_msg(tr));
			putchar('\n');
		}
	}
	free(results);
	srunner_free(sr);
	munmap(skips, sizeof(*skips));
	return failed ? 1 : 0;
}
