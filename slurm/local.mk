# The Slurm SPANK plugin bhc_arena.so (configure --with-slurm; bhc-arena-slurm(8)).
# It speaks to the daemon through the admin client of bhc-arenactl.
if HAVE_SLURM
slurmplugin_LTLIBRARIES = slurm/bhc_arena.la
slurm_bhc_arena_la_SOURCES = slurm/bhc_arena.c ctl/arenactl.h ctl/conn.c \
	ctl/fmt.c
slurm_bhc_arena_la_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
slurm_bhc_arena_la_LIBADD = common/libbhc-common.la $(JSONC_LIBS)
slurm_bhc_arena_la_LDFLAGS = -module -avoid-version -shared

# Slurm loads bhc_arena.so; the libtool archive is of no use in its plugin directory.
install-data-hook: slurm-remove-la
slurm-remove-la:
	rm -f $(DESTDIR)$(slurmplugindir)/bhc_arena.la
uninstall-hook: slurm-uninstall-so
slurm-uninstall-so:
	rm -f $(DESTDIR)$(slurmplugindir)/bhc_arena.so
PHONY_TARGETS += slurm-remove-la slurm-uninstall-so
else
EXTRA_DIST += slurm/bhc_arena.c
endif

# A real single-node Slurm with the plugin (skips without Slurm, or without root).
TESTS += tests/check_slurm.sh
dist_check_SCRIPTS += tests/check_slurm.sh
