/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "config.h"
#include "log.h"
#include "pool.h"
#include "common/size.h"
#include "common/backing.h"

/* After a warm region could not be made, wait this long before trying again. */
#define POOL_RETRY_MS 5000
/*
 * After a hand-out or a drop, replenishment waits until the daemon has
 * handed out and dropped nothing for REFILL_QUIET_MS, but never longer than
 * REFILL_MAX_WAIT_MS. Making a region zeroes all its pages (fallocate),
 * which competes with the clients that have just been granted theirs: for
 * the CPU, and for the kernel's hugetlb fault mutexes, which a page clear
 * holds and which the MAP_POPULATE of a granted region needs. Refilling at
 * once made a warm 64 MiB acquire 25x slower with one client and gave 16
 * concurrent clients a p99 of 40-70 ms (BENCHMARKS.md, acquire latency).
 * An acquire that finds its class dry refills it at once (pool_acquire()):
 * that client waits for a region being made anyway, and under a steady
 * stream of requests the class keeps making regions ahead of them instead
 * of making each on demand (5.4k -> 6.1k 2 MiB hand-outs/s, bench-handout).
 */
#define REFILL_QUIET_MS 2
#define REFILL_MAX_WAIT_MS 50
/* While demand holds a class above its configured count, look again this often. */
#define DEMAND_TICK_MS 1000
/*
 * A hugepage pool under memory pressure flaps between having room and not
 * (259 warnings in 15 s): a fallback, or hugepages being back, is said at
 * most once per this long, with the number of changes in between.
 */
#define FALLBACK_WARN_MS 60000

static void refill(struct pool *pool);
static void check_ready(struct pool *pool);
static void maybe_stopped(struct pool *pool);

enum pool_kind pool_kind(uint32_t backing, uint32_t page_shift)
{
	switch (backing) {
	case BHC_ARENA_BACKING_HUGETLB:
		return page_shift == 30 ? POOL_KIND_HUGETLB_1G : POOL_KIND_HUGETLB_2M;
	case BHC_ARENA_BACKING_THP:
		return POOL_KIND_THP;
	case BHC_ARENA_BACKING_SMALL:
		return POOL_KIND_SMALL;
	}
	return POOL_KIND_PENDING;
}

const char *pool_kind_name(enum pool_kind kind)
{
	static const char *const names[] = {
		[POOL_KIND_HUGETLB_2M] = "hugetlb-2M",
		[POOL_KIND_HUGETLB_1G] = "hugetlb-1G",
		[POOL_KIND_THP] = "thp",
		[POOL_KIND_SMALL] = "small",
		[POOL_KIND_PENDING] = "pending",
	};

	return kind < POOL_N_KINDS ? names[kind] : "?";
}

const char *pool_state_name(enum region_state state)
{
	static const char *const names[] = {
		[REGION_NEW] = "new",	    [REGION_CREATING] = "creating", [REGION_WARM] = "warm",
		[REGION_LEASED] = "leased", [REGION_DROPPING] = "dropping",
	};

	return state <= REGION_DROPPING ? names[state] : "?";
}

struct pool_count pool_state_total(const struct pool *pool, enum region_state state)
{
	struct pool_count sum = { 0, 0 };
	int k;

	for (k = 0; k < POOL_N_KINDS; k++) {
		sum.n_regions += pool->counts[state][k].n_regions;
		sum.bytes += pool->counts[state][k].bytes;
	}
	return sum;
}

static void account(struct pool *pool, const struct region *region, int sign)
{
	enum pool_kind kind = POOL_KIND_PENDING;
	struct pool_count *c;

	if (region->state != REGION_NEW && region->state != REGION_CREATING)
		kind = pool_kind(region->backing, region->page_shift);
	c = &pool->counts[region->state][kind];
	if (sign > 0) {
		c->n_regions++;
		c->bytes += region->size;
	} else {
		c->n_regions--;
		c->bytes -= region->size;
	}
}

static void set_state(struct pool *pool, struct region *region, enum region_state state)
{
	account(pool, region, -1);
	region->state = state;
	account(pool, region, +1);
}

static void changed(struct pool *pool)
{
	if (pool->on_change)
		pool->on_change(pool);
}

static double seconds_since(const struct pool *pool, uint64_t start_ms)
{
	return (double)(uv_now(pool->loop) - start_ms) / 1000.0;
}

/*
 * An abandoned region is gone (made and punched, or failed) or kept warm:
 * its uid is no longer charged. Until then it counts against the uid's
 * limits as it does against [limits] total.
 */
static void uncharge(struct pool *pool, struct region *region)
{
	if (region->charged && pool->on_uncharge)
		pool->on_uncharge(pool, region);
	region->charged = NULL;
}

static void free_region(struct pool *pool, struct region *region)
{
	uncharge(pool, region);
	account(pool, region, -1);
	pool->total_bytes -= region->size;
	list_del(&region->pool_link);
	list_del(&region->link);
	region_free(region);
}

