/* SPDX-License-Identifier: MIT */
/*
 * Admin requests: a JSON object in, a JSON object out (docs/ADMIN.md is the
 * contract). Requests are parsed and validated with json-c, replies are
 * built with json-c (it does all the escaping) by walking the server's
 * peers and the pool, and sent in chunks.
 *
 * Access: uid 0 and members of [daemon] admin_group (primary group from
 * SO_PEERCRED, supplementary groups from SO_PEERGROUPS) see everything and
 * may change the pool; anybody else sees the node's aggregates and only
 * their own clients and regions, and is refused changes with EACCES.
 *
 * Live usage comes from the region headers through region_read_usage()
 * (pread on the daemon's own fd, every value clamped): a client can make
 * only its own rows look odd, never the daemon fault or lie about others.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <bhc/arena-protocol.h>

#include "admin.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "proto.h"
#include "region.h"
#include "server.h"
#include "common/size.h"
#include "common/backing.h"
#include "common/clock.h"

#define ADMIN_SCHEMA 1
/* Every integer in a reply fits a double exactly, so every JSON reader reads it. */
#define JSON_INT_MAX ((UINT64_C(1) << 53) - 1)
#define WARM_COUNT_MAX 1000000u
#define MESSAGE_MAX 512

/* --- requests ------------------------------------------------------------------ */

enum admin_cmd {
	CMD_STATUS,
	CMD_CLIENTS,
	CMD_REGIONS,
	CMD_SNAPSHOT,
	CMD_POOL_SET,
	CMD_RELOAD,
	CMD_JOBS,
	CMD_JOB_REGISTER,
	CMD_JOB_ATTACH,
	CMD_JOB_END,
};

/* Members a command takes besides "cmd" and "schema". */
#define M_ID 0x01u
#define M_CLIENT 0x02u
#define M_PID 0x04u
#define M_UID 0x08u
#define M_TAG 0x10u
#define M_WARM_BOOL 0x20u
#define M_WARM_ARRAY 0x40u
#define M_TOTAL 0x80u
#define M_JOB 0x100u
#define M_BUDGET 0x200u

static const struct {
	const char *name;
	enum admin_cmd cmd;
	unsigned int members;
	bool change; /* needs an admin */
} commands[] = {
	{ "status", CMD_STATUS, 0, false },
	{ "clients", CMD_CLIENTS, M_ID | M_PID | M_UID | M_TAG | M_JOB, false },
	{ "regions", CMD_REGIONS, M_ID | M_CLIENT | M_PID | M_UID | M_TAG | M_WARM_BOOL | M_JOB,
	  false },
	{ "snapshot", CMD_SNAPSHOT, M_CLIENT | M_PID | M_UID | M_TAG | M_WARM_BOOL | M_JOB, false },
	{ "pool-set", CMD_POOL_SET, M_WARM_ARRAY | M_TOTAL, true },
	{ "reload", CMD_RELOAD, 0, true },
	/* jobs of a workload manager (job.h): told by root only */
	{ "jobs", CMD_JOBS, M_JOB, false },
	{ "job-register", CMD_JOB_REGISTER, M_JOB | M_UID | M_BUDGET, true },
	{ "job-attach", CMD_JOB_ATTACH, M_JOB | M_PID, true },
	{ "job-end", CMD_JOB_END, M_JOB, true },
};

/* A validated request. */
struct request {
	const char *cmd_name; /* NULL if the request had none */
	enum admin_cmd cmd;
	bool change;
	/* filters (M_ID ... M_TAG) */
	unsigned int given; /* M_* present */
	uint64_t id, client;
	uint32_t pid, uid;
	const char *tag;
	bool warm; /* list warm regions */
	/* pool-set */
	struct json_object *warm_targets;
	uint64_t total;
	/* jobs (M_JOB, M_BUDGET) */
	uint64_t job, budget;
};

/* Who is asking. */
struct viewer {
	uid_t uid;
	gid_t gid;
	bool admin;
	char group[64]; /* the admin group's name, "" if none */
};

/* An answer being built: errors are sticky, the first one wins. */
struct reply {
	struct json_object *root;
	int status; /* 0 or a positive errno for the reply */
	char message[MESSAGE_MAX]; /* with status */
	bool oom;
};

static __attribute__((format(printf, 3, 4))) int fail(struct reply *rep, int error, const char *fmt,
						      ...)
{
	va_list ap;

	if (!rep->status) {
		rep->status = error;
		va_start(ap, fmt);
		vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
		va_end(ap);
	}
	return -error;
}

/* --- building replies ----------------------------------------------------------- */

static void put(struct reply *rep, struct json_object *o, const char *key, struct json_object *v)
{
	/* a NULL @v is JSON null; a NULL @o is a parent that could not be made */
	if (!o || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		rep->oom = true;
	}
}

static void put_u64(struct reply *rep, struct json_object *o, const char *key, uint64_t v)
{
	struct json_object *j = json_object_new_uint64(v > JSON_INT_MAX ? JSON_INT_MAX : v);

	if (!j)
		rep->oom = true;
	else
		put(rep, o, key, j);
}

static void put_str(struct reply *rep, struct json_object *o, const char *key, const char *s)
{
	struct json_object *j = NULL;

	if (s) {
		j = json_object_new_string(s);
		if (!j) {
			rep->oom = true;
			return;
		}
	}
	put(rep, o, key, j);
}

static void put_bool(struct reply *rep, struct json_object *o, const char *key, bool b)
{
	struct json_object *j = json_object_new_boolean(b);

	if (!j)
		rep->oom = true;
	else
		put(rep, o, key, j);
}

static void put_null(struct reply *rep, struct json_object *o, const char *key)
{
	put(rep, o, key, NULL);
}

/* "job": the id of @job, or null. */
static void put_job(struct reply *rep, struct json_object *o, const struct job *job)
{
	if (job)
		put_u64(rep, o, "job", job->id);
	else
		put_null(rep, o, "job");
}

/* A new object or array added to @o as @key (NULL on failure, recorded). */
static struct json_object *put_new(struct reply *rep, struct json_object *o, const char *key,
				   bool array)
{
	struct json_object *j = array ? json_object_new_array() : json_object_new_object();

	if (!j) {
		rep->oom = true;
		return NULL;
	}
	put(rep, o, key, j);
	return rep->oom ? NULL : j;
}

/* A new object appended to the array @arr. */
static struct json_object *append_new(struct reply *rep, struct json_object *arr)
{
	struct json_object *j = json_object_new_object();

	if (!j || !arr || json_object_array_add(arr, j) < 0) {
		json_object_put(j);
		rep->oom = true;
		return NULL;
	}
	return j;
}

static void append_str(struct reply *rep, struct json_object *arr, const char *s)
{
	struct json_object *j = json_object_new_string(s);

	if (!j || !arr || json_object_array_add(arr, j) < 0) {
		json_object_put(j);
		rep->oom = true;
	}
}

static uint64_t ns_to_s(uint64_t ns)
{
	return ns / UINT64_C(1000000000);
}

static uint64_t age_s(uint64_t now_ns, uint64_t then_ns)
{
	return then_ns && now_ns > then_ns ? ns_to_s(now_ns - then_ns) : 0;
}

