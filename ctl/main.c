/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl: inspect and steer bhc-arenad. See bhc-arenactl(8) and
 * docs/ADMIN.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <bhc/arena-protocol.h>

#include "arenactl.h"
#include "common/size.h"

#define SYSFS_HUGEPAGES "/sys/kernel/mm/hugepages"

enum cmd {
	CMD_STATUS,
	CMD_CLIENTS,
	CMD_REGIONS,
	CMD_METRICS,
	CMD_WATCH,
	CMD_POOL,
	CMD_POOL_SET,
	CMD_RELOAD,
	CMD_HELP,
	CMD_VERSION,
};

/* Options that only some commands take. */
#define OPT_FILTER 0x1u /* --pid --uid --tag --job */
#define OPT_ALL 0x2u /* --all */
#define OPT_WATCH 0x4u /* --interval --count */
#define OPT_POOLSET 0x8u /* --warm --total */

struct ctl {
	enum cmd cmd;
	const char *socket_opt;
	char socket[108];
	bool json;
	bool bars;
	bool exact;
	long width_opt;
	int timeout_ms;
	unsigned int given; /* OPT_* seen on the command line */
	const char *given_name[4]; /* an option of each OPT_* class, for the message */
	/* filters */
	bool has_pid, has_uid, has_job;
	uint32_t pid, uid;
	uint64_t job;
	const char *tag;
	bool all;
	/* watch */
	double interval;
	unsigned long count;
	/* pool set */
	const char *warm_spec, *total_spec;
};

static const struct {
	const char *name;
	enum cmd cmd;
	unsigned int opts;
} commands[] = {
	{ "status", CMD_STATUS, 0 },
	{ "clients", CMD_CLIENTS, OPT_FILTER },
	{ "regions", CMD_REGIONS, OPT_FILTER | OPT_ALL },
	{ "metrics", CMD_METRICS, 0 },
	{ "watch", CMD_WATCH, OPT_FILTER | OPT_WATCH },
	{ "pool", CMD_POOL, OPT_POOLSET },
	{ "reload", CMD_RELOAD, 0 },
	{ "help", CMD_HELP, 0 },
	{ "version", CMD_VERSION, 0 },
};

static void usage(FILE *f)
{
	fputs("Usage: bhc-arenactl [OPTIONS] COMMAND [COMMAND OPTIONS]\n"
	      "\n"
	      "Inspect and steer bhc-arenad, the node's hugepage arena service.\n"
	      "\n"
	      "Commands:\n"
	      "  status               pool, backings, clients, system hugepage pools, daemon\n"
	      "  clients              connected clients with their regions and live usage\n"
	      "  regions              leased regions with live usage (--all: warm ones too)\n"
	      "  metrics              Prometheus text exposition\n"
	      "  watch                refreshing view of clients and regions (q to quit)\n"
	      "  pool [show]          the pool: limit, warm targets, bytes by state\n"
	      "  pool set             change warm targets (--warm) or the limit (--total); admin\n"
	      "  reload               make the daemon re-read its configuration; admin\n"
	      "  help                 this text\n"
	      "  version              versions of bhc-arenactl and of the daemon\n"
	      "\n"
	      "Options:\n"
	      "  -s, --socket=PATH    daemon socket (default: $BHC_ARENA_SOCKET, else the\n"
	      "                       user's or the system's, see bhc-arenactl(8))\n"
	      "  -j, --json           JSON output (fields documented in docs/ADMIN.md)\n"
	      "      --no-bars        no usage bars\n"
	      "  -w, --width=N        output width in columns (0: no limit; default: $COLUMNS\n"
	      "                       or the terminal's)\n"
	      "  -b, --bytes          exact byte counts instead of 16M, 1.5G\n"
	      "  -t, --timeout=SEC    give up on a silent daemon after SEC seconds (default 5)\n"
	      "  -p, --pid=PID        clients, regions, watch: only this process\n"
	      "  -u, --uid=UID|USER   clients, regions, watch: only this user\n"
	      "  -T, --tag=TAG        clients, regions, watch: only this tag (job id)\n"
	      "  -J, --job=ID         clients, regions, watch: only this job's (registered by\n"
	      "                       the workload manager, bhc-arena-slurm(8))\n"
	      "  -a, --all            regions: list warm regions too (admin)\n"
	      "  -i, --interval=SEC   watch: seconds between refreshes (default 2)\n"
	      "  -n, --count=N        watch: stop after N refreshes\n"
	      "      --warm=SPEC      pool set: warm targets SIZE:COUNT[,SIZE:COUNT...] or none\n"
	      "      --total=SIZE     pool set: most bytes the daemon may reserve\n"
	      "  -h, --help           this text\n"
	      "  -V, --version        print the version of bhc-arenactl\n"
	      "\n"
	      "Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
	      "3 cannot reach the daemon, 4 permission denied, 5 protocol error.\n",
	      f);
}

