"""keepalived with the exported keepalived.conf against a REAL IPVS table, run INSIDE the VM.

The last part of the real-IPVS scenario (tests/ipvs_vm_support.py calls ``keepalived_record``
in the same boot, after the ``lvs`` resource's own steps, on the table it left): ``lvs-compat
export keepalived`` on the seed (examples/seed: mon.cf, ha.d), then Debian's keepalived 2.2.7
(the host's /usr/sbin/keepalived: the guest runs the host's /usr, libraries included) started
with lvs1's file, unchanged.  Like the rest of the scenario it only records;
tests/test_export_keepalived_ipvs.py compares the table keepalived built with the one ``lvs``
built from the same mon.cf.

What the file needs, and the guest has no network, so it is made here:

* VRRP: the ``interface eth0`` it names, with an address of its own (10.0.0.1/24, lvs1's), one
  end of a veth pair (keepalived disables an instance on a link without multicast, such as a
  dummy one): the instance (``state MASTER``, the home node) then takes the VIP 10.0.0.3.  The
  adverts go to the pair's other end, where nothing listens.
* checkers: the HTTP_GET of each real server needs a web server answering on it, or keepalived
  takes the server out of the table: 192.168.0.1 and .2 on a second dummy link, and a small
  HTTP server per address in this process that answers 200 and notes each request.

Nothing waits a fixed time: the waits end on a condition (keepalived's log line saying the check
succeeded, the VIP on eth0, keepalived's exit), with deadlines from the file's own timers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "examples" / "seed"
KEEPALIVED = "/usr/sbin/keepalived"
NODE = "lvs1.domain.com"            # the haresources node: state MASTER, priority 150
DIRECTOR_ADDRESS = "10.0.0.1/24"    # eth0's own address (VRRP sends from it)
VIP = "10.0.0.3"
REAL_SERVERS = ("192.168.0.1", "192.168.0.2")
# The seed's timers, as the exported file has them: delay_loop 10 (mon's interval 10s),
# advert_int 2 (keepalive 2).  Deadlines allow for the emulated CPU (TCG, ~16x slower).
DELAY_LOOP_S = 10
ADVERT_INT_S = 2
CHECKS_DEADLINE_S = 3 * DELAY_LOOP_S + 30
VIP_DEADLINE_S = 3 * (3 * ADVERT_INT_S + 1) + 10
STOP_DEADLINE_S = 30


def sh(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


def ipvsadm(*args: str) -> str:
    return sh("/sbin/ipvsadm", *args).stdout


class RealServers:
    """One HTTP server per real-server address, answering 200 to every GET."""

    def __init__(self, addresses: tuple[str, ...], port: int = 80):
        self.requests: list[dict] = []
        self.servers = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                requests.append({"server": self.server.server_address[0], "path": self.path,
                                 "host": self.headers.get("Host", "")})
                body = b"ok\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep stderr for the scenario
                pass

        for address in addresses:
            server = ThreadingHTTPServer((address, port), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def wait_for(condition, deadline_s: float) -> float | None:
    """Seconds until ``condition()`` held, or None when ``deadline_s`` passed first."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if condition():
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    return None


def export_seed(work: Path) -> dict:
    """``lvs-compat export keepalived`` on the seed, in this process (the CLI's own main)."""
    from lvs_compat.cli import main

    ha_dir = work / "ha.d"
    shutil.copytree(SEED / "ha.d", ha_dir)
    (ha_dir / "authkeys").chmod(0o600)     # heartbeat refuses it otherwise; git keeps 644
    out, err = StringIO(), StringIO()
    status = main(["export", "keepalived", "--ha-dir", str(ha_dir), "--mon-cf", str(SEED / "mon.cf"),
                   "--out-dir", str(work / "out")], out=out, err=err)
    conf = work / "out" / f"keepalived-{NODE}.conf"
    return {"rc": status, "stderr": err.getvalue(), "conf": str(conf),
            "text": conf.read_text() if conf.exists() else ""}


def make_links() -> list[str]:
    """eth0 (VRRP: a veth, which has multicast and ARP, a dummy link neither) and rs0 (the real
    servers' addresses, a dummy link); the failures, if any."""
    failures = []
    steps = [("modprobe", "dummy"),
             ("modprobe", "veth"),
             ("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer"),
             ("ip", "link", "set", "eth0-peer", "up"),
             ("ip", "addr", "add", DIRECTOR_ADDRESS, "dev", "eth0"),
             ("ip", "link", "set", "eth0", "up"),
             ("ip", "link", "add", "rs0", "type", "dummy"),
             *(("ip", "addr", "add", f"{address}/24", "dev", "rs0") for address in REAL_SERVERS),
             ("ip", "link", "set", "rs0", "up")]
    for argv in steps:
        result = sh(*argv)
        if result.returncode != 0:
            failures.append(f"{' '.join(argv)}: {result.stderr.strip()}")
    return failures


def eth0_addresses() -> str:
    return sh("ip", "-o", "-4", "addr", "show", "dev", "eth0").stdout


def keepalived_record() -> dict:
    """The record; a failure here is one in it (``error``), not the lost record of the whole
    scenario."""
    started = time.monotonic()
    try:
        record = _keepalived_record()
    except Exception:  # noqa: BLE001 - reported to the host, which fails the test with it
        record = {"error": traceback.format_exc()}
    record["elapsed_s"] = round(time.monotonic() - started, 1)
    return record


def _keepalived_record() -> dict:
    record: dict = {"table_before": {"saved": ipvsadm("-S", "-n"), "listed": ipvsadm("-L", "-n")}}
    work = Path(tempfile.mkdtemp(prefix="keepalived-"))
    record["export"] = export_seed(work)
    record["links"] = make_links()
    if record["export"]["rc"] != 0 or record["links"]:
        return record
    real_servers = RealServers(REAL_SERVERS)
    log_path = work / "keepalived.log"
    argv = [KEEPALIVED, "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
            "--use-file", record["export"]["conf"], "--pid", str(work / "keepalived.pid"),
            "--vrrp_pid", str(work / "vrrp.pid"), "--checkers_pid", str(work / "checkers.pid")]
    record["argv"] = argv
    with open(log_path, "w") as log:
        daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def log_text() -> str:
        return log_path.read_text(errors="replace")

    def checks_passed() -> bool:
        text = log_text()
        return all(f"Remote Web server [{address}]:tcp:80 succeed on service." in text
                   for address in REAL_SERVERS)

    try:
        record["checks_passed_after_s"] = wait_for(checks_passed, CHECKS_DEADLINE_S)
        record["vip_after_s"] = wait_for(lambda: f" {VIP}/32 " in eth0_addresses(), VIP_DEADLINE_S)
        record["running"] = {"saved": ipvsadm("-S", "-n"), "listed": ipvsadm("-L", "-n"),
                             "eth0": eth0_addresses(), "exited": daemon.poll()}
        record["requests"] = list(real_servers.requests)
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        try:
            record["rc"] = daemon.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            daemon.kill()
            record["rc"] = f"killed: no exit {STOP_DEADLINE_S} s after SIGTERM"
            daemon.wait()
        real_servers.close()
    record["stopped"] = {"saved": ipvsadm("-S", "-n"), "listed": ipvsadm("-L", "-n"),
                         "eth0": eth0_addresses()}
    record["log"] = log_text()[-20000:]
    return record


if __name__ == "__main__":      # alone, for a look: tools/ipvs-vm run -- .venv/bin/python THIS
    import json
    print(json.dumps(keepalived_record(), indent=1))
