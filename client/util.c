/* SPDX-License-Identifier: MIT */
/* Small helpers: sysfs reads and size strings. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arena-internal.h"

/**
 * parse_size() - parse "<digits>[K|M|G|T][B|iB]" (binary multiples,
 * case-insensitive) into *@sizep. Returns 0, -EINVAL for a malformed or zero
 * size, -ERANGE if it does not fit a size_t.
 */
int parse_size(const char *s, size_t *sizep)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		break;
	}
	if (shift) {
		end++;
		if (!strcasecmp(end, "iB"))
			end += 2;
	}
	if (!strcasecmp(end, "B"))
		end++;
	if (*end)
		return -EINVAL;
	if (!v)
		return -EINVAL;
	if (v > (unsigned long long)SIZE_MAX >> shift)
		return -ERANGE;
	*sizep = (size_t)(v << shift);
	return 0;
}

/**
 * read_sysfs_str() - read a small text file into @buf (NUL-terminated,
 * trailing newline removed). Returns 0 or -errno.
 */
int read_sysfs_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, r = 0;

	if (len < 2)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		goto out_close;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
out_close:
	close(fd);
	return r;
}

/** read_sysfs_ulong() - read a file holding one unsigned number. Returns 0 or -errno. */
int read_sysfs_ulong(const char *path, unsigned long *valp)
{
	char buf[32], *end;
	unsigned long v;
	int r;

	r = read_sysfs_str(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	*valp = v;
	return 0;
}
