/* SPDX-License-Identifier: MIT */
/*
 * A daemon restart loses nothing: real bhc-arenad processes ($BHC_ARENAD)
 * on a private socket and state directory, real client processes holding
 * patterned regions through libbhc-arena.
 *
 *  - SIGKILL, SIGTERM, and a stop followed by a start of another copy of
 *    the daemon binary (the same build: this tree builds one daemon): the
 *    clients register their regions again (REGISTER with the lease token)
 *    and the new instance lists the same leases, accounts the same bytes;
 *    the data is intact, the next acquire and free work, a stale id is
 *    refused, and nothing is left once the clients exit.
 *  - The fd store: this test plays systemd. It serves NOTIFY_SOCKET, keeps
 *    what the daemon sends with FDSTORE=1 (and drops FDSTOREREMOVE=1 names),
 *    and hands it back through LISTEN_FDS/LISTEN_FDNAMES on the next start:
 *    the leases are known before any client is back, warm regions are warm
 *    again, and nothing is counted twice once the clients register.
 *  - Hostile REGISTERs: a forged token, a foreign uid, another memfd, a
 *    wrong size, an unsealed memfd, no fd, an id of this instance, twice the
 *    same region: each is refused and charged to no one.
 *
 * Daemon state is read through its admin JSON (bhc-arenactl --json).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include <bhc/arena.h>

#include "tap.h"
#include "util-daemon.h"
#include "util-hugepages.h"
#include "util-pattern.h"

#define MiB (UINT64_C(1) << 20)
#define N_CLIENTS 3
#define N_ARENAS 2
#define ARENA_CAP ((size_t)(16 * MiB) - BHC_ARENA_REGION_HEADER_SIZE)

/* The fd store needs libsystemd's sd_pid_notify_with_fds(). */
#ifdef HAVE_LIBSYSTEMD
#define HAVE_FD_STORE 1
#else
#define HAVE_FD_STORE 0
#endif

static void need_fd_store(void)
{
	if (!HAVE_FD_STORE)
		bhc_test_skip("built --without-systemd: the daemon has no fd store");
}

static struct bhc_test_daemon d;
static char state_arg[BHC_TEST_PATH_MAX + 16];
static const char *daemon_args[] = { state_arg, NULL };

static const char config_off[] = "[pool]\n"
				 "hugepages = off\n"
				 "warm = none\n"
				 "[limits]\n"
				 "total = 512M\n";

static const char config_require[] = "[pool]\n"
				     "hugepages = require\n"
				     "warm = none\n"
				     "[limits]\n"
				     "total = 512M\n";

/* The regions of this test are hugetlb (config_require). */
static bool hugetlb;

static const char config_warm[] = "[pool]\n"
				  "hugepages = off\n"
				  "warm = 2M:2\n"
				  "[limits]\n"
				  "total = 512M\n";

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void setup(const char *config)
{
	bhc_test_daemon_setup(&d, config);
	snprintf(state_arg, sizeof(state_arg), "--state-dir=%s/state", d.dir);
	ck_assert_int_eq(setenv("BHC_ARENA_SOCKET", d.socket, 1), 0);
	ck_assert_int_eq(setenv("BHC_ARENA_MODE", "daemon", 1), 0);
	/* the regions a client frees go back at once: leases are exactly the live arenas */
	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN", "0", 1), 0);
}

static void wait_ready_n(int n)
{
	if (!bhc_test_daemon_log_wait(&d, "ready:", n, 20000))
		bhc_test_daemon_dump_log(&d);
	ck_assert(bhc_test_daemon_log_wait(&d, "ready:", n, 20000));
}

/* --- admin JSON ------------------------------------------------------------------------- */

static struct json_object *arenactl(const char *what)
{
	char cmd[1024];
	size_t len = 0, cap = 1 << 20;
	char *out = malloc(cap);
	struct json_object *j;
	FILE *p;

	ck_assert_ptr_nonnull(out);
	snprintf(cmd, sizeof(cmd), "'%s' --socket '%s' --json %s", getenv("BHC_ARENACTL"), d.socket,
		 what);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (len < cap - 1 && !feof(p))
		len += fread(out + len, 1, cap - 1 - len, p);
	out[len] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	j = json_tokener_parse(out);
	ck_assert_msg(j, "not JSON: %s", out);
	free(out);
	return j;
}

static struct json_object *get(struct json_object *o, const char *path)
{
	char buf[256], *key, *save = NULL;
	struct json_object *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (key = strtok_r(buf, ".", &save); key; key = strtok_r(NULL, ".", &save))
		ck_assert_msg(json_object_object_get_ex(v, key, &v), "no %s in %s", key, path);
	return v;
}

static uint64_t get_u64(struct json_object *o, const char *path)
{
	return (uint64_t)json_object_get_int64(get(o, path));
}

static const char *get_str(struct json_object *o, const char *path)
{
	struct json_object *v = get(o, path);

	return json_object_is_type(v, json_type_null) ? "(null)" : json_object_get_string(v);
}

/* The status document: caller puts it. */
static struct json_object *status(void)
{
	return arenactl("status");
}

static uint64_t status_u64(const char *path)
{
	struct json_object *j = status();
	uint64_t v = get_u64(j, path);

	json_object_put(j);
	return v;
}

/* The region @id in `regions --all` (a new reference), or NULL. */
static struct json_object *region_row(uint64_t id)
{
	struct json_object *j = arenactl("regions --all"), *arr = get(j, "regions"), *row = NULL;
	size_t i;

	for (i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (get_u64(e, "id") == id) {
			row = json_object_get(e);
			break;
		}
	}
	json_object_put(j);
	return row;
}

/* Rows of `regions --all` in @state. */
static size_t n_regions_in(const char *state)
{
	struct json_object *j = arenactl("regions --all"), *arr = get(j, "regions");
	size_t i, n = 0;

	for (i = 0; i < json_object_array_length(arr); i++)
		n += !strcmp(get_str(json_object_array_get_idx(arr, i), "state"), state);
	json_object_put(j);
	return n;
}

