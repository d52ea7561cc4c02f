#!/usr/bin/env python3
"""Chaos soak of the director pair: our heartbeat on two directors and a client, in network
namespaces, under random faults for N minutes (issue 8, item 1; ``make soak``).

    soak/run.py [--minutes 10 | --rounds N] [--seed N] [--out DIR] [--where auto|here|vm]

The cluster (``TakeoverLab``, lvs_compat/lab/heartbeat.py): directors ``dira``
and ``dirb`` and a ``client`` on a bridge (``hb0``, 10.251.0.0/24) that lives in a hub
namespace of its own, plus the directors' own link ``hb1`` (a veth pair, 10.252.0.0/24);
heartbeat runs ``bcast hb0 hb1``, sha1, ``auto_failback on``, and haresources
``dira 10.251.0.100/24/hb0``.  Nothing is connected to a host interface.

After a warm-up (a standby and a takeover, so both daemons have run every code path once), the
daemons' RSS and open descriptors are read, then ``soak/plan.py``'s faults run one at a time
while ``soak/probe.py`` samples every 100 ms who holds the VIP, pings it from the client and
records every gratuitous ARP the client receives.  At the end both daemons are stopped with
``heartbeat -k``, the lab is removed, and the run checks that nothing is left: no process, no
namespace, no address, no descriptor of its own; the surviving daemon's anonymous memory
within 10 % from the end of the first round of faults to the end (``leak_growth``).
``soak/analysis.py`` judges the samples.

``tc netem`` needs ``sch_netem``; where this kernel has none (``--where auto``), the soak runs in
the tools/ipvs-vm guest (Debian's stock kernel, under QEMU), as ``make demo`` does for IPVS.

Exit status: 0 goal met and clean; 1 goal missed, something left behind, a daemon that exited
by itself or a ``heartbeat -r`` that failed; 2 usage or a
missing prerequisite; 3 the lab could not be set up or a fault not injected; 124/125 the VM timed out / failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lvs_compat.lab import Netlab, namespace_names, wait_for  # noqa: E402
from lvs_compat.lab.heartbeat import (SUBNET, VIP, TakeoverLab, ha_cf,  # noqa: E402
                                      have_c_heartbeat, hb_tool, rscstatus)
from soak.analysis import InjectedFault, analyse, format_report  # noqa: E402
from soak.daemons import daemon_for, open_fds, rss_kib  # noqa: E402
from soak.plan import KINDS, NETEM_ARGS, RELOADS_PER_FAULT, fault_plan  # noqa: E402

PROGRAM = "soak"
DIRECTORS = ("dira", "dirb")
MEDIA = ("hb0", "hb1")
PRIVATE_SUBNET = "10.252.0"
LEAK_TOLERANCE = 0.10     # see leak_growth
EXIT_GOAL_MISSED = 1
EXIT_USAGE = 2
EXIT_SETUP = 3
VM_SLACK_S = 600          # the guest's boot, set-up, warm-up and clean-up on top of the soak


class SetupFailed(Exception):
    """The lab or the warm-up failed: the soak never started (exit 3)."""


class Narrator:
    """Time-stamped progress lines on stdout and in ``out/soak.log`` (the host shows the
    file live when the soak runs in the VM)."""

    def __init__(self, path: Path):
        self.started = time.monotonic()
        self.file = open(path, "w", buffering=1)

    def __call__(self, text: str) -> None:
        line = f"[{time.monotonic() - self.started:7.1f}s] {text}"
        print(line, flush=True)
        self.file.write(line + "\n")

    def close(self) -> None:
        self.file.close()


def have_netem() -> bool:
    """Can this kernel run ``tc qdisc ... netem``?  Tried on a veth pair in a throw-away
    namespace."""
    for module in ("veth", "sch_netem"):    # the VM's kernel does not autoload them
        subprocess.run(["modprobe", "-q", module], capture_output=True, check=False)
    with Netlab() as lab:
        try:
            name = lab.add(f"soakprobe{os.getpid()}")
            lab.pair(name, "probe0", name, "probe1")
        except (OSError, subprocess.SubprocessError):
            return False
        return lab.ns(name, "tc", "qdisc", "add", "dev", "probe0", "root", "netem",
                      *NETEM_ARGS, check=False).returncode == 0


def processes_mentioning(marker: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{entry}: {cmdline.strip()}")
    return found


class Soak:
    def __init__(self, args, out: Path, say: Narrator):
        self.args = args
        self.out = out
        self.say = say
        self.deadtime_s = args.deadtime
        self.allowance_s = args.deadtime + 1
        # kill -9 hits the home director, which holds the VIP whenever the cluster is healthy
        # (auto_failback on), so every kill is the holder's crash; the backup is never killed,
        # and its RSS and descriptors measure what every takeover and give-back leaks
        self.survivor = DIRECTORS[1]
        self.faults: list[InjectedFault] = []
        self.problems: list[str] = []
        self.rounds_completed = 0
        self.figures_after_first_round: dict | None = None

    # --- the lab ------------------------------------------------------------------------------
    def open_lab(self, tmp: Path):
        for module in ("veth", "bridge", "sch_netem"):
            subprocess.run(["modprobe", "-q", module], capture_output=True, check=False)
        self.vip = VIP
        # --peer c: the home director runs Debian's 3.0.6 and the backup ours, as when the
        # standby is migrated first; kills hit the C node, our daemon is the survivor
        kinds = ("c", "ours") if self.args.peer == "c" else ("ours", "ours")
        lab = TakeoverLab(tmp, names=(*DIRECTORS, "client"), kinds=(*kinds, "client"))
        self.lab = lab
        lab.open()
        a, b = lab.members
        lab.net.pair(a.netns, "hb1", b.netns, "hb1")
        for node in (a, b):
            lab.net.address(node.netns, "hb1", f"{PRIVATE_SUBNET}.{node.index}/24",
                            f"{PRIVATE_SUBNET}.255")
        config = ha_cf(DIRECTORS, media=f"bcast {' '.join(MEDIA)}",
                       keepalive=f"{int(self.args.keepalive * 1000)}ms",
                       deadtime=str(self.deadtime_s), warntime=str(max(1, self.deadtime_s // 2)),
                       initdead=str(2 * self.deadtime_s))
        for node in lab.members:
            # the interface and broadcast spelled out: Debian's IPaddr insists on eth0 without
            node.write_config(config,
                              haresources=f"{DIRECTORS[0]} {VIP}/24/hb0/{SUBNET}.255\n")
        self.nodes = {node.name: node for node in lab.members}
        self.daemons = {node.name: daemon_for(node) for node in lab.members}
        self.macs = {node.name: lab.mac(node) for node in lab.members}
        return lab

    def stable(self) -> bool:
        return all(rscstatus(node) in ("all", "local", "foreign", "none")
                   for node in self.nodes.values())    # not "transition" (nor no answer)

    def wait_alone(self, name: str, timeout: float) -> None:
        wait_for(lambda: self.lab.holders() == [name] and self.stable(), timeout, 0.2,
                 f"the VIP on {name} alone and the cluster stable")

    def warm_up(self) -> None:
        for daemon in self.daemons.values():
            daemon.start()
        home, other = DIRECTORS
        self.wait_alone(home, 30 + 4 * self.deadtime_s)
        self.say(f"cluster up: {home} holds {self.vip}; warm-up: standby and takeover")
        hb_tool(self.nodes[home], "hb_standby")
        self.wait_alone(other, 30)
        hb_tool(self.nodes[home], "hb_takeover")
        self.wait_alone(home, 30)
        time.sleep(2)

    def daemon_figures(self, reads: int = 5) -> dict[str, dict]:
        """Each daemon's pid, RSS and open descriptors: the least of ``reads`` readings 0.2 s
        apart, so that a socket or pipe open for a moment (an ARP burst, a script) is not
        counted as kept."""
        readings = []
        for number in range(reads):
            if number:
                time.sleep(0.2)
            readings.append({name: (sum(rss_kib(pid) for pid in daemon.pids()),
                                    sum(open_fds(pid) for pid in daemon.pids()),
                                    sum(rss_kib(pid, "RssAnon") for pid in daemon.pids()),
                                    sum(rss_kib(pid, "RssFile") for pid in daemon.pids()))
                             for name, daemon in self.daemons.items()})
        return {name: {"pid": daemon.main_pid(), "kind": daemon.kind,
                       "processes": len(daemon.pids()),
                       "rss_kib": min(reading[name][0] for reading in readings),
                       "fds": min(reading[name][1] for reading in readings),
                       "anon_kib": min(reading[name][2] for reading in readings),
                       "file_kib": min(reading[name][3] for reading in readings)}
                for name, daemon in self.daemons.items()}

    # --- faults -------------------------------------------------------------------------------
    def _links(self, name: str, media, up: bool) -> None:
        for medium in media:
            self.lab.ns(self.nodes[name], "ip", "link", "set", medium, "up" if up else "down")

    def _netem(self, on: bool) -> None:
        for node in self.nodes.values():
            for medium in MEDIA:
                if on:
                    self.lab.ns(node, "tc", "qdisc", "add", "dev", medium, "root", "netem",
                                *NETEM_ARGS)
                else:
                    self.lab.ns(node, "tc", "qdisc", "del", "dev", medium, "root")

    def inject(self, fault) -> None:
        daemon = self.daemons.get(fault.node)
        started = time.monotonic()
        if fault.kind == "kill":
            daemon.kill()
            time.sleep(fault.duration_s)
            ended = time.monotonic()
            daemon.start()
        elif fault.kind == "freeze":
            daemon.signal(signal.SIGSTOP)
            time.sleep(fault.duration_s)
            ended = time.monotonic()
            daemon.signal(signal.SIGCONT)
        elif fault.kind in ("link-one", "link-all"):
            media = (fault.medium,) if fault.kind == "link-one" else MEDIA
            self._links(fault.node, media, up=False)
            time.sleep(fault.duration_s)
            ended = time.monotonic()
            self._links(fault.node, media, up=True)
        elif fault.kind == "netem":
            self._netem(True)
            time.sleep(fault.duration_s)
            ended = time.monotonic()
            self._netem(False)
        elif fault.kind == "reload":
            for number in range(RELOADS_PER_FAULT):
                if number:
                    time.sleep(1)
                result = daemon.reload()
                if result.returncode != 0:
                    self.problems.append(f"heartbeat -r on {fault.node} exited "
                                      f"{result.returncode}: {result.stderr.strip()[:200]}")
            ended = time.monotonic()
        else:
            raise ValueError(fault.kind)
        self.faults.append(InjectedFault(fault.kind, fault.node, started, ended))

    def check_daemons_alive(self) -> None:
        for name, daemon in self.daemons.items():
            if not daemon.alive():
                self.problems.append(f"the daemon on {name} exited by itself; restarted")
                self.say(f"!! the daemon on {name} exited by itself; restarting it")
                daemon.start()

    def run_faults(self, deadline: float, rounds: int | None = None) -> None:
        """Faults until ``deadline`` (the last one starts only if it ends in time), or until
        ``rounds`` rounds have run (``deadline`` then only bounds a soak gone wrong)."""
        plan = fault_plan(self.args.seed, DIRECTORS, self.survivor, MEDIA, self.deadtime_s,
                          tuple(self.args.kinds))
        for fault in plan:
            now = time.monotonic()
            if now + fault.duration_s + self.allowance_s + 1 > deadline:
                break
            what = f"{fault.kind} {fault.node or 'both'}" + (f" {fault.medium}" if fault.medium
                                                              else "")
            self.say(f"fault {len(self.faults) + 1}: {what} for {fault.duration_s:.1f} s, "
                     f"then {fault.quiet_s:.1f} s quiet (holders now: "
                     f"{' '.join(self.lab.holders()) or 'none'})")
            self.inject(fault)
            time.sleep(max(0.0, min(fault.quiet_s, deadline - time.monotonic())))
            self.check_daemons_alive()
            if fault.last_of_round:
                self.rounds_completed = fault.round
                if fault.round == 1:
                    # every code path has run once: the daemons' memory is at its high-water
                    # mark, and what grows from here on is what the faults leak
                    self.figures_after_first_round = self.daemon_figures()
                if fault.round == rounds:
                    return
        if rounds is not None:
            self.problems.append(f"only {self.rounds_completed} of {rounds} rounds ran before "
                                 f"the soak's limit")
            return
        time.sleep(max(0.0, deadline - time.monotonic()))

    def stop_daemons(self) -> dict[str, bool]:
        stopped = {}
        for name, daemon in self.daemons.items():
            trouble = daemon.stop()
            if trouble:
                self.problems.append(f"stopping {name}: {trouble}")
            stopped[name] = not trouble
        return stopped


def run_here(args, out: Path) -> int:
    from soak.probe import STALL_S, Sampler
    if os.geteuid() != 0:
        sys.stderr.write(f"{PROGRAM}: needs root (network namespaces)\n")
        return EXIT_USAGE
    if args.peer == "c":
        if have_c_heartbeat():
            sys.stderr.write(f"{PROGRAM}: --peer c {have_c_heartbeat()}\n")
            return EXIT_USAGE
    if not have_netem():
        sys.stderr.write(f"{PROGRAM}: this kernel cannot run tc netem (no sch_netem); use "
                         f"--where vm\n")
        return EXIT_USAGE
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("soak.json", "soak-error.txt", *(f"{name}.log" for name in DIRECTORS)):
        (out / stale).unlink(missing_ok=True)
    say = Narrator(out / "soak.log")
    netns_before = namespace_names()
    fds_before = open_fds()
    tmp = Path(tempfile.mkdtemp(prefix="lvs-compat-soak."))
    soak = Soak(args, out, say)
    sampler = None
    record: dict = {"config": {"minutes": args.minutes, "rounds": args.rounds, "seed": args.seed,
                               "deadtime_s": args.deadtime, "keepalive_s": args.keepalive,
                               "kinds": list(args.kinds), "survivor": soak.survivor,
                               "peer": args.peer,
                               "where": "vm" if os.environ.get("LVS_COMPAT_SOAK_IN_VM") else
                               "here"}}
    try:
        try:
            lab = soak.open_lab(tmp)
            kinds = {name: "Debian 3.0.6" if daemon.kind == "c" else "ours"
                     for name, daemon in soak.daemons.items()}
            say(f"lab {lab.prefix}: directors {DIRECTORS[0]} ({kinds[DIRECTORS[0]]}), "
                f"{DIRECTORS[1]} ({kinds[DIRECTORS[1]]}) (media "
                f"{' '.join(MEDIA)}), client; seed {args.seed}; deadtime {args.deadtime} s; "
                f"kill -9 hits {DIRECTORS[0]}, {soak.survivor} is never killed")
            soak.warm_up()
        except Exception as error:      # the lab's own message; the soak never started
            raise SetupFailed(f"{type(error).__name__}: {error}") from error
        record["daemons_before"] = soak.daemon_figures()
        sampler = Sampler({name: node.netns for name, node in soak.nodes.items()},
                          lab.client.netns, "hb0", soak.vip)
        sampler.start()
        started = time.monotonic()
        if args.rounds is None:
            say(f"soak: {args.minutes:g} min of faults")
            soak.run_faults(started + args.minutes * 60)
        else:
            say(f"soak: {args.rounds} round(s) of faults")
            soak.run_faults(started + rounds_limit_s(args), rounds=args.rounds)
        sampler.stop()
        samples, probes, arps = sampler.results()
        # the sampler's own stalls (starved of CPU): no samples there; probes are judged by
        # the kernel's receive times, so a late read is not an unanswered probe
        record["sampler_stalls"] = [(round(at - started, 2), late) for at, late in sampler.stalls]
        if sampler.stalls:
            say(f"sampler: {len(sampler.stalls)} stall(s) over {STALL_S} s, the longest "
                f"{max(late for _, late in sampler.stalls):.1f} s")
        sampler = None
        record["daemons_after"] = soak.daemon_figures()
        record["daemons_after_first_round"] = soak.figures_after_first_round
        record["rounds_completed"] = soak.rounds_completed
        say("soak over; stopping both daemons with heartbeat -k")
        record["stopped_gracefully"] = soak.stop_daemons()
    except SetupFailed as failure:
        say(f"set-up failed: {failure} (daemon logs in {out})")
        return EXIT_SETUP
    except Exception as error:          # a fault could not be injected or healed
        import traceback
        (out / "soak-error.txt").write_text(traceback.format_exc())
        say(f"the soak failed: {type(error).__name__}: {error} (traceback in "
            f"{out / 'soak-error.txt'})")
        return EXIT_SETUP
    finally:
        if sampler is not None:
            try:
                sampler.stop()
            except Exception as error:     # already failing; the cleanup goes on
                say(f"sampler: {error}")
        if hasattr(soak, "lab"):
            soak.lab.close()
        logs = {name: daemon.log() for name, daemon in getattr(soak, "daemons", {}).items()}
        for name, text in logs.items():
            (out / f"{name}.log").write_text(text)
        shutil.rmtree(tmp, ignore_errors=True)

    report = analyse(samples, probes, arps, soak.faults, soak.macs, soak.allowance_s,
                     origin=started)
    time.sleep(0.5)
    leftovers = {
        "processes": processes_mentioning(str(tmp)) + processes_mentioning(soak.lab.prefix),
        "namespaces": sorted(namespace_names() - netns_before),
        "addresses": [line for line in subprocess.run(
            ["ip", "-o", "addr", "show"], capture_output=True, text=True,
            check=False).stdout.splitlines() if "10.251.0." in line or f"{PRIVATE_SUBNET}." in line],
        "own_fds": open_fds() - fds_before,
        "threads": threading.active_count() - 1,
    }
    before, after = record["daemons_before"], record["daemons_after"]
    survivor = soak.survivor
    same_process = before[survivor]["pid"] == after[survivor]["pid"]
    growth = leak_growth(record, survivor)
    clean = (not any(leftovers.values()) and same_process
             and (growth is None or growth <= LEAK_TOLERANCE)
             and after[survivor]["fds"] <= before[survivor]["fds"]
             and all(record["stopped_gracefully"].values()))
    record.update(
        leftovers=leftovers, survivor_leak_growth=growth, survivor_same_process=same_process,
        problems=soak.problems, report=dataclasses.asdict(report), goal_met=report.goal_met,
        clean=clean, samples=len(samples), probes=len(probes), arps=len(arps),
        faults=[{**dataclasses.asdict(f), "start": f.start - started, "end": f.end - started}
                for f in soak.faults])
    (out / "soak.json").write_text(json.dumps(record, indent=1, default=list))
    say("report:\n" + format_report(report))
    for name in DIRECTORS:
        say(f"daemon {name}: RSS {before[name]['rss_kib']} -> {after[name]['rss_kib']} KiB "
            f"(anonymous {before[name]['anon_kib']} -> {after[name]['anon_kib']}, files "
            f"{before[name]['file_kib']} -> {after[name]['file_kib']}), "
            f"fds {before[name]['fds']} -> {after[name]['fds']}, pid {before[name]['pid']} -> "
            f"{after[name]['pid']}, stopped by -k: {record['stopped_gracefully'][name]}")
    mid = record["daemons_after_first_round"]
    if growth is None:
        say(f"survivor {survivor}: leak NOT judged: {record['rounds_completed']} round(s) of "
            f"faults completed, the judgement needs 2 (give the soak more --minutes, or --rounds 2)")
    else:
        say(f"survivor {survivor}: anonymous memory {mid[survivor]['anon_kib']} KiB after the "
            f"first round, {after[survivor]['anon_kib']} KiB after round "
            f"{record['rounds_completed']}: {100 * growth:+.1f}% (limit {LEAK_TOLERANCE:.0%})")
    say(f"leftovers: {json.dumps(leftovers)}")
    for problem in soak.problems:
        say(f"PROBLEM: {problem}")
    say(f"clean: {'yes' if clean else 'NO'}; goal {'met' if report.goal_met else 'NOT met'}; "
        f"problems: {len(soak.problems)}")
    say.close()
    return 0 if report.goal_met and clean and not soak.problems else EXIT_GOAL_MISSED


def rounds_limit_s(args) -> float:
    """A bound for --rounds, only against a soak gone wrong: every fault at its longest
    (netem 20 s, then quiet deadtime + 7 s) and 30 s of slow commands on top."""
    return args.rounds * len(args.kinds) * (20 + args.deadtime + 7 + 30)


def leak_growth(record: dict, survivor: str) -> float | None:
    """The survivor's leak: growth of its anonymous memory (heap and stacks; file pages come
    and go with first-time code paths and the page cache) from the end of the first round of
    faults, when every code path has run once, to the end of the soak; None (not judged)
    unless a second round completed.  Growth from the warm-up to the end of the first round
    is one-time (the history of sent messages fills, allocator arenas reach their high-water
    mark): about 2 MB, 5-11 % of our 30 MB daemon, which is why it is not the measure."""
    mid = record.get("daemons_after_first_round")
    if mid is None or record.get("rounds_completed", 0) < 2:
        return None
    return record["daemons_after"][survivor]["anon_kib"] / mid[survivor]["anon_kib"] - 1


def run_in_vm(args, out: Path) -> int:
    from lvs_compat.guestrun import run_in_guest
    timeout = int(args.minutes * 60 if args.rounds is None else rounds_limit_s(args)) + VM_SLACK_S
    from lvs_compat.guestrun import python_for_guest
    argv = [python_for_guest(), str(Path(__file__).resolve()),
            "--where", "here", "--minutes", f"{args.minutes:g}", "--seed", str(args.seed),
            *(("--rounds", str(args.rounds)) if args.rounds is not None else ()),
            "--deadtime", str(args.deadtime), "--keepalive", str(args.keepalive),
            "--kinds", ",".join(args.kinds), "--peer", args.peer, "--out", str(out)]
    print(f"{PROGRAM}: this kernel has no tc netem; booting Debian's stock kernel under QEMU "
          f"(tools/ipvs-vm) and running the soak there", flush=True)
    # a 3.0.6 node copies /var/lib/heartbeat's tree (the guest's /var is an empty tmpfs)
    shares = ("/var/lib/heartbeat:ro",) if args.peer == "c" else ()
    return run_in_guest(argv, out, "soak.log", timeout, PROGRAM,
                        env=("LVS_COMPAT_SOAK_IN_VM=1",), shares=shares)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="how long faults go on (default 10)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="instead of --minutes: stop when this many rounds of faults (every "
                             "kind once each) have run, however long they take")
    parser.add_argument("--seed", type=int, default=None,
                        help="the fault plan's seed (default: random, printed)")
    parser.add_argument("--deadtime", type=int, default=4, help="heartbeat deadtime, seconds")
    parser.add_argument("--keepalive", type=float, default=0.5,
                        help="heartbeat keepalive, seconds")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"fault kinds, comma-separated (default {','.join(KINDS)})")
    parser.add_argument("--out", default=str(REPO / "build" / "soak"),
                        help="where soak.log, soak.json and the daemons' logs go")
    parser.add_argument("--peer", choices=("ours", "c"), default="ours",
                        help="c: the home director runs Debian's 3.0.6, the backup ours")
    parser.add_argument("--where", choices=("auto", "here", "vm"), default="auto",
                        help="here: this kernel (needs sch_netem); vm: the tools/ipvs-vm guest")
    args = parser.parse_args(argv)
    args.kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = set(args.kinds) - set(KINDS)
    if unknown or not args.kinds:
        parser.error(f"--kinds: unknown {', '.join(sorted(unknown)) or '(empty)'}; "
                     f"choose from {','.join(KINDS)}")
    if args.rounds is not None and not 1 <= args.rounds <= 100:
        parser.error("--rounds must be 1..100")
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes must be more than 0 and at most 1440")
    if not 1 <= args.deadtime <= 60 or not 0.05 <= args.keepalive <= args.deadtime / 2:
        parser.error("--deadtime must be 1..60 s and --keepalive 0.05 s..deadtime/2")
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    return args


def _interrupted(signum, frame):
    """SIGTERM cleans up as Ctrl-C does (the lab's ``finally``, or the VM powered off)."""
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = Path(args.out).resolve()
    signal.signal(signal.SIGTERM, _interrupted)
    where = args.where
    if where == "auto":
        if os.geteuid() != 0:
            sys.stderr.write(f"{PROGRAM}: needs root (network namespaces)\n")
            return EXIT_USAGE
        where = "here" if have_netem() else "vm"
    try:
        if where == "here":
            return run_here(args, out)
        return run_in_vm(args, out)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROGRAM}: interrupted; the lab was removed\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
