/* SPDX-License-Identifier: MIT */
/*
 * Restarts: the node state (key, instance), lease tokens, REGISTER, and
 * systemd's fd store. See restore.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "closer.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "restore.h"
#include "sd.h"
#include "server.h"
#include "user.h"
#include "common/backing.h"
#include "common/size.h"

#define STATE_FILE "node-state"
#define STATE_DIR_ROOT "/var/lib/bhc-arena"
/* Instances stay below this, so that ids (instance << 32 | counter) stay below 2^53. */
#define INSTANCE_MAX ((UINT64_C(1) << 21) - 1)
/* Instances taken from the clock, without a state file: above every counted one. */
#define INSTANCE_CLOCK_BASE (UINT64_C(1) << 20)
#define COUNTER_MASK ((UINT64_C(1) << BHC_ARENA_REGION_ID_COUNTER_BITS) - 1)
#define FDNAME_WARM "bhc-w."
#define FDNAME_LEASE "bhc-l."
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static const char *state_dir_arg;
static uint64_t orphan_ms = RESTORE_ORPHAN_MS;

void restore_set_state_dir(const char *dir)
{
	state_dir_arg = dir;
}

void restore_set_wait_ms(uint64_t ms)
{
	orphan_ms = ms;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- SipHash-2-4 with 128-bit output, over whole 64-bit words ------------------------------ */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

static void siphash128(const uint64_t key[2], const uint64_t *m, size_t n, uint64_t out[2])
{
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ key[0];
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ key[1];
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ key[0];
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ key[1];
	uint64_t b = (uint64_t)(n * 8) << 56;
	size_t i;
	int r;

	v1 ^= 0xee;
	for (i = 0; i < n; i++) {
		v3 ^= m[i];
		SIPROUND;
		SIPROUND;
		v0 ^= m[i];
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xee;
	for (r = 0; r < 4; r++)
		SIPROUND;
	out[0] = v0 ^ v1 ^ v2 ^ v3;
	v1 ^= 0xdd;
	for (r = 0; r < 4; r++)
		SIPROUND;
	out[1] = v0 ^ v1 ^ v2 ^ v3;
}

static void token_of(const struct restore *rs, uint64_t id, uint64_t size, uint32_t backing,
		     uint32_t page_shift, uint64_t dev, uint64_t ino, uint32_t uid,
		     uint64_t token[2])
{
	uint64_t m[6] = { id, size, (uint64_t)backing | (uint64_t)page_shift << 32, dev, ino, uid };

	siphash128(rs->key, m, 6, token);
}

static bool token_equal(const uint64_t a[2], const uint64_t b[2])
{
	return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
}

/* --- the node state ------------------------------------------------------------------------- */

/* The state directory: --state-dir, $STATE_DIRECTORY (systemd), or the default for the user. */
static char *state_dir(void)
{
	const char *env = getenv("STATE_DIRECTORY"), *home;
	char *dir = NULL;

	if (state_dir_arg && *state_dir_arg)
		return strdup(state_dir_arg);
	if (env && *env == '/') {
		dir = strdup(env);
		if (dir)
			dir[strcspn(dir, ":")] = '\0'; /* the first of several */
		return dir;
	}
	if (geteuid() == 0)
		return strdup(STATE_DIR_ROOT);
	env = getenv("XDG_STATE_HOME");
	if (env && *env == '/') {
		if (asprintf(&dir, "%s/bhc-arena", env) < 0)
			return NULL;
		return dir;
	}
	home = getenv("HOME");
	if (!home || *home != '/' || asprintf(&dir, "%s/.local/state/bhc-arena", home) < 0)
		return NULL;
	return dir;
}

static int mkdir_p(const char *path)
{
	char buf[4096], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Parse "key=<32 hex>\ninstance=<n>\n"; what is missing stays as it is. */
static void parse_state(const char *text, uint64_t key[2], bool *have_key, uint64_t *instance)
{
	const char *line;
	char hex[33];

	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		unsigned long long a, b, n;

		if (sscanf(line, "key=%32[0-9a-f]", hex) == 1 && strlen(hex) == 32) {
			char hi[17], lo[17];

			memcpy(hi, hex, 16);
			hi[16] = '\0';
			memcpy(lo, hex + 16, 16);
			lo[16] = '\0';
			a = strtoull(hi, NULL, 16);
			b = strtoull(lo, NULL, 16);
			key[0] = a;
			key[1] = b;
			*have_key = true;
		} else if (sscanf(line, "instance=%llu", &n) == 1) {
			*instance = n;
		}
	}
}

/*
 * Under an flock of the directory: read the state file, take the next
 * instance, write the file anew (temporary file, fsync, rename). 0 or -errno.
 */
static int state_take_instance(struct restore *rs, const char *dir, uint64_t *instancep)
{
	char path[4200], tmp[4220], text[512];
	bool have_key = false;
	uint64_t instance = 0;
	int dfd, fd, r = 0;
	ssize_t n;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (flock(dfd, LOCK_EX) < 0) {
		r = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, STATE_FILE, (int)getpid());
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n > 0) {
			text[n] = '\0';
			parse_state(text, rs->key, &have_key, &instance);
		}
	} else if (errno != ENOENT) {
		r = -errno;
		goto out;
	}
	if (!have_key && getrandom(rs->key, sizeof(rs->key), 0) != sizeof(rs->key)) {
		r = -EIO;
		goto out;
	}
	rs->previous_instance = instance;
	instance = instance + 1 >= INSTANCE_CLOCK_BASE ? 1 : instance + 1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	n = snprintf(text, sizeof(text),
		     "# bhc-arenad node state (bhc-arenad(8)); keep it secret, do not edit\n"
		     "key=%016" PRIx64 "%016" PRIx64 "\ninstance=%" PRIu64 "\n",
		     rs->key[0], rs->key[1], instance);
	if (write(fd, text, (size_t)n) != n || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		goto out;
	}
	fsync(dfd);
	rs->key_persistent = true;
	*instancep = instance;
out:
	close(dfd); /* drops the lock */
	return r;
}

