/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "util-daemon.h"

#define WRAPPER_ARGS_MAX 32
#define ARGS_MAX 64

/* Daemons still running when the process exits are killed then (a failed test). */
static struct bhc_test_daemon *live[8];

uint64_t bhc_test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned int bhc_test_timeout_scale(void)
{
	const char *w = getenv("BHC_TEST_DAEMON_WRAPPER");

	return w && *w ? 10 : 1;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void remove_tree(const char *dir)
{
	char cmd[BHC_TEST_PATH_MAX + 16];

	if (!dir[0] || strncmp(dir, "/tmp/", 5) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "# could not remove %s\n", dir);
}

/* The process that started the daemons: only its exit stops them, not a fork child's. */
static pid_t live_owner;

static void at_exit_cleanup(void)
{
	size_t i;

	if (getpid() != live_owner)
		return;
	for (i = 0; i < ARRAY_SIZE(live); i++) {
		if (!live[i])
			continue;
		if (live[i]->pid > 0) {
			fprintf(stderr, "# daemon %d still running at exit; its log:\n",
				(int)live[i]->pid);
			bhc_test_daemon_dump_log(live[i]);
		}
		bhc_test_daemon_cleanup(live[i]);
	}
}

static void track(struct bhc_test_daemon *d, bool on)
{
	static bool registered;
	size_t i;

	if (!registered) {
		atexit(at_exit_cleanup);
		registered = true;
	}
	live_owner = getpid();
	for (i = 0; i < ARRAY_SIZE(live); i++) {
		if (on && !live[i]) {
			live[i] = d;
			return;
		}
		if (!on && live[i] == d) {
			live[i] = NULL;
			return;
		}
	}
}

int bhc_test_daemon_init(struct bhc_test_daemon *d)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/bhc-arenad-test.XXXXXX");
	if (!mkdtemp(d->dir))
		return -errno;
	snprintf(d->socket, sizeof(d->socket), "%s/arenad.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/arenad.log", d->dir);
	snprintf(d->config, sizeof(d->config), "%s/arenad.conf", d->dir);
	d->listen_fd = -1;
	track(d, true);
	return 0;
}

int bhc_test_daemon_setenv(struct bhc_test_daemon *d, const char *name, const char *value)
{
	int n;

	if (d->n_env >= ARRAY_SIZE(d->env))
		return -E2BIG;
	n = snprintf(d->env[d->n_env], sizeof(d->env[0]), "%s=%s", name, value);
	if (n < 0 || (size_t)n >= sizeof(d->env[0]))
		return -E2BIG;
	d->n_env++;
	return 0;
}

int bhc_test_daemon_write_config(struct bhc_test_daemon *d, const char *text)
{
	FILE *f = fopen(d->config, "we");
	int r = 0;

	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		r = -EIO;
	if (fclose(f) != 0 && !r)
		r = -errno;
	if (!r)
		d->have_config = true;
	return r;
}

