// SPDX-License-Identifier: MIT
/* Hugepages, a private bhc-arenad and its admin status for the region benchmarks. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "arenactl.h"
#include "bench-common.h"
#include "bench-daemon.h"
#include "common/size.h"

/* The lock tests/util-hugepages.c holds while it has raised a hugepage pool. */
#define HUGEPAGE_LOCK_PATH "/tmp/bhc-arena-test-hugepages.lock"
#define HUGEPAGE_LOCK_WAIT_MS 300000
#define HUGEPAGES_SYSFS "/sys/kernel/mm/hugepages"
#define DAEMON_STOP_MS 10000
#define ADMIN_TIMEOUT_MS 10000

/*
 * What to undo, readable from a signal handler: only fixed-size fields,
 * and the undo itself uses only async-signal-safe calls.
 */
static struct {
	pid_t owner; /* the process that undoes; 0 before bench_cleanup_init() */
	char nr_path[128]; /* nr_hugepages file raised, "" if none */
	char nr_old[24]; /* its value before, as text */
	pid_t daemon_pid; /* a daemon to stop, 0 if none */
	char dir[BENCH_PATH_MAX]; /* the daemon's directory to remove, "" if none */
	char files[3][BENCH_PATH_MAX + 16]; /* files in it */
} undo;

static void undo_hugepages(void)
{
	size_t len = strlen(undo.nr_old);
	int fd;

	if (!undo.nr_path[0])
		return;
	fd = open(undo.nr_path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, undo.nr_old, len) != (ssize_t)len) {
			/* nothing more to do from here: the message says what is left */
			static const char msg[] = "bench: could not restore nr_hugepages\n";

			if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
				(void)0;
		}
		close(fd);
	}
	undo.nr_path[0] = '\0';
}

static void undo_daemon_files(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(undo.files); i++) {
		if (undo.files[i][0])
			unlink(undo.files[i]);
		undo.files[i][0] = '\0';
	}
	if (undo.dir[0])
		rmdir(undo.dir);
	undo.dir[0] = '\0';
}

static void undo_all_signal_safe(void)
{
	if (undo.daemon_pid > 0)
		kill(undo.daemon_pid, SIGTERM);
	undo_hugepages();
	undo_daemon_files();
}

static void on_fatal_signal(int sig)
{
	int saved = errno;

	if (getpid() == undo.owner)
		undo_all_signal_safe();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

static void on_exit_undo(void)
{
	int status;

	if (getpid() != undo.owner)
		return;
	if (undo.daemon_pid > 0) {
		kill(undo.daemon_pid, SIGTERM);
		waitpid(undo.daemon_pid, &status, 0);
		undo.daemon_pid = 0;
	}
	undo_hugepages();
	undo_daemon_files();
}

int bench_cleanup_init(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa;
	size_t i;

	if (undo.owner)
		return 0;
	undo.owner = getpid();
	if (atexit(on_exit_undo) != 0)
		return -ENOMEM;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	}
	return 0;
}

/* --- hugepages -------------------------------------------------------------------- */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fprintf(f, "%ld\n", v) < 0)
		r = -EIO;
	if (fclose(f) != 0 && !r)
		r = -errno;
	return r;
}

long bench_hugepages_free(unsigned long page_kb)
{
	char path[128];

	snprintf(path, sizeof(path), HUGEPAGES_SYSFS "/hugepages-%lukB/free_hugepages", page_kb);
	return read_long(path);
}

const char *bench_thp_mode(const char *file, char *buf, size_t len)
{
	char path[128], line[256], *open, *close;
	FILE *f;

	snprintf(buf, len, "unknown");
	snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", file);
	f = fopen(path, "re");
	if (!f)
		return buf;
	if (fgets(line, sizeof(line), f)) {
		open = strchr(line, '[');
		close = open ? strchr(open, ']') : NULL;
		if (close) {
			*close = '\0';
			snprintf(buf, len, "%s", open + 1);
		}
	}
	fclose(f);
	return buf;
}

/*
 * Write every free page of the size once, and give them back. Under a
 * hypervisor the first write to guest memory the host has not backed yet
 * costs a host fault per small page (0.6 GB/s instead of 10 GB/s on the
 * machine of BENCHMARKS.md), and pages the pool has just taken from the
 * kernel are such memory: without this, whichever side of a comparison
 * got them first would pay for the hypervisor, not for itself. On bare
 * metal it is only a zeroing pass.
 */
