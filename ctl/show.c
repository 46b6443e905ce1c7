/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl views: what a person reads in a terminal. Every line goes
 * through ctl_emit_line() or a table, so nothing is wider than the view.
 * The numbers are the daemon's (already clamped by it); the CLI still
 * treats each one as untrusted input: missing members read as 0, text is
 * sanitized, fractions are bounded.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "arenactl.h"

#define LINE_MAX_LEN 1024
#define BAR_MAX 64

/* --- small helpers -------------------------------------------------------------- */

struct uid_name {
	uint32_t uid;
	char name[33];
};

static struct uid_name uid_cache[64];
static size_t n_uid_cache;

const char *ctl_user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	size_t i;

	for (i = 0; i < n_uid_cache; i++) {
		if (uid_cache[i].uid == uid) {
			snprintf(buf, len, "%s", uid_cache[i].name);
			return buf;
		}
	}
	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res &&
	    strlen(res->pw_name) < sizeof(uid_cache[0].name))
		ctl_sanitize(res->pw_name, buf, len);
	else
		snprintf(buf, len, "%" PRIu32, uid);
	if (n_uid_cache < ARRAY_SIZE(uid_cache)) {
		uid_cache[n_uid_cache].uid = uid;
		snprintf(uid_cache[n_uid_cache].name, sizeof(uid_cache[0].name), "%s", buf);
		n_uid_cache++;
	}
	return buf;
}

int ctl_add_user_names(struct json_object *rows)
{
	size_t i, n = rows ? json_object_array_length(rows) : 0;
	char name[64];

	for (i = 0; i < n; i++) {
		struct json_object *row = json_object_array_get_idx(rows, i);
		struct json_object *s;

		if (!json_object_is_type(row, json_type_object) ||
		    !json_object_object_get_ex(row, "uid", NULL))
			continue;
		ctl_user_name((uint32_t)ctl_json_u64(row, "uid", 0), name, sizeof(name));
		s = json_object_new_string(name);
		if (!s || json_object_object_add(row, "user", s)) {
			json_object_put(s);
			return -ENOMEM;
		}
	}
	return 0;
}

static const char *backing_name(struct json_object *o, char *buf, size_t len)
{
	const char *b = ctl_json_str(o, "backing", "?");
	char page[CTL_SIZE_BUF];

	if (!strcmp(b, "hugetlb"))
		snprintf(buf, len, "hugetlb-%s",
			 ctl_fmt_page(ctl_json_u64(o, "page_size", 0), page));
	else
		ctl_sanitize(b, buf, len);
	return buf;
}

static double frac(uint64_t part, uint64_t whole)
{
	if (!whole)
		return 0.0;
	if (part > whole)
		return 1.0;
	return (double)part / (double)whole;
}

/* "[###.....] 42%" for @part of @whole, or "" without bars. */
static const char *use_bar(char *buf, size_t len, uint64_t part, uint64_t whole, size_t width,
			   const struct ctl_view *v)
{
	char bar[BAR_MAX + 3];
	double f = frac(part, whole);

	if (!whole) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (!v->bars) {
		snprintf(buf, len, "%3.0f%%", f * 100.0);
		return buf;
	}
	snprintf(buf, len, "%s %3.0f%%", ctl_bar(bar, sizeof(bar), width, &f, "#", 1), f * 100.0);
	return buf;
}

