/* SPDX-License-Identifier: MIT */
/*
 * bhc_arena.so: a Slurm SPANK plugin that makes bhc-arenad on each compute
 * node job-aware (bhc-arena-slurm(8)).
 *
 * - Every task gets BHC_ARENA_TAG=slurm-<jobid>.<step> ("batch", "extern",
 *   "interactive" or the step number) and BHC_ARENA_MODE (and
 *   BHC_ARENA_SOCKET when plugstack.conf names a socket).
 * - In each task, just after slurmstepd forks it and while it is still
 *   root, the plugin registers the job (id, uid, budget) and the task's pid
 *   with the daemon (the root-only admin commands job-register and
 *   job-attach). The daemon counts every client whose pid is the task or a
 *   descendant of it against the job's budget.
 * - At job end (the job epilog, as root in slurmd) it sends job-end: the
 *   daemon ends the job's leases still open and forgets the job; the job's
 *   peak goes to the Slurm log.
 *
 * A daemon that is down never fails a job or drains the node: the plugin
 * logs and goes on (unless plugstack.conf says "required", and then only
 * the task that cannot be registered fails; the epilog never fails).
 *
 * plugstack.conf arguments: mode=auto|daemon|local, socket=PATH,
 * budget=SIZE, timeout=MS, required | optional. The job option
 * --bhc-arena=SIZE sets the job's budget on each node.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <json-c/json.h>
#include <slurm/slurm.h>
#include <slurm/spank.h>

#include <bhc/arena-protocol.h>

#include "common/size.h"
#include "ctl/arenactl.h"

/* The symbols Slurm looks up by name must be visible (the build hides the rest). */
#define SPANK_EXPORT __attribute__((visibility("default")))

SPANK_EXPORT extern const char plugin_name[];
SPANK_EXPORT extern const char plugin_type[];
SPANK_EXPORT extern const unsigned int plugin_version;
SPANK_PLUGIN(bhc_arena, 1);

#define PREFIX "bhc_arena: "
#define DEFAULT_TIMEOUT_MS 2000

/* Settings from plugstack.conf; the job option overrides the budget. */
static struct {
	const char *mode; /* BHC_ARENA_MODE for the tasks */
	char socket[108]; /* daemon socket; "" is the clients' default */
	uint64_t budget; /* default budget, 0: none */
	int timeout_ms;
	bool required; /* a task that cannot be registered fails */
} cfg = { "auto", "", 0, DEFAULT_TIMEOUT_MS, false };

static uint64_t job_budget; /* --bhc-arena; 0: not given */
static bool budget_given;

static int opt_budget(int val, const char *arg, int remote)
{
	uint64_t b;

	if (!arg || size_parse(arg, &b) < 0 || b == 0) {
		slurm_error(PREFIX "--bhc-arena=%s: not a size (e.g. 512M, 4G)", arg ? arg : "");
		return ESPANK_BAD_ARG;
	}
	job_budget = b;
	budget_given = true;
	return ESPANK_SUCCESS;
}

/* spank_option wants writable strings. */
static char opt_name[] = "bhc-arena", opt_arginfo[] = "SIZE",
	    opt_usage[] = "Budget of bhc-arena memory (hugepage regions) for the job on each "
			  "node, e.g. 4G";

/* Registered in slurm_spank_init(): a spank_options table is not seen by sbatch and salloc. */
static struct spank_option budget_option = { opt_name, opt_arginfo, opt_usage, 1, 0, opt_budget };

