/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl against a real bhc-arenad: every command, with real clients
 * (tests/lease-holder) holding real regions, the output parsed with json-c
 * and compared with what the clients know they hold. Also: a client that
 * scribbles over its header or punches it out, a non-admin user (run with
 * setpriv) denied changes and seeing only its own rows, a member of the
 * admin group seeing everything, the metrics checked by promtool, watch,
 * the terminal width, the exit codes, and malformed admin requests sent raw.
 *
 * Each test starts its own daemon on a private socket in a temporary
 * directory (world-traversable, socket mode 0666, so other uids can connect).
 * The regions are whatever the daemon can make (policy prefer): the tests
 * compare what clients were granted with what the CLI shows, whatever the
 * backing, and do not take the shared hugepage reservation lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include <bhc/arena-protocol.h>

#include "../ctl/arenactl.h"
#include "tap.h"

#define NOBODY 65534
#define REGION_SIZE (4u << 20)
#define RUN_TIMEOUT_MS 30000

/* --- processes ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Output and exit status of a finished command. */
struct run {
	int status; /* exit code, or 128 + signal */
	char *out;
	char *err;
};

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

static void append(char **buf, size_t *len, const char *data, size_t n)
{
	char *p = realloc(*buf, *len + n + 1);

	ck_assert_ptr_nonnull(p);
	memcpy(p + *len, data, n);
	*len += n;
	p[*len] = '\0';
	*buf = p;
}

/*
 * Run @argv (NULL-terminated) with @input on stdin, COLUMNS=@columns (NULL:
 * unset) and wait for it, reading stdout and stderr; fails the test if it
 * takes longer than RUN_TIMEOUT_MS.
 */
static void run_argv(struct run *r, const char *const *argv, const char *input, const char *columns)
{
	int out[2], err[2], in[2];
	size_t out_len = 0, err_len = 0;
	int64_t deadline = now_ms() + RUN_TIMEOUT_MS;
	bool out_open = true, err_open = true;
	pid_t pid;
	int ws;

	memset(r, 0, sizeof(*r));
	append(&r->out, &out_len, "", 0);
	append(&r->err, &err_len, "", 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(err, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (columns)
			setenv("COLUMNS", columns, 1);
		else
			unsetenv("COLUMNS");
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	close(in[0]);
	if (input && *input)
		ck_assert_int_eq(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);
	while (out_open || err_open) {
		struct pollfd p[2] = { { .fd = out_open ? out[0] : -1, .events = POLLIN },
				       { .fd = err_open ? err[0] : -1, .events = POLLIN } };
		int64_t left = deadline - now_ms();
		char buf[65536];
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			ck_abort_msg("%s took longer than %d ms", argv[0], RUN_TIMEOUT_MS);
		}
		if (poll(p, 2, (int)left) <= 0)
			continue;
		if (out_open && p[0].revents) {
			n = read(out[0], buf, sizeof(buf));
			if (n <= 0)
				out_open = false;
			else
				append(&r->out, &out_len, buf, (size_t)n);
		}
		if (err_open && p[1].revents) {
			n = read(err[0], buf, sizeof(buf));
			if (n <= 0)
				err_open = false;
			else
				append(&r->err, &err_len, buf, (size_t)n);
		}
	}
	close(out[0]);
	close(err[0]);
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	r->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

/* A user to run a command as: NULL is ourselves. */
struct as {
	uid_t uid;
	gid_t gid;
	const char *groups; /* setpriv --groups value, NULL: --clear-groups */
};

static const struct as nobody = { NOBODY, NOBODY, NULL };

#define MAX_ARGS 40

/* Prefix @argv with setpriv for @as into @full. */
static void as_argv(const char **full, size_t *n, const struct as *as, char bufs[3][64])
{
	*n = 0;
	if (!as)
		return;
	snprintf(bufs[0], 64, "--reuid=%u", (unsigned int)as->uid);
	snprintf(bufs[1], 64, "--regid=%u", (unsigned int)as->gid);
	full[(*n)++] = "setpriv";
	full[(*n)++] = bufs[0];
	full[(*n)++] = bufs[1];
	if (as->groups) {
		snprintf(bufs[2], 64, "--groups=%s", as->groups);
		full[(*n)++] = bufs[2];
	} else {
		full[(*n)++] = "--clear-groups";
	}
	full[(*n)++] = "--";
}

static const char *env_path(const char *name)
{
	const char *v = getenv(name);

	ck_assert_msg(v && *v, "%s is not set (run through make check)", name);
	return v;
}

/* --- the daemon ------------------------------------------------------------------ */

struct daemon {
	pid_t pid;
	char dir[64];
	char sock[128];
	char conf[128];
	char log[128];
};

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void write_config(const struct daemon *d, const char *admin_group, const char *extra)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "[daemon]\nsocket = %s\nsocket_mode = 0666\nadmin_group = %s\nlog_level = info\n"
		 "[pool]\nhugepages = prefer\nwarm = none\nmax_region_size = 64M\n"
		 "[limits]\ntotal = 256M\n%s",
		 d->sock, admin_group, extra ? extra : "");
	write_text(d->conf, text);
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	append(&buf, &len, "", 0);
	if (fd < 0)
		return buf;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		append(&buf, &len, chunk, (size_t)n);
	close(fd);
	return buf;
}

static bool can_connect(const char *path)
{
	struct ctl_conn conn;
	struct ctl_error err;

	if (ctl_connect(&conn, path, 2000, &err) < 0)
		return false;
	ctl_close(&conn);
	return true;
}

/* Start bhc-arenad with @admin_group as the admin group; wait until it answers. */
static void daemon_start(struct daemon *d, const char *admin_group, const char *extra)
{
	int64_t deadline;
	int fd;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/arenactl-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	/* other uids must reach the socket */
	ck_assert_int_eq(chmod(d->dir, 0755), 0);
	snprintf(d->sock, sizeof(d->sock), "%s/arenad.sock", d->dir);
	snprintf(d->conf, sizeof(d->conf), "%s/arenad.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/arenad.log", d->dir);
	write_config(d, admin_group, extra);
	d->pid = fork();
	ck_assert_int_ge(d->pid, 0);
	if (d->pid == 0) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl(env_path("BHC_ARENAD"), "bhc-arenad", "--config", d->conf, (char *)NULL);
		_exit(127);
	}
	deadline = now_ms() + 15000;
	while (!can_connect(d->sock)) {
		int ws;

		if (waitpid(d->pid, &ws, WNOHANG) == d->pid)
			ck_abort_msg("bhc-arenad exited at start (status %d): %s", ws,
				     slurp(d->log));
		ck_assert_msg(now_ms() < deadline, "bhc-arenad did not answer: %s", slurp(d->log));
		usleep(20000);
	}
}