static __attribute__((format(printf, 3, 4))) void line(FILE *f, const struct ctl_view *v,
						       const char *fmt, ...)
{
	char buf[LINE_MAX_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctl_emit_line(f, buf, v->width);
}

/* Width of a bar in a line that has @other columns of text besides it. */
static size_t bar_width(const struct ctl_view *v, size_t other, size_t max)
{
	size_t w;

	if (!v->width)
		return max;
	w = v->width > other ? v->width - other : 0;
	if (w > max)
		w = max;
	return w >= 7 ? w : 0;
}

static const char *sz(uint64_t b, const struct ctl_view *v, char buf[CTL_SIZE_BUF])
{
	return ctl_fmt_size(b, v->exact, buf);
}

/* --- status ------------------------------------------------------------------------ */

/* The instance, and what the daemon took back from the one before (bhc-arenad(8)). */
static void restart_line(FILE *f, struct json_object *d, const struct ctl_view *v)
{
	struct json_object *r = ctl_json_object(d, "restart");
	char bytes[CTL_SIZE_BUF];

	if (!r)
		return;
	if (!ctl_json_u64(r, "previous_instance", 0)) {
		line(f, v, "instance    %" PRIu64 " (the first on this node)",
		     ctl_json_u64(d, "instance", 0));
		return;
	}
	line(f, v,
	     "instance    %" PRIu64 ", restarted after %" PRIu64 ": %" PRIu64
	     " regions registered again (%s), %" PRIu64 " refused",
	     ctl_json_u64(d, "instance", 0), ctl_json_u64(r, "previous_instance", 0),
	     ctl_json_u64(r, "reregistered_regions", 0),
	     sz(ctl_json_u64(r, "reregistered_bytes", 0), v, bytes),
	     ctl_json_u64(r, "reregister_refused", 0));
	if (ctl_json_bool(r, "fd_store", false))
		line(f, v,
		     "fd store    %" PRIu64 " leased and %" PRIu64
		     " warm regions restored, %" PRIu64 " waiting for their client, %" PRIu64
		     " let go",
		     ctl_json_u64(r, "restored_leased", 0), ctl_json_u64(r, "restored_warm", 0),
		     ctl_json_u64(r, "restored_waiting", 0),
		     ctl_json_u64(r, "restored_expired", 0));
}

static void daemon_lines(FILE *f, struct json_object *reply, const struct ctl_view *v)
{
	struct json_object *d = ctl_json_object(reply, "daemon");
	struct json_object *viewer = ctl_json_object(reply, "viewer");
	char ver[64], cfg[256], sock[256], grp[64], up[CTL_SIZE_BUF], when[CTL_SIZE_BUF];
	int64_t now = ctl_json_i64(reply, "time", 0);
	int64_t start = ctl_json_i64(d, "start_time", 0);

	ctl_sanitize(ctl_json_str(d, "version", "?"), ver, sizeof(ver));
	line(f, v, "bhc-arenad %s, pid %" PRIu64 ", up %s (since %s)", ver,
	     ctl_json_u64(d, "pid", 0), ctl_fmt_duration(ctl_json_u64(d, "uptime", 0), up),
	     ctl_fmt_time(start, now + 1, when));
	ctl_sanitize(ctl_json_str(d, "config_file", "(none: built-in defaults)"), cfg, sizeof(cfg));
	line(f, v, "config      %s", cfg);
	restart_line(f, d, v);
	if (ctl_json_str(d, "socket", NULL)) {
		ctl_sanitize(ctl_json_str(d, "socket", ""), sock, sizeof(sock));
		line(f, v, "socket      %s", sock);
	}
	ctl_sanitize(ctl_json_str(d, "admin_group", ""), grp, sizeof(grp));
	if (!strcmp(ctl_json_str(reply, "scope", "all"), "all"))
		line(f, v, "access      admin: you see and may change everything");
	else
		line(f, v,
		     "access      you (uid %" PRIu64 ") see only your own clients and regions; "
		     "root%s%s%s see all",
		     ctl_json_u64(viewer, "uid", 0), grp[0] ? " and group '" : "", grp,
		     grp[0] ? "'" : "");
}

static void pool_row(FILE *f, const struct ctl_view *v, const char *label, char mark,
		     uint64_t bytes, uint64_t whole)
{
	char bar[BAR_MAX + 3], s[CTL_SIZE_BUF];
	double fr = frac(bytes, whole);
	const char marks[2] = { mark, '\0' };
	size_t bw = v->bars ? bar_width(v, 2 + 9 + 1 + 8 + 8, 42) : 0;

	if (bw)
		ctl_bar(bar, sizeof(bar), bw, &fr, marks, 1);
	else
		bar[0] = '\0';
	line(f, v, "  %-9s %s%s%8s %6.1f%%", label, bar, bw ? " " : "", sz(bytes, v, s),
	     fr * 100.0);
}

int ctl_show_pool(FILE *f, struct json_object *reply, const struct ctl_view *v)
{
	struct json_object *pool = ctl_json_object(reply, "pool");
	struct json_object *targets = ctl_json_array(pool, "warm_targets");
	struct json_object *backings = ctl_json_array(reply, "backings");
	uint64_t total = ctl_json_u64(pool, "total", 0), leased = ctl_json_u64(pool, "leased", 0);
	uint64_t warm = ctl_json_u64(pool, "warm", 0), pending = ctl_json_u64(pool, "pending", 0);
	uint64_t freeb = ctl_json_u64(pool, "free", 0), used = 0, whole;
	char a[CTL_SIZE_BUF], b[CTL_SIZE_BUF], c[CTL_SIZE_BUF], pol[32], buf[LINE_MAX_LEN];
	size_t i, n, o;

	if (!pool) {
		line(f, v, "pool        (the daemon sent no pool information)");
		return 0;
	}
	ctl_sanitize(ctl_json_str(pool, "policy", "?"), pol, sizeof(pol));
	line(f, v, "pool        page size %s, hugepages %s, limit %s, largest region %s",
	     ctl_fmt_page(ctl_json_u64(pool, "page_size", 0), a), pol,
	     total ? sz(total, v, b) : "none", sz(ctl_json_u64(pool, "max_region_size", 0), v, c));
	whole = total ? total : leased + warm + pending + freeb;
	pool_row(f, v, "leased", '#', leased, whole);
	pool_row(f, v, "warm", '+', warm, whole);
	pool_row(f, v, "pending", '~', pending, whole);
	pool_row(f, v, "free", '.', freeb, whole);
	line(f, v, "  reserved  %s (leased + warm + pending)",
	     sz(ctl_json_u64(pool, "reserved", leased + warm + pending), v, a));
	n = backings ? json_object_array_length(backings) : 0;
	for (i = 0; i < n; i++)
		used += ctl_json_u64(ctl_json_object(json_object_array_get_idx(backings, i),
						     "leased"),
				     "used", 0);
	if (backings) {
		char bar[BAR_MAX + 16];
		size_t bw = v->bars ? bar_width(v, 2 + 9 + 1 + 8 + 14, 30) : 0;

		line(f, v, "  in use    %s of %s leased %s", sz(used, v, a), sz(leased, v, b),
		     use_bar(bar, sizeof(bar), used, leased, bw, v));
	}
	if (json_object_object_get_ex(pool, "kept", NULL))
		line(f, v, "  kept      %s of %s leased, kept by processes for reuse",
		     sz(ctl_json_u64(pool, "kept", 0), v, a), sz(leased, v, b));
	n = targets ? json_object_array_length(targets) : 0;
	o = (size_t)snprintf(buf, sizeof(buf), "  warm targets");
	if (!n)
		snprintf(buf + o, sizeof(buf) - o, " none");
	for (i = 0; i < n && o < sizeof(buf); i++) {
		struct json_object *t = json_object_array_get_idx(targets, i);

		if (json_object_object_get_ex(t, "target", NULL))
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
					      "%s %s x %" PRIu64 " (now %" PRIu64 ", %" PRIu64
					      " ready)",
					      i ? "," : "", sz(ctl_json_u64(t, "size", 0), v, a),
					      ctl_json_u64(t, "count", 0),
					      ctl_json_u64(t, "target", 0),
					      ctl_json_u64(t, "ready", 0));
		else
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
					      "%s %s x %" PRIu64 " (%" PRIu64 " ready)",
					      i ? "," : "", sz(ctl_json_u64(t, "size", 0), v, a),
					      ctl_json_u64(t, "count", 0),
					      ctl_json_u64(t, "ready", 0));
	}
	ctl_emit_line(f, buf, v->width);
	return 0;
}