/* memfds of regions the daemon process holds open. */
static int daemon_memfds(void)
{
	char path[64], link[256];
	int fd, n = 0;
	ssize_t len;

	for (fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)d.pid, fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		n += strstr(link, "memfd:bhc-arena") != NULL;
	}
	return n;
}

/* --- client processes ------------------------------------------------------------------- */

/*
 * A client: a forked process that holds N_ARENAS arenas of ARENA_CAP bytes,
 * each filled with a pattern of its own, and answers one-letter commands on
 * a pipe with one line:
 *   i  the region ids ("id id ...")
 *   v  verify every pattern ("ok" or "bad")
 *   n  a new 1 MiB arena, patterned and kept ("ok ID" or "err -E")
 *   f  free every arena ("ok")
 *   k  free the first arena: its region is kept for reuse ("ok ID")
 *   r  a new arena of the first ones' size, patterned and kept ("ok ID")
 *   w  bhc_with_arena() of 8 MiB: its arena stays the thread's spare ("ok ID")
 *   l  start a thread that creates and frees 1 MiB arenas in a loop ("ok")
 *   s  stop it ("ok N_OK N_FAILED")
 *   q  exit
 */
struct client {
	pid_t pid;
	int cmd, reply;
	uint64_t ids[N_ARENAS + 8];
};

struct held_arena {
	struct bhc_arena *arena;
	void *p;
	size_t len;
	uint64_t seed;
};

__attribute__((format(printf, 2, 3))) static void client_say(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	if (write(fd, buf, (size_t)n) != n)
		_exit(3);
}

static int hold(struct held_arena *h, size_t cap, uint64_t seed)
{
	int r = bhc_arena_new(cap, &h->arena);

	if (r < 0)
		return r;
	h->len = bhc_arena_remaining(h->arena) & ~(size_t)4095;
	h->p = bhc_arena_alloc(h->arena, h->len, 4096);
	if (!h->p)
		return -ENOMEM;
	h->seed = seed;
	bhc_test_pattern_fill(h->p, h->len, seed);
	return 0;
}

/* Acquires in flight: a thread that creates and frees 1 MiB arenas until told to stop. */
static volatile bool loop_stop;
static unsigned long loop_ok, loop_err;

static void *loop_thread(void *arg)
{
	(void)arg;
	while (!loop_stop) {
		struct bhc_arena *a = NULL;

		if (bhc_arena_new(1 * MiB, &a) == 0) {
			memset(bhc_arena_alloc(a, 4096, 64), 0x5a, 4096);
			bhc_arena_free(a);
			loop_ok++;
		} else {
			loop_err++;
		}
	}
	return NULL;
}

/* bhc_with_arena()'s function: the region id of its arena into @ctx. */
static int with_cb(struct bhc_arena *arena, void *ctx)
{
	struct bhc_arena_stats st;

	bhc_arena_stats(arena, &st);
	*(uint64_t *)ctx = st.region_id;
	memset(bhc_arena_alloc(arena, 4096, 64), 0x77, 4096);
	return 0;
}

static void __attribute__((noreturn)) client_main(int cmd, int reply, unsigned int index)
{
	pthread_t loop;
	struct held_arena held[N_ARENAS + 8];
	unsigned int n = 0, i;
	struct bhc_arena_stats st;
	char c, line[256];
	size_t off;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (i = 0; i < N_ARENAS; i++) {
		r = hold(&held[n], ARENA_CAP, 1000 * index + i);
		if (r < 0) {
			client_say(reply, "err %d", r);
			_exit(1);
		}
		n++;
	}
	client_say(reply, "ready");
	while (read(cmd, &c, 1) == 1) {
		switch (c) {
		case 'i':
			off = 0;
			for (i = 0; i < n; i++) {
				bhc_arena_stats(held[i].arena, &st);
				off += (size_t)snprintf(line + off, sizeof(line) - off,
							"%" PRIu64 " ", st.region_id);
			}
			client_say(reply, "%s", line);
			break;
		case 'v':
			for (i = 0; i < n; i++)
				if (!bhc_test_pattern_verify(held[i].p, held[i].len, held[i].seed))
					break;
			client_say(reply, i == n ? "ok" : "bad");
			break;
		case 'n':
			if (n == N_ARENAS + 8) {
				client_say(reply, "err full");
				break;
			}
			r = hold(&held[n], 1 * MiB, 1000 * index + 500 + n);
			if (r < 0) {
				client_say(reply, "err %d", r);
				break;
			}
			bhc_arena_stats(held[n].arena, &st);
			n++;
			client_say(reply, "ok %" PRIu64, st.region_id);
			break;
		case 'k':
			bhc_arena_stats(held[0].arena, &st);
			bhc_arena_free(held[0].arena);
			memmove(&held[0], &held[1], (n - 1) * sizeof(held[0]));
			n--;
			client_say(reply, "ok %" PRIu64, st.region_id);
			break;
		case 'r':
			r = hold(&held[n], ARENA_CAP, 1000 * index + 700 + n);
			if (r < 0) {
				client_say(reply, "err %d", r);
				break;
			}
			bhc_arena_stats(held[n].arena, &st);
			n++;
			client_say(reply, "ok %" PRIu64, st.region_id);
			break;
		case 'w': {
			uint64_t id = 0;

			r = bhc_with_arena(8 * MiB, with_cb, &id);
			if (r < 0)
				client_say(reply, "err %d", r);
			else
				client_say(reply, "ok %" PRIu64, id);
			break;
		}
		case 'f':
			for (i = 0; i < n; i++)
				bhc_arena_free(held[i].arena);
			n = 0;
			client_say(reply, "ok");
			break;
		case 'l':
			loop_stop = false;
			if (pthread_create(&loop, NULL, loop_thread, NULL) != 0)
				_exit(4);
			client_say(reply, "ok");
			break;
		case 's':
			loop_stop = true;
			pthread_join(loop, NULL);
			client_say(reply, "ok %lu %lu", loop_ok, loop_err);
			break;
		case 'q':
			_exit(0);
		}
	}
	_exit(2);
}