static const char *errno_name(int e)
{
	switch (e) {
	case EINVAL:
		return "EINVAL";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case EMSGSIZE:
		return "EMSGSIZE";
	case EPROTONOSUPPORT:
		return "EPROTONOSUPPORT";
	case ENOMEM:
		return "ENOMEM";
	case ENOENT:
		return "ENOENT";
	case ESRCH:
		return "ESRCH";
	case ENOSPC:
		return "ENOSPC";
	case EIO:
		return "EIO";
	}
	return "EUNKNOWN";
}

/* --- access ------------------------------------------------------------------------ */

/* Whether the primary or supplementary groups of the client of @fd (as of connect) hold @gid. */
static bool peer_in_group(int fd, gid_t primary, gid_t gid)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;
	size_t i;

	if (primary == gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || len == 0)
			return false;
		groups = malloc(len);
		if (!groups)
			return false;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
			free(groups);
			return false;
		}
	}
	for (i = 0; i < len / sizeof(*groups); i++)
		if (groups[i] == gid)
			found = true;
	if (groups != small)
		free(groups);
	return found;
}

bool admin_privileged(const char *name, int fd, const struct ucred *cred)
{
	struct group gr, *res = NULL;
	size_t size = 4096;
	bool admin = false;
	char *buf;
	int r;

	if (cred->uid == 0)
		return true;
	/* a name cut short could be another group's: longer ones match nobody */
	if (!name || !*name || strlen(name) >= sizeof(((struct viewer *)NULL)->group))
		return false;
	/* a group with many members needs room; one that does not exist makes nobody admin */
	for (;;) {
		buf = malloc(size);
		if (!buf)
			return false;
		r = getgrnam_r(name, &gr, buf, size, &res);
		if (r != ERANGE || size >= (1u << 20))
			break;
		free(buf);
		size *= 4;
	}
	if (r == 0 && res)
		admin = peer_in_group(fd, cred->gid, res->gr_gid);
	free(buf);
	return admin;
}

static void viewer_init(struct viewer *v, const struct server *server, const struct peer *peer)
{
	const char *name = server->config->admin_group;

	memset(v, 0, sizeof(*v));
	v->uid = peer->cred.uid;
	v->gid = peer->cred.gid;
	/* a name cut short could be another group's: longer ones match nobody */
	if (name && *name && strlen(name) < sizeof(v->group))
		strcpy(v->group, name);
	v->admin = admin_privileged(v->group, peer->fd, &peer->cred);
}

/* --- parsing ------------------------------------------------------------------------ */

static bool is_string(struct json_object *v)
{
	/* a string with a NUL inside is not one C can compare */
	return json_object_is_type(v, json_type_string) &&
	       strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
}

static int get_uint(struct reply *rep, const char *key, struct json_object *v, uint64_t max,
		    uint64_t *valp)
{
	if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0 ||
	    json_object_get_uint64(v) > max)
		return fail(rep, EINVAL, "member '%s' must be an integer from 0 to %" PRIu64, key,
			    max);
	*valp = json_object_get_uint64(v);
	return 0;
}

static int parse_member(struct reply *rep, struct request *req, unsigned int allowed,
			const char *key, struct json_object *v)
{
	uint64_t u;
	int r;

	if (!strcmp(key, "id") && (allowed & M_ID)) {
		req->given |= M_ID;
		return get_uint(rep, key, v, JSON_INT_MAX, &req->id);
	}
	if (!strcmp(key, "client") && (allowed & M_CLIENT)) {
		req->given |= M_CLIENT;
		return get_uint(rep, key, v, JSON_INT_MAX, &req->client);
	}
	if (!strcmp(key, "pid") && (allowed & M_PID)) {
		req->given |= M_PID;
		r = get_uint(rep, key, v, UINT32_MAX, &u);
		req->pid = (uint32_t)u;
		return r;
	}
	if (!strcmp(key, "uid") && (allowed & M_UID)) {
		req->given |= M_UID;
		r = get_uint(rep, key, v, UINT32_MAX, &u);
		req->uid = (uint32_t)u;
		return r;
	}
	if (!strcmp(key, "tag") && (allowed & M_TAG)) {
		if (!is_string(v) || json_object_get_string_len(v) >= (int)BHC_ARENA_TAG_MAX)
			return fail(rep, EINVAL,
				    "member 'tag' must be a string of at most %u bytes",
				    BHC_ARENA_TAG_MAX - 1);
		req->given |= M_TAG;
		req->tag = json_object_get_string(v);
		return 0;
	}
	if (!strcmp(key, "warm") && (allowed & M_WARM_BOOL)) {
		if (!json_object_is_type(v, json_type_boolean))
			return fail(rep, EINVAL, "member 'warm' must be true or false");
		req->warm = json_object_get_boolean(v);
		return 0;
	}
	if (!strcmp(key, "warm") && (allowed & M_WARM_ARRAY)) {
		if (!json_object_is_type(v, json_type_array))
			return fail(
				rep, EINVAL,
				"member 'warm' must be an array of {\"size\": bytes, \"count\": n}");
		req->given |= M_WARM_ARRAY;
		req->warm_targets = v;
		return 0;
	}
	if (!strcmp(key, "total") && (allowed & M_TOTAL)) {
		req->given |= M_TOTAL;
		r = get_uint(rep, key, v, JSON_INT_MAX, &req->total);
		if (r == 0 && req->total == 0)
			return fail(rep, EINVAL, "member 'total' must be at least 1 byte");
		return r;
	}
	if (!strcmp(key, "job") && (allowed & M_JOB)) {
		req->given |= M_JOB;
		return get_uint(rep, key, v, JSON_INT_MAX, &req->job);
	}
	if (!strcmp(key, "budget") && (allowed & M_BUDGET)) {
		req->given |= M_BUDGET;
		return get_uint(rep, key, v, JSON_INT_MAX, &req->budget);
	}
	return fail(rep, EINVAL, "unknown member '%s' for cmd '%s'", key, req->cmd_name);
}

/* Parse and validate @json into @req; on error the reply says why. */
static int parse_request(struct reply *rep, const char *json, size_t len, struct request *req,
			 struct json_object **objp)
{
	struct json_tokener *tok;
	struct json_object *obj, *v;
	unsigned int allowed = 0;
	size_t i, end;
	int r;