static struct pool_class *find_class(const struct pool *pool, uint64_t size)
{
	struct list_head *pos;

	list_for_each(pos, &pool->classes) {
		struct pool_class *class = list_entry(pos, struct pool_class, link);

		if (class->size == size)
			return class;
	}
	return NULL;
}

/* e^-@x for @x >= 0, to a few parts in a million; no libm needed. */
static double decay_factor(double x)
{
	double y, e;
	int k = 0;

	if (x > 40)
		return 0;
	y = x;
	while (y > 0.01) {
		y /= 2;
		k++;
	}
	e = 1 - y + y * y / 2 - y * y * y / 6;
	while (k--)
		e *= e;
	return e;
}

/* @class's demand decayed to @now. */
static double demand_at(const struct pool *pool, const struct pool_class *class, uint64_t now)
{
	if (class->demand <= 0 || !pool->warm_window_ms)
		return 0;
	return class->demand *
	       decay_factor((double)(now - class->demand_ms) / (double)pool->warm_window_ms);
}

/* Bring @class's demand and goal up to @now; @acquired counts one acquire more. */
static void update_goal(struct pool *pool, struct pool_class *class, uint64_t now, bool acquired)
{
	unsigned int max = pool->warm_max > class->target ? pool->warm_max : class->target;
	double d = demand_at(pool, class, now) + (acquired ? 1 : 0);

	class->demand = d;
	class->demand_ms = now;
	if (!class->target)
		class->goal = 0;
	else if (d < (double)class->target + 0.5)
		class->goal = class->target;
	else if (d >= (double)max)
		class->goal = max;
	else
		class->goal = (unsigned int)(d + 0.5);
}

/*
 * The pool is short of @bytes for an acquire, of any memory (@huge_shift 0)
 * or of hugepages of 1 << @huge_shift: let the server ask for kept regions.
 */
static void short_of(struct pool *pool, uint64_t bytes, uint32_t huge_shift)
{
	if (pool->on_short && !pool->stopping)
		pool->on_short(pool, bytes, huge_shift);
}

static void class_maybe_free(struct pool_class *class)
{
	if (class->target || class->n_warm || class->n_creating || class->n_waiters)
		return;
	list_del(&class->link);
	free(class);
}

static void on_retry(uv_timer_t *timer);

static void arm_retry(struct pool *pool, uint64_t at)
{
	uint64_t now = uv_now(pool->loop), due;

	if (!pool->retry_timer_open || pool->stopping)
		return;
	if (uv_is_active((uv_handle_t *)&pool->retry_timer)) {
		due = uv_timer_get_due_in(&pool->retry_timer) + now;
		if (due <= at)
			return;
	}
	uv_timer_start(&pool->retry_timer, on_retry, at > now ? at - now : 0, 0);
}

/* Refill once hand-outs and drops pause (REFILL_QUIET_MS), at the latest REFILL_MAX_WAIT_MS on. */
static void refill_later(struct pool *pool)
{
	uint64_t now = uv_now(pool->loop);

	if (!pool->retry_timer_open || pool->stopping)
		return;
	if (!pool->refill_deferred_since)
		pool->refill_deferred_since = now;
	if (now - pool->refill_deferred_since >= REFILL_MAX_WAIT_MS) {
		arm_retry(pool, now);
		return;
	}
	/* Restarting the timer postpones a failure retry too; refill() re-arms that. */
	uv_timer_start(&pool->retry_timer, on_retry, REFILL_QUIET_MS, 0);
}

static void region_created(struct region *region, int err);
static void region_punched(struct region *region, int err);
static void retry_drop_waiters(struct pool *pool);

/*
 * Start making a region for @class (or on demand if NULL). Returns it, or
 * NULL with -errno in *@errp and the reason in @text.
 */
static struct region *start_region(struct pool *pool, uint64_t size, uint64_t request,
				   uint32_t policy, uint32_t page_shift, struct pool_class *class,
				   int *errp, char *text, size_t text_len)
{
	struct region *region;
	int r;

	/* the low bits count; the instance in the high bits must never change underneath */
	if (((pool->next_region_id + 1) &
	     ((UINT64_C(1) << BHC_ARENA_REGION_ID_COUNTER_BITS) - 1)) == 0 &&
	    pool->on_ids_exhausted)
		pool->next_region_id = pool->on_ids_exhausted(pool);
	r = region_new(pool, ++pool->next_region_id, size, policy, page_shift, &region);
	if (r < 0) {
		snprintf(text, text_len, "out of memory in the daemon");
		*errp = r;
		return NULL;
	}
	region->request = request;
	region->class = class;
	region->state = REGION_CREATING;
	account(pool, region, +1);
	pool->total_bytes += size;
	list_add_tail(&region->pool_link, &pool->regions);
	if (class)
		class->n_creating++;
	else
		list_add_tail(&region->link, &pool->transit);
	r = region_create(region, pool->uring, region_created);
	if (r < 0) {
		snprintf(text, text_len, "%s", region->error);
		if (class)
			class->n_creating--;
		free_region(pool, region);
		*errp = r;
		return NULL;
	}
	return region;
}

