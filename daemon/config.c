/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <ini.h>

#include <bhc/arena-protocol.h>

#include "config.h"
#include "log.h"
#include "common/size.h"

enum key_type {
	KEY_SIZE, /* uint64_t bytes */
	KEY_COUNT, /* uint64_t */
	KEY_UINT, /* unsigned int */
	KEY_DURATION, /* uint64_t milliseconds */
	KEY_STRING, /* char * */
	KEY_MODE, /* mode_t, octal */
	KEY_LOGLEVEL, /* int */
	KEY_POLICY, /* unsigned int, enum bhc_arena_hugepage_policy */
	KEY_PAGESIZE, /* unsigned int page shift */
	KEY_WARM, /* struct config_warm *, n_warm */
	KEY_BOOL, /* bool */
	KEY_CPUS, /* struct config_cpus */
};

struct key_desc {
	const char *section;
	const char *name;
	enum key_type type;
	size_t offset;
	bool reloadable; /* SIGHUP applies it; else it needs a restart */
	uint64_t min, max; /* range of numeric keys (max 0: none) */
};

#define KEY(sec, nm, ty, field, rl, lo, hi)                              \
	{                                                                \
		sec, #nm, ty, offsetof(struct config, field), rl, lo, hi \
	}

static const struct key_desc keys[] = {
	KEY("daemon", socket, KEY_STRING, socket, false, 0, 0),
	KEY("daemon", socket_mode, KEY_MODE, socket_mode, false, 0, 0777),
	KEY("daemon", admin_group, KEY_STRING, admin_group, true, 0, 0),
	KEY("daemon", log_level, KEY_LOGLEVEL, log_level, true, 0, 0),
	KEY("pool", hugepages, KEY_POLICY, hugepages, false, 0, 0),
	KEY("pool", page_size, KEY_PAGESIZE, page_shift, false, 0, 0),
	KEY("pool", warm, KEY_WARM, warm, true, 0, 0),
	KEY("pool", max_region_size, KEY_SIZE, max_region_size, true, 1, 0),
	KEY("pool", warm_max, KEY_UINT, warm_max, true, 0, 1000000),
	KEY("pool", warm_window, KEY_DURATION, warm_window_ms, true, 1, 3600000),
	KEY("pool", io_uring, KEY_BOOL, io_uring, false, 0, 0),
	KEY("pool", io_depth, KEY_UINT, io_depth, false, 1, 256),
	KEY("pool", io_cpus, KEY_CPUS, io_cpus, false, 0, 0),
	KEY("limits", total, KEY_SIZE, total, true, 1, 0),
	KEY("limits", per_connection_bytes, KEY_SIZE, per_connection_bytes, true, 0, 0),
	KEY("limits", per_connection_regions, KEY_COUNT, per_connection_regions, true, 0, 0),
	KEY("limits", per_uid_bytes, KEY_SIZE, per_uid_bytes, true, 0, 0),
	KEY("limits", per_uid_regions, KEY_COUNT, per_uid_regions, true, 0, 0),
	KEY("limits", max_connections, KEY_COUNT, max_connections, true, 0, 0),
	KEY("limits", admin_connections, KEY_COUNT, admin_connections, true, 0, 0),
	KEY("limits", per_uid_connections, KEY_COUNT, per_uid_connections, true, 0, 0),
	KEY("limits", per_uid_connection_rate, KEY_COUNT, per_uid_connection_rate, true, 0,
	    1000000),
	KEY("limits", admin_budget, KEY_DURATION, admin_budget_ms, true, 0, 1000),
	KEY("limits", handshake_timeout, KEY_DURATION, handshake_timeout_ms, true, 1, 3600000),
	KEY("limits", stall_timeout, KEY_DURATION, stall_timeout_ms, true, 1, 3600000),
};

#define N_KEYS ARRAY_SIZE(keys)

/* Room for any key's value as text: the longest, a CPU list of every other CPU, is ~2000. */
#define VALUE_MAX 4096

