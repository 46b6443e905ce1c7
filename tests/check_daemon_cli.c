/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenad as an operator and systemd see it: options, --check-config,
 * running without a config file, SIGHUP reloads, SIGTERM/SIGINT stops,
 * socket ownership, start-up that never blocks the loop, socket
 * activation, sd_notify readiness and watchdog, the thread-pool fallback.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "tap.h"
#include "util-daemon.h"

#define MiB (1ull << 20)

static struct bhc_test_daemon d;

static const char small_config[] = "[pool]\n"
				   "hugepages = off\n"
				   "warm = 2M:1\n"
				   "[limits]\n"
				   "total = 256M\n";

/* Run the daemon binary in the foreground with @args; its exit status, output in @out. */
static int run(char *out, size_t len, const char *const *args)
{
	const char *argv[32];
	int pipefd[2], status;
	size_t n = 0, got = 0;
	ssize_t r;
	pid_t pid;

	argv[n++] = getenv("BHC_ARENAD");
	ck_assert_ptr_nonnull(argv[0]);
	for (; args && *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	ck_assert_int_eq(pipe(pipefd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < len && (r = read(pipefd[0], out + got, len - got - 1)) > 0)
		got += (size_t)r;
	out[got] = '\0';
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void set_sun_path(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	ck_assert_uint_lt(n, sizeof(sa->sun_path));
	memcpy(sa->sun_path, path, n + 1);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static bool have_systemd(void)
{
	const char *args[] = { "--version", NULL };
	char out[512];

	ck_assert_int_eq(run(out, sizeof(out), args), 0);
	return strstr(out, "+systemd") != NULL;
}

static void start(const char *config, const char *const *args)
{
	bhc_test_daemon_setup(&d, config);
	bhc_test_daemon_start_ready(&d, args, 20000);
}

static void stop(void)
{
	bhc_test_daemon_stop_clean(&d);
}

static int client(const char *tag)
{
	int fd = bhc_test_connect(d.socket);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bhc_test_hello(fd, tag, 0, NULL), 0);
	return fd;
}

static void acquire_release(int fd, uint64_t size)
{
	struct bhc_arena_msg_grant g;
	int rfd;

	ck_assert_int_eq(bhc_test_acquire(fd, size, 0, 0, &g, &rfd, NULL), 0);
	close(rfd);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);
}

START_TEST(test_help_version)
{
	const char *help[] = { "--help", NULL }, *version[] = { "-V", NULL };
	const char *bad[] = { "--no-such-option", NULL }, *extra[] = { "stray", NULL };
	char out[4096];

	ck_assert_int_eq(run(out, sizeof(out), help), 0);
	ck_assert_ptr_nonnull(strstr(out, "Usage: bhc-arenad"));
	ck_assert_ptr_nonnull(strstr(out, "--check-config"));
	ck_assert_ptr_nonnull(strstr(out, "--set=SECTION.KEY=VALUE"));
	ck_assert_int_eq(run(out, sizeof(out), version), 0);
	ck_assert_ptr_nonnull(strstr(out, "bhc-arenad " PACKAGE_VERSION));
	ck_assert_ptr_nonnull(strstr(out, "protocol version 1"));
	ck_assert_int_eq(run(out, sizeof(out), bad), 2);
	ck_assert_ptr_nonnull(strstr(out, "Usage:"));
	ck_assert_int_eq(run(out, sizeof(out), extra), 2);
}
END_TEST

START_TEST(test_check_config)
{
	char path[] = "/tmp/bhc-arenad-cfg.XXXXXX", out[4096];
	const char *args[] = {
		"--check-config", "--config", path, "--set", "limits.total=6G", NULL
	};
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	write_file(path, "[daemon]\n"
			 "socket = /tmp/somewhere/arenad.sock\n"
			 "socket_mode = 0660\n"
			 "admin_group = wheel\n"
			 "log_level = notice\n"
			 "[pool]\n"
			 "hugepages = require\n"
			 "page_size = 2M\n"
			 "warm = 32M:2, 2M:8\n"
			 "max_region_size = 512M\n"
			 "io_uring = no\n"
			 "io_depth = 4\n"
			 "io_cpus = 0-3,5,6-7\n"
			 "[limits]\n"
			 "total = 3G\n"
			 "per_connection_bytes = 1G\n"
			 "per_connection_regions = 16\n"
			 "per_uid_bytes = 2G\n"
			 "per_uid_regions = 32\n"
			 "max_connections = 10\n"
			 "handshake_timeout = 1500ms\n"
			 "stall_timeout = 1min\n");
	ck_assert_int_eq(run(out, sizeof(out), args), 0);
	ck_assert_ptr_nonnull(strstr(out, "# configuration OK"));
	ck_assert_ptr_nonnull(strstr(out, "socket = /tmp/somewhere/arenad.sock\n"));
	ck_assert_ptr_nonnull(strstr(out, "socket_mode = 0660\n"));
	ck_assert_ptr_nonnull(strstr(out, "hugepages = require\n"));
	ck_assert_ptr_nonnull(strstr(out, "warm = 32M:2,2M:8\n"));
	ck_assert_ptr_nonnull(strstr(out, "io_uring = no\n"));
	ck_assert_ptr_nonnull(strstr(out, "io_cpus = 0-3,5-7\n"));
	ck_assert_ptr_nonnull(strstr(out, "total = 6G\n")); /* --set wins */
	ck_assert_ptr_nonnull(strstr(out, "per_uid_regions = 32\n"));
	ck_assert_ptr_nonnull(strstr(out, "handshake_timeout = 1500ms\n"));
	ck_assert_ptr_nonnull(strstr(out, "stall_timeout = 60s\n"));
	unlink(path);
}
END_TEST

/* The longest value there is, every other CPU of 1024, prints back whole. */
START_TEST(test_check_config_long_cpulist)
{
	char list[2200], set[2300], want[2300], out[8192];
	const char *args[] = { "--check-config", "--set", set, NULL };
	size_t n = 0;
	int cpu;

	for (cpu = 0; cpu < 1024; cpu += 2)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%d", cpu ? "," : "", cpu);
	ck_assert_uint_gt(n, 2000);
	snprintf(set, sizeof(set), "pool.io_cpus=%s", list);
	snprintf(want, sizeof(want), "io_cpus = %s\n", list);
	ck_assert_int_eq(run(out, sizeof(out), args), 0);
	ck_assert_msg(strstr(out, want), "got: %.300s", out);
}
END_TEST

START_TEST(test_check_config_errors)
{
	static const struct {
		const char *text;
		const char *message; /* after "PATH:" */
	} bad[] = {
		{ "[pool]\nhugepages = always\n", ":2: [pool] hugepages: 'always' is not one of" },
		{ "[pool]\n\nwarm = 16M:x\n", ":3: [pool] warm: 'x' is not a count" },
		{ "[limits]\ntotal = lots\n", ":2: [limits] total: 'lots' is not a size" },
		{ "[limits]\nmystery = 1\n", ":2: [limits] mystery: unknown key" },
		{ "[extra]\nkey = 1\n", ":2: [extra] key: unknown section [extra]" },
		{ "[pool]\nwarm\n", ":2: syntax error" },
		{ "[pool\nwarm = 2M:1\n", ":1: syntax error" },
		{ "total = 1G\n", ":1: total: key outside a section" },
		{ "[pool]\nio_cpus = 3-1\n",
		  ":2: [pool] io_cpus: '3-1' is not auto, all or a CPU list" },
		{ "[pool]\nio_cpus = 1,\n", ":2: [pool] io_cpus: '1,' is not auto, all" },
		{ "[pool]\nio_cpus = 4096\n", ":2: [pool] io_cpus: '4096' is not auto, all" },
		{ "[daemon]\nsocket_mode = rw\n",
		  ":2: [daemon] socket_mode: 'rw' is not an octal" },
	};
	char path[] = "/tmp/bhc-arenad-cfg.XXXXXX", out[4096], want[512];
	const char *args[] = { "--check-config", "-c", path, NULL };
	int fd = mkstemp(path);
	size_t i;

	ck_assert_int_ge(fd, 0);
	close(fd);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		write_file(path, bad[i].text);
		ck_assert_int_eq(run(out, sizeof(out), args), 1);
		snprintf(want, sizeof(want), "%s%s", path, bad[i].message);
		ck_assert_msg(strstr(out, want), "case %zu: want '%s', got '%s'", i, want, out);
	}
	/* Cross-key problems name the keys. */
	write_file(path, "[pool]\nwarm = 1G:5\n");
	ck_assert_int_eq(run(out, sizeof(out), args), 1);
	ck_assert_ptr_nonnull(strstr(out, "[pool] warm keeps more than [limits] total 4G"));
	/* A bad --set names the argument. */
	write_file(path, "");
	{
		const char *set_args[] = { "--check-config", "-c", path, "--set",
					   "pool.warm=16M",  NULL };

		ck_assert_int_eq(run(out, sizeof(out), set_args), 1);
		ck_assert_ptr_nonnull(strstr(out, "--set pool.warm=16M: '16M' is not SIZE:COUNT"));
	}
	unlink(path);
	/* An explicitly named file that does not exist is an error. */
	ck_assert_int_eq(run(out, sizeof(out), args), 1);
	ck_assert_ptr_nonnull(strstr(out, "cannot read"));
	ck_assert_ptr_nonnull(strstr(out, "No such file"));
}
END_TEST

/* No config file at all: the embedded defaults. */
START_TEST(test_embedded_defaults)
{
	const char *check[] = { "--check-config", NULL };
	const char *args[] = { "--set", "pool.hugepages=off", "--set", "pool.warm=2M:1", NULL };
	char out[4096];
	int fd;

	if (access("/etc/bhc-arena/arenad.conf", F_OK) == 0)
		bhc_test_skip("/etc/bhc-arena/arenad.conf exists on this machine");
	ck_assert_int_eq(run(out, sizeof(out), check), 0);
	ck_assert_ptr_nonnull(strstr(out, "/etc/bhc-arena/arenad.conf does not exist: embedded "
					  "defaults"));
	ck_assert_ptr_nonnull(strstr(out, "hugepages = prefer\n"));
	ck_assert_ptr_nonnull(strstr(out, "page_size = 2M\n"));
	ck_assert_ptr_nonnull(strstr(out, "warm = 16M:4,64M:2\n"));
	ck_assert_ptr_nonnull(strstr(out, "max_region_size = 1G\n"));
	ck_assert_ptr_nonnull(strstr(out, "total = 4G\n"));
	ck_assert_ptr_nonnull(strstr(out, "admin_group = bhc-arena-admin\n"));
	ck_assert_ptr_nonnull(strstr(out, "socket_mode = 0666\n"));
	/* And it runs on them (hugepages off so as not to take the machine's). */
	start(NULL, args);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "running on the embedded defaults"), 1);
	fd = client("defaults");
	acquire_release(fd, 16 * MiB);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_sighup_reload)
{
	struct bhc_arena_msg_grant g;
	struct bhc_arena_msg_error e;
	int fd, rfd, i;
	bool seen = false;

	start("[pool]\nhugepages = off\nwarm = 2M:1\n[limits]\ntotal = 256M\n"
	      "per_connection_regions = 1\n",
	      NULL);
	fd = client("reload");
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, &g, &rfd, NULL), 0);
	close(rfd);
	ck_assert_int_eq(bhc_test_acquire(fd, 2 * MiB, 0, 0, NULL, NULL, &e), EDQUOT);

	/* Limits and warm targets change at run time. */
	write_file(d.config, "[pool]\nhugepages = off\nwarm = 2M:3\n[limits]\ntotal = 256M\n"
			     "per_connection_regions = 3\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(bhc_test_daemon_log_wait(&d, "reloaded the configuration", 1, 5000));
	acquire_release(fd, 2 * MiB);
	for (i = 0; i < 50 && !seen; i++) {
		ck_assert_int_eq(kill(d.pid, SIGUSR1), 0);
		usleep(50 * 1000);
		seen = bhc_test_daemon_log_count(&d, "class 2 MiB: 3 of 3 warm") > 0;
	}
	ck_assert(seen);

	/* The page size needs a restart: the daemon says so and keeps the old one. */
	write_file(d.config, "[pool]\nhugepages = off\npage_size = 1G\nwarm = none\n"
			     "[limits]\ntotal = 256M\nper_connection_regions = 3\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(bhc_test_daemon_log_wait(&d, "reloaded the configuration", 2, 5000));
	ck_assert_int_eq(bhc_test_daemon_log_count(&d,
						   "[pool] page_size changed from '2M' to '1G': "
						   "restart bhc-arenad to apply it"),
			 1);
	ck_assert_int_eq(bhc_test_acquire(fd, 3 * MiB, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.size, 4 * MiB); /* still rounded to 2 MiB pages */
	close(rfd);
	ck_assert_int_eq(bhc_test_release(fd, g.region_id, NULL), 0);

	/* A broken file is refused as a whole; the daemon keeps serving. */
	write_file(d.config, "[pool]\nhugepages = off\nwarm = 2M:1\n[limits]\ntotal = -1\n");
	ck_assert_int_eq(kill(d.pid, SIGHUP), 0);
	ck_assert(bhc_test_daemon_log_wait(&d, "reload failed", 1, 5000));
	acquire_release(fd, 2 * MiB);
	close(fd);
	stop();
}
END_TEST

/* SIGTERM: exit 0, socket removed, leases left with their clients (mappings stay valid). */
static void graceful(int sig)
{
	struct bhc_arena_msg_grant g;
	unsigned char *p;
	struct stat st;
	int fd, rfd;

	start(small_config, NULL);
	fd = client("graceful");
	ck_assert_int_eq(bhc_test_acquire(fd, 4 * MiB, 0, 0, &g, &rfd, NULL), 0);
	p = mmap(NULL, g.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(rfd);
	memset(p + 4096, 0x3c, g.size - 4096);
	ck_assert_int_eq(kill(d.pid, sig), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 0);
	ck_assert_int_eq(stat(d.socket, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, sig == SIGTERM ? "stopping (SIGTERM)" :
									"stopping (SIGINT)"),
			 1);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "left 1 regions (4 MiB) with the client"),
			 1);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "notice: stopped"), 1);
	ck_assert(bhc_test_closed(fd, 5000));
	ck_assert_uint_eq(p[4096], 0x3c);
	ck_assert_uint_eq(p[g.size - 1], 0x3c);
	munmap(p, g.size);
	close(fd);
	bhc_test_daemon_cleanup(&d);
}

