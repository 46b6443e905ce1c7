/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "closer.h"
#include "common/clock.h"
#include "job.h"
#include "log.h"
#include "peer.h"
#include "proto.h"
#include "reclaim.h"
#include "sd.h"
#include "server.h"
#include "user.h"
#include "common/size.h"
#include "common/backing.h"

/* At most one STATUS= per this many milliseconds. */
#define STATUS_INTERVAL_MS 1000
/* After accept() ran out of file descriptors, try again this much later. */
#define ACCEPT_RETRY_MS 1000
/* Connections accepted per wake-up. */
#define ACCEPT_BURST 64
/*
 * Lines about one uid's clients (connected, disconnected, refused...): a
 * burst of LOG_BURST, then LOG_PER_S a second; what is suppressed is summed
 * up every LOG_SUMMARY_MS (a connect / HELLO / close loop made 26 000 lines
 * a second, enough to push everything else out of the journal).
 */
#define LOG_BURST 20
#define LOG_PER_S 5
#define LOG_SUMMARY_MS 5000
/* Memory freed by admin replies goes back to the system this long after a session ends. */
#define TRIM_DELAY_MS 1000

static void maybe_finished(struct server *server);

static void handle_closed(uv_handle_t *handle)
{
	struct server *server = handle->data;

	server->n_handles--;
	maybe_finished(server);
}

static void close_handle(struct server *server, uv_handle_t *handle)
{
	if (handle->data == server && !uv_is_closing(handle))
		uv_close(handle, handle_closed);
}

/* All handles of the server are closed once the pool and uring have stopped. */
static void maybe_finished(struct server *server)
{
	if (!server->stopping || !server->pool_stopped || !server->uring_stopped)
		return;
	close_handle(server, (uv_handle_t *)&server->sig_term);
	close_handle(server, (uv_handle_t *)&server->sig_int);
	close_handle(server, (uv_handle_t *)&server->sig_hup);
	close_handle(server, (uv_handle_t *)&server->sig_usr1);
	close_handle(server, (uv_handle_t *)&server->watchdog);
	close_handle(server, (uv_handle_t *)&server->status_timer);
	close_handle(server, (uv_handle_t *)&server->accept_timer);
	close_handle(server, (uv_handle_t *)&server->log_timer);
	close_handle(server, (uv_handle_t *)&server->admin_timer);
	close_handle(server, (uv_handle_t *)&server->trim_timer);
}

/* Say how many lines about each uid's clients were suppressed since the last summary. */
static void log_summaries(struct server *server)
{
	uint64_t now = ratelimit_now_ns();
	size_t i;

	for (i = 0; i < RATELIMIT_SLOTS; i++) {
		struct ratelimit_slot *slot = &server->log_limit.slots[i];

		if (!slot->used || !slot->suppressed)
			continue;
		log_notice("uid %u: suppressed %" PRIu64 " log lines about its clients in the last "
			   "%.1f s (at most %d a second are logged)",
			   (unsigned int)slot->uid, slot->suppressed,
			   (double)(now - slot->suppressed_since_ns) / 1e9, LOG_PER_S);
		slot->suppressed = 0;
	}
}

static void on_log_timer(uv_timer_t *timer)
{
	log_summaries(timer->data);
}

void server_log_client(struct server *server, uid_t uid, int level, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	if (uid != 0 && !ratelimit_allow(&server->log_limit, uid, ratelimit_now_ns())) {
		/* the first line suppressed starts the clock for the summaries */
		if (!uv_is_active((uv_handle_t *)&server->log_timer) && !server->stopping)
			uv_timer_start(&server->log_timer, on_log_timer, LOG_SUMMARY_MS, 0);
		return;
	}
	va_start(ap, fmt);
	log_msgv(level, fmt, ap);
	va_end(ap);
}

static void on_trim_timer(uv_timer_t *timer)
{
	/* a few ms at most on the daemon's small heap; at most once per TRIM_DELAY_MS */
	malloc_trim(0);
}

void server_trim_later(struct server *server)
{
	if (!server->stopping && !uv_is_active((uv_handle_t *)&server->trim_timer))
		uv_timer_start(&server->trim_timer, on_trim_timer, TRIM_DELAY_MS, 0);
}

