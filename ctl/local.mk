# bhc-arenactl: the admin CLI. Everything but main() is in a convenience
# library so that the unit tests exercise the same code.
noinst_LTLIBRARIES += ctl/libarenactl.la
ctl_libarenactl_la_SOURCES = \
	ctl/arenactl.h \
	ctl/conn.c \
	ctl/fmt.c \
	ctl/prom.c \
	ctl/show.c \
	ctl/sys.c \
	ctl/table.c
ctl_libarenactl_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
ctl_libarenactl_la_LIBADD = common/libbhc-common.la $(JSONC_LIBS)

bin_PROGRAMS += ctl/bhc-arenactl
ctl_bhc_arenactl_SOURCES = ctl/main.c
ctl_bhc_arenactl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
ctl_bhc_arenactl_LDADD = ctl/libarenactl.la $(JSONC_LIBS)

dist_man_MANS += man/bhc-arenactl.8

# bash-completion looks the file up by the command's name.
arenactlcompletiondir = $(bashcompletiondir)
arenactlcompletion_DATA = ctl/completion/bhc-arenactl
ctl/completion/bhc-arenactl: $(srcdir)/ctl/bhc-arenactl.bash-completion
	$(AM_V_GEN)$(MKDIR_P) ctl/completion && cp $(srcdir)/ctl/bhc-arenactl.bash-completion $@
CLEANFILES += ctl/completion/bhc-arenactl
EXTRA_DIST += ctl/bhc-arenactl.bash-completion docs/ADMIN.md docs/arenactl-session.txt