static void state_load(struct server *server)
{
	struct restore *rs = &server->restore;
	uint64_t instance = 0;
	char *dir = state_dir();
	int r = dir ? mkdir_p(dir) : -ENOMEM;

	if (r == 0)
		r = state_take_instance(rs, dir, &instance);
	if (r == 0) {
		if (asprintf(&rs->state_file, "%s/%s", dir, STATE_FILE) < 0)
			rs->state_file = NULL;
		rs->instance = instance;
		log_info("daemon instance %" PRIu64 " (node state in %s/%s)", instance, dir,
			 STATE_FILE);
		free(dir);
		return;
	}
	/* No state: ids from the clock (unique unless the clock goes back), tokens die with us. */
	if (getrandom(rs->key, sizeof(rs->key), 0) != sizeof(rs->key)) {
		rs->key[0] = realtime_ns();
		rs->key[1] = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	}
	rs->instance = INSTANCE_CLOCK_BASE +
		       (realtime_ns() / 1000000000u) % (INSTANCE_MAX - INSTANCE_CLOCK_BASE);
	log_warning("no node state in %s: %s; instance %" PRIu64
		    " from the clock, and clients cannot register their regions after a "
		    "restart (--state-dir)",
		    dir ? dir : "(no directory)", strerror(-r), rs->instance);
	free(dir);
}

uint64_t restore_next_id_block(struct server *server)
{
	struct restore *rs = &server->restore;
	uint64_t instance = 0;
	char *dir = state_dir();

	if (dir && state_take_instance(rs, dir, &instance) == 0)
		rs->instance = instance;
	else
		rs->instance = rs->instance + 1 > INSTANCE_MAX ? INSTANCE_CLOCK_BASE :
								 rs->instance + 1;
	free(dir);
	log_notice("region ids of instance %" PRIu64 " ran out: now instance %" PRIu64,
		   rs->previous_instance, rs->instance);
	return rs->instance << BHC_ARENA_REGION_ID_COUNTER_BITS;
}

bool restore_stale_id(const struct server *server, uint64_t id)
{
	uint64_t instance = BHC_ARENA_REGION_ID_INSTANCE(id);

	return instance && instance < server->restore.instance;
}

/* --- tokens and REGISTER -------------------------------------------------------------------- */

static int read_inode(struct region *region)
{
	struct stat st;

	if (region->ino)
		return 0;
	if (region->fd < 0 || fstat(region->fd, &st) < 0)
		return -EBADF;
	region->dev = st.st_dev;
	region->ino = st.st_ino;
	return 0;
}