static int parse_args(int ac, char **av)
{
	uint64_t v;
	uint32_t ms;
	int i;

	for (i = 0; i < ac; i++) {
		const char *a = av[i];

		if (!strncmp(a, "mode=", 5) &&
		    (!strcmp(a + 5, "auto") || !strcmp(a + 5, "daemon") ||
		     !strcmp(a + 5, "local"))) {
			cfg.mode = a + 5;
		} else if (!strncmp(a, "socket=", 7) && a[7] == '/' &&
			   strlen(a + 7) < sizeof(cfg.socket)) {
			strcpy(cfg.socket, a + 7);
		} else if (!strncmp(a, "budget=", 7) && size_parse(a + 7, &v) == 0) {
			cfg.budget = v;
		} else if (!strncmp(a, "timeout=", 8) && ctl_parse_u32(a + 8, &ms) == 0 && ms > 0 &&
			   ms <= 600000) {
			cfg.timeout_ms = (int)ms;
		} else if (!strcmp(a, "required")) {
			cfg.required = true;
		} else if (!strcmp(a, "optional")) {
			cfg.required = false;
		} else {
			slurm_error(PREFIX
				    "plugstack.conf: bad argument '%s' (mode=auto|daemon|local, "
				    "socket=/PATH, budget=SIZE, timeout=MS, required, optional)",
				    a);
			return -1;
		}
	}
	return 0;
}

SPANK_EXPORT int slurm_spank_init(spank_t sp, int ac, char **av)
{
	spank_context_t ctx = spank_context();

	if (parse_args(ac, av) < 0)
		return -1;
	if ((ctx == S_CTX_LOCAL || ctx == S_CTX_ALLOCATOR || ctx == S_CTX_REMOTE) &&
	    spank_option_register(sp, &budget_option) != ESPANK_SUCCESS) {
		slurm_error(PREFIX "cannot register --bhc-arena");
		return -1;
	}
	return 0;
}

/* The daemon's socket: plugstack.conf's, else the system default. */
static const char *socket_path(char *buf, size_t len)
{
	if (cfg.socket[0])
		return cfg.socket;
	snprintf(buf, len, "%s", BHC_ARENA_SOCKET_PATH);
	return buf;
}

/* Send one admin request of @conn; returns 0 or -errno with @err filled; *@replyp is the reply. */
static int request(struct ctl_conn *conn, struct json_object *req, struct json_object **replyp,
		   struct ctl_error *err)
{
	int r;

	*replyp = NULL;
	if (!req) {
		snprintf(err->text, sizeof(err->text), "out of memory");
		return -ENOMEM;
	}
	json_object_object_add(req, "schema", json_object_new_int(CTL_SCHEMA_VERSION));
	r = ctl_request(conn, req, replyp, err);
	json_object_put(req);
	return r;
}

static struct json_object *new_request(const char *cmd, uint32_t job)
{
	struct json_object *req = json_object_new_object();

	if (!req)
		return NULL;
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "job", json_object_new_uint64(job));
	return req;
}

static const char *step_name(uint32_t step, char *buf, size_t len)
{
	switch (step) {
	case SLURM_BATCH_SCRIPT:
		return "batch";
	case SLURM_EXTERN_CONT:
		return "extern";
	case SLURM_INTERACTIVE_STEP:
		return "interactive";
	}
	snprintf(buf, len, "%u", step);
	return buf;
}

/* In each task, as the user, before exec: the tag, the mode and the socket. */
SPANK_EXPORT int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	uint32_t job = 0, step = 0;
	char tag[BHC_ARENA_TAG_MAX], s[16];

	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_STEPID, &step) != ESPANK_SUCCESS) {
		slurm_error(PREFIX "cannot read the job and step id; no BHC_ARENA_TAG");
		return 0;
	}
	snprintf(tag, sizeof(tag), "slurm-%u.%s", job, step_name(step, s, sizeof(s)));
	spank_setenv(sp, "BHC_ARENA_TAG", tag, 1);
	spank_setenv(sp, "BHC_ARENA_MODE", cfg.mode, 1);
	if (cfg.socket[0])
		spank_setenv(sp, "BHC_ARENA_SOCKET", cfg.socket, 1);
	return 0;
}

/*
 * In each task, just forked, still root: register the job and this task's
 * pid. Only with "required" does a failure fail the task.
 */