static void client_read(struct client *c, char cmd, char *buf, size_t len)
{
	size_t off = 0;
	struct pollfd pfd = { .fd = c->reply, .events = POLLIN };

	while (off < len - 1) {
		ck_assert_msg(poll(&pfd, 1, 30000) == 1, "client %d: no answer to '%c'", c->pid,
			      cmd);
		ck_assert_int_eq(read(c->reply, buf + off, 1), 1);
		if (buf[off] == '\n')
			break;
		off++;
	}
	buf[off] = '\0';
}

static void client_ask(struct client *c, char cmd, char *buf, size_t len)
{
	ck_assert_int_eq(write(c->cmd, &cmd, 1), 1);
	client_read(c, cmd, buf, len);
}

static void client_start(struct client *c, unsigned int index)
{
	int to_child[2], from_child[2];
	char line[256], *p, *end;
	unsigned int i = 0;

	ck_assert_int_eq(pipe2(to_child, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(from_child, O_CLOEXEC), 0);
	fflush(NULL);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		close(to_child[1]);
		close(from_child[0]);
		client_main(to_child[0], from_child[1], index);
	}
	close(to_child[0]);
	close(from_child[1]);
	c->cmd = to_child[1];
	c->reply = from_child[0];
	client_read(c, '-', line, sizeof(line));
	ck_assert_msg(!strcmp(line, "ready"), "client %u: %s", index, line);
	client_ask(c, 'i', line, sizeof(line));
	for (p = line; *p; p = end) {
		c->ids[i++] = strtoull(p, &end, 10);
		if (end == p)
			break;
		while (*end == ' ')
			end++;
	}
	ck_assert_uint_eq(i, N_ARENAS);
}

static void client_expect(struct client *c, char cmd, const char *want)
{
	char line[256];

	client_ask(c, cmd, line, sizeof(line));
	ck_assert_msg(!strncmp(line, want, strlen(want)), "client %d '%c': %s", c->pid, cmd, line);
}

static void client_quit(struct client *c)
{
	int status;
	char q = 'q';

	ck_assert_int_eq(write(c->cmd, &q, 1), 1);
	ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(c->cmd);
	close(c->reply);
}

/* Each client's regions are listed as leased by it, @origin, with their size. */
static void assert_leases(struct client *clients, const char *origin)
{
	unsigned int i, j;

	for (i = 0; i < N_CLIENTS; i++) {
		for (j = 0; j < N_ARENAS; j++) {
			struct json_object *row = region_row(clients[i].ids[j]);

			ck_assert_msg(row, "region %" PRIu64 " is not listed", clients[i].ids[j]);
			ck_assert_str_eq(get_str(row, "state"), "leased");
			ck_assert_str_eq(get_str(row, "origin"), origin);
			ck_assert_uint_eq(get_u64(row, "pid"), (uint64_t)clients[i].pid);
			ck_assert_uint_eq(get_u64(row, "uid"), (uint64_t)getuid());
			ck_assert_uint_eq(get_u64(row, "size"), 16 * MiB);
			ck_assert_str_eq(get_str(row, "header"), "ok");
			ck_assert_uint_ge(get_u64(row, "used"), ARENA_CAP - 4096);
			if (hugetlb)
				ck_assert_str_eq(get_str(row, "backing"), "hugetlb");
			else
				ck_assert_str_ne(get_str(row, "backing"), "hugetlb");
			json_object_put(row);
		}
	}
}

/* A raw connection releases @id: the daemon's answer (an errno, or 0 for RELEASED). */
static int raw_release(uint64_t id)
{
	struct bhc_arena_msg_welcome w;
	struct bhc_arena_msg_error e;
	int fd = bhc_test_connect(d.socket), r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, "raw", 0, &w), 0);
	r = bhc_test_release(fd, id, &e);
	close(fd);
	return r;
}

/* --- kill or stop, start again, the clients register ------------------------------------- */

enum how { HOW_SIGKILL, HOW_SIGTERM, HOW_OTHER_BINARY };

