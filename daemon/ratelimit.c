/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <time.h>

#include "ratelimit.h"

#define NS 1000000000

uint64_t ratelimit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

void ratelimit_init(struct ratelimit *rl, uint64_t burst, uint64_t rate)
{
	memset(rl, 0, sizeof(*rl));
	rl->burst = burst;
	rl->rate = rate;
}

static void refill(struct ratelimit *rl, struct ratelimit_slot *s, uint64_t now_ns)
{
	int64_t max = (int64_t)(rl->burst * NS);
	uint64_t dt = now_ns > s->last_ns ? now_ns - s->last_ns : 0;

	/* capped so that dt * rate cannot overflow; an idle bucket is full long before */
	if (dt > UINT64_C(1000) * NS)
		dt = UINT64_C(1000) * NS;
	s->tokens += (int64_t)(dt * rl->rate);
	if (s->tokens > max)
		s->tokens = max;
	s->last_ns = now_ns;
}

struct ratelimit_slot *ratelimit_get(struct ratelimit *rl, uid_t uid, uint64_t now_ns)
{
	struct ratelimit_slot *s, *oldest = NULL, *free_slot = NULL;
	size_t i;

	for (i = 0; i < RATELIMIT_SLOTS; i++) {
		s = &rl->slots[i];
		if (!s->used) {
			if (!free_slot)
				free_slot = s;
			continue;
		}
		if (s->uid == uid) {
			refill(rl, s, now_ns);
			return s;
		}
		if (!oldest || s->last_ns < oldest->last_ns)
			oldest = s;
	}
	s = free_slot ? free_slot : oldest;
	memset(s, 0, sizeof(*s));
	s->used = true;
	s->uid = uid;
	s->tokens = (int64_t)(rl->burst * NS);
	s->last_ns = now_ns;
	return s;
}

bool ratelimit_allow(struct ratelimit *rl, uid_t uid, uint64_t now_ns)
{
	struct ratelimit_slot *s = ratelimit_get(rl, uid, now_ns);

	if (s->tokens >= (int64_t)NS) {
		s->tokens -= NS;
		return true;
	}
	if (!s->suppressed++)
		s->suppressed_since_ns = now_ns;
	return false;
}

void ratelimit_charge(struct ratelimit *rl, uid_t uid, uint64_t units, uint64_t now_ns)
{
	struct ratelimit_slot *s = ratelimit_get(rl, uid, now_ns);

	s->tokens -= (int64_t)(units * NS);
}

uint64_t ratelimit_wait_ms(struct ratelimit *rl, uid_t uid, uint64_t now_ns)
{
	struct ratelimit_slot *s = ratelimit_get(rl, uid, now_ns);

	if (s->tokens > 0)
		return 0;
	if (!rl->rate)
		return 1000;
	/* tokens / rate is in ns; one more ms to land above zero */
	return (uint64_t)(-s->tokens) / rl->rate / 1000000 + 1;
}
