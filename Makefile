# lvs-compat: the two commands a newcomer runs are `make demo` and `make test`.
# Both install what they need (Debian packages, then a virtualenv with the
# Python dependencies) and are safe to run again.

# The interpreter of the installed programs' shebang: Debian's python3 starts
# in ~20 ms; the virtualenv below is built from the same interpreter.
PYTHON  ?= /usr/bin/python3
VENV    ?= .venv
VPY     := $(VENV)/bin/python

# Debian packages: the real tools we compare against and the servers tests run.
DEBS    := mon heartbeat fping ipvsadm vsftpd socat tcpdump iproute2 perl python3-venv nftables qemu-system-x86 busybox-static kmod cpio xz-utils file net-tools pacemaker-cli-utils corosync keepalived resource-agents pacemaker crmsh lintian
# Only for make test-slow: pcs (with Ruby, 32 packages, about 40 s of set-up on a fresh machine)
# checks export pacemaker --format pcs by running it (tests/test_export_pcs.py).
DEBS_SLOW := pcs
# Booting Debian 12 with systemd as PID 1 for the .deb's test (tools/debian-boot): mmdebstrap,
# and systemd-nspawn pinned to the host's systemd (the newest one would upgrade the host's systemd).
SYSTEMD_VERSION := $(shell dpkg-query -W -f='$${Version}' systemd 2>/dev/null)
DEBS    += mmdebstrap $(if $(SYSTEMD_VERSION),systemd-container=$(SYSTEMD_VERSION))

PREFIX  ?= /usr
DESTDIR ?=
LIBDIR      ?= $(PREFIX)/lib/lvs-compat
BINDIR      ?= $(PREFIX)/bin
MON_MONDIR  ?= $(PREFIX)/lib/mon/mon.d
MON_ALERTDIR ?= $(PREFIX)/lib/mon/alert.d
HB_LIBEXEC  ?= $(PREFIX)/libexec/heartbeat
SYSCONFDIR  ?= /etc
HA_RESOURCEDIR ?= $(SYSCONFDIR)/ha.d/resource.d
SYSTEMD_UNITDIR ?= /lib/systemd/system
# The OCF agent `lvs-compat export pacemaker` names (ocf:lvs-compat:lvs): Pacemaker looks in
# /usr/lib/ocf/resource.d whatever PREFIX is (lvs_compat/export/ocf_agent.py AGENT_INSTALL_PATH).
OCF_AGENTDIR ?= /usr/lib/ocf/resource.d/lvs-compat
# make uninstall's first step (tests run it with DIVERT=true on a staged tree)
DIVERT ?= tools/divert

