/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl's pieces without a daemon: sizes, parsing, sanitizing, bars,
 * tables fitted to a width, Prometheus escaping and rendering (checked by
 * promtool when it is installed), the views of hostile or incomplete replies.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "../ctl/arenactl.h"
#include "tap.h"
#include "common/size.h"

START_TEST(test_fmt_size)
{
	char b[CTL_SIZE_BUF];

	ck_assert_str_eq(ctl_fmt_size(0, false, b), "0B");
	ck_assert_str_eq(ctl_fmt_size(1023, false, b), "1023B");
	ck_assert_str_eq(ctl_fmt_size(1024, false, b), "1K");
	ck_assert_str_eq(ctl_fmt_size(1536, false, b), "1.5K");
	ck_assert_str_eq(ctl_fmt_size(16u << 20, false, b), "16M");
	ck_assert_str_eq(ctl_fmt_size((16u << 20) - 4096, false, b), "16M");
	ck_assert_str_eq(ctl_fmt_size(1048575, false, b), "1.0M");
	ck_assert_str_eq(ctl_fmt_size(3ull << 30, false, b), "3G");
	ck_assert_str_eq(ctl_fmt_size(UINT64_MAX, false, b), "16E");
	ck_assert_str_eq(ctl_fmt_size(16u << 20, true, b), "16777216");
	ck_assert_str_eq(ctl_fmt_page(2u << 20, b), "2M");
	ck_assert_str_eq(ctl_fmt_page(1u << 30, b), "1G");
	ck_assert_str_eq(ctl_fmt_page(4096, b), "4K");
	ck_assert_str_eq(ctl_fmt_page(1000, b), "1000B");
}
END_TEST

START_TEST(test_fmt_duration)
{
	char b[CTL_SIZE_BUF];

	ck_assert_str_eq(ctl_fmt_duration(0, b), "0s");
	ck_assert_str_eq(ctl_fmt_duration(59, b), "59s");
	ck_assert_str_eq(ctl_fmt_duration(187, b), "3m07s");
	ck_assert_str_eq(ctl_fmt_duration(7500, b), "2h05m");
	ck_assert_str_eq(ctl_fmt_duration(90000, b), "1d01h");
	ck_assert_str_eq(ctl_fmt_time(0, 100, b), "-");
}
END_TEST