static void pretouch(unsigned long page_kb, long n_pages)
{
	unsigned int shift = (unsigned int)__builtin_ctzl(page_kb) + 10;
	size_t page = (size_t)page_kb << 10;
	long chunk = n_pages;
	void *p;

	while (n_pages > 0 && chunk > 0) {
		if (chunk > n_pages)
			chunk = n_pages;
		p = mmap(NULL, (size_t)chunk * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE |
				 (int)(shift << MAP_HUGE_SHIFT),
			 -1, 0);
		if (p == MAP_FAILED) {
			chunk /= 2; /* someone else took some: touch what can be had */
			continue;
		}
		munmap(p, (size_t)chunk * page);
		n_pages -= chunk;
	}
}

void bench_hugepages_restore(void)
{
	undo_hugepages();
}

/* Take the test suite's hugepage lock for the rest of the process, waiting a bounded time. */
static int take_hugepage_lock(void)
{
	static int lock_fd = -1;
	unsigned int waited = 0;

	if (lock_fd >= 0)
		return 0;
	lock_fd = open(HUGEPAGE_LOCK_PATH, O_CREAT | O_RDWR | O_CLOEXEC, 0666);
	if (lock_fd < 0)
		return -errno;
	while (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (waited == 0)
			fprintf(stderr, "bench: waiting for %s (a test holds the hugepage pool)\n",
				HUGEPAGE_LOCK_PATH);
		if (waited >= HUGEPAGE_LOCK_WAIT_MS)
			return -ETIMEDOUT;
		bench_sleep_ms(100);
		waited += 100;
	}
	return 0;
}

int bench_hugepages_reserve(unsigned long page_kb, unsigned long n_free, struct bench_hugepages *hp)
{
	char nr_path[128];
	long nr, free_now;
	int r;

	memset(hp, 0, sizeof(*hp));
	hp->page_kb = page_kb;
	hp->n_wanted = n_free;
	snprintf(nr_path, sizeof(nr_path), HUGEPAGES_SYSFS "/hugepages-%lukB/nr_hugepages",
		 page_kb);
	if (access(nr_path, F_OK) != 0) {
		hp->n_free = -1;
		snprintf(hp->why, sizeof(hp->why), "unavailable (no %lu kB hugepages here)",
			 page_kb);
		return 0;
	}
	if (geteuid() == 0) {
		r = take_hugepage_lock();
		if (r < 0)
			fprintf(stderr, "bench: hugepage lock %s: %s; going on without it\n",
				HUGEPAGE_LOCK_PATH, strerror(-r));
	}
	hp->n_free = free_now = bench_hugepages_free(page_kb);
	if (free_now >= (long)n_free) {
		hp->ok = true;
		pretouch(page_kb, free_now);
		return 0;
	}
	if (geteuid() != 0) {
		snprintf(hp->why, sizeof(hp->why), "unavailable (not root; %ld of %lu free)",
			 free_now < 0 ? 0 : free_now, n_free);
		return 0;
	}
	nr = read_long(nr_path);
	if (nr < 0 || free_now < 0) {
		snprintf(hp->why, sizeof(hp->why), "unavailable (cannot read %s)", nr_path);
		return 0;
	}
	if (!undo.nr_path[0]) {
		snprintf(undo.nr_old, sizeof(undo.nr_old), "%ld\n", nr);
		snprintf(undo.nr_path, sizeof(undo.nr_path), "%s", nr_path);
	}
	r = write_long(nr_path, nr + (long)n_free - free_now);
	hp->raised = true;
	hp->n_free = free_now = bench_hugepages_free(page_kb);
	if (r == 0 && free_now >= (long)n_free) {
		hp->ok = true;
		pretouch(page_kb, free_now);
		return 0;
	}
	snprintf(hp->why, sizeof(hp->why),
		 "unavailable (the kernel gave only %ld of %lu free %lu kB pages: memory "
		 "fragmented?)",
		 free_now < 0 ? 0 : free_now, n_free, page_kb);
	undo_hugepages();
	hp->raised = false;
	return 0;
}