int bhc_test_daemon_spawn(struct bhc_test_daemon *d, const char *const *args)
{
	const char *argv[WRAPPER_ARGS_MAX + ARGS_MAX + 1];
	const char *daemon = getenv("BHC_ARENAD"), *wrapper = getenv("BHC_TEST_DAEMON_WRAPPER");
	char *wrap_copy = NULL, *tok, *save = NULL;
	size_t n = 0;
	pid_t pid;
	int fd;

	if (!daemon || !*daemon)
		return -ENOENT;
	if (wrapper && *wrapper) {
		wrap_copy = strdup(wrapper);
		if (!wrap_copy)
			return -ENOMEM;
		for (tok = strtok_r(wrap_copy, " ", &save); tok && n < WRAPPER_ARGS_MAX;
		     tok = strtok_r(NULL, " ", &save))
			argv[n++] = tok;
	}
	argv[n++] = daemon;
	argv[n++] = "--socket";
	argv[n++] = d->socket;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	if (d->have_config) {
		argv[n++] = "--config";
		argv[n++] = d->config;
	}
	for (; args && *args && n < WRAPPER_ARGS_MAX + ARGS_MAX; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(wrap_copy);
		return -errno;
	}
	fflush(NULL);
	d->started_ms = bhc_test_now_ms();
	pid = fork();
	if (pid < 0) {
		close(fd);
		free(wrap_copy);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		char pidbuf[32];
		unsigned int i;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		/* the node state (instance, token key) of the test's own, not the host's */
		setenv("STATE_DIRECTORY", d->dir, 1);
		for (i = 0; i < d->n_env; i++)
			putenv(d->env[i]);
		if (d->listen_fd >= 0) {
			/* sd_listen_fds(): fd 3, LISTEN_FDS=1, LISTEN_PID of the daemon (us, after exec). */
			if (d->listen_fd != 3) {
				dup2(d->listen_fd, 3);
				close(d->listen_fd);
			} else {
				fcntl(3, F_SETFD, 0);
			}
			snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
			setenv("LISTEN_PID", pidbuf, 1);
			setenv("LISTEN_FDS", "1", 1);
		}
		execvp(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	free(wrap_copy);
	d->pid = pid;
	return 0;
}

/* Reap the daemon if it has exited; true if it has. */
static bool reaped(struct bhc_test_daemon *d)
{
	int status;

	if (d->pid <= 0)
		return true;
	if (waitpid(d->pid, &status, WNOHANG) != d->pid)
		return false;
	d->wait_status = status;
	d->pid = 0;
	return true;
}

int bhc_test_daemon_start(struct bhc_test_daemon *d, const char *const *args)
{
	struct stat st;
	uint64_t deadline;
	int r;

	r = bhc_test_daemon_spawn(d, args);
	if (r < 0)
		return r;
	/* "listening on" is logged once listen() has succeeded; no probe connection needed. */
	deadline = bhc_test_now_ms() + 10000u * bhc_test_timeout_scale();
	while (bhc_test_now_ms() < deadline) {
		if (bhc_test_daemon_log_count(d, "listening on") > 0 && stat(d->socket, &st) == 0)
			return 0;
		if (reaped(d))
			return -ECHILD;
		sleep_ms(2);
	}
	return -ETIMEDOUT;
}

char *bhc_test_daemon_log_read(const struct bhc_test_daemon *d)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap), *tmp;
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	fd = open(d->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		buf[0] = '\0';
		return buf;
	}
	for (;;) {
		if (cap - len < 4096) {
			tmp = realloc(buf, cap * 2);
			if (!tmp)
				break;
			buf = tmp;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

int bhc_test_daemon_log_count(const struct bhc_test_daemon *d, const char *needle)
{
	char *log = bhc_test_daemon_log_read(d), *line, *save = NULL;
	int n = 0;

	if (!log)
		return 0;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, needle))
			n++;
	}
	free(log);
	return n;
}

bool bhc_test_daemon_log_line(const struct bhc_test_daemon *d, const char *needle, char *buf,
			      size_t len)
{
	char *log = bhc_test_daemon_log_read(d), *line, *save = NULL;
	bool found = false;

	if (!log)
		return false;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, needle)) {
			snprintf(buf, len, "%s", line);
			found = true;
		}
	}
	free(log);
	return found;
}

bool bhc_test_daemon_log_wait(const struct bhc_test_daemon *d, const char *needle, int n,
			      int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();

	for (;;) {
		if (bhc_test_daemon_log_count(d, needle) >= n)
			return true;
		if (bhc_test_now_ms() >= deadline)
			return false;
		sleep_ms(5);
	}
}

int bhc_test_daemon_wait_ready(struct bhc_test_daemon *d, int timeout_ms)
{
	return bhc_test_daemon_log_wait(d, "ready:", 1, timeout_ms) ? 0 : -ETIMEDOUT;
}