static void restart_case(enum how how, const char *config)
{
	struct client clients[N_CLIENTS];
	struct json_object *row;
	uint64_t leased, instance, id;
	char copy[BHC_TEST_PATH_MAX + 32], cmd[BHC_TEST_PATH_MAX * 3], line[64];
	const char *orig = getenv("BHC_ARENAD");
	unsigned int i;

	long huge_free = -1;

	hugetlb = config == config_require;
	setup(config);
	bhc_test_daemon_start_ready(&d, daemon_args, 20000);
	for (i = 0; i < N_CLIENTS; i++)
		client_start(&clients[i], i);
	assert_leases(clients, "granted");
	leased = status_u64("pool.leased");
	ck_assert_uint_eq(leased, N_CLIENTS * N_ARENAS * 16 * MiB);
	instance = status_u64("daemon.instance");
	ck_assert_uint_eq(clients[0].ids[0] >> 32, instance);
	/* client 0 keeps acquiring and freeing while the daemon goes and comes back */
	client_expect(&clients[0], 'l', "ok");
	sleep_ms(50);

	switch (how) {
	case HOW_SIGKILL:
		ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
		ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
		break;
	case HOW_SIGTERM:
	case HOW_OTHER_BINARY:
		ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
		break;
	}
	for (i = 0; i < N_CLIENTS; i++)
		client_expect(&clients[i], 'v', "ok");
	if (how == HOW_OTHER_BINARY) {
		/* another file, as after a package upgrade; this tree builds one daemon */
		snprintf(copy, sizeof(copy), "%s/bhc-arenad.next", d.dir);
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", orig, copy);
		ck_assert_int_eq(system(cmd), 0);
		ck_assert_int_eq(setenv("BHC_ARENAD", copy, 1), 0);
	}
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, daemon_args), 0);
	wait_ready_n(2);
	if (how == HOW_OTHER_BINARY)
		ck_assert_int_eq(setenv("BHC_ARENAD", orig, 1), 0);
	ck_assert_uint_eq(status_u64("daemon.instance"), instance + 1);
	ck_assert_uint_eq(status_u64("daemon.restart.previous_instance"), instance);
	/* the loop's acquires go on against the new instance; then it stops */
	sleep_ms(100);
	client_ask(&clients[0], 's', line, sizeof(line));
	{
		unsigned long n_ok = 0, n_err = 0;

		ck_assert_int_eq(sscanf(line, "ok %lu %lu", &n_ok, &n_err), 2);
		ck_assert_uint_gt(n_ok, 10);
	}
	/* client 0 has registered its regions already (its loop reconnected); the others not */
	for (i = 0; i < 200 && status_u64("pool.leased") != N_ARENAS * 16 * MiB; i++)
		sleep_ms(10);
	ck_assert_uint_eq(status_u64("pool.leased"), N_ARENAS * 16 * MiB);
	/* the free hugepages once the dead daemon's last files are gone (io_uring ends late) */
	for (i = 0; hugetlb && i < 100; i++) {
		long before = bhc_test_hugepages_free(2048);

		sleep_ms(100);
		huge_free = bhc_test_hugepages_free(2048);
		if (huge_free == before)
			break;
	}

	/* a stale id of the instance before: refused, and it touches nothing */
	ck_assert_int_eq(raw_release(clients[1].ids[0]), ESTALE);

	/* each client's next acquire reconnects and registers what it holds first */
	for (i = 0; i < N_CLIENTS; i++) {
		if (i == 0) {
			client_expect(&clients[i], 'n', "ok ");
			continue;
		}
		client_ask(&clients[i], 'n', line, sizeof(line));
		ck_assert_msg(!strncmp(line, "ok ", 3), "client %u: %s", i, line);
		id = strtoull(line + 3, NULL, 10);
		ck_assert_uint_eq(id >> 32, instance + 1);
	}
	assert_leases(clients, "registered");
	/* registering took no page: only the three new 2 MiB regions did */
	for (i = 0; hugetlb && i < 500 && bhc_test_hugepages_free(2048) != huge_free - N_CLIENTS;
	     i++)
		sleep_ms(10); /* the loop's last region may still be being punched */
	if (hugetlb)
		ck_assert_int_eq(bhc_test_hugepages_free(2048), huge_free - N_CLIENTS);
	ck_assert_uint_eq(status_u64("daemon.restart.reregistered_regions"), N_CLIENTS * N_ARENAS);
	ck_assert_uint_eq(status_u64("daemon.restart.reregister_refused"), 0);
	ck_assert_uint_eq(status_u64("pool.leased"), leased + N_CLIENTS * 2 * MiB);
	ck_assert_uint_eq(status_u64("pool.reserved"), leased + N_CLIENTS * 2 * MiB);
	for (i = 0; i < N_CLIENTS; i++)
		client_expect(&clients[i], 'v', "ok");
	/* a registered old id is someone's lease: on another connection it is refused */
	ck_assert_int_ne(raw_release(clients[1].ids[1]), 0);
	row = region_row(clients[1].ids[1]);
	ck_assert_ptr_nonnull(row);
	json_object_put(row);

	/* free everything, exit: nothing left */
	for (i = 0; i < N_CLIENTS; i++) {
		client_expect(&clients[i], 'f', "ok");
		client_quit(&clients[i]);
	}
	for (i = 0; i < 200 && status_u64("pool.reserved"); i++)
		sleep_ms(10);
	ck_assert_uint_eq(status_u64("pool.reserved"), 0);
	ck_assert_uint_eq(n_regions_in("leased"), 0);
	ck_assert_int_eq(daemon_memfds(), 0);
	bhc_test_daemon_stop_clean(&d);
}

START_TEST(test_sigkill)
{
	restart_case(HOW_SIGKILL, config_off);
}
END_TEST

/* The same with hugetlb regions under hugepages = require. */
START_TEST(test_sigkill_hugetlb)
{
	char why[256];

	/* 6 x 16 MiB held, 3 x 2 MiB new, the loop's 2 MiB regions, and room */
	if (bhc_test_hugepages_reserve(2048, 64, why, sizeof(why)) < 0)
		bhc_test_skip("%s", why);
	restart_case(HOW_SIGKILL, config_require);
}
END_TEST

START_TEST(test_sigterm)
{
	restart_case(HOW_SIGTERM, config_off);
}
END_TEST

START_TEST(test_other_binary)
{
	restart_case(HOW_OTHER_BINARY, config_off);
}
END_TEST

static uint64_t client_id_reply(struct client *c, char cmd)
{
	char line[64];

	client_ask(c, cmd, line, sizeof(line));
	ck_assert_msg(!strncmp(line, "ok ", 3), "client %d '%c': %s", c->pid, cmd, line);
	return strtoull(line + 3, NULL, 10);
}

static const char *region_state_of(uint64_t id, char *buf, size_t len)
{
	struct json_object *row = region_row(id);

	snprintf(buf, len, "%s", row ? get_str(row, "state") : "(none)");
	if (row) {
		snprintf(buf, len, "%s %s pid %" PRIu64, get_str(row, "state"),
			 get_str(row, "origin"), get_u64(row, "pid"));
		json_object_put(row);
	}
	return buf;
}

/*
 * What a process keeps comes back too: a region freed and kept for reuse,
 * and a thread's bhc_with_arena() spare, are registered with the arenas in
 * use; afterwards the kept region serves the process's next arena of its
 * size (no new lease).
 */
START_TEST(test_kept_and_spare)
{
	uint64_t kept, spare, again;
	char want[64], got[96];
	struct client c;

	setup(config_off);
	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN", "256M", 1), 0);
	bhc_test_daemon_start_ready(&d, daemon_args, 20000);
	client_start(&c, 0);
	spare = client_id_reply(&c, 'w');
	kept = client_id_reply(&c, 'k');
	ck_assert_uint_ne(kept, spare);
	{
		struct json_object *row = region_row(spare);

		ck_assert_ptr_nonnull(row);
		ck_assert_uint_eq(status_u64("pool.leased"), 2 * 16 * MiB + get_u64(row, "size"));
		json_object_put(row);
	}

	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, daemon_args), 0);
	wait_ready_n(2);
	client_expect(&c, 'n', "ok ");
	snprintf(want, sizeof(want), "leased registered pid %d", (int)c.pid);
	ck_assert_str_eq(region_state_of(kept, got, sizeof(got)), want);
	ck_assert_str_eq(region_state_of(spare, got, sizeof(got)), want);
	ck_assert_str_eq(region_state_of(c.ids[1], got, sizeof(got)), want);
	ck_assert_uint_eq(status_u64("daemon.restart.reregistered_regions"), 3);
	/* the kept region, registered, serves the next arena of its size */
	again = client_id_reply(&c, 'r');
	ck_assert_uint_eq(again, kept);
	client_expect(&c, 'v', "ok");
	client_expect(&c, 'f', "ok");
	client_quit(&c);
	for (int i = 0; i < 200 && status_u64("pool.reserved"); i++)
		sleep_ms(10);
	ck_assert_uint_eq(status_u64("pool.reserved"), 0);
	bhc_test_daemon_stop_clean(&d);
	ck_assert_int_eq(setenv("BHC_ARENA_RETAIN", "0", 1), 0);
}
END_TEST

