"""What an lvs.alert verdict does to the IPVS table: pure decisions, no I/O.

The alert first makes the seed's own ipvsadm call (``first_attempt``), so in
the common case it runs exactly what lvs.alert.pl ran, once.  Only if ipvsadm
refuses does the alert read the live table and ask ``plan`` what the verdict
means given that table:

* up, server present: edit its weight and method (``-e``), or nothing if they
  already match;
* down, server (or whole service) absent: nothing, and say so;
* up, service absent: create it when ``-B`` asked for it, else report
  ipvsadm's error;
* quiesce (``-Q``): down sets weight 0 rather than deleting; up restores it.

If the table says the first attempt should have worked, the failure is real
and ``plan`` returns no change with ``explained=False``: the caller reports
ipvsadm's message.
"""

from lvs_compat import ipvs
from lvs_compat.lvsalert.options import LvsAlertOptions


class Change:
    """One ipvsadm call and the log line that describes it."""

    __slots__ = ("args", "description")

    def __init__(self, args: list[str], description: str):
        self.args = args
        self.description = description

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Change) and self.args == other.args

    def __repr__(self) -> str:
        return f"Change({self.args!r}, {self.description!r})"


class Plan:
    """The changes to make; ``note`` says why there are none; ``explained`` is
    False when the table does not explain why the first attempt failed."""

    __slots__ = ("changes", "note", "explained")

    def __init__(self, changes: list[Change], note: str = "", explained: bool = True):
        self.changes = changes
        self.note = note
        self.explained = explained

    def __repr__(self) -> str:
        return f"Plan({self.changes!r}, note={self.note!r}, explained={self.explained})"


def service_name(request: LvsAlertOptions) -> str:
    return f"{request.protocol.upper()} {request.virtual_service}"


def _add(request: LvsAlertOptions) -> Change:
    return Change(
        ipvs.add_real_server_args(request.protocol, request.virtual_service, request.ipvsadm_real_server,
                                  request.weight, request.forwarding),
        f"added {request.real_server} to {service_name(request)} (weight {request.weight}, {request.forwarding})")


def _edit(request: LvsAlertOptions, weight: int, forwarding: str, why: str) -> Change:
    return Change(
        ipvs.edit_real_server_args(request.protocol, request.virtual_service, request.ipvsadm_real_server,
                                   weight, forwarding),
        f"{why} {request.real_server} in {service_name(request)} (weight {weight}, {forwarding})")


def _delete(request: LvsAlertOptions) -> Change:
    return Change(
        ipvs.delete_real_server_args(request.protocol, request.virtual_service, request.ipvsadm_real_server),
        f"removed {request.real_server} from {service_name(request)}")


def first_attempt(request: LvsAlertOptions) -> Change:
    """The call to try before looking at the table: the seed's, or a quiesce edit."""
    if request.up:
        return _add(request)
    if request.quiesce:
        return _edit(request, 0, request.forwarding, "quiesced")
    return _delete(request)


def plan(request: LvsAlertOptions, table: ipvs.IpvsTable) -> Plan:
    """What to do, given the live table, after ``first_attempt`` failed."""
    service = table.find_service(request.protocol, request.virtual_service)
    present = service.find(request.ipvsadm_real_server) if service else None
    if request.up:
        if service is None:
            if not request.create_service:
                return Plan([], f"{service_name(request)} is not in the table (-B creates it)", explained=False)
            create = Change(ipvs.add_service_args(request.protocol, request.virtual_service, request.scheduler),
                            f"created {service_name(request)} (scheduler {request.scheduler})")
            return Plan([create, _add(request)])
        if present is None:
            return Plan([], explained=False)
        if (present.weight, present.forwarding) == (request.weight, request.forwarding):
            return Plan([], f"{request.real_server} already in {service_name(request)} "
                            f"(weight {request.weight}, {request.forwarding}): nothing to change")
        why = "restored" if present.weight == 0 and request.quiesce else "updated"
        return Plan([_edit(request, request.weight, request.forwarding, why)])
    if present is None:
        where = service_name(request) if service else f"the table ({service_name(request)} is not defined)"
        return Plan([], f"{request.real_server} already absent from {where}: nothing to remove")
    if request.quiesce and present.weight == 0:
        return Plan([], f"{request.real_server} already quiesced in {service_name(request)}")
    # The server is there, so the -d or -e that failed should have worked.
    return Plan([], explained=False)