START_TEST(test_sigterm)
{
	graceful(SIGTERM);
}
END_TEST

START_TEST(test_sigint)
{
	graceful(SIGINT);
}
END_TEST

START_TEST(test_socket_ownership)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bhc_test_daemon other;
	int fd;

	/* A stale socket (nobody listening) is replaced. */
	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	ck_assert_int_eq(bhc_test_daemon_write_config(&d, small_config), 0);
	fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	set_sun_path(&sa, d.socket);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(bhc_test_daemon_start(&d, NULL), 0);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "removed the stale socket"), 1);

	/* A second daemon on the same path refuses to start. */
	ck_assert_int_eq(bhc_test_daemon_init(&other), 0);
	snprintf(other.socket, sizeof(other.socket), "%s", d.socket);
	ck_assert_int_eq(bhc_test_daemon_write_config(&other, small_config), 0);
	ck_assert_int_eq(bhc_test_daemon_spawn(&other, NULL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&other, 10000), 1);
	ck_assert_int_eq(bhc_test_daemon_log_count(&other, "another bhc-arenad is already "
							   "listening on"),
			 1);
	bhc_test_daemon_cleanup(&other);
	fd = client("still-there");
	close(fd);
	stop();

	/* Something that is not a socket is never removed. */
	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	write_file(d.socket, "precious\n");
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, NULL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 1);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "exists and is not a socket"), 1);
	ck_assert_int_eq(access(d.socket, F_OK), 0);
	bhc_test_daemon_cleanup(&d);
}
END_TEST