/* A client that exits while the daemon is away: nothing of it comes back. */
START_TEST(test_client_gone)
{
	struct client c;

	setup(config_off);
	bhc_test_daemon_start_ready(&d, daemon_args, 20000);
	client_start(&c, 0);
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	client_quit(&c);
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, daemon_args), 0);
	wait_ready_n(2);
	ck_assert_uint_eq(status_u64("pool.reserved"), 0);
	ck_assert_uint_eq(status_u64("daemon.restart.reregistered_regions"), 0);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* --- the fd store: this test plays systemd ---------------------------------------------- */

#define STORE_MAX 64

struct store {
	pthread_mutex_t lock;
	int sock; /* NOTIFY_SOCKET */
	char path[BHC_TEST_PATH_MAX];
	int fds[STORE_MAX];
	char names[STORE_MAX][128];
	unsigned int n;
	unsigned int n_removes;
	pthread_t thread;
	volatile bool stop;
};

static struct store store = { .lock = PTHREAD_MUTEX_INITIALIZER, .sock = -1 };

static const char *field(const char *msg, const char *key, char *buf, size_t len)
{
	const char *p = msg;
	size_t klen = strlen(key);

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			size_t n = strcspn(p + klen + 1, "\n");

			snprintf(buf, len, "%.*s", (int)n, p + klen + 1);
			return buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static void store_handle(const char *msg, int *fds, unsigned int n_fds)
{
	char name[128], v[16];
	unsigned int i, j;

	pthread_mutex_lock(&store.lock);
	if (field(msg, "FDSTORE", v, sizeof(v)) && !strcmp(v, "1") &&
	    field(msg, "FDNAME", name, sizeof(name))) {
		for (i = 0; i < n_fds && store.n < STORE_MAX; i++) {
			store.fds[store.n] = fds[i];
			snprintf(store.names[store.n], sizeof(store.names[0]), "%s", name);
			store.n++;
			fds[i] = -1;
		}
	} else if (field(msg, "FDSTOREREMOVE", v, sizeof(v)) && !strcmp(v, "1") &&
		   field(msg, "FDNAME", name, sizeof(name))) {
		store.n_removes++;
		for (i = 0, j = 0; i < store.n; i++) {
			if (!strcmp(store.names[i], name)) {
				close(store.fds[i]);
				continue;
			}
			store.fds[j] = store.fds[i];
			memcpy(store.names[j], store.names[i], sizeof(store.names[0]));
			j++;
		}
		store.n = j;
	}
	pthread_mutex_unlock(&store.lock);
	for (i = 0; i < n_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void *store_thread(void *arg)
{
	(void)arg;
	while (!store.stop) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(16 * sizeof(int))];
		} ctrl;
		char msg[4096];
		struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) - 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctrl.buf,
				     .msg_controllen = sizeof(ctrl.buf) };
		struct pollfd pfd = { .fd = store.sock, .events = POLLIN };
		int fds[16];
		unsigned int n_fds = 0;
		struct cmsghdr *c;
		ssize_t n;

		if (poll(&pfd, 1, 20) != 1)
			continue;
		n = recvmsg(store.sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0)
			continue;
		msg[n] = '\0';
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0;
			     i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && n_fds < 16; i++)
				memcpy(&fds[n_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
		store_handle(msg, fds, n_fds);
	}
	return NULL;
}

static void store_open(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	ck_assert_uint_lt(strlen(d.dir) + strlen("/notify"), sizeof(sa.sun_path));
	snprintf(store.path, sizeof(store.path), "%s/notify", d.dir);
	store.sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(store.sock, 0);
	memcpy(sa.sun_path, store.path, strlen(store.path) + 1);
	ck_assert_int_eq(bind(store.sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	store.stop = false;
	store.n = 0;
	store.n_removes = 0;
	ck_assert_int_eq(pthread_create(&store.thread, NULL, store_thread, NULL), 0);
}

static void store_close(void)
{
	unsigned int i;

	store.stop = true;
	pthread_join(store.thread, NULL);
	for (i = 0; i < store.n; i++)
		close(store.fds[i]);
	store.n = 0;
	close(store.sock);
}

static unsigned int store_count(const char *prefix)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&store.lock);
	for (i = 0; i < store.n; i++)
		n += !strncmp(store.names[i], prefix, strlen(prefix));
	pthread_mutex_unlock(&store.lock);
	return n;
}