/* Give @region (warm or just made) to whoever asked; the caller lists it with its peer. */
static void lease(struct pool *pool, struct region *region)
{
	if (region->state == REGION_WARM) {
		list_del(&region->link);
		region->class->n_warm--;
		region->class->n_handed_out++;
	}
	region->class = NULL;
	region->acquire = NULL;
	region->leased_ns = clock_realtime_ns();
	set_state(pool, region, REGION_LEASED);
	pool->n_leased++;
}

static void complete(struct pool_acquire *acq, struct region *region, int err, const char *text)
{
	acq->pending = false;
	acq->drop_wait = false;
	acq->class = NULL;
	acq->region = NULL;
	acq->done(acq, region, err, text);
}

/* Punch @region off the loop, then close and free it; -ESHUTDOWN if freed at once. */
static int drop_region(struct pool *pool, struct region *region)
{
	pool->n_drops_started++;
	if (pool->on_drop)
		pool->on_drop(pool, region);
	if (region->state == REGION_WARM) {
		list_del(&region->link);
		region->class->n_warm--;
	}
	region->class = NULL;
	region->owner = NULL;
	list_del(&region->link);
	set_state(pool, region, REGION_DROPPING);
	list_add_tail(&region->link, &pool->transit);
	if (region_punch(region, pool->uring, region_punched) < 0) {
		free_region(pool, region);
		pool->n_dropped++;
		return -ESHUTDOWN;
	}
	return 0;
}

static void region_punched(struct region *region, int err)
{
	struct pool *pool = region->pool;

	if (err < 0 && err != -ECANCELED)
		log_warning("punching region %" PRIu64 ": %s; closing it anyway", region->id,
			    strerror(-err));
	if (region->released)
		region->released(region, region->released_data);
	free_region(pool, region);
	pool->n_dropped++;
	if (pool->stopping) {
		maybe_stopped(pool);
		return;
	}
	retry_drop_waiters(pool);
	refill_later(pool);
	changed(pool);
}

static void make_warm(struct pool *pool, struct pool_class *class, struct region *region)
{
	struct pool_count warm;
	char done[32], want[32];

	region->class = class;
	set_state(pool, region, REGION_WARM);
	list_add_tail(&region->link, &class->warm);
	class->n_warm++;
	if (class->n_warm >= class->target)
		class->settled = true;
	if (pool->on_warm)
		pool->on_warm(pool, region);
	if (!pool->ready) {
		warm = pool_state_total(pool, REGION_WARM);
		log_info("reserved %s of %s (%" PRIu64 " warm regions) in %.2f s",
			 size_format_iec(warm.bytes, done, sizeof(done)),
			 size_format_iec(pool->initial_bytes, want, sizeof(want)), warm.n_regions,
			 seconds_since(pool, pool->start_ms));
	}
}

/* A region made for @class or cancelled on demand: keep it warm if a class wants it. */
static bool adopt(struct pool *pool, struct region *region)
{
	struct pool_class *class = find_class(pool, region->size);

	if (!class || region->policy != pool->policy || region->want_shift != pool->page_shift)
		return false;
	if (class->n_warm + class->n_creating >= class->goal)
		return false;
	/* the pool's own now */
	uncharge(pool, region);
	make_warm(pool, class, region);
	return true;
}

static void class_failed(struct pool_class *class, int err, const char *text)
{
	struct pool *pool = class->pool;
	struct pool_acquire *acq;
	char size[32];

	size_format_iec(class->size, size, sizeof(size));
	if (!class->failing)
		log_warning("cannot keep %u warm %s regions: %s; retrying every %d s",
			    class->target, size, text, POOL_RETRY_MS / 1000);
	else
		log_debug("warm %s region: %s", size, text);
	class->failing = true;
	class->settled = true;
	class->retry_at = uv_now(pool->loop) + POOL_RETRY_MS;
	arm_retry(pool, class->retry_at);
	/*
	 * Waiters beyond the regions still being made would wait for nothing.
	 * While drops are under way, which may give back the memory that was
	 * short, they try again once those are done (pool_acquire() let them
	 * wait for a region being made instead of for the drops); else they
	 * get the error.
	 */
	while (class->n_waiters > class->n_creating) {
		acq = list_entry(class->waiters.prev, struct pool_acquire, link);
		list_del(&acq->link);
		class->n_waiters--;
		if (pool->n_dropped < pool->n_drops_started) {
			acq->class = NULL;
			acq->drop_barrier = pool->n_drops_started;
			acq->drop_wait = true;
			list_add(&acq->link, &pool->drop_waiters);
			continue;
		}
		complete(acq, NULL, err, text);
	}
}

/*
 * Hugetlb was wanted and shmem was made: warn on the change from hugetlb to
 * fallback, at most once per FALLBACK_WARN_MS however often the pool flaps.
 */