/* Stop the daemon; it must exit cleanly. */
static void daemon_stop(struct daemon *d)
{
	int64_t deadline = now_ms() + 15000;
	char cmd[128];
	int ws = 0;

	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		while (waitpid(d->pid, &ws, WNOHANG) == 0) {
			if (now_ms() > deadline) {
				kill(d->pid, SIGKILL);
				waitpid(d->pid, &ws, 0);
				ck_abort_msg("bhc-arenad did not stop on SIGTERM: %s",
					     slurp(d->log));
			}
			usleep(10000);
		}
		ck_assert_msg(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
			      "bhc-arenad exited with status %#x: %s", ws, slurp(d->log));
		d->pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Run bhc-arenactl --socket SOCK @args... as @as with COLUMNS=@columns. */
static void ctl(struct run *r, const struct daemon *d, const struct as *as, const char *columns,
		...)
{
	const char *argv[MAX_ARGS];
	char bufs[3][64];
	size_t n;
	va_list ap;
	const char *a;

	as_argv(argv, &n, as, bufs);
	argv[n++] = env_path("BHC_ARENACTL");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	va_start(ap, columns);
	while ((a = va_arg(ap, const char *)) && n < MAX_ARGS - 1)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	run_argv(r, argv, NULL, columns);
}

/* Run bhc-arenactl and parse its stdout as one JSON object; it must exit @want. */
static struct json_object *ctl_json(const struct daemon *d, const struct as *as, int want, ...)
{
	const char *argv[MAX_ARGS];
	char bufs[3][64];
	struct json_object *j;
	struct run r;
	size_t n;
	va_list ap;
	const char *a;

	as_argv(argv, &n, as, bufs);
	argv[n++] = env_path("BHC_ARENACTL");
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	argv[n++] = "--json";
	va_start(ap, want);
	while ((a = va_arg(ap, const char *)) && n < MAX_ARGS - 1)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	run_argv(&r, argv, NULL, NULL);
	ck_assert_msg(r.status == want, "%s %s: exit %d, wanted %d; stderr: %s; stdout: %s",
		      argv[n - 1], "--json", r.status, want, r.err, r.out);
	j = json_tokener_parse(r.out);
	ck_assert_msg(j, "not JSON: %s", r.out);
	run_free(&r);
	return j;
}

/* --- clients holding regions ---------------------------------------------------- */

struct holder {
	pid_t pid;
	int out; /* its stdout */
	char line[8192];
	struct json_object *info; /* the last report */
};

static void holder_read(struct holder *h, const char *want_event)
{
	size_t len = 0;
	int64_t deadline = now_ms() + 20000;

	json_object_put(h->info);
	h->info = NULL;
	for (;;) {
		struct pollfd p = { .fd = h->out, .events = POLLIN };
		ssize_t n;

		ck_assert_msg(now_ms() < deadline, "lease-holder %d said nothing", (int)h->pid);
		if (poll(&p, 1, 100) <= 0)
			continue;
		ck_assert_uint_lt(len, sizeof(h->line) - 1);
		n = read(h->out, h->line + len, 1);
		ck_assert_msg(n == 1, "lease-holder %d ended: %.*s", (int)h->pid, (int)len,
			      h->line);
		if (h->line[len] == '\n')
			break;
		len++;
	}
	h->line[len] = '\0';
	h->info = json_tokener_parse(h->line);
	ck_assert_msg(h->info, "lease-holder said: %s", h->line);
	ck_assert_msg(!strcmp(ctl_json_str(h->info, "event", ""), want_event),
		      "lease-holder said %s, wanted event %s", h->line, want_event);
}

/* Start a lease-holder as @as holding @n regions of REGION_SIZE with @used bytes each. */
static void holder_start(struct holder *h, const struct daemon *d, const struct as *as,
			 const char *tag, const char *n, const char *used, ...)
{
	const char *argv[MAX_ARGS];
	char bufs[3][64], path[512];
	int out[2];
	size_t i;
	va_list ap;
	const char *a;

	memset(h, 0, sizeof(*h));
	snprintf(path, sizeof(path), "%s/tests/lease-holder", env_path("abs_top_builddir"));
	as_argv(argv, &i, as, bufs);
	argv[i++] = path;
	argv[i++] = "--socket";
	argv[i++] = d->sock;
	argv[i++] = "--regions";
	argv[i++] = n;
	argv[i++] = "--size";
	argv[i++] = "4M";
	argv[i++] = "--used";
	argv[i++] = used;
	argv[i++] = "--die-with-parent";
	if (tag) {
		argv[i++] = "--tag";
		argv[i++] = tag;
	}
	va_start(ap, used);
	while ((a = va_arg(ap, const char *)) && i < MAX_ARGS - 1)
		argv[i++] = a;
	va_end(ap);
	argv[i] = NULL;
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	h->pid = fork();
	ck_assert_int_ge(h->pid, 0);
	if (h->pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	h->out = out[0];
	holder_read(h, "holding");
}

static void holder_stop(struct holder *h)
{
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		waitpid(h->pid, NULL, 0);
		close(h->out);
	}
	json_object_put(h->info);
	memset(h, 0, sizeof(*h));
}

static uint64_t hu(const struct holder *h, const char *key)
{
	return ctl_json_u64(h->info, key, UINT64_MAX);
}

/* --- reading replies ---------------------------------------------------------------- */

/* Member at a dotted @path ("pool.leased") of @o, or NULL. */
static struct json_object *jpath(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t len = strcspn(path, ".");

		ck_assert_uint_lt(len, sizeof(key));
		memcpy(key, path, len);
		key[len] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return NULL;
		path += len + (path[len] == '.');
	}
	return o;
}

static uint64_t ju(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	ck_assert_msg(v && json_object_is_type(v, json_type_int), "%s is not an integer in %s",
		      path, json_object_to_json_string(o));
	ck_assert_int_ge(json_object_get_int64(v), 0);
	return json_object_get_uint64(v);
}

static const char *js(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	ck_assert_msg(v && json_object_is_type(v, json_type_string), "%s is not a string in %s",
		      path, json_object_to_json_string(o));
	return json_object_get_string(v);
}

static struct json_object *jarr(struct json_object *o, const char *path)
{
	struct json_object *v = jpath(o, path);

	ck_assert_msg(v && json_object_is_type(v, json_type_array), "%s is not an array", path);
	return v;
}

/* The row of array @arr whose @key is @value, or NULL. */
static struct json_object *find_row(struct json_object *arr, const char *key, uint64_t value)
{
	size_t i;

	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *row = json_object_array_get_idx(arr, i);

		if (ctl_json_u64(row, key, UINT64_MAX) == value)
			return row;
	}
	return NULL;
}

static const char *backing_of(uint64_t b)
{
	return b == BHC_ARENA_BACKING_HUGETLB ? "hugetlb" :
	       b == BHC_ARENA_BACKING_THP     ? "thp" :
	       b == BHC_ARENA_BACKING_SMALL   ? "small" :
						"?";
}

/* A client row must say exactly what the holder knows. */
static void check_client_row(struct json_object *clients, const struct holder *h, uid_t uid)
{
	struct json_object *row = find_row(clients, "pid", hu(h, "pid"));

	ck_assert_msg(row, "no client row for pid %" PRIu64, hu(h, "pid"));
	ck_assert_uint_eq(ju(row, "id"), hu(h, "client_id"));
	ck_assert_uint_eq(ju(row, "uid"), uid);
	ck_assert_str_eq(js(row, "tag"), ctl_json_str(h->info, "tag", "?"));
	ck_assert_str_eq(js(row, "comm"), "lease-holder");
	ck_assert_uint_eq(ju(row, "regions"), json_object_array_length(jarr(h->info, "regions")));
	ck_assert_uint_eq(ju(row, "leased"), hu(h, "leased"));
	ck_assert_uint_eq(ju(row, "used"), hu(h, "used"));
	ck_assert_uint_eq(ju(row, "high_water"), hu(h, "high_water"));
	ck_assert_uint_eq(ju(row, "allocs"), hu(h, "allocs"));
	ck_assert_uint_eq(ju(row, "resets"), hu(h, "resets"));
	ck_assert_uint_eq(ju(row, "header_invalid"), 0);
	ck_assert_uint_ge(ju(row, "connected"), (uint64_t)time(NULL) - 120);
}

