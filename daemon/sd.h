/* SPDX-License-Identifier: MIT */
/*
 * The few sd-daemon calls the daemon makes: the real ones with libsystemd,
 * else stubs that say "not under systemd" (no activated sockets, no
 * notification socket, no watchdog).
 */
#ifndef BHC_DAEMON_SD_H
#define BHC_DAEMON_SD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#define SD_SUPPORTED true
#else
#define SD_SUPPORTED false
#define SD_LISTEN_FDS_START 3

static inline int sd_listen_fds(int unset_environment)
{
	return 0;
}

static inline int sd_is_socket_unix(int fd, int type, int listening, const char *path,
				    size_t length)
{
	return 0;
}

static inline int sd_notify(int unset_environment, const char *state)
{
	return 0;
}

static inline int sd_listen_fds_with_names(int unset_environment, char ***names)
{
	return 0;
}

static inline int sd_pid_notify_with_fds(int pid, int unset_environment, const char *state,
					 const int *fds, unsigned n_fds)
{
	return 0;
}

static inline int sd_watchdog_enabled(int unset_environment, uint64_t *usec)
{
	return 0;
}
#endif

#endif