static bool store_wait(const char *prefix, unsigned int want, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms;

	while (store_count(prefix) != want) {
		if (bhc_test_now_ms() >= deadline)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* An extra daemon argument for spawn_with_store(), or NULL. */
static const char *store_extra_arg;

/* Start the daemon as systemd would with this store: its fds from 3 on, named. */
static void spawn_with_store(void)
{
	const char *argv[16];
	char names[STORE_MAX * 130] = "", nfds[16], pid[16], notify[BHC_TEST_PATH_MAX + 16];
	unsigned int i, n;
	int log, fds[STORE_MAX];
	pid_t child;

	pthread_mutex_lock(&store.lock);
	n = store.n;
	for (i = 0; i < n; i++) {
		fds[i] = fcntl(store.fds[i], F_DUPFD_CLOEXEC, 100);
		ck_assert_int_ge(fds[i], 0);
		if (i)
			strcat(names, ":");
		strcat(names, store.names[i]);
	}
	pthread_mutex_unlock(&store.lock);
	argv[0] = getenv("BHC_ARENAD");
	argv[1] = "--socket";
	argv[2] = d.socket;
	argv[3] = "--log-level";
	argv[4] = "debug";
	argv[5] = "--config";
	argv[6] = d.config;
	argv[7] = state_arg;
	argv[8] = store_extra_arg;
	argv[9] = NULL;
	log = open(d.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_int_ge(log, 0);
	fflush(NULL);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(log, STDOUT_FILENO);
		dup2(log, STDERR_FILENO);
		for (i = 0; i < n; i++)
			dup2(fds[i], 3 + (int)i); /* without close-on-exec */
		snprintf(nfds, sizeof(nfds), "%u", n);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		snprintf(notify, sizeof(notify), "%s", store.path);
		if (n) {
			setenv("LISTEN_FDS", nfds, 1);
			setenv("LISTEN_FDNAMES", names, 1);
			setenv("LISTEN_PID", pid, 1);
		}
		setenv("NOTIFY_SOCKET", notify, 1);
		setenv("FDSTORE", "64", 1);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < n; i++)
		close(fds[i]);
	close(log);
	d.pid = child;
}

static void fd_store_case(bool hard)
{
	struct client clients[N_CLIENTS];
	uint64_t leased, warm, instance;
	struct json_object *row;
	char line[64];
	unsigned int i, j;

	need_fd_store();
	setup(config_warm);
	store_open();
	spawn_with_store();
	wait_ready_n(1);
	{
		struct json_object *st = status();

		ck_assert(json_object_get_boolean(get(st, "daemon.restart.fd_store")));
		json_object_put(st);
	}
	ck_assert(store_wait("bhc-w.", 2, 10000));
	for (i = 0; i < N_CLIENTS; i++)
		client_start(&clients[i], i);
	ck_assert(store_wait("bhc-l.", N_CLIENTS * N_ARENAS, 10000));
	leased = status_u64("pool.leased");
	ck_assert_uint_eq(leased, N_CLIENTS * N_ARENAS * 16 * MiB);
	warm = status_u64("pool.warm");
	ck_assert_uint_eq(warm, 4 * MiB);
	instance = status_u64("daemon.instance");

	if (hard) {
		ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
		ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	} else {
		ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
	}
	spawn_with_store();
	wait_ready_n(2);
	/* before any client is back: every lease is known, and the warm regions are warm */
	ck_assert_uint_eq(status_u64("daemon.instance"), instance + 1);
	ck_assert_uint_eq(status_u64("daemon.restart.restored_leased"), N_CLIENTS * N_ARENAS);
	ck_assert_uint_eq(status_u64("daemon.restart.restored_warm"), 2);
	ck_assert_uint_eq(status_u64("daemon.restart.restored_waiting"), N_CLIENTS * N_ARENAS);
	ck_assert_uint_eq(status_u64("pool.leased"), leased);
	ck_assert_uint_eq(status_u64("pool.warm"), warm);
	ck_assert_uint_eq(n_regions_in("restored"), N_CLIENTS * N_ARENAS);
	for (i = 0; i < N_CLIENTS; i++) {
		for (j = 0; j < N_ARENAS; j++) {
			row = region_row(clients[i].ids[j]);
			ck_assert_ptr_nonnull(row);
			ck_assert_str_eq(get_str(row, "state"), "restored");
			ck_assert_uint_eq(get_u64(row, "uid"), (uint64_t)getuid());
			ck_assert_uint_eq(get_u64(row, "size"), 16 * MiB);
			json_object_put(row);
		}
	}
	/* the clients come back: matched by id and token, counted once */
	for (i = 0; i < N_CLIENTS; i++) {
		client_ask(&clients[i], 'n', line, sizeof(line));
		ck_assert_msg(!strncmp(line, "ok ", 3), "client %u: %s", i, line);
	}
	assert_leases(clients, "restored");
	ck_assert_uint_eq(status_u64("daemon.restart.restored_waiting"), 0);
	ck_assert_uint_eq(status_u64("daemon.restart.reregistered_regions"), N_CLIENTS * N_ARENAS);
	ck_assert_uint_eq(status_u64("pool.leased"), leased + N_CLIENTS * 2 * MiB);
	for (i = 0; i < N_CLIENTS; i++)
		client_expect(&clients[i], 'v', "ok");
	/* the next daemon would get all of it again, and only once */
	ck_assert(store_wait("bhc-l.", N_CLIENTS * (N_ARENAS + 1), 10000));

	for (i = 0; i < N_CLIENTS; i++) {
		client_expect(&clients[i], 'f', "ok");
		client_quit(&clients[i]);
	}
	/* the leases left the store; the warm regions stay in it */
	ck_assert(store_wait("bhc-l.", 0, 10000));
	ck_assert_uint_eq(status_u64("pool.leased"), 0);
	ck_assert_uint_eq(n_regions_in("restored"), 0);
	ck_assert(store_wait("bhc-w.", 2, 10000));
	ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
	store_close();
	bhc_test_daemon_cleanup(&d);
}

START_TEST(test_fd_store_sigkill)
{
	fd_store_case(true);
}
END_TEST

START_TEST(test_fd_store_sigterm)
{
	fd_store_case(false);
}
END_TEST

/*
 * Restored leases nobody registers are let go after --restore-wait: the
 * one of a client that exited while the daemon was away (its pages are
 * freed), and the one of a client too old to register (here: without lease
 * tokens), whose data stays intact: let go means closed, never punched.
 */
START_TEST(test_fd_store_unclaimed)
{
	struct client old, gone;
	unsigned int i;

	need_fd_store();
	setup(config_off);
	store_open();
	store_extra_arg = NULL;
	spawn_with_store();
	wait_ready_n(1);
	ck_assert_int_eq(setenv("BHC_ARENA_REREGISTER", "0", 1), 0);
	client_start(&old, 0);
	ck_assert_int_eq(unsetenv("BHC_ARENA_REREGISTER"), 0);
	client_start(&gone, 1);
	ck_assert(store_wait("bhc-l.", 2 * N_ARENAS, 10000));

	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	client_quit(&gone);
	store_extra_arg = "--restore-wait=1500";
	spawn_with_store();
	wait_ready_n(2);
	ck_assert_uint_eq(status_u64("daemon.restart.restored_leased"), 2 * N_ARENAS);
	ck_assert_uint_eq(status_u64("pool.leased"), 2 * N_ARENAS * 16 * MiB);
	for (i = 0; i < 1000 && status_u64("daemon.restart.restored_expired") < 2 * N_ARENAS; i++)
		sleep_ms(10);
	ck_assert_uint_eq(status_u64("daemon.restart.restored_expired"), 2 * N_ARENAS);
	ck_assert_uint_eq(status_u64("daemon.restart.restored_waiting"), 0);
	ck_assert_uint_eq(status_u64("pool.leased"), 0);
	ck_assert_uint_eq(status_u64("pool.reserved"), 0);
	ck_assert(store_wait("bhc-l.", 0, 10000));
	ck_assert_int_eq(daemon_memfds(), 0);
	client_expect(&old, 'v', "ok");
	client_expect(&old, 'f', "ok");
	client_quit(&old);
	store_extra_arg = NULL;
	ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
	store_close();
	bhc_test_daemon_cleanup(&d);
}
END_TEST

/* --- hostile REGISTERs ------------------------------------------------------------------ */

struct raw_grant {
	struct bhc_arena_msg_grant_token g;
	int fd;
};

static int raw_hello_tokens(void)
{
	struct bhc_arena_msg_welcome w;
	int fd = bhc_test_connect(d.socket);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, "raw", BHC_ARENA_HELLO_LEASE_TOKENS, &w), 0);
	return fd;
}