static void log_fallback(struct pool *pool, const struct region *region)
{
	uint64_t now = uv_now(pool->loop);
	char size[32];

	size_format_iec(region->size, size, sizeof(size));
	pool->n_fallbacks++;
	if (!pool->falling_back) {
		pool->falling_back = true;
		pool->n_flaps++;
	}
	if (!pool->fallback_warned &&
	    (!pool->fallback_warned_ms || now - pool->fallback_warned_ms >= FALLBACK_WARN_MS)) {
		log_warning("%s region %" PRIu64 " uses %s pages: %s (further fallbacks are "
			    "logged at debug level; %" PRIu64 " changes between hugepages and "
			    "fallback since the last warning)",
			    size, region->id, backing_name(region->backing, region->page_shift),
			    region->error, pool->n_flaps);
		pool->fallback_warned = true;
		pool->fallback_warned_ms = now;
		pool->n_flaps = 0;
	} else {
		log_debug("%s region %" PRIu64 " uses %s pages: %s", size, region->id,
			  backing_name(region->backing, region->page_shift), region->error);
	}
}

/* Hugetlb worked (again). */
static void log_hugetlb_back(struct pool *pool)
{
	if (!pool->falling_back)
		return;
	pool->falling_back = false;
	pool->n_flaps++;
	/* the next fallback warns again, FALLBACK_WARN_MS after the last warning */
	if (pool->fallback_warned)
		log_info("hugepages are available again");
	pool->fallback_warned = false;
}

static void region_created(struct region *region, int err)
{
	struct pool *pool = region->pool;
	struct pool_class *class = region->class;
	struct pool_acquire *acq = region->acquire;
	char text[BHC_ARENA_ERROR_TEXT_MAX];
	uint64_t region_size;
	uint32_t huge_shift;

	if (class)
		class->n_creating--;
	else
		list_del(&region->link);
	if (err < 0) {
		pool->n_create_failed++;
		snprintf(text, sizeof(text), "%s", region->error);
		region_size = region->size;
		huge_shift = region->backing == BHC_ARENA_BACKING_HUGETLB ? region->page_shift : 0;
		free_region(pool, region);
		if (err == -ENOMEM && (acq || (class && class->n_waiters > class->n_creating)))
			short_of(pool, region_size, huge_shift);
		if (acq)
			complete(acq, NULL, err, text);
		else if (class && !pool->stopping)
			class_failed(class, err, text);
		goto out;
	}
	pool->n_created++;
	if (region->backing == BHC_ARENA_BACKING_HUGETLB)
		log_hugetlb_back(pool);
	else if (region->policy != BHC_ARENA_HUGEPAGES_OFF) {
		log_fallback(pool, region);
		/* hugepages short: an acquire gets a weaker region than it could */
		if (acq || (class && class->n_waiters))
			short_of(pool, region->size, region->want_shift);
	}
	if (pool->stopping) {
		free_region(pool, region);
		goto out;
	}
	if (acq) {
		lease(pool, region);
		complete(acq, region, 0, NULL);
	} else if (class && class->n_waiters) {
		class->failing = false;
		acq = list_first_entry(&class->waiters, struct pool_acquire, link);
		list_del(&acq->link);
		class->n_waiters--;
		region->class = class;
		lease(pool, region);
		complete(acq, region, 0, NULL);
	} else if (class) {
		class->failing = false;
		if (class->n_warm < class->goal)
			make_warm(pool, class, region);
		else
			drop_region(pool, region);
	} else {
		pool->n_cancelled++;
		if (!adopt(pool, region))
			drop_region(pool, region);
	}
out:
	if (class)
		class_maybe_free(class);
	if (pool->stopping) {
		maybe_stopped(pool);
		return;
	}
	refill(pool);
	check_ready(pool);
	changed(pool);
}

static void refill(struct pool *pool)
{
	char text[BHC_ARENA_ERROR_TEXT_MAX], size[32];
	struct list_head *pos, *n;
	uint64_t now;
	int err;

	if (pool->stopping || !pool->started)
		return;
	now = uv_now(pool->loop);
	list_for_each_safe(pos, n, &pool->classes) {
		struct pool_class *class = list_entry(pos, struct pool_class, link);

		/* demand fades: drop what it no longer asks for, look again later */
		update_goal(pool, class, now, false);
		while (class->n_warm > class->goal && class->n_warm > class->target)
			drop_region(pool, list_first_entry(&class->warm, struct region, link));
		if (class->goal > class->target)
			arm_retry(pool, now + DEMAND_TICK_MS);
		while (class->n_warm + class->n_creating < class->goal) {
			if (class->retry_at > now) {
				arm_retry(pool, class->retry_at);
				break;
			}
			if (pool->total_bytes + class->size > pool->total_limit) {
				if (!class->settled)
					log_info(
						"warm %s regions: [limits] total reached, %u of %u "
						"kept",
						size_format_iec(class->size, size, sizeof(size)),
						class->n_warm + class->n_creating, class->target);
				class->settled = true;
				break;
			}
			if (!start_region(pool, class->size, class->size, pool->policy,
					  pool->page_shift, class, &err, text, sizeof(text))) {
				class_failed(class, err, text);
				break;
			}
		}
		if (class->target == 0)
			class->settled = true;
	}
}