static const struct ctl_column backing_cols[] = {
	{ "BACKING", 0, 0, 0 },
	{ "LEASED", CTL_COL_RIGHT, 0, 0 },
	{ "BYTES", CTL_COL_RIGHT, 0, 0 },
	{ "USED", CTL_COL_RIGHT, 0, 0 },
	{ "HWM", CTL_COL_RIGHT, 2, 0 },
	{ "WARM", CTL_COL_RIGHT, 4, 0 },
	{ "WARM-BYTES", CTL_COL_RIGHT, 3, 0 },
	{ "KEPT", CTL_COL_RIGHT, 3, 0 },
};

static int backings_table(FILE *f, struct json_object *backings, const struct ctl_view *v)
{
	size_t i, n = backings ? json_object_array_length(backings) : 0;
	struct ctl_table *t;
	int r;

	line(f, v, "regions by backing");
	if (!n) {
		line(f, v, "  (none)");
		return 0;
	}
	r = ctl_table_new(backing_cols, ARRAY_SIZE(backing_cols), &t);
	if (r < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++) {
		struct json_object *b = json_object_array_get_idx(backings, i);
		struct json_object *l = ctl_json_object(b, "leased");
		struct json_object *w = ctl_json_object(b, "warm");
		char name[48], s[CTL_SIZE_BUF];

		r = ctl_table_add_row(t);
		r = r ?: ctl_table_set(t, 0, backing_name(b, name, sizeof(name)));
		r = r ?: ctl_table_setf(t, 1, "%" PRIu64, ctl_json_u64(l, "regions", 0));
		r = r ?: ctl_table_set(t, 2, sz(ctl_json_u64(l, "bytes", 0), v, s));
		r = r ?: ctl_table_set(t, 3, sz(ctl_json_u64(l, "used", 0), v, s));
		r = r ?: ctl_table_set(t, 4, sz(ctl_json_u64(l, "high_water", 0), v, s));
		r = r ?: ctl_table_setf(t, 5, "%" PRIu64, ctl_json_u64(w, "regions", 0));
		r = r ?: ctl_table_set(t, 6, sz(ctl_json_u64(w, "bytes", 0), v, s));
		r = r	  ?:
			    ctl_table_set(
				    t, 7,
				    ctl_json_object(b, "kept") ?
					    sz(ctl_json_u64(ctl_json_object(b, "kept"), "bytes", 0),
					       v, s) :
					    "-");
	}
	if (r >= 0)
		r = ctl_table_print(t, f, v->width, 0);
	ctl_table_free(t);
	return r;
}

static const struct ctl_column hp_cols[] = {
	{ "PAGE", 0, 0, 0 },
	{ "TOTAL", CTL_COL_RIGHT, 0, 0 },
	{ "FREE", CTL_COL_RIGHT, 0, 0 },
	{ "RSVD", CTL_COL_RIGHT, 3, 0 },
	{ "SURPLUS", CTL_COL_RIGHT, 2, 0 },
	{ "OVERCOMMIT", CTL_COL_RIGHT, 1, 0 },
	{ "IN USE", 0, 4, 0 },
};

