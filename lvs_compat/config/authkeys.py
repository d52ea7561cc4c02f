"""``authkeys`` exactly as heartbeat 3.0.6 reads it (SPEC §1c; C: ``parse_authfile`` in auth.c).

* The file must not be group- or world-readable (``S_IRGRP|S_IROTH``); 600 and 400 are fine,
  write bits and the owner are not checked.  We test the mode bits, so running as root changes
  nothing.
* Each ``\\n``-terminated line: leading blanks are skipped; an empty line or one starting with
  ``#`` is ignored, but a ``#`` after data is data.
* A line starting with ``a`` must be ``sscanf("auth %d")``: it selects the *outbound* index N.
* Any other line is ``sscanf("%d%s%s")``: ``N METHOD [KEY]`` with N in 0..15, METHOD one of the
  installed plugins ``crc``, ``md5``, ``sha1`` (case-sensitive), and KEY the first
  whitespace-free word (the rest of the line is silently dropped; we warn).  ``crc`` takes no
  key, ``md5``/``sha1`` need one.  A later line for the same N replaces the earlier one.
  ``crc`` (no authentication at all) and ``md5`` are accepted with a warning at their line.
* The active entry is chosen when a method line's N equals the ``auth N`` read *so far*, so
  ``auth N`` must come before its key line ("Auth Key [N] not found in keyfile"); without any
  ``auth`` line: "Missing auth directive".
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from .libc import C_ISSPACE, c_strtol
from .errors import ConfigError, ConfigWarning, Location, read_config_text
from .hacf import WHITESPACE, scan_words

MAXAUTH = 16
METHODS = {"crc": False, "md5": True, "sha1": True}  # method: needs a key
# Issue 19: accepted as 3.0.6 accepts them, but never in silence.  Every entry counts, not only
# the active one: a packet is checked with the entry whose index it names (SPEC §1c).
WEAK_METHODS = {
    "crc": "no authentication: anyone on the heartbeat network can forge our peers' packets "
           "(a CRC, no key); use sha1",
    "md5": "HMAC-MD5 is weaker than sha1; use sha1",
}


@dataclass(frozen=True)
class AuthEntry:
    index: int
    method: str  # 'crc' | 'md5' | 'sha1'
    key: str | None
    location: Location


@dataclass(frozen=True)
class AuthKeys:
    path: str
    active_index: int
    entries: tuple[AuthEntry, ...]
    warnings: tuple[ConfigWarning, ...]

    @property
    def active(self) -> AuthEntry:
        """The entry used to sign outbound messages (``auth N``)."""
        return next(entry for entry in self.entries if entry.index == self.active_index)

    def entry(self, index: int) -> AuthEntry | None:
        return next((entry for entry in self.entries if entry.index == index), None)


def parse_authkeys(text: str, path: str = "authkeys") -> AuthKeys:
    entries: dict[int, AuthEntry] = {}
    warnings: list[ConfigWarning] = []
    auth_index, auth_at, active_index = -1, Location(path), None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("\0", 1)[0]
        body = line.lstrip(WHITESPACE)
        where = Location(path, number, len(line) - len(body) + 1)
        if body[:1] in ("", "#"):
            continue
        if body.startswith("a"):
            parsed = c_strtol(body[4:]) if body.startswith("auth") else None
            if parsed is None:
                raise ConfigError(where, f"Invalid auth line [{body}]")
            auth_index, auth_at = parsed[0], where
            if body[4 + parsed[1]:].strip(C_ISSPACE):
                warnings.append(ConfigWarning(where, f"text after 'auth {auth_index}' ignored"))
            continue
        parsed = c_strtol(body)
        words = scan_words(body[parsed[1]:], C_ISSPACE, parsed[1]) if parsed else []
        if not words:
            raise ConfigError(where, f"Auth line [{body}] is invalid.")
        index, (method, method_at) = parsed[0], words[0]
        method_where = Location(path, number, where.column + method_at)
        key = words[1][0] if len(words) > 1 else None
        if not 0 <= index < MAXAUTH:
            raise ConfigError(where, f"Invalid authnum [{index}]")
        if method not in METHODS:
            raise ConfigError(method_where, f"Invalid authtype [{method}]")
        if key is not None and not METHODS[method]:
            raise ConfigError(method_where, f"Auth method [{method}] doesn't use a key")
        if key is None and METHODS[method]:
            raise ConfigError(method_where, f"Auth method [{method}] requires a key")
        if len(words) > 2:
            warnings.append(ConfigWarning(
                Location(path, number, where.column + words[2][1]),
                f"the key is the first word [{key}] only; the rest of the line is ignored"))
        if index in entries:
            warnings.append(ConfigWarning(where, f"Auth key [{index}] redefined: this line "
                                          f"replaces line {entries.pop(index).location.line}"))
        entries[index] = AuthEntry(index, method, key, where)
        if method in WEAK_METHODS:
            warnings.append(ConfigWarning(method_where, f"auth method {method}: "
                                          f"{WEAK_METHODS[method]}"))
        if index == auth_index:
            active_index = index
    if active_index is None:
        if auth_index < 0:
            raise ConfigError(Location(path), "Missing auth directive in keyfile")
        raise ConfigError(auth_at, f"Auth Key [{auth_index}] not found in keyfile (auth "
                          f"{auth_index} must come before its key line)")
    return AuthKeys(path, active_index, tuple(entries.values()), tuple(warnings))


def outbound_change(old: AuthKeys, new: AuthKeys) -> str | None:
    """What a reload from ``old`` to ``new`` does to a peer that keeps ``old``, in one located
    line (issue 19: switching to crc on SIGHUP cut the peer off without a word), or None when
    we still sign as before.  Keys are never named."""
    before, after = old.active, new.active
    if (before.index, before.method, before.key) == (after.index, after.method, after.key):
        return None
    if before.method != after.method:
        what = f"method changes from {before.method} to {after.method}"
        peer = f"a peer still on {before.method}"
    elif before.index != after.index:
        what = f"the active key changes from auth {before.index} to auth {after.index}"
        peer = f"a peer without key {after.index}"
    else:
        what = f"the key of auth {after.index} changes"
        peer = "a peer still on the old key"
    return (f"{after.location}: authkeys: {what}: {peer} will drop our packets until it "
            "changes too")


def check_keyfile_mode(path: str) -> None:
    """Refuse a missing keyfile or one that the group or others may read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise ConfigError(Location(path), f"Cannot open keyfile [{path}]: "
                          f"{exc.strerror or exc}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        raise ConfigError(Location(path), f"Bad permissions on keyfile [{path}], 600 "
                          f"recommended (mode is {stat.S_IMODE(mode):04o})")


def load_authkeys(path: str) -> AuthKeys:
    check_keyfile_mode(path)
    return parse_authkeys(read_config_text(path), path)
