/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "closer.h"

/* How long closer_stop() waits for the thread to finish closing. */
#define CLOSER_STOP_WAIT_MS 200
/*
 * The thread is woken when this many fds wait, else it looks every
 * CLOSER_POLL_MS while busy: a wake-up per fd (a context switch on the loop's CPU)
 * made a refused connection cost twice as much. The clients of those fds
 * have seen the end already (shutdown(2)).
 */
#define CLOSER_WAKE_AT 32
#define CLOSER_POLL_MS 10
/* After this many looks that found nothing, it sleeps until woken (an idle daemon stays idle). */
#define CLOSER_IDLE_POLLS 100

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running;
	bool stopping;
	bool exited;
	bool sleeping; /* waiting without a time-out: the next fd wakes it */
	int *fds; /* queue: fds[0 .. n) */
	unsigned int n, cap;
	unsigned int closing; /* taken by the thread, not closed yet */
} c = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void *closer_main(void *arg)
{
	unsigned int idle = 0;
	int fd;

	(void)arg;
	pthread_mutex_lock(&c.lock);
	for (;;) {
		while (!c.n && !c.stopping) {
			struct timespec until;

			if (idle >= CLOSER_IDLE_POLLS) {
				/* quiet: sleep until woken */
				c.sleeping = true;
				pthread_cond_wait(&c.wake, &c.lock);
				c.sleeping = false;
				idle = 0;
				continue;
			}
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += CLOSER_POLL_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&c.wake, &c.lock, &until);
			idle++;
		}
		idle = 0;
		if (!c.n)
			break;
		fd = c.fds[--c.n];
		c.closing++;
		pthread_mutex_unlock(&c.lock);
		close(fd);
		pthread_mutex_lock(&c.lock);
		c.closing--;
	}
	c.exited = true;
	pthread_cond_broadcast(&c.wake);
	pthread_mutex_unlock(&c.lock);
	return NULL;
}

int closer_start(void)
{
	pthread_attr_t attr;
	int r;

	if (c.running)
		return 0;
	c.stopping = false;
	c.exited = false;
	r = pthread_attr_init(&attr);
	if (r)
		return -r;
	/* close(2) needs little stack */
	pthread_attr_setstacksize(&attr, 64 * 1024);
	r = pthread_create(&c.thread, &attr, closer_main, NULL);
	pthread_attr_destroy(&attr);
	if (r)
		return -r;
	c.running = true;
	return 0;
}

void closer_close(int fd)
{
	int *fds;

	if (fd < 0)
		return;
	if (!c.running) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&c.lock);
	if (c.n == c.cap) {
		unsigned int cap = c.cap ? c.cap * 2 : 64;

		fds = realloc(c.fds, cap * sizeof(*fds));
		if (!fds) {
			/* nothing better to do with it than what was done before */
			pthread_mutex_unlock(&c.lock);
			close(fd);
			return;
		}
		c.fds = fds;
		c.cap = cap;
	}
	c.fds[c.n++] = fd;
	if (c.sleeping || c.n >= CLOSER_WAKE_AT)
		pthread_cond_signal(&c.wake);
	pthread_mutex_unlock(&c.lock);
}

unsigned int closer_pending(void)
{
	unsigned int n;

	pthread_mutex_lock(&c.lock);
	n = c.n + c.closing;
	pthread_mutex_unlock(&c.lock);
	return n;
}

void closer_stop(void)
{
	struct timespec until;
	bool exited;

	if (!c.running)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CLOSER_STOP_WAIT_MS / 1000;
	until.tv_nsec += (long)(CLOSER_STOP_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c.lock);
	c.stopping = true;
	pthread_cond_broadcast(&c.wake);
	while (!c.exited) {
		if (pthread_cond_timedwait(&c.wake, &c.lock, &until) == ETIMEDOUT)
			break;
	}
	exited = c.exited;
	pthread_mutex_unlock(&c.lock);
	c.running = false;
	if (exited) {
		pthread_join(c.thread, NULL);
		free(c.fds);
		c.fds = NULL;
		c.n = c.cap = 0;
	} else {
		/* blocked in a lingering close: the process's exit ends it */
		pthread_detach(c.thread);
	}
}
