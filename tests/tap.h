/* SPDX-License-Identifier: MIT */
/*
 * Run a Check suite (CK_FORK) and report it as TAP for automake's driver,
 * with real skips: a test that cannot run here calls bhc_test_skip("why").
 */
#ifndef BHC_TESTS_TAP_H
#define BHC_TESTS_TAP_H

#include <stddef.h>

#include <check.h>

/* One test of a table-driven suite: its TCase's name and the test (from START_TEST). */
struct bhc_test_case {
	const char *name;
	const TTest *test;
};

/**
 * bhc_test_suite() - a suite @name with one TCase per entry of @cases,
 * named after it and holding its test, in the order given.
 */
Suite *bhc_test_suite(const char *name, const struct bhc_test_case *cases, size_t n_cases);

/**
 * bhc_test_run() - run @suite in fork mode and print one TAP line per test.
 * Returns the process exit status: 0 if nothing failed, else 1.
 */
int bhc_test_run(Suite *suite);

/**
 * bhc_test_skip() - end the current test as skipped with a reason
 * (printf-style). Only valid inside a test run by bhc_test_run().
 */
__attribute__((noreturn, format(printf, 1, 2))) void bhc_test_skip(const char *fmt, ...);

#endif