static void check_ready(struct pool *pool)
{
	struct list_head *pos;

	if (pool->ready || !pool->started || pool->stopping)
		return;
	list_for_each(pos, &pool->classes) {
		if (!list_entry(pos, struct pool_class, link)->settled)
			return;
	}
	pool->ready = true;
	if (pool->on_ready)
		pool->on_ready(pool);
}

static void on_retry(uv_timer_t *timer)
{
	struct pool *pool = timer->data;

	pool->refill_deferred_since = 0;
	refill(pool);
	check_ready(pool);
	changed(pool);
}

int pool_configure(struct pool *pool, const struct config *cfg)
{
	struct list_head *pos, *n;
	struct pool_class *class;
	size_t i;

	pool->total_limit = cfg->total;
	pool->max_region_size = cfg->max_region_size;
	list_for_each(pos, &pool->classes)
		list_entry(pos, struct pool_class, link)->target = 0;
	for (i = 0; i < cfg->n_warm; i++) {
		class = find_class(pool, cfg->warm[i].size);
		if (!class) {
			class = calloc(1, sizeof(*class));
			if (!class)
				return -ENOMEM;
			class->pool = pool;
			class->size = cfg->warm[i].size;
			list_init(&class->warm);
			list_init(&class->waiters);
			list_add_tail(&class->link, &pool->classes);
		}
		class->target = cfg->warm[i].target;
		class->retry_at = 0;
		class->failing = false;
	}
	pool->warm_max = cfg->warm_max;
	pool->warm_window_ms = cfg->warm_window_ms;
	list_for_each_safe(pos, n, &pool->classes) {
		class = list_entry(pos, struct pool_class, link);
		update_goal(pool, class, uv_now(pool->loop), false);
		while (class->n_warm > class->goal)
			drop_region(pool, list_first_entry(&class->warm, struct region, link));
		if (class->target == 0)
			class->settled = true;
		class_maybe_free(class);
	}
	refill(pool);
	check_ready(pool);
	changed(pool);
	return 0;
}

int pool_init(struct pool *pool, uv_loop_t *loop, struct uring *uring, const struct config *cfg)
{
	int r;

	memset(pool, 0, sizeof(*pool));
	pool->loop = loop;
	pool->uring = uring;
	pool->policy = cfg->hugepages;
	pool->page_shift = cfg->page_shift;
	list_init(&pool->classes);
	list_init(&pool->regions);
	list_init(&pool->transit);
	list_init(&pool->drop_waiters);
	r = uv_timer_init(loop, &pool->retry_timer);
	if (r < 0)
		return r;
	pool->retry_timer.data = pool;
	pool->retry_timer_open = true;
	return pool_configure(pool, cfg);
}

void pool_start(struct pool *pool)
{
	struct list_head *pos;
	char size[32];

	pool->started = true;
	pool->start_ms = uv_now(pool->loop);
	list_for_each(pos, &pool->classes) {
		struct pool_class *class = list_entry(pos, struct pool_class, link);

		pool->initial_bytes += class->size * class->target;
	}
	if (pool->initial_bytes)
		log_info("reserving %s of warm regions (%s pages, hugepages = %s)",
			 size_format_iec(pool->initial_bytes, size, sizeof(size)),
			 pool->policy == BHC_ARENA_HUGEPAGES_OFF ?
				 "small or thp" :
				 backing_name(BHC_ARENA_BACKING_HUGETLB, pool->page_shift),
			 config_policy_name(pool->policy));
	refill(pool);
	check_ready(pool);
	changed(pool);
}

int pool_resolve(const struct pool *pool, uint32_t flags, uint32_t page_shift, uint64_t size,
		 struct pool_acquire *acq, struct proto_error *err)
{
	uint32_t policy = pool->policy, shift = page_shift ? page_shift : pool->page_shift;
	uint64_t page = UINT64_C(1) << shift, rounded;
	char a[32], b[32];

	if (flags & BHC_ARENA_ACQ_REQUIRE_HUGE) {
		if (pool->policy == BHC_ARENA_HUGEPAGES_OFF) {
			proto_set_error(err, EPERM, BHC_ARENA_MSG_ACQUIRE, 0, false,
					"hugepages are disabled on this daemon "
					"([pool] hugepages = off)");
			return -EPERM;
		}
		policy = BHC_ARENA_HUGEPAGES_REQUIRE;
	} else if (flags & BHC_ARENA_ACQ_PREFER_HUGE) {
		if (pool->policy != BHC_ARENA_HUGEPAGES_OFF)
			policy = BHC_ARENA_HUGEPAGES_PREFER;
	} else if (flags & BHC_ARENA_ACQ_NO_HUGE) {
		policy = BHC_ARENA_HUGEPAGES_OFF;
	}
	if (size > UINT64_MAX - (page - 1) ||
	    (rounded = (size + page - 1) & ~(page - 1)) > pool->max_region_size) {
		proto_set_error(err, EFBIG, BHC_ARENA_MSG_ACQUIRE, 0, false,
				"%" PRIu64 " bytes is more than the largest region, %s "
				"([pool] max_region_size, with %s pages)",
				size, size_format_iec(pool->max_region_size, a, sizeof(a)),
				size_format_iec(page, b, sizeof(b)));
		return -EFBIG;
	}
	acq->size = rounded;
	acq->request = size;
	acq->policy = policy;
	acq->page_shift = shift;
	return 0;
}