SPANK_EXPORT int slurm_spank_task_init_privileged(spank_t sp, int ac, char **av)
{
	uint64_t budget = budget_given ? job_budget : cfg.budget;
	struct json_object *req, *reply = NULL;
	uint32_t job = 0;
	uid_t uid = 0;
	struct ctl_error err = { 0 };
	struct ctl_conn conn;
	char path[108];
	int r;

	if (!strcmp(cfg.mode, "local"))
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS ||
	    spank_get_item(sp, S_JOB_UID, &uid) != ESPANK_SUCCESS) {
		slurm_error(PREFIX "cannot read the job id and uid; job not registered");
		return cfg.required ? -1 : 0;
	}
	r = ctl_connect(&conn, socket_path(path, sizeof(path)), cfg.timeout_ms, &err);
	if (r == 0) {
		req = new_request("job-register", job);
		if (req) {
			json_object_object_add(req, "uid", json_object_new_uint64(uid));
			if (budget)
				json_object_object_add(req, "budget",
						       json_object_new_uint64(budget));
		}
		r = request(&conn, req, &reply, &err);
		json_object_put(reply);
	}
	if (r == 0) {
		req = new_request("job-attach", job);
		if (req)
			json_object_object_add(req, "pid",
					       json_object_new_uint64((uint64_t)getpid()));
		r = request(&conn, req, &reply, &err);
		json_object_put(reply);
	}
	ctl_close(&conn);
	if (r < 0 && cfg.required) {
		slurm_error(PREFIX "job %u: cannot register task %d with bhc-arenad: %s", job,
			    (int)getpid(), err.text);
		return -1;
	}
	if (r < 0) {
		slurm_info(PREFIX "job %u: cannot register task %d with bhc-arenad: %s; the task "
				  "runs without a job budget",
			   job, (int)getpid(), err.text);
		return 0;
	}
	slurm_debug(PREFIX "job %u: task %d registered (budget %" PRIu64 " bytes)", job,
		    (int)getpid(), budget);
	return 0;
}

/*
 * At job end, as root in slurmd: end the job's leases, forget the job, log
 * its peak. Never fails: a failing epilog would drain the node.
 */
SPANK_EXPORT int slurm_spank_job_epilog(spank_t sp, int ac, char **av)
{
	struct json_object *reply = NULL, *j, *e;
	struct ctl_error err = { 0 };
	struct ctl_conn conn;
	uint32_t job = 0;
	char path[108], peak[CTL_SIZE_BUF], budget[CTL_SIZE_BUF], bytes[CTL_SIZE_BUF];
	bool connected;
	int r;

	/* slurm_spank_init() is not called in the job script context */
	if (parse_args(ac, av) < 0)
		return 0;
	if (!strcmp(cfg.mode, "local"))
		return 0;
	if (spank_get_item(sp, S_JOB_ID, &job) != ESPANK_SUCCESS) {
		slurm_error(PREFIX "epilog: cannot read the job id");
		return 0;
	}
	r = ctl_connect(&conn, socket_path(path, sizeof(path)), cfg.timeout_ms, &err);
	connected = r == 0;
	if (connected)
		r = request(&conn, new_request("job-end", job), &reply, &err);
	ctl_close(&conn);
	if (connected && r == -ENOENT) {
		/* no task of the job used this node's daemon, or it restarted since */
		slurm_debug(PREFIX "job %u: not registered with bhc-arenad", job);
	} else if (r < 0) {
		slurm_error(PREFIX "job %u: cannot end the job in bhc-arenad: %s", job, err.text);
	} else {
		j = ctl_json_object(reply, "job");
		e = ctl_json_object(reply, "ended");
		slurm_info(PREFIX "job %u: peak arena use %s (budget %s, %" PRIu64
				  " grants, %" PRIu64 " refused); ended %" PRIu64
				  " leases (%s) still open",
			   job, ctl_fmt_size(ctl_json_u64(j, "peak", 0), false, peak),
			   ctl_json_u64(j, "budget", 0) ?
				   ctl_fmt_size(ctl_json_u64(j, "budget", 0), false, budget) :
				   "none",
			   ctl_json_u64(j, "grants", 0), ctl_json_u64(j, "refused", 0),
			   ctl_json_u64(e, "regions", 0),
			   ctl_fmt_size(ctl_json_u64(e, "bytes", 0), false, bytes));
	}
	json_object_put(reply);
	return 0;
}
