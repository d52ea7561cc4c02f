"""mon monitors: verdict-for-verdict ports of mon 1.3.6's fping, http and ftp monitors.

One module per protocol (``fping``, ``http``, ``ftp``), each with a ``main()`` that
``mon.d/<name>.monitor`` calls; ``core`` holds the command line (Getopt::Std rules),
option defaults and output helpers; ``tcp`` checks many hosts at once in one thread
under one deadline; ``spawn`` runs programs (fping, traceroute) under a deadline.

Start-up cost matters (mon starts monitors every few seconds): nothing here imports
more than the invoked monitor needs, and nothing is imported by this file.
"""
