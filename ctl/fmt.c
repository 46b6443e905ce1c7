/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl: sizes, durations, times, bars, terminal width and the small
 * readers of reply members. Output is plain ASCII so that a width in
 * characters is a width in columns.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "arenactl.h"
#include "common/size.h"

static const char size_units[] = "BKMGTPE";

const char *ctl_fmt_size(uint64_t bytes, bool exact, char buf[CTL_SIZE_BUF])
{
	double v = (double)bytes;
	unsigned int u = 0;

	if (exact || bytes < 1024) {
		snprintf(buf, CTL_SIZE_BUF, exact ? "%" PRIu64 : "%" PRIu64 "B", bytes);
		return buf;
	}
	/* go up a unit as long as the rounded value would read 1024 or more */
	while (u + 1 < sizeof(size_units) - 1 && v >= 1023.5) {
		v /= 1024.0;
		u++;
	}
	if (v < 9.95 && v != (double)(uint64_t)v)
		snprintf(buf, CTL_SIZE_BUF, "%.1f%c", v, size_units[u]);
	else
		snprintf(buf, CTL_SIZE_BUF, "%.0f%c", v, size_units[u]);
	return buf;
}

const char *ctl_fmt_page(uint64_t bytes, char buf[CTL_SIZE_BUF])
{
	unsigned int u = 0;

	while (u + 1 < sizeof(size_units) - 1 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, CTL_SIZE_BUF, "%" PRIu64 "%c", bytes, size_units[u]);
	return buf;
}

const char *ctl_fmt_duration(uint64_t s, char buf[CTL_SIZE_BUF])
{
	if (s < 60)
		snprintf(buf, CTL_SIZE_BUF, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, CTL_SIZE_BUF, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, CTL_SIZE_BUF, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, CTL_SIZE_BUF, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
			 s % 86400 / 3600);
	return buf;
}

const char *ctl_fmt_time(int64_t when, int64_t now, char buf[CTL_SIZE_BUF])
{
	time_t t = (time_t)when;
	struct tm tm;

	if (when <= 0 || !localtime_r(&t, &tm)) {
		snprintf(buf, CTL_SIZE_BUF, "-");
		return buf;
	}
	if (now - when < 86400 && now >= when)
		strftime(buf, CTL_SIZE_BUF, "%H:%M:%S", &tm);
	else
		strftime(buf, CTL_SIZE_BUF, "%Y-%m-%d", &tm);
	return buf;
}

int ctl_parse_u32(const char *s, uint32_t *valp)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > UINT32_MAX)
		return -ERANGE;
	*valp = (uint32_t)v;
	return 0;
}

int ctl_parse_warm(const char *s, struct ctl_warm_target *targets, size_t max, size_t *n_targetsp)
{
	char item[64];
	size_t n = 0;
	int r;

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "none") || !*s) {
		*n_targetsp = 0;
		return 0;
	}
	while (*s) {
		size_t len = strcspn(s, ",");
		char *colon;

		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		memcpy(item, s, len);
		item[len] = '\0';
		colon = strchr(item, ':');
		if (!colon)
			return -EINVAL;
		*colon = '\0';
		r = size_parse(item, &targets[n].size);
		if (r < 0)
			return r;
		r = ctl_parse_u32(colon + 1, &targets[n].count);
		if (r < 0)
			return r;
		if (targets[n].size == 0 || targets[n].count == 0)
			return -EINVAL;
		n++;
		s += len;
		if (*s == ',') {
			s++;
			if (!*s)
				return -EINVAL;
		}
	}
	*n_targetsp = n;
	return 0;
}

const char *ctl_sanitize(const char *s, char *buf, size_t len)
{
	size_t i;

	if (!len)
		return buf;
	for (i = 0; s && s[i] && i + 1 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

const char *ctl_bar(char *buf, size_t len, size_t width, const double *parts, const char *marks,
		    size_t n_parts)
{
	size_t inner, pos = 0, i, o = 0;
	double acc = 0.0;

	if (len < 3 || width < 3) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	if (width > len - 1)
		width = len - 1;
	inner = width - 2;
	buf[o++] = '[';
	for (i = 0; i < n_parts; i++) {
		double f = parts[i];
		size_t end;

		if (!(f > 0.0)) /* also catches NaN */
			f = 0.0;
		acc += f;
		if (acc > 1.0)
			acc = 1.0;
		end = (size_t)(acc * (double)inner + 0.5);
		/* a non-zero part shows at least one mark while room is left */
		if (f > 0.0 && end == pos && pos < inner)
			end = pos + 1;
		for (; pos < end && pos < inner; pos++)
			buf[o++] = marks[i];
	}
	for (; pos < inner; pos++)
		buf[o++] = '.';
	buf[o++] = ']';
	buf[o] = '\0';
	return buf;
}

size_t ctl_terminal_width(long opt)
{
	struct winsize ws;
	const char *env;

	if (opt >= 0)
		return (size_t)opt;
	env = getenv("COLUMNS");
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);

		if (!*end && v > 0 && v < 100000)
			return (size_t)v;
	}
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

size_t ctl_terminal_height(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 0;
}

void ctl_emit_line(FILE *f, const char *s, size_t width)
{
	size_t len = strlen(s);

	/* trailing blanks never count against the width */
	while (len && s[len - 1] == ' ')
		len--;
	if (width && len > width)
		len = width;
	fwrite(s, 1, len, f);
	fputc('\n', f);
}

uint64_t ctl_json_u64(struct json_object *obj, const char *key, uint64_t def)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return def;
	if (json_object_is_type(v, json_type_int)) {
		/* negative numbers are garbage for a count: read them as 0 */
		if (json_object_get_int64(v) < 0)
			return 0;
		return json_object_get_uint64(v);
	}
	if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);

		if (!(d > 0.0))
			return 0;
		return d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
	}
	return def;
}

int64_t ctl_json_i64(struct json_object *obj, const char *key, int64_t def)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return def;
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
		return json_object_get_int64(v);
	return def;
}

const char *ctl_json_str(struct json_object *obj, const char *key, const char *def)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return def;
	return json_object_get_string(v);
}

bool ctl_json_bool(struct json_object *obj, const char *key, bool def)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return def;
	return json_object_get_boolean(v);
}

struct json_object *ctl_json_array(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

struct json_object *ctl_json_object(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}
