/* SPDX-License-Identifier: MIT */
/*
 * Closing file descriptors a client can influence, off the loop.
 *
 * close(2) of the last reference to a file runs the file's release, which
 * for a TCP socket with SO_LINGER and unsent data waits up to the linger
 * time the socket's owner chose; a socket that holds files in flight
 * (SCM_RIGHTS queued on it) releases those too. A client can send the
 * daemon such a socket in SCM_RIGHTS on any message, or leave datagrams
 * carrying them queued on its connection, so closing either on the loop
 * would freeze every client for as long as the attacker liked (issue 12:
 * 3 fds x 4 s froze the daemon for 12 s).
 *
 * Why a thread, not another mechanism:
 *  - Refusing SCM_RIGHTS at the socket (SO_PASSRIGHTS = 0) needs Linux
 *    6.16; the daemon runs on older kernels (Debian 12 has 6.1), and the
 *    fd would still be released in the kernel, by the sender.
 *  - Receiving without a control buffer does not help: the kernel then
 *    drops the fds itself, and the final fput() runs as task work of the
 *    receiving thread, i.e. on the loop, before recvmsg() returns.
 *  - io_uring IORING_OP_CLOSE issued inline also ends in task work of the
 *    submitting (loop) thread; forced async it blocks an io-wq worker that
 *    the pool needs for its regions.
 * So every such fd goes to one dedicated thread that does nothing but
 * close(2): a blocked close delays only other closes. The loop first
 * shuts a connection down (shutdown(2) never waits), so its client sees
 * the end at once. At exit the thread is not waited for if it is blocked:
 * the process's exit closes what is left without lingering.
 */
#ifndef BHC_DAEMON_CLOSER_H
#define BHC_DAEMON_CLOSER_H

/** closer_start() - start the closing thread; 0 or -errno (then closes happen inline). */
int closer_start(void);

/** closer_close() - close @fd off the loop (inline if the thread is not running). */
void closer_close(int fd);

/** closer_pending() - fds handed over and not closed yet. */
unsigned int closer_pending(void);

/** closer_stop() - let the thread finish what it has; do not wait for a blocked close. */
void closer_stop(void);

#endif