	memset(req, 0, sizeof(*req));
	*objp = NULL;
	if (len > BHC_ARENA_MSG_MAX)
		return fail(rep, EMSGSIZE, "request longer than %u bytes", BHC_ARENA_MSG_MAX);
	tok = json_tokener_new();
	if (!tok)
		return fail(rep, ENOMEM, "out of memory");
	obj = json_tokener_parse_ex(tok, json, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		r = fail(rep, EINVAL, "request is not valid JSON: %s",
			 json_tokener_get_error(tok) == json_tokener_continue ?
				 "unexpected end" :
				 json_tokener_error_desc(json_tokener_get_error(tok)));
		json_tokener_free(tok);
		return r;
	}
	json_tokener_free(tok);
	for (i = end; i < len; i++) {
		if (!strchr(" \t\r\n", json[i])) {
			json_object_put(obj);
			return fail(rep, EINVAL, "request is not one JSON object (trailing data)");
		}
	}
	*objp = obj;
	if (!json_object_is_type(obj, json_type_object))
		return fail(rep, EINVAL, "request must be a JSON object");
	if (json_object_object_get_ex(obj, "schema", &v) &&
	    (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != ADMIN_SCHEMA))
		return fail(rep, EPROTONOSUPPORT, "this daemon speaks admin schema %d only",
			    ADMIN_SCHEMA);
	if (!json_object_object_get_ex(obj, "cmd", &v) || !is_string(v))
		return fail(rep, EINVAL, "request needs a string member 'cmd'");
	req->cmd_name = json_object_get_string(v);
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		if (!strcmp(commands[i].name, req->cmd_name)) {
			req->cmd = commands[i].cmd;
			req->change = commands[i].change;
			allowed = commands[i].members;
			break;
		}
	}
	if (i == ARRAY_SIZE(commands))
		return fail(
			rep, EINVAL,
			"unknown cmd '%.64s' (status, clients, regions, snapshot, pool-set, reload, "
			"jobs, job-register, job-attach, job-end)",
			req->cmd_name);
	json_object_object_foreach(obj, key, val)
	{
		if (!strcmp(key, "cmd") || !strcmp(key, "schema"))
			continue;
		r = parse_member(rep, req, allowed, key, val);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- usage of leased regions ------------------------------------------------------------- */

/* What a region's row says about its live usage. */
struct usage {
	const char *header; /* "ok", "clamped" or "unreadable" */
	uint64_t used, high_water, allocs, resets;
	bool kept; /* the process keeps it for reuse; else in use */
	uint64_t kept_ns, reuses;
};

static void read_usage(const struct region *region, struct usage *u)
{
	struct region_usage ru;

	memset(u, 0, sizeof(*u));
	if (region_read_usage(region, &ru) < 0) {
		u->header = "unreadable";
		return;
	}
	u->header = ru.clamped ? "clamped" : "ok";
	u->used = ru.used;
	/* the client updates its mark at resets and scope exits: now counts too */
	u->high_water = ru.high_water > ru.used ? ru.high_water : ru.used;
	u->allocs = ru.n_allocs;
	u->resets = ru.n_resets;
	u->kept = ru.kept;
	u->kept_ns = ru.kept_ns;
	u->reuses = ru.n_reuses;
	if (u->allocs > JSON_INT_MAX || u->resets > JSON_INT_MAX || u->reuses > JSON_INT_MAX) {
		u->header = "clamped";
		u->allocs = u->allocs > JSON_INT_MAX ? JSON_INT_MAX : u->allocs;
		u->resets = u->resets > JSON_INT_MAX ? JSON_INT_MAX : u->resets;
		u->reuses = u->reuses > JSON_INT_MAX ? JSON_INT_MAX : u->reuses;
	}
}

/* --- selection ------------------------------------------------------------------------ */

/* Whether @peer is a client the viewer may see and the filters select. */
static bool client_selected(const struct peer *peer, const struct viewer *v,
			    const struct request *req)
{
	if (peer->admin || !peer->said_hello)
		return false;
	if (!v->admin && peer->cred.uid != v->uid)
		return false;
	if ((req->given & M_CLIENT) && peer->id != req->client)
		return false;
	if (req->cmd == CMD_CLIENTS && (req->given & M_ID) && peer->id != req->id)
		return false;
	if ((req->given & M_PID) && (uint32_t)peer->cred.pid != req->pid)
		return false;
	if ((req->given & M_UID) && peer->cred.uid != req->uid)
		return false;
	if ((req->given & M_TAG) && strcmp(peer->tag, req->tag))
		return false;
	if ((req->given & M_JOB) && (!peer->job || peer->job->id != req->job))
		return false;
	return true;
}

static uint64_t region_capacity(const struct region *region)
{
	return region->size > BHC_ARENA_REGION_HEADER_SIZE ?
		       region->size - BHC_ARENA_REGION_HEADER_SIZE :
		       0;
}

/* /proc/PID/comm of @pid into @buf, or NULL. */
static const char *read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* --- status ------------------------------------------------------------------------------ */

/* Regions, bytes and usage of one (backing, page size). */
struct backing_sum {
	uint32_t backing, page_shift;
	uint64_t leased_regions, leased_bytes, used, high_water;
	uint64_t kept_regions, kept_bytes; /* of the leased ones */
	uint64_t warm_regions, warm_bytes;
};

#define BACKINGS_MAX 8

static struct backing_sum *backing_slot(struct backing_sum *b, size_t *n, uint32_t backing,
					uint32_t page_shift)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (b[i].backing == backing && b[i].page_shift == page_shift)
			return &b[i];
	if (*n == BACKINGS_MAX)
		return NULL;
	memset(&b[*n], 0, sizeof(b[*n]));
	b[*n].backing = backing;
	b[*n].page_shift = page_shift;
	return &b[(*n)++];
}

static void add_backings(struct reply *rep, struct server *server)
{
	struct backing_sum sums[BACKINGS_MAX];
	struct json_object *arr, *o, *l, *w, *k, *p;
	uint64_t kept = 0, leased = 0;
	struct list_head *pos;
	size_t i, n = 0;

	list_for_each(pos, &server->pool.regions) {
		struct region *region = list_entry(pos, struct region, pool_link);
		struct backing_sum *s;
		struct usage u;

		if (region->state != REGION_LEASED && region->state != REGION_WARM)
			continue;
		s = backing_slot(sums, &n, region->backing, region->page_shift);
		if (!s)
			continue;
		if (region->state == REGION_WARM) {
			s->warm_regions++;
			s->warm_bytes += region->size;
			continue;
		}
		read_usage(region, &u);
		s->leased_regions++;
		s->leased_bytes += region->size;
		s->used += u.used;
		s->high_water += u.high_water;
		leased += region->size;
		if (u.kept) {
			s->kept_regions++;
			s->kept_bytes += region->size;
			kept += region->size;
		}
	}
	/* the pool's split of leased bytes, from the headers just read */
	if (json_object_object_get_ex(rep->root, "pool", &p)) {
		put_u64(rep, p, "kept", kept);
		put_u64(rep, p, "in_use", leased - kept);
	}
	arr = put_new(rep, rep->root, "backings", true);
	for (i = 0; i < n && arr; i++) {
		o = append_new(rep, arr);
		put_str(rep, o, "backing", backing_family(sums[i].backing));
		put_u64(rep, o, "page_size", UINT64_C(1) << sums[i].page_shift);
		l = put_new(rep, o, "leased", false);
		put_u64(rep, l, "regions", sums[i].leased_regions);
		put_u64(rep, l, "bytes", sums[i].leased_bytes);
		put_u64(rep, l, "used", sums[i].used);
		put_u64(rep, l, "high_water", sums[i].high_water);
		w = put_new(rep, o, "warm", false);
		put_u64(rep, w, "regions", sums[i].warm_regions);
		put_u64(rep, w, "bytes", sums[i].warm_bytes);
		k = put_new(rep, o, "kept", false);
		put_u64(rep, k, "regions", sums[i].kept_regions);
		put_u64(rep, k, "bytes", sums[i].kept_bytes);
	}
}