/* Every region of @h must be in @regions, as the holder knows it. */
static void check_region_rows(struct json_object *regions, const struct holder *h,
			      uint64_t used_each, uint64_t allocs_each)
{
	struct json_object *mine = jarr(h->info, "regions");
	size_t i;

	for (i = 0; i < json_object_array_length(mine); i++) {
		struct json_object *m = json_object_array_get_idx(mine, i);
		struct json_object *row = find_row(regions, "id", ju(m, "id"));

		ck_assert_msg(row, "region %" PRIu64 " not listed", ju(m, "id"));
		ck_assert_str_eq(js(row, "state"), "leased");
		ck_assert_uint_eq(ju(row, "client"), hu(h, "client_id"));
		ck_assert_uint_eq(ju(row, "pid"), hu(h, "pid"));
		ck_assert_uint_eq(ju(row, "size"), ju(m, "size"));
		ck_assert_uint_eq(ju(row, "capacity"), ju(m, "capacity"));
		ck_assert_str_eq(js(row, "backing"), backing_of(ju(m, "backing")));
		ck_assert_uint_eq(ju(row, "page_size"), ju(m, "page_size"));
		ck_assert_uint_eq(ju(row, "used"), used_each);
		ck_assert_uint_eq(ju(row, "high_water"), used_each);
		ck_assert_uint_eq(ju(row, "allocs"), allocs_each);
		ck_assert_str_eq(js(row, "header"), "ok");
		ck_assert_uint_le(ju(row, "age"), 120);
	}
}

static void assert_lines_within(const char *text, size_t width)
{
	const char *p = text;

	while (*p) {
		size_t len = strcspn(p, "\n");

		ck_assert_msg(len <= width, "line of %zu > %zu columns: '%.*s'", len, width,
			      (int)len, p);
		p += len + (p[len] == '\n');
	}
}

static size_t count_substr(const char *s, const char *sub)
{
	size_t n = 0;

	while ((s = strstr(s, sub))) {
		n++;
		s += strlen(sub);
	}
	return n;
}

static void need_root(void)
{
	if (geteuid() != 0)
		bhc_test_skip("needs root to run clients under another uid with setpriv");
	if (system("command -v setpriv >/dev/null 2>&1") != 0)
		bhc_test_skip("setpriv (util-linux) is not installed");
}

/* --- tests -------------------------------------------------------------------------- */