/* --- the daemon ----------------------------------------------------------------------- */

/* An admin session (ctl/libarenactl). */
struct bench_admin {
	struct ctl_conn conn;
};

void bench_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

pid_t bench_fork_child(void)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(EXIT_FAILURE);
	return 0;
}

/* The daemon to run: $BHC_ARENAD, else ../daemon/bhc-arenad next to this program. */
static int find_daemon(char *buf, size_t len)
{
	const char *env = getenv("BHC_ARENAD");
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/../daemon/bhc-arenad", exe) >= len)
		return -ENAMETOOLONG;
	return 0;
}

static void print_log_tail(const struct bench_daemon *d)
{
	char line[1024];
	long lines = 0, skip;
	FILE *f = fopen(d->log, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		lines++;
	rewind(f);
	skip = lines > 20 ? lines - 20 : 0;
	fprintf(stderr, "--- end of %s ---\n", d->log);
	while (fgets(line, sizeof(line), f)) {
		if (skip-- > 0)
			continue;
		fputs(line, stderr);
	}
	fclose(f);
}

static bool log_contains(const struct bench_daemon *d, const char *needle)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(d->log, "re");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void exec_daemon(const struct bench_daemon *d, const char *const *sets)
{
	const char *argv[64];
	size_t n = 0;
	int fd;

	fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(127);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, STDIN_FILENO);
	argv[n++] = d->binary;
	argv[n++] = "--config";
	argv[n++] = d->config;
	argv[n++] = "--socket";
	argv[n++] = d->socket;
	argv[n++] = "--log-level";
	argv[n++] = "info";
	/* the warm pool the benchmark sets, not more as demand rises (a set may say otherwise) */
	argv[n++] = "--set";
	argv[n++] = "pool.warm_max=0";
	for (; sets && *sets && n < ARRAY_SIZE(argv) - 3; sets++) {
		argv[n++] = "--set";
		argv[n++] = *sets;
	}
	argv[n] = NULL;
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	execv(d->binary, (char *const *)argv);
	fprintf(stderr, "cannot run %s: %s\n", d->binary, strerror(errno));
	_exit(127);
}

static int make_dir(struct bench_daemon *d)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (!tmp || !*tmp || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(d->dir, sizeof(d->dir), "%s/bhc-bench.XXXXXX", tmp);
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->socket, sizeof(d->socket), "%s/arenad.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/arenad.log", d->dir);
	snprintf(d->config, sizeof(d->config), "%s/arenad.conf", d->dir);
	snprintf(undo.dir, sizeof(undo.dir), "%s", d->dir);
	snprintf(undo.files[0], sizeof(undo.files[0]), "%s", d->socket);
	snprintf(undo.files[1], sizeof(undo.files[1]), "%s", d->log);
	snprintf(undo.files[2], sizeof(undo.files[2]), "%s", d->config);
	fd = open(d->config, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int bench_daemon_start(struct bench_daemon *d, const char *const *sets, int timeout_ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int r, status;
	pid_t pid;

	memset(d, 0, sizeof(*d));
	r = find_daemon(d->binary, sizeof(d->binary));
	if (r < 0 || access(d->binary, X_OK) != 0) {
		fprintf(stderr, "bench: no bhc-arenad to run (%s): build it, or set BHC_ARENAD\n",
			d->binary[0] ? d->binary : strerror(-r));
		return -ENOENT;
	}
	r = make_dir(d);
	if (r < 0) {
		fprintf(stderr, "bench: cannot make a temporary directory: %s\n", strerror(-r));
		return r;
	}
	pid = bench_fork_child();
	if (pid < 0) {
		r = -errno;
		goto out_remove;
	}
	if (pid == 0)
		exec_daemon(d, sets);
	d->pid = pid;
	undo.daemon_pid = pid;
	if (setenv("BHC_ARENA_SOCKET", d->socket, 1) < 0) {
		r = -errno;
		goto out_stop;
	}
	while (!log_contains(d, "ready:")) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			d->pid = 0;
			undo.daemon_pid = 0;
			fprintf(stderr, "bench: bhc-arenad exited during start-up\n");
			print_log_tail(d);
			r = -ECHILD;
			goto out_remove;
		}
		if (bench_now_ns() > deadline) {
			fprintf(stderr, "bench: bhc-arenad not ready after %d ms\n", timeout_ms);
			print_log_tail(d);
			r = -ETIMEDOUT;
			goto out_stop;
		}
		bench_sleep_ms(10);
	}
	return 0;