void restore_token(struct server *server, struct region *region, uid_t uid, uint64_t token[2])
{
	if (read_inode(region) < 0) {
		token[0] = token[1] = 0; /* never valid: no fd, no inode */
		return;
	}
	token_of(&server->restore, region->id, region->size, region->backing, region->page_shift,
		 region->dev, region->ino, (uint32_t)uid, token);
}

/* Is @fd a sealed memfd of @size bytes with @backing pages of 1 << @shift? 0 or why not. */
static int check_memfd(int fd, uint64_t size, uint32_t backing, uint32_t shift, struct stat *st,
		       char *why, size_t len)
{
	struct statfs sfs;
	int seals;

	if (fd < 0) {
		snprintf(why, len, "REGISTER carries no file descriptor");
		return -EBADF;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || fstatfs(fd, &sfs) < 0) {
		snprintf(why, len, "the descriptor is not a memfd");
		return -EBADF;
	}
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		snprintf(why, len, "the descriptor is not a memfd (no seals)");
		return -EBADF;
	}
	if (seals != SEALS) {
		snprintf(why, len, "the memfd is not sealed as the daemon seals regions (0x%x)",
			 seals);
		return -EPERM;
	}
	if ((uint64_t)st->st_size != size) {
		snprintf(why, len, "the memfd has %" PRIu64 " bytes, not %" PRIu64,
			 (uint64_t)st->st_size, size);
		return -EINVAL;
	}
	if (backing == BHC_ARENA_BACKING_HUGETLB) {
		if ((uint32_t)sfs.f_type != (uint32_t)HUGETLBFS_MAGIC ||
		    (uint64_t)st->st_blksize != UINT64_C(1) << shift) {
			snprintf(why, len, "the memfd is not hugetlb with %u-bit pages", shift);
			return -EINVAL;
		}
	} else if ((uint32_t)sfs.f_type != (uint32_t)TMPFS_MAGIC ||
		   (backing != BHC_ARENA_BACKING_THP && backing != BHC_ARENA_BACKING_SMALL)) {
		snprintf(why, len, "the memfd is not shared memory of backing %u", backing);
		return -EINVAL;
	}
	return 0;
}

static struct region *find_region(struct server *server, uint64_t id)
{
	struct list_head *pos;

	list_for_each(pos, &server->pool.regions) {
		struct region *region = list_entry(pos, struct region, pool_link);

		if (region->id == id)
			return region;
	}
	return NULL;
}

static void refuse_register(struct peer *peer, int fd, int error, uint64_t id, const char *why)
{
	char desc[160];

	/* anything a client sends may be a socket that lingers: closed off the loop */
	if (fd >= 0)
		closer_close(fd);
	peer->server->restore.n_reregister_refused++;
	server_log_client(peer->server, peer->cred.uid, LOG_INFO,
			  "%s: REGISTER of region %" PRIu64 " refused: %s",
			  peer_describe(peer, desc, sizeof(desc)), id, why);
	peer_send_error(peer, error, "region %" PRIu64 ": %s", id, why);
}

/*
 * When the lease began: the created_ns the client wrote into the region's
 * info header when it got the GRANT, if that header is intact and names
 * the region; else now. Read with pread(2), never through a mapping.
 */
static uint64_t granted_ns(const struct region *region)
{
	struct bhc_arena_region_info info;
	uint64_t now = realtime_ns();

	if (pread(region->fd, &info, sizeof(info), 0) != sizeof(info) ||
	    info.magic != BHC_ARENA_REGION_MAGIC || info.region_id != region->id ||
	    !info.created_ns || info.created_ns > now)
		return now;
	return info.created_ns;
}

/* Count @region as @peer's lease (it is counted in the pool already). */
static void add_lease(struct peer *peer, struct region *region)
{
	region->owner = peer;
	list_add_tail(&region->link, &peer->leases);
	peer->n_regions++;
	peer->bytes += region->size;
	peer->user->n_regions++;
	peer->user->bytes += region->size;
}