START_TEST(test_status)
{
	struct daemon d;
	struct holder a, b;
	struct json_object *s, *backings, *hp;
	uint64_t regions = 0, bytes = 0, used = 0;
	struct run r;
	size_t i;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&a, &d, NULL, "job-a", "2", "1000000", "--allocs", "7", NULL);
	holder_start(&b, &d, NULL, "job-b", "1", "65536", NULL);

	s = ctl_json(&d, NULL, 0, "status", NULL);
	ck_assert_uint_eq(ju(s, "schema"), 1);
	ck_assert(json_object_get_boolean(jpath(s, "ok")));
	ck_assert_str_eq(js(s, "cmd"), "status");
	ck_assert_str_eq(js(s, "scope"), "all");
	ck_assert(json_object_get_boolean(jpath(s, "viewer.admin")));
	ck_assert_uint_eq(ju(s, "daemon.pid"), (uint64_t)d.pid);
	ck_assert_str_eq(js(s, "daemon.config_file"), d.conf);
	ck_assert_str_eq(js(s, "daemon.socket"), d.sock);
	ck_assert_str_eq(js(s, "daemon.version"), PACKAGE_VERSION);
	ck_assert_uint_le(ju(s, "daemon.uptime"), 120);
	ck_assert_uint_eq(ju(s, "pool.total"), 256u << 20);
	ck_assert_uint_eq(ju(s, "pool.page_size"), 2u << 20);
	ck_assert_str_eq(js(s, "pool.policy"), "prefer");
	ck_assert_uint_eq(ju(s, "pool.leased"), hu(&a, "leased") + hu(&b, "leased"));
	ck_assert_uint_eq(ju(s, "pool.reserved"),
			  ju(s, "pool.leased") + ju(s, "pool.warm") + ju(s, "pool.pending"));
	ck_assert_uint_eq(ju(s, "pool.free"), ju(s, "pool.total") - ju(s, "pool.reserved"));
	ck_assert_uint_eq(ju(s, "sessions.clients"), 2);
	ck_assert_uint_eq(ju(s, "sessions.users"), 1);
	ck_assert_uint_ge(ju(s, "sessions.admin"), 1);
	ck_assert_uint_ge(ju(s, "counters.grants"), 3);
	backings = jarr(s, "backings");
	for (i = 0; i < json_object_array_length(backings); i++) {
		struct json_object *bk = json_object_array_get_idx(backings, i);

		regions += ju(bk, "leased.regions");
		bytes += ju(bk, "leased.bytes");
		used += ju(bk, "leased.used");
	}
	ck_assert_uint_eq(regions, 3);
	ck_assert_uint_eq(bytes, ju(s, "pool.leased"));
	ck_assert_uint_eq(used, hu(&a, "used") + hu(&b, "used"));
	/* the system pools as sysfs shows them */
	hp = jarr(s, "system_hugepages");
	for (i = 0; i < json_object_array_length(hp); i++) {
		struct json_object *p = json_object_array_get_idx(hp, i);

		if (ju(p, "page_size") == 2u << 20)
			ck_assert_int_eq((long)ju(p, "total") >= (long)ju(p, "free"), 1);
	}
	ck_assert_uint_ge(json_object_array_length(hp), 1);
	json_object_put(s);

	/* and for a person */
	ctl(&r, &d, NULL, NULL, "status", NULL);
	ck_assert_msg(r.status == 0, "status: %d %s", r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "bhc-arenad " PACKAGE_VERSION));
	ck_assert_ptr_nonnull(strstr(r.out, "leased    ["));
	ck_assert_ptr_nonnull(strstr(r.out, "system hugepage pools"));
	ck_assert_ptr_nonnull(strstr(r.out, d.conf));
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "pool", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "limit 256M"));
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "version", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "bhc-arenad " PACKAGE_VERSION));
	run_free(&r);

	holder_stop(&a);
	holder_stop(&b);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_clients)
{
	struct daemon d;
	struct holder a, b;
	struct json_object *c, *rows;
	char pid[32];
	struct run r;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&a, &d, NULL, "job-a", "2", "1048576", "--allocs", "11", "--resets", "2",
		     "--high-water", "2000000", NULL);
	holder_start(&b, &d, NULL, NULL, "1", "12345", "--allocs", "1", NULL);

	c = ctl_json(&d, NULL, 0, "clients", NULL);
	rows = jarr(c, "clients");
	ck_assert_uint_eq(json_object_array_length(rows), 2);
	check_client_row(rows, &a, getuid());
	check_client_row(rows, &b, getuid());
	{
		char name[64];

		ck_assert_str_eq(js(json_object_array_get_idx(rows, 0), "user"),
				 ctl_user_name(getuid(), name, sizeof(name)));
	}
	json_object_put(c);

	/* filters */
	snprintf(pid, sizeof(pid), "%" PRIu64, hu(&b, "pid"));
	c = ctl_json(&d, NULL, 0, "clients", "--pid", pid, NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(c, "clients")), 1);
	check_client_row(jarr(c, "clients"), &b, getuid());
	json_object_put(c);
	c = ctl_json(&d, NULL, 0, "clients", "--tag", "job-a", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(c, "clients")), 1);
	check_client_row(jarr(c, "clients"), &a, getuid());
	json_object_put(c);
	c = ctl_json(&d, NULL, 0, "clients", "--tag", "no-such-job", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(c, "clients")), 0);
	json_object_put(c);
	c = ctl_json(&d, NULL, 0, "clients", "--uid", "4242", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(c, "clients")), 0);
	json_object_put(c);

	/* the table */
	ctl(&r, &d, NULL, NULL, "clients", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "lease-holder"));
	ck_assert_ptr_nonnull(strstr(r.out, "job-a"));
	ck_assert_ptr_nonnull(strstr(r.out, pid));
	ck_assert_int_eq(count_substr(r.out, "\n"), 3);
	run_free(&r);

	/* a client that goes away is gone from the list */
	holder_stop(&b);
	for (int i = 0; i < 200; i++) {
		size_t n;

		c = ctl_json(&d, NULL, 0, "clients", NULL);
		n = json_object_array_length(jarr(c, "clients"));
		json_object_put(c);
		if (n == 1)
			break;
		ck_assert_int_lt(i, 199);
		usleep(20000);
	}
	holder_stop(&a);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_regions)
{
	struct daemon d;
	struct holder a, b;
	struct json_object *j, *rows;
	struct run r;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&a, &d, NULL, "job-a", "3", "300000", "--allocs", "5", NULL);
	holder_start(&b, &d, NULL, "job-b", "1", "4000000", "--allocs", "9", "--no-huge", NULL);

	j = ctl_json(&d, NULL, 0, "regions", NULL);
	rows = jarr(j, "regions");
	ck_assert_uint_eq(json_object_array_length(rows), 4);
	check_region_rows(rows, &a, 300000, 5);
	check_region_rows(rows, &b, 4000000, 9);
	ck_assert_str_ne(js(find_row(rows, "pid", hu(&b, "pid")), "backing"), "hugetlb");
	json_object_put(j);

	j = ctl_json(&d, NULL, 0, "regions", "--tag", "job-b", NULL);
	rows = jarr(j, "regions");
	ck_assert_uint_eq(json_object_array_length(rows), 1);
	check_region_rows(rows, &b, 4000000, 9);
	json_object_put(j);

	ctl(&r, &d, NULL, NULL, "regions", "--no-bars", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(count_substr(r.out, "job-a"), 3);
	ck_assert_int_eq(count_substr(r.out, "\n"), 5);
	ck_assert_ptr_null(strstr(r.out, "[#"));
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "--bytes", "regions", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, " 4000000 "));
	run_free(&r);

	holder_stop(&a);
	holder_stop(&b);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_scribble)
{
	struct daemon d;
	struct holder good, bad;
	struct json_object *j, *row;
	struct run r;
	size_t i;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&good, &d, NULL, "good", "1", "1000", NULL);
	holder_start(&bad, &d, NULL, "bad", "2", "5000", NULL);
	kill(bad.pid, SIGUSR1);
	holder_read(&bad, "scribbled");

	j = ctl_json(&d, NULL, 0, "regions", NULL);
	for (i = 0; i < json_object_array_length(jarr(j, "regions")); i++) {
		row = json_object_array_get_idx(jarr(j, "regions"), i);
		ck_assert_uint_le(ju(row, "used"), ju(row, "capacity"));
		ck_assert_uint_le(ju(row, "high_water"), ju(row, "capacity"));
		ck_assert_uint_le(ju(row, "allocs"), (UINT64_C(1) << 53) - 1);
		ck_assert_uint_le(ju(row, "resets"), (UINT64_C(1) << 53) - 1);
		ck_assert_uint_lt(ju(row, "capacity"), ju(row, "size"));
		if (ju(row, "pid") == hu(&bad, "pid"))
			ck_assert_str_eq(js(row, "header"), "clamped");
		else
			ck_assert_str_eq(js(row, "header"), "ok");
	}
	json_object_put(j);
	/* the honest client is untouched */
	j = ctl_json(&d, NULL, 0, "clients", NULL);
	check_client_row(jarr(j, "clients"), &good, getuid());
	row = find_row(jarr(j, "clients"), "pid", hu(&bad, "pid"));
	ck_assert_uint_eq(ju(row, "header_invalid"), 2);
	ck_assert_uint_le(ju(row, "used"), ju(row, "leased"));
	json_object_put(j);

	ctl(&r, &d, NULL, NULL, "regions", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "! = live header out of range"));
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "metrics", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "\nbhc_arena_regions_header_invalid 2\n"));
	run_free(&r);

	/* a hole punched over the header: the daemon reads zeros, never faults */
	kill(bad.pid, SIGUSR2);
	holder_read(&bad, "punched");
	j = ctl_json(&d, NULL, 0, "regions", "--tag", "bad", NULL);
	for (i = 0; i < json_object_array_length(jarr(j, "regions")); i++) {
		row = json_object_array_get_idx(jarr(j, "regions"), i);
		ck_assert_uint_le(ju(row, "used"), ju(row, "capacity"));
		ck_assert_str_ne(js(row, "header"), "ok");
	}
	json_object_put(j);
	ctl(&r, &d, NULL, NULL, "status", NULL);
	ck_assert_int_eq(r.status, 0);
	run_free(&r);

	holder_stop(&good);
	holder_stop(&bad);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_non_admin)
{
	struct daemon d;
	struct holder mine, theirs;
	struct json_object *j, *rows;
	struct run r;

	need_root();
	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&theirs, &d, NULL, "root-job", "2", "100", NULL);
	holder_start(&mine, &d, &nobody, "nobody-job", "1", "200", NULL);

	/* nobody sees the node's figures but only its own rows */
	j = ctl_json(&d, &nobody, 0, "clients", NULL);
	ck_assert_str_eq(js(j, "scope"), "own");
	ck_assert(!json_object_get_boolean(jpath(j, "viewer.admin")));
	ck_assert_uint_eq(ju(j, "viewer.uid"), NOBODY);
	rows = jarr(j, "clients");
	ck_assert_uint_eq(json_object_array_length(rows), 1);
	check_client_row(rows, &mine, NOBODY);
	ck_assert_str_eq(js(json_object_array_get_idx(rows, 0), "user"), "nobody");
	json_object_put(j);
	j = ctl_json(&d, &nobody, 0, "regions", "--all", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "regions")), 1);
	check_region_rows(jarr(j, "regions"), &mine, 200, 0);
	json_object_put(j);
	/* filters never widen the view */
	j = ctl_json(&d, &nobody, 0, "regions", "--uid", "0", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "regions")), 0);
	json_object_put(j);
	j = ctl_json(&d, &nobody, 0, "status", NULL);
	ck_assert_str_eq(js(j, "scope"), "own");
	ck_assert_uint_eq(ju(j, "pool.leased"), hu(&mine, "leased") + hu(&theirs, "leased"));
	json_object_put(j);

	/* and may change nothing */
	ctl(&r, &d, &nobody, NULL, "pool", "set", "--total", "128M", NULL);
	ck_assert_int_eq(r.status, 4);
	ck_assert_ptr_nonnull(
		strstr(r.err, "permission denied: pool set needs root or membership in group "
			      "bhc-arena-test-none"));
	run_free(&r);
	j = ctl_json(&d, &nobody, 4, "reload", NULL);
	ck_assert(!json_object_get_boolean(jpath(j, "ok")));
	ck_assert_uint_eq(ju(j, "error.errno"), EACCES);
	ck_assert_str_eq(js(j, "error.name"), "EACCES");
	ck_assert_ptr_nonnull(strstr(js(j, "error.message"), "permission denied"));
	json_object_put(j);
	j = ctl_json(&d, NULL, 0, "status", NULL);
	ck_assert_uint_eq(ju(j, "pool.total"), 256u << 20);
	ck_assert_uint_eq(ju(j, "counters.reloads"), 0);
	json_object_put(j);

	/* root still sees both */
	j = ctl_json(&d, NULL, 0, "clients", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "clients")), 2);
	check_client_row(jarr(j, "clients"), &mine, NOBODY);
	check_client_row(jarr(j, "clients"), &theirs, 0);
	json_object_put(j);

	holder_stop(&mine);
	holder_stop(&theirs);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_admin_group)
{
	struct as member = { NOBODY, NOBODY, NULL }, primary = { NOBODY, 0, NULL };
	struct daemon d;
	struct holder h;
	struct json_object *j;
	struct group *g;
	char gid[32];
	struct run r;

	need_root();
	g = getgrnam("adm");
	if (!g)
		bhc_test_skip("no group 'adm' to use as the admin group");
	snprintf(gid, sizeof(gid), "%u", (unsigned int)g->gr_gid);
	member.groups = gid;
	primary.gid = g->gr_gid;
	daemon_start(&d, "adm", NULL);
	holder_start(&h, &d, NULL, "root-job", "1", "100", NULL);

	/* a supplementary group makes an admin */
	j = ctl_json(&d, &member, 0, "clients", NULL);
	ck_assert_str_eq(js(j, "scope"), "all");
	ck_assert(json_object_get_boolean(jpath(j, "viewer.admin")));
	ck_assert_uint_eq(json_object_array_length(jarr(j, "clients")), 1);
	json_object_put(j);
	ctl(&r, &d, &member, NULL, "pool", "set", "--total", "128M", NULL);
	ck_assert_msg(r.status == 0, "pool set: %d %s", r.status, r.err);
	run_free(&r);
	/* so does the primary group */
	j = ctl_json(&d, &primary, 0, "status", NULL);
	ck_assert_str_eq(js(j, "scope"), "all");
	ck_assert_uint_eq(ju(j, "pool.total"), 128u << 20);
	json_object_put(j);
	/* without it, nothing */
	ctl(&r, &d, &nobody, NULL, "pool", "set", "--total", "64M", NULL);
	ck_assert_int_eq(r.status, 4);
	ck_assert_ptr_nonnull(strstr(r.err, "membership in group adm"));
	run_free(&r);

	holder_stop(&h);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_pool_set_reload)
{
	struct daemon d;
	struct json_object *j, *t;
	struct run r;
	int i;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	j = ctl_json(&d, NULL, 0, "pool", "set", "--total", "200M", "--warm", "2M:1,4M:2", NULL);
	ck_assert_uint_eq(ju(j, "pool.total"), 200u << 20);
	t = jarr(j, "pool.warm_targets");
	ck_assert_uint_eq(json_object_array_length(t), 2);
	ck_assert_uint_eq(ju(json_object_array_get_idx(t, 0), "size"), 2u << 20);
	ck_assert_uint_eq(ju(json_object_array_get_idx(t, 0), "count"), 1);
	ck_assert_uint_eq(ju(json_object_array_get_idx(t, 1), "size"), 4u << 20);
	ck_assert_uint_eq(ju(json_object_array_get_idx(t, 1), "count"), 2);
	ck_assert_uint_ge(json_object_array_length(jarr(j, "changes")), 2);
	json_object_put(j);

	/* the warm regions appear, listed with --all */
	for (i = 0;; i++) {
		size_t n;

		j = ctl_json(&d, NULL, 0, "regions", "--all", NULL);
		n = json_object_array_length(jarr(j, "regions"));
		if (n == 3) {
			ck_assert_str_eq(js(json_object_array_get_idx(jarr(j, "regions"), 0),
					    "state"),
					 "warm");
			json_object_put(j);
			break;
		}
		json_object_put(j);
		ck_assert_msg(i < 500, "warm regions did not appear");
		usleep(20000);
	}
	j = ctl_json(&d, NULL, 0, "status", NULL);
	ck_assert_uint_eq(ju(j, "pool.warm"), 10u << 20);
	json_object_put(j);

	/* bad values are refused and change nothing */
	ctl(&r, &d, NULL, NULL, "pool", "set", "--warm", "2M:x", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "pool", "set", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "pool", "set", "--warm", "1G:1", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "pool set: "));
	run_free(&r);
	j = ctl_json(&d, NULL, 0, "pool", NULL);
	ck_assert_uint_eq(ju(j, "total"), 200u << 20);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "warm_targets")), 2);
	json_object_put(j);

	/* reload goes back to the file, which we change meanwhile */
	write_config(&d, "bhc-arena-test-none", "per_uid_regions = 7\n");
	{
		char *conf = slurp(d.conf), *p = strstr(conf, "total = 256M");

		ck_assert_ptr_nonnull(p);
		memcpy(p, "total = 192M", 12);
		write_text(d.conf, conf);
		free(conf);
	}
	j = ctl_json(&d, NULL, 0, "reload", NULL);
	ck_assert(json_object_get_boolean(jpath(j, "ok")));
	ck_assert_str_eq(js(j, "config_file"), d.conf);
	json_object_put(j);
	j = ctl_json(&d, NULL, 0, "status", NULL);
	ck_assert_uint_eq(ju(j, "pool.total"), 192u << 20);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "pool.warm_targets")), 0);
	ck_assert_uint_eq(ju(j, "limits.uid_regions"), 7);
	ck_assert_uint_eq(ju(j, "counters.reloads"), 1);
	json_object_put(j);

	/* a file that does not parse changes nothing */
	write_text(d.conf, "[limits]\ntotal = lots\n");
	ctl(&r, &d, NULL, NULL, "reload", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "reload: "));
	run_free(&r);
	j = ctl_json(&d, NULL, 0, "status", NULL);
	ck_assert_uint_eq(ju(j, "pool.total"), 192u << 20);
	json_object_put(j);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_metrics)
{
	struct daemon d;
	struct holder a, b;
	const char *promtool[] = { "promtool", "check", "metrics", NULL };
	char want[256];
	struct run r, p;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&a, &d, NULL, "job-a", "2", "1000", NULL);
	holder_start(&b, &d, NULL, "job-b", "1", "2000", NULL);

	ctl(&r, &d, NULL, NULL, "metrics", NULL);
	ck_assert_msg(r.status == 0, "metrics: %d %s", r.status, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "\nbhc_arena_up 1\n"));
	snprintf(want, sizeof(want), "\nbhc_arena_tag_leased_bytes{tag=\"job-a\"} %" PRIu64 "\n",
		 hu(&a, "leased"));
	ck_assert_msg(strstr(r.out, want), "no '%s' in:\n%s", want + 1, r.out);
	snprintf(want, sizeof(want), "\nbhc_arena_tag_used_bytes{tag=\"job-b\"} 2000\n");
	ck_assert_ptr_nonnull(strstr(r.out, want));
	ck_assert_ptr_nonnull(strstr(r.out, "\nbhc_arena_tag_regions{tag=\"job-a\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nbhc_arena_clients 2\n"));
	snprintf(want, sizeof(want), "\nbhc_arena_pool_bytes{state=\"leased\"} %" PRIu64 "\n",
		 hu(&a, "leased") + hu(&b, "leased"));
	ck_assert_ptr_nonnull(strstr(r.out, want));
	ck_assert_ptr_nonnull(strstr(r.out, "# TYPE bhc_arena_grants_total counter\n"));

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		run_free(&r);
		holder_stop(&a);
		holder_stop(&b);
		daemon_stop(&d);
		bhc_test_skip("promtool (Debian package prometheus) is not installed: metrics "
			      "checked, not linted");
	}
	run_argv(&p, promtool, r.out, NULL);
	ck_assert_msg(p.status == 0, "promtool check metrics: %s%s\non:\n%s", p.out, p.err, r.out);
	run_free(&p);
	run_free(&r);

	/* without a daemon: still valid, up 0, exit 3 */
	holder_stop(&a);
	holder_stop(&b);
	daemon_stop(&d);
	ctl(&r, &d, NULL, NULL, "metrics", NULL);
	ck_assert_int_eq(r.status, 3);
	ck_assert_ptr_nonnull(strstr(r.out, "\nbhc_arena_up 0\n"));
	run_argv(&p, promtool, r.out, NULL);
	ck_assert_int_eq(p.status, 0);
	run_free(&p);
	run_free(&r);
}
END_TEST

