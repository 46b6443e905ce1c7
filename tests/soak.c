/* SPDX-License-Identifier: MIT */
/*
 * Soak: a real bhc-arenad on a private socket, N client processes on
 * libbhc-arena doing acquire / write / verify / release cycles for S
 * seconds, and a killer that SIGKILLs a random client every so often (a
 * fresh one takes its place). At the start, once the warm pool has
 * settled, and at the end, once every client has gone, it takes the
 * daemon's figures: open descriptors (/proc/PID/fd), VmRSS, the system's
 * HugePages_Free, and the leases and clients the daemon reports (admin
 * "status" over the socket; the SIGUSR1 state dump if the daemon has no
 * admin support). It fails (exit 1) when a client saw its data change,
 * died of anything but our SIGKILL or got an unexpected error, or when
 * anything is left at the end: a lease, a descriptor, a hugepage, or more
 * than --rss-slack KiB of RSS.
 *
 *   soak [--clients N] [--seconds S] [--kills-per-second K] [--max-mib M]
 *        [--hugepages N] [--rss-slack KIB]
 *
 * $BHC_ARENAD names the daemon (as for the tests); scripts/soak.sh runs it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bhc/arena.h>

#include "util-daemon.h"
#include "util-hugepages.h"
#include "util-pattern.h"

#define MiB (UINT64_C(1) << 20)
#define MAX_CLIENTS 2000

struct opts {
	unsigned int clients;
	unsigned int seconds;
	double kills_per_second;
	unsigned int max_mib;
	unsigned int hugepages;
	long rss_slack_kb;
};

/* Per-client counters in memory shared with the clients. */
struct slot {
	pid_t pid;
	uint64_t cycles;
	uint64_t refused;
	uint64_t bytes;
};

/* What the daemon holds, as it says. */
struct figures {
	int fds;
	long rss_kb;
	long hp_free;
	long leases;
	long clients;
	long grants, releases;
	const char *how; /* "admin" or "log" */
};

static struct bhc_test_daemon d;
static volatile sig_atomic_t stop_flag;

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(0x2545f4914f6cdd1d);
}

/* --- clients -------------------------------------------------------------------------- */

static void on_term(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Cycles until SIGTERM: 1 to 3 arenas of 1 to max_mib MiB, filled, held a moment, verified. */
static void client(struct slot *slot, unsigned int index, unsigned int max_mib)
{
	uint64_t s = (uint64_t)getpid() * 2654435761u | 1, seed;
	struct bhc_arena *a[3];
	uint64_t *p[3];
	size_t len[3], i;
	int n, k, r;

	signal(SIGTERM, on_term);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!stop_flag) {
		n = 1 + (int)(rnd(&s) % 3);
		for (k = 0; k < n; k++) {
			r = bhc_arena_new((size_t)(1 + rnd(&s) % max_mib) * MiB - 4096, &a[k]);
			if (r == -ENOSPC || r == -ENOMEM || r == -EDQUOT) {
				slot->refused++;
				break;
			}
			if (r < 0) {
				fprintf(stderr, "soak client %u: bhc_arena_new: %s\n", index,
					strerror(-r));
				_exit(2);
			}
			len[k] = bhc_arena_remaining(a[k]) / 8;
			p[k] = bhc_arena_alloc(a[k], len[k] * 8, 8);
			if (!p[k])
				_exit(4);
			seed = rnd(&s);
			for (i = 0; i < len[k]; i++)
				p[k][i] = bhc_test_pattern_word(seed, i);
			p[k][len[k] - 1] = seed; /* the seed, to verify with */
		}
		n = k;
		sleep_ms((unsigned int)(rnd(&s) % 20));
		for (k = 0; k < n; k++) {
			seed = p[k][len[k] - 1];
			for (i = 0; i + 1 < len[k]; i++) {
				if (p[k][i] != bhc_test_pattern_word(seed, i)) {
					fprintf(stderr,
						"soak client %u: word %zu of a region changed\n",
						index, i);
					_exit(3);
				}
			}
			slot->bytes += len[k] * 8;
			bhc_arena_free(a[k]);
		}
		slot->cycles++;
		if (n == 0)
			sleep_ms(50);
	}
	_exit(0);
}

static pid_t spawn(struct slot *slot, unsigned int index, unsigned int max_mib)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		client(slot, index, max_mib);
	return pid;
}

/* --- the daemon's figures ------------------------------------------------------------- */