static __attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("bhc-arenactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'bhc-arenactl --help'.\n", stderr);
	return CTL_EXIT_USAGE;
}

enum { OPT_NO_BARS = 256, OPT_WARM, OPT_TOTAL };

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, 'j' },
	{ "no-bars", no_argument, NULL, OPT_NO_BARS },
	{ "width", required_argument, NULL, 'w' },
	{ "bytes", no_argument, NULL, 'b' },
	{ "timeout", required_argument, NULL, 't' },
	{ "pid", required_argument, NULL, 'p' },
	{ "uid", required_argument, NULL, 'u' },
	{ "tag", required_argument, NULL, 'T' },
	{ "job", required_argument, NULL, 'J' },
	{ "all", no_argument, NULL, 'a' },
	{ "interval", required_argument, NULL, 'i' },
	{ "count", required_argument, NULL, 'n' },
	{ "warm", required_argument, NULL, OPT_WARM },
	{ "total", required_argument, NULL, OPT_TOTAL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{},
};

static int parse_uid(const char *s, uint32_t *uidp)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (ctl_parse_u32(s, uidp) == 0)
		return 0;
	if (getpwnam_r(s, &pw, buf, sizeof(buf), &res) == 0 && res) {
		*uidp = res->pw_uid;
		return 0;
	}
	return -ENOENT;
}

static bool tag_valid(const char *s)
{
	return *s && bhc_arena_tag_valid(s);
}

static void mark(struct ctl *ctl, unsigned int opt, const char *name)
{
	ctl->given |= opt;
	ctl->given_name[__builtin_ctz(opt)] = name;
}

/* One option; returns 0, or an exit code for a usage error. Sets @help/@version. */
static int take_option(struct ctl *ctl, int c, const char *arg, bool *help, bool *version)
{
	char *end;
	uint32_t u;

	switch (c) {
	case 's':
		ctl->socket_opt = arg;
		break;
	case 'j':
		ctl->json = true;
		break;
	case OPT_NO_BARS:
		ctl->bars = false;
		break;
	case 'w':
		if (ctl_parse_u32(arg, &u) < 0 || u > 100000)
			return usage_error("invalid width '%s'", arg);
		ctl->width_opt = u;
		break;
	case 'b':
		ctl->exact = true;
		break;
	case 't': {
		double t = strtod(arg, &end);

		if (*end || end == arg || !(t > 0.0) || t > 3600.0)
			return usage_error("invalid timeout '%s' (seconds, at most 3600)", arg);
		ctl->timeout_ms = (int)(t * 1000.0 + 0.999);
		break;
	}
	case 'p':
		if (ctl_parse_u32(arg, &ctl->pid) < 0 || ctl->pid == 0)
			return usage_error("invalid pid '%s'", arg);
		ctl->has_pid = true;
		mark(ctl, OPT_FILTER, "--pid");
		break;
	case 'u':
		if (parse_uid(arg, &ctl->uid) < 0)
			return usage_error("no such user '%s'", arg);
		ctl->has_uid = true;
		mark(ctl, OPT_FILTER, "--uid");
		break;
	case 'T':
		if (!tag_valid(arg))
			return usage_error(
				"invalid tag '%s' (1 to %u characters of [A-Za-z0-9._:@/+=-])", arg,
				BHC_ARENA_TAG_MAX - 1);
		ctl->tag = arg;
		mark(ctl, OPT_FILTER, "--tag");
		break;
	case 'J':
		errno = 0;
		ctl->job = strtoull(arg, &end, 10);
		if (*end || end == arg || *arg == '-' || errno ||
		    ctl->job > (UINT64_C(1) << 53) - 1)
			return usage_error("invalid job id '%s'", arg);
		ctl->has_job = true;
		mark(ctl, OPT_FILTER, "--job");
		break;
	case 'a':
		ctl->all = true;
		mark(ctl, OPT_ALL, "--all");
		break;
	case 'i':
		ctl->interval = strtod(arg, &end);
		if (*end || end == arg || !(ctl->interval >= 0.1) || ctl->interval > 86400.0)
			return usage_error("invalid interval '%s' (seconds, 0.1 to 86400)", arg);
		mark(ctl, OPT_WATCH, "--interval");
		break;
	case 'n':
		errno = 0;
		ctl->count = strtoul(arg, &end, 10);
		if (*end || end == arg || *arg == '-' || errno || ctl->count == 0)
			return usage_error("invalid count '%s'", arg);
		mark(ctl, OPT_WATCH, "--count");
		break;
	case OPT_WARM:
		ctl->warm_spec = arg;
		mark(ctl, OPT_POOLSET, "--warm");
		break;
	case OPT_TOTAL:
		ctl->total_spec = arg;
		mark(ctl, OPT_POOLSET, "--total");
		break;
	case 'h':
		*help = true;
		break;
	case 'V':
		*version = true;
		break;
	default:
		return usage_error("unknown option");
	}
	return 0;
}

