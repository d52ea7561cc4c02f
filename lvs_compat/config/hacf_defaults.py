"""The defaults of ha.cf's directives: heartbeat 3.0.6's ``WhichOptions`` table (config.c).

One table for two readers: ``heartbeat -D`` prints it as it is, and the ha.cf parser
(``hacf``) reads every text a file leaves unset through the directive's own handler, as C's
``parse_config`` does with ``add_option(name, default)``.  Kept apart from ``hacf`` (and so from
pyparsing) so that ``heartbeat -D`` starts quickly.  Directives whose defaults C computes from
others (``warntime``, ``initdead``, ``deadping``, ``use_logd``) or takes from elsewhere
(``udpport``: UDPPORT) are not in it, as in C.
"""

# (directive, default text, description), in the order and wording of `heartbeat -D` (LAB)
HA_CF_DEFAULTS = (
    ("cluster", "linux-ha", "the name of cluster"),
    ("hopfudge", "1", "# of hops above cluster size"),
    ("keepalive", "1000ms", "keepalive time"),
    ("deadtime", "30000ms", "node deadtime"),
    ("baud", "19200", "baud rate"),
    ("auto_failback", "legacy", "auto failback"),
    ("hbgenmethod", "file", "protocol generation computation method"),
    ("realtime", "true", "enable realtime behavior?"),
    ("msgfmt", "classic", "message format in the wire"),
    ("conn_logd_time", "60", "the interval to reconnect to logd"),
    ("log_badpack", "true", "warn about bad packets"),
    ("syslogmsgfmt", "true", "log to files in syslog format"),
    ("coredumps", "true", "enable Linux-HA core dumps"),
    ("pacemaker", "false", "enable Pacemaker resource management"),
    ("autojoin", "none", "set automatic join mode/style"),
    ("uuidfrom", "file", "set the source for uuid"),
    ("compression", "zlib", "set compression module"),
    ("compression_threshold", "2", "set compression threshold"),
    ("traditional_compression", "no", "set traditional_compression"),
    ("max_rexmit_delay", "250", "set the maximum rexmit delay time"),
    ("record_config_changes", "on", "record changes to the cib (valid only with: pacemaker on)"),
    ("record_pengine_inputs", "on",
     "record the input used by the policy engine (valid only with: pacemaker on)"),
    ("enable_config_writes", "on",
     "write configuration changes to disk (valid only with: pacemaker on)"),
    ("memreserve", "6500", "number of kbytes to preallocate in heartbeat"),
)


def default_text(directive: str) -> str:
    """The default of ``directive`` as ha.cf would spell it."""
    return next(text for name, text, _ in HA_CF_DEFAULTS if name == directive)