static void add_pool(struct reply *rep, struct json_object *root, struct server *server)
{
	struct pool *pool = &server->pool;
	struct pool_count leased = pool_state_total(pool, REGION_LEASED);
	struct pool_count warm = pool_state_total(pool, REGION_WARM);
	struct pool_count creating = pool_state_total(pool, REGION_CREATING);
	struct pool_count dropping = pool_state_total(pool, REGION_DROPPING);
	struct json_object *o, *arr, *t;
	struct list_head *pos;

	o = put_new(rep, root, "pool", false);
	put_u64(rep, o, "page_size", UINT64_C(1) << pool->page_shift);
	put_str(rep, o, "policy", config_policy_name(pool->policy));
	put_u64(rep, o, "total", pool->total_limit);
	put_u64(rep, o, "reserved", pool->total_bytes);
	put_u64(rep, o, "leased", leased.bytes);
	put_u64(rep, o, "warm", warm.bytes);
	put_u64(rep, o, "pending", creating.bytes + dropping.bytes);
	put_u64(rep, o, "free",
		pool->total_limit > pool->total_bytes ? pool->total_limit - pool->total_bytes : 0);
	put_u64(rep, o, "max_region_size", pool->max_region_size);
	put_u64(rep, o, "warm_max", pool->warm_max);
	arr = put_new(rep, o, "warm_targets", true);
	list_for_each(pos, &pool->classes) {
		struct pool_class *class = list_entry(pos, struct pool_class, link);

		/* a class retired by a reload lingers until its waiters are served */
		if (!class->target)
			continue;
		t = append_new(rep, arr);
		put_u64(rep, t, "size", class->size);
		put_u64(rep, t, "count", class->target);
		put_u64(rep, t, "ready", class->n_warm);
		put_u64(rep, t, "target", class->goal);
		put_u64(rep, t, "max",
			pool->warm_max > class->target ? pool->warm_max : class->target);
	}
}

static int cmp_uid(const void *a, const void *b)
{
	uid_t ua = *(const uid_t *)a, ub = *(const uid_t *)b;

	return (ua > ub) - (ua < ub);
}

static void add_sessions(struct reply *rep, struct server *server)
{
	struct json_object *o = put_new(rep, rep->root, "sessions", false);
	uint64_t n_clients = 0, n_admin = 0, n_users = 0;
	struct list_head *pos;
	uid_t *uids;
	size_t i, n = 0;

	uids = calloc(server->n_peers + 1, sizeof(*uids));
	if (!uids) {
		rep->oom = true;
		return;
	}
	list_for_each(pos, &server->peers) {
		struct peer *peer = list_entry(pos, struct peer, link);

		if (!peer->said_hello)
			continue;
		if (peer->admin) {
			n_admin++;
			continue;
		}
		n_clients++;
		if (n <= server->n_peers)
			uids[n++] = peer->cred.uid;
	}
	qsort(uids, n, sizeof(*uids), cmp_uid);
	for (i = 0; i < n; i++)
		if (i == 0 || uids[i] != uids[i - 1])
			n_users++;
	free(uids);
	put_u64(rep, o, "clients", n_clients);
	put_u64(rep, o, "admin", n_admin);
	put_u64(rep, o, "users", n_users);
}

/* What the daemon knows of the instance before it and what it took back (restore.c). */
static void add_restart(struct reply *rep, struct json_object *d, struct server *server)
{
	const struct restore *rs = &server->restore;
	struct json_object *r;
	uint64_t n_orphans = 0;
	struct list_head *pos;

	list_for_each(pos, &rs->orphans)
		n_orphans++;
	put_u64(rep, d, "instance", rs->instance);
	r = put_new(rep, d, "restart", false);
	if (rs->previous_instance)
		put_u64(rep, r, "previous_instance", rs->previous_instance);
	else
		put_null(rep, r, "previous_instance");
	put_bool(rep, r, "tokens_persistent", rs->key_persistent);
	put_bool(rep, r, "fd_store", rs->fdstore);
	put_u64(rep, r, "restored_regions", rs->n_restored_leased + rs->n_restored_warm);
	put_u64(rep, r, "restored_leased", rs->n_restored_leased);
	put_u64(rep, r, "restored_warm", rs->n_restored_warm);
	put_u64(rep, r, "restored_dropped", rs->n_restored_dropped);
	put_u64(rep, r, "restored_waiting", n_orphans);
	put_u64(rep, r, "restored_expired", rs->n_orphans_expired);
	put_u64(rep, r, "reregistered_regions", rs->n_reregistered);
	put_u64(rep, r, "reregistered_bytes", rs->reregistered_bytes);
	put_u64(rep, r, "reregister_refused", rs->n_reregister_refused);
}

static void add_status(struct reply *rep, struct server *server, uint64_t now_ns)
{
	struct config *cfg = server->config;
	struct json_object *d, *l, *c;

	d = put_new(rep, rep->root, "daemon", false);
	put_str(rep, d, "version", PACKAGE_VERSION);
	put_u64(rep, d, "pid", (uint64_t)getpid());
	put_u64(rep, d, "start_time", ns_to_s(server->start_ns));
	put_u64(rep, d, "uptime", age_s(now_ns, server->start_ns));
	put_str(rep, d, "config_file",
		server->source.path && access(server->source.path, F_OK) == 0 ?
			server->source.path :
			NULL);
	put_str(rep, d, "socket", server->socket_path);
	add_restart(rep, d, server);
	put_str(rep, d, "admin_group",
		cfg->admin_group && *cfg->admin_group ? cfg->admin_group : NULL);
	add_pool(rep, rep->root, server);
	add_backings(rep, server);
	add_sessions(rep, server);
	l = put_new(rep, rep->root, "limits", false);
	put_u64(rep, l, "max_clients", cfg->max_connections);
	put_u64(rep, l, "client_bytes", cfg->per_connection_bytes);
	put_u64(rep, l, "client_regions", cfg->per_connection_regions);
	put_u64(rep, l, "uid_bytes", cfg->per_uid_bytes);
	put_u64(rep, l, "uid_regions", cfg->per_uid_regions);
	c = put_new(rep, rep->root, "counters", false);
	put_u64(rep, c, "connections", server->n_accepted);
	put_u64(rep, c, "connections_refused", server->n_refused);
	put_u64(rep, c, "grants", server->pool.n_leased);
	put_u64(rep, c, "regions_created", server->pool.n_created);
	put_u64(rep, c, "region_create_failures", server->pool.n_create_failed);
	put_u64(rep, c, "regions_dropped", server->pool.n_dropped);
	put_u64(rep, c, "fallbacks", server->pool.n_fallbacks);
	put_u64(rep, c, "acquires_cancelled", server->pool.n_cancelled);
	put_u64(rep, c, "reloads", server->n_reloads);
	put_u64(rep, c, "reclaims", server->n_reclaims);
	put_u64(rep, c, "pool_short", server->n_reclaim_short);
	put_u64(rep, c, "demand_shed", server->pool.n_demand_shed);
}