void restore_handle_register(struct peer *peer, const struct proto_msg *msg, int fd)
{
	struct server *server = peer->server;
	struct restore *rs = &server->restore;
	uint64_t id = msg->reg.region_id, token[2];
	struct bhc_arena_msg_registered m;
	struct region *region;
	char why[160], desc[160], size[32];
	struct stat st;
	int r;

	if (peer->admin) {
		refuse_register(peer, fd, EPERM, id, "an admin session holds no leases");
		return;
	}
	if (BHC_ARENA_REGION_ID_INSTANCE(id) == 0 ||
	    BHC_ARENA_REGION_ID_INSTANCE(id) >= rs->instance) {
		refuse_register(peer, fd, ESTALE, id,
				BHC_ARENA_REGION_ID_INSTANCE(id) == rs->instance ?
					"made by this daemon instance, which knows its leases; "
					"only regions of an earlier instance can be registered" :
					"no earlier daemon instance made this id");
		return;
	}
	r = check_memfd(fd, msg->reg.size, msg->reg.backing, msg->reg.page_shift, &st, why,
			sizeof(why));
	if (r < 0) {
		refuse_register(peer, fd, -r, id, why);
		return;
	}
	token_of(rs, id, msg->reg.size, msg->reg.backing, msg->reg.page_shift, st.st_dev, st.st_ino,
		 peer->cred.uid, token);
	if (!token_equal(token, msg->reg.token)) {
		refuse_register(peer, fd, EACCES, id,
				"the lease token does not match this region, memfd and uid");
		return;
	}
	region = find_region(server, id);
	if (region && (region->owner || region->origin != REGION_RESTORED ||
		       region->dev != (uint64_t)st.st_dev || region->ino != (uint64_t)st.st_ino)) {
		refuse_register(peer, fd, EEXIST, id, "already registered");
		return;
	}
	if (region) {
		/* kept by the fd store and counted since the start: now it has its client */
		close(fd);
		list_del(&region->link);
		region->backing = msg->reg.backing;
		region->page_shift = msg->reg.page_shift;
	} else {
		r = region_new(&server->pool, id, msg->reg.size, server->pool.policy,
			       server->pool.page_shift, &region);
		if (r < 0) {
			refuse_register(peer, fd, ENOMEM, id, "out of memory in the daemon");
			return;
		}
		region->fd = fd;
		region->backing = msg->reg.backing;
		region->page_shift = msg->reg.page_shift;
		region->dev = st.st_dev;
		region->ino = st.st_ino;
		region->origin = REGION_REGISTERED;
		region->created_ns =
			(uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec;
		region->restored_ns = realtime_ns();
		pool_adopt(&server->pool, region, REGION_LEASED);
	}
	region->leased_ns = granted_ns(region);
	add_lease(peer, region);
	rs->n_reregistered++;
	rs->reregistered_bytes += region->size;
	restore_store_lease(server, region, peer->cred.uid);
	log_info("%s: registered region %" PRIu64 " (%s, %s) of instance %" PRIu64,
		 peer_describe(peer, desc, sizeof(desc)), id,
		 size_format_iec(region->size, size, sizeof(size)),
		 backing_name(region->backing, region->page_shift),
		 BHC_ARENA_REGION_ID_INSTANCE(id));
	proto_encode_registered(&m, msg->seq, id);
	peer_send(peer, &m, sizeof(m), -1);
	server_changed(server);
}

/* --- the fd store ------------------------------------------------------------------------- */

static void store_send(struct server *server, const char *state, int fd)
{
	int r = sd_pid_notify_with_fds(0, 0, state, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);

	if (r < 0)
		log_debug("fd store: %s: %s", state, strerror(-r));
}

void restore_store_warm(struct server *server, struct region *region)
{
	char msg[128];

	if (!server->restore.fdstore || (region->stored & REGION_STORED_WARM) || region->fd < 0)
		return;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=" FDNAME_WARM "%" PRIu64 ".%u.%u", region->id,
		 region->backing, region->page_shift);
	store_send(server, msg, region->fd);
	region->stored |= REGION_STORED_WARM;
}

void restore_store_lease(struct server *server, struct region *region, uid_t uid)
{
	char msg[128];

	if (!server->restore.fdstore || (region->stored & REGION_STORED_LEASE) || region->fd < 0)
		return;
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=" FDNAME_LEASE "%" PRIu64 ".%u.%u.%u",
		 region->id, region->backing, region->page_shift, (unsigned int)uid);
	store_send(server, msg, region->fd);
	region->stored |= REGION_STORED_LEASE;
	region->restored_uid = (uint32_t)uid;
}

