"""ha.d/resource.d/LVSSyncDaemonSwap: IPVS connection synchronisation follows the active role.

heartbeat's own LVSSyncDaemonSwap (heartbeat 1.x ``resource.d``), for the seed's stack, which
never used it: the active director runs the *master* sync daemon (it multicasts its connection
table), the standby the *backup* one (it builds a copy), so that established connections survive
a director failover (the seed HOWTO's admitted flaw).

``LVSSyncDaemonSwap [master] [INTERFACE] start|stop|status``

* ``start``: stop the backup daemon, start the master one (``ipvsadm --start-daemon master
  --mcast-interface INTERFACE``, default eth0 as ipvsadm's own default);
* ``stop``: stop the master daemon, start the backup one (the node becomes a standby that keeps
  listening, so a later takeover finds the active node's connections);
* ``status``: ``running`` (exit 0) when the master daemon runs, else ``stopped`` (exit 3).

Each boot must start the backup daemon once (``ipvsadm --start-daemon backup``), as the
original's documentation asks of the init scripts; heartbeat only calls start on the node that
takes the group and stop on the one that gives it up.
"""

from __future__ import annotations

import sys

from lvs_compat import ipvs

PROGRAM = "LVSSyncDaemonSwap"
USAGE = f"usage: {PROGRAM} [master] [INTERFACE] {{start|stop|status}}"
DEFAULT_INTERFACE = "eth0"


def running_daemons(ipvsadm: ipvs.Ipvsadm) -> set[str]:
    """``{"master", "backup"}`` or a part of it, from ``ipvsadm -L --daemon``."""
    found = set()
    for line in ipvsadm.run(["-L", "--daemon"]).splitlines():
        words = line.split()
        if words and words[0] in ("master", "backup"):
            found.add(words[0])
    return found


def roles() -> set[str]:
    """The sync daemons running in the caller's network namespace (the demo's narrator)."""
    return running_daemons(ipvs.Ipvsadm())


def set_role(ipvsadm: ipvs.Ipvsadm, role: str, interface: str) -> None:
    other = "backup" if role == "master" else "master"
    present = running_daemons(ipvsadm)
    if other in present:
        ipvsadm.run(["--stop-daemon", other])
    if role not in present:
        ipvsadm.run(["--start-daemon", role, "--mcast-interface", interface])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[-1] not in ("start", "stop", "status"):
        sys.stderr.write(USAGE + "\n")
        return 2
    args, action = list(argv[:-1]), argv[-1]
    if args and args[0] == "master":
        args.pop(0)
    if len(args) > 1:
        sys.stderr.write(USAGE + "\n")
        return 2
    interface = args[0] if args else DEFAULT_INTERFACE
    ipvsadm = ipvs.Ipvsadm()
    try:
        if action == "status":
            running = "master" in running_daemons(ipvsadm)
            print("running" if running else "stopped")
            return 0 if running else 3
        set_role(ipvsadm, "master" if action == "start" else "backup", interface)
    except ipvs.IpvsadmError as error:
        sys.stderr.write(f"{PROGRAM}: {error.command} failed (exit {error.status}): "
                         f"{error.message.strip()}\n")
        return 1
    print(f"{PROGRAM}: {'master' if action == 'start' else 'backup'} sync daemon on {interface}",
          flush=True)
    return 0
