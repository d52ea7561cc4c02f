"""Fuzzing of the config parsers and the heartbeat wire decoder (issue 8, item 2).

Tooling only: the product never imports this package.  ``corpus`` builds the seed corpus from
the reference files (it reads ``../shared`` and Debian's samples at run time), ``mutate`` holds
the structure-aware mutations shared by the quick hypothesis tests and the atheris driver,
``targets`` the per-parser checks that tell a documented refusal from a bug, and ``run`` the
coverage-guided driver behind ``make fuzz``.
"""