static void send_status(struct server *server)
{
	char status[256], msg[300];

	pool_format_status(&server->pool, status, sizeof(status));
	snprintf(msg, sizeof(msg), "STATUS=%s%s; %u clients",
		 server->ready ? "" : "starting: ", status, server->n_peers);
	sd_notify(0, msg);
	server->status_sent_ms = uv_now(server->loop);
}

static void on_status_timer(uv_timer_t *timer)
{
	send_status(timer->data);
}

void server_changed(struct server *server)
{
	uint64_t now = uv_now(server->loop), next;

	if (server->stopping || uv_is_active((uv_handle_t *)&server->status_timer))
		return;
	next = server->status_sent_ms + STATUS_INTERVAL_MS;
	if (now >= next) {
		send_status(server);
		return;
	}
	uv_timer_start(&server->status_timer, on_status_timer, next - now, 0);
}

static void on_pool_change(struct pool *pool)
{
	server_changed(container_of(pool, struct server, pool));
}

/* One CPU per NUMA node: the highest-numbered of @allowed in each; else the highest of all. */
static void auto_cpus(const cpu_set_t *allowed, cpu_set_t *out)
{
	const char *dir = "/sys/devices/system/node";
	cpu_set_t node;
	struct dirent *e;
	char path[300], line[4096];
	int cpu;
	FILE *f;
	DIR *d;

	CPU_ZERO(out);
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "node", 4) != 0 || e->d_name[4] < '0' || e->d_name[4] > '9')
			continue;
		snprintf(path, sizeof(path), "%s/%s/cpulist", dir, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			/* a node of memory alone has an empty list */
			if (config_parse_cpulist(line, &node) == 0) {
				CPU_AND(&node, &node, allowed);
				for (cpu = CPU_SETSIZE - 1; cpu >= 0 && !CPU_ISSET(cpu, &node);
				     cpu--)
					;
				if (cpu >= 0)
					CPU_SET(cpu, out);
			}
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	if (CPU_COUNT(out))
		return;
	for (cpu = CPU_SETSIZE - 1; cpu >= 0 && !CPU_ISSET(cpu, allowed); cpu--)
		;
	if (cpu >= 0)
		CPU_SET(cpu, out);
}

/*
 * Keep the kernel's io_uring workers, which zero the pages of every region
 * (fallocate), on the CPUs of [pool] io_cpus ("auto": one per NUMA node).
 * Refills then no longer spread over every CPU at once: a worker zeroes
 * page after page on a CPU of its own, its cache warm, and the clients and
 * the loop keep the other CPUs (on 2 CPUs the sustained 2 MiB hand-out
 * rate went up by 12-31%, BENCHMARKS.md). The kernel gives a worker its CPUs
 * when it starts it, so this is done before the first operation; the
 * initial reservation is confined too ("all" makes it on every CPU).
 */
static void confine_io(struct server *server)
{
	const struct config_cpus *io = &server->config->io_cpus;
	cpu_set_t allowed, set;
	char list[512], all[512], want[512];
	int r;

	if (io->mode == CONFIG_CPUS_ALL)
		return;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
		log_warning("sched_getaffinity: %m; [pool] io_cpus is not applied");
		return;
	}
	if (io->mode == CONFIG_CPUS_AUTO)
		auto_cpus(&allowed, &set);
	else
		CPU_AND(&set, &io->set, &allowed);
	config_format_cpulist(&set, list, sizeof(list));
	config_format_cpulist(&allowed, all, sizeof(all));
	if (io->mode == CONFIG_CPUS_LIST)
		config_format_cpulist(&io->set, want, sizeof(want));
	else
		snprintf(want, sizeof(want), "auto");
	if (CPU_COUNT(&set) == 0) {
		log_warning("[pool] io_cpus = %s names none of the CPUs the daemon may use (%s); "
			    "region work runs on all of them",
			    want, all);
		return;
	}
	if (CPU_EQUAL(&set, &allowed))
		return;
	r = uring_set_cpus(&server->uring, &set);
	if (r == -EOPNOTSUPP) {
		log_info("[pool] io_cpus applies to io_uring workers only; the thread pool runs "
			 "on CPUs %s",
			 all);
		return;
	}
	if (r < 0) {
		log_warning("cannot keep the io_uring workers on CPUs %s: %s", list, strerror(-r));
		return;
	}
	log_info("region work (io_uring workers) runs on CPU %s of %s ([pool] io_cpus = %s)", list,
		 all, want);
}