/* The warm pool is reserved off the loop: a client is answered at once meanwhile. */
START_TEST(test_reservation_does_not_block)
{
	static const char config[] = "[pool]\n"
				     "hugepages = off\n"
				     "warm = 1G:3\n"
				     "max_region_size = 1G\n"
				     "[limits]\n"
				     "total = 4G\n";
	struct bhc_arena_msg_welcome w;
	struct bhc_arena_msg_grant g;
	uint64_t t0, rtt, deadline;
	double reserve_s = 0;
	bool ready_before;
	char line[512], *p;
	struct stat st;
	int fd = -1, rfd;

	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	ck_assert_int_eq(bhc_test_daemon_write_config(&d, config), 0);
	ck_assert_int_eq(bhc_test_daemon_spawn(&d, NULL), 0);
	deadline = bhc_test_now_ms() + 10000u * bhc_test_timeout_scale();
	while (fd < 0 && bhc_test_now_ms() < deadline) {
		if (stat(d.socket, &st) == 0)
			fd = bhc_test_connect(d.socket);
		if (fd < 0)
			usleep(1000);
	}
	ck_assert_int_ge(fd, 0);
	t0 = bhc_test_now_ms();
	ck_assert_int_eq(bhc_test_hello(fd, "early", 0, &w), 0);
	rtt = bhc_test_now_ms() - t0;
	ready_before = bhc_test_daemon_log_count(&d, "ready:") > 0;
	/* An acquire of the warm size is served as soon as a region is ready. */
	ck_assert_int_eq(bhc_test_acquire(fd, 1ull << 30, 0, 0, &g, &rfd, NULL), 0);
	ck_assert_uint_eq(g.size, 1ull << 30);
	close(rfd);
	ck_assert_int_eq(bhc_test_daemon_wait_ready(&d, 60000), 0);
	ck_assert(bhc_test_daemon_log_line(&d, "ready:", line, sizeof(line)));
	p = strstr(line, ") in ");
	ck_assert_ptr_nonnull(p);
	reserve_s = strtod(p + 5, NULL);
	fprintf(stderr, "# welcome after %llu ms; reserving 3 GiB took %.2f s\n",
		(unsigned long long)rtt, reserve_s);
	ck_assert_msg(!ready_before, "the reservation finished before the welcome (%.2f s)",
		      reserve_s);
	ck_assert_msg((double)rtt < reserve_s * 1000.0 / 4,
		      "welcome took %llu ms while reserving took %.2f s", (unsigned long long)rtt,
		      reserve_s);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_socket_activation)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int lfd, fd;

	if (!have_systemd())
		bhc_test_skip("bhc-arenad was built without libsystemd");
	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	ck_assert_int_eq(bhc_test_daemon_write_config(&d, small_config), 0);
	lfd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	set_sun_path(&sa, d.socket);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 16), 0);
	d.listen_fd = lfd;
	ck_assert_int_eq(bhc_test_daemon_start(&d, NULL), 0);
	close(lfd);
	ck_assert_int_eq(bhc_test_daemon_wait_ready(&d, 10000), 0);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "(socket activation)"), 1);
	fd = client("activated");
	acquire_release(fd, 2 * MiB);
	close(fd);
	ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
	/* systemd owns the socket: the daemon never unlinks it. */
	ck_assert_int_eq(stat(d.socket, &st), 0);
	bhc_test_daemon_cleanup(&d);
}
END_TEST