static void *field(struct config *cfg, const struct key_desc *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield(const struct config *cfg, const struct key_desc *k)
{
	return (const char *)cfg + k->offset;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *config_policy_name(unsigned int policy)
{
	switch (policy) {
	case BHC_ARENA_HUGEPAGES_REQUIRE:
		return "require";
	case BHC_ARENA_HUGEPAGES_PREFER:
		return "prefer";
	case BHC_ARENA_HUGEPAGES_OFF:
		return "off";
	}
	return "?";
}

static int parse_u64(const char *s, uint64_t *vp)
{
	unsigned long long v;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EINVAL;
	*vp = v;
	return 0;
}

static int parse_duration(const char *s, uint64_t *msp)
{
	unsigned long long v;
	uint64_t mul = 1000;
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (strncmp(end, "ms", 2) == 0) {
		mul = 1;
		end += 2;
	} else if (strncmp(end, "min", 3) == 0) {
		mul = 60000;
		end += 3;
	} else if (*end == 's') {
		end++;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*msp = v * mul;
	return 0;
}

static int parse_bool(const char *s, bool *bp)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*bp = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*bp = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* "16M:4, 64M:2" (or "" / "none" for no warm pool) into a new array. */
static int parse_warm(const char *s, struct config_warm **warmp, size_t *np, char *err,
		      size_t err_len)
{
	struct config_warm *warm = NULL, *tmp;
	size_t n = 0, i;
	char *copy, *item, *save = NULL;
	int r;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' || strcmp(s, "none") == 0) {
		*warmp = NULL;
		*np = 0;
		return 0;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':');
		uint64_t size, count;

		if (!colon) {
			r = fail(err, err_len, "'%s' is not SIZE:COUNT", item);
			goto out_free;
		}
		*colon = '\0';
		if (size_parse(item, &size) < 0 || size == 0) {
			r = fail(err, err_len, "'%s' is not a size", item);
			goto out_free;
		}
		if (parse_u64(colon + 1, &count) < 0 || count == 0 || count > 1000000) {
			r = fail(err, err_len, "'%s' is not a count from 1 to 1000000", colon + 1);
			goto out_free;
		}
		for (i = 0; i < n; i++) {
			if (warm[i].size == size) {
				r = fail(err, err_len, "size %s is listed twice", item);
				goto out_free;
			}
		}
		tmp = realloc(warm, (n + 1) * sizeof(*warm));
		if (!tmp) {
			r = -ENOMEM;
			goto out_free;
		}
		warm = tmp;
		warm[n].size = size;
		warm[n].target = (unsigned int)count;
		n++;
	}
	free(copy);
	*warmp = warm;
	*np = n;
	return 0;

out_free:
	free(warm);
	free(copy);
	return r;
}

static const struct key_desc *find_key(const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	}
	return NULL;
}

static int check_range(const struct key_desc *k, uint64_t v, char *err, size_t err_len)
{
	if (v < k->min)
		return fail(err, err_len, "must be at least %" PRIu64, k->min);
	if (k->max && v > k->max)
		return fail(err, err_len, "must be at most %" PRIu64, k->max);
	return 0;
}

int config_parse_cpulist(const char *s, cpu_set_t *set)
{
	unsigned long lo, hi, cpu;
	char *end;

	CPU_ZERO(set);
	for (;;) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		errno = 0;
		lo = strtoul(s, &end, 10);
		hi = lo;
		if (*end == '-') {
			s = end + 1;
			if (!isdigit((unsigned char)*s))
				return -EINVAL;
			hi = strtoul(s, &end, 10);
		}
		if (errno || hi < lo || hi >= CPU_SETSIZE)
			return -EINVAL;
		for (cpu = lo; cpu <= hi; cpu++)
			CPU_SET(cpu, set);
		s = end;
		if (*s != ',')
			break;
		s++;
	}
	return *s ? -EINVAL : 0;
}

char *config_format_cpulist(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;
	int cpu, last;

	if (len)
		buf[0] = '\0';
	for (cpu = 0; cpu < CPU_SETSIZE && n < len; cpu++) {
		int r;

		if (!CPU_ISSET(cpu, set))
			continue;
		for (last = cpu; last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set); last++)
			;
		if (last == cpu)
			r = snprintf(buf + n, len - n, "%s%d", n ? "," : "", cpu);
		else
			r = snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", cpu, last);
		if (r < 0)
			break;
		n += (size_t)r;
		cpu = last;
	}
	return buf;
}