static bool compatible(const struct region *region, const struct pool_acquire *acq)
{
	bool huge = region->backing == BHC_ARENA_BACKING_HUGETLB;

	if (region->size != acq->size)
		return false;
	switch (acq->policy) {
	case BHC_ARENA_HUGEPAGES_REQUIRE:
		return huge && region->page_shift == acq->page_shift;
	case BHC_ARENA_HUGEPAGES_PREFER:
		return !huge || region->page_shift == acq->page_shift;
	}
	return !huge;
}

/* The first warm region of @class that fits @acq, or NULL. */
static struct region *find_warm(struct pool_class *class, const struct pool_acquire *acq)
{
	struct list_head *pos;

	list_for_each(pos, &class->warm) {
		struct region *region = list_entry(pos, struct region, link);

		if (compatible(region, acq))
			return region;
	}
	return NULL;
}

/*
 * [limits] total leaves no room for @size: drop warm regions that only
 * demand keeps (beyond their class's configured count), oldest first, until
 * there would be, and let demand start again from the configured counts.
 * Returns whether any were dropped.
 */
static bool shed_demand(struct pool *pool, uint64_t size)
{
	uint64_t freed = 0;
	struct list_head *pos;
	bool any = false;

	list_for_each(pos, &pool->classes) {
		struct pool_class *class = list_entry(pos, struct pool_class, link);

		class->demand = 0;
		class->goal = class->target;
		while (class->n_warm > class->target &&
		       pool->total_bytes - freed + size > pool->total_limit) {
			freed += class->size;
			pool->n_demand_shed++;
			drop_region(pool, list_first_entry(&class->warm, struct region, link));
			any = true;
		}
	}
	return any;
}

/* pool_acquire(), and its retries once the drops it waited for are done. */
static int acquire_try(struct pool *pool, struct pool_acquire *acq, struct region **regionp,
		       struct proto_error *err)
{
	struct pool_class *class = find_class(pool, acq->size);
	/* the class's own regions fit the request: it may wait for them */
	bool refills = class && acq->policy == pool->policy && acq->page_shift == pool->page_shift;
	char text[BHC_ARENA_ERROR_TEXT_MAX], held[32], limit[32];
	struct region *region;
	int r;

	acq->pending = false;
	acq->drop_wait = false;
	acq->class = NULL;
	acq->region = NULL;
	list_init(&acq->link);
	if (pool->stopping) {
		proto_set_error(err, ESHUTDOWN, BHC_ARENA_MSG_ACQUIRE, 0, false,
				"the daemon is stopping");
		return -ESHUTDOWN;
	}
	region = class ? find_warm(class, acq) : NULL;
	if (region) {
		lease(pool, region);
		*regionp = region;
		/* Refill after the grant has gone out and been mapped. */
		refill_later(pool);
		changed(pool);
		return 0;
	}
	/*
	 * Nothing warm fits, but a region the class is making will: wait for
	 * it, not for the drops under way (a client's own RELEASE just before,
	 * punched by a worker busy making regions); that region needs nothing
	 * they give back. Should it fail, class_failed() makes the request
	 * wait for the drops after all. (Waiting for the drops first held a
	 * stream of acquire + release cycles to the punch's round trip; the
	 * measured gain is in BENCHMARKS.md, "Sustained hand-out of 2 MiB
	 * regions".)
	 */
	if (refills && class->n_creating > class->n_waiters) {
		list_add_tail(&acq->link, &class->waiters);
		class->n_waiters++;
		acq->class = class;
		acq->pending = true;
		return -EINPROGRESS;
	}
	/*
	 * Otherwise the memory and the room under [limits] total it needs may
	 * be in regions still being punched (a client's RELEASE, often just
	 * before this ACQUIRE). Wait until as many drops have ended as had
	 * begun when the request came, so that what follows sees the pool as
	 * the releases before it left it. Drops begun later are not waited
	 * for: a stream of other clients' releases cannot hold the request
	 * back for ever.
	 */
	if (pool->n_dropped < acq->drop_barrier) {
		list_add_tail(&acq->link, &pool->drop_waiters);
		acq->drop_wait = true;
		acq->pending = true;
		return -EINPROGRESS;
	}
	if (class && refills) {
		/* Dry: make what the class lacks now, and wait for the first of it. */
		refill(pool);
		if (class->n_creating > class->n_waiters) {
			list_add_tail(&acq->link, &class->waiters);
			class->n_waiters++;
			acq->class = class;
			acq->pending = true;
			return -EINPROGRESS;
		}
	}
	if (pool->total_bytes + acq->size > pool->total_limit && shed_demand(pool, acq->size) &&
	    pool->n_dropped < pool->n_drops_started) {
		/* warm regions only demand kept are being dropped: wait for the room */
		acq->drop_barrier = pool->n_drops_started;
		list_add_tail(&acq->link, &pool->drop_waiters);
		acq->drop_wait = true;
		acq->pending = true;
		return -EINPROGRESS;
	}
	if (pool->total_bytes + acq->size > pool->total_limit) {
		short_of(pool, pool->total_bytes + acq->size - pool->total_limit, 0);
		proto_set_error(err, ENOSPC, BHC_ARENA_MSG_ACQUIRE, 0, false,
				"pool limit reached: %s of %s held ([limits] total)",
				size_format_iec(pool->total_bytes, held, sizeof(held)),
				size_format_iec(pool->total_limit, limit, sizeof(limit)));
		return -ENOSPC;
	}
	region = start_region(pool, acq->size, acq->request, acq->policy, acq->page_shift, NULL, &r,
			      text, sizeof(text));
	if (!region) {
		if (r == -ENOMEM)
			short_of(pool, acq->size,
				 acq->policy == BHC_ARENA_HUGEPAGES_REQUIRE ? acq->page_shift : 0);
		proto_set_error(err, -r, BHC_ARENA_MSG_ACQUIRE, 0, false, "%s", text);
		return r;
	}
	region->acquire = acq;
	acq->region = region;
	acq->pending = true;
	changed(pool);
	return -EINPROGRESS;
}