/*
 * Run "bhc-arenactl watch --interval 60" on a new pseudo-terminal, as a
 * session leader with it as controlling terminal, wait for its first frame
 * (screen cleared, @want shown), type @key and check that it ends at once
 * with exit code 0. The key is typed only after the first frame is drawn, so
 * watch has its terminal modes and signal handlers in place: no race.
 */
static void watch_on_pty(const struct daemon *d, char key, const char *want)
{
	const char *ctlpath = env_path("BHC_ARENACTL");
	int64_t deadline = now_ms() + RUN_TIMEOUT_MS, typed_at = 0;
	struct winsize ws = { .ws_row = 40, .ws_col = 120 };
	char *out = NULL, buf[4096];
	size_t out_len = 0;
	int master, status;
	pid_t pid;

	append(&out, &out_len, "", 0);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	ck_assert_int_eq(ioctl(master, TIOCSWINSZ, &ws), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *slave = ptsname(master);
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (setsid() < 0 || !slave)
			_exit(126);
		fd = open(slave, O_RDWR); /* the session's controlling terminal */
		if (fd < 0)
			_exit(126);
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
		signal(SIGINT, SIG_DFL);
		execl(ctlpath, ctlpath, "--socket", d->sock, "watch", "--interval", "60",
		      (char *)NULL);
		_exit(127);
	}
	for (;;) {
		struct pollfd pfd = { .fd = master, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		ck_assert_msg(left > 0, "watch on a pty did not %s: %s",
			      typed_at ? "end after the key" : "draw a frame", out);
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(master, buf, sizeof(buf));
		if (n <= 0)
			break; /* EIO: the terminal's last user has gone */
		append(&out, &out_len, buf, (size_t)n);
		if (!typed_at && strstr(out, "\033[H\033[2J") && strstr(out, want)) {
			ck_assert_int_eq(write(master, &key, 1), 1);
			typed_at = now_ms();
		}
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	close(master);
	ck_assert_msg(typed_at, "watch on a pty ended before its first frame: %s", out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "watch on a pty, key %#x: status %#x: %s", (unsigned int)key, status, out);
	/* well before the 60 s interval */
	ck_assert_int_lt(now_ms() - typed_at, 10000);
	free(out);
}

START_TEST(test_watch)
{
	struct daemon d;
	struct holder a;
	struct run r;
	char *line, *save = NULL;
	size_t n = 0;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&a, &d, NULL, "job-w", "1", "777", NULL);
	ctl(&r, &d, NULL, NULL, "watch", "--count", "2", "--interval", "0.2", NULL);
	ck_assert_msg(r.status == 0, "watch: %d %s", r.status, r.err);
	ck_assert_int_eq(count_substr(r.out, "bhc-arenad " PACKAGE_VERSION), 2);
	ck_assert_int_eq(count_substr(r.out, "job-w"), 4);
	/* not a terminal: no screen clearing */
	ck_assert_ptr_null(strchr(r.out, '\033'));
	run_free(&r);

	ctl(&r, &d, NULL, NULL, "watch", "--json", "--count", "3", "--interval", "0.1", NULL);
	ck_assert_int_eq(r.status, 0);
	for (line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct json_object *j = json_tokener_parse(line);

		ck_assert_msg(j, "not JSON: %s", line);
		ck_assert_str_eq(js(j, "cmd"), "snapshot");
		check_client_row(jarr(j, "clients"), &a, getuid());
		json_object_put(j);
		n++;
	}
	ck_assert_uint_eq(n, 3);
	run_free(&r);

	/* on a terminal: the screen is redrawn, q and Ctrl-C end it long before the interval */
	watch_on_pty(&d, 'q', "job-w");
	watch_on_pty(&d, '\003', "job-w");
	holder_stop(&a);
	daemon_stop(&d);

	/* the daemon gone: watch says so and ends with the exit code */
	ctl(&r, &d, NULL, NULL, "watch", "--count", "1", NULL);
	ck_assert_int_eq(r.status, 3);
	ck_assert_ptr_nonnull(strstr(r.out, "retrying"));
	run_free(&r);
}
END_TEST

START_TEST(test_width)
{
	static const char *const cmds[][3] = {
		{ "status", NULL }, { "clients", NULL }, { "regions", NULL },
		{ "pool", NULL },   { "watch", "-n1" },	 { "help", NULL },
	};
	struct daemon d;
	struct holder a;
	struct run r;
	size_t i;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	holder_start(&a, &d, NULL, "a-rather-long-job-identifier-that-needs-room", "2", "4096",
		     NULL);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		ctl(&r, &d, NULL, "60", cmds[i][0], cmds[i][1], NULL);
		ck_assert_msg(r.status == 0, "%s: %d %s", cmds[i][0], r.status, r.err);
		if (strcmp(cmds[i][0], "help"))
			assert_lines_within(r.out, 60);
		run_free(&r);
	}
	/* --width wins over COLUMNS; 0 is no limit */
	ctl(&r, &d, NULL, "60", "--width", "40", "clients", NULL);
	assert_lines_within(r.out, 40);
	run_free(&r);
	ctl(&r, &d, NULL, "60", "--width", "0", "clients", NULL);
	ck_assert_ptr_nonnull(strstr(r.out, "a-rather-long-job-identifier-that-needs-room"));
	run_free(&r);
	holder_stop(&a);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_exit_codes)
{
	struct daemon d = { .sock = "/nonexistent/arenad.sock" };
	struct run r;

	ctl(&r, &d, NULL, NULL, "status", NULL);
	ck_assert_int_eq(r.status, 3);
	ck_assert_ptr_nonnull(strstr(r.err, "cannot connect"));
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "frobnicate", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "clients", "--interval", "1", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "regions", "--tag", "bad tag", NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	ctl(&r, &d, NULL, NULL, "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "Exit status"));
	run_free(&r);
	ctl(&r, &d, NULL, NULL, NULL);
	ck_assert_int_eq(r.status, 2);
	run_free(&r);

	/* something that is not bhc-arenad on the socket */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		char dir[] = "/tmp/arenactl-fake-XXXXXX";
		pid_t pid;

		ck_assert_ptr_nonnull(mkdtemp(dir));
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", dir);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(listen(s, 1), 0);
		pid = fork();
		if (pid == 0) {
			int c = accept(s, NULL, NULL);
			char junk[64];

			memset(junk, 'x', sizeof(junk));
			if (recv(c, junk, sizeof(junk), 0) > 0)
				send(c, junk, sizeof(junk), 0);
			_exit(0);
		}
		snprintf(d.sock, sizeof(d.sock), "%s", sa.sun_path);
		ctl(&r, &d, NULL, NULL, "status", NULL);
		ck_assert_int_eq(r.status, 5);
		ck_assert_ptr_nonnull(strstr(r.err, "does not speak the bhc-arena protocol"));
		run_free(&r);
		waitpid(pid, NULL, 0);
		close(s);
		unlink(sa.sun_path);
		rmdir(dir);
	}
}
END_TEST

