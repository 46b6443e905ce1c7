/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenad: hands pre-faulted, hugepage-backed memory regions to BHC
 * programs over a Unix socket. See bhc-arenad(8) and docs/PROTOCOL.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include <bhc/arena-protocol.h>

#include "config.h"
#include "log.h"
#include "sd.h"
#include "restore.h"
#include "server.h"

#define EXIT_USAGE 2

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bhc-arenad [OPTION]...\n"
		"Hand out pre-faulted, hugepage-backed memory regions to BHC programs.\n"
		"\n"
		"  -c, --config=FILE            read FILE instead of %s\n"
		"      --set=SECTION.KEY=VALUE  override one configuration key (repeatable)\n"
		"  -s, --socket=PATH            listen on PATH (--set daemon.socket=PATH)\n"
		"  -l, --log-level=LEVEL        err, warning, notice, info or debug\n"
		"                               (--set daemon.log_level=LEVEL)\n"
		"      --log-prefix             start log lines with <N> syslog priorities\n"
		"                               (the default when stderr is the journal)\n"
		"      --state-dir=DIR          keep the node state (instance, token key) in DIR\n"
		"                               (default: $STATE_DIRECTORY, else %s)\n"
		"      --restore-wait=MS        how long a lease restored from systemd's fd store\n"
		"                               waits for its client to register it (60000)\n"
		"  -f, --foreground             run in the foreground (the daemon never forks;\n"
		"                               accepted for init scripts)\n"
		"      --check-config           check the configuration, print it and exit\n"
		"  -h, --help                   show this help and exit\n"
		"  -V, --version                show the version and exit\n"
		"\n"
		"Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration, SIGUSR1 logs\n"
		"the state of the pool and the clients. See bhc-arenad(8).\n",
		CONFIG_DEFAULT_PATH, "/var/lib/bhc-arena");
}

static void version(void)
{
	printf("bhc-arenad %s (protocol version %u; %ssystemd)\n", PACKAGE_VERSION,
	       BHC_ARENA_PROTO_VERSION, SD_SUPPORTED ? "+" : "-");
}

/* The --set list, kept for the life of the process (reloads re-apply it). */
struct sets {
	const char **v;
	size_t n;
	char **owned; /* strings built from --socket and --log-level */
	size_t n_owned;
};

