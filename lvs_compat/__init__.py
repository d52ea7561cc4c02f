"""lvs-compat: Python drop-ins for the classic Linux Virtual Server HA stack.

Sub-packages each have one job (see ../shared/STYLE.md):
  config/     parse mon.cf, ha.cf, haresources and authkeys into frozen dataclasses
  cli         the ``lvs-compat`` command (``lvs-compat check``)
"""

__version__ = "0.1.0"
