/* SPDX-License-Identifier: MIT */
/*
 * bhc-arenactl: inspect and steer a running bhc-arenad.
 *
 * The CLI speaks the admin part of the wire protocol itself (HELLO with
 * BHC_ARENA_HELLO_ADMIN, then ADMIN requests answered by chunked
 * ADMIN_REPLY messages carrying JSON; see docs/ADMIN.md) and renders the
 * replies as tables, bars, JSON or Prometheus text.
 */
#ifndef BHC_ARENACTL_H
#define BHC_ARENACTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

/* Exit codes, documented in bhc-arenactl(8) and docs/ADMIN.md. */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_DAEMON = 1, /* the daemon answered with an error */
	CTL_EXIT_USAGE = 2, /* bad command line */
	CTL_EXIT_CONNECT = 3, /* the daemon cannot be reached */
	CTL_EXIT_DENIED = 4, /* permission denied */
	CTL_EXIT_PROTOCOL = 5, /* the daemon's answer makes no sense */
};

/* Version of the admin JSON schema this CLI understands. */
#define CTL_SCHEMA_VERSION 1
/* Largest admin reply the CLI accepts, all chunks together. */
#define CTL_REPLY_MAX (64u << 20)

/* --- connection (ctl/conn.c) ----------------------------------------- */

/* An admin session with the daemon. */
struct ctl_conn {
	int fd;
	uint32_t seq;
	char path[108];
	/* from the daemon's WELCOME */
	uint64_t client_id;
	uint64_t daemon_start_ns;
	uint64_t max_region_size;
	uint32_t page_shift;
	uint32_t policy;
};

/* Why a request failed, for the message and the exit code. */
struct ctl_error {
	int error; /* positive errno */
	enum ctl_exit exit; /* what the process should exit with */
	char text[512]; /* human-readable, without the program name */
};

/**
 * ctl_socket_path() - the socket to use: @opt if set, else
 * $BHC_ARENA_SOCKET, else the default for this user (see bhc-arenactl(8)).
 * Writes at most @len bytes to @buf; returns 0 or -ENAMETOOLONG.
 */
int ctl_socket_path(const char *opt, char *buf, size_t len);

/**
 * ctl_connect() - connect to @path and open an admin session; @timeout_ms
 * bounds every send and receive. Returns 0, or -errno with @err filled.
 */
int ctl_connect(struct ctl_conn *conn, const char *path, int timeout_ms, struct ctl_error *err);

/** ctl_close() - end the session; idempotent. */
void ctl_close(struct ctl_conn *conn);

/**
 * ctl_request() - send @req and return the reply object in *@replyp (the
 * caller puts it). A reply with a non-zero status is an error: -errno with
 * @err filled from the reply's "error" member; *@replyp is set then too.
 */
int ctl_request(struct ctl_conn *conn, struct json_object *req, struct json_object **replyp,
		struct ctl_error *err);

/** ctl_exit_for_errno() - the exit code for a daemon error @error. */
enum ctl_exit ctl_exit_for_errno(int error);

/* --- formatting (ctl/fmt.c) ------------------------------------------ */

#define CTL_SIZE_BUF 32

/** ctl_fmt_size() - @bytes as "512B", "1.5K", "16M", "4.0G"; exact decimal if @exact. */
const char *ctl_fmt_size(uint64_t bytes, bool exact, char buf[CTL_SIZE_BUF]);

/** ctl_fmt_page() - a page size as "4K", "2M", "1G". */
const char *ctl_fmt_page(uint64_t bytes, char buf[CTL_SIZE_BUF]);

/** ctl_fmt_duration() - @seconds as "45s", "3m07s", "2h05m", "3d04h". */
const char *ctl_fmt_duration(uint64_t seconds, char buf[CTL_SIZE_BUF]);

/** ctl_fmt_time() - a unix time as "HH:MM:SS" within a day of @now, else "YYYY-MM-DD". */
const char *ctl_fmt_time(int64_t when, int64_t now, char buf[CTL_SIZE_BUF]);