static void on_pool_ready(struct pool *pool)
{
	struct server *server = container_of(pool, struct server, pool);
	struct pool_count warm = pool_state_total(pool, REGION_WARM);
	char status[256], msg[320], size[32];

	if (server->stopping)
		return;
	server->ready = true;
	log_notice("ready: %" PRIu64 " warm regions (%s) in %.2f s; serving %s", warm.n_regions,
		   size_format_iec(warm.bytes, size, sizeof(size)),
		   (double)(uv_now(server->loop) - pool->start_ms) / 1000.0, server->socket_path);
	pool_format_status(pool, status, sizeof(status));
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s; %u clients", status, server->n_peers);
	sd_notify(0, msg);
	server->status_sent_ms = uv_now(server->loop);
}

static void on_pool_uncharge(struct pool *pool, struct region *region)
{
	user_abandoned_done(region->charged, region->charged_bytes);
}

static void on_pool_stopped(struct pool *pool)
{
	struct server *server = container_of(pool, struct server, pool);

	server->pool_stopped = true;
	maybe_finished(server);
}

static void on_uring_stopped(struct uring *uring)
{
	struct server *server = container_of(uring, struct server, uring);

	server->uring_stopped = true;
	maybe_finished(server);
}

static void listener_closed(uv_handle_t *handle)
{
	struct server *server = handle->data;

	close(server->listen_fd);
	server->listen_fd = -1;
	server->listener_open = false;
	handle_closed(handle);
}

static void remove_socket(struct server *server)
{
	struct stat st;

	if (!server->socket_created)
		return;
	/* Only if it is still the socket we bound, not one of a successor. */
	if (stat(server->socket_path, &st) == 0 && st.st_dev == server->socket_dev &&
	    st.st_ino == server->socket_ino && unlink(server->socket_path) < 0)
		log_warning("cannot remove %s: %m", server->socket_path);
	server->socket_created = false;
}

void server_stop(struct server *server, const char *why)
{
	struct list_head *pos, *n;

	if (server->stopping)
		return;
	log_notice("stopping (%s)", why);
	sd_notify(0, "STOPPING=1");
	server->stopping = true;
	uv_timer_stop(&server->status_timer);
	uv_timer_stop(&server->log_timer);
	uv_timer_stop(&server->trim_timer);
	log_summaries(server);
	if (server->listener_open && !uv_is_closing((uv_handle_t *)&server->listener))
		uv_close((uv_handle_t *)&server->listener, listener_closed);
	remove_socket(server);
	list_for_each_safe(pos, n, &server->peers) {
		struct peer *peer = list_entry(pos, struct peer, link);

		if (peer->acquire.pending) {
			peer->request_seq = peer->acquire_seq;
			peer->request_type = BHC_ARENA_MSG_ACQUIRE;
			peer_send_error(peer, ESHUTDOWN, "the daemon is stopping");
		}
		peer_close(peer, "the daemon is stopping", true);
	}
	restore_stop(server);
	pool_stop(&server->pool);
	uring_stop(&server->uring, on_uring_stopped);
}

int server_reload(struct server *server, char *err, size_t err_len)
{
	struct config *next;
	bool missing = false;
	int r;

	sd_notify(0, "RELOADING=1");
	r = config_load(&server->source, &next, &missing, err, err_len);
	if (r < 0) {
		log_err("reload failed: %s; keeping the running configuration", err);
		goto out;
	}
	config_keep_restart_only(next, server->config);
	r = config_validate(next, err, err_len);
	if (r < 0) {
		log_err("reload failed: %s (with the settings that need a restart kept); "
			"keeping the running configuration",
			err);
		config_free(next);
		goto out;
	}
	log_set_level(next->log_level);
	config_free(server->config);
	server->config = next;
	r = pool_configure(&server->pool, next);
	if (r < 0) {
		snprintf(err, err_len, "cannot apply the warm classes: %s", strerror(-r));
		log_err("reload: %s", err);
	}
	server->n_reloads++;
	if (missing)
		log_notice("reloaded the configuration: %s does not exist, so the defaults%s apply",
			   server->source.path,
			   server->source.n_sets ? " and the command line" : "");
	else
		log_notice("reloaded the configuration from %s", server->source.path);
out:
	sd_notify(0, "READY=1");
	server_changed(server);
	return r;
}