int pool_acquire(struct pool *pool, struct pool_acquire *acq, struct region **regionp,
		 struct proto_error *err)
{
	struct pool_class *class = find_class(pool, acq->size);

	if (class)
		update_goal(pool, class, uv_now(pool->loop), true);
	acq->drop_barrier = pool->n_drops_started;
	return acquire_try(pool, acq, regionp, err);
}

/* Drops have ended: try again the acquires that waited for them, in order. */
static void retry_drop_waiters(struct pool *pool)
{
	struct list_head waiters;
	struct pool_acquire *acq;
	struct proto_error err;
	struct region *region = NULL;
	int r;

	if (list_empty(&pool->drop_waiters))
		return;
	/* a waiter cancelled meanwhile unlinks itself (drop_wait stays set) */
	list_init(&waiters);
	while (!list_empty(&pool->drop_waiters)) {
		acq = list_first_entry(&pool->drop_waiters, struct pool_acquire, link);
		list_del(&acq->link);
		list_add_tail(&acq->link, &waiters);
	}
	while (!list_empty(&waiters)) {
		acq = list_first_entry(&waiters, struct pool_acquire, link);
		list_del(&acq->link);
		if (pool->n_dropped < acq->drop_barrier) {
			list_add_tail(&acq->link, &pool->drop_waiters);
			continue;
		}
		r = acquire_try(pool, acq, &region, &err);
		if (r == 0)
			complete(acq, region, 0, NULL);
		else if (r != -EINPROGRESS)
			complete(acq, NULL, r, err.text);
	}
}

void pool_acquire_cancel(struct pool *pool, struct pool_acquire *acq)
{
	if (!acq->pending)
		return;
	if (acq->drop_wait) {
		list_del(&acq->link);
		acq->drop_wait = false;
	}
	if (acq->class) {
		list_del(&acq->link);
		acq->class->n_waiters--;
		acq->class = NULL;
	}
	if (acq->region) {
		acq->region->acquire = NULL;
		acq->region = NULL;
	}
	acq->pending = false;
}

int pool_release(struct pool *pool, struct region *region,
		 void (*done)(struct region *region, void *data), void *data)
{
	int r;

	region->released = done;
	region->released_data = data;
	r = drop_region(pool, region);
	changed(pool);
	return r;
}

void pool_resize(struct pool *pool, struct region *region, uint64_t size)
{
	account(pool, region, -1);
	pool->total_bytes -= region->size;
	region->size = size;
	pool->total_bytes += size;
	account(pool, region, +1);
}

bool pool_adopt(struct pool *pool, struct region *region, enum region_state state)
{
	struct pool_class *class;

	region->pool = pool;
	if (state == REGION_WARM) {
		class = find_class(pool, region->size);
		bool huge = region->backing == BHC_ARENA_BACKING_HUGETLB;

		/* what this pool's policy would have made for the class */
		if (!class || region->policy != pool->policy ||
		    (huge && (region->page_shift != pool->page_shift ||
			      pool->policy == BHC_ARENA_HUGEPAGES_OFF)) ||
		    (!huge && pool->policy == BHC_ARENA_HUGEPAGES_REQUIRE) ||
		    class->n_warm + class->n_creating >= class->target)
			return false;
		region->state = REGION_NEW;
		account(pool, region, +1);
		pool->total_bytes += region->size;
		list_add_tail(&region->pool_link, &pool->regions);
		make_warm(pool, class, region);
		changed(pool);
		return true;
	}
	region->state = REGION_LEASED;
	account(pool, region, +1);
	pool->total_bytes += region->size;
	list_add_tail(&region->pool_link, &pool->regions);
	changed(pool);
	return true;
}