void restore_unstore(struct server *server, struct region *region)
{
	char msg[128];

	if (region->stored & REGION_STORED_WARM) {
		snprintf(msg, sizeof(msg),
			 "FDSTOREREMOVE=1\nFDNAME=" FDNAME_WARM "%" PRIu64 ".%u.%u", region->id,
			 region->backing, region->page_shift);
		store_send(server, msg, -1);
	}
	if (region->stored & REGION_STORED_LEASE) {
		snprintf(msg, sizeof(msg),
			 "FDSTOREREMOVE=1\nFDNAME=" FDNAME_LEASE "%" PRIu64 ".%u.%u.%u", region->id,
			 region->backing, region->page_shift, region->restored_uid);
		store_send(server, msg, -1);
	}
	region->stored = 0;
}

/* A descriptor the store gave back, before the pool exists. */
struct stored_fd {
	int fd;
	bool lease;
	uint64_t id;
	uint32_t backing, page_shift, uid;
};

static struct stored_fd *stored;
static size_t n_stored;

/* "bhc-w.<id>.<backing>.<shift>" or "bhc-l.<id>.<backing>.<shift>.<uid>": 1, or 0 if not ours. */
static int parse_fdname(const char *name, struct stored_fd *s)
{
	unsigned long long id;
	unsigned int backing, shift, uid;
	int n = 0;

	if (!strncmp(name, FDNAME_WARM, strlen(FDNAME_WARM))) {
		if (sscanf(name + strlen(FDNAME_WARM), "%llu.%u.%u%n", &id, &backing, &shift, &n) !=
			    3 ||
		    name[strlen(FDNAME_WARM) + n])
			return -EINVAL;
		s->lease = false;
		uid = 0;
	} else if (!strncmp(name, FDNAME_LEASE, strlen(FDNAME_LEASE))) {
		if (sscanf(name + strlen(FDNAME_LEASE), "%llu.%u.%u.%u%n", &id, &backing, &shift,
			   &uid, &n) != 4 ||
		    name[strlen(FDNAME_LEASE) + n])
			return -EINVAL;
		s->lease = true;
	} else {
		return 0;
	}
	s->id = id;
	s->backing = backing;
	s->page_shift = shift;
	s->uid = uid;
	return 1;
}

static int take_store_fds(struct server *server, int *listen_fd)
{
	char **names = NULL;
	int n, i, n_other = 0;

	*listen_fd = -1;
	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0)
		return n;
	stored = calloc((size_t)n, sizeof(*stored));
	for (i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct stored_fd s;
		int r = names && names[i] ? parse_fdname(names[i], &s) : 0;

		if (r == 0) {
			if (n_other++ == 0)
				*listen_fd = fd;
			continue;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (r < 0 || !stored) {
			log_warning("fd store: dropping the entry \"%s\"", names[i]);
			server->restore.n_restored_dropped++;
			close(fd);
			continue;
		}
		s.fd = fd;
		stored[n_stored++] = s;
	}
	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return n_other;
}

static int cmp_stored(const void *a, const void *b)
{
	const struct stored_fd *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return (int)y->lease - (int)x->lease; /* the lease entry first */
}