static void on_signal(uv_signal_t *handle, int signum)
{
	struct server *server = handle->data;

	switch (signum) {
	case SIGTERM:
	case SIGINT:
		server_stop(server, signum == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	case SIGHUP:
		if (!server->stopping) {
			char err[CONFIG_ERROR_MAX];

			server_reload(server, err, sizeof(err));
		}
		break;
	case SIGUSR1:
		server_log_state(server);
		break;
	}
}

static void on_watchdog(uv_timer_t *timer)
{
	sd_notify(0, "WATCHDOG=1");
}

/* Turn away a connection over a connection limit: ERROR EUSERS, then close. */
static void refuse_connection(struct server *server, int fd, const struct ucred *cred,
			      const char *text)
{
	struct bhc_arena_msg_error m;
	struct proto_error err;

	proto_set_error(&err, EUSERS, 0, 0, true, "%s", text);
	proto_encode_error(&m, &err);
	if (send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("refusing a connection: %m");
	/* it may already hold fds the client sent: closer.h */
	shutdown(fd, SHUT_RDWR);
	closer_close(fd);
	server->n_refused++;
	if (server->n_refused == 1 || server->n_refused % 100 == 0)
		server_log_client(server, cred->uid, LOG_WARNING,
				  "refused a connection of uid %u: %s (%" PRIu64 " refused so far)",
				  (unsigned int)cred->uid, err.text, server->n_refused);
}

/*
 * [limits] max_connections, of which admin_connections (at most a quarter)
 * are kept for root and [daemon] admin_group, per_uid_connections and
 * per_uid_connection_rate (root and admin_group are not limited by
 * either). A connect / HELLO / close loop costs the loop ~20 us a cycle,
 * 15 000 a second from one user; a refusal costs a third of that, and the
 * rate limit keeps the rest for everybody else. Returns NULL if @fd may be
 * served, else why not. Group membership is looked up only at a limit.
 */
static const char *connection_limit(struct server *server, int fd, const struct ucred *cred,
				    char *buf, size_t len)
{
	const struct config *cfg = server->config;
	uint64_t keep = cfg->admin_connections, n_uid = 0;
	struct list_head *pos;
	bool fast;

	if (cfg->max_connections && keep > cfg->max_connections / 4)
		keep = cfg->max_connections / 4;
	if (cred->uid == 0) {
		if (cfg->max_connections && server->n_peers >= cfg->max_connections)
			goto full;
		return NULL;
	}
	list_for_each(pos, &server->users) {
		struct user *user = list_entry(pos, struct user, link);

		if (user->uid == cred->uid)
			n_uid = user->n_peers;
	}
	/* follows reloads */
	server->connect_limit.rate = cfg->per_uid_connection_rate;
	server->connect_limit.burst = 2 * cfg->per_uid_connection_rate;
	fast = !cfg->per_uid_connection_rate ||
	       ratelimit_allow(&server->connect_limit, cred->uid, ratelimit_now_ns());
	if ((!cfg->max_connections || server->n_peers + keep < cfg->max_connections) &&
	    (!cfg->per_uid_connections || n_uid < cfg->per_uid_connections) && fast)
		return NULL;
	if (admin_privileged(cfg->admin_group, fd, cred)) {
		if (cfg->max_connections && server->n_peers >= cfg->max_connections)
			goto full;
		return NULL;
	}
	if (!fast) {
		snprintf(buf, len,
			 "too many new connections of uid %u ([limits] per_uid_connection_rate = "
			 "%" PRIu64 " a second)",
			 (unsigned int)cred->uid, cfg->per_uid_connection_rate);
		return buf;
	}
	if (cfg->per_uid_connections && n_uid >= cfg->per_uid_connections) {
		snprintf(buf, len,
			 "too many connections of uid %u: %" PRIu64
			 " open ([limits] per_uid_connections = %" PRIu64 ")",
			 (unsigned int)cred->uid, n_uid, cfg->per_uid_connections);
		return buf;
	}
	snprintf(buf, len,
		 "too many connections: %u open ([limits] max_connections = %" PRIu64
		 ", of which admin_connections = %" PRIu64 " are kept for admins)",
		 server->n_peers, cfg->max_connections, keep);
	return buf;
full:
	snprintf(buf, len, "too many connections: %u open ([limits] max_connections = %" PRIu64 ")",
		 server->n_peers, cfg->max_connections);
	return buf;
}

static void on_listener(uv_poll_t *poll, int status, int events);

static void on_accept_timer(uv_timer_t *timer)
{
	struct server *server = timer->data;

	if (!server->stopping && server->listener_open)
		uv_poll_start(&server->listener, UV_READABLE, on_listener);
}

static void on_listener(uv_poll_t *poll, int status, int events)
{
	struct server *server = poll->data;
	char text[BHC_ARENA_ERROR_TEXT_MAX];
	struct ucred cred;
	const char *why;
	struct peer *peer;
	socklen_t len;
	int fd, i, r;

	for (i = 0; i < ACCEPT_BURST && !server->stopping; i++) {
		fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			log_warning("accept: %m; pausing new connections for %d ms",
				    ACCEPT_RETRY_MS);
			uv_poll_stop(&server->listener);
			uv_timer_start(&server->accept_timer, on_accept_timer, ACCEPT_RETRY_MS, 0);
			return;
		}
		server->n_accepted++;
		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
			log_warning("cannot serve a new connection: SO_PEERCRED: %m");
			closer_close(fd);
			continue;
		}
		why = connection_limit(server, fd, &cred, text, sizeof(text));
		if (why) {
			refuse_connection(server, fd, &cred, why);
			continue;
		}
		r = peer_new(server, fd, &peer);
		if (r < 0) {
			log_warning("cannot serve a new connection: %s", strerror(-r));
			closer_close(fd);
			continue;
		}
		server_log_client(server, peer->cred.uid, LOG_DEBUG,
				  "peer %" PRIu64 ": connection from pid %d uid %u", peer->id,
				  (int)peer->cred.pid, (unsigned int)peer->cred.uid);
		server_changed(server);
	}
}

