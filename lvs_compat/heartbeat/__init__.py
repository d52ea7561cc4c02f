"""heartbeat: a wire-compatible replacement for Linux-HA heartbeat 3.0.6 (v1 / haresources mode).

``wire`` is the message codec (bytes <-> ``Message``, both framings, both authentication codes)
and ``auth`` the digests of the HBauth plugins; both are pure (no sockets, no clock, no files)
and import only the standard library.  The membership logic is pure too; sockets, serial ports,
timers and subprocesses live in a thin shell around them (see ``../shared/STYLE.md``).

Nothing is imported by this file, so that a program pays only for what it uses.
"""

VERSION = "3.0.6"          # the heartbeat we are wire- and command-compatible with
PRODUCT = "lvs-compat"