static int parse_options(struct ctl *ctl, int argc, char **argv, bool *help, bool *version)
{
	static const char short_opts[] = "+:s:jw:bt:p:u:T:J:ai:n:hV";
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
		if (c == ':')
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		if (c == '?') {
			if (optopt && optopt < 256)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
		r = take_option(ctl, c, optarg, help, version);
		if (r)
			return r;
	}
	return 0;
}

/* --- requests ------------------------------------------------------------------- */

static struct json_object *request(const char *cmd)
{
	struct json_object *req = json_object_new_object();

	if (req && json_object_object_add(req, "cmd", json_object_new_string(cmd))) {
		json_object_put(req);
		return NULL;
	}
	return req;
}

static int add_filters(struct json_object *req, const struct ctl *ctl)
{
	int r = 0;

	if (ctl->has_pid)
		r = json_object_object_add(req, "pid", json_object_new_int64(ctl->pid));
	if (!r && ctl->has_uid)
		r = json_object_object_add(req, "uid", json_object_new_int64(ctl->uid));
	if (!r && ctl->tag)
		r = json_object_object_add(req, "tag", json_object_new_string(ctl->tag));
	if (!r && ctl->has_job)
		r = json_object_object_add(req, "job", json_object_new_uint64(ctl->job));
	if (!r && ctl->all)
		r = json_object_object_add(req, "warm", json_object_new_boolean(true));
	return r ? -ENOMEM : 0;
}

static int report(const struct ctl_error *err, const char *what)
{
	fprintf(stderr, "bhc-arenactl: %s%s%s\n", what ? what : "", what ? ": " : "", err->text);
	return err->exit;
}

static int connect_daemon(struct ctl *ctl, struct ctl_conn *conn, struct ctl_error *err)
{
	return ctl_connect(conn, ctl->socket, ctl->timeout_ms, err);
}

/*
 * Connect, send @req (consumed) and return the reply. On failure prints
 * why (and with --json the daemon's error object on stdout) and returns
 * the exit code as a positive number.
 */
static int call(struct ctl *ctl, struct json_object *req, const char *what,
		struct json_object **replyp)
{
	struct ctl_conn conn;
	struct ctl_error err;
	int r;