/* --- clients and regions ------------------------------------------------------------------ */

static void add_clients(struct reply *rep, struct server *server, const struct viewer *v,
			const struct request *req, uint64_t now_ns)
{
	struct json_object *arr = put_new(rep, rep->root, "clients", true);
	struct list_head *pos, *rpos;
	char comm[64];

	list_for_each(pos, &server->peers) {
		struct peer *peer = list_entry(pos, struct peer, link);
		uint64_t n = 0, bytes = 0, used = 0, hw = 0, allocs = 0, resets = 0, bad = 0;
		uint64_t n_kept = 0, kept = 0;
		struct json_object *o;

		if (!client_selected(peer, v, req))
			continue;
		list_for_each(rpos, &peer->leases) {
			struct region *region = list_entry(rpos, struct region, link);
			struct usage u;

			read_usage(region, &u);
			n++;
			bytes += region->size;
			used += u.used;
			hw += u.high_water;
			allocs += u.allocs;
			resets += u.resets;
			bad += strcmp(u.header, "ok") != 0;
			if (u.kept) {
				n_kept++;
				kept += region->size;
			}
		}
		o = append_new(rep, arr);
		put_u64(rep, o, "id", peer->id);
		put_u64(rep, o, "pid", (uint64_t)peer->cred.pid);
		put_u64(rep, o, "uid", peer->cred.uid);
		put_u64(rep, o, "gid", peer->cred.gid);
		put_str(rep, o, "comm", read_comm(peer->cred.pid, comm, sizeof(comm)));
		put_str(rep, o, "tag", peer->tag);
		put_job(rep, o, peer->job);
		put_u64(rep, o, "connected", ns_to_s(peer->connected_ns));
		put_u64(rep, o, "age", age_s(now_ns, peer->connected_ns));
		put_u64(rep, o, "regions", n);
		put_u64(rep, o, "leased", bytes);
		put_u64(rep, o, "used", used);
		put_u64(rep, o, "high_water", hw);
		put_u64(rep, o, "allocs", allocs);
		put_u64(rep, o, "resets", resets);
		put_u64(rep, o, "header_invalid", bad);
		put_u64(rep, o, "kept_regions", n_kept);
		put_u64(rep, o, "kept", kept);
		put_u64(rep, o, "in_use", bytes - kept);
		put_u64(rep, o, "reclaims", peer->n_reclaims);
	}
}

static void region_row(struct reply *rep, struct json_object *arr, struct region *region,
		       const struct peer *owner, uint64_t now_ns)
{
	struct json_object *o = append_new(rep, arr);
	struct usage u = { .header = "ok" };

	if (owner)
		read_usage(region, &u);
	put_u64(rep, o, "id", region->id);
	/* a lease of an earlier instance kept by the fd store, its client not back yet: restored */
	put_str(rep, o, "state",
		owner			       ? "leased" :
		region->state == REGION_LEASED ? "restored" :
						 "warm");
	put_str(rep, o, "origin",
		region->origin == REGION_REGISTERED ? "registered" :
		region->origin == REGION_RESTORED   ? "restored" :
						      "granted");
	if (owner) {
		put_u64(rep, o, "client", owner->id);
		put_u64(rep, o, "pid", (uint64_t)owner->cred.pid);
		put_u64(rep, o, "uid", owner->cred.uid);
		put_str(rep, o, "tag", owner->tag);
		put_job(rep, o, owner->job);
	} else {
		put_null(rep, o, "client");
		put_null(rep, o, "pid");
		if (region->state == REGION_LEASED)
			put_u64(rep, o, "uid", region->restored_uid);
		else
			put_null(rep, o, "uid");
		put_null(rep, o, "tag");
		put_null(rep, o, "job");
	}
	put_u64(rep, o, "size", region->size);
	put_u64(rep, o, "capacity", region_capacity(region));
	put_str(rep, o, "backing", backing_family(region->backing));
	put_u64(rep, o, "page_size", UINT64_C(1) << region->page_shift);
	put_u64(rep, o, "used", u.used);
	put_u64(rep, o, "high_water", u.high_water);
	put_u64(rep, o, "allocs", u.allocs);
	put_u64(rep, o, "resets", u.resets);
	put_str(rep, o, "header", u.header);
	if (owner) {
		put_str(rep, o, "use", u.kept ? "kept" : "in_use");
		if (u.kept && u.kept_ns)
			put_u64(rep, o, "kept_since", ns_to_s(u.kept_ns));
		else
			put_null(rep, o, "kept_since");
		put_u64(rep, o, "reuses", u.reuses);
	} else {
		put_null(rep, o, "use");
		put_null(rep, o, "kept_since");
		put_u64(rep, o, "reuses", 0);
	}
	put_u64(rep, o, "created", ns_to_s(region->created_ns));
	if (owner)
		put_u64(rep, o, "granted", ns_to_s(region->leased_ns));
	else
		put_null(rep, o, "granted");
	put_u64(rep, o, "age", age_s(now_ns, owner ? region->leased_ns : region->created_ns));
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t ia = json_object_get_uint64(
		json_object_object_get(*(struct json_object *const *)a, "id"));
	uint64_t ib = json_object_get_uint64(
		json_object_object_get(*(struct json_object *const *)b, "id"));

	return (ia > ib) - (ia < ib);
}

static void add_regions(struct reply *rep, struct server *server, const struct viewer *v,
			const struct request *req, uint64_t now_ns)
{
	struct json_object *arr = put_new(rep, rep->root, "regions", true);
	bool by_owner = req->given & (M_CLIENT | M_PID | M_UID | M_TAG);
	struct list_head *pos, *rpos;

	if (!arr)
		return;
	list_for_each(pos, &server->peers) {
		struct peer *peer = list_entry(pos, struct peer, link);

		if (!client_selected(peer, v, req))
			continue;
		list_for_each(rpos, &peer->leases) {
			struct region *region = list_entry(rpos, struct region, link);

			if (req->cmd == CMD_REGIONS && (req->given & M_ID) && region->id != req->id)
				continue;
			region_row(rep, arr, region, peer, now_ns);
		}
	}
	/* warm regions belong to nobody: for admins, and only when no owner is asked for */
	if (req->warm && v->admin && !by_owner) {
		list_for_each(pos, &server->pool.regions) {
			struct region *region = list_entry(pos, struct region, pool_link);

			if (region->state != REGION_WARM)
				continue;
			if (req->cmd == CMD_REGIONS && (req->given & M_ID) && region->id != req->id)
				continue;
			region_row(rep, arr, region, NULL, now_ns);
		}
	}
	/* leases the fd store kept whose clients have not registered them yet: for admins */
	if (v->admin && !by_owner) {
		list_for_each(pos, &server->restore.orphans) {
			struct region *region = list_entry(pos, struct region, link);

			if (req->cmd == CMD_REGIONS && (req->given & M_ID) && region->id != req->id)
				continue;
			region_row(rep, arr, region, NULL, now_ns);
		}
	}
	json_object_array_sort(arr, cmp_id);
}

