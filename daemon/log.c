/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static int log_level = LOG_INFO;
static bool log_prefix;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",	  [LOG_CRIT] = "crit",
	[LOG_ERR] = "err",     [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

/* True if stderr is the stream journald handed us ($JOURNAL_STREAM = "dev:ino"). */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(bool force_prefix)
{
	log_prefix = force_prefix || stderr_is_journal();
}

void log_set_level(int level)
{
	if (level >= LOG_EMERG && level <= LOG_DEBUG)
		log_level = level;
}

int log_get_level(void)
{
	return log_level;
}

bool log_enabled(int level)
{
	return level <= log_level;
}

int log_level_parse(const char *name, int *levelp)
{
	static const struct {
		const char *name;
		int level;
	} aliases[] = { { "error", LOG_ERR }, { "warn", LOG_WARNING } };
	size_t i;

	for (i = LOG_ERR; i <= LOG_DEBUG; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*levelp = (int)i;
			return 0;
		}
	}
	for (i = 0; i < ARRAY_SIZE(aliases); i++) {
		if (strcmp(name, aliases[i].name) == 0) {
			*levelp = aliases[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(int level)
{
	if (level < LOG_EMERG || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

void log_msgv(int level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n = 0, left;
	int saved_errno = errno;
	int r;

	if (!log_enabled(level))
		return;
	if (log_prefix) {
		r = snprintf(line, sizeof(line), "<%d>", level);
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		r = snprintf(line, sizeof(line),
			     "%04d-%02d-%02d %02d:%02d:%02d.%03ld %s: ", tm.tm_year + 1900,
			     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			     ts.tv_nsec / 1000000, log_level_name(level));
	}
	if (r > 0)
		n = (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
	left = sizeof(line) - n - 1;
	r = vsnprintf(line + n, left + 1, fmt, ap);
	if (r > 0)
		n += (size_t)r < left ? (size_t)r : left;
	line[n++] = '\n';
	/* A short or failed write to stderr has nowhere else to be reported. */
	if (write(STDERR_FILENO, line, n) < 0)
		(void)0;
	errno = saved_errno;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_msgv(level, fmt, ap);
	va_end(ap);
}