static int set_key(struct config *cfg, const struct key_desc *k, const char *value, char *err,
		   size_t err_len)
{
	void *p = field(cfg, k);
	uint64_t v;
	int r, level;
	char *s;

	switch (k->type) {
	case KEY_SIZE:
		r = size_parse(value, &v);
		if (r < 0)
			return fail(err, err_len, "'%s' is not a size (a number with K, M, G or T)",
				    value);
		r = check_range(k, v, err, err_len);
		if (r < 0)
			return r;
		*(uint64_t *)p = v;
		return 0;
	case KEY_COUNT:
	case KEY_UINT:
		r = parse_u64(value, &v);
		if (r < 0)
			return fail(err, err_len, "'%s' is not a number", value);
		r = check_range(k, v, err, err_len);
		if (r < 0)
			return r;
		if (k->type == KEY_UINT) {
			if (v > UINT_MAX)
				return fail(err, err_len, "'%s' is too large", value);
			*(unsigned int *)p = (unsigned int)v;
		} else {
			*(uint64_t *)p = v;
		}
		return 0;
	case KEY_DURATION:
		r = parse_duration(value, &v);
		if (r < 0)
			return fail(err, err_len, "'%s' is not a duration (e.g. 5s, 500ms)", value);
		r = check_range(k, v, err, err_len);
		if (r < 0)
			return k->max == 3600000 ?
				       fail(err, err_len, "'%s' is out of range (1ms to 1h)",
					    value) :
				       fail(err, err_len,
					    "'%s' is out of range (%" PRIu64 "ms to %" PRIu64 "ms)",
					    value, k->min, k->max);
		*(uint64_t *)p = v;
		return 0;
	case KEY_STRING:
		s = strdup(value);
		if (!s)
			return -ENOMEM;
		free(*(char **)p);
		*(char **)p = s;
		return 0;
	case KEY_MODE: {
		unsigned long m;
		char *end;

		errno = 0;
		m = strtoul(value, &end, 8);
		if (errno || end == value || *end || m > 0777)
			return fail(err, err_len, "'%s' is not an octal mode such as 0660", value);
		*(mode_t *)p = (mode_t)m;
		return 0;
	}
	case KEY_LOGLEVEL:
		if (log_level_parse(value, &level) < 0)
			return fail(err, err_len,
				    "'%s' is not one of err, warning, notice, info, debug", value);
		*(int *)p = level;
		return 0;
	case KEY_POLICY:
		if (strcmp(value, "require") == 0)
			*(unsigned int *)p = BHC_ARENA_HUGEPAGES_REQUIRE;
		else if (strcmp(value, "prefer") == 0)
			*(unsigned int *)p = BHC_ARENA_HUGEPAGES_PREFER;
		else if (strcmp(value, "off") == 0)
			*(unsigned int *)p = BHC_ARENA_HUGEPAGES_OFF;
		else
			return fail(err, err_len, "'%s' is not one of require, prefer, off", value);
		return 0;
	case KEY_PAGESIZE:
		r = size_parse(value, &v);
		if (r == 0 && v == (UINT64_C(1) << 21))
			*(unsigned int *)p = 21;
		else if (r == 0 && v == (UINT64_C(1) << 30))
			*(unsigned int *)p = 30;
		else
			return fail(err, err_len, "'%s' is not 2M or 1G", value);
		return 0;
	case KEY_WARM: {
		struct config_warm *warm = NULL;
		size_t n = 0;

		r = parse_warm(value, &warm, &n, err, err_len);
		if (r < 0)
			return r;
		free(cfg->warm);
		cfg->warm = warm;
		cfg->n_warm = n;
		return 0;
	}
	case KEY_BOOL:
		if (parse_bool(value, p) < 0)
			return fail(err, err_len, "'%s' is not yes or no", value);
		return 0;
	case KEY_CPUS: {
		struct config_cpus *cpus = p;
		cpu_set_t set;

		if (strcmp(value, "auto") == 0) {
			cpus->mode = CONFIG_CPUS_AUTO;
			CPU_ZERO(&cpus->set);
		} else if (strcmp(value, "all") == 0) {
			cpus->mode = CONFIG_CPUS_ALL;
			CPU_ZERO(&cpus->set);
		} else if (config_parse_cpulist(value, &set) == 0) {
			cpus->mode = CONFIG_CPUS_LIST;
			cpus->set = set;
		} else {
			return fail(
				err, err_len,
				"'%s' is not auto, all or a CPU list such as 0-3,8 (CPUs below %d)",
				value, CPU_SETSIZE);
		}
		return 0;
	}
	}
	return -EINVAL;
}

int config_set(struct config *cfg, const char *section, const char *key, const char *value,
	       char *err, size_t err_len)
{
	const struct key_desc *k = find_key(section, key);

	size_t i;

	if (!k) {
		for (i = 0; i < N_KEYS; i++) {
			if (strcmp(keys[i].section, section) == 0)
				break;
		}
		if (i == N_KEYS)
			snprintf(err, err_len, "unknown section [%s]", section);
		else
			snprintf(err, err_len, "unknown key");
		return -ENOENT;
	}
	return set_key(cfg, k, value, err, err_len);
}

