# bhc-arenactl: the admin CLI. Everything but main() is in a convenience
# library so that the unit tests exercise the same code.
noinst_LTLIBRARIES += client/libarenactl.la
client_libarenactl_la_SOURCES = \
	client/arenactl.h \
	client/arenactl-conn.c \
	client/arenactl-fmt.c \
	client/arenactl-prom.c \
	client/arenactl-show.c \
	client/arenactl-sys.c \
	client/arenactl-table.c
client_libarenactl_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
client_libarenactl_la_LIBADD = $(JSONC_LIBS)

bin_PROGRAMS += client/bhc-arenactl
client_bhc_arenactl_SOURCES = client/arenactl.c
client_bhc_arenactl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
client_bhc_arenactl_LDADD = client/libarenactl.la $(JSONC_LIBS)

dist_man_MANS += man/bhc-arenactl.8

# bash-completion looks the file up by the command's name.
arenactlcompletiondir = $(bashcompletiondir)
arenactlcompletion_DATA = client/completion/bhc-arenactl
client/completion/bhc-arenactl: $(srcdir)/client/bhc-arenactl.bash-completion
	$(AM_V_GEN)$(MKDIR_P) client/completion && cp $(srcdir)/client/bhc-arenactl.bash-completion $@
CLEANFILES += client/completion/bhc-arenactl
EXTRA_DIST += client/bhc-arenactl.bash-completion docs/ADMIN.md docs/arenactl-session.txt