START_TEST(test_parse_size)
{
	uint64_t v;

	ck_assert_int_eq(size_parse("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(size_parse("16M", &v), 0);
	ck_assert_uint_eq(v, 16u << 20);
	ck_assert_int_eq(size_parse("16MiB", &v), 0);
	ck_assert_uint_eq(v, 16u << 20);
	ck_assert_int_eq(size_parse("4g", &v), 0);
	ck_assert_uint_eq(v, 4ull << 30);
	ck_assert_int_eq(size_parse("2T", &v), 0);
	ck_assert_uint_eq(v, 2ull << 40);
	ck_assert_int_eq(size_parse("", &v), -EINVAL);
	ck_assert_int_eq(size_parse("-1", &v), -EINVAL);
	ck_assert_int_eq(size_parse("16X", &v), -EINVAL);
	ck_assert_int_eq(size_parse("16Mx", &v), -EINVAL);
	ck_assert_int_eq(size_parse("1.5G", &v), -EINVAL);
	ck_assert_int_eq(size_parse("99999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(size_parse("17179869184G", &v), -ERANGE);
}
END_TEST

START_TEST(test_parse_warm)
{
	struct ctl_warm_target t[4];
	size_t n = 99;

	ck_assert_int_eq(ctl_parse_warm("16M:4,64M:2", t, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(t[0].size, 16u << 20);
	ck_assert_uint_eq(t[0].count, 4);
	ck_assert_uint_eq(t[1].size, 64u << 20);
	ck_assert_uint_eq(t[1].count, 2);
	ck_assert_int_eq(ctl_parse_warm("none", t, 4, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ctl_parse_warm("16M:0", t, 4, &n), -EINVAL);
	ck_assert_int_eq(ctl_parse_warm("16M", t, 4, &n), -EINVAL);
	ck_assert_int_eq(ctl_parse_warm("16M:4,", t, 4, &n), -EINVAL);
	ck_assert_int_eq(ctl_parse_warm(",16M:4", t, 4, &n), -EINVAL);
	ck_assert_int_eq(ctl_parse_warm("0:4", t, 4, &n), -EINVAL);
	ck_assert_int_eq(ctl_parse_warm("16M:-1", t, 4, &n), -EINVAL);
	ck_assert_int_eq(ctl_parse_warm("1M:1,2M:1,3M:1,4M:1,5M:1", t, 4, &n), -E2BIG);
}
END_TEST

START_TEST(test_sanitize)
{
	char b[16];

	ck_assert_str_eq(ctl_sanitize("job-42", b, sizeof(b)), "job-42");
	ck_assert_str_eq(ctl_sanitize("a\033[31mb\n", b, sizeof(b)), "a?[31mb?");
	ck_assert_str_eq(ctl_sanitize("\xc3\xa9t\xc3\xa9", b, sizeof(b)), "??t??");
	ck_assert_str_eq(ctl_sanitize("0123456789abcdefghij", b, sizeof(b)), "0123456789abcde");
	ck_assert_str_eq(ctl_sanitize(NULL, b, sizeof(b)), "");
}
END_TEST

START_TEST(test_bar)
{
	char b[64];
	double half = 0.5, parts[2] = { 0.25, 0.25 }, tiny = 1e-9, over = 7.0, nan = 0.0 / 0.0;

	ck_assert_str_eq(ctl_bar(b, sizeof(b), 12, &half, "#", 1), "[#####.....]");
	ck_assert_str_eq(ctl_bar(b, sizeof(b), 10, parts, "#+", 2), "[##++....]");
	/* a sliver still shows; garbage fractions stay inside the bar */
	ck_assert_str_eq(ctl_bar(b, sizeof(b), 6, &tiny, "#", 1), "[#...]");
	ck_assert_str_eq(ctl_bar(b, sizeof(b), 6, &over, "#", 1), "[####]");
	ck_assert_str_eq(ctl_bar(b, sizeof(b), 6, &nan, "#", 1), "[....]");
	ck_assert_str_eq(ctl_bar(b, 5, 40, &half, "#", 1), "[#.]");
}
END_TEST

/* Run @fn writing to a memory stream; returns the text (free it). */
static char *capture(int (*fn)(FILE *f, void *ctx), void *ctx, int *retp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	*retp = fn(f, ctx);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

static void assert_lines_within(const char *text, size_t width)
{
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, "\n");

		ck_assert_msg(len <= width, "line of %zu > %zu columns: '%.*s'", len, width,
			      (int)len, p);
		p += len;
		if (*p)
			p++;
	}
}

static const struct ctl_column cols[] = {
	{ "ID", CTL_COL_RIGHT, 0, 0 },
	{ "COMMAND", CTL_COL_TRUNC, 5, 4 },
	{ "LEASED", CTL_COL_RIGHT, 0, 0 },
	{ "EXTRA", 0, 1, 0 },
};

struct table_ctx {
	size_t width;
};

static int print_table(FILE *f, void *ctx)
{
	struct table_ctx *c = ctx;
	struct ctl_table *t;
	int r;

	ck_assert_int_eq(ctl_table_new(cols, 4, &t), 0);
	ck_assert_int_eq(ctl_table_add_row(t), 0);
	ck_assert_int_eq(ctl_table_set(t, 0, "7"), 0);
	ck_assert_int_eq(ctl_table_set(t, 1, "a-very-long-command-name"), 0);
	ck_assert_int_eq(ctl_table_set(t, 2, "16M"), 0);
	ck_assert_int_eq(ctl_table_set(t, 3, "extra-column"), 0);
	ck_assert_int_eq(ctl_table_add_row(t), 0);
	ck_assert_int_eq(ctl_table_setf(t, 0, "%d", 12345), 0);
	ck_assert_int_eq(ctl_table_set(t, 1, "sh\033]0;pwned\007"), 0);
	r = ctl_table_print(t, f, c->width, 0);
	ctl_table_free(t);
	return r;
}

START_TEST(test_table_fit)
{
	struct table_ctx c = { 0 };
	char *out;
	int r;

	out = capture(print_table, &c, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_str_eq(out, "   ID  COMMAND                   LEASED  EXTRA\n"
			      "    7  a-very-long-command-name     16M  extra-column\n"
			      "12345  sh?]0;pwned?\n");
	free(out);

	/* the long command is cut before any column goes */
	c.width = 40;
	out = capture(print_table, &c, &r);
	ck_assert_int_eq(r, 0);
	assert_lines_within(out, 40);
	ck_assert_ptr_nonnull(strstr(out, "extra-column"));
	ck_assert_ptr_nonnull(strstr(out, "a-very-lon~"));
	free(out);

	/* then the lowest-priority column goes, and the command gets room back */
	c.width = 30;
	out = capture(print_table, &c, &r);
	assert_lines_within(out, 30);
	ck_assert_ptr_null(strstr(out, "EXTRA"));
	ck_assert_ptr_nonnull(strstr(out, "LEASED"));
	free(out);

	/* narrower than the columns that must stay: lines are cut, never longer */
	c.width = 8;
	out = capture(print_table, &c, &r);
	assert_lines_within(out, 8);
	free(out);
}
END_TEST

START_TEST(test_prom_escape)
{
	char b[64];

	ck_assert_str_eq(ctl_prom_escape("plain", b, sizeof(b)), "plain");
	ck_assert_str_eq(ctl_prom_escape("a\"b\\c\nd", b, sizeof(b)), "a\\\"b\\\\c\\nd");
	/* never half an escape at the end */
	ck_assert_str_eq(ctl_prom_escape("ab\"", b, 4), "ab");
}
END_TEST

static const char snapshot_json[] =
	"{\"schema\":1,\"ok\":true,\"cmd\":\"snapshot\",\"time\":1700000000,\"scope\":\"all\","
	"\"viewer\":{\"uid\":0,\"gid\":0,\"admin\":true},"
	"\"daemon\":{\"version\":\"0.1.0\",\"pid\":812,\"start_time\":1699990000,\"uptime\":10000,"
	"\"config_file\":null,\"socket\":\"/run/bhc-arena/arenad.sock\",\"admin_group\":\"bhc-arena\"},"
	"\"pool\":{\"page_size\":2097152,\"policy\":\"prefer\",\"total\":4294967296,"
	"\"reserved\":83886080,\"leased\":33554432,\"warm\":50331648,\"pending\":0,"
	"\"free\":4211081216,\"max_region_size\":1073741824,"
	"\"warm_targets\":[{\"size\":16777216,\"count\":4,\"ready\":3}]},"
	"\"backings\":[{\"backing\":\"hugetlb\",\"page_size\":2097152,"
	"\"leased\":{\"regions\":1,\"bytes\":16777216,\"used\":1000,\"high_water\":5000},"
	"\"warm\":{\"regions\":3,\"bytes\":50331648}},"
	"{\"backing\":\"thp\",\"page_size\":2097152,"
	"\"leased\":{\"regions\":1,\"bytes\":16777216,\"used\":16773120,\"high_water\":16773120},"
	"\"warm\":{\"regions\":0,\"bytes\":0}}],"
	"\"sessions\":{\"clients\":2,\"admin\":1,\"users\":2},"
	"\"counters\":{\"grants\":9,\"regions_dropped\":7,\"Bad-Name\":3,\"connections\":4},"
	"\"clients\":[{\"id\":3,\"pid\":4242,\"uid\":0,\"comm\":\"prog\\u001b[2J\",\"tag\":"
	"\"job\\\"4711\\\\x\",\"regions\":1,\"leased\":16777216,\"used\":1000,"
	"\"high_water\":5000,\"connected\":1699999000,\"age\":1000,\"header_invalid\":0},"
	"{\"id\":5,\"pid\":4300,\"uid\":1000,\"comm\":\"py\",\"tag\":\"\",\"regions\":1,"
	"\"leased\":16777216,\"used\":16773120,\"high_water\":16773120,\"header_invalid\":1}],"
	"\"regions\":[{\"id\":10,\"state\":\"leased\",\"client\":3,\"pid\":4242,\"uid\":0,"
	"\"tag\":\"job\\\"4711\\\\x\",\"size\":16777216,\"capacity\":16773120,\"backing\":"
	"\"hugetlb\",\"page_size\":2097152,\"used\":1000,\"high_water\":5000,\"allocs\":10,"
	"\"resets\":1,\"header\":\"ok\",\"age\":1000},"
	"{\"id\":12,\"state\":\"leased\",\"client\":5,\"pid\":4300,\"uid\":1000,\"tag\":\"\","
	"\"size\":16777216,\"capacity\":16773120,\"backing\":\"thp\",\"page_size\":2097152,"
	"\"used\":16773120,\"high_water\":16773120,\"allocs\":1,\"resets\":0,"
	"\"header\":\"clamped\",\"age\":5}]}";

static const struct ctl_hugepage_pool test_pools[] = {
	{ .page_size = 2u << 20, .total = 64, .free = 12, .reserved = 2, .surplus = 0 },
	{ .page_size = 1u << 30, .total = 0 },
};

static int render_prom(FILE *f, void *ctx)
{
	return ctl_prom_render(f, ctx, test_pools, 2);
}

/* Run promtool check metrics on @text; -1 if promtool is not there. */
static int promtool_check(const char *text)
{
	char path[] = "/tmp/arenactl-prom-XXXXXX";
	char cmd[256];
	int fd, r;
	FILE *f;

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		return -1;
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 1>&2", path);
	r = system(cmd);
	unlink(path);
	return WIFEXITED(r) ? WEXITSTATUS(r) : 1;
}

START_TEST(test_prom_render)
{
	struct json_object *snap = json_tokener_parse(snapshot_json);
	char *out;
	int r;

	ck_assert_ptr_nonnull(snap);
	out = capture(render_prom, snap, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_ptr_nonnull(strstr(out, "\nbhc_arena_up 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "bhc_arena_pool_bytes{state=\"leased\"} 33554432\n"));
	ck_assert_ptr_nonnull(strstr(
		out,
		"bhc_arena_regions{backing=\"hugetlb\",page_size=\"2097152\",state=\"warm\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(
		out, "bhc_arena_used_bytes{backing=\"thp\",page_size=\"2097152\"} 16773120\n"));
	/* the tag's quote and backslash are escaped */
	ck_assert_ptr_nonnull(
		strstr(out, "bhc_arena_tag_used_bytes{tag=\"job\\\"4711\\\\x\"} 1000\n"));
	ck_assert_ptr_nonnull(strstr(out, "bhc_arena_tag_regions{tag=\"\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "# TYPE bhc_arena_grants_total counter\n"));
	ck_assert_ptr_nonnull(strstr(out, "bhc_arena_grants_total 9\n"));
	ck_assert_ptr_nonnull(strstr(out, "bhc_arena_regions_header_invalid 1\n"));
	ck_assert_ptr_nonnull(strstr(
		out, "bhc_arena_system_hugepages{page_size=\"2097152\",state=\"free\"} 12\n"));
	/* a counter whose name is not a metric name is left out */
	ck_assert_ptr_null(strstr(out, "Bad"));
	r = promtool_check(out);
	if (r >= 0)
		ck_assert_msg(r == 0, "promtool check metrics failed on:\n%s", out);
	free(out);
	json_object_put(snap);

	/* without a daemon: up 0 and still valid */
	out = capture(render_prom, NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_ptr_nonnull(strstr(out, "\nbhc_arena_up 0\n"));
	ck_assert_ptr_null(strstr(out, "bhc_arena_pool_bytes"));
	r = promtool_check(out);
	if (r >= 0)
		ck_assert_int_eq(r, 0);
	free(out);
	if (r < 0)
		bhc_test_skip("promtool not installed: rendering checked, validity not");
}
END_TEST

struct view_ctx {
	struct json_object *reply;
	struct ctl_view v;
	int which;
};

static int render_view(FILE *f, void *ctx)
{
	struct view_ctx *c = ctx;

	switch (c->which) {
	case 0:
		return ctl_show_status(f, c->reply, test_pools, 2, &c->v);
	case 1:
		return ctl_show_clients(f, c->reply, &c->v);
	case 2:
		return ctl_show_regions(f, c->reply, &c->v);
	default:
		return ctl_show_watch(f, c->reply, &c->v, 24);
	}
}

START_TEST(test_views_width)
{
	static const size_t widths[] = { 0, 132, 80, 60, 40, 20 };
	struct view_ctx c = { .v = { .bars = true } };
	size_t w;
	int which;

	c.reply = json_tokener_parse(snapshot_json);
	ck_assert_ptr_nonnull(c.reply);
	for (which = 0; which < 4; which++) {
		for (w = 0; w < ARRAY_SIZE(widths); w++) {
			char *out;
			int r;

			c.which = which;
			c.v.width = widths[w];
			out = capture(render_view, &c, &r);
			ck_assert_int_eq(r, 0);
			if (widths[w])
				assert_lines_within(out, widths[w]);
			/* the client's escape sequence never reaches the terminal */
			ck_assert_ptr_null(strchr(out, '\033'));
			if (which == 1 && widths[w] == 0) {
				ck_assert_ptr_nonnull(strstr(out, "prog?[2J"));
				ck_assert_ptr_nonnull(strstr(out, "16M!"));
				ck_assert_ptr_nonnull(strstr(out, "! = live header"));
			}
			free(out);
		}
	}
	json_object_put(c.reply);
}
END_TEST

START_TEST(test_views_garbage)
{
	/* replies missing members, with wrong types and absurd numbers */
	static const char *const replies[] = {
		"{}",
		"{\"clients\":[1,\"x\",null,{}],\"regions\":[[],{\"used\":-5,\"size\":\"big\"}]}",
		"{\"pool\":{\"total\":1,\"leased\":18446744073709551615,\"warm\":-1},"
		"\"backings\":[{\"leased\":7}],\"daemon\":{\"uptime\":-3,\"start_time\":\"x\"}}",
		"{\"regions\":[{\"used\":1e300,\"capacity\":0,\"state\":\"warm\"}],"
		"\"clients\":[{\"leased\":0,\"used\":99}]}",
	};
	size_t i;
	int which;

	for (i = 0; i < ARRAY_SIZE(replies); i++) {
		struct view_ctx c = { .v = { .bars = true, .width = 80 } };

		c.reply = json_tokener_parse(replies[i]);
		ck_assert_ptr_nonnull(c.reply);
		for (which = 0; which < 4; which++) {
			char *out;
			int r;

			c.which = which;
			out = capture(render_view, &c, &r);
			ck_assert_int_eq(r, 0);
			assert_lines_within(out, 80);
			free(out);
			out = capture(render_prom, c.reply, &r);
			ck_assert_int_eq(r, 0);
			free(out);
		}
		json_object_put(c.reply);
	}
}
END_TEST

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) ? -errno : 0;
}

START_TEST(test_hugepage_pools)
{
	char root[] = "/tmp/arenactl-sysfs-XXXXXX", d[600];
	struct ctl_hugepage_pool p[4];
	struct json_object *j;
	int n;

	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(d, sizeof(d), "%s/hugepages-1048576kB", root);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	ck_assert_int_eq(write_file(d, "nr_hugepages", "2\n"), 0);
	ck_assert_int_eq(write_file(d, "free_hugepages", "1\n"), 0);
	snprintf(d, sizeof(d), "%s/hugepages-2048kB", root);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	ck_assert_int_eq(write_file(d, "nr_hugepages", "64\n"), 0);
	ck_assert_int_eq(write_file(d, "free_hugepages", "12\n"), 0);
	ck_assert_int_eq(write_file(d, "resv_hugepages", "3\n"), 0);
	ck_assert_int_eq(write_file(d, "surplus_hugepages", "garbage\n"), 0);
	ck_assert_int_eq(write_file(d, "nr_overcommit_hugepages", "5\n"), 0);
	snprintf(d, sizeof(d), "%s/not-a-pool", root);
	ck_assert_int_eq(mkdir(d, 0755), 0);

	n = ctl_read_hugepage_pools(root, p, 4);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(p[0].page_size, 2u << 20);
	ck_assert_uint_eq(p[0].total, 64);
	ck_assert_uint_eq(p[0].free, 12);
	ck_assert_uint_eq(p[0].reserved, 3);
	ck_assert_uint_eq(p[0].surplus, 0);
	ck_assert_uint_eq(p[0].overcommit, 5);
	ck_assert_uint_eq(p[1].page_size, 1u << 30);
	ck_assert_uint_eq(p[1].total, 2);
	ck_assert_uint_eq(p[1].reserved, 0);
	j = ctl_hugepage_pools_json(p, 2);
	ck_assert_str_eq(json_object_to_json_string_ext(json_object_array_get_idx(j, 0),
							JSON_C_TO_STRING_PLAIN),
			 "{\"page_size\":2097152,\"total\":64,\"free\":12,\"reserved\":3,"
			 "\"surplus\":0,\"overcommit\":5}");
	json_object_put(j);
	ck_assert_int_eq(ctl_read_hugepage_pools("/nonexistent/sysfs", p, 4), -ENOENT);
	snprintf(d, sizeof(d), "rm -rf '%s'", root);
	ck_assert_int_eq(system(d), 0);
}
END_TEST

START_TEST(test_socket_path)
{
	char b[108];

	unsetenv("BHC_ARENA_SOCKET");
	ck_assert_int_eq(ctl_socket_path("/x/y.sock", b, sizeof(b)), 0);
	ck_assert_str_eq(b, "/x/y.sock");
	setenv("BHC_ARENA_SOCKET", "/env/arenad.sock", 1);
	ck_assert_int_eq(ctl_socket_path(NULL, b, sizeof(b)), 0);
	ck_assert_str_eq(b, "/env/arenad.sock");
	unsetenv("BHC_ARENA_SOCKET");
	if (geteuid() == 0) {
		ck_assert_int_eq(ctl_socket_path(NULL, b, sizeof(b)), 0);
		ck_assert_str_eq(b, "/run/bhc-arena/arenad.sock");
	}
	ck_assert_int_eq(ctl_socket_path("/a/very/long/path/that/does/not/fit/into/a/unix/socket/"
					 "address/because/that/holds/only/one/hundred/and/eight",
					 b, sizeof(b)),
			 -ENAMETOOLONG);
}
END_TEST

#define ADD(s, fn) add_test((s), &(#fn)[5], fn)

static void add_test(Suite *s, const char *name, const TTest *fn)
{
	TCase *tc = tcase_create(name);

	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}

static Suite *suite(void)
{
	Suite *s = suite_create("arenactl-unit");

	ADD(s, test_fmt_size);
	ADD(s, test_fmt_duration);
	ADD(s, test_parse_size);
	ADD(s, test_parse_warm);
	ADD(s, test_sanitize);
	ADD(s, test_bar);
	ADD(s, test_table_fit);
	ADD(s, test_prom_escape);
	ADD(s, test_prom_render);
	ADD(s, test_views_width);
	ADD(s, test_views_garbage);
	ADD(s, test_hugepage_pools);
	ADD(s, test_socket_path);
	return s;
}

int main(void)
{
	return bhc_test_run(suite());
}
