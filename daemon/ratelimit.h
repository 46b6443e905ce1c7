/* SPDX-License-Identifier: MIT */
/*
 * Token buckets by uid, for what one local user may make the daemon do for
 * others to pay: log lines about its clients, loop time spent on its admin
 * requests. A bucket outlives the uid's connections (a connect / request /
 * close loop must not start afresh each time): the table keeps the
 * RATELIMIT_SLOTS uids used last and forgets the least recently used one
 * when full, which hands that uid a full bucket again, no more.
 *
 * Times are CLOCK_MONOTONIC nanoseconds. A bucket holds at most @burst
 * units and gains @rate units per second; ratelimit_take() may drive it
 * below zero (a cost known only afterwards), and then nothing more is
 * allowed until it is back above zero.
 */
#ifndef BHC_DAEMON_RATELIMIT_H
#define BHC_DAEMON_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RATELIMIT_SLOTS 256

struct ratelimit_slot {
	uid_t uid;
	bool used;
	int64_t tokens; /* units x 1e9 (rate is per second) */
	uint64_t last_ns; /* last refill */
	uint64_t suppressed; /* refusals since the last summary */
	uint64_t suppressed_since_ns;
};

struct ratelimit {
	uint64_t burst; /* units */
	uint64_t rate; /* units per second */
	struct ratelimit_slot slots[RATELIMIT_SLOTS];
};

/** ratelimit_now_ns() - CLOCK_MONOTONIC in nanoseconds. */
uint64_t ratelimit_now_ns(void);

/** ratelimit_init() - an empty table of buckets of @burst units refilled at @rate per second. */
void ratelimit_init(struct ratelimit *rl, uint64_t burst, uint64_t rate);

/** ratelimit_get() - @uid's bucket, refilled up to @now_ns (made full if new). */
struct ratelimit_slot *ratelimit_get(struct ratelimit *rl, uid_t uid, uint64_t now_ns);

/**
 * ratelimit_allow() - take one unit from @uid's bucket if it holds one;
 * otherwise count a refusal and return false.
 */
bool ratelimit_allow(struct ratelimit *rl, uid_t uid, uint64_t now_ns);

/** ratelimit_charge() - take @units (may go below zero) from @uid's bucket. */
void ratelimit_charge(struct ratelimit *rl, uid_t uid, uint64_t units, uint64_t now_ns);

/**
 * ratelimit_wait_ms() - 0 if @uid's bucket is above zero, else the
 * milliseconds until it will be.
 */
uint64_t ratelimit_wait_ms(struct ratelimit *rl, uid_t uid, uint64_t now_ns);

#endif
