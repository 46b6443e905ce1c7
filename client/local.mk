# libbhc-arena: the client library (arena, scopes, thread arenas, region sources).
lib_LTLIBRARIES += client/libbhc-arena.la
client_libbhc_arena_la_SOURCES = \
	client/arena.c \
	client/arena-internal.h \
	client/retain.c \
	client/checked.c \
	client/compat.h \
	client/conn.c \
	client/fork.c \
	client/conn.h \
	client/source.c \
	client/source.h \
	client/source-daemon.c \
	client/source-local.c \
	client/thread.c \
	client/valgrind-stub.h
client_libbhc_arena_la_LIBADD = common/libbhc-common.la
client_libbhc_arena_la_LDFLAGS = \
	-version-info $(LIBBHC_ARENA_LT_VERSION) \
	-Wl,--version-script=$(srcdir)/client/libbhc-arena.sym
# relink when the exported symbol list changes
EXTRA_client_libbhc_arena_la_DEPENDENCIES = client/libbhc-arena.sym
EXTRA_DIST += client/libbhc-arena.sym

dist_man_MANS += man/bhc_arena.3 \
	man/bhc_arena_new.3 \
	man/bhc_arena_new_opts.3 \
	man/bhc_arena_free.3 \
	man/bhc_arena_alloc.3 \
	man/bhc_arena_alloc_array.3 \
	man/bhc_arena_alloc_zeroed.3 \
	man/bhc_arena_reset.3 \
	man/bhc_arena_stats.3 \
	man/bhc_arena_scope_enter.3 \
	man/bhc_arena_scope_leave.3 \
	man/bhc_with_arena.3 \
	man/bhc_arena_thread.3