/* mkdir -p for the socket's directory (new directories are 0755). */
static int make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)NULL)->sun_path)], *p;

	snprintf(dir, sizeof(dir), "%s", path);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file at @path: remove it if stale, refuse if a daemon answers there. */
static int check_existing(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	r = r < 0 ? -errno : 0;
	close(fd);
	if (r == -ECONNREFUSED) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		log_notice("removed the stale socket %s", path);
		return 0;
	}
	if (r == -ENOENT)
		return 0;
	if (r == 0 || r == -EAGAIN)
		log_err("another bhc-arenad is already listening on %s", path);
	else
		log_err("%s is in use (connect: %s)", path, strerror(-r));
	return -EADDRINUSE;
}

/* @n sockets passed by systemd (the fd store's descriptors aside), the first at @fd. */
static int listen_activated(struct server *server, int n, int fd)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int flags;

	if (n < 0) {
		log_err("socket activation: %s", strerror(-n));
		return n;
	}
	if (n == 0)
		return 0;
	if (n > 1) {
		log_err("socket activation passed %d sockets; expected one", n);
		return -EINVAL;
	}
	if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0) {
		log_err("the activated socket is not a listening AF_UNIX SOCK_SEQPACKET socket");
		return -EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	server->listen_fd = fd;
	server->socket_activated = true;
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sun_path[0])
		server->socket_path = strdup(sa.sun_path);
	else
		server->socket_path = strdup("(activated socket)");
	if (!server->socket_path)
		return -ENOMEM;
	if (strcmp(server->socket_path, server->config->socket) != 0)
		log_notice("using the socket passed by systemd, %s, not [daemon] socket %s",
			   server->socket_path, server->config->socket);
	return 1;
}

static int listen_create(struct server *server)
{
	const char *path = server->config->socket;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	r = make_parent(path);
	if (r < 0) {
		log_err("cannot create the directory of %s: %s", path, strerror(-r));
		return r;
	}
	r = check_existing(path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_err("socket: %m");
		return r;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		log_err("cannot bind %s: %m", path);
		goto out_close;
	}
	if (chmod(path, server->config->socket_mode) < 0 || stat(path, &st) < 0) {
		r = -errno;
		log_err("cannot set the mode of %s: %m", path);
		goto out_unlink;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		log_err("cannot listen on %s: %m", path);
		goto out_unlink;
	}
	server->socket_path = strdup(path);
	if (!server->socket_path) {
		r = -ENOMEM;
		goto out_unlink;
	}
	server->listen_fd = fd;
	server->socket_created = true;
	server->socket_dev = st.st_dev;
	server->socket_ino = st.st_ino;
	return 0;

out_unlink:
	unlink(path);
out_close:
	close(fd);
	return r;
}

static int init_handle(struct server *server, uv_handle_t *handle, int r)
{
	if (r < 0)
		return r;
	handle->data = server;
	server->n_handles++;
	return 0;
}

