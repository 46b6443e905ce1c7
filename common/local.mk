# common/: what the daemon, the library, bhc-arenactl, tests and benchmarks
# share (sizes, backing names, clocks, sysfs and hugetlb pools). Not
# installed: a convenience library linked into each of them; in
# libbhc-arena its symbols stay hidden (the version script exports
# bhc_arena_* alone).
noinst_LTLIBRARIES += common/libbhc-common.la
common_libbhc_common_la_SOURCES = \
	common/backing.c \
	common/backing.h \
	common/clock.h \
	common/size.c \
	common/size.h \
	common/sysfs.c \
	common/sysfs.h