/* Read NOTIFY_SOCKET datagrams until one contains @what; false after @timeout_ms. */
static bool notified(int nfd, const char *what, int timeout_ms, char *seen, size_t len)
{
	uint64_t deadline = bhc_test_now_ms() + (uint64_t)timeout_ms * bhc_test_timeout_scale();
	struct pollfd pfd = { .fd = nfd, .events = POLLIN };
	char buf[1024];
	ssize_t n;

	while (bhc_test_now_ms() < deadline) {
		if (poll(&pfd, 1, 100) != 1)
			continue;
		n = recv(nfd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, what)) {
			if (seen)
				snprintf(seen, len, "%s", buf);
			return true;
		}
	}
	return false;
}

START_TEST(test_sd_notify)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[BHC_TEST_PATH_MAX + 16], msg[1024];
	int nfd;

	if (!have_systemd())
		bhc_test_skip("bhc-arenad was built without libsystemd");
	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	ck_assert_int_eq(bhc_test_daemon_write_config(&d, small_config), 0);
	snprintf(path, sizeof(path), "%s/notify", d.dir);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	set_sun_path(&sa, path);
	ck_assert_int_eq(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(bhc_test_daemon_setenv(&d, "NOTIFY_SOCKET", path), 0);
	ck_assert_int_eq(bhc_test_daemon_setenv(&d, "WATCHDOG_USEC", "200000"), 0);
	ck_assert_int_eq(bhc_test_daemon_start(&d, NULL), 0);
	ck_assert(notified(nfd, "READY=1", 10000, msg, sizeof(msg)));
	/* READY=1 comes once the initial reservation is done, with a status line. */
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "ready:"), 1);
	ck_assert_ptr_nonnull(strstr(msg, "STATUS=warm 1 (2 MiB)"));
	/* every size in its own words: what is held, then of the [limits] total */
	ck_assert_msg(strstr(msg, "STATUS=warm 1 (2 MiB), leased 0 (0 B), reserving 0 (0 B); "
				  "2 MiB of 256 MiB held; 0 clients"),
		      "status line: %s", msg);
	ck_assert(notified(nfd, "WATCHDOG=1", 2000, NULL, 0));
	ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
	ck_assert(notified(nfd, "STOPPING=1", 5000, NULL, 0));
	ck_assert_int_eq(bhc_test_daemon_wait_exit(&d, 10000), 0);
	close(nfd);
	bhc_test_daemon_cleanup(&d);
}
END_TEST

