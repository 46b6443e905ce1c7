/* SPDX-License-Identifier: MIT */
/*
 * The server owns the libuv loop and everything on it: the listening
 * socket (created, or passed by systemd socket activation), the peers, the
 * per-uid accounting, the pool and the io_uring bridge, the signals
 * (SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1 logs the state) and the
 * timers (systemd watchdog, rate-limited STATUS= updates).
 *
 * Start-up listens first, so clients can connect at once, then reserves the
 * warm pool; "ready" (and READY=1) follows when that has settled.
 */
#ifndef BHC_DAEMON_SERVER_H
#define BHC_DAEMON_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <uv.h>

#include "config.h"
#include "list.h"
#include "pool.h"
#include "ratelimit.h"
#include "restore.h"
#include "uring.h"

/* The daemon; one per process, made by main(). */
struct server {
	uv_loop_t *loop;
	struct config *config; /* effective configuration, owned; replaced on reload */
	struct config_source source; /* where it came from, for reloads (main's memory) */
	struct uring uring;
	struct pool pool;
	struct restore restore; /* instance, lease tokens, fd store (restore.c) */
	/* the listening socket */
	int listen_fd;
	uv_poll_t listener;
	bool listener_open;
	uv_timer_t accept_timer; /* resumes accepting after EMFILE and friends */
	bool socket_activated; /* passed by systemd: never unlinked */
	bool socket_created; /* bound by us: unlinked at exit if still ours */
	char *socket_path; /* owned */
	dev_t socket_dev;
	ino_t socket_ino;
	/* signals and timers */
	uv_signal_t sig_term, sig_int, sig_hup, sig_usr1;
	uv_timer_t watchdog; /* WATCHDOG=1 every half interval, if asked for */
	uv_timer_t status_timer;
	uint64_t status_sent_ms; /* uv_now() of the last STATUS= */
	unsigned int n_handles; /* open handles of the server itself */
	/* clients */
	struct list_head peers; /* struct peer.link, oldest first */
	unsigned int n_peers;
	struct list_head users; /* struct user.link */
	struct list_head jobs; /* struct job.link: jobs registered by root (job.h) */
	uint64_t next_peer_id;
	/* what one uid may make the daemon do for others to pay (ratelimit.h) */
	struct ratelimit log_limit; /* log lines about its clients */
	uv_timer_t log_timer; /* summaries of suppressed lines */
	struct ratelimit admin_limit; /* loop time (us) for its admin requests */
	struct ratelimit connect_limit; /* new connections */
	uv_timer_t admin_timer; /* runs deferred admin requests */
	struct list_head admin_waiting; /* struct peer.admin_link: deferred admin requests */
	uv_timer_t trim_timer; /* gives freed memory back after admin sessions */
	/* life cycle */
	uint64_t start_ns; /* CLOCK_REALTIME at start: daemon_start_ns in WELCOME */
	bool ready;
	bool stopping;
	bool pool_stopped;
	bool uring_stopped;
	/* statistics */
	uint64_t n_accepted;
	uint64_t n_refused; /* connections turned away by max_connections */
	uint64_t n_reloads;
	uint64_t n_reclaim_short; /* times the pool was short and asked for kept regions */
	uint64_t n_reclaims; /* RECLAIMs sent */
};

/**
 * server_new() - a server for @cfg (ownership passes to it) read from @src
 * (kept by reference for reloads). Returns 0 or -errno.
 */
int server_new(uv_loop_t *loop, struct config *cfg, const struct config_source *src,
	       struct server **serverp);

/**
 * server_start() - listen, then start reserving the warm pool. Returns 0,
 * or -errno after logging why (the caller then runs the loop to close what
 * was opened and frees the server).
 */
int server_start(struct server *server);

/** server_stop() - stop gracefully: close the listener and the peers, drain, close. */
void server_stop(struct server *server, const char *why);

/** server_free() - free a server whose loop has finished. */
void server_free(struct server *server);

/**
 * server_reload() - re-read the configuration (as SIGHUP does) and apply what
 * can change at run time. Returns 0, or -errno with the reason in @err; on a
 * configuration that does not load or validate nothing changes.
 */
int server_reload(struct server *server, char *err, size_t err_len);

/** server_changed() - the pool or the peers changed: update STATUS= (rate-limited). */
void server_changed(struct server *server);

/**
 * server_log_client() - log a line about a client of @uid, within the
 * uid's share of the log (root is not limited); what is suppressed is
 * summed up per uid later.
 */
__attribute__((format(printf, 4, 5))) void server_log_client(struct server *server, uid_t uid,
							     int level, const char *fmt, ...);

/** server_trim_later() - give memory freed by large replies back to the system soon. */
void server_trim_later(struct server *server);

/** server_log_state() - log peers, leases, users and the pool (SIGUSR1). */
void server_log_state(struct server *server);

#endif
