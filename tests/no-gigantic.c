/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for tests: a kernel without 1 GiB hugepages, on a kernel
 * that has them. Such a kernel has no
 * /sys/kernel/mm/hugepages/hugepages-1048576kB, and memfd_create() with
 * MFD_HUGE_1GB fails with ENODEV (no hstate of that size); the shim makes
 * both so, and passes everything else through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <linux/memfd.h>

#define GIGANTIC_DIR "hugepages-1048576kB"

__attribute__((visibility("default"))) int memfd_create(const char *name, unsigned int flags);
__attribute__((visibility("default"))) FILE *fopen(const char *path, const char *mode);
__attribute__((visibility("default"))) int open(const char *path, int flags, ...);
__attribute__((visibility("default"))) int open64(const char *path, int flags, ...);
__attribute__((visibility("default"))) FILE *fopen64(const char *path, const char *mode);

int memfd_create(const char *name, unsigned int flags)
{
	static int (*real)(const char *, unsigned int);

	if ((flags & MFD_HUGETLB) &&
	    ((flags >> MFD_HUGE_SHIFT) & MFD_HUGE_MASK) == (MFD_HUGE_1GB >> MFD_HUGE_SHIFT)) {
		errno = ENODEV;
		return -1;
	}
	if (!real)
		real = (int (*)(const char *, unsigned int))dlsym(RTLD_NEXT, "memfd_create");
	return real(name, flags);
}

static FILE *open_or_hide(const char *sym, const char *path, const char *mode)
{
	FILE *(*real)(const char *, const char *);

	if (path && strstr(path, GIGANTIC_DIR)) {
		errno = ENOENT;
		return NULL;
	}
	real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, sym);
	return real(path, mode);
}

FILE *fopen(const char *path, const char *mode)
{
	return open_or_hide("fopen", path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
	return open_or_hide("fopen64", path, mode);
}

static int open_or_hide_fd(const char *sym, const char *path, int flags, va_list ap)
{
	int (*real)(const char *, int, ...);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;

	if (path && strstr(path, GIGANTIC_DIR)) {
		errno = ENOENT;
		return -1;
	}
	real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, sym);
	return real(path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_or_hide_fd("open", path, flags, ap);
	va_end(ap);
	return r;
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_or_hide_fd("open64", path, flags, ap);
	va_end(ap);
	return r;
}