START_TEST(test_thread_pool)
{
	const char *args[] = { "--set", "pool.io_uring=no", NULL };
	int fd;

	start(small_config, args);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "run through thread pool"), 1);
	fd = client("threads");
	acquire_release(fd, 2 * MiB);
	acquire_release(fd, 6 * MiB);
	close(fd);
	stop();
}
END_TEST

/* @set as the kernel writes a CPU list ("0-3,8"). */
static void format_cpus(const cpu_set_t *set, char *buf, size_t len)
{
	size_t n = 0;
	int cpu, last;

	buf[0] = '\0';
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, set))
			continue;
		for (last = cpu; last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set); last++)
			;
		if (last == cpu)
			n += (size_t)snprintf(buf + n, len - n, "%s%d", n ? "," : "", cpu);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s%d-%d", n ? "," : "", cpu, last);
		cpu = last;
	}
}

/*
 * Check that every io_uring worker of the daemon (threads named iou-wrk-*)
 * may run on the CPUs @want (a kernel CPU list) and nowhere else; returns
 * how many there are.
 */
static int check_workers(pid_t pid, const char *want)
{
	char path[300], line[256], comm[32];
	struct dirent *e;
	int n = 0;
	FILE *f;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue; /* gone meanwhile */
		if (!fgets(comm, sizeof(comm), f) || strncmp(comm, "iou-wrk", 7) != 0) {
			fclose(f);
			continue;
		}
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", (int)pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, "Cpus_allowed_list:\t", 19) != 0)
				continue;
			line[strcspn(line, "\n")] = '\0';
			ck_assert_msg(strcmp(line + 19, want) == 0,
				      "worker %s may run on CPUs %s, not %s", e->d_name, line + 19,
				      want);
			n++;
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* Start with [pool] io_cpus = @value, make regions; the workers may run on @want only. */
static void io_cpus_case(const char *value, const char *want, const char *log)
{
	char set[64];
	const char *args[] = { "--set", set, NULL };
	int fd;

	snprintf(set, sizeof(set), "pool.io_cpus=%s", value);
	start(small_config, args);
	fd = client("io-cpus");
	acquire_release(fd, 2 * MiB);
	acquire_release(fd, 6 * MiB);
	ck_assert_msg(check_workers(d.pid, want) > 0, "io_cpus = %s: no io_uring worker", value);
	if (log)
		ck_assert_msg(bhc_test_daemon_log_count(&d, log) == 1, "io_cpus = %s: no '%s'",
			      value, log);
	close(fd);
	stop();
}

/*
 * [pool] io_cpus: the kernel's io_uring workers, which zero the regions'
 * pages, run on the CPUs it names (of those the daemon may use), from the
 * first region on.
 */
START_TEST(test_io_cpus)
{
	char all[512], first[16], last[16], list[32], msg[256];
	cpu_set_t allowed;
	int cpu, lo = -1, hi = -1;

	ck_assert_int_eq(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &allowed)) {
			lo = lo < 0 ? cpu : lo;
			hi = cpu;
		}
	}
	format_cpus(&allowed, all, sizeof(all));
	snprintf(first, sizeof(first), "%d", lo);
	snprintf(last, sizeof(last), "%d", hi);

	/* a list: its CPUs (CPU 1023, which no test machine lets us use, is left out) */
	snprintf(list, sizeof(list), "%s,1023", first);
	snprintf(msg, sizeof(msg), "runs on CPU %s of %s ([pool] io_cpus = %s)", first, all, list);
	io_cpus_case(list, first, lo == hi ? NULL : msg);
	/* all: anywhere the daemon may run */
	io_cpus_case("all", all, NULL);
	/* none of the daemon's CPUs: a warning, and anywhere */
	io_cpus_case("1023", all, "[pool] io_cpus = 1023 names none of the CPUs");
	/* auto on a machine of one NUMA node: its last CPU */
	if (access("/sys/devices/system/node/node1", F_OK) != 0)
		io_cpus_case("auto", last, NULL);
}
END_TEST