	*replyp = NULL;
	if (!req) {
		fprintf(stderr, "bhc-arenactl: out of memory\n");
		return CTL_EXIT_DAEMON;
	}
	r = connect_daemon(ctl, &conn, &err);
	if (r < 0) {
		json_object_put(req);
		return report(&err, NULL);
	}
	r = ctl_request(&conn, req, replyp, &err);
	ctl_close(&conn);
	json_object_put(req);
	if (r < 0) {
		if (ctl->json && *replyp)
			printf("%s\n", json_object_to_json_string_ext(
					       *replyp, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(*replyp);
		*replyp = NULL;
		return report(&err, what);
	}
	return 0;
}

static int print_json(struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE);

	if (!s) {
		fprintf(stderr, "bhc-arenactl: out of memory\n");
		return CTL_EXIT_DAEMON;
	}
	puts(s);
	return 0;
}

static int finish(FILE *f)
{
	if (fflush(f) == EOF || ferror(f)) {
		if (errno != EPIPE)
			fprintf(stderr, "bhc-arenactl: write error: %s\n", strerror(errno));
		return CTL_EXIT_DAEMON;
	}
	return CTL_EXIT_OK;
}

static void view_of(const struct ctl *ctl, struct ctl_view *v)
{
	memset(v, 0, sizeof(*v));
	v->width = ctl_terminal_width(ctl->width_opt);
	v->bars = ctl->bars;
	v->exact = ctl->exact;
}

/* --- commands ------------------------------------------------------------------- */

static int cmd_status(struct ctl *ctl)
{
	struct ctl_hugepage_pool pools[CTL_HUGEPAGE_POOLS_MAX];
	struct json_object *reply;
	struct ctl_view v;
	int n_pools, r;

	r = call(ctl, request("status"), "status", &reply);
	if (r)
		return r;
	n_pools = ctl_read_hugepage_pools(SYSFS_HUGEPAGES, pools, CTL_HUGEPAGE_POOLS_MAX);
	if (ctl->json) {
		struct json_object *hp =
			ctl_hugepage_pools_json(pools, n_pools > 0 ? (size_t)n_pools : 0);

		if (!hp || json_object_object_add(reply, "system_hugepages", hp)) {
			json_object_put(hp);
			r = CTL_EXIT_DAEMON;
		} else {
			r = print_json(reply);
		}
	} else {
		view_of(ctl, &v);
		r = ctl_show_status(stdout, reply, pools, n_pools, &v) < 0 ? CTL_EXIT_DAEMON : 0;
	}
	json_object_put(reply);
	return r ?: finish(stdout);
}

static int cmd_list(struct ctl *ctl, const char *cmd)
{
	struct json_object *req = request(cmd), *reply;
	bool clients = !strcmp(cmd, "clients");
	struct ctl_view v;
	int r;

	if (req && add_filters(req, ctl) < 0) {
		json_object_put(req);
		req = NULL;
	}
	r = call(ctl, req, cmd, &reply);
	if (r)
		return r;
	if (ctl_add_user_names(ctl_json_array(reply, clients ? "clients" : "regions")) < 0) {
		r = CTL_EXIT_DAEMON;
	} else if (ctl->json) {
		r = print_json(reply);
	} else {
		view_of(ctl, &v);
		r = (clients ? ctl_show_clients(stdout, reply, &v) :
			       ctl_show_regions(stdout, reply, &v));
		r = r < 0 ? CTL_EXIT_DAEMON : 0;
	}
	json_object_put(reply);
	return r ?: finish(stdout);
}

static int cmd_metrics(struct ctl *ctl)
{
	struct ctl_hugepage_pool pools[CTL_HUGEPAGE_POOLS_MAX];
	struct json_object *snap = NULL;
	int n_pools, r, rr;

	r = call(ctl, request("snapshot"), "metrics", &snap);
	n_pools = ctl_read_hugepage_pools(SYSFS_HUGEPAGES, pools, CTL_HUGEPAGE_POOLS_MAX);
	/* without the daemon the exposition still says so: bhc_arena_up 0 */
	rr = ctl_prom_render(stdout, snap, pools, n_pools > 0 ? (size_t)n_pools : 0);
	json_object_put(snap);
	if (r)
		return r;
	return rr < 0 ? CTL_EXIT_DAEMON : finish(stdout);
}

static int cmd_pool(struct ctl *ctl)
{
	struct json_object *reply;
	struct ctl_view v;
	int r;

	r = call(ctl, request("status"), "pool", &reply);
	if (r)
		return r;
	if (ctl->json) {
		struct json_object *pool = ctl_json_object(reply, "pool");

		r = pool ? print_json(pool) : CTL_EXIT_PROTOCOL;
	} else {
		view_of(ctl, &v);
		r = ctl_show_pool(stdout, reply, &v) < 0 ? CTL_EXIT_DAEMON : 0;
	}
	json_object_put(reply);
	return r ?: finish(stdout);
}

/* The "changes" of a pool-set or reload reply, one per line. */
static void print_changes(struct json_object *reply)
{
	struct json_object *msgs = ctl_json_array(reply, "changes");
	size_t i, n = msgs ? json_object_array_length(msgs) : 0;
	char text[512];

	if (!n)
		printf("nothing changed\n");
	for (i = 0; i < n; i++) {
		struct json_object *m = json_object_array_get_idx(msgs, i);

		if (json_object_is_type(m, json_type_string))
			printf("changed  %s\n",
			       ctl_sanitize(json_object_get_string(m), text, sizeof(text)));
	}
}

static struct json_object *pool_set_request(const struct ctl *ctl, int *exitp)
{
	struct ctl_warm_target targets[CTL_WARM_MAX];
	struct json_object *req, *arr;
	size_t i, n;
	uint64_t total;
	int r;

