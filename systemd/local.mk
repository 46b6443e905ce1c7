# systemd units, sysusers.d / tmpfiles.d snippets, sysctl example, default config.
systemdsystemunit_DATA = systemd/bhc-arenad.socket systemd/bhc-arenad.service
dist_sysusers_DATA = systemd/sysusers.d/bhc-arena.conf
dist_tmpfiles_DATA = systemd/tmpfiles.d/bhc-arena.conf
bhcarenaconfdir = $(sysconfdir)/bhc-arena
dist_bhcarenaconf_DATA = systemd/arenad.conf
bhcarenaexampledir = $(docdir)/examples
dist_bhcarenaexample_DATA = systemd/60-bhc-arena-hugepages.conf.example

EXTRA_DIST += systemd/bhc-arenad.socket systemd/bhc-arenad.service.in
CLEANFILES += systemd/bhc-arenad.service

systemd/bhc-arenad.service: systemd/bhc-arenad.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
		$(srcdir)/systemd/bhc-arenad.service.in > $@.tmp && mv $@.tmp $@

# systemd's own socket-activation tool starting the daemon on demand.
TESTS += tests/check_socket_activation.sh
dist_check_SCRIPTS += tests/check_socket_activation.sh
# (READY=1 / STATUS= / STOPPING=1 / WATCHDOG=1 are checked by
# tests/check_daemon_cli.c against a test NOTIFY_SOCKET.)
EXTRA_DIST += scripts/check-install.sh tests/install-manifest.txt