/* io_uring refused by the kernel (as under seccomp): a warning, then the thread pool. */
START_TEST(test_io_uring_unavailable)
{
	const char *top = getenv("abs_top_builddir"), *asan = getenv("ASAN_OPTIONS");
	char shim[BHC_TEST_PATH_MAX], opts[BHC_TEST_PATH_MAX];
	int fd;

	ck_assert_ptr_nonnull(top);
	snprintf(shim, sizeof(shim), "%s/tests/.libs/libno-io-uring.so", top);
	ck_assert_msg(access(shim, R_OK) == 0, "%s is missing", shim);
	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	ck_assert_int_eq(bhc_test_daemon_write_config(&d, small_config), 0);
	ck_assert_int_eq(bhc_test_daemon_setenv(&d, "LD_PRELOAD", shim), 0);
	/* Under AddressSanitizer the shim comes before its runtime; that is fine here. */
	snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", asan ? asan : "",
		 asan && *asan ? ":" : "");
	ck_assert_int_eq(bhc_test_daemon_setenv(&d, "ASAN_OPTIONS", opts), 0);
	ck_assert_int_eq(bhc_test_daemon_start(&d, NULL), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_ready(&d, 10000), 0);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "warning: io_uring is unavailable (Function "
						       "not implemented): region operations run in "
						       "a thread pool instead"),
			 1);
	fd = client("no-uring");
	acquire_release(fd, 2 * MiB);
	acquire_release(fd, 6 * MiB);
	close(fd);
	stop();
}
END_TEST