	*exitp = 0;
	if (!ctl->warm_spec && !ctl->total_spec) {
		*exitp = usage_error("pool set: nothing to set: give --warm and/or --total");
		return NULL;
	}
	req = request("pool-set");
	if (!req)
		goto out_oom;
	if (ctl->warm_spec) {
		r = ctl_parse_warm(ctl->warm_spec, targets, CTL_WARM_MAX, &n);
		if (r < 0) {
			json_object_put(req);
			*exitp = usage_error(
				"pool set: invalid --warm '%s': %s (want SIZE:COUNT[,SIZE:COUNT...], e.g. 16M:4,64M:2, at most %d entries, or none)",
				ctl->warm_spec, strerror(-r), CTL_WARM_MAX);
			return NULL;
		}
		arr = json_object_new_array();
		if (!arr || json_object_object_add(req, "warm", arr)) {
			json_object_put(arr);
			goto out_put;
		}
		for (i = 0; i < n; i++) {
			struct json_object *t = json_object_new_object();

			if (!t || json_object_array_add(arr, t)) {
				json_object_put(t);
				goto out_put;
			}
			if (json_object_object_add(t, "size",
						   json_object_new_uint64(targets[i].size)) ||
			    json_object_object_add(t, "count",
						   json_object_new_int64(targets[i].count)))
				goto out_put;
		}
	}
	if (ctl->total_spec) {
		r = size_parse(ctl->total_spec, &total);
		if (r < 0) {
			json_object_put(req);
			*exitp = usage_error(
				"pool set: invalid --total '%s': %s (want a size such as 4G)",
				ctl->total_spec, strerror(-r));
			return NULL;
		}
		if (json_object_object_add(req, "total", json_object_new_uint64(total)))
			goto out_put;
	}
	return req;

out_put:
	json_object_put(req);
out_oom:
	fprintf(stderr, "bhc-arenactl: out of memory\n");
	*exitp = CTL_EXIT_DAEMON;
	return NULL;
}

static int cmd_pool_set(struct ctl *ctl)
{
	struct json_object *req, *reply;
	struct ctl_view v;
	int r;

	req = pool_set_request(ctl, &r);
	if (!req)
		return r;
	r = call(ctl, req, "pool set", &reply);
	if (r)
		return r;
	if (ctl->json) {
		r = print_json(reply);
	} else {
		print_changes(reply);
		view_of(ctl, &v);
		r = ctl_show_pool(stdout, reply, &v) < 0 ? CTL_EXIT_DAEMON : 0;
	}
	json_object_put(reply);
	return r ?: finish(stdout);
}

static int cmd_reload(struct ctl *ctl)
{
	struct json_object *reply;
	char text[512];
	int r;

	r = call(ctl, request("reload"), "reload", &reply);
	if (r)
		return r;
	if (ctl->json) {
		r = print_json(reply);
	} else {
		ctl_sanitize(ctl_json_str(reply, "config_file", "(built-in defaults)"), text,
			     sizeof(text));
		printf("bhc-arenad reloaded its configuration from %s\n", text);
		print_changes(reply);
	}
	json_object_put(reply);
	return r ?: finish(stdout);
}

static int cmd_version(struct ctl *ctl)
{
	struct json_object *reply;
	char ver[64];
	int r;

	printf("bhc-arenactl %s\n", PACKAGE_VERSION);
	fflush(stdout);
	r = call(ctl, request("status"), "version", &reply);
	if (r)
		return r;
	ctl_sanitize(ctl_json_str(ctl_json_object(reply, "daemon"), "version", "?"), ver,
		     sizeof(ver));
	printf("bhc-arenad %s (admin schema %" PRIu64 ") at %s\n", ver,
	       ctl_json_u64(reply, "schema", 0), ctl->socket);
	json_object_put(reply);
	return finish(stdout);
}

/* --- watch ---------------------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t resized;
static struct termios saved_tty;
static bool tty_raw;

static void on_stop(int sig)
{
	stop_requested = 1;
}

static void on_winch(int sig)
{
	resized = 1;
}

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_raw = false;
}

/* Keys without Enter and without echo; Ctrl-C still raises SIGINT. */
static void tty_keys(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return;
	t = saved_tty;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
		tty_raw = true;
		atexit(tty_restore);
	}
}