/* --- changes -------------------------------------------------------------------------------- */

static int cmp_warm(const void *a, const void *b)
{
	const struct config_warm *wa = a, *wb = b;

	return (wa->size > wb->size) - (wa->size < wb->size);
}

/* The warm targets of a pool-set into a new array; the reply says what is wrong. */
static int parse_warm(struct reply *rep, struct json_object *arr, uint64_t page,
		      struct config_warm **warmp, size_t *np)
{
	size_t i, j, n = json_object_array_length(arr);
	struct config_warm *warm;

	*warmp = NULL;
	*np = 0;
	if (n == 0)
		return 0;
	if (n > 64)
		return fail(rep, EINVAL, "at most 64 warm targets");
	warm = calloc(n, sizeof(*warm));
	if (!warm)
		return fail(rep, ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(arr, i), *size, *count;
		uint64_t s, c;

		if (!json_object_is_type(t, json_type_object) ||
		    json_object_object_length(t) != 2 ||
		    !json_object_object_get_ex(t, "size", &size) ||
		    !json_object_object_get_ex(t, "count", &count) ||
		    get_uint(rep, "warm[].size", size, JSON_INT_MAX, &s) < 0 ||
		    get_uint(rep, "warm[].count", count, WARM_COUNT_MAX, &c) < 0 || s == 0 ||
		    c == 0) {
			free(warm);
			return fail(rep, EINVAL,
				    "warm[%zu] must be {\"size\": bytes > 0, \"count\": 1 to %u}",
				    i, WARM_COUNT_MAX);
		}
		/* whole pages, as the config would have them */
		if (s > UINT64_MAX - page) {
			free(warm);
			return fail(rep, EINVAL, "warm[%zu].size is too large", i);
		}
		warm[i].size = (s + page - 1) / page * page;
		warm[i].target = (unsigned int)c;
		for (j = 0; j < i; j++) {
			if (warm[j].size == warm[i].size) {
				uint64_t twice = warm[i].size;

				free(warm);
				return fail(rep, EINVAL, "warm size %" PRIu64 " is listed twice",
					    twice);
			}
		}
	}
	qsort(warm, n, sizeof(*warm), cmp_warm);
	*warmp = warm;
	*np = n;
	return 0;
}

/* The reloadable numeric settings, to tell what a change changed. */
enum {
	S_TOTAL,
	S_MAX_REGION_SIZE,
	S_WARM_MAX,
	S_WARM_WINDOW,
	S_CONNECTION_BYTES,
	S_CONNECTION_REGIONS,
	S_UID_BYTES,
	S_UID_REGIONS,
	S_MAX_CONNECTIONS,
	S_HANDSHAKE_TIMEOUT,
	S_STALL_TIMEOUT,
	S_N,
};

static const struct {
	const char *name;
	bool size; /* shown as a size, else as a number */
} setting_names[S_N] = {
	[S_TOTAL] = { "total", true },
	[S_MAX_REGION_SIZE] = { "max_region_size", true },
	[S_WARM_MAX] = { "warm_max", false },
	[S_WARM_WINDOW] = { "warm_window_ms", false },
	[S_CONNECTION_BYTES] = { "per_connection_bytes", true },
	[S_CONNECTION_REGIONS] = { "per_connection_regions", false },
	[S_UID_BYTES] = { "per_uid_bytes", true },
	[S_UID_REGIONS] = { "per_uid_regions", false },
	[S_MAX_CONNECTIONS] = { "max_connections", false },
	[S_HANDSHAKE_TIMEOUT] = { "handshake_timeout_ms", false },
	[S_STALL_TIMEOUT] = { "stall_timeout_ms", false },
};

struct settings {
	uint64_t num[S_N];
	int log_level;
	char admin_group[64];
	char warm[512];
};

static void format_warm(const struct config *cfg, char *buf, size_t len)
{
	size_t i, o = 0;
	char s[32];

	buf[0] = '\0';
	if (!cfg->n_warm)
		snprintf(buf, len, "none");
	for (i = 0; i < cfg->n_warm && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s:%u", i ? "," : "",
				      size_format_exact(cfg->warm[i].size, s, sizeof(s)),
				      cfg->warm[i].target);
}

static void settings_of(const struct config *cfg, struct settings *s)
{
	memset(s, 0, sizeof(*s));
	s->num[S_TOTAL] = cfg->total;
	s->num[S_MAX_REGION_SIZE] = cfg->max_region_size;
	s->num[S_WARM_MAX] = cfg->warm_max;
	s->num[S_WARM_WINDOW] = cfg->warm_window_ms;
	s->num[S_CONNECTION_BYTES] = cfg->per_connection_bytes;
	s->num[S_CONNECTION_REGIONS] = cfg->per_connection_regions;
	s->num[S_UID_BYTES] = cfg->per_uid_bytes;
	s->num[S_UID_REGIONS] = cfg->per_uid_regions;
	s->num[S_MAX_CONNECTIONS] = cfg->max_connections;
	s->num[S_HANDSHAKE_TIMEOUT] = cfg->handshake_timeout_ms;
	s->num[S_STALL_TIMEOUT] = cfg->stall_timeout_ms;
	s->log_level = cfg->log_level;
	snprintf(s->admin_group, sizeof(s->admin_group), "%s",
		 cfg->admin_group ? cfg->admin_group : "");
	format_warm(cfg, s->warm, sizeof(s->warm));
}

/* "key: old -> new" for every setting that differs, into @arr and the log. */
static void add_changes(struct reply *rep, struct json_object *arr, const struct settings *a,
			const struct settings *b, const char *who)
{
	char line[1200], x[32], y[32];
	size_t i;

	for (i = 0; i < S_N; i++) {
		uint64_t va = a->num[i], vb = b->num[i];

		if (va == vb)
			continue;
		if (setting_names[i].size)
			snprintf(line, sizeof(line), "%s: %s -> %s", setting_names[i].name,
				 size_format_exact(va, x, sizeof(x)),
				 size_format_exact(vb, y, sizeof(y)));
		else
			snprintf(line, sizeof(line), "%s: %" PRIu64 " -> %" PRIu64,
				 setting_names[i].name, va, vb);
		append_str(rep, arr, line);
		log_notice("%s: %s", who, line);
	}
	if (strcmp(a->warm, b->warm)) {
		snprintf(line, sizeof(line), "warm: %s -> %s", a->warm, b->warm);
		append_str(rep, arr, line);
		log_notice("%s: %s", who, line);
	}
	if (strcmp(a->admin_group, b->admin_group)) {
		snprintf(line, sizeof(line), "admin_group: %s -> %s", a->admin_group,
			 b->admin_group);
		append_str(rep, arr, line);
		log_notice("%s: %s", who, line);
	}
	if (a->log_level != b->log_level) {
		snprintf(line, sizeof(line), "log_level: %s -> %s", log_level_name(a->log_level),
			 log_level_name(b->log_level));
		append_str(rep, arr, line);
		log_notice("%s: %s", who, line);
	}
}