# bin/cl_status is a developer tool (it reads our daemon's control socket, e.g. in the lab), not
# installed: Debian's C cl_status stays at /usr/bin/cl_status and works against our daemon.
PROGRAMS := $(filter-out bin/heartbeat bin/lvs-compat-demo bin/cl_status,$(wildcard bin/*))
MONITORS := $(wildcard mon.d/*.monitor)
ALERTS   := $(wildcard alert.d/*.alert)
DAEMON   := $(wildcard bin/heartbeat)
RESOURCE_SCRIPTS := $(wildcard ha.d/resource.d/*)
# The programs an operator may copy alone over Debian's (tools/build-dropins): one file each,
# the library inside, in $(DROPIN_BUILD) and installed to $(DROPINDIR), same relative paths.
DROPINS  := $(MONITORS) $(ALERTS) $(DAEMON) $(filter bin/hb_standby bin/hb_takeover,$(PROGRAMS))
DROPIN_BUILD := build/dropins
DROPINDIR ?= $(PREFIX)/share/lvs-compat/dropins

DEMO_DIR := build/demo

.PHONY: all deps venv dropins test test-slow demo install uninstall deb clean fuzz soak

all: venv dropins

# make dropins: build/dropins/mon.d/http.monitor etc., each a single file that works when copied
# alone into /usr/lib/mon/mon.d, alert.d or over /usr/libexec/heartbeat/heartbeat.
dropins: venv
	$(VPY) tools/build-dropins --python $(PYTHON) --out $(DROPIN_BUILD) $(DROPINS)

deps:
	tools/apt-install $(DEBS)

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel
	$(VPY) -m pip install -q -e '.[test]'
	touch $@

venv: deps $(VENV)/.installed

# LVS_COMPAT_LANE=on: the fuzz and simulator layers run in a second pytest process once the
# background guests are done and a core is free (tests/second_lane.py).
test: venv
	LVS_COMPAT_LANE=on $(VPY) -m pytest

# Tests kept out of make test for their length (pytest -m slow): the half-migrated pair's
# soak (3.0.6 home + ours, two rounds of every fault), about 5 minutes.
test-slow: venv
	tools/apt-install $(DEBS_SLOW)
	$(VPY) -m pytest -m slow

# The seed's scenario end to end (lvs_compat/demo): two directors with our heartbeat, two
# web servers, a client, real IPVS (in the tools/ipvs-vm guest when this kernel has none),
# Debian's mon with our monitors and lvs.alert, connection sync across the failover.
# Narrates live; the timeline, record.json and timeline.png go to $(DEMO_DIR).
# DEMO_FLAGS=--fast runs the CI test's shorter timers.
demo:
	@$(PYTHON) bin/lvs-compat-demo --preflight
	$(MAKE) --no-print-directory venv
	$(VPY) bin/lvs-compat-demo --out $(DEMO_DIR) $(DEMO_FLAGS)

# make soak [SOAK_MINUTES=10] [SOAK_SEED=N]: chaos soak of two directors and a client in network
# namespaces (soak/run.py): kill -9, SIGSTOP longer than deadtime, links down, tc netem loss and
# delay, heartbeat -r; samples the VIP holders and the client every 100 ms and prints the figures.
# Runs in the tools/ipvs-vm guest when this kernel has no sch_netem.  Not part of make test
# (tests/test_soak.py runs two rounds of faults there).  Results go to $(SOAK_DIR).
# SOAK_PEER=c: the home director runs Debian's heartbeat 3.0.6, the backup ours (half migrated).
SOAK_MINUTES ?= 10
SOAK_SEED ?=
SOAK_PEER ?= ours
SOAK_DIR := build/soak
soak: venv
	$(VPY) soak/run.py --minutes $(SOAK_MINUTES) --peer $(SOAK_PEER) --out $(SOAK_DIR) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

# make install [DESTDIR=/staging] [PREFIX=/usr]
# The library and its pure-Python dependencies go to LIBDIR; every program
# gets "#!$(PYTHON) -IS" and LIBDIR pinned, so it needs no virtualenv.
install: venv dropins
	# On the live system, Debian's files we replace are moved aside first (tools/divert: dpkg
	# knows of the move, apt upgrades them there; the ones an older make install replaced and
	# this one does not, /usr/bin/cl_status, given back); refused while the .deb is installed.
	if [ -z "$(DESTDIR)" ] && [ "$(PREFIX)" = /usr ] && command -v dpkg-divert >/dev/null; then \
	    tools/divert add; fi
	rm -rf $(DESTDIR)$(LIBDIR)
	$(VPY) -m pip install -q --no-compile --no-build-isolation --target $(DESTDIR)$(LIBDIR) .
	rm -rf $(DESTDIR)$(LIBDIR)/bin
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MON_MONDIR) $(DESTDIR)$(MON_ALERTDIR) $(DESTDIR)$(HA_RESOURCEDIR)
	for f in $(PROGRAMS); do tools/install-program $(PYTHON) $(LIBDIR) $$f $(DESTDIR)$(BINDIR); done
	for f in $(MONITORS); do tools/install-program $(PYTHON) $(LIBDIR) $$f $(DESTDIR)$(MON_MONDIR); done
	for f in $(ALERTS); do tools/install-program $(PYTHON) $(LIBDIR) $$f $(DESTDIR)$(MON_ALERTDIR); done
	for f in $(RESOURCE_SCRIPTS); do tools/install-program $(PYTHON) $(LIBDIR) $$f $(DESTDIR)$(HA_RESOURCEDIR); done
	for f in $(DROPINS); do install -D -m 755 $(DROPIN_BUILD)/$$f $(DESTDIR)$(DROPINDIR)/$$f; done
	# ocf:lvs-compat:lvs, running the lvs resource script installed above
	install -d $(DESTDIR)$(OCF_AGENTDIR)
	$(VPY) -c 'import sys; from lvs_compat.export.ocf_agent import agent_text; sys.stdout.write(agent_text(lvs_script=sys.argv[1]))' \
	    $(HA_RESOURCEDIR)/lvs >$(DESTDIR)$(OCF_AGENTDIR)/lvs.tmp
	chmod 755 $(DESTDIR)$(OCF_AGENTDIR)/lvs.tmp
	mv $(DESTDIR)$(OCF_AGENTDIR)/lvs.tmp $(DESTDIR)$(OCF_AGENTDIR)/lvs
ifneq ($(DAEMON),)
	install -d $(DESTDIR)$(HB_LIBEXEC) $(DESTDIR)$(SYSTEMD_UNITDIR)/heartbeat.service.d
	tools/install-program $(PYTHON) $(LIBDIR) $(DAEMON) $(DESTDIR)$(HB_LIBEXEC)
	install -m 644 tools/deb/heartbeat.service.conf $(DESTDIR)$(SYSTEMD_UNITDIR)/heartbeat.service.d/lvs-compat.conf
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
endif

# make uninstall: undo a live make install (PREFIX=/usr): ours removed, Debian's originals
# renamed back (tools/divert remove, also /usr/bin/cl_status an older make install replaced);
# refused while our heartbeat runs or the .deb is installed.
uninstall:
	$(DIVERT) remove
	rm -f $(addprefix $(BINDIR)/,$(notdir $(PROGRAMS))) \
	    $(addprefix $(MON_ALERTDIR)/,$(notdir $(ALERTS))) \
	    $(addprefix $(HA_RESOURCEDIR)/,$(notdir $(RESOURCE_SCRIPTS))) \
	    $(SYSTEMD_UNITDIR)/heartbeat.service.d/lvs-compat.conf $(OCF_AGENTDIR)/lvs
	rmdir $(SYSTEMD_UNITDIR)/heartbeat.service.d $(OCF_AGENTDIR) 2>/dev/null || true
	rm -rf $(LIBDIR) $(DROPINDIR)
	if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

# make deb: build/lvs-compat_VERSION_all.deb, the make install tree (PREFIX=/usr) as a Debian
# package that diverts the files of heartbeat and mon it replaces (tools/deb/diverted) and gives
# them back on removal (tools/build-deb), then lintian on it (its remaining tags: README).
DEB_STAGE := build/deb/root
deb: venv
	rm -rf build/deb
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_STAGE) PREFIX=/usr
	tools/build-deb $(DEB_STAGE) build
	lintian --fail-on warning --suppress-tags-from-file tools/deb/lintian-overrides build/lvs-compat_*_all.deb

# make fuzz [FUZZ_SECONDS=120] [FUZZ_TARGETS=moncf,wire]: coverage-guided fuzzing of the config
# parsers and the heartbeat decoder, FUZZ_SECONDS per target, one target per CPU (not part
# of make test; reads the seeds from ../shared).  atheris is installed into the venv on demand;
# where it cannot be, fuzz/run.py runs the same mutations unguided (--engine random).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?= moncf,period,hacf,haresources,authkeys,wire
fuzz: venv
	$(VPY) -c 'import atheris' 2>/dev/null || $(VPY) -m pip install -q atheris || \
	    echo "make fuzz: atheris does not install here; unguided mutations instead"
	engine=atheris; $(VPY) -c 'import atheris' 2>/dev/null || engine=random; \
	$(VPY) fuzz/run.py --engine $$engine --seconds $(FUZZ_SECONDS) --targets $(FUZZ_TARGETS)

clean:
	rm -rf build $(VENV) *.egg-info
