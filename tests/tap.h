/* SPDX-License-Identifier: MIT */
/*
 * Run a Check suite (CK_FORK) and report it as TAP for automake's driver,
 * with real skips: a test that cannot run here calls bhc_test_skip("why").
 */
#ifndef BHC_TESTS_TAP_H
#define BHC_TESTS_TAP_H

#include <check.h>

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