static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static long file_kb(const char *path, const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static long rss_kb(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	return file_kb(path, "VmRSS");
}

static long json_path_int(struct json_object *root, const char *a, const char *b)
{
	struct json_object *o, *v;

	if (!json_object_object_get_ex(root, a, &o) || !json_object_object_get_ex(o, b, &v))
		return -1;
	return (long)json_object_get_int64(v);
}

/* Leases and clients from admin "status"; false if the daemon answers no admin requests. */
static bool admin_figures(struct figures *f)
{
	unsigned char buf[BHC_ARENA_ADMIN_CHUNK_MAX];
	static const char req[] = "{\"cmd\":\"status\"}";
	struct bhc_arena_msg_admin_reply rep;
	struct json_object *root, *backings, *b, *leased, *v;
	char *json = NULL, *tmp;
	size_t len = 0, i;
	bool ok = false;
	ssize_t n;
	int fd;

	fd = bhc_test_connect(d.socket);
	if (fd < 0 || bhc_test_hello(fd, "soak", BHC_ARENA_HELLO_ADMIN, NULL) != 0)
		goto out;
	{
		struct bhc_arena_msg_hdr mh;

		bhc_test_hdr(&mh, BHC_ARENA_MSG_ADMIN,
			     (uint32_t)(sizeof(struct bhc_arena_msg_hdr) + strlen(req)), 9);
		memcpy(buf, &mh, sizeof(mh));
	}
	memcpy(buf + sizeof(struct bhc_arena_msg_hdr), req, strlen(req));
	if (bhc_test_send(fd, buf, sizeof(struct bhc_arena_msg_hdr) + strlen(req), -1) < 0)
		goto out;
	do {
		n = bhc_test_recv(fd, buf, sizeof(buf), NULL, 10000);
		if (n < (ssize_t)sizeof(rep))
			goto out;
		memcpy(&rep, buf, sizeof(rep));
		if (rep.hdr.type != BHC_ARENA_MSG_ADMIN_REPLY)
			goto out; /* ERROR: no admin support */
		tmp = realloc(json, len + (size_t)n - sizeof(rep) + 1);
		if (!tmp)
			goto out;
		json = tmp;
		memcpy(json + len, buf + sizeof(rep), (size_t)n - sizeof(rep));
		len += (size_t)n - sizeof(rep);
		json[len] = '\0';
	} while (rep.flags & BHC_ARENA_ADMIN_MORE);
	root = json_tokener_parse(json);
	if (!root)
		goto out;
	f->clients = json_path_int(root, "sessions", "clients");
	f->grants = json_path_int(root, "counters", "grants");
	f->releases = json_path_int(root, "counters", "releases");
	f->leases = 0;
	if (json_object_object_get_ex(root, "backings", &backings)) {
		for (i = 0; i < json_object_array_length(backings); i++) {
			b = json_object_array_get_idx(backings, i);
			if (json_object_object_get_ex(b, "leased", &leased) &&
			    json_object_object_get_ex(leased, "regions", &v))
				f->leases += (long)json_object_get_int64(v);
		}
	}
	f->how = "admin";
	ok = f->clients >= 0;
	json_object_put(root);
out:
	free(json);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Leases and clients from a SIGUSR1 state dump. */
static void log_figures(struct figures *f)
{
	int n = bhc_test_daemon_log_count(&d, "state: ");
	char *log, *line, *save = NULL, *last = NULL, *p;
	long v;

	f->how = "log";
	f->leases = f->clients = -1;
	if (kill(d.pid, SIGUSR1) < 0 || !bhc_test_daemon_log_wait(&d, "state: ", n + 1, 5000) ||
	    !bhc_test_daemon_log_wait(&d, "notice: total ", n + 1, 5000))
		return;
	log = bhc_test_daemon_log_read(&d);
	if (!log)
		return;
	for (p = strstr(log, "state: "); p; p = strstr(p + 1, "state: "))
		last = p;
	f->leases = 0;
	for (line = strtok_r(last, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "state: %ld clients", &v) == 1)
			f->clients = v;
		p = strstr(line, "notice: leased ");
		if (p && (p = strstr(p, ": ")) && sscanf(p, ": %ld regions", &v) == 1)
			f->leases += v;
	}
	free(log);
}

static void figures(struct figures *f)
{
	memset(f, 0, sizeof(*f));
	f->grants = f->releases = -1;
	f->fds = fd_count(d.pid);
	f->rss_kb = rss_kb(d.pid);
	f->hp_free = file_kb("/proc/meminfo", "HugePages_Free");
	if (!admin_figures(f))
		log_figures(f);
}

/*
 * Wait until the daemon has settled at @want (descriptors and hugepages
 * back, no lease, no client), or @timeout_ms; the last figures in @f.
 */
static bool settle(struct figures *f, const struct figures *want, int timeout_ms)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		figures(f);
		/* more hugepages free than at the start is fine: warm regions remade
		 * while clients held the pool may have fallen back to shmem */
		if (f->fds == want->fds && f->hp_free >= want->hp_free && f->leases == 0 &&
		    f->clients == 0)
			return true;
		if (bhc_test_now_ms() >= deadline)
			return false;
		sleep_ms(200);
	}
}