out_stop:
	bench_daemon_stop(d);
	return r;
out_remove:
	undo_daemon_files();
	return r;
}

void bench_daemon_stop(struct bench_daemon *d)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)DAEMON_STOP_MS * 1000000u;
	int status;

	if (d->admin) {
		ctl_close(&d->admin->conn);
		free(d->admin);
		d->admin = NULL;
	}
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		while (waitpid(d->pid, &status, WNOHANG) == 0) {
			if (bench_now_ns() > deadline) {
				fprintf(stderr, "bench: bhc-arenad ignores SIGTERM; killing it\n");
				kill(d->pid, SIGKILL);
				waitpid(d->pid, &status, 0);
				break;
			}
			bench_sleep_ms(5);
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench: bhc-arenad exited with status %d\n",
				WEXITSTATUS(status));
			print_log_tail(d);
		}
		d->pid = 0;
		undo.daemon_pid = 0;
	}
	if (getenv("BHC_BENCH_KEEP")) {
		fprintf(stderr, "bench: kept %s\n", d->dir);
		undo.dir[0] = '\0';
		memset(undo.files, 0, sizeof(undo.files));
		return;
	}
	undo_daemon_files();
}

static int admin_open(struct bench_daemon *d)
{
	struct ctl_error err;
	int r;

	if (d->admin)
		return 0;
	d->admin = calloc(1, sizeof(*d->admin));
	if (!d->admin)
		return -ENOMEM;
	r = ctl_connect(&d->admin->conn, d->socket, ADMIN_TIMEOUT_MS, &err);
	if (r < 0) {
		fprintf(stderr, "bench: admin session with %s: %s\n", d->socket, err.text);
		free(d->admin);
		d->admin = NULL;
	}
	return r;
}

/* "64 MiB", as the daemon's log writes a size (size_format_iec()). */
static void format_size(uint64_t bytes, char *buf, size_t len)
{
	if (bytes >= (UINT64_C(1) << 30) && bytes % (UINT64_C(1) << 30) == 0)
		snprintf(buf, len, "%llu GiB", (unsigned long long)(bytes >> 30));
	else if (bytes >= (UINT64_C(1) << 20) && bytes % (UINT64_C(1) << 20) == 0)
		snprintf(buf, len, "%llu MiB", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
}

/*
 * The status from the pool state the daemon logs on SIGUSR1: the class line
 * "class 64 MiB: 3 of 32 warm, 1 being made, 0 waiting, 7 handed out" and
 * the summary "total ...; made 9, failed 0, fell back 0, leased 7, dropped 5".
 */
int bench_daemon_log_state(struct bench_daemon *d, uint64_t size, struct bench_daemon_status *st)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)ADMIN_TIMEOUT_MS * 1000000u;
	char line[1024], prefix[64], *p;
	unsigned long long v[5];
	unsigned int made;
	bool have_class = false;
	struct stat sb;
	FILE *f;

	memset(st, 0, sizeof(*st));
	st->warm_handed_out = UINT64_MAX;
	if (stat(d->log, &sb) < 0)
		return -errno;
	snprintf(prefix, sizeof(prefix), "class ");
	format_size(size, prefix + 6, sizeof(prefix) - 7);
	strcat(prefix, ":");
	if (kill(d->pid, SIGUSR1) < 0)
		return -errno;
	f = fopen(d->log, "re");
	if (!f)
		return -errno;
	if (fseeko(f, sb.st_size, SEEK_SET) < 0)
		goto out_eio;
	for (;;) {
		long pos = ftell(f);

		if (!fgets(line, sizeof(line), f) || !strchr(line, '\n')) {
			/* the daemon has not written it all yet */
			if (bench_now_ns() > deadline)
				goto out_timeout;
			clearerr(f);
			fseek(f, pos, SEEK_SET);
			bench_sleep_ms(1);
			continue;
		}
		/* "... warm (N for demand now), ..." since the warm pool follows demand */
		p = strstr(line, prefix);
		if (p &&
		    (sscanf(p + strlen(prefix),
			    " %llu of %llu warm (%*u for demand now), %llu being made, %llu waiting, "
			    "%llu handed out",
			    &v[0], &v[1], &v[2], &v[3], &v[4]) == 5 ||
		     sscanf(p + strlen(prefix),
			    " %llu of %llu warm, %llu being made, %llu waiting, %llu handed out",
			    &v[0], &v[1], &v[2], &v[3], &v[4]) == 5)) {
			st->warm_ready = v[0];
			st->warm_target = v[1];
			st->pending_bytes = v[2] * size;
			st->warm_handed_out = v[4];
			have_class = true;
			continue;
		}
		p = strstr(line, "held; made ");
		if (p && sscanf(p, "held; made %u, failed %*u, fell back %llu, leased %llu", &made,
				&v[0], &v[1]) == 3) {
			st->regions_created = made;
			st->fallbacks = v[0];
			st->grants = v[1];
			break;
		}
	}
	fclose(f);
	return have_class ? 0 : -ENOENT;