int config_default_socket(char *buf, size_t len)
{
	const char *xdg;
	int n;

	if (geteuid() == 0) {
		n = snprintf(buf, len, "%s", BHC_ARENA_SOCKET_PATH);
	} else {
		xdg = getenv("XDG_RUNTIME_DIR");
		if (!xdg || xdg[0] != '/')
			return -ENOENT;
		n = snprintf(buf, len, "%s/%s", xdg, BHC_ARENA_SOCKET_USER_SUBPATH);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int config_new(struct config **cfgp)
{
	struct config *cfg;

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->socket_mode = 0666;
	cfg->admin_group = strdup("bhc-arena-admin");
	cfg->log_level = LOG_INFO;
	cfg->hugepages = BHC_ARENA_HUGEPAGES_PREFER;
	cfg->page_shift = 21;
	cfg->max_region_size = UINT64_C(1) << 30;
	cfg->warm_max = 8;
	cfg->warm_window_ms = 10000;
	cfg->io_uring = true;
	cfg->io_depth = 8;
	cfg->io_cpus.mode = CONFIG_CPUS_AUTO;
	cfg->total = UINT64_C(4) << 30;
	cfg->per_connection_bytes = 0;
	cfg->per_connection_regions = 1024;
	cfg->per_uid_bytes = 0;
	cfg->per_uid_regions = 4096;
	cfg->max_connections = 1024;
	cfg->admin_connections = 4;
	cfg->per_uid_connections = 256;
	cfg->per_uid_connection_rate = 100;
	cfg->admin_budget_ms = 10;
	cfg->handshake_timeout_ms = 5000;
	cfg->stall_timeout_ms = 10000;
	cfg->warm = calloc(2, sizeof(*cfg->warm));
	if (!cfg->admin_group || !cfg->warm) {
		config_free(cfg);
		return -ENOMEM;
	}
	cfg->warm[0] = (struct config_warm){ UINT64_C(16) << 20, 4 };
	cfg->warm[1] = (struct config_warm){ UINT64_C(64) << 20, 2 };
	cfg->n_warm = 2;
	*cfgp = cfg;
	return 0;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->socket);
	free(cfg->admin_group);
	free(cfg->warm);
	free(cfg);
}

int config_validate(const struct config *cfg, char *err, size_t err_len)
{
	uint64_t page = UINT64_C(1) << cfg->page_shift, warm_bytes = 0;
	char a[32], b[32];
	size_t i;

	if (!cfg->socket || cfg->socket[0] != '/')
		return fail(err, err_len, "[daemon] socket must be an absolute path");
	if (strlen(cfg->socket) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return fail(err, err_len, "[daemon] socket path is longer than %zu bytes",
			    sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
	/*
	 * A group name's characters only: anything else (a leading ';' in
	 * particular, which an INI reader takes for a comment) would not read
	 * back from what --check-config prints (found by fuzz/fuzz-config).
	 */
	if (cfg->admin_group &&
	    cfg->admin_group[strspn(cfg->admin_group, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						      "abcdefghijklmnopqrstuvwxyz"
						      "0123456789._-$")] != '\0')
		return fail(err, err_len,
			    "[daemon] admin_group '%s' is not a group name (letters, digits, "
			    "'.', '_', '-', '$')",
			    cfg->admin_group);
	if (cfg->max_region_size % page)
		return fail(err, err_len,
			    "[pool] max_region_size %s is not a multiple of page_size %s",
			    size_format_exact(cfg->max_region_size, a, sizeof(a)),
			    size_format_exact(page, b, sizeof(b)));
	for (i = 0; i < cfg->n_warm; i++) {
		const struct config_warm *w = &cfg->warm[i];

		if (w->size % page)
			return fail(err, err_len,
				    "[pool] warm size %s is not a multiple of page_size %s",
				    size_format_exact(w->size, a, sizeof(a)),
				    size_format_exact(page, b, sizeof(b)));
		if (w->size > cfg->max_region_size)
			return fail(err, err_len, "[pool] warm size %s exceeds max_region_size %s",
				    size_format_exact(w->size, a, sizeof(a)),
				    size_format_exact(cfg->max_region_size, b, sizeof(b)));
		if (w->size > cfg->total / w->target ||
		    warm_bytes > cfg->total - w->size * w->target)
			return fail(err, err_len,
				    "[pool] warm keeps more than [limits] total %s ready",
				    size_format_exact(cfg->total, a, sizeof(a)));
		warm_bytes += w->size * w->target;
	}
	return 0;
}

static void format_value(const struct config *cfg, const struct key_desc *k, char *buf, size_t len)
{
	const void *p = cfield(cfg, k);
	size_t i, n = 0;

	switch (k->type) {
	case KEY_SIZE:
		size_format_exact(*(const uint64_t *)p, buf, len);
		return;
	case KEY_COUNT:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
		return;
	case KEY_UINT:
		snprintf(buf, len, "%u", *(const unsigned int *)p);
		return;
	case KEY_DURATION: {
		uint64_t ms = *(const uint64_t *)p;

		if (ms % 1000)
			snprintf(buf, len, "%" PRIu64 "ms", ms);
		else
			snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
		return;
	}
	case KEY_STRING:
		snprintf(buf, len, "%s", *(char *const *)p ? *(char *const *)p : "");
		return;
	case KEY_MODE:
		snprintf(buf, len, "%04o", (unsigned int)*(const mode_t *)p);
		return;
	case KEY_LOGLEVEL:
		snprintf(buf, len, "%s", log_level_name(*(const int *)p));
		return;
	case KEY_POLICY:
		snprintf(buf, len, "%s", config_policy_name(*(const unsigned int *)p));
		return;
	case KEY_PAGESIZE:
		snprintf(buf, len, "%s", *(const unsigned int *)p == 30 ? "1G" : "2M");
		return;
	case KEY_WARM:
		buf[0] = '\0';
		if (cfg->n_warm == 0)
			snprintf(buf, len, "none");
		for (i = 0; i < cfg->n_warm && n < len; i++) {
			char sz[32];
			int r = snprintf(buf + n, len - n, "%s%s:%u", i ? "," : "",
					 size_format_exact(cfg->warm[i].size, sz, sizeof(sz)),
					 cfg->warm[i].target);

			if (r < 0)
				break;
			n += (size_t)r;
		}
		return;
	case KEY_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "yes" : "no");
		return;
	case KEY_CPUS: {
		const struct config_cpus *cpus = p;

		if (cpus->mode == CONFIG_CPUS_LIST)
			config_format_cpulist(&cpus->set, buf, len);
		else
			snprintf(buf, len, "%s", cpus->mode == CONFIG_CPUS_ALL ? "all" : "auto");
		return;
	}
	}
	buf[0] = '\0';
}

void config_print(const struct config *cfg, FILE *f)
{
	const char *section = "";
	char value[VALUE_MAX];
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		if (strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
		}
		format_value(cfg, &keys[i], value, sizeof(value));
		fprintf(f, "%s = %s\n", keys[i].name, value);
	}
}

static int copy_key(struct config *dst, const struct config *src, const struct key_desc *k)
{
	char value[VALUE_MAX], err[CONFIG_ERROR_MAX];

	format_value(src, k, value, sizeof(value));
	return set_key(dst, k, value, err, sizeof(err));
}

int config_keep_restart_only(struct config *next, const struct config *running)
{
	char old[VALUE_MAX], new[VALUE_MAX];
	int n = 0;
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		if (keys[i].reloadable)
			continue;
		format_value(running, &keys[i], old, sizeof(old));
		format_value(next, &keys[i], new, sizeof(new));
		if (strcmp(old, new) == 0)
			continue;
		log_warning("[%s] %s changed from '%s' to '%s': restart bhc-arenad to apply it; "
			    "keeping '%s' until then",
			    keys[i].section, keys[i].name, old, new, old);
		if (copy_key(next, running, &keys[i]) < 0)
			log_err("cannot keep [%s] %s", keys[i].section, keys[i].name);
		n++;
	}
	return n;
}