/** ctl_parse_u32() - a decimal unsigned 32-bit number; 0 or -EINVAL / -ERANGE. */
int ctl_parse_u32(const char *s, uint32_t *valp);

/* One warm-pool target: keep @count regions of @size bytes ready. */
struct ctl_warm_target {
	uint64_t size;
	uint32_t count;
};

#define CTL_WARM_MAX 32

/**
 * ctl_parse_warm() - "16M:4,64M:2" (or "none") into @targets; *@n_targetsp
 * gets the count. Returns 0 or -EINVAL / -ERANGE / -E2BIG.
 */
int ctl_parse_warm(const char *s, struct ctl_warm_target *targets, size_t max, size_t *n_targetsp);

/**
 * ctl_sanitize() - copy @s into @buf (of @len bytes) replacing every byte
 * that is not printable ASCII by '?', so that text chosen by a client
 * (its command name, its tag) cannot drive the terminal.
 */
const char *ctl_sanitize(const char *s, char *buf, size_t len);

/**
 * ctl_bar() - a usage bar of @width columns ("[####....]") for @n_parts
 * fractions of a whole, drawn with @marks (one char per part; the rest is
 * '.'). Returns @buf.
 */
const char *ctl_bar(char *buf, size_t len, size_t width, const double *parts, const char *marks,
		    size_t n_parts);

/** ctl_terminal_width() - @opt if >= 0, else $COLUMNS, else the tty's width, else 0 (no limit). */
size_t ctl_terminal_width(long opt);

/** ctl_terminal_height() - rows of the tty on stdout, or 0 when unknown. */
size_t ctl_terminal_height(void);

/** ctl_emit_line() - write @s and a newline, cut at @width display columns (0: no cut). */
void ctl_emit_line(FILE *f, const char *s, size_t width);

/* --- tables (ctl/table.c) -------------------------------------------- */

/* column flags */
#define CTL_COL_RIGHT 0x1u /* right-aligned (numbers) */
#define CTL_COL_TRUNC 0x2u /* may be shortened to fit the width */
#define CTL_COL_HIDDEN 0x4u /* not shown at all */

struct ctl_column {
	const char *name;
	unsigned int flags;
	/* columns are dropped in increasing priority when the width is short;
	 * priority 0 is never dropped */
	unsigned int priority;
	size_t min_width; /* narrowest a CTL_COL_TRUNC column gets */
};

struct ctl_table;

/** ctl_table_new() - a table with @n_cols columns described by @cols (kept by reference). */
int ctl_table_new(const struct ctl_column *cols, size_t n_cols, struct ctl_table **tablep);

/** ctl_table_free() - free @table; NULL is a no-op. */
void ctl_table_free(struct ctl_table *table);

/** ctl_table_add_row() - start a new row; its cells are empty until set. */
int ctl_table_add_row(struct ctl_table *table);

/** ctl_table_set() - set cell @col of the last row to @text (sanitized). */
int ctl_table_set(struct ctl_table *table, size_t col, const char *text);

/** ctl_table_setf() - ctl_table_set() with printf formatting. */
__attribute__((format(printf, 3, 4))) int ctl_table_setf(struct ctl_table *table, size_t col,
							 const char *fmt, ...);

/** ctl_table_n_rows() - rows added so far. */
size_t ctl_table_n_rows(const struct ctl_table *table);

/**
 * ctl_table_print() - print the header and at most @max_rows rows (0: all)
 * within @width columns (0: no limit), shortening CTL_COL_TRUNC columns and
 * then dropping low-priority columns until it fits.
 */
int ctl_table_print(struct ctl_table *table, FILE *f, size_t width, size_t max_rows);

/* --- system hugepage pools (ctl/sys.c) ------------------------------- */

struct ctl_hugepage_pool {
	uint64_t page_size; /* bytes */
	uint64_t total; /* nr_hugepages */
	uint64_t free; /* free_hugepages */
	uint64_t reserved; /* resv_hugepages */
	uint64_t surplus; /* surplus_hugepages */
	uint64_t overcommit; /* nr_overcommit_hugepages */
};