static int hugepages_table(FILE *f, const struct ctl_hugepage_pool *pools, int n,
			   const struct ctl_view *v)
{
	struct ctl_table *t;
	int i, r;

	line(f, v, "system hugepage pools (/sys/kernel/mm/hugepages)");
	if (n < 0) {
		line(f, v, "  cannot read: %s", strerror(-n));
		return 0;
	}
	if (n == 0) {
		line(f, v, "  (this kernel has no hugetlb pools)");
		return 0;
	}
	r = ctl_table_new(hp_cols, ARRAY_SIZE(hp_cols), &t);
	if (r < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++) {
		const struct ctl_hugepage_pool *p = &pools[i];
		char page[CTL_SIZE_BUF], bar[BAR_MAX + 16];
		uint64_t all = p->total + p->surplus;

		r = ctl_table_add_row(t);
		r = r ?: ctl_table_set(t, 0, ctl_fmt_page(p->page_size, page));
		r = r ?: ctl_table_setf(t, 1, "%" PRIu64, p->total);
		r = r ?: ctl_table_setf(t, 2, "%" PRIu64, p->free);
		r = r ?: ctl_table_setf(t, 3, "%" PRIu64, p->reserved);
		r = r ?: ctl_table_setf(t, 4, "%" PRIu64, p->surplus);
		r = r ?: ctl_table_setf(t, 5, "%" PRIu64, p->overcommit);
		r = r	  ?:
			    ctl_table_set(t, 6,
					  use_bar(bar, sizeof(bar),
						  all > p->free ? all - p->free : 0, all, 22, v));
	}
	if (r >= 0)
		r = ctl_table_print(t, f, v->width, 0);
	ctl_table_free(t);
	return r;
}

/* The counters the daemon reports, in a fixed order; absent ones are left out. */
static void counters_line(FILE *f, struct json_object *c, const struct ctl_view *v)
{
	static const struct {
		const char *key, *label;
	} shown[] = {
		{ "grants", "grants" },
		{ "regions_created", "regions created" },
		{ "regions_dropped", "dropped" },
		{ "region_create_failures", "failed" },
		{ "fallbacks", "fallbacks" },
		{ "connections", "connections" },
		{ "connections_refused", "refused" },
		{ "reloads", "reloads" },
		{ "reclaims", "reclaims sent" },
	};
	char buf[LINE_MAX_LEN];
	size_t i, o;
	bool any = false;

	o = (size_t)snprintf(buf, sizeof(buf), "since start");
	for (i = 0; c && i < ARRAY_SIZE(shown) && o < sizeof(buf); i++) {
		if (!json_object_object_get_ex(c, shown[i].key, NULL))
			continue;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s %" PRIu64 " %s", any ? "," : "",
				      ctl_json_u64(c, shown[i].key, 0), shown[i].label);
		any = true;
	}
	if (any)
		ctl_emit_line(f, buf, v->width);
}

static const char *uid_text(struct json_object *row, char *buf, size_t len);

enum { J_ID, J_USER, J_TASKS, J_CLIENTS, J_REGIONS, J_LEASED, J_PEAK, J_BUDGET, J_REFUSED };

static const struct ctl_column job_cols[] = {
	[J_ID] = { "JOB", CTL_COL_RIGHT, 0, 0 },
	[J_USER] = { "USER", CTL_COL_TRUNC, 4, 6 },
	[J_TASKS] = { "TASKS", CTL_COL_RIGHT, 3, 0 },
	[J_CLIENTS] = { "CLIENTS", CTL_COL_RIGHT, 2, 0 },
	[J_REGIONS] = { "REGIONS", CTL_COL_RIGHT, 2, 0 },
	[J_LEASED] = { "LEASED", CTL_COL_RIGHT, 0, 0 },
	[J_PEAK] = { "PEAK", CTL_COL_RIGHT, 0, 0 },
	[J_BUDGET] = { "BUDGET", CTL_COL_RIGHT, 0, 0 },
	[J_REFUSED] = { "REFUSED", CTL_COL_RIGHT, 1, 0 },
};