static int start_signal(struct server *server, uv_signal_t *sig, int signum)
{
	int r = init_handle(server, (uv_handle_t *)sig, uv_signal_init(server->loop, sig));

	if (r < 0)
		return r;
	return uv_signal_start(sig, on_signal, signum);
}

/* The pool is short: ask the clients that keep regions for them. */
static void on_pool_short(struct pool *pool, uint64_t bytes, uint32_t huge_shift)
{
	reclaim_ask(container_of(pool, struct server, pool), bytes, huge_shift);
}

int server_start(struct server *server)
{
	uint64_t usec = 0;
	int r, n_passed, passed_fd;

	r = closer_start();
	if (r < 0)
		log_warning("cannot start the closing thread: %s; fds clients send are closed "
			    "on the loop",
			    strerror(-r));
	n_passed = restore_init(server, &passed_fd);
	r = start_signal(server, &server->sig_term, SIGTERM);
	if (r == 0)
		r = start_signal(server, &server->sig_int, SIGINT);
	if (r == 0)
		r = start_signal(server, &server->sig_hup, SIGHUP);
	if (r == 0)
		r = start_signal(server, &server->sig_usr1, SIGUSR1);
	if (r == 0)
		r = init_handle(server, (uv_handle_t *)&server->watchdog,
				uv_timer_init(server->loop, &server->watchdog));
	if (r == 0)
		r = init_handle(server, (uv_handle_t *)&server->status_timer,
				uv_timer_init(server->loop, &server->status_timer));
	if (r == 0)
		r = init_handle(server, (uv_handle_t *)&server->accept_timer,
				uv_timer_init(server->loop, &server->accept_timer));
	if (r == 0)
		r = init_handle(server, (uv_handle_t *)&server->log_timer,
				uv_timer_init(server->loop, &server->log_timer));
	if (r == 0)
		r = init_handle(server, (uv_handle_t *)&server->admin_timer,
				uv_timer_init(server->loop, &server->admin_timer));
	if (r == 0)
		r = init_handle(server, (uv_handle_t *)&server->trim_timer,
				uv_timer_init(server->loop, &server->trim_timer));
	if (r < 0) {
		log_err("cannot set up the event loop: %s", uv_strerror(r));
		goto out_stop;
	}
	/* Listen first: clients may connect while the pool is being reserved. */
	r = listen_activated(server, n_passed, passed_fd);
	if (r == 0)
		r = listen_create(server);
	if (r < 0)
		goto out_stop;
	r = init_handle(server, (uv_handle_t *)&server->listener,
			uv_poll_init(server->loop, &server->listener, server->listen_fd));
	if (r < 0) {
		log_err("cannot watch the socket: %s", uv_strerror(r));
		close(server->listen_fd);
		server->listen_fd = -1;
		goto out_stop;
	}
	server->listener_open = true;
	r = uv_poll_start(&server->listener, UV_READABLE, on_listener);
	if (r < 0) {
		log_err("cannot watch the socket: %s", uv_strerror(r));
		goto out_stop;
	}
	log_notice("listening on %s%s", server->socket_path,
		   server->socket_activated ? " (socket activation)" : "");
	r = uring_init(&server->uring, server->loop, server->config->io_depth,
		       server->config->io_uring);
	if (r < 0) {
		log_err("cannot set up the io_uring bridge: %s", strerror(-r));
		goto out_stop;
	}
	confine_io(server);
	r = pool_init(&server->pool, server->loop, &server->uring, server->config);
	if (r < 0) {
		log_err("cannot set up the pool: %s", strerror(-r));
		goto out_stop;
	}
	server->pool.on_change = on_pool_change;
	server->pool.on_ready = on_pool_ready;
	server->pool.on_short = on_pool_short;
	server->pool.on_stopped = on_pool_stopped;
	server->pool.on_uncharge = on_pool_uncharge;
	restore_start(server);
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		uv_timer_start(&server->watchdog, on_watchdog, usec / 2000, usec / 2000);
		log_info("systemd watchdog: pinging every %" PRIu64 " ms", usec / 2000);
	}
	log_info("region operations run through %s (at most %u at once)",
		 uring_backend(&server->uring), server->uring.max_inflight);
	pool_start(&server->pool);
	return 0;

