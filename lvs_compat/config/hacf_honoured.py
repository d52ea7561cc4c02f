"""Which ha.cf directives lvs-compat's heartbeat does not honour, and what an operator loses.

heartbeat 3.0.6 knows every directive of ``hacf.DIRECTIVES`` (config.c ``Directives`` and
``WLdirectives``).  The parser reads them all as C does, so that a file means the same to both
daemons; the ones below are read but *not acted on* by ours.  Each line that uses one gets a
located warning (issue 16 item 3), printed by ``lvs-compat check`` and logged at the daemon's
start-up: ``PATH:LINE:COL: warning: DIRECTIVE: not honoured by lvs-compat heartbeat: WHAT``.

A directive is listed only when the file asks for something we do not do: ``use_logd off`` or
``syslogmsgfmt on`` is what ours does anyway.  Not listed, although ours does nothing with them:
the Pacemaker-only directives (``crm_daemon_dir``, ``crmd_spawns_pengine``,
``record_config_changes``, ``record_pengine_inputs``, ``enable_config_writes``), which C ignores
too when ``pacemaker`` is off, and ``pacemaker``/``crm`` on, which the daemon refuses outright
(``hadir.load_heartbeat_dir``) and the parser already warns about.

Kept apart from ``hacf``: the list has one home, and the README's table says the same.
"""

from __future__ import annotations

from .errors import ConfigWarning

NOT_HONOURED_BY = "not honoured by lvs-compat heartbeat"


def _false(word: str) -> bool:
    return word.lower() in ("false", "off", "no", "n", "0")


def _true(word: str) -> bool:
    return word.lower() in ("true", "on", "yes", "y", "1")


# directive: (does this line ask for something we do not do? (its words), consequence)
_ALWAYS = lambda words: True  # noqa: E731 - a table of predicates reads best inline

NOT_HONOURED = {
    "stonith": (_ALWAYS, "a dead peer is never fenced (reset or powered off) before its "
                "resource groups are taken over"),
    "stonith_host": (_ALWAYS, "a dead peer is never fenced (reset or powered off) before its "
                     "resource groups are taken over"),
    "watchdog": (_ALWAYS, "the watchdog device is never opened, so a hung heartbeat does not "
                 "reboot this node"),
    "ucast6": (_ALWAYS, "IPv6 media are not implemented: the daemon refuses to start"),
    "mcast6": (_ALWAYS, "IPv6 media are not implemented: the daemon refuses to start"),
    "ping6": (_ALWAYS, "IPv6 ping nodes are not implemented: the node always counts as dead"),
    "use_logd": (lambda words: any(_true(word) for word in words),
                 "log lines go to logfile, debugfile and logfacility (else stderr), never to "
                 "ha_logd"),
    "conn_logd_time": (_ALWAYS, "there is no ha_logd connection to retry"),
    "use_apphbd": (lambda words: any(_true(word) for word in words),
                   "heartbeat does not register with apphbd"),
    "syslogmsgfmt": (lambda words: any(_false(word) for word in words),
                     "log files are always written in syslog format"),
    "coredumps": (_ALWAYS, "core dumps are left to the system's settings (ulimit, "
                  "core_pattern)"),
    "coreroot": (_ALWAYS, "core dumps are left to the system's settings (ulimit, core_pattern)"),
    "memreserve": (_ALWAYS, "no memory is preallocated"),
    "compression": (_ALWAYS, "messages are never compressed (v1 messages stay far below the "
                    "threshold)"),
    "compression_threshold": (_ALWAYS, "messages are never compressed (v1 messages stay far "
                              "below the threshold)"),
    "traditional_compression": (_ALWAYS, "messages are never compressed (v1 messages stay far "
                                "below the threshold)"),
}

# respawn/failfast run an argv list (STYLE: no shell); C runs "exec COMMAND" with /bin/sh -c
# (heartbeat.c:4130-4140), so shell syntax in the command means something else to ours
SHELL_SYNTAX = set("'\"`$\\;|&<>*?~(){}[]")


def unhonoured_warnings(directives) -> list[ConfigWarning]:
    """One warning per ha.cf line whose directive ours does not honour (``hacf.Directive``
    items, in file order)."""
    warnings = []
    for directive in directives:
        name = "bcast" if directive.name == "udp" else directive.name
        if name in NOT_HONOURED:
            applies, consequence = NOT_HONOURED[name]
            if applies(directive.args):
                warnings.append(ConfigWarning(directive.location,
                                              f"{name}: {NOT_HONOURED_BY}: {consequence}"))
        elif name in ("respawn", "failfast") and len(directive.args) > 1:
            command = " ".join(directive.args[1:])
            used = sorted(set(command) & SHELL_SYNTAX)
            if used:
                warnings.append(ConfigWarning(
                    directive.location, f"{name}: the command is run without a shell (its "
                    f"words split at blanks); heartbeat 3.0.6 hands it to /bin/sh, so "
                    f"[{''.join(used)}] means something else here"))
    return warnings
