/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl metrics: the Prometheus text exposition format (version
 * 0.0.4) rendered from one "snapshot" reply, so that every number comes
 * from one consistent view of the daemon. Every family has HELP and TYPE
 * lines and its samples together; label values are escaped as the format
 * demands (backslash, double quote, newline).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arenactl.h"

#define LABEL_MAX 160

const char *ctl_prom_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return buf;
	for (; s && *s; s++) {
		const char *esc = NULL;
		size_t need;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '"')
			esc = "\\\"";
		else if (*s == '\n')
			esc = "\\n";
		need = esc ? 2 : 1;
		if (o + need >= len)
			break;
		if (esc) {
			memcpy(buf + o, esc, 2);
		} else {
			buf[o] = *s;
		}
		o += need;
	}
	buf[o] = '\0';
	return buf;
}

struct label {
	const char *name;
	const char *value;
};

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const struct label *labels, size_t n_labels,
		   uint64_t value)
{
	char clean[LABEL_MAX], esc[2 * LABEL_MAX];
	size_t i;

	fputs(name, f);
	for (i = 0; i < n_labels; i++) {
		/* text from clients (tags) is printable ASCII before it is escaped */
		ctl_sanitize(labels[i].value, clean, sizeof(clean));
		fprintf(f, "%s%s=\"%s\"", i ? "," : "{", labels[i].name,
			ctl_prom_escape(clean, esc, sizeof(esc)));
	}
	fprintf(f, "%s %" PRIu64 "\n", n_labels ? "}" : "", value);
}

static void gauge(FILE *f, const char *name, const char *help, uint64_t value)
{
	head(f, name, "gauge", help);
	sample(f, name, NULL, 0, value);
}

/* --- per (backing, page size) ------------------------------------------------ */

static void backing_family(FILE *f, struct json_object *backings, const char *name,
			   const char *help, const char *part, const char *key, bool with_state)
{
	size_t i, n = backings ? json_object_array_length(backings) : 0;
	static const char *const states[] = { "leased", "warm" };
	size_t s;

	if (!n)
		return;
	head(f, name, "gauge", help);
	for (s = 0; s < (with_state ? 2u : 1u); s++) {
		const char *state = with_state ? states[s] : part;

		for (i = 0; i < n; i++) {
			struct json_object *b = json_object_array_get_idx(backings, i);
			struct json_object *o = ctl_json_object(b, state);
			char page[32];
			struct label l[3] = {
				{ "backing", ctl_json_str(b, "backing", "unknown") },
				{ "page_size", page },
				{ "state", state },
			};

			snprintf(page, sizeof(page), "%" PRIu64, ctl_json_u64(b, "page_size", 0));
			sample(f, name, l, with_state ? 3 : 2, ctl_json_u64(o, key, 0));
		}
	}
}

/* --- per tag ------------------------------------------------------------------- */

enum { T_CLIENTS, T_REGIONS, T_LEASED, T_USED, T_HIGH_WATER, T_KEPT, T_N };

struct tag_usage {
	const char *tag;
	uint64_t v[T_N];
};

static int cmp_tag(const void *a, const void *b)
{
	const struct tag_usage *ta = a, *tb = b;

	return strcmp(ta->tag, tb->tag);
}

/* One entry per row of @clients and @regions, sorted by tag, then merged in place. */
static int tag_usage(struct json_object *clients, struct json_object *regions,
		     struct tag_usage **usagep, size_t *n_usagep)
{
	size_t n_c = clients ? json_object_array_length(clients) : 0;
	size_t n_r = regions ? json_object_array_length(regions) : 0;
	struct tag_usage *u;
	size_t i, n = 0, o = 0;

