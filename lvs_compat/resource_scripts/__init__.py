"""heartbeat resource scripts: ``lvs`` (the IPVS table from mon.cf's lvs.alert lines), ``mon``
and ``LVSSyncDaemonSwap``.  Each ``ha.d/resource.d/<name>`` file only hands argv to a ``main()``
here."""
