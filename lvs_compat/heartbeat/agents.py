"""Running haresources resource groups: what ``/usr/share/heartbeat/ResourceManager`` does with
``takegroup``/``givegroup``/``status`` (SPEC §1b), without the shell.

Rules kept from ResourceManager:

* a resource ``NAME::A::B`` runs ``<script> A B start|stop|status`` (argv, never a shell string);
* the script is looked up in ``<config dir>/resource.d/``, then ``/etc/init.d/``, then the seed's
  ``/etc/rc.d/init.d/``; the first regular executable file wins ("Cannot locate resource
  script" otherwise).  ``IPaddr``, ``IPaddr2``, ``SendArp`` and ``Filesystem`` are built in
  (``lvs_compat.addresses``) and never looked up;
* **status** is judged by the text on stdout (``we_own_resource``): ``*[Nn][Oo][Tt] *[Rr]unning*``
  → not running, else ``*[Rr]unning*`` or ``*OK*`` → running, anything else → not running;
  **start/stop** by the exit code (0 = success);
* takegroup: left to right, a resource whose status says running is skipped, the first failed
  start releases the whole group (right to left) and the group result says so; the hand-over to
  the peer (``hb_standby`` 30 s later in the original) is the coordinator's decision;
* givegroup: right to left, one stop per resource; if it fails and status says running, the
  result lists the resource in ``still_running``; if status says stopped it only warns.  The
  retries (``HA_STOPRETRYMAX`` times) and what follows them (the original reboots the machine,
  SPEC §1e / issue 6 item 5) are the coordinator's, its one stop-retry policy
  (``heartbeat/groups.py``): it asks again for a group still running; scripts are only told
  ``HA_STOPRETRYMAX`` (``stop_retry_max``);
* the output of every action goes to the debug file (``HA_DEBUGLOG``).

Unlike the original, a script that hangs is killed (SIGTERM, then SIGKILL to its whole process
group) after ``AgentTimeouts`` and counts as failed.

How the daemon uses it: build one ``GroupExecutor`` at start-up (it imports nothing heavy, and
``check_group_scripts`` reports a missing script at its haresources location before anything
runs); call ``start_group``/``stop_group``/``status``/``reannounce`` from **one worker thread**
(they block while scripts run; calls are serialised by a lock, like heartbeat's one resource
child at a time).  The executor must live as long as the daemon: gratuitous ARP is sent by its
background threads after ``start_group`` has returned (takeover is not delayed by the 4.75 s of
ARP); ``close()`` stops them.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field, replace

from .. import addresses
from ..config.errors import ConfigError, Location
from ..config.hadir import HaDirectory
from ..config.haresources import HaResources, Resource, ResourceGroup
from .clock import SYSTEM_CLOCK, Clock
from .resource_terms import STOP_RETRY_MAX

BUILTINS = ("IPaddr", "IPaddr2", "SendArp", "Filesystem")
SYSTEM_SCRIPT_DIRS = ("/etc/init.d", "/etc/rc.d/init.d")
OCF_ROOT = "/usr/lib/ocf"
# What scripts get, and nothing else of the daemon's own environment (issue 19): 3.0.6 passes its
# whole environment, which under Debian's unit is systemd's for a service: this PATH and the
# locale; then its setenv()s (heartbeat.c, config.c, hb_resource.c).
SCRIPT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HA_DATEFMT = "%Y/%m/%d_%T\t"  # C: heartbeat.h
LOCALE_VARIABLES = ("LANG", "LANGUAGE", "TZ")  # and every LC_*
# read by our own resource scripts (ha.d/resource.d/lvs and mon): a unit's Environment= for them
OWN_KNOBS = ("IPVSADM",)  # and every LVS_COMPAT_*


def inherited_environment(environ) -> dict[str, str]:
    """The part of the daemon's environment scripts see: the locale and our scripts' knobs."""
    return {name: value for name, value in environ.items()
            if name in LOCALE_VARIABLES or name.startswith("LC_") or name in OWN_KNOBS
            or name.startswith("LVS_COMPAT_")}
_NOT_RUNNING = "*[Nn][Oo][Tt] *[Rr]unning*"
_RUNNING = ("*[Rr]unning*", "*OK*")


def judge_status_output(stdout: str) -> bool:
    """ResourceManager ``we_own_resource``: is the resource running, by the status text?"""
    if fnmatch.fnmatchcase(stdout, _NOT_RUNNING):
        return False
    return any(fnmatch.fnmatchcase(stdout, pattern) for pattern in _RUNNING)


def script_search_dirs(config_dir: str) -> tuple[str, ...]:
    return (os.path.join(config_dir, "resource.d"), *SYSTEM_SCRIPT_DIRS)


def locate_script(name: str, search_dirs: tuple[str, ...]) -> str | None:
    """The first regular executable ``<dir>/<name>``; a name with a ``/`` is never a script."""
    if not name or "/" in name or name in (".", ".."):
        return None
    for directory in search_dirs:
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def _check_builtin(resource: Resource) -> None:
    try:
        if resource.name == "SendArp":
            if len(resource.args) != 1:
                raise addresses.AddressError("SendArp takes exactly one argument IP/INTERFACE")
            addresses.parse_sendarp_arg(resource.args[0])
        elif resource.name == "Filesystem":
            addresses.parse_filesystem_args(resource.args)
    except addresses.AddressError as exc:
        raise ConfigError(resource.location, f"{resource.raw}: {exc}") from None


def check_group_scripts(haresources: HaResources, config_dir: str,
                        search_dirs: tuple[str, ...] | None = None) -> None:
    """Raise a located ``ConfigError`` for the first resource that could not run: a script that
    is not found (nor built in), or a built-in with unusable arguments.  Call before starting."""
    dirs = script_search_dirs(config_dir) if search_dirs is None else search_dirs
    for group in haresources.groups:
        for resource in group.resources:
            if resource.name in BUILTINS:
                _check_builtin(resource)
            elif locate_script(resource.name, dirs) is None:
                raise ConfigError(resource.location, f"Cannot locate resource script "
                                  f"{resource.name} (looked in {', '.join(dirs)})")


@dataclass(frozen=True)
class AgentTimeouts:
    """How long a script may run before its process group is killed."""

    start_s: float = 60.0
    stop_s: float = 60.0
    status_s: float = 20.0
    kill_grace_s: float = 2.0  # between SIGTERM and SIGKILL


@dataclass(frozen=True)
class ScriptRun:
    exit_code: int | None  # None when it was killed after the timeout
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float


def run_script(argv: list[str], env: dict[str, str], timeout_s: float, kill_grace_s: float,
               cwd: str | None = None, clock: Clock = SYSTEM_CLOCK) -> ScriptRun:
    """Run ``argv`` in its own session; kill its process group if it outlives ``timeout_s``.

    Output goes to temporary files, not pipes, so that a daemon the script leaves running
    (holding our stdout) cannot keep us waiting."""
    started_ms = clock.now_ms()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                       env=env, cwd=cwd, start_new_session=True)
        except OSError as exc:
            return ScriptRun(127, "", f"{argv[0]}: {exc.strerror or exc}\n", False,
                             (clock.now_ms() - started_ms) / 1000)
        timed_out = False
        try:
            exit_code: int | None = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            timed_out, exit_code = True, None
            _kill_group(process, kill_grace_s)
        out.seek(0)
        err.seek(0)
        decode = lambda data: data.decode("utf-8", errors="replace")  # noqa: E731
        return ScriptRun(exit_code, decode(out.read()), decode(err.read()), timed_out,
                         (clock.now_ms() - started_ms) / 1000)


def _kill_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the script's process group, SIGKILL whatever is left of it after ``grace_s``."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            pass


@dataclass(frozen=True)
class ResourceOutcome:
    """One action on one resource.  ``output`` is what went to the debug file (stdout and
    stderr); for status, ``ok`` means "running"."""

    resource: Resource
    action: str  # 'start' | 'stop' | 'status'
    ok: bool
    output: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    skipped: bool = False  # start not run because status said running
    duration_s: float = 0.0
    error: str | None = None  # one line for the log when not ok


@dataclass(frozen=True)
class GroupResult:
    key: str
    action: str  # 'start' | 'stop'
    ok: bool
    outcomes: tuple[ResourceOutcome, ...]
    released: bool = False  # a start failed and the group was released (right to left)
    still_running: tuple[Resource, ...] = ()  # stop failed and status says running

    @property
    def failed(self) -> tuple[ResourceOutcome, ...]:
        return tuple(outcome for outcome in self.outcomes if not outcome.ok
                     and outcome.action != "status")


@dataclass
class GroupExecutor:
    """Start, stop and query the resource groups of one haresources file (see module doc).

    ``node_name`` becomes ``HA_CURHOST``; ``environment`` adds to or overrides the variables
    scripts get (e.g. ha.cf's ``env`` lines); ``arp`` overrides the gratuitous ARP settings per
    built-in (``{"IPaddr": ArpSettings(500, 10)}``); ``state_dir`` keeps pseudo-resource state
    (SendArp) like ``HA_RSCTMP``; ``search_dirs`` replaces the script lookup path (tests)."""

    config_dir: str
    haresources: HaResources
    debugfile: str | None = None
    timeouts: AgentTimeouts = AgentTimeouts()
    node_name: str | None = None
    logfile: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    search_dirs: tuple[str, ...] | None = None
    arp: dict[str, addresses.ArpSettings] = field(default_factory=dict)
    state_dir: str | None = None
    clock: Clock = SYSTEM_CLOCK
    stop_retry_max: int = STOP_RETRY_MAX  # told to scripts (HA_STOPRETRYMAX); groups.py retries

    def __post_init__(self) -> None:
        if self.search_dirs is None:
            self.search_dirs = script_search_dirs(self.config_dir)
        self.announcer = addresses.ArpAnnouncer()
        self._ip = addresses.IpAddressAgent(self.announcer, self.arp)
        self._sendarp = addresses.SendArpAgent(
            self.announcer, self.arp.get("SendArp", addresses.SENDARP_ARP), self.state_dir)
        self._filesystem = addresses.FilesystemAgent()
        self._lock = threading.RLock()

    @classmethod
    def from_ha_dir(cls, ha_dir: HaDirectory, node_name: str, **kwargs) -> "GroupExecutor":
        """The executor for a loaded config directory: its haresources, ``debugfile``,
        ``logfile``, ``logfacility`` and ``env`` lines (given to every script, like heartbeat)."""
        if ha_dir.haresources is None:
            raise ConfigError(Location(os.path.join(ha_dir.directory, "haresources")),
                              "Cannot open resources file")
        environment = {"HA_LOGD": "yes" if ha_dir.ha_cf.use_logd else "no"}
        if ha_dir.ha_cf.logfacility:
            environment["HA_LOGFACILITY"] = ha_dir.ha_cf.logfacility
        environment.update(ha_dir.ha_cf.env)
        environment.update(kwargs.pop("environment", {}))
        return cls(ha_dir.directory, ha_dir.haresources, ha_dir.ha_cf.debugfile,
                   node_name=node_name, logfile=ha_dir.ha_cf.logfile, environment=environment,
                   **kwargs)

    # -- the interface the daemon calls ------------------------------------------------------

    def check(self) -> None:
        """``check_group_scripts`` for this executor's file and search path."""
        check_group_scripts(self.haresources, self.config_dir, self.search_dirs)

    def start_group(self, key: str) -> GroupResult:
        """``ResourceManager takegroup KEY``."""
        group = self._group(key)
        with self._lock:
            outcomes: list[ResourceOutcome] = []
            for resource in group.start_order:
                status = self.status_outcome(resource)
                if status.ok:
                    outcomes.append(ResourceOutcome(resource, "start", True, status.output,
                                                    skipped=True))
                    continue
                outcome = self._act(resource, "start", self.timeouts.start_s)
                outcomes.append(outcome)
                if not outcome.ok:
                    release = self.stop_group(key)
                    return GroupResult(key, "start", False, (*outcomes, *release.outcomes),
                                       released=True, still_running=release.still_running)
            return GroupResult(key, "start", True, tuple(outcomes))

    def stop_group(self, key: str) -> GroupResult:
        """``ResourceManager givegroup KEY``: every resource is stopped, held or not."""
        group = self._group(key)
        with self._lock:
            outcomes: list[ResourceOutcome] = []
            still_running: list[Resource] = []
            for resource in group.stop_order:
                outcome = self._act(resource, "stop", self.timeouts.stop_s)
                if not outcome.ok:
                    if self.status(resource):
                        still_running.append(resource)
                        error = (f"Resource STOP failure of {resource.raw}, and it is still "
                                 "running")
                    else:
                        error = (f"Resource script for {resource.raw} probably not LSB-compliant:"
                                 " it MUST succeed on a stop when already stopped")
                    outcome = replace(outcome, error=error)
                outcomes.append(outcome)
            return GroupResult(key, "stop", not still_running, tuple(outcomes),
                               still_running=tuple(still_running))

    def status(self, resource: Resource) -> bool:
        """Is ``resource`` running here (``we_own_resource``)?"""
        return self.status_outcome(resource).ok

    def key_running(self, key: str) -> bool:
        """``ResourceManager status KEY`` (rc.d/ip-request, req_resource): the status of the
        group's first resource only."""
        return self.status(self._group(key).resources[0])

    def group_status(self, key: str) -> str:
        """``ResourceManager statgroup KEY``: ``ALL``, ``SOME`` or ``NONE``."""
        running = [self.status(resource) for resource in self._group(key).resources]
        return "ALL" if all(running) else "SOME" if any(running) else "NONE"

    def reannounce(self, key: str) -> tuple[str, ...]:
        """Send gratuitous ARP again for every address of group ``key`` that we hold (split-brain
        resolution, issue 6 item 6); returns the addresses announced.  Does not block."""
        announced = []
        with self._lock:
            for resource in self._group(key).resources:
                try:
                    if resource.name in ("IPaddr", "IPaddr2") and resource.ip_address:
                        if self._ip.reannounce(resource.name, resource.ip_address):
                            announced.append(resource.ip_address.ip)
                    elif resource.name == "SendArp" and resource.args:
                        if self._sendarp.reannounce(resource.args[0]):
                            announced.append(addresses.parse_sendarp_arg(resource.args[0])[0])
                except addresses.AddressError as exc:
                    self._debug(f"reannounce {resource.raw}: {exc}\n")
        return tuple(announced)

    def wait_announcements(self, timeout_s: float | None = None) -> bool:
        return self.announcer.wait(timeout_s)

    def close(self) -> None:
        """Stop the gratuitous ARP still being sent."""
        self.announcer.cancel_all()

    # -- one action ---------------------------------------------------------------------------

    def status_outcome(self, resource: Resource) -> ResourceOutcome:
        if resource.name in BUILTINS:
            result = self._builtin(resource, "status")
            return ResourceOutcome(resource, "status", judge_status_output(result.output),
                                   result.output)
        path = locate_script(resource.name, self.search_dirs)
        if path is None:
            return ResourceOutcome(resource, "status", False,
                                   error=f"Cannot locate resource script {resource.name}")
        run = run_script([path, *resource.args, "status"], self._env(), self.timeouts.status_s,
                         self.timeouts.kill_grace_s, cwd=self.config_dir, clock=self.clock)
        if run.stderr:
            self._debug(run.stderr)
        running = not run.timed_out and judge_status_output(run.stdout)
        error = (f"{path} status killed after {self.timeouts.status_s:g} s"
                 if run.timed_out else None)
        return ResourceOutcome(resource, "status", running, run.stdout + run.stderr,
                               run.exit_code, run.timed_out, duration_s=run.duration_s,
                               error=error)

    def _act(self, resource: Resource, action: str, timeout_s: float) -> ResourceOutcome:
        if resource.name in BUILTINS:
            started_ms = self.clock.now_ms()
            result = self._builtin(resource, action)
            output = result.output + ("\n" if result.output else "")
            self._debug(output)
            return ResourceOutcome(resource, action, result.ok, output, 0 if result.ok else 1,
                                   duration_s=(self.clock.now_ms() - started_ms) / 1000,
                                   error=None if result.ok else result.output.splitlines()[-1])
        path = locate_script(resource.name, self.search_dirs)
        if path is None:
            message = f"Cannot locate resource script {resource.name}"
            self._debug(f"ERROR: {message}\n")
            return ResourceOutcome(resource, action, False, exit_code=1, error=message)
        run = run_script([path, *resource.args, action], self._env(), timeout_s,
                         self.timeouts.kill_grace_s, cwd=self.config_dir, clock=self.clock)
        output = run.stdout + run.stderr
        self._debug(output)
        if run.timed_out:
            error = f"{path} {action} killed after {timeout_s:g} s"
            self._debug(f"ERROR: {error}\n")
        elif run.exit_code != 0:
            error = f"Return code {run.exit_code} from {path}"
        else:
            error = None
        return ResourceOutcome(resource, action, error is None, output, run.exit_code,
                               run.timed_out, duration_s=run.duration_s, error=error)

    def _builtin(self, resource: Resource, action: str) -> addresses.AgentResult:
        try:
            if resource.name in ("IPaddr", "IPaddr2"):
                spec = resource.ip_address or addresses.IpAddressSpec(
                    *addresses.parse_ip_spec(resource.args[0] if resource.args else ""))
                return getattr(self._ip, action)(resource.name, spec)
            if resource.name == "SendArp":
                return getattr(self._sendarp, action)(resource.args[0] if resource.args else "")
            return getattr(self._filesystem, action)(resource.args)
        except (addresses.AddressError, OSError, ValueError, KeyError) as exc:
            return addresses.AgentResult(False, f"ERROR: {resource.raw} {action}: {exc}")

    # -- plumbing -----------------------------------------------------------------------------

    def _group(self, key: str) -> ResourceGroup:
        group = self.haresources.group(key)
        if group is None:
            raise KeyError(f"no resource group with key [{key}] in {self.haresources.path}")
        return group

    def _env(self) -> dict[str, str]:
        """What heartbeat's resource children see (SPEC §1e "notify_world / harc"): what
        3.0.6 started by Debian's unit gives them, not the rest of our environment (a shell's,
        or Python's own variables, when the daemon is started by hand)."""
        env = inherited_environment(os.environ)
        env.update({
            "PATH": SCRIPT_PATH,
            "HA_DATEFMT": HA_DATEFMT,
            "HA_cluster_type": "heartbeat",
            "HA_DIR": self.config_dir,
            "HA_RESOURCEDIR": os.path.join(self.config_dir, "resource.d"),
            "HA_FUNCS": os.path.join(self.config_dir, "shellfuncs"),
            "HA_DEBUGLOG": self.debugfile or os.devnull,
            "HA_STOPRETRYMAX": str(self.stop_retry_max),
            "OCF_ROOT": OCF_ROOT,
        })
        if self.logfile:
            env["HA_LOGFILE"] = self.logfile
        if self.node_name:
            env["HA_CURHOST"] = self.node_name.lower()
        if self.state_dir:
            env["HA_RSCTMP"] = self.state_dir
        env.update(self.environment)
        return env

    def _debug(self, text: str) -> None:
        if not text or not self.debugfile:
            return
        try:
            with open(self.debugfile, "a", encoding="utf-8", errors="replace") as handle:
                handle.write(text if text.endswith("\n") else text + "\n")
        except OSError:
            pass  # a debug log we cannot write must not fail a takeover