#define CTL_HUGEPAGE_POOLS_MAX 8

/**
 * ctl_read_hugepage_pools() - read the pools under @sysfs_dir (normally
 * /sys/kernel/mm/hugepages), sorted by page size. Returns the number of
 * pools, or -errno.
 */
int ctl_read_hugepage_pools(const char *sysfs_dir, struct ctl_hugepage_pool *pools, size_t max);

/** ctl_hugepage_pools_json() - the pools as the JSON array documented in docs/ADMIN.md. */
struct json_object *ctl_hugepage_pools_json(const struct ctl_hugepage_pool *pools, size_t n);

/* --- Prometheus text (ctl/prom.c) ------------------------------------ */

/**
 * ctl_prom_escape() - @s as a Prometheus label value (backslash, double
 * quote and newline escaped) into @buf; returns @buf, cut short if it does
 * not fit.
 */
const char *ctl_prom_escape(const char *s, char *buf, size_t len);

/**
 * ctl_prom_render() - write the metrics for a "snapshot" reply @snap (NULL
 * when the daemon did not answer: only bhc_arena_up 0 and the system pools)
 * and the system hugepage pools to @f. Returns 0 or -errno.
 */
int ctl_prom_render(FILE *f, struct json_object *snap, const struct ctl_hugepage_pool *pools,
		    size_t n_pools);

/* --- reading replies (ctl/fmt.c) ------------------------------------- */

/** ctl_json_u64() - member @key of @obj as an unsigned integer, @def if absent or not a number. */
uint64_t ctl_json_u64(struct json_object *obj, const char *key, uint64_t def);

/** ctl_json_i64() - member @key of @obj as a signed integer, @def if absent. */
int64_t ctl_json_i64(struct json_object *obj, const char *key, int64_t def);

/** ctl_json_str() - member @key of @obj as a string, @def if absent or not a string. */
const char *ctl_json_str(struct json_object *obj, const char *key, const char *def);

/** ctl_json_bool() - member @key of @obj as a boolean, @def if absent. */
bool ctl_json_bool(struct json_object *obj, const char *key, bool def);

/** ctl_json_array() - member @key of @obj if it is an array, else NULL. */
struct json_object *ctl_json_array(struct json_object *obj, const char *key);

/** ctl_json_object() - member @key of @obj if it is an object, else NULL. */
struct json_object *ctl_json_object(struct json_object *obj, const char *key);

/* --- views (ctl/show.c) ---------------------------------------------- */

/* How to draw: width and rows of the output, bars or not, sizes exact or not. */
struct ctl_view {
	size_t width; /* 0: no limit */
	size_t max_rows; /* rows per table, 0: all */
	bool bars;
	bool exact;
};

/** ctl_user_name() - the name of @uid, or its number; cached. */
const char *ctl_user_name(uint32_t uid, char *buf, size_t len);

/** ctl_add_user_names() - add "user" (name of "uid") to every row of the array @rows. */
int ctl_add_user_names(struct json_object *rows);

/** ctl_show_status() - the status view of a "status" or "snapshot" reply and the system pools. */
int ctl_show_status(FILE *f, struct json_object *reply, const struct ctl_hugepage_pool *pools,
		    int n_pools, const struct ctl_view *v);

/** ctl_show_pool() - the pool part of the status view for a reply with a "pool" member. */
int ctl_show_pool(FILE *f, struct json_object *reply, const struct ctl_view *v);

/** ctl_show_clients() - the clients table of a reply with a "clients" array. */
int ctl_show_clients(FILE *f, struct json_object *reply, const struct ctl_view *v);

/** ctl_show_regions() - the regions table of a reply with a "regions" array. */
int ctl_show_regions(FILE *f, struct json_object *reply, const struct ctl_view *v);

/**
 * ctl_show_watch() - one frame of the watch view of a "snapshot" reply in
 * @height lines (0: no limit): a summary, then clients and regions, the
 * busiest first.
 */
int ctl_show_watch(FILE *f, struct json_object *snap, const struct ctl_view *v, size_t height);

#endif