/* Send one raw ADMIN message and return the reply's status and JSON. */
static int raw_admin(const char *sock, const void *body, size_t len, struct json_object **replyp,
		     char *error_text, size_t error_len)
{
	struct ctl_conn conn;
	struct ctl_error err;
	unsigned char msg[BHC_ARENA_MSG_MAX + 64], buf[BHC_ARENA_ADMIN_CHUNK_MAX + 64];
	struct bhc_arena_msg_hdr h = { BHC_ARENA_PROTO_MAGIC, BHC_ARENA_PROTO_VERSION,
				       BHC_ARENA_MSG_ADMIN, (uint32_t)(sizeof(h) + len), 99 };
	struct bhc_arena_msg_admin_reply rep;
	ssize_t n;

	*replyp = NULL;
	ck_assert_int_eq(ctl_connect(&conn, sock, 5000, &err), 0);
	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), body, len);
	ck_assert_int_eq(send(conn.fd, msg, sizeof(h) + len, 0), (ssize_t)(sizeof(h) + len));
	n = recv(conn.fd, buf, sizeof(buf), 0);
	ck_assert_int_ge(n, (ssize_t)sizeof(h));
	memcpy(&h, buf, sizeof(h));
	ck_assert_uint_eq(h.seq, 99);
	if (h.type == BHC_ARENA_MSG_ERROR) {
		struct bhc_arena_msg_error e;

		ck_assert_int_eq(n, sizeof(e));
		memcpy(&e, buf, sizeof(e));
		snprintf(error_text, error_len, "%s", e.text);
		ctl_close(&conn);
		return -e.error;
	}
	ck_assert_uint_eq(h.type, BHC_ARENA_MSG_ADMIN_REPLY);
	memcpy(&rep, buf, sizeof(rep));
	ck_assert_uint_eq(rep.flags & BHC_ARENA_ADMIN_MORE, 0);
	buf[n] = '\0';
	*replyp = json_tokener_parse((char *)buf + sizeof(rep));
	ck_assert_ptr_nonnull(*replyp);
	ctl_close(&conn);
	return rep.status;
}

