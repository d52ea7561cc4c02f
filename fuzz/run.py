"""Coverage-guided fuzzing of the config parsers and the heartbeat decoder: ``make fuzz``.

    python fuzz/run.py [--seconds N | --runs N] [--targets moncf,wire,...] [--jobs J]

Each target runs in its own atheris (libFuzzer) process for N seconds or N cases, starting from
the seed corpus (``fuzz/corpus.py``, kept and grown in ``build/fuzz-corpus/<target>``), with the
structure-aware mutations of ``fuzz/mutate.py`` as libFuzzer's custom mutator (and libFuzzer's
own byte mutations, with the grammar's words as a dictionary, a third of the time).  Only
``lvs_compat`` is instrumented for coverage.

Every input goes through the target's check (``fuzz/targets.py``).  A finding (an exception
other than ConfigError/DecodeError, a bad location, a packet that authenticates without having
been signed, two entry points that disagree) does not stop the run: it is counted, and the
input and its traceback are saved under ``build/fuzz-crashes/<target>/``.  So are inputs that
take more than ``--slow`` seconds; one that takes more than ``--hang`` seconds makes libFuzzer
stop the process (the input lands in ``build/fuzz-crashes/<target>-timeout-*``), and the target
is restarted for the rest of its time.

At the end: cases run, accepted/refused, unexpected exceptions (goal 0), packets accepted with
bad authentication (goal 0), the other findings, slow inputs and hangs, per target and in all.
Exit status 1 if anything but slow inputs was found.

``--engine random`` runs the same mutations without coverage guidance (no atheris needed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CORPUS_DIR = CRASH_DIR = STATS_DIR = DICT_DIR = Path()  # under --out (build/): _use_output


def _use_output(base: Path) -> None:
    global CORPUS_DIR, CRASH_DIR, STATS_DIR, DICT_DIR
    base = base.resolve()
    CORPUS_DIR, CRASH_DIR = base / "fuzz-corpus", base / "fuzz-crashes"
    STATS_DIR, DICT_DIR = base / "fuzz-stats", base / "fuzz-dicts"


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


MAX_RESTARTS = 5  # after hangs or crashes of the fuzzing process itself


# --- the worker: one target in one process ---------------------------------------------------

class Recorder:
    """Counts outcomes and findings, saves the inputs behind findings, writes the stats file."""

    def __init__(self, target: str, stats_path: Path, slow_seconds: float):
        self.target = target
        self.stats_path = stats_path
        self.slow_seconds = slow_seconds
        self.crash_dir = CRASH_DIR / target
        self.stats = {"target": target, "cases": 0, "accepted": 0, "refused": 0,
                      "findings": {}, "distinct": {}, "slow": 0, "slowest_seconds": 0.0}
        self.last_flush = 0.0

    def record(self, check, data: bytes) -> None:
        from fuzz.targets import Finding

        started = time.perf_counter()
        try:
            outcome = check(data)
        except Finding as finding:
            self._finding(finding, data)
        else:
            self.stats[outcome] += 1
        elapsed = time.perf_counter() - started
        self.stats["cases"] += 1
        self.stats["slowest_seconds"] = max(self.stats["slowest_seconds"], elapsed)
        if elapsed > self.slow_seconds:
            self.stats["slow"] += 1
            if self.stats["slow"] <= 20:
                self._save(f"slow-{elapsed * 1000:.0f}ms", data,
                           f"{self.target}: {elapsed:.2f} s for {len(data)} bytes\n")
        now = time.monotonic()
        if now - self.last_flush > 0.25:
            self.flush()

    def _finding(self, finding, data: bytes) -> None:
        findings = self.stats["findings"]
        findings[finding.kind] = findings.get(finding.kind, 0) + 1
        # Distinct = same kind and same last line of the traceback (or the same message).
        # (the exception's type and where it was raised, or the kind of finding and its first
        # words: the rest of a message usually quotes the input)
        frames = re.findall(r'File "([^"]+)", line (\d+)', finding.detail)
        first_words = re.split(r"[:(\[]", finding.detail, maxsplit=1)[0][:60]
        signature = f"{finding.kind}: {first_words}"
        if frames:
            signature += f" at {Path(frames[-1][0]).name}:{frames[-1][1]}"
        if signature not in self.stats["distinct"]:
            path = self._save(finding.kind.replace(" ", "-"), data, f"{finding}\n")
            self.stats["distinct"][signature] = _shown(path)
        self.flush()

    def _save(self, prefix: str, data: bytes, detail: str) -> Path:
        self.crash_dir.mkdir(parents=True, exist_ok=True)
        path = self.crash_dir / f"{prefix}-{hashlib.sha1(data).hexdigest()[:16]}"
        path.write_bytes(data)
        path.with_name(path.name + ".txt").write_text(detail, errors="backslashreplace")
        return path

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        temporary = self.stats_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.stats, indent=1))
        temporary.replace(self.stats_path)


def worker(args) -> int:
    """Fuzz one target in this process (started by ``main``)."""
    stats_path = Path(args.stats)
    if args.engine == "atheris":
        import atheris

        with atheris.instrument_imports(include=["lvs_compat"]):
            from fuzz import targets
    else:
        from fuzz import targets
    from fuzz import corpus

    target = targets.TARGETS[args.worker]
    if target.name == "wire":
        targets.genuinely_signed()  # built from the seeds, before any mutated input
    recorder = Recorder(target.name, stats_path, args.slow)
    if stats_path.exists():  # a restart after a hang goes on counting
        recorder.stats.update(json.loads(stats_path.read_text()))
    seeds = corpus.seeds(target.name)

    if args.engine == "random":
        rng = random.Random(args.seed)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        cases = 0
        while (deadline is None or time.monotonic() < deadline) and \
                (not args.runs or cases < args.runs):
            data = rng.choice(seeds)
            recorder.record(target.check, data if rng.random() < 0.05 else target.mutate(data, rng))
            cases += 1
        recorder.flush()
        return 0

    def test_one_input(data: bytes) -> None:
        recorder.record(target.check, data)

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if not data or rng.random() < 0.05:
            data = rng.choice(seeds)
        if rng.random() < 0.34:
            return atheris.Mutate(data, max_size)
        try:
            return target.mutate(data, rng)[:max_size]
        except Exception as error:  # a bug of ours, not of the target: say so, go on
            print(f"fuzz/mutate.py failed ({type(error).__name__}: {error}) on {data[:80]!r}",
                  file=sys.stderr)
            return atheris.Mutate(data, max_size)

    def custom_crossover(data1: bytes, data2: bytes, max_size: int, seed: int) -> bytes:
        from fuzz.mutate import splice_lines

        return splice_lines(data1, data2, random.Random(seed))[:max_size]

    options = {"custom_mutator": custom_mutator}
    if target.name != "wire":
        options["custom_crossover"] = custom_crossover
    atheris.Setup([sys.argv[0], *args.libfuzzer], test_one_input, **options)
    atheris.Fuzz()
    return 0


# --- the driver ----------------------------------------------------------------------------------

def _dictionary(target: str) -> Path | None:
    from fuzz import targets

    words = {"moncf": targets.MONCF_KEYWORDS, "period": targets.PERIOD_KEYWORDS,
             "hacf": targets.HACF_KEYWORDS, "haresources": targets.HARESOURCES_KEYWORDS,
             "authkeys": targets.AUTHKEYS_KEYWORDS,
             "wire": ("###\n", "%%%\n", ">>>\n", "<<<\n", "(0)", "(1)", "t=", "auth=", "src=",
                      "seq=", "hg=", "ts=", "ld=", "ttl=", "dest=", "st=", "1 ", ":", ",",
                      "status", "NS_ackmsg", "NS_rexmit", "hbanode1", "\x13")}[target]
    DICT_DIR.mkdir(parents=True, exist_ok=True)
    path = DICT_DIR / f"{target}.dict"
    lines = []
    for word in words:
        try:
            raw = word.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            continue
        escaped = "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}"
                          for b in raw)
        if escaped:
            lines.append(f'"{escaped}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_target(name: str, args) -> dict:
    from fuzz import targets

    target = targets.TARGETS[name]
    stats_path = STATS_DIR / f"{name}.json"
    stats_path.unlink(missing_ok=True)
    log_path = STATS_DIR / f"{name}.log"
    started = time.monotonic()
    hangs, restarts, fuzzer_runs = 0, 0, 0
    with open(log_path, "w") as log:
        while True:
            remaining = args.seconds - (time.monotonic() - started) if args.seconds else 0
            if args.seconds and remaining < 1:
                break
            command = [sys.executable, str(Path(__file__).resolve()), "--worker", name,
                       "--stats", str(stats_path), "--engine", args.engine, "--out", args.out,
                       "--slow", str(args.slow), "--seed", str(args.seed + restarts)]
            if args.engine == "random":
                command += ["--seconds", str(int(remaining))] if args.seconds else []
                command += ["--runs", str(args.runs)] if args.runs else []
            else:
                libfuzzer = [f"-max_len={target.max_len}", "-len_control=0",
                             f"-timeout={int(args.hang)}", "-rss_limit_mb=4096",
                             f"-artifact_prefix={CRASH_DIR / name}-", "-print_final_stats=1",
                             f"-seed={args.seed + restarts + 1}", f"-dict={_dictionary(name)}"]
                if args.seconds:
                    libfuzzer.append(f"-max_total_time={int(remaining)}")
                if args.runs:
                    libfuzzer.append(f"-runs={args.runs}")
                command += ["--", *libfuzzer, str(CORPUS_DIR / name)]
            process = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
            log.flush()
            text = log_path.read_text(errors="replace")
            fuzzer_runs = sum(int(n) for n in re.findall(r"^Done (\d+) runs", text, re.M))
            if process.returncode == 0:
                break
            hangs = len(re.findall(r"ALARM: working on the last Unit", text))  # whole log
            restarts += 1
            if restarts > MAX_RESTARTS or args.runs:
                break
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {
        "target": name, "cases": 0, "accepted": 0, "refused": 0, "findings": {}, "distinct": {},
        "slow": 0, "slowest_seconds": 0.0}
    stats.update(hangs=hangs, restarts=restarts, seconds=round(time.monotonic() - started),
                 libfuzzer_runs=fuzzer_runs, log=_shown(log_path))
    # libFuzzer ends the process with exit(): the last quarter second may miss the stats file.
    stats["cases"] = max(stats["cases"], fuzzer_runs)
    if restarts and not hangs:
        stats["findings"]["fuzzer stopped (out of memory?), see the log"] = restarts
    return stats


def _report(results: list[dict]) -> int:
    from fuzz.targets import BAD_AUTH, UNEXPECTED_EXCEPTION

    header = (f"{'target':<12} {'cases':>9} {'accepted':>9} {'refused':>9} {'unexpected':>10} "
              f"{'bad-auth':>8} {'other':>6} {'slow':>5} {'hangs':>5} {'slowest':>8} {'time':>6}")
    print(header)
    print("-" * len(header))
    totals = {"cases": 0, "accepted": 0, "refused": 0, "unexpected": 0, "bad_auth": 0,
              "other": 0, "slow": 0, "hangs": 0}
    for stats in results:
        findings = stats["findings"]
        row = {"cases": stats["cases"], "accepted": stats["accepted"],
               "refused": stats["refused"], "unexpected": findings.get(UNEXPECTED_EXCEPTION, 0),
               "bad_auth": findings.get(BAD_AUTH, 0),
               "other": sum(count for kind, count in findings.items()
                            if kind not in (UNEXPECTED_EXCEPTION, BAD_AUTH)),
               "slow": stats["slow"], "hangs": stats["hangs"]}
        for key, value in row.items():
            totals[key] += value
        bad_auth = row["bad_auth"] if stats["target"] == "wire" else "-"
        print(f"{stats['target']:<12} {row['cases']:>9} {row['accepted']:>9} {row['refused']:>9} "
              f"{row['unexpected']:>10} {bad_auth:>8} {row['other']:>6} {row['slow']:>5} "
              f"{row['hangs']:>5} {stats['slowest_seconds']:>7.2f}s {stats['seconds']:>5}s")
    print("-" * len(header))
    print(f"{'all':<12} {totals['cases']:>9} {totals['accepted']:>9} {totals['refused']:>9} "
          f"{totals['unexpected']:>10} {totals['bad_auth']:>8} {totals['other']:>6} "
          f"{totals['slow']:>5} {totals['hangs']:>5}")
    print(f"\ncases run: {totals['cases']}; exceptions other than ConfigError/DecodeError: "
          f"{totals['unexpected']} (goal 0); packets accepted with bad authentication: "
          f"{totals['bad_auth']} (goal 0)")
    for stats in results:
        for signature, path in stats["distinct"].items():
            print(f"  {stats['target']}: {signature}\n    input: {path} (+ .txt)")
        if stats["hangs"]:
            print(f"  {stats['target']}: {stats['hangs']} hang(s), inputs in "
                  f"{_shown(CRASH_DIR)}/{stats['target']}-timeout-*")
        if stats["slow"]:
            print(f"  {stats['target']}: {stats['slow']} input(s) slower than the limit, in "
                  f"{_shown(CRASH_DIR)}/{stats['target']}/slow-*")
    bad = totals["unexpected"] + totals["bad_auth"] + totals["other"] + totals["hangs"]
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    from fuzz import corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per target (default 60 unless --runs is given)")
    parser.add_argument("--runs", type=int, default=0, help="cases per target")
    parser.add_argument("--targets", default=",".join(corpus.TARGET_NAMES))
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="targets fuzzed at once")
    parser.add_argument("--engine", choices=("atheris", "random"), default="atheris")
    parser.add_argument("--slow", type=float, default=2.0,
                        help="an input taking longer is saved and counted as slow")
    parser.add_argument("--hang", type=float, default=20.0,
                        help="an input taking longer stops the process (a hang)")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--out", default=str(REPO / "build"),
                        help="where fuzz-corpus/, fuzz-crashes/ and fuzz-stats/ go")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--stats", help=argparse.SUPPRESS)
    parser.add_argument("libfuzzer", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _use_output(Path(args.out))
    if args.worker:
        return worker(args)
    if args.seconds is None and not args.runs:
        args.seconds = 60.0
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    unknown = set(names) - set(corpus.TARGET_NAMES)
    if unknown:
        parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
    if args.engine == "atheris":
        try:
            import atheris  # noqa: F401
        except ImportError:
            parser.error("atheris is not installed (make fuzz installs it; or --engine random)")
    STATS_DIR.mkdir(parents=True, exist_ok=True)
    CRASH_DIR.mkdir(parents=True, exist_ok=True)
    counts = corpus.write_corpus(CORPUS_DIR, names)
    budget = f"{args.seconds:.0f} s" if args.seconds else f"{args.runs} cases"
    print(f"fuzzing {', '.join(names)} ({args.engine}, {budget} each, {args.jobs} at once, "
          f"seed {args.seed}); seeds: " + ", ".join(f"{n} {c}" for n, c in counts.items()),
          flush=True)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda name: _run_target(name, args), names))
    return _report(results)


if __name__ == "__main__":
    sys.exit(main())