START_TEST(test_log_prefix)
{
	const char *args[] = { "--log-prefix", NULL };
	char *log, *line, *save = NULL;
	int n = 0;

	ck_assert_int_eq(bhc_test_daemon_init(&d), 0);
	ck_assert_int_eq(bhc_test_daemon_write_config(&d, small_config), 0);
	ck_assert_int_eq(bhc_test_daemon_start(&d, args), 0);
	ck_assert_int_eq(bhc_test_daemon_wait_ready(&d, 10000), 0);
	ck_assert_int_eq(bhc_test_daemon_stop(&d), 0);
	log = bhc_test_daemon_log_read(&d);
	ck_assert_ptr_nonnull(log);
	for (line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "==", 2) == 0) /* a wrapper's own lines */
			continue;
		ck_assert_msg(line[0] == '<' && line[1] >= '0' && line[1] <= '7' && line[2] == '>',
			      "%s", line);
		n++;
	}
	ck_assert_int_gt(n, 3);
	ck_assert_int_eq(bhc_test_daemon_log_count(&d, "<5>ready:"), 1);
	free(log);
	bhc_test_daemon_cleanup(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-cli");
	TCase *tc;

	signal(SIGPIPE, SIG_IGN);
	tc = tcase_create("options");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_help_version);
	tcase_add_test(tc, test_check_config);
	tcase_add_test(tc, test_check_config_long_cpulist);
	tcase_add_test(tc, test_check_config_errors);
	tcase_add_test(tc, test_embedded_defaults);
	tcase_add_test(tc, test_log_prefix);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_sighup_reload);
	tcase_add_test(tc, test_sigterm);
	tcase_add_test(tc, test_sigint);
	tcase_add_test(tc, test_socket_ownership);
	tcase_add_test(tc, test_reservation_does_not_block);
	tcase_add_test(tc, test_thread_pool);
	tcase_add_test(tc, test_io_cpus);
	tcase_add_test(tc, test_io_uring_unavailable);
	suite_add_tcase(s, tc);
	tc = tcase_create("systemd");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_socket_activation);
	tcase_add_test(tc, test_sd_notify);
	suite_add_tcase(s, tc);
	return bhc_test_run(s);
}
