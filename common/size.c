/* SPDX-License-Identifier: MIT */
/* Byte sizes: parsing and printing (size.h). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"

static const char size_units[] = "KMGTPE";

int size_parse(const char *s, uint64_t *bytesp)
{
	unsigned long long v;
	unsigned int shift = 0;
	const char *unit;
	char *end;

	if (!s)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	unit = *end ? strchr(size_units, toupper((unsigned char)*end)) : NULL;
	if (unit) {
		shift = 10 * (unsigned int)(unit - size_units + 1);
		end++;
		if (toupper((unsigned char)end[0]) == 'I' && toupper((unsigned char)end[1]) == 'B')
			end += 2;
		else if (toupper((unsigned char)end[0]) == 'B')
			end++;
	} else if (toupper((unsigned char)*end) == 'B') {
		end++;
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytesp = (uint64_t)v << shift;
	return 0;
}

const char *size_format_exact(uint64_t bytes, char *buf, size_t len)
{
	int i;

	for (i = (int)sizeof(size_units) - 2; i >= 0; i--) {
		unsigned int shift = 10 * (unsigned int)(i + 1);

		if (bytes && (bytes & ((UINT64_C(1) << shift) - 1)) == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", bytes >> shift, size_units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%" PRIu64, bytes);
	return buf;
}

const char *size_format_iec(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	int i;

	for (i = 5; i >= 0; i--) {
		uint64_t unit = UINT64_C(1) << (10 * (i + 1));

		if (bytes < unit)
			continue;
		if (bytes % unit == 0)
			snprintf(buf, len, "%" PRIu64 " %s", bytes / unit, units[i]);
		else
			snprintf(buf, len, "%.1f %s", (double)bytes / (double)unit, units[i]);
		return buf;
	}
	snprintf(buf, len, "%" PRIu64 " B", bytes);
	return buf;
}