START_TEST(test_bad_requests)
{
	static const struct {
		const char *body;
		int status;
		const char *text;
	} cases[] = {
		{ "{\"cmd\":\"frobnicate\"}", EINVAL, "unknown cmd 'frobnicate'" },
		{ "{}", EINVAL, "'cmd'" },
		{ "[1,2]", EINVAL, "object" },
		{ "{\"cmd\":\"clients\",\"pid\":\"12\"}", EINVAL, "'pid'" },
		{ "{\"cmd\":\"clients\",\"pid\":-1}", EINVAL, "'pid'" },
		{ "{\"cmd\":\"clients\",\"colour\":\"blue\"}", EINVAL, "unknown member 'colour'" },
		{ "{\"cmd\":\"status\",\"schema\":2}", EPROTONOSUPPORT, "schema" },
		{ "{\"cmd\":\"pool-set\"}", EINVAL, "nothing to set" },
		{ "{\"cmd\":\"pool-set\",\"warm\":[{\"size\":0,\"count\":1}]}", EINVAL, "size" },
		{ "{\"cmd\":\"pool-set\",\"warm\":[{\"size\":2097152,\"count\":1},"
		  "{\"size\":2097152,\"count\":2}]}",
		  EINVAL, "twice" },
		{ "{\"cmd\":\"pool-set\",\"total\":0}", EINVAL, "total" },
		{ "{\"cmd\":\"status\"} trailing", EINVAL, "JSON" },
		{ "{\"cmd\":\"st\\u0000atus\"}", EINVAL, "string member 'cmd'" },
		{ "{\"cmd\":\"status\"", EINVAL, "JSON" },
	};
	struct json_object *reply;
	char text[BHC_ARENA_ERROR_TEXT_MAX];
	struct daemon d;
	size_t i;
	int st;

	daemon_start(&d, "bhc-arena-test-none", NULL);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		text[0] = '\0';
		st = raw_admin(d.sock, cases[i].body, strlen(cases[i].body), &reply, text,
			       sizeof(text));
		ck_assert_msg(st == cases[i].status, "%s: status %d, wanted %d", cases[i].body, st,
			      cases[i].status);
		ck_assert(!json_object_get_boolean(jpath(reply, "ok")));
		ck_assert_uint_eq(ju(reply, "error.errno"), (uint64_t)cases[i].status);
		ck_assert_msg(strstr(js(reply, "error.message"), cases[i].text),
			      "%s: message '%s' lacks '%s'", cases[i].body,
			      js(reply, "error.message"), cases[i].text);
		json_object_put(reply);
	}
	/* the daemon still answers */
	st = raw_admin(d.sock, "{\"cmd\":\"status\"}", 16, &reply, text, sizeof(text));
	ck_assert_int_eq(st, 0);
	ck_assert(json_object_get_boolean(jpath(reply, "ok")));
	json_object_put(reply);
	daemon_stop(&d);
}
END_TEST

START_TEST(test_many_regions)
{
	/* a reply longer than one chunk */
	struct daemon d;
	struct holder h[4];
	struct json_object *j;
	size_t i;

	daemon_start(&d, "bhc-arena-test-none", "total = 1G\nper_connection_regions = 64\n");
	for (i = 0; i < 4; i++)
		holder_start(&h[i], &d, NULL, "many", "60", "1", "--size", "2M", NULL);
	j = ctl_json(&d, NULL, 0, "regions", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "regions")), 240);
	ck_assert_uint_gt(strlen(json_object_to_json_string(j)), BHC_ARENA_ADMIN_CHUNK_MAX);
	for (i = 0; i < 4; i++)
		check_region_rows(jarr(j, "regions"), &h[i], 1, 0);
	json_object_put(j);
	for (i = 0; i < 4; i++)
		holder_stop(&h[i]);
	daemon_stop(&d);
}
END_TEST

/* An admin request @body sent as nobody from a child process: the reply's status (errno). */
static int admin_as_nobody(const char *sock, const char *body)
{
	int ws = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct json_object *req = json_tokener_parse(body), *reply = NULL;
		struct ctl_error err = { 0 };
		struct ctl_conn conn;

		if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0 || !req ||
		    ctl_connect(&conn, sock, 5000, &err) < 0)
			_exit(255);
		ctl_request(&conn, req, &reply, &err);
		_exit(err.error & 0xff);
	}
	ck_assert_int_eq(waitpid(pid, &ws, 0), pid);
	ck_assert(WIFEXITED(ws));
	ck_assert_int_ne(WEXITSTATUS(ws), 255);
	return WEXITSTATUS(ws);
}