static void adopt_stored(struct server *server)
{
	struct restore *rs = &server->restore;
	struct region *region;
	char why[160];
	struct stat st;
	size_t i;

	if (n_stored)
		qsort(stored, n_stored, sizeof(*stored), cmp_stored);
	for (i = 0; i < n_stored; i++) {
		struct stored_fd *s = &stored[i];

		/* the same memfd once more (warm, then leased): one is enough */
		if (i && stored[i - 1].id == s->id) {
			close(s->fd);
			continue;
		}
		if (fstat(s->fd, &st) < 0 || st.st_size <= 0 ||
		    check_memfd(s->fd, (uint64_t)st.st_size, s->backing, s->page_shift, &st, why,
				sizeof(why)) < 0 ||
		    BHC_ARENA_REGION_ID_INSTANCE(s->id) >= rs->instance ||
		    find_region(server, s->id)) {
			log_warning("fd store: region %" PRIu64 " is not usable; dropping it",
				    s->id);
			goto drop;
		}
		if (region_new(&server->pool, s->id, (uint64_t)st.st_size, server->pool.policy,
			       server->pool.page_shift, &region) < 0)
			goto drop;
		region->fd = s->fd;
		region->backing = s->backing;
		region->page_shift = s->page_shift;
		region->dev = st.st_dev;
		region->ino = st.st_ino;
		region->origin = REGION_RESTORED;
		region->created_ns =
			(uint64_t)st.st_ctim.tv_sec * 1000000000u + (uint64_t)st.st_ctim.tv_nsec;
		region->restored_ns = realtime_ns();
		if (s->lease) {
			/* both entries stay in the store: the lease one (and the warm one if any) */
			region->stored = REGION_STORED_LEASE;
			if (i + 1 < n_stored && stored[i + 1].id == s->id)
				region->stored |= REGION_STORED_WARM;
			region->restored_uid = s->uid;
			pool_adopt(&server->pool, region, REGION_LEASED);
			list_add_tail(&region->link, &rs->orphans);
			rs->n_restored_leased++;
			continue;
		}
		region->stored = REGION_STORED_WARM;
		if (pool_adopt(&server->pool, region, REGION_WARM)) {
			rs->n_restored_warm++;
			continue;
		}
		/* no warm class wants it (any more): out of the store, pages back */
		restore_unstore(server, region);
		region_free(region);
		rs->n_restored_dropped++;
		continue;
drop:
		close(s->fd);
		rs->n_restored_dropped++;
	}
	free(stored);
	stored = NULL;
	n_stored = 0;
	if (rs->n_restored_leased || rs->n_restored_warm || rs->n_restored_dropped)
		log_notice("fd store: %" PRIu64 " leased regions wait for their clients, %" PRIu64
			   " warm regions restored, %" PRIu64 " entries dropped",
			   rs->n_restored_leased, rs->n_restored_warm, rs->n_restored_dropped);
}

/* Restored leases nobody claimed: let them go, closed but not punched (a client may use them). */
static void on_orphan_timer(uv_timer_t *timer)
{
	struct server *server = timer->data;
	struct restore *rs = &server->restore;

	while (!list_empty(&rs->orphans)) {
		struct region *region = list_first_entry(&rs->orphans, struct region, link);

		list_del(&region->link);
		log_info("region %" PRIu64 " (uid %u) from the fd store: no client registered it "
			 "within %" PRIu64 " ms; letting it go",
			 region->id, region->restored_uid, orphan_ms);
		restore_unstore(server, region);
		pool_abandon(&server->pool, region);
		rs->n_orphans_expired++;
	}
}

static uint64_t on_ids_exhausted(struct pool *pool)
{
	return restore_next_id_block(container_of(pool, struct server, pool));
}

static void on_warm(struct pool *pool, struct region *region)
{
	restore_store_warm(container_of(pool, struct server, pool), region);
}

static void on_drop(struct pool *pool, struct region *region)
{
	restore_unstore(container_of(pool, struct server, pool), region);
}

int restore_init(struct server *server, int *listen_fd)
{
	struct restore *rs = &server->restore;
	const char *fdstore = getenv("FDSTORE");

	list_init(&rs->orphans);
	state_load(server);
	/* systemd >= 254 sets $FDSTORE to FileDescriptorStoreMax=; the unit sets it for older ones */
	rs->fdstore = SD_SUPPORTED && getenv("NOTIFY_SOCKET") && fdstore && atoi(fdstore) > 0;
	return take_store_fds(server, listen_fd);
}

void restore_start(struct server *server)
{
	struct restore *rs = &server->restore;
	struct pool *pool = &server->pool;

	pool->next_region_id = rs->instance << BHC_ARENA_REGION_ID_COUNTER_BITS;
	pool->on_ids_exhausted = on_ids_exhausted;
	pool->on_warm = on_warm;
	pool->on_drop = on_drop;
	if (rs->fdstore)
		log_info("keeping region descriptors in systemd's fd store");
	adopt_stored(server);
	if (list_empty(&rs->orphans))
		return;
	if (uv_timer_init(server->loop, &rs->orphan_timer) < 0)
		return;
	rs->orphan_timer.data = server;
	rs->orphan_timer_open = true;
	uv_timer_start(&rs->orphan_timer, on_orphan_timer, orphan_ms, 0);
}

void restore_stop(struct server *server)
{
	struct restore *rs = &server->restore;

	if (rs->orphan_timer_open && !uv_is_closing((uv_handle_t *)&rs->orphan_timer))
		uv_close((uv_handle_t *)&rs->orphan_timer, NULL);
	/* the orphans stay in the store for the next instance; pool_stop() closes our fds */
}

void restore_free(struct server *server)
{
	free(server->restore.state_file);
	server->restore.state_file = NULL;
}