int bhc_test_daemon_wait_exit(struct bhc_test_daemon *d, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();

	while (!reaped(d)) {
		if (bhc_test_now_ms() >= deadline)
			return -ETIMEDOUT;
		sleep_ms(5);
	}
	if (WIFEXITED(d->wait_status))
		return WEXITSTATUS(d->wait_status);
	return 128 + WTERMSIG(d->wait_status);
}

int bhc_test_daemon_stop(struct bhc_test_daemon *d)
{
	int r;

	if (d->pid <= 0)
		return -ECHILD;
	kill(d->pid, SIGTERM);
	r = bhc_test_daemon_wait_exit(d, 10000);
	if (r == -ETIMEDOUT) {
		kill(d->pid, SIGKILL);
		bhc_test_daemon_wait_exit(d, 10000);
	}
	return r;
}

void bhc_test_daemon_dump_log(const struct bhc_test_daemon *d)
{
	char *log = bhc_test_daemon_log_read(d), *line, *save = NULL;

	if (!log)
		return;
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "# arenad: %s\n", line);
	free(log);
}

void bhc_test_daemon_setup(struct bhc_test_daemon *d, const char *config)
{
	ck_assert_int_eq(bhc_test_daemon_init(d), 0);
	if (config)
		ck_assert_int_eq(bhc_test_daemon_write_config(d, config), 0);
}

void bhc_test_daemon_start_ready(struct bhc_test_daemon *d, const char *const *args, int timeout_ms)
{
	int r = bhc_test_daemon_start(d, args);

	if (r < 0)
		bhc_test_daemon_dump_log(d);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(bhc_test_daemon_wait_ready(d, timeout_ms), 0);
}

void bhc_test_daemon_stop_clean(struct bhc_test_daemon *d)
{
	int r = bhc_test_daemon_stop(d);

	if (r != 0)
		bhc_test_daemon_dump_log(d);
	ck_assert_int_eq(r, 0);
	bhc_test_daemon_cleanup(d);
}

void bhc_test_daemon_cleanup(struct bhc_test_daemon *d)
{
	const char *keep = getenv("BHC_TEST_KEEP");

	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &d->wait_status, 0);
		d->pid = 0;
	}
	if (!(keep && *keep == '1'))
		remove_tree(d->dir);
	else if (d->dir[0])
		fprintf(stderr, "# kept %s\n", d->dir);
	d->dir[0] = '\0';
	track(d, false);
}

int bhc_test_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

void bhc_test_hdr(struct bhc_arena_msg_hdr *hdr, uint16_t type, uint32_t length, uint32_t seq)
{
	hdr->magic = BHC_ARENA_PROTO_MAGIC;
	hdr->version = BHC_ARENA_PROTO_VERSION;
	hdr->type = type;
	hdr->length = length;
	hdr->seq = seq;
}

int bhc_test_send(int fd, const void *buf, size_t len, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctrl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (pass_fd >= 0) {
		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = sizeof(ctrl.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &pass_fd, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

ssize_t bhc_test_recv(int fd, void *buf, size_t len, int *fdp, int timeout_ms)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} ctrl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl.buf,
		.msg_controllen = sizeof(ctrl.buf),
	};
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct cmsghdr *cmsg;
	ssize_t n;
	int r;

	if (fdp)
		*fdp = -1;
	r = poll(&pfd, 1, timeout_ms * (int)bhc_test_timeout_scale());
	if (r < 0)
		return -errno;
	if (r == 0)
		return -ETIMEDOUT;
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg)) {
		int got;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&got, CMSG_DATA(cmsg), sizeof(int));
		if (fdp && *fdp < 0)
			*fdp = got;
		else
			close(got);
	}
	return n;
}

/* Receive a reply of @type (@len bytes into @buf) or an ERROR (into @e). */
static int recv_reply(int fd, uint16_t type, void *buf, size_t len, int *fdp,
		      struct bhc_arena_msg_error *e)
{
	unsigned char msg[BHC_ARENA_MSG_MAX];
	struct bhc_arena_msg_hdr hdr;
	struct bhc_arena_msg_error err;
	ssize_t n;
	int got_fd;