static void raw_acquire(int fd, uint64_t size, struct raw_grant *rg)
{
	struct bhc_arena_msg_acquire m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	bhc_test_hdr(&m.hdr, BHC_ARENA_MSG_ACQUIRE, sizeof(m), 2);
	m.size = size;
	m.flags = BHC_ARENA_ACQ_NO_HUGE;
	ck_assert_int_eq(bhc_test_send(fd, &m, sizeof(m), -1), 0);
	n = bhc_test_recv(fd, &rg->g, sizeof(rg->g), &rg->fd, 10000);
	ck_assert_int_eq(n, sizeof(rg->g));
	ck_assert_uint_eq(rg->g.grant.hdr.type, BHC_ARENA_MSG_GRANT);
	ck_assert_int_ge(rg->fd, 0);
}

/* REGISTER on @sock; 0 for REGISTERED, else the errno of the ERROR. */
static int raw_register(int sock, uint64_t id, uint64_t size, uint32_t backing, uint32_t shift,
			const uint64_t token[2], int fd)
{
	struct bhc_arena_msg_register m;
	union {
		struct bhc_arena_msg_hdr hdr;
		struct bhc_arena_msg_registered ok;
		struct bhc_arena_msg_error err;
	} rep;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	bhc_test_hdr(&m.hdr, BHC_ARENA_MSG_REGISTER, sizeof(m), 9);
	m.region_id = id;
	m.size = size;
	m.backing = backing;
	m.page_shift = shift;
	m.token[0] = token[0];
	m.token[1] = token[1];
	ck_assert_int_eq(bhc_test_send(sock, &m, sizeof(m), fd), 0);
	n = bhc_test_recv(sock, &rep, sizeof(rep), NULL, 10000);
	ck_assert_int_gt(n, 0);
	if (rep.hdr.type == BHC_ARENA_MSG_REGISTERED) {
		ck_assert_int_eq(n, sizeof(rep.ok));
		ck_assert_uint_eq(rep.ok.region_id, id);
		return 0;
	}
	ck_assert_uint_eq(rep.hdr.type, BHC_ARENA_MSG_ERROR);
	ck_assert_uint_eq(rep.err.request_type, BHC_ARENA_MSG_REGISTER);
	return rep.err.error;
}

/* REGISTER from a child running as @uid: its errno. */
static int register_as(uid_t uid, uint64_t id, uint64_t size, uint32_t backing, uint32_t shift,
		       const uint64_t token[2], int fd)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int sock;

		if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
			_exit(200);
		sock = raw_hello_tokens();
		_exit(raw_register(sock, id, size, backing, shift, token, fd));
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_hostile_register)
{
	struct raw_grant a, b;
	uint64_t forged[2], none[2] = { 0, 0 }, size;
	int sock, other, own, unsealed;
	struct json_object *row;
	uint32_t backing, shift;

	setup(config_off);
	/* the socket must be reachable for a foreign uid */
	bhc_test_daemon_start_ready(&d, daemon_args, 20000);
	chmod(d.dir, 0755);
	sock = raw_hello_tokens();
	raw_acquire(sock, 4 * MiB, &a);
	raw_acquire(sock, 4 * MiB, &b);
	size = a.g.grant.size;
	backing = a.g.grant.backing;
	shift = a.g.grant.page_shift;
	ck_assert(a.g.token[0] || a.g.token[1]);
	/* an id of this instance: it knows its own leases */
	other = raw_hello_tokens();
	ck_assert_int_eq(raw_register(other, a.g.grant.region_id, size, backing, shift, a.g.token,
				      a.fd),
			 ESTALE);
	close(other);

	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	close(sock);
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, daemon_args), 0);
	wait_ready_n(2);
	chmod(d.dir, 0755);
	sock = raw_hello_tokens();

	/* refused, each charging no one */
	forged[0] = a.g.token[0] ^ 1;
	forged[1] = a.g.token[1];
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size, backing, shift, forged,
				      a.fd),
			 EACCES);
	/* b's token with a's fd: another memfd than the token names */
	ck_assert_int_eq(raw_register(sock, b.g.grant.region_id, size, backing, shift, b.g.token,
				      a.fd),
			 EACCES);
	/* a memfd of our own, sealed like a region, with a's token */
	own = memfd_create("own", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(own, 0);
	ck_assert_int_eq(ftruncate(own, (off_t)size), 0);
	ck_assert_int_eq(fcntl(own, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size, backing, shift, a.g.token,
				      own),
			 EACCES);
	/* not sealed */
	unsealed = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(unsealed, 0);
	ck_assert_int_eq(ftruncate(unsealed, (off_t)size), 0);
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size, backing, shift, a.g.token,
				      unsealed),
			 EPERM);
	/* a file that is no memfd */
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size, backing, shift, a.g.token,
				      STDIN_FILENO) != 0,
			 1);
	/* the wrong size, the wrong backing */
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size + 2 * MiB, backing, shift,
				      a.g.token, a.fd),
			 EINVAL);
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size, BHC_ARENA_BACKING_HUGETLB,
				      21, a.g.token, a.fd),
			 EINVAL);
	/* no fd at all */
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size, backing, shift, none, -1),
			 EBADF);
	/* another uid with the right fd and token: the token is a's uid's only */
	if (getuid() == 0)
		ck_assert_int_eq(register_as(65534, a.g.grant.region_id, size, backing, shift,
					     a.g.token, a.fd),
				 EACCES);
	ck_assert_uint_eq(status_u64("pool.leased"), 0);
	ck_assert_uint_eq(status_u64("pool.reserved"), 0);
	ck_assert_uint_ge(status_u64("daemon.restart.reregister_refused"), 8);

	/* the positive: the right fd and token; then never twice */
	ck_assert_int_eq(
		raw_register(sock, a.g.grant.region_id, size, backing, shift, a.g.token, a.fd), 0);
	ck_assert_uint_eq(status_u64("pool.leased"), size);
	row = region_row(a.g.grant.region_id);
	ck_assert_ptr_nonnull(row);
	ck_assert_str_eq(get_str(row, "origin"), "registered");
	ck_assert_uint_eq(get_u64(row, "uid"), (uint64_t)getuid());
	json_object_put(row);
	ck_assert_int_eq(raw_register(sock, a.g.grant.region_id, size, backing, shift, a.g.token,
				      a.fd),
			 EEXIST);
	ck_assert_uint_eq(status_u64("pool.leased"), size);
	/* the connection ends: the registered lease ends with it */
	close(sock);
	for (int i = 0; i < 200 && status_u64("pool.reserved"); i++)
		sleep_ms(10);
	ck_assert_uint_eq(status_u64("pool.reserved"), 0);
	close(a.fd);
	close(b.fd);
	close(own);
	close(unsealed);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/* An old daemon refuses the HELLO flag: the library asks without it (the daemon's own answer). */