out_timeout:
	fclose(f);
	fprintf(stderr, "bench: bhc-arenad did not log its state on SIGUSR1\n");
	return -ETIMEDOUT;
out_eio:
	fclose(f);
	return -EIO;
}

int bench_daemon_status(struct bench_daemon *d, uint64_t size, struct bench_daemon_status *st)
{
	struct json_object *req, *reply = NULL, *pool, *targets, *counters;
	struct ctl_error err;
	size_t i, n;
	int r;

	memset(st, 0, sizeof(*st));
	st->warm_handed_out = UINT64_MAX;
	if (d->no_admin)
		return bench_daemon_log_state(d, size, st);
	r = admin_open(d);
	if (r < 0)
		return r;
	req = json_object_new_object();
	if (!req || json_object_object_add(req, "cmd", json_object_new_string("status")) < 0) {
		json_object_put(req);
		return -ENOMEM;
	}
	r = ctl_request(&d->admin->conn, req, &reply, &err);
	json_object_put(req);
	if (r == -ENOSYS) {
		fprintf(stderr, "bench: %s; reading the pool state bhc-arenad logs on SIGUSR1\n",
			err.text);
		json_object_put(reply);
		d->no_admin = true;
		return bench_daemon_log_state(d, size, st);
	}
	if (r < 0) {
		fprintf(stderr, "bench: admin status: %s\n", err.text);
		json_object_put(reply);
		return r;
	}
	pool = ctl_json_object(reply, "pool");
	targets = ctl_json_array(pool, "warm_targets");
	n = targets ? json_object_array_length(targets) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(targets, i);

		if (ctl_json_u64(t, "size", 0) != size)
			continue;
		st->warm_ready = ctl_json_u64(t, "ready", 0);
		st->warm_target = ctl_json_u64(t, "count", 0);
	}
	st->pending_bytes = ctl_json_u64(pool, "pending", 0);
	counters = ctl_json_object(reply, "counters");
	st->grants = ctl_json_u64(counters, "grants", 0);
	st->regions_created = ctl_json_u64(counters, "regions_created", 0);
	st->fallbacks = ctl_json_u64(counters, "fallbacks", 0);
	st->acquire_errors = ctl_json_u64(counters, "acquire_errors", 0);
	json_object_put(reply);
	return 0;
}

int bench_daemon_wait_warm(struct bench_daemon *d, uint64_t size, uint64_t n, int timeout_ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct bench_daemon_status st;
	int r;

	for (;;) {
		r = bench_daemon_status(d, size, &st);
		if (r < 0)
			return r;
		if (st.warm_ready >= n && st.pending_bytes == 0)
			return 0;
		if (bench_now_ns() > deadline) {
			fprintf(stderr,
				"bench: after %d ms only %llu of %llu warm regions of %llu bytes "
				"are ready (%llu bytes being made)\n",
				timeout_ms, (unsigned long long)st.warm_ready,
				(unsigned long long)n, (unsigned long long)size,
				(unsigned long long)st.pending_bytes);
			return -ETIMEDOUT;
		}
		bench_sleep_ms(d->no_admin ? 10 : 2);
	}
}