/* State of one ini_parse() run. */
struct ini_state {
	struct config *cfg;
	char err[CONFIG_ERROR_MAX]; /* first error, without the file:line part */
	int r; /* its errno, 0 if none */
};

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
	struct ini_state *st = user;
	char msg[CONFIG_ERROR_MAX / 2];
	int r;

	if (st->r)
		return 0;
	if (section[0] == '\0') {
		snprintf(st->err, sizeof(st->err), "%s: key outside a section", name);
		st->r = -EINVAL;
		return 0;
	}
	if (!value) {
		snprintf(st->err, sizeof(st->err), "[%s] %s: no value", section, name);
		st->r = -EINVAL;
		return 0;
	}
	r = config_set(st->cfg, section, name, value, msg, sizeof(msg));
	if (r < 0) {
		snprintf(st->err, sizeof(st->err), "[%s] %s: %s", section, name, msg);
		st->r = r == -ENOMEM ? r : -EINVAL;
		return 0;
	}
	return 1;
}

/* What ini_parse_*() returned for @name, as 0 or -errno with a message in @err. */
static int ini_result(const struct ini_state *st, int line, const char *name, char *err,
		      size_t err_len)
{
	if (line == -2)
		return -ENOMEM;
	if (st->r == -ENOMEM)
		return -ENOMEM;
	if (line > 0 && st->r)
		return fail(err, err_len, "%s:%d: %s", name, line, st->err);
	if (line > 0)
		return fail(err, err_len, "%s:%d: syntax error (expected [section] or key = value)",
			    name, line);
	return 0;
}