static void watch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: a signal ends the wait at once */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
}

/* Wait up to @ms for the interval to pass, a key or a signal; true if the user wants out. */
static bool watch_wait(int ms)
{
	struct timespec start, now;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	bool keys = tty_raw;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		long left;
		int n;

		if (stop_requested)
			return true;
		if (resized) {
			resized = 0;
			return false;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = ms - ((now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0)
			return false;
		n = poll(keys ? &pfd : NULL, keys ? 1 : 0, (int)left);
		if (n > 0 && keys) {
			char c;

			if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
				return true;
			if (pfd.revents & (POLLHUP | POLLERR))
				keys = false;
		}
	}
}

static int watch_frame(struct ctl *ctl, struct ctl_conn *conn, bool tty, int *exitp)
{
	struct json_object *req = request("snapshot"), *snap = NULL;
	struct ctl_error err;
	struct ctl_view v;
	char *frame = NULL;
	size_t frame_len = 0;
	FILE *mem;
	int r;

	if (!req || add_filters(req, ctl) < 0) {
		json_object_put(req);
		return -ENOMEM;
	}
	if (conn->fd < 0 && connect_daemon(ctl, conn, &err) < 0)
		goto out_error;
	if (ctl_request(conn, req, &snap, &err) < 0) {
		/* a dead daemon is waited for; anything else is reported each round */
		if (err.exit == CTL_EXIT_CONNECT || err.exit == CTL_EXIT_PROTOCOL)
			ctl_close(conn);
		goto out_error;
	}
	json_object_put(req);
	*exitp = 0;
	if (ctl->json) {
		ctl_add_user_names(ctl_json_array(snap, "clients"));
		ctl_add_user_names(ctl_json_array(snap, "regions"));
		printf("%s\n",
		       json_object_to_json_string_ext(
			       snap, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(snap);
		return fflush(stdout) == EOF ? -EIO : 0;
	}
	view_of(ctl, &v);
	mem = open_memstream(&frame, &frame_len);
	if (!mem) {
		json_object_put(snap);
		return -ENOMEM;
	}
	r = ctl_show_watch(mem, snap, &v, tty ? ctl_terminal_height() : 0);
	json_object_put(snap);
	if (fclose(mem) != 0 || r < 0) {
		free(frame);
		return r < 0 ? r : -ENOMEM;
	}
	/* the whole frame in one write: no flicker */
	if (tty)
		fputs("\033[H\033[2J", stdout);
	fwrite(frame, 1, frame_len, stdout);
	if (!tty)
		putchar('\n');
	free(frame);
	return fflush(stdout) == EOF ? -EIO : 0;

out_error:
	json_object_put(req);
	*exitp = err.exit;
	if (tty)
		fputs("\033[H\033[2J", stdout);
	if (ctl->json)
		fprintf(stderr, "bhc-arenactl: watch: %s\n", err.text);
	else
		printf("bhc-arenactl: %s (retrying every %gs)\n\n", err.text, ctl->interval);
	return fflush(stdout) == EOF ? -EIO : 0;
}

static int cmd_watch(struct ctl *ctl)
{
	struct ctl_conn conn = { .fd = -1 };
	bool tty = isatty(STDOUT_FILENO) && !ctl->json;
	unsigned long i;
	int exit_code = 0, r = 0;

	watch_signals();
	if (tty)
		tty_keys();
	for (i = 0; !ctl->count || i < ctl->count; i++) {
		r = watch_frame(ctl, &conn, tty, &exit_code);
		if (r < 0)
			break;
		/* permission problems do not go away by waiting */
		if (exit_code == CTL_EXIT_DENIED || exit_code == CTL_EXIT_USAGE)
			break;
		if ((ctl->count && i + 1 == ctl->count) ||
		    watch_wait((int)(ctl->interval * 1000.0)))
			break;
	}
	ctl_close(&conn);
	tty_restore();
	if (r < 0) {
		if (r != -EIO || errno != EPIPE)
			fprintf(stderr, "bhc-arenactl: watch: %s\n", strerror(-r));
		return CTL_EXIT_DAEMON;
	}
	/* stopped by the user: fine; stopped by --count: the last round's result */
	return stop_requested ? CTL_EXIT_OK : exit_code;
}

/* --- main ----------------------------------------------------------------------- */

static int find_command(struct ctl *ctl, int argc, char **argv, unsigned int *allowedp)
{
	const char *name = argv[optind];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].name, name))
			continue;
		ctl->cmd = commands[i].cmd;
		*allowedp = commands[i].opts;
		optind++;
		if (ctl->cmd != CMD_POOL)
			return 0;
		/* pool [show] | pool set */
		if (optind < argc && !strcmp(argv[optind], "show")) {
			optind++;
		} else if (optind < argc && !strcmp(argv[optind], "set")) {
			ctl->cmd = CMD_POOL_SET;
			optind++;
		} else if (optind < argc && argv[optind][0] != '-') {
			return usage_error("pool: unknown action '%s' (show or set)", argv[optind]);
		}
		return 0;
	}
	return usage_error("unknown command '%s'", name);
}