/* Jobs registered by the workload manager (bhc-arena-slurm(8)); nothing if none. */
static int jobs_table(FILE *f, struct json_object *jobs, const struct ctl_view *v)
{
	size_t i, n = jobs ? json_object_array_length(jobs) : 0;
	char user[64], s[CTL_SIZE_BUF];
	struct ctl_table *t;
	int r;

	if (!n)
		return 0;
	line(f, v, "%s", "");
	r = ctl_table_new(job_cols, sizeof(job_cols) / sizeof(job_cols[0]), &t);
	if (r < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++) {
		struct json_object *j = json_object_array_get_idx(jobs, i);
		uint64_t budget = ctl_json_u64(j, "budget", 0);

		r = ctl_table_add_row(t);
		r = r ?: ctl_table_setf(t, J_ID, "%" PRIu64, ctl_json_u64(j, "id", 0));
		r = r ?: ctl_table_set(t, J_USER, uid_text(j, user, sizeof(user)));
		r = r ?: ctl_table_setf(t, J_TASKS, "%" PRIu64, ctl_json_u64(j, "tasks", 0));
		r = r ?: ctl_table_setf(t, J_CLIENTS, "%" PRIu64, ctl_json_u64(j, "clients", 0));
		r = r ?: ctl_table_setf(t, J_REGIONS, "%" PRIu64, ctl_json_u64(j, "regions", 0));
		r = r ?: ctl_table_set(t, J_LEASED, sz(ctl_json_u64(j, "leased", 0), v, s));
		r = r ?: ctl_table_set(t, J_PEAK, sz(ctl_json_u64(j, "peak", 0), v, s));
		r = r ?: ctl_table_set(t, J_BUDGET, budget ? sz(budget, v, s) : "-");
		r = r ?: ctl_table_setf(t, J_REFUSED, "%" PRIu64, ctl_json_u64(j, "refused", 0));
	}
	if (r >= 0)
		r = ctl_table_print(t, f, v->width, v->max_rows);
	ctl_table_free(t);
	return r;
}

int ctl_show_status(FILE *f, struct json_object *reply, const struct ctl_hugepage_pool *pools,
		    int n_pools, const struct ctl_view *v)
{
	struct json_object *s = ctl_json_object(reply, "sessions");
	struct json_object *c = ctl_json_object(reply, "counters");
	int r;

	daemon_lines(f, reply, v);
	line(f, v, "%s", "");
	r = ctl_show_pool(f, reply, v);
	if (r < 0)
		return r;
	line(f, v, "%s", "");
	r = backings_table(f, ctl_json_array(reply, "backings"), v);
	if (r < 0)
		return r;
	line(f, v, "%s", "");
	line(f, v,
	     "clients     %" PRIu64 " connected (%" PRIu64 " users), %" PRIu64 " admin session%s",
	     ctl_json_u64(s, "clients", 0), ctl_json_u64(s, "users", 0),
	     ctl_json_u64(s, "admin", 0), ctl_json_u64(s, "admin", 0) == 1 ? "" : "s");
	counters_line(f, c, v);
	r = jobs_table(f, ctl_json_array(reply, "jobs"), v);
	if (r < 0)
		return r;
	line(f, v, "%s", "");
	return hugepages_table(f, pools, n_pools, v);
}

/* --- clients and regions --------------------------------------------------------- */

enum {
	C_ID,
	C_PID,
	C_USER,
	C_COMM,
	C_TAG,
	C_JOB,
	C_REGIONS,
	C_LEASED,
	C_KEPT,
	C_USED,
	C_HWM,
	C_USE,
	C_SINCE
};

static const struct ctl_column client_cols[] = {
	[C_ID] = { "ID", CTL_COL_RIGHT, 6, 0 },
	[C_PID] = { "PID", CTL_COL_RIGHT, 0, 0 },
	[C_USER] = { "USER", CTL_COL_TRUNC, 0, 6 },
	[C_COMM] = { "COMMAND", CTL_COL_TRUNC, 8, 6 },
	[C_TAG] = { "TAG", CTL_COL_TRUNC, 9, 8 },
	[C_JOB] = { "JOB", CTL_COL_RIGHT, 5, 0 },
	[C_REGIONS] = { "REGIONS", CTL_COL_RIGHT, 7, 0 },
	[C_LEASED] = { "LEASED", CTL_COL_RIGHT, 0, 0 },
	[C_KEPT] = { "KEPT", CTL_COL_RIGHT, 3, 0 },
	[C_USED] = { "USED", CTL_COL_RIGHT, 0, 0 },
	[C_HWM] = { "HWM", CTL_COL_RIGHT, 5, 0 },
	[C_USE] = { "USE", 0, 2, 0 },
	[C_SINCE] = { "SINCE", CTL_COL_RIGHT, 4, 0 },
};

static bool has_job(struct json_object *row)
{
	struct json_object *j;

	return json_object_object_get_ex(row, "job", &j) && json_object_is_type(j, json_type_int);
}

static const char *uid_text(struct json_object *row, char *buf, size_t len)
{
	const char *user = ctl_json_str(row, "user", NULL);

	if (user)
		return ctl_sanitize(user, buf, len);
	return ctl_user_name((uint32_t)ctl_json_u64(row, "uid", 0), buf, len);
}

/* A row's "job" (registered by the workload manager) as text, "-" if none. */
static const char *job_text(struct json_object *row, char *buf, size_t len)
{
	if (!has_job(row))
		return "-";
	snprintf(buf, len, "%" PRIu64, ctl_json_u64(row, "job", 0));
	return buf;
}

/* Whether any row of @rows belongs to a job: the JOB column is shown only then. */
static bool any_job(struct json_object *rows)
{
	size_t i, n = rows ? json_object_array_length(rows) : 0;

	for (i = 0; i < n; i++)
		if (has_job(json_object_array_get_idx(rows, i)))
			return true;
	return false;
}