	n = bhc_test_recv(fd, msg, sizeof(msg), &got_fd, 10000);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n < sizeof(hdr)) {
		if (got_fd >= 0)
			close(got_fd);
		return -EBADMSG;
	}
	memcpy(&hdr, msg, sizeof(hdr));
	if (hdr.type == BHC_ARENA_MSG_ERROR && (size_t)n == sizeof(err)) {
		memcpy(&err, msg, sizeof(err));
		if (e)
			*e = err;
		if (got_fd >= 0)
			close(got_fd);
		return err.error > 0 ? err.error : EPROTO;
	}
	if (hdr.type != type || (size_t)n != len) {
		if (got_fd >= 0)
			close(got_fd);
		return -EBADMSG;
	}
	memcpy(buf, msg, len);
	if (fdp)
		*fdp = got_fd;
	else if (got_fd >= 0)
		close(got_fd);
	return 0;
}

int bhc_test_hello(int fd, const char *tag, uint32_t flags, struct bhc_arena_msg_welcome *w)
{
	struct bhc_arena_msg_hello m;
	struct bhc_arena_msg_welcome tmp;
	int r;

	memset(&m, 0, sizeof(m));
	bhc_test_hdr(&m.hdr, BHC_ARENA_MSG_HELLO, sizeof(m), 1);
	m.pid = (uint32_t)getpid();
	m.flags = flags;
	if (tag)
		snprintf(m.tag, sizeof(m.tag), "%s", tag);
	r = bhc_test_send(fd, &m, sizeof(m), -1);
	if (r < 0)
		return r;
	return recv_reply(fd, BHC_ARENA_MSG_WELCOME, w ? w : &tmp, sizeof(tmp), NULL, NULL);
}

int bhc_test_acquire(int fd, uint64_t size, uint32_t flags, uint32_t page_shift,
		     struct bhc_arena_msg_grant *g, int *fdp, struct bhc_arena_msg_error *e)
{
	struct bhc_arena_msg_acquire m;
	struct bhc_arena_msg_grant tmp;
	int r;

	memset(&m, 0, sizeof(m));
	bhc_test_hdr(&m.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(m), 2);
	m.size = size;
	m.flags = flags;
	m.page_shift = page_shift;
	r = bhc_test_send(fd, &m, sizeof(m), -1);
	if (r < 0)
		return r;
	return recv_reply(fd, BHC_ARENA_MSG_GRANT, g ? g : &tmp, sizeof(tmp), fdp, e);
}

int bhc_test_release(int fd, uint64_t region_id, struct bhc_arena_msg_error *e)
{
	struct bhc_arena_msg_release m;
	struct bhc_arena_msg_released got;
	int r;

	memset(&m, 0, sizeof(m));
	bhc_test_hdr(&m.hdr, BHC_ARENA_MSG_RELEASE, sizeof(m), 3);
	m.region_id = region_id;
	r = bhc_test_send(fd, &m, sizeof(m), -1);
	if (r < 0)
		return r;
	r = recv_reply(fd, BHC_ARENA_MSG_RELEASED, &got, sizeof(got), NULL, e);
	if (r == 0 && got.region_id != region_id)
		return -EBADMSG;
	return r;
}

int bhc_test_recv_error(int fd, struct bhc_arena_msg_error *e, int timeout_ms)
{
	unsigned char msg[BHC_ARENA_MSG_MAX];
	struct bhc_arena_msg_error err;
	ssize_t n;
	int got_fd;

	n = bhc_test_recv(fd, msg, sizeof(msg), &got_fd, timeout_ms);
	if (got_fd >= 0)
		close(got_fd);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n != sizeof(err))
		return -EBADMSG;
	memcpy(&err, msg, sizeof(err));
	if (err.hdr.magic != BHC_ARENA_PROTO_MAGIC || err.hdr.type != BHC_ARENA_MSG_ERROR ||
	    err.hdr.length != sizeof(err))
		return -EBADMSG;
	if (e)
		*e = err;
	return err.error;
}

