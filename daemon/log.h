/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr, one write(2) per line. Under journald (or with
 * --log-prefix) each line starts with a "<N>" syslog priority prefix, which
 * journald turns into the entry's priority; otherwise each line starts with
 * a local timestamp and the level name.
 */
#ifndef BHC_DAEMON_LOG_H
#define BHC_DAEMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

/**
 * log_init() - choose the line format: @force_prefix selects "<N>" prefixes;
 * otherwise they are used when stderr is the journal stream named by
 * $JOURNAL_STREAM.
 */
void log_init(bool force_prefix);

/** log_set_level() - log messages of priority @level (LOG_ERR..LOG_DEBUG) and more urgent. */
void log_set_level(int level);

/** log_get_level() - the current maximum priority logged. */
int log_get_level(void);

/** log_level_parse() - "err", "warning", "notice", "info" or "debug" to LOG_*; 0 or -EINVAL. */
int log_level_parse(const char *name, int *levelp);

/** log_level_name() - the name log_level_parse() accepts for @level. */
const char *log_level_name(int level);

/** log_enabled() - whether a message of priority @level would be written. */
bool log_enabled(int level);

/** log_msg() - write one line at priority @level (a trailing newline is added). */
__attribute__((format(printf, 2, 3))) void log_msg(int level, const char *fmt, ...);

/** log_msgv() - log_msg() with a va_list. */
__attribute__((format(printf, 2, 0))) void log_msgv(int level, const char *fmt, va_list ap);

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
