# bhc-arenad: the region daemon.
sbin_PROGRAMS += daemon/bhc-arenad

daemon_bhc_arenad_SOURCES = \
	daemon/main.c \
	daemon/admin.c daemon/admin.h \
	daemon/closer.c daemon/closer.h \
	daemon/config.c daemon/config.h \
	daemon/job.c daemon/job.h \
	daemon/list.h \
	daemon/log.c daemon/log.h \
	daemon/peer.c daemon/peer.h \
	daemon/pool.c daemon/pool.h \
	daemon/proto.c daemon/proto.h \
	daemon/ratelimit.c daemon/ratelimit.h \
	daemon/reclaim.c daemon/reclaim.h \
	daemon/region.c daemon/region.h \
	daemon/restore.c daemon/restore.h \
	daemon/sd.h \
	daemon/server.c daemon/server.h \
	daemon/uring.c daemon/uring.h \
	daemon/user.c daemon/user.h
daemon_bhc_arenad_CFLAGS = $(AM_CFLAGS) $(LIBUV_CFLAGS) $(LIBURING_CFLAGS) $(INIH_CFLAGS) \
	$(LIBSYSTEMD_CFLAGS) $(JSONC_CFLAGS)
daemon_bhc_arenad_LDADD = common/libbhc-common.la $(LIBUV_LIBS) $(LIBURING_LIBS) $(INIH_LIBS) $(LIBSYSTEMD_LIBS) $(JSONC_LIBS)

dist_man_MANS += man/bhc-arenad.8
EXTRA_DIST += docs/PROTOCOL.md