/* Descriptors the same for a second running: the warm pool has been made. */
static void settle_start(struct figures *f)
{
	int stable = 0, prev = -1, i;

	for (i = 0; i < 300 && stable < 5; i++) {
		sleep_ms(200);
		figures(f);
		stable = f->fds == prev ? stable + 1 : 0;
		prev = f->fds;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: soak [--clients N] [--seconds S] [--kills-per-second K] "
			"[--max-mib M] [--hugepages N] [--rss-slack KIB]\n");
	exit(2);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "clients", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "kills-per-second", required_argument, NULL, 'k' },
		{ "max-mib", required_argument, NULL, 'm' },
		{ "hugepages", required_argument, NULL, 'H' },
		{ "rss-slack", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ 100, 30, 4.0, 4, 16, 8192 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->clients = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->seconds = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o->kills_per_second = strtod(optarg, NULL);
			break;
		case 'm':
			o->max_mib = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'H':
			o->hugepages = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o->rss_slack_kb = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (o->clients < 1 || o->clients > MAX_CLIENTS || o->seconds < 1 || o->max_mib < 1 ||
	    o->kills_per_second < 0)
		usage();
}

int main(int argc, char **argv)
{
	char config[256], why[256];
	struct figures f0, f1;
	struct opts o;
	struct slot *slots;
	const char *seed_env = getenv("BHC_TEST_SEED");
	uint64_t s = seed_env && *seed_env ? strtoull(seed_env, NULL, 0) | 1 :
					     (uint64_t)time(NULL) | 1,
		 seed0 = s, t_end, next_kill, cycles = 0, refused = 0, bytes = 0;
	unsigned long kills = 0, failures = 0, i;
	int status, r, fail = 0;
	pid_t pid;

	parse_opts(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);
	/* the hugepage lock keeps other tests off the pool while HugePages_Free is compared */
	if (o.hugepages && bhc_test_hugepages_reserve(2048, o.hugepages, why, sizeof(why)) < 0)
		printf("soak: no hugepages reserved (%s); regions fall back to shmem\n", why);
	slots = mmap(NULL, sizeof(*slots) * o.clients, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED) {
		perror("soak: mmap");
		return 1;
	}
	/* warm_max = 0: the warm pool keeps its counts, so the settled figures compare */
	snprintf(config, sizeof(config),
		 "[pool]\nhugepages = prefer\nwarm = 2M:4, 4M:2\nwarm_max = 0\n"
		 "max_region_size = 64M\n"
		 "[limits]\ntotal = %uM\nmax_connections = %u\n",
		 o.clients * o.max_mib * 3 < 4096 ? o.clients * o.max_mib * 3 : 4096,
		 o.clients + 64);
	if (bhc_test_daemon_init(&d) < 0 || bhc_test_daemon_write_config(&d, config) < 0) {
		perror("soak: daemon setup");
		return 1;
	}
	r = bhc_test_daemon_start(&d, (const char *const[]){ "--log-level", "info", NULL });
	if (r < 0 || bhc_test_daemon_wait_ready(&d, 30000) < 0) {
		bhc_test_daemon_dump_log(&d);
		fprintf(stderr, "soak: the daemon did not start\n");
		return 1;
	}
	setenv("BHC_ARENA_SOCKET", d.socket, 1);
	setenv("BHC_ARENA_MODE", "daemon", 1);
	settle_start(&f0);
	printf("soak: %u clients for %u s, %.1f kills/s, regions of 1 to %u MiB; daemon pid %d; "
	       "seed %" PRIu64 " (BHC_TEST_SEED replays it)\n",
	       o.clients, o.seconds, o.kills_per_second, o.max_mib, (int)d.pid, seed0);
	printf("soak: start: fds %d, VmRSS %ld kB, HugePages_Free %ld, leases %ld, clients %ld "
	       "(%s)\n",
	       f0.fds, f0.rss_kb, f0.hp_free, f0.leases, f0.clients, f0.how);
	fflush(stdout);

	for (i = 0; i < o.clients; i++)
		slots[i].pid = spawn(&slots[i], (unsigned int)i, o.max_mib);
	t_end = bhc_test_now_ms() + (uint64_t)o.seconds * 1000u;
	next_kill = bhc_test_now_ms() + 1000;
	while (bhc_test_now_ms() < t_end) {
		/* a client that ended by itself failed: its status says how */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == d.pid) {
				fprintf(stderr, "soak: the daemon died (status 0x%x)\n", status);
				d.pid = 0;
				fail = 1;
				goto out_clients;
			}
			for (i = 0; i < o.clients && slots[i].pid != pid; i++)
				;
			if (i == o.clients)
				continue;
			fprintf(stderr, "soak: client %lu (pid %d) %s %d\n", i, (int)pid,
				WIFSIGNALED(status) ? "died of signal" : "exited with",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			failures++;
			slots[i].pid = spawn(&slots[i], (unsigned int)i, o.max_mib);
		}
		if (o.kills_per_second > 0 && bhc_test_now_ms() >= next_kill) {
			i = rnd(&s) % o.clients;
			if (slots[i].pid > 0 && kill(slots[i].pid, SIGKILL) == 0) {
				waitpid(slots[i].pid, &status, 0);
				if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
					fprintf(stderr,
						"soak: client %lu ended before our SIGKILL\n", i);
					failures++;
				}
				kills++;
				slots[i].pid = spawn(&slots[i], (unsigned int)i, o.max_mib);
			}
			next_kill += (uint64_t)(1000.0 / o.kills_per_second);
		}
		sleep_ms(5);
	}