static int sets_add(struct sets *sets, const char *arg, bool own)
{
	const char **v;
	char **o;

	v = realloc(sets->v, (sets->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	sets->v = v;
	sets->v[sets->n++] = arg;
	if (!own)
		return 0;
	o = realloc(sets->owned, (sets->n_owned + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	sets->owned = o;
	sets->owned[sets->n_owned++] = (char *)arg;
	return 0;
}

static int sets_add_key(struct sets *sets, const char *key, const char *value)
{
	size_t len = strlen(key) + strlen(value) + 2;
	char *s = malloc(len);
	int r;

	if (!s)
		return -ENOMEM;
	snprintf(s, len, "%s=%s", key, value);
	r = sets_add(sets, s, true);
	if (r < 0)
		free(s);
	return r;
}

static void sets_free(struct sets *sets)
{
	size_t i;

	for (i = 0; i < sets->n_owned; i++)
		free(sets->owned[i]);
	free(sets->owned);
	free(sets->v);
}

enum {
	OPT_SET = 0x100,
	OPT_LOG_PREFIX,
	OPT_CHECK_CONFIG,
	OPT_STATE_DIR,
	OPT_RESTORE_WAIT,
};

/* Every warm or leased region holds a descriptor: allow as many as the hard limit does. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_debug("cannot raise the descriptor limit: %m");
	else
		log_debug("descriptor limit raised to %llu", (unsigned long long)rl.rlim_cur);
}

static int run(const struct config_source *src, bool log_prefix)
{
	char err[CONFIG_ERROR_MAX];
	struct server *server;
	struct config *cfg;
	bool missing = false;
	uv_loop_t loop;
	int r, status = EXIT_SUCCESS;

	log_init(log_prefix);
	r = config_load(src, &cfg, &missing, err, sizeof(err));
	if (r < 0) {
		log_err("%s", err);
		return EXIT_FAILURE;
	}
	log_set_level(cfg->log_level);
	log_notice("bhc-arenad %s starting (pid %d)", PACKAGE_VERSION, (int)getpid());
	if (missing)
		log_notice("no %s: running on the embedded defaults", src->path);
	else
		log_info("configuration from %s", src->path);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	r = uv_loop_init(&loop);
	if (r < 0) {
		log_err("cannot create the event loop: %s", uv_strerror(r));
		config_free(cfg);
		return EXIT_FAILURE;
	}
	r = server_new(&loop, cfg, src, &server);
	if (r < 0) {
		log_err("cannot create the server: %s", strerror(-r));
		config_free(cfg);
		uv_loop_close(&loop);
		return EXIT_FAILURE;
	}
	if (server_start(server) < 0)
		status = EXIT_FAILURE;
	uv_run(&loop, UV_RUN_DEFAULT);
	r = uv_loop_close(&loop);
	if (r < 0)
		log_warning("the event loop still had handles at exit: %s", uv_strerror(r));
	server_free(server);
	if (status == EXIT_SUCCESS)
		log_notice("stopped");
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, OPT_SET },
		{ "socket", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-prefix", no_argument, NULL, OPT_LOG_PREFIX },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "restore-wait", required_argument, NULL, OPT_RESTORE_WAIT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct config_source src = { .path = CONFIG_DEFAULT_PATH };
	bool check_config = false, log_prefix = false;
	char err[CONFIG_ERROR_MAX];
	struct sets sets = { 0 };
	struct config *cfg;
	bool missing;
	int c, r = 0, status;

	while ((c = getopt_long(argc, argv, "c:s:l:fhV", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			src.path = optarg;
			src.path_explicit = true;
			break;
		case OPT_SET:
			r = sets_add(&sets, optarg, false);
			break;
		case 's':
			r = sets_add_key(&sets, "daemon.socket", optarg);
			break;
		case 'l':
			r = sets_add_key(&sets, "daemon.log_level", optarg);
			break;
		case OPT_LOG_PREFIX:
			log_prefix = true;
			break;
		case 'f':
			break;
		case OPT_CHECK_CONFIG:
			check_config = true;
			break;
		case OPT_STATE_DIR:
			restore_set_state_dir(optarg);
			break;
		case OPT_RESTORE_WAIT: {
			char *end;
			unsigned long long ms;

			errno = 0;
			ms = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-') {
				fprintf(stderr,
					"bhc-arenad: --restore-wait: '%s' is not a number of "
					"milliseconds\n",
					optarg);
				sets_free(&sets);
				return EXIT_USAGE;
			}
			restore_set_wait_ms(ms);
			break;
		}
		case 'h':
			usage(stdout);
			sets_free(&sets);
			return EXIT_SUCCESS;
		case 'V':
			version();
			sets_free(&sets);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			sets_free(&sets);
			return EXIT_USAGE;
		}
		if (r < 0) {
			fprintf(stderr, "bhc-arenad: out of memory\n");
			sets_free(&sets);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bhc-arenad: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		sets_free(&sets);
		return EXIT_USAGE;
	}
	src.sets = sets.v;
	src.n_sets = sets.n;
	if (check_config) {
		r = config_load(&src, &cfg, &missing, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "bhc-arenad: %s\n", err);
			sets_free(&sets);
			return EXIT_FAILURE;
		}
		if (missing)
			printf("# %s does not exist: embedded defaults\n", src.path);
		else
			printf("# configuration OK: %s\n", src.path);
		if (sets.n)
			printf("# with %zu --set override%s\n", sets.n, sets.n == 1 ? "" : "s");
		config_print(cfg, stdout);
		config_free(cfg);
		sets_free(&sets);
		return EXIT_SUCCESS;
	}
	status = run(&src, log_prefix);
	sets_free(&sets);
	return status;
}