/* libinih's knobs are globals: fail fast, no indented continuation lines. */
static void ini_setup(void)
{
	ini_stop_on_first_error = true;
	ini_allow_multiline = false;
}

static int load_file(struct config *cfg, const char *path, char *err, size_t err_len)
{
	struct ini_state st = { .cfg = cfg };
	FILE *f;
	int line;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	ini_setup();
	line = ini_parse_file(f, on_ini_entry, &st);
	fclose(f);
	return ini_result(&st, line, path, err, err_len);
}

int config_parse_string(struct config *cfg, const char *text, const char *name, char *err,
			size_t err_len)
{
	struct ini_state st = { .cfg = cfg };
	int line;

	ini_setup();
	line = ini_parse_string(text, on_ini_entry, &st);
	return ini_result(&st, line, name, err, err_len);
}

static int apply_set(struct config *cfg, const char *arg, char *err, size_t err_len)
{
	char msg[CONFIG_ERROR_MAX / 2], *copy, *dot, *eq;
	int r;

	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	eq = strchr(copy, '=');
	dot = strchr(copy, '.');
	if (!eq || !dot || dot > eq) {
		free(copy);
		return fail(err, err_len, "--set %s: expected SECTION.KEY=VALUE", arg);
	}
	*eq = '\0';
	*dot = '\0';
	r = config_set(cfg, copy, dot + 1, eq + 1, msg, sizeof(msg));
	if (r < 0 && r != -ENOMEM) {
		snprintf(err, err_len, "--set %s: %s", arg, msg);
		r = -EINVAL;
	}
	free(copy);
	return r;
}

int config_load(const struct config_source *src, struct config **cfgp, bool *file_missingp,
		char *err, size_t err_len)
{
	char msg[CONFIG_ERROR_MAX / 2], path[sizeof(((struct sockaddr_un *)NULL)->sun_path) + 64];
	struct config *cfg;
	bool missing = false;
	size_t i;
	int r;

	r = config_new(&cfg);
	if (r < 0)
		goto out_err;
	r = load_file(cfg, src->path, err, err_len);
	if (r == -ENOENT && !src->path_explicit) {
		missing = true;
	} else if (r == -ENOMEM) {
		goto out_free;
	} else if (r < 0 && r != -EINVAL) {
		snprintf(err, err_len, "cannot read %s: %s", src->path, strerror(-r));
		goto out_free;
	} else if (r < 0) {
		goto out_free;
	}
	for (i = 0; i < src->n_sets; i++) {
		r = apply_set(cfg, src->sets[i], err, err_len);
		if (r < 0)
			goto out_free;
	}
	if (!cfg->socket || !cfg->socket[0]) {
		r = config_default_socket(path, sizeof(path));
		if (r < 0) {
			snprintf(err, err_len,
				 "no socket path: not root and $XDG_RUNTIME_DIR is unset; "
				 "set [daemon] socket");
			goto out_free;
		}
		r = config_set(cfg, "daemon", "socket", path, msg, sizeof(msg));
		if (r < 0)
			goto out_free;
	}
	r = config_validate(cfg, msg, sizeof(msg));
	if (r < 0) {
		snprintf(err, err_len, "invalid configuration: %s", msg);
		goto out_free;
	}
	if (file_missingp)
		*file_missingp = missing;
	*cfgp = cfg;
	return 0;

out_free:
	config_free(cfg);
out_err:
	if (r == -ENOMEM)
		snprintf(err, err_len, "out of memory while reading the configuration");
	return r;
}