void pool_abandon(struct pool *pool, struct region *region)
{
	free_region(pool, region);
	changed(pool);
}

static void retry_timer_closed(uv_handle_t *handle)
{
	struct pool *pool = handle->data;

	pool->retry_timer_open = false;
	maybe_stopped(pool);
}

static void maybe_stopped(struct pool *pool)
{
	struct list_head *pos, *n;

	if (!pool->stopping || !list_empty(&pool->regions) || pool->retry_timer_open ||
	    !pool->on_stopped)
		return;
	list_for_each_safe(pos, n, &pool->classes) {
		struct pool_class *class = list_entry(pos, struct pool_class, link);

		list_del(&class->link);
		free(class);
	}
	pool->on_stopped(pool);
	pool->on_stopped = NULL;
}

void pool_stop(struct pool *pool)
{
	struct list_head *pos, *n;
	struct pool_acquire *acq;

	pool->stopping = true;
	while (!list_empty(&pool->drop_waiters)) {
		acq = list_first_entry(&pool->drop_waiters, struct pool_acquire, link);
		list_del(&acq->link);
		complete(acq, NULL, -ESHUTDOWN, "the daemon is stopping");
	}
	list_for_each(pos, &pool->classes) {
		struct pool_class *class = list_entry(pos, struct pool_class, link);

		while (!list_empty(&class->waiters)) {
			acq = list_first_entry(&class->waiters, struct pool_acquire, link);
			list_del(&acq->link);
			class->n_waiters--;
			complete(acq, NULL, -ESHUTDOWN, "the daemon is stopping");
		}
	}
	list_for_each_safe(pos, n, &pool->regions) {
		struct region *region = list_entry(pos, struct region, pool_link);

		if (region->state == REGION_WARM) {
			region->class->n_warm--;
			free_region(pool, region);
		} else if (region->state == REGION_LEASED) {
			free_region(pool, region);
		}
	}
	if (pool->retry_timer_open && !uv_is_closing((uv_handle_t *)&pool->retry_timer))
		uv_close((uv_handle_t *)&pool->retry_timer, retry_timer_closed);
	maybe_stopped(pool);
}

void pool_format_status(const struct pool *pool, char *buf, size_t len)
{
	struct pool_count warm = pool_state_total(pool, REGION_WARM);
	struct pool_count leased = pool_state_total(pool, REGION_LEASED);
	struct pool_count creating = pool_state_total(pool, REGION_CREATING);
	char w[32], l[32], c[32], t[32], lim[32];

	snprintf(buf, len,
		 "warm %" PRIu64 " (%s), leased %" PRIu64 " (%s), reserving %" PRIu64
		 " (%s); %s of %s held",
		 warm.n_regions, size_format_iec(warm.bytes, w, sizeof(w)), leased.n_regions,
		 size_format_iec(leased.bytes, l, sizeof(l)), creating.n_regions,
		 size_format_iec(creating.bytes, c, sizeof(c)),
		 size_format_iec(pool->total_bytes, t, sizeof(t)),
		 size_format_iec(pool->total_limit, lim, sizeof(lim)));
}

void pool_log_state(const struct pool *pool)
{
	struct list_head *pos;
	char a[32], b[32];
	int s, k;

	list_for_each(pos, &pool->classes) {
		const struct pool_class *class = list_entry(pos, struct pool_class, link);

		log_notice(
			"class %s: %u of %u warm (%u for demand now), %u being made, %u waiting, "
			"%" PRIu64 " handed out%s",
			size_format_iec(class->size, a, sizeof(a)), class->n_warm, class->target,
			class->goal, class->n_creating, class->n_waiters, class->n_handed_out,
			class->failing ? ", failing" : "");
	}
	for (s = REGION_CREATING; s < POOL_N_STATES; s++) {
		for (k = 0; k < POOL_N_KINDS; k++) {
			const struct pool_count *c = &pool->counts[s][k];

			if (!c->n_regions)
				continue;
			log_notice("%s %s: %" PRIu64 " regions, %s", pool_state_name(s),
				   pool_kind_name(k), c->n_regions,
				   size_format_iec(c->bytes, a, sizeof(a)));
		}
	}
	log_notice("total %s of %s held; made %" PRIu64 ", failed %" PRIu64 ", fell back %" PRIu64
		   ", leased %" PRIu64 ", dropped %" PRIu64,
		   size_format_iec(pool->total_bytes, a, sizeof(a)),
		   size_format_iec(pool->total_limit, b, sizeof(b)), pool->n_created,
		   pool->n_create_failed, pool->n_fallbacks, pool->n_leased, pool->n_dropped);
}