/* Send @body as root; assert the reply's status is @want and return the reply. */
static __attribute__((format(printf, 3, 4))) struct json_object *
job_request(const struct daemon *d, int want, const char *fmt, ...)
{
	char body[512], text[BHC_ARENA_ERROR_TEXT_MAX];
	struct json_object *reply;
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	st = raw_admin(d->sock, body, strlen(body), &reply, text, sizeof(text));
	ck_assert_msg(st == want, "%s: status %d, wanted %d: %s", body, st, want,
		      reply ? json_object_to_json_string(reply) : text);
	return reply;
}

START_TEST(test_jobs)
{
	struct json_object *j, *row;
	struct daemon d;
	struct holder h;
	struct run r;
	const char *argv[16];
	char path[512], pid_s[24], *p;
	pid_t dead;

	need_root();
	daemon_start(&d, "bhc-arena-test-none", "total = 256M\n");
	/* root registers a job; nobody may not, nor end it */
	j = job_request(&d, 0, "{\"cmd\":\"job-register\",\"job\":77,\"uid\":0,\"budget\":%u}",
			8u << 20);
	ck_assert_uint_eq(ju(j, "job.id"), 77);
	ck_assert_uint_eq(ju(j, "job.budget"), 8u << 20);
	json_object_put(j);
	ck_assert_int_eq(admin_as_nobody(d.sock, "{\"cmd\":\"jobs\"}"), 0);
	ck_assert_int_eq(admin_as_nobody(d.sock,
					 "{\"cmd\":\"job-register\",\"job\":78,\"uid\":65534}"),
			 EACCES);
	ck_assert_int_eq(admin_as_nobody(d.sock, "{\"cmd\":\"job-end\",\"job\":77}"), EACCES);
	/* a later registration keeps the first budget */
	json_object_put(
		job_request(&d, 0, "{\"cmd\":\"job-register\",\"job\":77,\"uid\":0,\"budget\":1}"));
	/* attach: an unknown job, a process that is gone, then this test's process */
	json_object_put(job_request(&d, ENOENT, "{\"cmd\":\"job-attach\",\"job\":79,\"pid\":1}"));
	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	json_object_put(job_request(&d, ESRCH, "{\"cmd\":\"job-attach\",\"job\":77,\"pid\":%d}",
				    (int)dead));
	j = job_request(&d, 0, "{\"cmd\":\"job-attach\",\"job\":77,\"pid\":%d}", (int)getpid());
	ck_assert_uint_eq(ju(j, "job.tasks"), 1);
	ck_assert_uint_eq(ju(j, "job.budget"), 8u << 20);
	json_object_put(j);

	/* a child of the task is the job's, whatever tag it gives */
	holder_start(&h, &d, NULL, "not-77", "1", "0", NULL);
	j = ctl_json(&d, NULL, 0, "clients", "--job", "77", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "clients")), 1);
	row = json_object_array_get_idx(jarr(j, "clients"), 0);
	ck_assert_uint_eq(ju(row, "pid"), (uint64_t)h.pid);
	ck_assert_uint_eq(ju(row, "job"), 77);
	ck_assert_str_eq(js(row, "tag"), "not-77");
	json_object_put(j);
	j = ctl_json(&d, NULL, 0, "regions", "--job", "77", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "regions")), 1);
	json_object_put(j);
	j = ctl_json(&d, NULL, 0, "regions", "--job", "78", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "regions")), 0);
	json_object_put(j);

	/* past the budget: 4M held + 8M asked > 8M */
	snprintf(path, sizeof(path), "%s/tests/lease-holder", env_path("abs_top_builddir"));
	argv[0] = path, argv[1] = "--socket", argv[2] = d.sock, argv[3] = "--size";
	argv[4] = "8M", argv[5] = NULL;
	run_argv(&r, argv, NULL, NULL);
	ck_assert_int_ne(r.status, 0);
	ck_assert_msg(strstr(r.out, "\"error\":122"), "lease-holder said: %s", r.out);
	p = strstr(r.out, "job 77 is over its arena budget: 4 MiB held + 8 MiB asked > 8 MiB");
	ck_assert_msg(p, "lease-holder said: %s", r.out);
	run_free(&r);

	/* status, metrics */
	j = ctl_json(&d, NULL, 0, "status", NULL);
	row = json_object_array_get_idx(jarr(j, "jobs"), 0);
	ck_assert_uint_eq(ju(row, "id"), 77);
	ck_assert_uint_eq(ju(row, "leased"), 4u << 20);
	ck_assert_uint_eq(ju(row, "peak"), 4u << 20);
	ck_assert_uint_eq(ju(row, "refused"), 1);
	ck_assert_uint_eq(ju(row, "clients"), 1);
	json_object_put(j);
	ctl(&r, &d, NULL, NULL, "metrics", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "bhc_arena_job_leased_bytes{jobid=\"77\"} 4194304\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "bhc_arena_job_peak_bytes{jobid=\"77\"} 4194304\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "bhc_arena_job_budget_bytes{jobid=\"77\"} 8388608\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "bhc_arena_job_refused_total{jobid=\"77\"} 1\n"));
	run_free(&r);
	ctl(&r, &d, NULL, "200", "clients", NULL);
	ck_assert_ptr_nonnull(strstr(r.out, "JOB"));
	run_free(&r);

	/* job-end ends the lease still open and forgets the job */
	j = job_request(&d, 0, "{\"cmd\":\"job-end\",\"job\":77}");
	ck_assert_uint_eq(ju(j, "ended.clients"), 1);
	ck_assert_uint_eq(ju(j, "ended.regions"), 1);
	ck_assert_uint_eq(ju(j, "job.peak"), 4u << 20);
	json_object_put(j);
	j = ctl_json(&d, NULL, 0, "status", NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "jobs")), 0);
	ck_assert_uint_eq(ju(j, "pool.leased"), 0);
	json_object_put(j);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)h.pid);
	j = ctl_json(&d, NULL, 0, "clients", "--pid", pid_s, NULL);
	ck_assert_uint_eq(json_object_array_length(jarr(j, "clients")), 0);
	json_object_put(j);
	json_object_put(job_request(&d, ENOENT, "{\"cmd\":\"job-end\",\"job\":77}"));
	holder_stop(&h);
	daemon_stop(&d);
}
END_TEST

#define ADD(s, fn, timeout) add_test((s), &(#fn)[5], fn, timeout)

static void add_test(Suite *s, const char *name, const TTest *fn, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_test(tc, fn);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("arenactl");

	signal(SIGPIPE, SIG_IGN);
	ADD(s, test_status, 60);
	ADD(s, test_clients, 60);
	ADD(s, test_regions, 60);
	ADD(s, test_scribble, 60);
	ADD(s, test_non_admin, 60);
	ADD(s, test_admin_group, 60);
	ADD(s, test_pool_set_reload, 60);
	ADD(s, test_metrics, 60);
	ADD(s, test_watch, 60);
	ADD(s, test_width, 60);
	ADD(s, test_exit_codes, 60);
	ADD(s, test_bad_requests, 60);
	ADD(s, test_many_regions, 60);
	ADD(s, test_jobs, 60);
	return bhc_test_run(s);
}
