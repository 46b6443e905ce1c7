/* SPDX-License-Identifier: MIT */
/*
 * Data patterns the tests write into regions and read back: word i of a
 * pattern is a function of a seed and i only, so that another process (or
 * a later check) can verify it knowing the seed. Lengths are in bytes; a
 * tail shorter than a word is left alone.
 */
#ifndef BHC_TESTS_UTIL_PATTERN_H
#define BHC_TESTS_UTIL_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Word @i of the pattern for @seed. */
static inline uint64_t bhc_test_pattern_word(uint64_t seed, size_t i)
{
	return (seed * UINT64_C(0x9e3779b97f4a7c15)) ^ ((uint64_t)i * UINT64_C(0xff51afd7ed558ccd));
}

/* Write the pattern for @seed over the words of [p, p + len). */
static inline void bhc_test_pattern_fill(void *p, size_t len, uint64_t seed)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = bhc_test_pattern_word(seed, i);
}

/* Whether the words of [p, p + len) hold the pattern for @seed. */
static inline bool bhc_test_pattern_verify(const void *p, size_t len, uint64_t seed)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != bhc_test_pattern_word(seed, i))
			return false;
	return true;
}

/* Whether the words of [p, p + len) are all zero. */
static inline bool bhc_test_all_zero(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i])
			return false;
	return true;
}

#endif