START_TEST(test_hello_flag_refused_is_clear)
{
	struct bhc_arena_msg_welcome w;
	int fd;

	setup(config_off);
	bhc_test_daemon_start_ready(&d, daemon_args, 20000);
	fd = bhc_test_connect(d.socket);
	ck_assert_int_ge(fd, 0);
	/* an unknown flag is still refused, so a new flag is a safe question to an old daemon */
	ck_assert_int_eq(bhc_test_hello(fd, "raw", 0x10, &w), EINVAL);
	close(fd);
	bhc_test_daemon_stop_clean(&d);
}
END_TEST

/*
 * Against a daemon built before lease tokens ($BHC_ARENAD_OLD; skipped
 * without one): it refuses the library's HELLO flag and the library connects
 * again without it. Upgrading that daemon to this build: the client keeps
 * its data and goes on; the old daemon's leases, granted without tokens,
 * cannot be registered; from then on restarts keep every lease.
 */
START_TEST(test_old_daemon)
{
	const char *old = getenv("BHC_ARENAD_OLD");
	char *orig;
	struct client c;

	if (!old || !*old)
		bhc_test_skip("$BHC_ARENAD_OLD (a bhc-arenad without lease tokens) is not set");
	ck_assert_ptr_nonnull(getenv("BHC_ARENAD"));
	orig = strdup(getenv("BHC_ARENAD"));
	setup(config_off);
	ck_assert_int_eq(setenv("BHC_ARENAD", old, 1), 0);
	bhc_test_daemon_start_ready(&d, NULL, 20000);
	ck_assert_int_eq(setenv("BHC_ARENAD", orig, 1), 0);
	client_start(&c, 0);
	ck_assert_uint_eq(status_u64("pool.leased"), N_ARENAS * 16 * MiB);
	ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
	client_expect(&c, 'v', "ok");

	/* the upgrade: this build on the same socket */
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, daemon_args), 0);
	wait_ready_n(2);
	client_expect(&c, 'n', "ok ");
	client_expect(&c, 'v', "ok");
	ck_assert_uint_eq(status_u64("daemon.restart.reregistered_regions"), 0);
	ck_assert_uint_eq(status_u64("pool.leased"), 2 * MiB);

	/* the next restart keeps the lease this build granted */
	ck_assert_int_eq(kill(d.pid, SIGKILL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 128 + SIGKILL);
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, daemon_args), 0);
	wait_ready_n(3);
	client_expect(&c, 'n', "ok ");
	client_expect(&c, 'v', "ok");
	ck_assert_uint_eq(status_u64("daemon.restart.reregistered_regions"), 1);
	ck_assert_uint_eq(status_u64("pool.leased"), 2 * 2 * MiB);
	client_expect(&c, 'f', "ok");
	client_quit(&c);
	for (int i = 0; i < 200 && status_u64("pool.reserved"); i++)
		sleep_ms(10);
	ck_assert_uint_eq(status_u64("pool.reserved"), 0);
	bhc_test_daemon_stop_clean(&d);
	free(orig);
}
END_TEST

static void add(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

int main(void)
{
	Suite *s = suite_create("restart");

	add(s, "sigkill", test_sigkill);
	add(s, "sigkill_hugetlb", test_sigkill_hugetlb);
	add(s, "sigterm", test_sigterm);
	add(s, "other_binary", test_other_binary);
	add(s, "client_gone", test_client_gone);
	add(s, "kept_and_spare", test_kept_and_spare);
	add(s, "fd_store_sigkill", test_fd_store_sigkill);
	add(s, "fd_store_sigterm", test_fd_store_sigterm);
	add(s, "fd_store_unclaimed", test_fd_store_unclaimed);
	add(s, "hostile_register", test_hostile_register);
	add(s, "hello_flag_refused", test_hello_flag_refused_is_clear);
	add(s, "old_daemon", test_old_daemon);
	return bhc_test_run(s);
}