out_stop:
	/* Close whatever was opened; the caller runs the loop until it is done. */
	server->stopping = true;
	if (server->listener_open && !uv_is_closing((uv_handle_t *)&server->listener))
		uv_close((uv_handle_t *)&server->listener, listener_closed);
	remove_socket(server);
	if (!server->pool_stopped && server->pool.loop) {
		server->pool.on_stopped = on_pool_stopped;
		pool_stop(&server->pool);
	} else {
		server->pool_stopped = true;
	}
	if (!server->uring_stopped && server->uring.loop)
		uring_stop(&server->uring, on_uring_stopped);
	else
		server->uring_stopped = true;
	maybe_finished(server);
	return r < 0 ? r : -EIO;
}

int server_new(uv_loop_t *loop, struct config *cfg, const struct config_source *src,
	       struct server **serverp)
{
	struct server *server;

	server = calloc(1, sizeof(*server));
	if (!server)
		return -ENOMEM;
	/*
	 * Admin replies (a snapshot of 1024 regions is ~250 KiB of JSON, built
	 * in a buffer that doubles) are large and short-lived. glibc raises its
	 * mmap threshold after freeing one, and then serves the next from the
	 * heap, which keeps it: 1000 snapshot sessions left 148 MB behind. A
	 * fixed threshold keeps such buffers in mappings given back on free.
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	server->loop = loop;
	server->config = cfg;
	server->source = *src;
	server->listen_fd = -1;
	list_init(&server->peers);
	list_init(&server->users);
	list_init(&server->jobs);
	list_init(&server->admin_waiting);
	ratelimit_init(&server->log_limit, LOG_BURST, LOG_PER_S);
	/* admin_limit's rate follows the configuration: peer.c sets it before each use */
	ratelimit_init(&server->admin_limit, 0, 0);
	ratelimit_init(&server->connect_limit, 0, 0);
	server->start_ns = clock_realtime_ns();
	*serverp = server;
	return 0;
}

void server_free(struct server *server)
{
	if (!server)
		return;
	closer_stop();
	if (server->listen_fd >= 0)
		close(server->listen_fd);
	free(server->socket_path);
	restore_free(server);
	config_free(server->config);
	while (!list_empty(&server->jobs))
		job_free(list_first_entry(&server->jobs, struct job, link));
	free(server);
}

void server_log_state(struct server *server)
{
	struct list_head *pos, *rpos;
	char desc[160], size[32], used[32];

	log_notice("state: %u clients, %" PRIu64 " accepted, %" PRIu64 " refused, %s",
		   server->n_peers, server->n_accepted, server->n_refused,
		   server->ready ? "ready" : "starting");
	list_for_each(pos, &server->peers) {
		struct peer *peer = list_entry(pos, struct peer, link);
		uint64_t n_leases = 0, in_use = 0;

		list_for_each(rpos, &peer->leases) {
			struct region *region = list_entry(rpos, struct region, link);
			struct region_usage usage;

			n_leases++;
			if (region_read_usage(region, &usage) == 0)
				in_use += usage.used;
		}
		log_notice("%s: %" PRIu64 " leases, %s, %s in use%s%s",
			   peer_describe(peer, desc, sizeof(desc)), n_leases,
			   size_format_iec(peer->bytes, size, sizeof(size)),
			   size_format_iec(in_use, used, sizeof(used)),
			   peer->admin ? ", admin" : "",
			   peer->acquire.pending ? ", acquiring" : "");
		list_for_each(rpos, &peer->leases) {
			struct region *region = list_entry(rpos, struct region, link);
			struct region_usage usage;

			if (region_read_usage(region, &usage) < 0)
				continue;
			log_info("  region %" PRIu64 ": %s %s, used %" PRIu64 " high-water %" PRIu64
				 " allocs %" PRIu64 " resets %" PRIu64 "%s",
				 region->id, size_format_iec(region->size, size, sizeof(size)),
				 backing_name(region->backing, region->page_shift), usage.used,
				 usage.high_water, usage.n_allocs, usage.n_resets,
				 usage.header_valid ? "" : " (header damaged)");
		}
	}
	list_for_each(pos, &server->users) {
		struct user *user = list_entry(pos, struct user, link);

		log_notice("uid %u: %u connections, %" PRIu64 " regions, %s",
			   (unsigned int)user->uid, user->n_peers, user->n_regions,
			   size_format_iec(user->bytes, size, sizeof(size)));
	}
	pool_log_state(&server->pool);
}