bool bhc_test_closed(int fd, int timeout_ms)
{
	unsigned char msg[BHC_ARENA_MSG_MAX];
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	ssize_t n;

	while (bhc_test_now_ms() < deadline) {
		n = bhc_test_recv(fd, msg, sizeof(msg), NULL, 100);
		if (n == 0 || n == -ECONNRESET)
			return true;
		if (n < 0 && n != -ETIMEDOUT)
			return false;
	}
	return false;
}

/* --- the admin JSON ---------------------------------------------------------- */

struct json_object *bhc_test_admin_json(const struct bhc_test_daemon *d, const char *cmd)
{
	const char *ctl = getenv("BHC_ARENACTL");
	struct json_object *j = NULL;
	size_t len = 0, cap = 65536;
	int out[2], status;
	char *buf;
	ssize_t n;
	pid_t pid;

	if (!ctl || !*ctl || pipe2(out, O_CLOEXEC) < 0)
		return NULL;
	buf = malloc(cap);
	if (!buf) {
		close(out[0]);
		close(out[1]);
		return NULL;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		execl(ctl, ctl, "--socket", d->socket, "--json", cmd, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	while (pid > 0 && (n = read(out[0], buf + len, cap - 1 - len)) > 0) {
		len += (size_t)n;
		if (len == cap - 1) {
			char *more = realloc(buf, cap * 2);

			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
	}
	close(out[0]);
	buf[len] = '\0';
	if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		j = json_tokener_parse(buf);
	free(buf);
	return j;
}

static bool json_path_u64(struct json_object *o, const char *path, uint64_t *v)
{
	char key[64];
	const char *dot;
	size_t n;

	while (o && (dot = strchr(path, '.'))) {
		n = (size_t)(dot - path);
		if (n >= sizeof(key))
			return false;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(o, key, &o))
			return false;
		path = dot + 1;
	}
	if (!o || !json_object_object_get_ex(o, path, &o) || !json_object_is_type(o, json_type_int))
		return false;
	*v = json_object_get_uint64(o);
	return true;
}

uint64_t bhc_test_admin_u64(const struct bhc_test_daemon *d, const char *path)
{
	struct json_object *j = bhc_test_admin_json(d, "status");
	uint64_t v = 0;
	bool found;

	ck_assert_msg(j, "bhc-arenactl --json status failed");
	found = json_path_u64(j, path, &v);
	json_object_put(j);
	ck_assert_msg(found, "no number at %s in bhc-arenactl --json status", path);
	return v;
}

uint64_t bhc_test_admin_wait_u64(const struct bhc_test_daemon *d, const char *path, uint64_t want,
				 int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	uint64_t v;

	for (;;) {
		v = bhc_test_admin_u64(d, path);
		if (v == want || bhc_test_now_ms() >= deadline)
			return v;
		sleep_ms(10);
	}
}

int64_t bhc_test_admin_row_u64(const struct bhc_test_daemon *d, const char *cmd,
			       const char *match_key, uint64_t match, const char *key)
{
	struct json_object *j = bhc_test_admin_json(d, cmd), *arr, *row;
	int64_t r = -1;
	uint64_t v;
	size_t i;

	ck_assert_msg(j, "bhc-arenactl --json %s failed", cmd);
	if (json_object_object_get_ex(j, cmd, &arr) && json_object_is_type(arr, json_type_array)) {
		for (i = 0; i < json_object_array_length(arr); i++) {
			row = json_object_array_get_idx(arr, i);
			if (json_path_u64(row, match_key, &v) && v == match &&
			    json_path_u64(row, key, &v)) {
				r = (int64_t)v;
				break;
			}
		}
	}
	json_object_put(j);
	return r;
}

int64_t bhc_test_admin_client_u64(const struct bhc_test_daemon *d, pid_t pid, const char *key)
{
	return bhc_test_admin_row_u64(d, "clients", "pid", (uint64_t)pid, key);
}