int main(int argc, char **argv)
{
	struct ctl ctl = { .bars = true, .width_opt = -1, .timeout_ms = 5000, .interval = 2.0 };
	unsigned int allowed = 0;
	bool help = false, version = false;
	int cmd_index, r;

	signal(SIGPIPE, SIG_IGN);
	r = parse_options(&ctl, argc, argv, &help, &version);
	if (r)
		return r;
	if (version) {
		printf("bhc-arenactl %s\n", PACKAGE_VERSION);
		return finish(stdout);
	}
	if (help || optind >= argc) {
		usage(help ? stdout : stderr);
		return help ? finish(stdout) : CTL_EXIT_USAGE;
	}
	cmd_index = optind;
	r = find_command(&ctl, argc, argv, &allowed);
	if (r)
		return r;
	/* options may follow the command too */
	r = parse_options(&ctl, argc, argv, &help, &version);
	if (r)
		return r;
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (ctl.cmd == CMD_POOL)
		allowed = 0;
	if (ctl.given & ~allowed)
		return usage_error("option '%s' does not apply to '%s%s'",
				   ctl.given_name[__builtin_ctz(ctl.given & ~allowed)],
				   argv[cmd_index], ctl.cmd == CMD_POOL ? " show" : "");
	if (help || ctl.cmd == CMD_HELP) {
		usage(stdout);
		return finish(stdout);
	}
	if (ctl_socket_path(ctl.socket_opt, ctl.socket, sizeof(ctl.socket)) < 0)
		return usage_error("socket path too long (at most %zu bytes)",
				   sizeof(ctl.socket) - 1);

	switch (ctl.cmd) {
	case CMD_STATUS:
		return cmd_status(&ctl);
	case CMD_CLIENTS:
		return cmd_list(&ctl, "clients");
	case CMD_REGIONS:
		return cmd_list(&ctl, "regions");
	case CMD_METRICS:
		return cmd_metrics(&ctl);
	case CMD_WATCH:
		return cmd_watch(&ctl);
	case CMD_POOL:
		return cmd_pool(&ctl);
	case CMD_POOL_SET:
		return cmd_pool_set(&ctl);
	case CMD_RELOAD:
		return cmd_reload(&ctl);
	case CMD_VERSION:
		return cmd_version(&ctl);
	case CMD_HELP:
		break;
	}
	return CTL_EXIT_OK;
}