static int client_row(struct ctl_table *t, struct json_object *c, int64_t now,
		      const struct ctl_view *v)
{
	uint64_t leased = ctl_json_u64(c, "leased", 0), used = ctl_json_u64(c, "used", 0);
	bool bad = ctl_json_u64(c, "header_invalid", 0) > 0;
	char user[64], s[CTL_SIZE_BUF], bar[BAR_MAX + 16], job[24];
	int r;

	r = ctl_table_add_row(t);
	r = r ?: ctl_table_set(t, C_JOB, job_text(c, job, sizeof(job)));
	r = r ?: ctl_table_setf(t, C_ID, "%" PRIu64, ctl_json_u64(c, "id", 0));
	r = r ?: ctl_table_setf(t, C_PID, "%" PRIu64, ctl_json_u64(c, "pid", 0));
	r = r ?: ctl_table_set(t, C_USER, uid_text(c, user, sizeof(user)));
	r = r ?: ctl_table_set(t, C_COMM, ctl_json_str(c, "comm", "?"));
	r = r	  ?:
		    ctl_table_set(t, C_TAG,
				  *ctl_json_str(c, "tag", "") ? ctl_json_str(c, "tag", "") : "-");
	r = r ?: ctl_table_setf(t, C_REGIONS, "%" PRIu64, ctl_json_u64(c, "regions", 0));
	r = r ?: ctl_table_set(t, C_LEASED, sz(leased, v, s));
	r = r	  ?:
		    ctl_table_set(t, C_KEPT,
				  json_object_object_get_ex(c, "kept", NULL) ?
					  sz(ctl_json_u64(c, "kept", 0), v, s) :
					  "-");
	r = r ?: ctl_table_setf(t, C_USED, "%s%s", sz(used, v, s), bad ? "!" : "");
	r = r ?: ctl_table_set(t, C_HWM, sz(ctl_json_u64(c, "high_water", 0), v, s));
	r = r ?: ctl_table_set(t, C_USE, use_bar(bar, sizeof(bar), used, leased, 12, v));
	r = r ?: ctl_table_set(t, C_SINCE, ctl_fmt_time(ctl_json_i64(c, "connected", 0), now, s));
	return r;
}

static void clamp_note(FILE *f, const struct ctl_view *v, bool any)
{
	if (any)
		line(f, v, "! = live header out of range, values clamped");
}

static void scope_note(FILE *f, struct json_object *reply, const struct ctl_view *v)
{
	if (!strcmp(ctl_json_str(reply, "scope", "all"), "own"))
		line(f, v, "(only your own rows: root and the admin group see everybody's)");
}

static int clients_table(FILE *f, struct json_object *reply, struct json_object *clients,
			 const struct ctl_view *v, size_t max_rows)
{
	size_t i, n = clients ? json_object_array_length(clients) : 0;
	int64_t now = ctl_json_i64(reply, "time", 0);
	struct ctl_column cols[sizeof(client_cols) / sizeof(client_cols[0])];
	struct ctl_table *t;
	bool bad = false;
	int r;

	memcpy(cols, client_cols, sizeof(cols));
	if (!any_job(clients))
		cols[C_JOB].flags |= CTL_COL_HIDDEN;
	r = ctl_table_new(cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++) {
		struct json_object *c = json_object_array_get_idx(clients, i);

		bad |= ctl_json_u64(c, "header_invalid", 0) > 0;
		r = client_row(t, c, now, v);
	}
	if (r >= 0)
		r = ctl_table_print(t, f, v->width, max_rows);
	if (r >= 0 && max_rows && n > max_rows)
		line(f, v, "(%zu more)", n - max_rows);
	ctl_table_free(t);
	clamp_note(f, v, bad);
	return r;
}

int ctl_show_clients(FILE *f, struct json_object *reply, const struct ctl_view *v)
{
	struct json_object *clients = ctl_json_array(reply, "clients");
	int r;

	if (!clients || !json_object_array_length(clients)) {
		line(f, v, "no clients");
		scope_note(f, reply, v);
		return 0;
	}
	r = clients_table(f, reply, clients, v, v->max_rows);
	scope_note(f, reply, v);
	return r;
}

enum {
	R_ID,
	R_STATE,
	R_PID,
	R_USER,
	R_TAG,
	R_JOB,
	R_SIZE,
	R_BACKING,
	R_PAGE,
	R_USED,
	R_HWM,
	R_ALLOCS,
	R_RESETS,
	R_USE,
	R_AGE
};

