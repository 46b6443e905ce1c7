/* SPDX-License-Identifier: MIT */
/*
 * Byte sizes as people write them, for the daemon's configuration, the
 * library's environment and bhc-arenactl alike: one grammar, two ways of
 * printing.
 */
#ifndef BHC_COMMON_SIZE_H
#define BHC_COMMON_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* Room for any size_format_*() result. */
#define SIZE_BUF 32

/**
 * size_parse() - "<digits>[K|M|G|T|P|E][iB|B]" or "<digits>[B]", binary
 * multiples, case-insensitive, blanks around ignored, into *@bytesp. Zero is
 * a size: a caller that wants more says so. Returns 0, -EINVAL for anything
 * else, -ERANGE if it does not fit 64 bits.
 */
int size_parse(const char *s, uint64_t *bytesp);

/** size_format_exact() - the shortest exact form size_parse() reads back: "4G", "1536M", "4097". */
const char *size_format_exact(uint64_t bytes, char *buf, size_t len);

/** size_format_iec() - for people: "64 MiB", "1.5 GiB", "4096 B". */
const char *size_format_iec(uint64_t bytes, char *buf, size_t len);

#endif
