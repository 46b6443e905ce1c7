# libFuzzer targets for the daemon's parsers of untrusted input:
#   fuzz/fuzz-proto   the message decoder and validator (daemon/proto.c)
#   fuzz/fuzz-config  the configuration parser (daemon/config.c)
#   fuzz/fuzz-admin   the admin request parser (daemon/admin.c)
# `make fuzz` builds them with clang (FUZZ_CC) and
# -fsanitize=fuzzer,address,undefined, compiling the daemon's own sources
# into each; scripts/fuzz-run.sh runs them on their seed corpora
# (fuzz/corpus/<target>/). They are built by hand, not as automake
# programs: their flags replace the user's CFLAGS (which may name another
# sanitizer, or gcc), and they are never part of `make all` or `make check`.
FUZZ_CC = clang
FUZZ_SAN = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
	-Wno-sign-compare -Wno-missing-field-initializers $(FUZZ_SAN)
FUZZ_CPPFLAGS = -include $(top_builddir)/config.h -I$(top_srcdir)/include \
	-I$(top_srcdir) -I$(top_srcdir)/daemon -D_GNU_SOURCE
FUZZ_TARGETS = fuzz/fuzz-proto fuzz/fuzz-config fuzz/fuzz-admin

# Every daemon source but main.c: admin.c refers to the rest of the daemon.
fuzz_daemon_srcs = \
	$(srcdir)/daemon/admin.c $(srcdir)/daemon/closer.c $(srcdir)/daemon/config.c \
	$(srcdir)/daemon/log.c \
	$(srcdir)/daemon/peer.c $(srcdir)/daemon/pool.c $(srcdir)/daemon/proto.c \
	$(srcdir)/daemon/ratelimit.c \
	$(srcdir)/daemon/region.c $(srcdir)/daemon/server.c $(srcdir)/daemon/uring.c \
	$(srcdir)/daemon/user.c $(srcdir)/daemon/reclaim.c $(srcdir)/daemon/job.c $(srcdir)/daemon/restore.c $(fuzz_common_srcs)
# What the daemon takes from common/.
fuzz_common_srcs = $(srcdir)/common/backing.c $(srcdir)/common/size.c $(srcdir)/common/sysfs.c
fuzz_daemon_hdrs = \
	$(srcdir)/daemon/admin.h $(srcdir)/daemon/closer.h $(srcdir)/daemon/config.h \
	$(srcdir)/daemon/list.h \
	$(srcdir)/daemon/log.h $(srcdir)/daemon/peer.h $(srcdir)/daemon/pool.h \
	$(srcdir)/daemon/proto.h $(srcdir)/daemon/ratelimit.h $(srcdir)/daemon/region.h \
	$(srcdir)/daemon/sd.h \
	$(srcdir)/daemon/server.h $(srcdir)/daemon/uring.h $(srcdir)/daemon/user.h \
	$(srcdir)/daemon/reclaim.h \
	$(srcdir)/daemon/job.h \
	$(srcdir)/daemon/restore.h \
	$(srcdir)/include/bhc/arena-protocol.h

fuzz/fuzz-proto: $(srcdir)/fuzz/fuzz-proto.c $(srcdir)/daemon/proto.c $(fuzz_daemon_hdrs) config.h
	@$(MKDIR_P) fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -o $@ \
		$(srcdir)/fuzz/fuzz-proto.c $(srcdir)/daemon/proto.c $(fuzz_common_srcs)

fuzz/fuzz-config: $(srcdir)/fuzz/fuzz-config.c $(srcdir)/daemon/config.c \
		$(srcdir)/daemon/log.c $(fuzz_daemon_hdrs) config.h
	@$(MKDIR_P) fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(INIH_CFLAGS) $(FUZZ_CFLAGS) -o $@ \
		$(srcdir)/fuzz/fuzz-config.c $(srcdir)/daemon/config.c $(srcdir)/daemon/log.c \
		$(fuzz_common_srcs) \
		$(INIH_LIBS)

fuzz/fuzz-admin: $(srcdir)/fuzz/fuzz-admin.c $(fuzz_daemon_srcs) $(fuzz_daemon_hdrs) config.h
	@$(MKDIR_P) fuzz
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(LIBUV_CFLAGS) $(LIBURING_CFLAGS) \
		$(INIH_CFLAGS) $(JSONC_CFLAGS) $(LIBSYSTEMD_CFLAGS) $(FUZZ_CFLAGS) -o $@ \
		$(srcdir)/fuzz/fuzz-admin.c $(fuzz_daemon_srcs) \
		$(LIBUV_LIBS) $(LIBURING_LIBS) $(INIH_LIBS) $(JSONC_LIBS) $(LIBSYSTEMD_LIBS)

fuzz: $(FUZZ_TARGETS)
PHONY_TARGETS += fuzz
CLEANFILES += $(FUZZ_TARGETS)
EXTRA_DIST += fuzz/fuzz-proto.c fuzz/fuzz-config.c fuzz/fuzz-admin.c fuzz/corpus \
	scripts/fuzz-run.sh