static const struct ctl_column region_cols[] = {
	[R_ID] = { "ID", CTL_COL_RIGHT, 0, 0 },
	[R_STATE] = { "STATE", 0, 1, 0 },
	[R_PID] = { "PID", CTL_COL_RIGHT, 0, 0 },
	[R_USER] = { "USER", CTL_COL_TRUNC, 7, 6 },
	[R_TAG] = { "TAG", CTL_COL_TRUNC, 9, 8 },
	[R_JOB] = { "JOB", CTL_COL_RIGHT, 5, 0 },
	[R_SIZE] = { "SIZE", CTL_COL_RIGHT, 0, 0 },
	[R_BACKING] = { "BACKING", 0, 8, 0 },
	[R_PAGE] = { "PAGE", CTL_COL_RIGHT, 6, 0 },
	[R_USED] = { "USED", CTL_COL_RIGHT, 0, 0 },
	[R_HWM] = { "HWM", CTL_COL_RIGHT, 5, 0 },
	[R_ALLOCS] = { "ALLOCS", CTL_COL_RIGHT, 4, 0 },
	[R_RESETS] = { "RESETS", CTL_COL_RIGHT, 3, 0 },
	[R_USE] = { "USE", 0, 2, 0 },
	[R_AGE] = { "AGE", CTL_COL_RIGHT, 5, 0 },
};

/* "warm", or for a leased region "kept" or "in use" (just "leased" from an older daemon). */
static const char *region_state(struct json_object *rg)
{
	const char *use = ctl_json_str(rg, "use", NULL);

	if (strcmp(ctl_json_str(rg, "state", "leased"), "leased"))
		return ctl_json_str(rg, "state", "?");
	if (!use)
		return "leased";
	return !strcmp(use, "kept") ? "kept" : "in use";
}

static int region_row(struct ctl_table *t, struct json_object *rg, const struct ctl_view *v)
{
	uint64_t size = ctl_json_u64(rg, "size", 0), used = ctl_json_u64(rg, "used", 0);
	uint64_t cap = ctl_json_u64(rg, "capacity", size);
	bool warm = strcmp(ctl_json_str(rg, "state", "leased"), "leased") != 0;
	bool bad = strcmp(ctl_json_str(rg, "header", "ok"), "ok") != 0;
	char user[64], s[CTL_SIZE_BUF], bar[BAR_MAX + 16], job[24];
	const char *b = ctl_json_str(rg, "backing", "?");
	int r;

	r = ctl_table_add_row(t);
	r = r ?: ctl_table_set(t, R_JOB, job_text(rg, job, sizeof(job)));
	r = r ?: ctl_table_setf(t, R_ID, "%" PRIu64, ctl_json_u64(rg, "id", 0));
	r = r ?: ctl_table_set(t, R_STATE, region_state(rg));
	if (warm) {
		r = r ?: ctl_table_set(t, R_PID, "-");
		r = r ?: ctl_table_set(t, R_USER, "-");
		r = r ?: ctl_table_set(t, R_TAG, "-");
	} else {
		r = r ?: ctl_table_setf(t, R_PID, "%" PRIu64, ctl_json_u64(rg, "pid", 0));
		r = r ?: ctl_table_set(t, R_USER, uid_text(rg, user, sizeof(user)));
		r = r	  ?:
			    ctl_table_set(t, R_TAG,
					  *ctl_json_str(rg, "tag", "") ?
						  ctl_json_str(rg, "tag", "") :
						  "-");
	}
	r = r ?: ctl_table_set(t, R_SIZE, sz(size, v, s));
	r = r ?: ctl_table_set(t, R_BACKING, b);
	r = r ?: ctl_table_set(t, R_PAGE, ctl_fmt_page(ctl_json_u64(rg, "page_size", 0), s));
	r = r ?: ctl_table_setf(t, R_USED, "%s%s", sz(used, v, s), bad ? "!" : "");
	r = r ?: ctl_table_set(t, R_HWM, sz(ctl_json_u64(rg, "high_water", 0), v, s));
	r = r ?: ctl_table_setf(t, R_ALLOCS, "%" PRIu64, ctl_json_u64(rg, "allocs", 0));
	r = r ?: ctl_table_setf(t, R_RESETS, "%" PRIu64, ctl_json_u64(rg, "resets", 0));
	r = r ?: ctl_table_set(t, R_USE, use_bar(bar, sizeof(bar), used, cap, 12, v));
	r = r ?: ctl_table_set(t, R_AGE, ctl_fmt_duration(ctl_json_u64(rg, "age", 0), s));
	return r;
}

static int regions_table(FILE *f, struct json_object *regions, const struct ctl_view *v,
			 size_t max_rows)
{
	size_t i, n = regions ? json_object_array_length(regions) : 0;
	struct ctl_column cols[ARRAY_SIZE(region_cols)];
	struct ctl_table *t;
	bool bad = false, any_warm = false;
	int r;

	memcpy(cols, region_cols, sizeof(cols));
	for (i = 0; i < n; i++) {
		struct json_object *rg = json_object_array_get_idx(regions, i);

		any_warm |= strcmp(ctl_json_str(rg, "state", "leased"), "leased") != 0;
		/* a daemon that reads the regions' state: kept or in use */
		any_warm |= ctl_json_str(rg, "use", NULL) != NULL;
	}
	/* the state column is only worth its room when it tells regions apart */
	if (!any_warm)
		cols[R_STATE].flags |= CTL_COL_HIDDEN;
	if (!any_job(regions))
		cols[R_JOB].flags |= CTL_COL_HIDDEN;
	r = ctl_table_new(cols, ARRAY_SIZE(cols), &t);
	if (r < 0)
		return r;
	for (i = 0; i < n && r >= 0; i++) {
		struct json_object *rg = json_object_array_get_idx(regions, i);

		bad |= strcmp(ctl_json_str(rg, "header", "ok"), "ok") != 0;
		r = region_row(t, rg, v);
	}
	if (r >= 0)
		r = ctl_table_print(t, f, v->width, max_rows);
	if (r >= 0 && max_rows && n > max_rows)
		line(f, v, "(%zu more)", n - max_rows);
	ctl_table_free(t);
	clamp_note(f, v, bad);
	return r;
}

