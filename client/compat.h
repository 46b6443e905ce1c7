/* SPDX-License-Identifier: MIT */
/*
 * Kernel interface constants that older userspace headers lack. The library
 * probes for the features at run time (an old kernel answers EINVAL), so
 * building against old headers must not remove the code paths.
 */
#ifndef BHC_CLIENT_COMPAT_H
#define BHC_CLIENT_COMPAT_H

#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41 /* Linux 5.17, CONFIG_ANON_VMA_NAME */
#define PR_SET_VMA_ANON_NAME 0
#endif
#ifndef PR_GET_THP_DISABLE
#define PR_GET_THP_DISABLE 42
#endif

#endif /* BHC_CLIENT_COMPAT_H */
