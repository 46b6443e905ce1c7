/* SPDX-License-Identifier: MIT */
/* The clocks everything here reads (vDSO calls, no system call). */
#ifndef BHC_COMMON_CLOCK_H
#define BHC_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall-clock time, for what people and other processes read (headers, JSON). */
static inline uint64_t clock_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

/* Elapsed time, for deadlines and rates. */
static inline uint64_t clock_monotonic_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

#endif