static int pool_set(struct reply *rep, struct server *server, const struct request *req,
		    const char *who)
{
	struct config *cfg = server->config;
	struct config_warm *warm = NULL, *old_warm = cfg->warm;
	size_t n_warm = 0, old_n_warm = cfg->n_warm;
	uint64_t old_total = cfg->total;
	struct settings before, after;
	char err[CONFIG_ERROR_MAX];
	bool configured = false;
	int r;

	if (!(req->given & (M_WARM_ARRAY | M_TOTAL)))
		return fail(rep, EINVAL, "pool-set: nothing to set: give 'warm' and/or 'total'");
	if (req->given & M_WARM_ARRAY) {
		r = parse_warm(rep, req->warm_targets, UINT64_C(1) << cfg->page_shift, &warm,
			       &n_warm);
		if (r < 0)
			return r;
	}
	settings_of(cfg, &before);
	if (req->given & M_WARM_ARRAY) {
		cfg->warm = warm;
		cfg->n_warm = n_warm;
	}
	if (req->given & M_TOTAL)
		cfg->total = req->total;
	r = config_validate(cfg, err, sizeof(err));
	if (r < 0)
		goto out_restore;
	r = pool_configure(&server->pool, cfg);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot apply the warm targets: %s", strerror(-r));
		configured = true;
		goto out_restore;
	}
	if (req->given & M_WARM_ARRAY)
		free(old_warm);
	settings_of(cfg, &after);
	add_changes(rep, put_new(rep, rep->root, "changes", true), &before, &after, who);
	add_pool(rep, rep->root, server);
	server_changed(server);
	return 0;

out_restore:
	/* everything as it was */
	cfg->warm = old_warm;
	cfg->n_warm = old_n_warm;
	cfg->total = old_total;
	if (configured)
		pool_configure(&server->pool, cfg);
	free(warm);
	return fail(rep, r == -ENOMEM ? ENOMEM : EINVAL, "pool-set refused: %s", err);
}

static int reload(struct reply *rep, struct server *server, const char *who)
{
	struct settings before, after;
	char err[CONFIG_ERROR_MAX];
	int r;

	settings_of(server->config, &before);
	log_notice("%s asks for a reload", who);
	r = server_reload(server, err, sizeof(err));
	if (r < 0)
		return fail(rep, r == -ENOMEM ? ENOMEM : EINVAL, "reload failed: %s", err);
	settings_of(server->config, &after);
	put_str(rep, rep->root, "config_file",
		access(server->source.path, F_OK) == 0 ? server->source.path : NULL);
	add_changes(rep, put_new(rep, rep->root, "changes", true), &before, &after, who);
	return 0;
}

/* --- jobs ------------------------------------------------------------------------------------ */

static void job_row(struct reply *rep, struct json_object *o, const struct job *job,
		    uint64_t now_ns)
{
	put_u64(rep, o, "id", job->id);
	put_u64(rep, o, "uid", job->uid);
	if (job->budget)
		put_u64(rep, o, "budget", job->budget);
	else
		put_null(rep, o, "budget");
	put_u64(rep, o, "tasks", job->n_tasks);
	put_u64(rep, o, "clients", job->n_peers);
	put_u64(rep, o, "regions", job->n_regions);
	put_u64(rep, o, "leased", job->bytes);
	put_u64(rep, o, "peak", job->peak);
	put_u64(rep, o, "grants", job->n_acquired);
	put_u64(rep, o, "refused", job->n_refused);
	put_u64(rep, o, "registered", ns_to_s(job->registered_ns));
	put_u64(rep, o, "age", age_s(now_ns, job->registered_ns));
}

/* "jobs": every job the viewer may see (its own uid's, or all for admins). */
static void add_jobs(struct reply *rep, struct server *server, const struct viewer *v,
		     const struct request *req, uint64_t now_ns)
{
	struct json_object *arr = put_new(rep, rep->root, "jobs", true);
	struct list_head *pos;

	if (!arr)
		return;
	list_for_each(pos, &server->jobs) {
		struct job *job = list_entry(pos, struct job, link);

		if (!v->admin && job->uid != v->uid)
			continue;
		if ((req->given & M_JOB) && job->id != req->job)
			continue;
		job_row(rep, append_new(rep, arr), job, now_ns);
	}
	json_object_array_sort(arr, cmp_id);
}

/* job-end: close the job's clients (which ends their leases), report and forget the job. */
static void end_job(struct reply *rep, struct server *server, struct job *job, const char *who,
		    uint64_t now_ns)
{
	uint64_t n_clients = 0, n_regions = 0, bytes = 0;
	struct list_head *pos, *n, *rpos;
	struct json_object *o;
	char why[64], size[32], peak[32];

	snprintf(why, sizeof(why), "job %" PRIu64 " ended", job->id);
	list_for_each_safe(pos, n, &server->peers) {
		struct peer *peer = list_entry(pos, struct peer, link);

		if (peer->job != job)
			continue;
		n_clients++;
		list_for_each(rpos, &peer->leases) {
			n_regions++;
			bytes += list_entry(rpos, struct region, link)->size;
		}
		peer_close(peer, why, false);
	}
	job_row(rep, put_new(rep, rep->root, "job", false), job, now_ns);
	o = put_new(rep, rep->root, "ended", false);
	put_u64(rep, o, "clients", n_clients);
	put_u64(rep, o, "regions", n_regions);
	put_u64(rep, o, "bytes", bytes);
	log_notice("%s: job %" PRIu64 " ended: peak %s; closed %" PRIu64
		   " clients still holding %" PRIu64 " regions (%s)",
		   who, job->id, size_format_iec(job->peak, peak, sizeof(peak)), n_clients,
		   n_regions, size_format_iec(bytes, size, sizeof(size)));
	job_free(job);
}

static int job_command(struct reply *rep, struct server *server, const struct request *req,
		       const char *who, uint64_t now_ns)
{
	struct job *job;
	char budget[32];
	int r;

	if (!(req->given & M_JOB))
		return fail(rep, EINVAL, "%s needs member 'job'", req->cmd_name);
	job = job_find(&server->jobs, req->job);
	switch (req->cmd) {
	case CMD_JOB_REGISTER:
		if (!(req->given & M_UID))
			return fail(rep, EINVAL, "job-register needs member 'uid'");
		r = job_register(&server->jobs, req->job, req->uid, req->budget, &job);
		if (r < 0)
			return fail(rep, ENOMEM, "out of memory");
		log_info("%s: job %" PRIu64 " registered (uid %u, budget %s)", who, req->job,
			 (unsigned int)req->uid,
			 req->budget ? size_format_iec(req->budget, budget, sizeof(budget)) :
				       "none");
		break;
	case CMD_JOB_ATTACH:
		if (!(req->given & M_PID))
			return fail(rep, EINVAL, "job-attach needs member 'pid'");
		if (!job)
			return fail(rep, ENOENT, "job %" PRIu64 " is not registered", req->job);
		r = job_attach(job, (pid_t)req->pid);
		if (r == -ESRCH)
			return fail(rep, ESRCH, "no process %u", (unsigned int)req->pid);
		if (r == -ENOSPC)
			return fail(rep, ENOSPC, "job %" PRIu64 " has %u tasks registered already",
				    job->id, JOB_TASKS_MAX);
		if (r < 0)
			return fail(rep, ENOMEM, "out of memory");
		log_debug("%s: pid %u is a task of job %" PRIu64, who, (unsigned int)req->pid,
			  job->id);
		break;
	default: /* CMD_JOB_END */
		if (!job)
			return fail(rep, ENOENT, "job %" PRIu64 " is not registered", req->job);
		end_job(rep, server, job, who, now_ns);
		server_changed(server);
		return 0;
	}
	job_row(rep, put_new(rep, rep->root, "job", false), job, now_ns);
	return 0;
}