int ctl_show_regions(FILE *f, struct json_object *reply, const struct ctl_view *v)
{
	struct json_object *regions = ctl_json_array(reply, "regions");
	int r;

	if (!regions || !json_object_array_length(regions)) {
		line(f, v, "no regions");
		scope_note(f, reply, v);
		return 0;
	}
	r = regions_table(f, regions, v, v->max_rows);
	scope_note(f, reply, v);
	return r;
}

/* --- watch ------------------------------------------------------------------------ */

static int cmp_desc(uint64_t a, uint64_t b)
{
	return (a < b) - (a > b);
}

static int cmp_client(const void *a, const void *b)
{
	struct json_object *ca = *(struct json_object *const *)a;
	struct json_object *cb = *(struct json_object *const *)b;

	return cmp_desc(ctl_json_u64(ca, "leased", 0), ctl_json_u64(cb, "leased", 0)) ?:
		       cmp_desc(ctl_json_u64(cb, "id", 0), ctl_json_u64(ca, "id", 0));
}

static int cmp_region(const void *a, const void *b)
{
	struct json_object *ra = *(struct json_object *const *)a;
	struct json_object *rb = *(struct json_object *const *)b;

	return cmp_desc(ctl_json_u64(ra, "used", 0), ctl_json_u64(rb, "used", 0)) ?:
		       cmp_desc(ctl_json_u64(rb, "id", 0), ctl_json_u64(ra, "id", 0));
}

int ctl_show_watch(FILE *f, struct json_object *snap, const struct ctl_view *v, size_t height)
{
	struct json_object *d = ctl_json_object(snap, "daemon");
	struct json_object *pool = ctl_json_object(snap, "pool");
	struct json_object *s = ctl_json_object(snap, "sessions");
	struct json_object *clients = ctl_json_array(snap, "clients");
	struct json_object *regions = ctl_json_array(snap, "regions");
	size_t n_c = clients ? json_object_array_length(clients) : 0;
	size_t n_r = regions ? json_object_array_length(regions) : 0;
	uint64_t total = ctl_json_u64(pool, "total", 0), leased = ctl_json_u64(pool, "leased", 0);
	char a[CTL_SIZE_BUF], b[CTL_SIZE_BUF], c[CTL_SIZE_BUF], up[CTL_SIZE_BUF], bar[BAR_MAX + 16];
	char ver[64], when[CTL_SIZE_BUF], kept[CTL_SIZE_BUF];
	size_t rows_c = 0, rows_r = 0, avail;
	int r;

	ctl_sanitize(ctl_json_str(d, "version", "?"), ver, sizeof(ver));
	line(f, v, "bhc-arenad %s  up %s  %s  clients %" PRIu64 "  regions %zu", ver,
	     ctl_fmt_duration(ctl_json_u64(d, "uptime", 0), up),
	     ctl_fmt_time(ctl_json_i64(snap, "time", 0), ctl_json_i64(snap, "time", 0), when),
	     ctl_json_u64(s, "clients", 0), n_r);
	line(f, v, "pool  leased %s  kept %s  warm %s  free %s  %s", sz(leased, v, a),
	     sz(ctl_json_u64(pool, "kept", 0), v, kept), sz(ctl_json_u64(pool, "warm", 0), v, b),
	     sz(ctl_json_u64(pool, "free", 0), v, c),
	     use_bar(bar, sizeof(bar), leased, total, bar_width(v, 60, 32), v));
	line(f, v, "%s", "");
	/* rows left for the two tables: 3 summary lines, 2 headers, 1 gap, notes */
	if (height) {
		avail = height > 9 ? height - 9 : 2;
		rows_c = n_c < avail / 2 ? n_c : avail / 2;
		rows_r = avail - rows_c;
		if (rows_c == 0)
			rows_c = 1;
		if (rows_r == 0)
			rows_r = 1;
	}
	if (clients)
		json_object_array_sort(clients, cmp_client);
	if (regions)
		json_object_array_sort(regions, cmp_region);
	if (n_c)
		r = clients_table(f, snap, clients, v, rows_c);
	else
		r = (line(f, v, "no clients"), 0);
	if (r < 0)
		return r;
	line(f, v, "%s", "");
	if (n_r)
		r = regions_table(f, regions, v, rows_r);
	else
		line(f, v, "no regions");
	scope_note(f, snap, v);
	return r;
}
