/* SPDX-License-Identifier: MIT */
/*
 * Valgrind client requests, or no-ops when the headers were not found at
 * configure time (HAVE_VALGRIND_MEMCHECK_H). The real macros cost a few
 * instructions outside Valgrind and are only used off the fast path.
 */
#ifndef BHC_CLIENT_VALGRIND_STUB_H
#define BHC_CLIENT_VALGRIND_STUB_H

#ifdef HAVE_VALGRIND_MEMCHECK_H
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
#else
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_CREATE_MEMPOOL(pool, rz, zeroed) ((void)0)
#define VALGRIND_DESTROY_MEMPOOL(pool) ((void)0)
#define VALGRIND_MEMPOOL_ALLOC(pool, addr, size) ((void)0)
#define VALGRIND_MEMPOOL_TRIM(pool, addr, size) ((void)0)
#define VALGRIND_MAKE_MEM_NOACCESS(addr, size) ((void)0)
#define VALGRIND_MAKE_MEM_DEFINED(addr, size) ((void)0)
#endif

#endif /* BHC_CLIENT_VALGRIND_STUB_H */