out_clients:
	for (i = 0; i < o.clients; i++)
		if (slots[i].pid > 0)
			kill(slots[i].pid, SIGTERM);
	for (i = 0; i < o.clients; i++) {
		if (slots[i].pid <= 0)
			continue;
		if (waitpid(slots[i].pid, &status, 0) == slots[i].pid &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			fprintf(stderr, "soak: client %lu did not end cleanly (status 0x%x)\n", i,
				status);
			failures++;
		}
		cycles += slots[i].cycles;
		refused += slots[i].refused;
		bytes += slots[i].bytes;
	}
	if (fail)
		goto out;
	if (!settle(&f1, &f0, 30000)) {
		fprintf(stderr, "soak: the daemon did not settle back to its start\n");
		fail = 1;
	}
	printf("soak: end:   fds %d, VmRSS %ld kB, HugePages_Free %ld, leases %ld, clients %ld "
	       "(%s)\n",
	       f1.fds, f1.rss_kb, f1.hp_free, f1.leases, f1.clients, f1.how);
	if (f1.grants >= 0 && f1.releases >= 0)
		printf("soak: the daemon granted %ld regions and took %ld back\n", f1.grants,
		       f1.releases);
	else if (f1.grants >= 0)
		printf("soak: the daemon granted %ld regions\n", f1.grants);
	printf("soak: %" PRIu64 " cycles (%" PRIu64 " MiB written and verified), %" PRIu64
	       " refused (pool limit), %lu clients killed, %lu failures\n",
	       cycles, bytes >> 20, refused, kills, failures);
	if (f1.releases >= 0 && f1.grants != f1.releases) {
		fprintf(stderr, "soak: grants and releases differ\n");
		fail = 1;
	}
	if (f1.rss_kb > f0.rss_kb + o.rss_slack_kb) {
		fprintf(stderr, "soak: VmRSS grew by more than %ld kB\n", o.rss_slack_kb);
		fail = 1;
	}
	if (failures || cycles == 0)
		fail = 1;
	r = bhc_test_daemon_stop(&d);
	if (r != 0) {
		fprintf(stderr, "soak: the daemon exited with %d\n", r);
		fail = 1;
	}
out:
	if (fail) {
		char cmd[BHC_TEST_PATH_MAX + 32];

		fprintf(stderr, "soak: the end of the daemon's log:\n");
		fflush(NULL);
		snprintf(cmd, sizeof(cmd), "tail -n 100 '%s' >&2", d.log);
		if (system(cmd) != 0)
			fprintf(stderr, "soak: cannot show %s\n", d.log);
	}
	bhc_test_daemon_cleanup(&d);
	printf("soak: %s\n", fail ? "FAIL" : "PASS");
	return fail;
}
