# systemd units, sysusers.d / tmpfiles.d snippets, sysctl example, default config.
systemdsystemunit_DATA = systemd/bhc-arenad.socket systemd/bhc-arenad.service
sysusers_DATA = systemd/bhc-arena.conf
tmpfiles_DATA = systemd/bhc-arena-tmpfiles.conf
bhcarenaconfdir = $(sysconfdir)/bhc-arena
dist_bhcarenaconf_DATA = systemd/arenad.conf
bhcarenaexampledir = $(docdir)/examples
dist_bhcarenaexample_DATA = systemd/60-bhc-arena-hugepages.conf.example

EXTRA_DIST += systemd/bhc-arenad.socket systemd/bhc-arenad.service.in \
	systemd/bhc-arena.sysusers systemd/bhc-arena.tmpfiles
CLEANFILES += systemd/bhc-arenad.service systemd/bhc-arena.conf systemd/bhc-arena-tmpfiles.conf

systemd/bhc-arenad.service: systemd/bhc-arenad.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/bhc-arenad.service.in > $@.tmp && mv $@.tmp $@
systemd/bhc-arena.conf: systemd/bhc-arena.sysusers
	$(AM_V_GEN)$(MKDIR_P) systemd && cp $(srcdir)/systemd/bhc-arena.sysusers $@
systemd/bhc-arena-tmpfiles.conf: systemd/bhc-arena.tmpfiles
	$(AM_V_GEN)$(MKDIR_P) systemd && cp $(srcdir)/systemd/bhc-arena.tmpfiles $@
