"""The seed corpus: real configuration files and captured packets, read where they lie.

Sources, per target (missing ones are skipped; ``seeds`` insists that every target has some):

* ``moncf``: the seed HOWTO's ``mon.cf`` (``examples/seed``), the mon traces' configs
  (``../shared/reference/mon/traces/*/config*``, run3's T01-T24 edge cases) and Debian's
  ``/etc/mon/mon.cf``;
* ``period``: every ``period``/``exclude_period`` spec in those files and the specs of the
  Time::Period trace (``time-period-inPeriod-checks.txt``);
* ``hacf``, ``haresources``, ``authkeys``: the seed's ``ha.d``, the interop lab's files
  (``../shared/reference/heartbeat/logs/*``) and Debian's samples in
  ``/usr/share/doc/heartbeat`` (gzipped or not);
* ``wire``: the UDP payloads of every ``packets-*.pcap`` (a few per capture and message type)
  and the same messages in classic framing, signed with the run's key.

``python -m fuzz.corpus [DIR]`` writes them to ``DIR/<target>/`` (default
``build/fuzz-corpus``), where libFuzzer also keeps what it finds.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MON_TRACES = SHARED / "reference" / "mon" / "traces"
HEARTBEAT = SHARED / "reference" / "heartbeat"
DEBIAN_DOC = Path("/usr/share/doc/heartbeat")
SEED_DIR = REPO / "examples" / "seed"

TARGET_NAMES = ("moncf", "period", "hacf", "haresources", "authkeys", "wire")
PACKETS_PER_TYPE = 4  # per capture and message type: the corpus stays small, every type is in


def _read(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _files(*paths: Path) -> list[bytes]:
    found = (_read(path) for path in paths)
    return _unique(data for data in found if data is not None)


def _unique(items) -> list[bytes]:
    return list(dict.fromkeys(items))


def _glob(directory: Path, pattern: str) -> list[Path]:
    return sorted(directory.glob(pattern)) if directory.is_dir() else []


def _mon_cf_files() -> list[bytes]:
    configs = MON_TRACES / "run3-config-parsing" / "configs"
    return _files(SEED_DIR / "mon.cf", *_glob(configs, "*.cf"), *_glob(configs, "*.m4"),
                  *_glob(MON_TRACES, "*/config/mon.cf"), Path("/etc/mon/mon.cf"))


_PERIOD_LINE = re.compile(rb"^[ \t]*(?:exclude_)?period\b[ \t]*(?:[A-Za-z_]\w*[ \t]*:)?(.*)$",
                          re.MULTILINE)
_TRACE_SPEC = re.compile(rb"^\[(.*?)\][ \t]", re.MULTILINE)


def _period_specs() -> list[bytes]:
    specs = [match[1].strip() for text in _mon_cf_files() for match in _PERIOD_LINE.finditer(text)]
    trace = _read(MON_TRACES / "time-period-inPeriod-checks.txt") or b""
    specs += [match[1] for match in _TRACE_SPEC.finditer(trace)]
    return _unique(specs)


def _ha_files(suffix: str, debian_name: str) -> list[bytes]:
    logs = HEARTBEAT / "logs"
    return _files(*_glob(SEED_DIR / "ha.d", suffix), *_glob(logs, "*" + suffix),
                  DEBIAN_DOC / debian_name, DEBIAN_DOC / (debian_name + ".gz"))


def keyfiles() -> list[tuple[str, str]]:
    """(name, authkeys text) of every key set the captures and the seed use, plus one with
    several entries (the method-of-entry-N / key-of-the-active-entry quirk, SPEC §1c)."""
    found = {"rolling": "auth 1\n1 sha1 hbAsecret\n2 md5 hbAsecret\n3 crc\n4 sha1 other\n"}
    for path in [*_glob(HEARTBEAT / "logs", "*-authkeys"), SEED_DIR / "ha.d" / "authkeys"]:
        data = _read(path)
        if data is not None:
            text = data.decode("utf-8", "surrogateescape")
            if text not in found.values():
                found[path.name.removesuffix("-authkeys")] = text
    return sorted(found.items())


def _captured_payloads() -> list[bytes]:
    sys.path.insert(0, str(REPO / "tests"))  # the suite's pcap reader: one home for it
    try:
        from pcap_support import read_udp
    finally:
        sys.path.remove(str(REPO / "tests"))
    from lvs_compat.heartbeat import wire

    payloads = []
    for capture in _glob(HEARTBEAT, "packets-*.pcap"):
        per_type: dict[str | None, int] = {}
        for datagram in read_udp(capture):
            try:
                message_type = wire.decode(datagram.payload).type
            except wire.DecodeError:
                message_type = "<undecodable>"
            if per_type.get(message_type, 0) < PACKETS_PER_TYPE:
                per_type[message_type] = per_type.get(message_type, 0) + 1
                payloads.append(datagram.payload)
    return _unique(payloads)


def _packets() -> list[bytes]:
    """Captured payloads, and each message in classic framing signed with a key set that
    authenticates it (what a serial link would carry)."""
    from lvs_compat.config.authkeys import parse_authkeys
    from lvs_compat.heartbeat import wire

    payloads = _captured_payloads()
    key_sets = [parse_authkeys(text) for _, text in keyfiles()]
    classic = []
    for payload in payloads:
        try:
            frame = wire.decode_frame(payload)
        except wire.DecodeError:
            continue
        keys = next((keys for keys in key_sets if frame.verify(keys)), None)
        if keys is not None:
            classic.append(wire.encode_classic(frame.message, keys,
                                               trailing_nul=len(classic) % 2 == 1))
    return _unique(payloads + classic)


_SOURCES = {
    "moncf": _mon_cf_files,
    "period": _period_specs,
    "hacf": lambda: _ha_files("ha.cf", "ha.cf") + _ha_files("ha.conf", "ha.cf"),
    "haresources": lambda: _ha_files("haresources", "haresources"),
    "authkeys": lambda: _ha_files("authkeys", "authkeys"),
    "wire": _packets,
}


@functools.cache
def seeds(target: str) -> tuple[bytes, ...]:
    """The seed inputs of ``target``; an error if there are none (is ``../shared`` there?)."""
    found = tuple(_unique(_SOURCES[target]()))
    if not found:
        raise FileNotFoundError(f"no seed input for {target}: is {SHARED} there?")
    return found


def write_corpus(directory: Path, targets=TARGET_NAMES) -> dict[str, int]:
    """Write each target's seeds to ``directory/<target>/seed-<sha1>``; returns the counts."""
    counts = {}
    for target in targets:
        folder = directory / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in seeds(target):
            name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
            (folder / name).write_bytes(data)
        counts[target] = len(seeds(target))
    return counts


def main(argv: list[str]) -> int:
    directory = Path(argv[1]) if len(argv) > 1 else REPO / "build" / "fuzz-corpus"
    for target, count in write_corpus(directory).items():
        print(f"{target}: {count} seed inputs in {directory / target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
