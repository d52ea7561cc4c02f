"""heartbeat resource scripts beyond ``lvs`` (which lives with lvs.alert): ``mon`` and
``LVSSyncDaemonSwap``.  Each ``ha.d/resource.d/<name>`` file only hands argv to a ``main()``
here."""
