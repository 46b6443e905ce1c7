/* SPDX-License-Identifier: MIT */
/*
 * The daemon's configuration: embedded defaults, then the INI file
 * (/etc/bhc-arena/arenad.conf unless --config names another), then the
 * command line's --set section.key=value overrides, then validation.
 *
 * Sizes take K, M, G or T suffixes (powers of 1024, optionally followed by
 * "iB"), durations "ms", "s" or "min" (bare numbers are seconds), and a
 * limit of 0 means "no limit of its own".
 */
#ifndef BHC_DAEMON_CONFIG_H
#define BHC_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sched.h>
#include <sys/types.h>

#define CONFIG_DEFAULT_PATH "/etc/bhc-arena/arenad.conf"
#define CONFIG_ERROR_MAX 512

/* One warm size class of [pool] warm = SIZE:COUNT,... */
struct config_warm {
	uint64_t size; /* bytes of each region, a multiple of the page size */
	unsigned int target; /* regions kept ready */
};

/* [pool] io_cpus: where the kernel does the daemon's memory work. */
enum config_cpus_mode {
	CONFIG_CPUS_AUTO, /* one CPU per NUMA node */
	CONFIG_CPUS_ALL, /* wherever the scheduler likes */
	CONFIG_CPUS_LIST, /* the CPUs in set */
};

struct config_cpus {
	unsigned int mode; /* enum config_cpus_mode */
	cpu_set_t set; /* CONFIG_CPUS_LIST */
};

/* The effective configuration. Strings and the warm array are owned. */
struct config {
	/* [daemon] */
	char *socket; /* listening socket path (resolved default if unset) */
	mode_t socket_mode; /* permissions of a socket the daemon creates */
	char *admin_group; /* group whose members may use admin requests */
	int log_level; /* LOG_ERR .. LOG_DEBUG */
	/* [pool] */
	unsigned int hugepages; /* enum bhc_arena_hugepage_policy */
	unsigned int page_shift; /* 21 (2 MiB) or 30 (1 GiB) */
	struct config_warm *warm;
	size_t n_warm;
	uint64_t max_region_size; /* largest region one acquire may ask for */
	unsigned int warm_max; /* most regions demand keeps warm per class (not below its count) */
	uint64_t warm_window_ms; /* time constant of the demand that warm classes follow */
	bool io_uring; /* use io_uring (else a thread pool) for fallocate */
	unsigned int io_depth; /* region operations in flight at once */
	struct config_cpus io_cpus; /* CPUs of the io_uring workers */
	/* [limits] */
	uint64_t total; /* bytes of all regions held: warm, leased, in transit */
	uint64_t per_connection_bytes; /* 0: none */
	uint64_t per_connection_regions; /* 0: none */
	uint64_t per_uid_bytes; /* 0: none */
	uint64_t per_uid_regions; /* 0: none */
	uint64_t max_connections; /* 0: none */
	uint64_t admin_connections; /* of those, kept for root and admin_group (at most 1/4) */
	uint64_t per_uid_connections; /* 0: none; root and admin_group are not limited */
	uint64_t per_uid_connection_rate; /* new connections a second (burst: twice); 0: none */
	uint64_t admin_budget_ms; /* loop time per second for one non-admin uid's admin requests */
	uint64_t handshake_timeout_ms; /* time a new connection has to say HELLO */
	uint64_t stall_timeout_ms; /* time a peer may leave replies unread */
};

/* Where a configuration comes from; kept by the server for SIGHUP reloads. */
struct config_source {
	const char *path; /* file to read */
	bool path_explicit; /* given with --config: a missing file is an error */
	const char *const *sets; /* "section.key=value" overrides, in order */
	size_t n_sets;
};

/**
 * config_load() - build a configuration from @src: defaults, file, overrides,
 * validation. On error returns -errno and writes a message that names the
 * file, line and key (or the --set argument) into @err. *@file_missingp
 * (if not NULL) tells whether the file was absent and defaults were used.
 */
int config_load(const struct config_source *src, struct config **cfgp, bool *file_missingp,
		char *err, size_t err_len);

/**
 * config_parse_cpulist() - parse a CPU list such as "0-3,8" (decimal CPU
 * numbers below CPU_SETSIZE, ranges with '-', items separated by ',') into
 * @set. Returns 0 or -EINVAL.
 */
int config_parse_cpulist(const char *s, cpu_set_t *set);

/**
 * config_format_cpulist() - write @set as a CPU list ("0-3,8"; "" when
 * empty) into @buf and return @buf.
 */
char *config_format_cpulist(const cpu_set_t *set, char *buf, size_t len);

/**
 * config_parse_string() - apply the INI text @text (NUL-terminated) to @cfg,
 * as a file of that content would be; @name stands for the file in
 * messages. Returns 0, -EINVAL with a message in @err, or -ENOMEM. Used by
 * the fuzzer (fuzz/fuzz-config.c): the same parser, without a file.
 */
int config_parse_string(struct config *cfg, const char *text, const char *name, char *err,
			size_t err_len);

/** config_new() - a configuration holding the embedded defaults. */
int config_new(struct config **cfgp);

/** config_free() - free @cfg; NULL is a no-op. */
void config_free(struct config *cfg);

/**
 * config_set() - set [@section] @key to @value, parsed and range-checked.
 * Returns 0, -ENOENT for an unknown key or -EINVAL with a message in @err.
 */
int config_set(struct config *cfg, const char *section, const char *key, const char *value,
	       char *err, size_t err_len);

/** config_validate() - cross-key checks; 0 or -EINVAL with a message in @err. */
int config_validate(const struct config *cfg, char *err, size_t err_len);

/** config_print() - write the configuration to @f as an INI file. */
void config_print(const struct config *cfg, FILE *f);

/**
 * config_keep_restart_only() - copy the keys that only a restart can change
 * from @running into @next, logging each one that differs; returns how many.
 */
int config_keep_restart_only(struct config *next, const struct config *running);

/** config_default_socket() - the socket path used when [daemon] socket is unset. */
int config_default_socket(char *buf, size_t len);

/** config_policy_name() - "require", "prefer" or "off". */
const char *config_policy_name(unsigned int policy);

#endif
