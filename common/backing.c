/* SPDX-License-Identifier: MIT */
/* Names of region backings (backing.h). */
#include <bhc/arena-protocol.h>

#include "backing.h"

const char *backing_family(uint32_t backing)
{
	switch (backing) {
	case BHC_ARENA_BACKING_HUGETLB:
		return "hugetlb";
	case BHC_ARENA_BACKING_THP:
		return "thp";
	case BHC_ARENA_BACKING_SMALL:
		return "small";
	}
	return "none";
}

const char *backing_name(uint32_t backing, uint32_t page_shift)
{
	/* the hugetlb page sizes of x86-64, arm64, ppc64, s390 and riscv */
	static const char *const hugetlb[] = {
		[16] = "hugetlb-64K",  [19] = "hugetlb-512K", [20] = "hugetlb-1M",
		[21] = "hugetlb-2M",   [24] = "hugetlb-16M",  [25] = "hugetlb-32M",
		[29] = "hugetlb-512M", [30] = "hugetlb-1G",   [34] = "hugetlb-16G",
	};

	if (backing != BHC_ARENA_BACKING_HUGETLB)
		return backing_family(backing);
	if (page_shift < ARRAY_SIZE(hugetlb) && hugetlb[page_shift])
		return hugetlb[page_shift];
	return "hugetlb";
}