/* --- the request ---------------------------------------------------------------------------- */

static void envelope(struct reply *rep, const struct request *req, const struct viewer *v,
		     uint64_t now_ns, bool ok)
{
	struct json_object *o;

	put_u64(rep, rep->root, "schema", ADMIN_SCHEMA);
	put_bool(rep, rep->root, "ok", ok);
	put_str(rep, rep->root, "cmd", req->cmd_name);
	put_u64(rep, rep->root, "time", ns_to_s(now_ns));
	put_str(rep, rep->root, "scope", v->admin ? "all" : "own");
	o = put_new(rep, rep->root, "viewer", false);
	put_u64(rep, o, "uid", v->uid);
	put_u64(rep, o, "gid", v->gid);
	put_bool(rep, o, "admin", v->admin);
}

/* Answer: the built reply, or an error reply holding just the envelope and "error". */
static int answer(struct peer *peer, struct reply *rep, const struct request *req,
		  const struct viewer *v, uint64_t now_ns)
{
	struct json_object *e;
	const char *text;
	size_t len;

	if (rep->oom && !rep->status)
		fail(rep, ENOMEM, "out of memory building the reply");
	if (rep->status) {
		json_object_put(rep->root);
		rep->root = json_object_new_object();
		if (!rep->root)
			return -ENOMEM;
		rep->oom = false;
		envelope(rep, req, v, now_ns, false);
		e = put_new(rep, rep->root, "error", false);
		put_u64(rep, e, "errno", (uint64_t)rep->status);
		put_str(rep, e, "name", errno_name(rep->status));
		put_str(rep, e, "message", rep->message);
		if (rep->oom)
			return -ENOMEM;
	}
	text = json_object_to_json_string_length(
		rep->root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!text)
		return -ENOMEM;
	return admin_send_reply(peer, rep->status, text, len);
}

int admin_handle(struct server *server, struct peer *peer, const char *json, size_t len)
{
	struct reply rep = { 0 };
	struct json_object *obj = NULL;
	struct request req;
	struct viewer v;
	uint64_t now_ns = clock_realtime_ns();
	char who[160], desc[128];
	int r;

	viewer_init(&v, server, peer);
	rep.root = json_object_new_object();
	if (!rep.root)
		return -ENOMEM;
	r = parse_request(&rep, json, len, &req, &obj);
	/* jobs are the business of the workload manager, which runs as root */
	if (r == 0 && !rep.status && req.change && req.cmd >= CMD_JOB_REGISTER && v.uid != 0) {
		fail(&rep, EACCES, "permission denied: %s needs root", req.cmd_name);
		log_notice("admin: refused %s to %s", req.cmd_name,
			   peer_describe(peer, desc, sizeof(desc)));
	}
	if (r == 0 && req.change && !v.admin) {
		if (v.group[0])
			fail(&rep, EACCES,
			     "permission denied: %s needs root or membership in group %s",
			     req.cmd == CMD_POOL_SET ? "pool set" : "reload", v.group);
		else
			fail(&rep, EACCES, "permission denied: %s needs root",
			     req.cmd == CMD_POOL_SET ? "pool set" : "reload");
		log_notice("admin: refused %s to %s", req.cmd_name,
			   peer_describe(peer, desc, sizeof(desc)));
	}
	if (!rep.status) {
		envelope(&rep, &req, &v, now_ns, true);
		snprintf(who, sizeof(who), "admin request of %s",
			 peer_describe(peer, desc, sizeof(desc)));
		switch (req.cmd) {
		case CMD_STATUS:
			add_status(&rep, server, now_ns);
			add_jobs(&rep, server, &v, &req, now_ns);
			break;
		case CMD_CLIENTS:
			add_clients(&rep, server, &v, &req, now_ns);
			break;
		case CMD_REGIONS:
			add_regions(&rep, server, &v, &req, now_ns);
			break;
		case CMD_SNAPSHOT:
			add_status(&rep, server, now_ns);
			add_jobs(&rep, server, &v, &req, now_ns);
			add_clients(&rep, server, &v, &req, now_ns);
			add_regions(&rep, server, &v, &req, now_ns);
			break;
		case CMD_POOL_SET:
			pool_set(&rep, server, &req, who);
			break;
		case CMD_RELOAD:
			reload(&rep, server, who);
			break;
		case CMD_JOBS:
			add_jobs(&rep, server, &v, &req, now_ns);
			break;
		case CMD_JOB_REGISTER:
		case CMD_JOB_ATTACH:
		case CMD_JOB_END:
			job_command(&rep, server, &req, who, now_ns);
			break;
		}
	}
	r = answer(peer, &rep, &req, &v, now_ns);
	json_object_put(rep.root);
	json_object_put(obj);
	return r;
}

int admin_request_check(const char *json, size_t len, uint64_t page_size, char *msg, size_t msg_len)
{
	struct reply rep = { 0 };
	struct json_object *obj = NULL;
	struct config_warm *warm;
	struct request req;
	size_t n;

	if (parse_request(&rep, json, len, &req, &obj) == 0 && req.cmd == CMD_POOL_SET) {
		if (!(req.given & (M_WARM_ARRAY | M_TOTAL)))
			fail(&rep, EINVAL, "pool-set: nothing to set: give 'warm' and/or 'total'");
		else if ((req.given & M_WARM_ARRAY) &&
			 parse_warm(&rep, req.warm_targets, page_size ? page_size : 1, &warm, &n) ==
				 0)
			free(warm);
	}
	json_object_put(obj);
	if (msg_len)
		snprintf(msg, msg_len, "%s", rep.status ? rep.message : "");
	return rep.status;
}

int admin_send_reply(struct peer *peer, int32_t status, const char *json, size_t len)
{
	const size_t room = BHC_ARENA_ADMIN_CHUNK_MAX - sizeof(struct bhc_arena_msg_admin_reply);
	size_t off = 0, n, size;
	unsigned char *buf;
	int r = 0;

	buf = malloc(BHC_ARENA_ADMIN_CHUNK_MAX);
	if (!buf)
		return -ENOMEM;
	peer->admin_bytes += len;
	do {
		n = len - off < room ? len - off : room;
		size = proto_encode_admin_reply(buf, BHC_ARENA_ADMIN_CHUNK_MAX, peer->request_seq,
						status, off + n < len ? BHC_ARENA_ADMIN_MORE : 0,
						json + off, n);
		r = peer_send(peer, buf, size, -1);
		off += n;
	} while (r == 0 && off < len);
	free(buf);
	return r;
}