	u = calloc(n_c + n_r + 1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	for (i = 0; i < n_c; i++) {
		struct json_object *c = json_object_array_get_idx(clients, i);

		u[n].tag = ctl_json_str(c, "tag", "");
		u[n++].v[T_CLIENTS] = 1;
	}
	for (i = 0; i < n_r; i++) {
		struct json_object *r = json_object_array_get_idx(regions, i);

		if (strcmp(ctl_json_str(r, "state", "leased"), "leased"))
			continue;
		u[n].tag = ctl_json_str(r, "tag", "");
		u[n].v[T_REGIONS] = 1;
		u[n].v[T_LEASED] = ctl_json_u64(r, "size", 0);
		u[n].v[T_USED] = ctl_json_u64(r, "used", 0);
		if (!strcmp(ctl_json_str(r, "use", "in_use"), "kept"))
			u[n].v[T_KEPT] = ctl_json_u64(r, "size", 0);
		u[n++].v[T_HIGH_WATER] = ctl_json_u64(r, "high_water", 0);
	}
	qsort(u, n, sizeof(*u), cmp_tag);
	for (i = 0; i < n; i++) {
		struct tag_usage *last = o ? &u[o - 1] : NULL;

		if (last && !strcmp(last->tag, u[i].tag)) {
			size_t k;

			for (k = 0; k < T_N; k++)
				last->v[k] += u[i].v[k];
		} else {
			u[o++] = u[i];
		}
	}
	*usagep = u;
	*n_usagep = o;
	return 0;
}

static void tag_family(FILE *f, const struct tag_usage *u, size_t n, const char *name,
		       const char *help, unsigned int field)
{
	size_t i;

	if (!n)
		return;
	head(f, name, "gauge", help);
	for (i = 0; i < n; i++) {
		struct label l = { "tag", u[i].tag };

		sample(f, name, &l, 1, u[i].v[field]);
	}
}

/* --- per job ------------------------------------------------------------------- */

/*
 * One family over the rows of "jobs" (registered by the workload manager,
 * docs/ADMIN.md), labelled jobid="ID" (not "job": Prometheus gives every
 * target that label); rows without @key (a job without a budget) have no
 * sample.
 */
static void job_family(FILE *f, struct json_object *jobs, const char *name, const char *type,
		       const char *help, const char *key)
{
	size_t i, n = jobs ? json_object_array_length(jobs) : 0;
	bool headed = false;
	char id[24];

	for (i = 0; i < n; i++) {
		struct json_object *j = json_object_array_get_idx(jobs, i), *v;
		struct label l = { "jobid", id };

		if (!json_object_object_get_ex(j, key, &v) ||
		    !json_object_is_type(v, json_type_int))
			continue;
		if (!headed)
			head(f, name, type, help);
		headed = true;
		snprintf(id, sizeof(id), "%" PRIu64, ctl_json_u64(j, "id", 0));
		sample(f, name, &l, 1, ctl_json_u64(j, key, 0));
	}
}

static void job_metrics(FILE *f, struct json_object *jobs)
{
	job_family(f, jobs, "bhc_arena_job_clients", "gauge",
		   "Connected clients per job (by process ancestry, not tag).", "clients");
	job_family(f, jobs, "bhc_arena_job_regions", "gauge",
		   "Leased regions per job, with an acquire in progress.", "regions");
	job_family(f, jobs, "bhc_arena_job_leased_bytes", "gauge",
		   "Bytes leased per job, with an acquire in progress.", "leased");
	job_family(f, jobs, "bhc_arena_job_peak_bytes", "gauge",
		   "Most bytes a job has held at once on this node.", "peak");
	job_family(f, jobs, "bhc_arena_job_budget_bytes", "gauge",
		   "A job's budget on this node (--bhc-arena); no sample without one.", "budget");
	job_family(f, jobs, "bhc_arena_job_refused_total", "counter",
		   "Acquires refused by a job's budget (EDQUOT).", "refused");
}

/* --- counters ------------------------------------------------------------------ */

static const struct {
	const char *key, *help;
} counter_help[] = {
	{ "connections", "Client connections accepted since the daemon started." },
	{ "connections_refused",
	  "Connections turned away by max_connections since the daemon started." },
	{ "grants", "Regions granted to clients since the daemon started." },
	{ "regions_created",
	  "Regions the daemon created (reserved and pre-faulted) since it started." },
	{ "region_create_failures", "Regions the daemon failed to create since it started." },
	{ "regions_dropped", "Regions the daemon dropped (released or surplus) since it started." },
	{ "fallbacks", "Regions created with a weaker backing than hugetlb under policy prefer." },
	{ "acquires_cancelled", "Regions made for an acquire whose client went away first." },
	{ "reloads", "Configuration reloads since the daemon started." },
	{ "reclaims", "RECLAIM messages sent to clients that keep regions, asking for them back." },
	{ "pool_short",
	  "Acquires that found the pool short (limit reached, hugepages short) and asked for kept regions." },
	{ "demand_shed",
	  "Warm regions kept above the configured count for demand, dropped for room." },
};

static bool metric_word(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void counters(FILE *f, struct json_object *c)
{
	if (!c)
		return;
	json_object_object_foreach(c, key, val)
	{
		const char *help = "bhc-arenad counter (see docs/ADMIN.md).";
		char name[96];
		size_t i;

		if (!metric_word(key) || !json_object_is_type(val, json_type_int))
			continue;
		for (i = 0; i < ARRAY_SIZE(counter_help); i++)
			if (!strcmp(counter_help[i].key, key))
				help = counter_help[i].help;
		snprintf(name, sizeof(name), "bhc_arena_%s_total", key);
		head(f, name, "counter", help);
		sample(f, name, NULL, 0, ctl_json_u64(c, key, 0));
	}
}

/* --- the whole exposition ---------------------------------------------------------- */

static void hugepages(FILE *f, const struct ctl_hugepage_pool *pools, size_t n)
{
	static const char *const states[] = { "total", "free", "reserved", "surplus" };
	const char *name = "bhc_arena_system_hugepages";
	size_t i, s;

	if (!n)
		return;
	head(f, name, "gauge",
	     "Pages in the system hugetlb pool of each page size, from /sys/kernel/mm/hugepages.");
	for (s = 0; s < 4; s++) {
		for (i = 0; i < n; i++) {
			const uint64_t v[] = { pools[i].total, pools[i].free, pools[i].reserved,
					       pools[i].surplus };
			char page[32];
			struct label l[2] = { { "page_size", page }, { "state", states[s] } };

			snprintf(page, sizeof(page), "%" PRIu64, pools[i].page_size);
			sample(f, name, l, 2, v[s]);
		}
	}
}

static void warm_targets(FILE *f, struct json_object *targets)
{
	size_t i, n = targets ? json_object_array_length(targets) : 0;
	static const char *const names[] = { "bhc_arena_warm_target_regions",
					     "bhc_arena_warm_ready_regions",
					     "bhc_arena_warm_demand_target_regions" };
	static const char *const helps[] = {
		"Regions of this size the daemon keeps ready (warm target).",
		"Regions of this size ready to hand out now.",
		"Regions of this size the daemon keeps ready now: the warm target raised by demand.",
	};
	static const char *const keys[] = { "count", "ready", "target" };
	size_t m;

	if (!n)
		return;
	for (m = 0; m < 3; m++) {
		/* a daemon without demand-following warm targets does not say "target" */
		if (!json_object_object_get_ex(json_object_array_get_idx(targets, 0), keys[m],
					       NULL))
			continue;
		head(f, names[m], "gauge", helps[m]);
		for (i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(targets, i);
			char size[32];
			struct label l = { "size", size };

			snprintf(size, sizeof(size), "%" PRIu64, ctl_json_u64(t, "size", 0));
			sample(f, names[m], &l, 1, ctl_json_u64(t, keys[m], 0));
		}
	}
}

static void pool_metrics(FILE *f, struct json_object *pool)
{
	static const char *const states[] = { "leased", "warm", "pending", "free" };
	const char *name = "bhc_arena_pool_bytes";
	size_t s;

	gauge(f, "bhc_arena_pool_limit_bytes", "Most bytes the daemon may reserve (total).",
	      ctl_json_u64(pool, "total", 0));
	head(f, name, "gauge",
	     "Bytes of the pool by state: leased, warm (ready), pending (being made), free (room under the limit).");
	for (s = 0; s < 4; s++) {
		struct label l = { "state", states[s] };

		sample(f, name, &l, 1, ctl_json_u64(pool, states[s], 0));
	}
	gauge(f, "bhc_arena_max_region_size_bytes", "Largest region one acquire may ask for.",
	      ctl_json_u64(pool, "max_region_size", 0));
	if (json_object_object_get_ex(pool, "kept", NULL))
		gauge(f, "bhc_arena_kept_bytes",
		      "Bytes of leased regions their processes keep for reuse (not in use by an arena).",
		      ctl_json_u64(pool, "kept", 0));
	warm_targets(f, ctl_json_array(pool, "warm_targets"));
}

/* The daemon instance and what it recovered from the one before (daemon.restart). */
static void restart_metrics(FILE *f, struct json_object *daemon)
{
	struct json_object *r = ctl_json_object(daemon, "restart");
	static const char *const kinds[] = { "leased", "warm" };
	size_t i;

	if (!r)
		return;
	gauge(f, "bhc_arena_instance",
	      "Instance number of bhc-arenad on this node (one more at every start).",
	      ctl_json_u64(daemon, "instance", 0));
	head(f, "bhc_arena_restored_regions", "gauge",
	     "Regions of the instance before taken back from systemd's fd store at start.");
	for (i = 0; i < 2; i++) {
		struct label l = { "state", kinds[i] };
		char key[32];

		snprintf(key, sizeof(key), "restored_%s", kinds[i]);
		sample(f, "bhc_arena_restored_regions", &l, 1, ctl_json_u64(r, key, 0));
	}
	gauge(f, "bhc_arena_restored_waiting_regions",
	      "Restored leases whose client has not registered them yet.",
	      ctl_json_u64(r, "restored_waiting", 0));
	head(f, "bhc_arena_reregistered_regions_total", "counter",
	     "Regions of an earlier instance that their clients registered again.");
	sample(f, "bhc_arena_reregistered_regions_total", NULL, 0,
	       ctl_json_u64(r, "reregistered_regions", 0));
	head(f, "bhc_arena_reregister_refused_total", "counter",
	     "REGISTER requests refused (bad descriptor, token, size or id).");
	sample(f, "bhc_arena_reregister_refused_total", NULL, 0,
	       ctl_json_u64(r, "reregister_refused", 0));
}

static uint64_t count_clamped(struct json_object *regions)
{
	size_t i, n = regions ? json_object_array_length(regions) : 0;
	uint64_t c = 0;

	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(regions, i);

		if (strcmp(ctl_json_str(r, "header", "ok"), "ok"))
			c++;
	}
	return c;
}

static int snapshot_metrics(FILE *f, struct json_object *snap)
{
	struct json_object *daemon = ctl_json_object(snap, "daemon");
	struct json_object *pool = ctl_json_object(snap, "pool");
	struct json_object *sessions = ctl_json_object(snap, "sessions");
	struct json_object *backings = ctl_json_array(snap, "backings");
	struct json_object *clients = ctl_json_array(snap, "clients");
	struct json_object *regions = ctl_json_array(snap, "regions");
	struct tag_usage *tags;
	size_t n_tags;
	char page[32];
	int r;

	snprintf(page, sizeof(page), "%" PRIu64, ctl_json_u64(pool, "page_size", 0));
	{
		struct label l[3] = {
			{ "version", ctl_json_str(daemon, "version", "unknown") },
			{ "policy", ctl_json_str(pool, "policy", "unknown") },
			{ "page_size", page },
		};

		head(f, "bhc_arena_info", "gauge",
		     "Version, hugepage policy and default page size of bhc-arenad (always 1).");
		sample(f, "bhc_arena_info", l, 3, 1);
	}
	gauge(f, "bhc_arena_start_time_seconds", "Start of bhc-arenad, unix time.",
	      ctl_json_u64(daemon, "start_time", 0));
	restart_metrics(f, daemon);
	pool_metrics(f, pool);
	backing_family(f, backings, "bhc_arena_regions", "Regions by backing, page size and state.",
		       NULL, "regions", true);
	backing_family(f, backings, "bhc_arena_region_bytes",
		       "Bytes of regions by backing, page size and state.", NULL, "bytes", true);
	backing_family(
		f, backings, "bhc_arena_used_bytes",
		"Bytes clients have allocated in their leased regions (live, from the region headers).",
		"leased", "used", false);
	backing_family(f, backings, "bhc_arena_high_water_bytes",
		       "Sum over leased regions of the most bytes each ever had allocated.",
		       "leased", "high_water", false);
	if (backings && json_object_array_length(backings) &&
	    ctl_json_object(json_object_array_get_idx(backings, 0), "kept"))
		backing_family(
			f, backings, "bhc_arena_kept_region_bytes",
			"Bytes of leased regions kept by their processes for reuse, by backing.",
			"kept", "bytes", false);
	gauge(f, "bhc_arena_clients", "Connected clients (admin sessions not counted).",
	      ctl_json_u64(sessions, "clients", 0));
	gauge(f, "bhc_arena_admin_sessions", "Connected admin sessions.",
	      ctl_json_u64(sessions, "admin", 0));
	gauge(f, "bhc_arena_regions_header_invalid",
	      "Leased regions whose live header held values out of range (shown clamped).",
	      count_clamped(regions));
	r = tag_usage(clients, regions, &tags, &n_tags);
	if (r < 0)
		return r;
	tag_family(f, tags, n_tags, "bhc_arena_tag_clients", "Connected clients per tag (job id).",
		   T_CLIENTS);
	tag_family(f, tags, n_tags, "bhc_arena_tag_regions", "Leased regions per tag (job id).",
		   T_REGIONS);
	tag_family(f, tags, n_tags, "bhc_arena_tag_leased_bytes",
		   "Bytes of leased regions per tag (job id).", T_LEASED);
	tag_family(f, tags, n_tags, "bhc_arena_tag_used_bytes",
		   "Bytes allocated in leased regions per tag (job id), live.", T_USED);
	tag_family(f, tags, n_tags, "bhc_arena_tag_high_water_bytes",
		   "Sum of the regions' high-water marks per tag (job id).", T_HIGH_WATER);
	tag_family(f, tags, n_tags, "bhc_arena_tag_kept_bytes",
		   "Bytes of leased regions kept for reuse per tag (job id).", T_KEPT);
	free(tags);
	job_metrics(f, ctl_json_array(snap, "jobs"));
	counters(f, ctl_json_object(snap, "counters"));
	return 0;
}

int ctl_prom_render(FILE *f, struct json_object *snap, const struct ctl_hugepage_pool *pools,
		    size_t n_pools)
{
	int r = 0;

	if (snap && !strcmp(ctl_json_str(snap, "scope", "all"), "own"))
		fprintf(f, "# bhc-arenactl: not an admin: clients, regions and tags are only "
			   "this user's\n");
	gauge(f, "bhc_arena_up", "1 if bhc-arenad answered this scrape, else 0.", snap ? 1 : 0);
	if (snap)
		r = snapshot_metrics(f, snap);
	hugepages(f, pools, n_pools);
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return r;
}
