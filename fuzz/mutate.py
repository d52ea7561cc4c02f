"""Structure-aware mutations of config text and heartbeat packets.

Every mutation takes the input bytes and ``rng`` (a ``random.Random``: the atheris driver seeds
one per call, the hypothesis tests draw one with ``st.randoms()`` so that failures shrink) and
returns new bytes.  Text mutations work on lines and tokens and bring in the grammar's own
keywords, so that a mutated file still reaches deep into a parser instead of dying on line 1;
packet mutations work on netstring items and classic lines and never re-sign anything: a
mutated packet that still authenticates is a finding (see ``targets.check_wire``).
"""

from __future__ import annotations

import re

# Tokens that break parsers that trust their input: numbers at and past every C and Python
# limit, Unicode digits that Python's \d, str.isdigit() or int() accept and Perl/C do not,
# look-alikes, and the separators of the formats.
TRICKY_TOKENS = (
    "0", "-1", "+1", "00", "007", "1.5", ".5", "5.", "1e3", "1e400", "inf", "nan", "-0",
    "2147483647", "2147483648", "4294967296", "9223372036854775807", "18446744073709551616",
    "9" * 40, "0x10", "1_000", "\u00b2", "\u2460", "\u0663", "\uff11\uff12", "\U0001d7d9",
    "\u0e51", "\u00bd", "\u2155", "\u216b", "\u0130", "\u017f", "\u212a", "\ufb01", "\u00df",
    "=", "==", ",", ";;", ":", "::", "{", "}", "-", "/", "\\", "\"", "'", "`", "$", "${X}",
    "#", "(", ")", "()", "[", "]", "*", "%", "%s%n", "~", "", " ", "\t", "\v", "\f", "\x00",
    "\x85", "\u2028", "\u00a0", "\u3000", "\ufeff", "\udc80", "\udcff",
)

UNICODE_SAMPLES = (
    "\u00e9", "\u0301", "\u200b", "\u200e", "\u202e", "\u00a0", "\u3000", "\u2028", "\u2029",
    "\u0085", "\u00b2", "\u0663", "\uff11", "\u0130", "\u212a", "\ufeff", "\U0001f600",
    "\U0001d7d9", "\ufffd", "\u0000", "\u001b", "\u007f", "\udc80", "\udcff",
)

NEWLINES = ("\n", "\r\n", "\r", "\n\r", "\r\r\n", "\x0b", "\x0c", "\x85", "\u2028", "\x00\n",
            "\\\n", " \\\n", "\n\n", "")

MAX_TEXT = 256 * 1024  # a mutation that would grow a config past this is skipped

_TOKEN = re.compile(r"[^\s,;:=(){}\[\]\"']+")
_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    # Lone surrogates outside surrogateescape's range cannot come from a file: drop them.
    return text.encode("utf-8", "surrogateescape" if _escapable(text) else "ignore")


def _escapable(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


def _pick_index(rng, items) -> int:
    return rng.randrange(len(items)) if items else 0


# --- text ---------------------------------------------------------------------------------


def delete_lines(data: bytes, rng, keywords) -> bytes:
    lines = _lines(_text(data))
    if not lines:
        return data
    at = _pick_index(rng, lines)
    del lines[at:at + rng.choice((1, 1, 1, 2, 5))]
    return _bytes("".join(lines))


def duplicate_line(data: bytes, rng, keywords) -> bytes:
    lines = _lines(_text(data))
    if not lines:
        return data
    at = _pick_index(rng, lines)
    lines[at:at] = [lines[at]] * min(rng.choice((1, 1, 2, 10)), MAX_TEXT // (len(lines[at]) + 1))
    return _bytes("".join(lines))


def swap_lines(data: bytes, rng, keywords) -> bytes:
    lines = _lines(_text(data))
    if len(lines) < 2:
        return data
    i, j = _pick_index(rng, lines), _pick_index(rng, lines)
    lines[i], lines[j] = lines[j], lines[i]
    return _bytes("".join(lines))


def move_line(data: bytes, rng, keywords) -> bytes:
    lines = _lines(_text(data))
    if len(lines) < 2:
        return data
    line = lines.pop(_pick_index(rng, lines))
    lines.insert(rng.randrange(len(lines) + 1), line)
    return _bytes("".join(lines))


def replace_token(data: bytes, rng, keywords) -> bytes:
    """A word of the input becomes a grammar keyword or a tricky token."""
    text = _text(data)
    tokens = list(_TOKEN.finditer(text))
    replacement = rng.choice(keywords) if keywords and rng.random() < 0.6 else \
        rng.choice(TRICKY_TOKENS)
    if not tokens:
        return _bytes(text + replacement)
    token = rng.choice(tokens)
    return _bytes(text[:token.start()] + replacement + text[token.end():])


def insert_keyword_line(data: bytes, rng, keywords) -> bytes:
    """A new line: a keyword and a few keywords or tricky tokens, at any line boundary."""
    lines = _lines(_text(data))
    words = [rng.choice(keywords) if keywords else "x"]
    for _ in range(rng.randrange(4)):
        words.append(rng.choice(keywords) if keywords and rng.random() < 0.5 else
                     rng.choice(TRICKY_TOKENS))
    indent = rng.choice(("", "", " ", "\t", "    "))
    lines.insert(rng.randrange(len(lines) + 1), indent + rng.choice((" ", "\t", "=", " = ")).join(
        words) + "\n")
    return _bytes("".join(lines))


def insert_unicode(data: bytes, rng, keywords) -> bytes:
    text = _text(data)
    at = rng.randrange(len(text) + 1)
    if rng.random() < 0.5:
        piece = "".join(rng.choice(UNICODE_SAMPLES) for _ in range(rng.randrange(1, 4)))
    else:
        piece = "".join(chr(rng.choice((rng.randrange(0x80, 0x800), rng.randrange(0x800, 0xD800),
                                        rng.randrange(0xE000, 0x110000))))
                        for _ in range(rng.randrange(1, 4)))
    return _bytes(text[:at] + piece + text[at:])


def insert_nul(data: bytes, rng, keywords) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + b"\0" * rng.choice((1, 1, 2, 8)) + data[at:]


def mix_newlines(data: bytes, rng, keywords) -> bytes:
    """Some (or every) line ending becomes CR, CRLF, LFCR, VT, FF, NEL, a continuation..."""
    text = _text(data)
    ends = [match.start() for match in re.finditer("\n", text)]
    if not ends:
        return _bytes(text + rng.choice(NEWLINES))
    chosen = ends if rng.random() < 0.3 else [rng.choice(ends)]
    newline = rng.choice(NEWLINES)
    for at in reversed(chosen):
        text = text[:at] + newline + text[at + 1:]
    return _bytes(text)


def huge_line(data: bytes, rng, keywords) -> bytes:
    """One line grows to tens or hundreds of kilobytes: a token repeated, or padding."""
    lines = _lines(_text(data)) or [""]
    at = _pick_index(rng, lines)
    line = lines[at].rstrip("\n")
    size = rng.choice((4096, 65536, 200000))
    tokens = _TOKEN.findall(line) or [rng.choice(keywords) if keywords else "x"]
    kind = rng.randrange(4)
    if kind == 0:
        token = rng.choice(tokens)
        filler = (" " + token) * (size // (len(token) + 1) + 1)
    elif kind == 1:
        filler = rng.choice(("9", "a", " ", "\t", "-", "\\", "{", "}", ",", "\u00e9")) * size
    elif kind == 2:
        token = rng.choice(tokens)
        filler = token * (size // len(token) + 1)
    else:
        filler = "".join(rng.choice(TRICKY_TOKENS) + " " for _ in range(size // 8))
    lines[at] = line + filler[:size] + "\n"
    return _bytes("".join(lines))


def many_lines(data: bytes, rng, keywords) -> bytes:
    """Thousands of copies of a line: what a generated config could look like."""
    lines = _lines(_text(data))
    if not lines:
        return data
    at = _pick_index(rng, lines)
    line = lines[at] if lines[at].endswith("\n") else lines[at] + "\n"
    lines[at:at] = [line] * min(rng.choice((200, 2000)), MAX_TEXT // len(line))
    return _bytes("".join(lines))


def flip_byte(data: bytes, rng, keywords) -> bytes:
    if not data:
        return bytes([rng.randrange(256)])
    mutated = bytearray(data)
    mutated[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(mutated)


def truncate(data: bytes, rng, keywords) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def insert_bytes(data: bytes, rng, keywords) -> bytes:
    at = rng.randrange(len(data) + 1)
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
    return data[:at] + junk + data[at:]


TEXT_MUTATIONS = (delete_lines, duplicate_line, swap_lines, move_line, replace_token,
                  replace_token, insert_keyword_line, insert_keyword_line, insert_unicode,
                  insert_nul, mix_newlines, huge_line, many_lines, flip_byte, truncate,
                  insert_bytes)
_GROWING = (huge_line, many_lines)
_SMALL = tuple(mutation for mutation in TEXT_MUTATIONS if mutation not in _GROWING)


def splice_lines(data: bytes, other: bytes, rng) -> bytes:
    """Crossover: the first lines of one input, the last of another."""
    mine, theirs = _lines(_text(data)), _lines(_text(other))
    return _bytes("".join(mine[:rng.randrange(len(mine) + 1)] +
                          theirs[rng.randrange(len(theirs) + 1):]))


def mutate_text(data: bytes, rng, keywords, count: int | None = None,
                max_size: int = MAX_TEXT) -> bytes:
    """1-4 (or ``count``) text mutations in a row; none grows the input past ``max_size``."""
    for _ in range(count if count is not None else rng.choice((1, 1, 2, 3, 4))):
        # Growing a file is slow to parse and seldom finds new paths: one step in 40.
        mutation = rng.choice(_GROWING if rng.random() < 0.025 else _SMALL)
        mutated = mutation(data, rng, keywords)
        if len(mutated) <= max_size:
            data = mutated
    return data


# --- packets --------------------------------------------------------------------------------

def packet_spans(packet: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the fields of a packet: netstring items (the trailer too) or classic
    lines.  Best effort: stops where the packet stops making sense."""
    spans = []
    if packet.startswith(b">>>\n"):
        pos = 4
        while (end := packet.find(b"\n", pos)) >= 0:
            spans.append((pos, end + 1))
            pos = end + 1
        return spans
    pos = 4 if packet.startswith(b"###\n") else 0
    while pos < len(packet):
        if packet.startswith(b"%%%\n", pos):
            pos += 4
            continue
        colon = packet.find(b":", pos, pos + 8)
        if colon < 0 or not packet[pos:colon].isdigit():
            break
        end = colon + 1 + int(packet[pos:colon]) + 1
        if end > len(packet):
            break
        spans.append((pos, end))
        pos = end
    return spans


def _two_spans(packet: bytes, rng):
    spans = packet_spans(packet)
    if not spans:
        return None
    return sorted((rng.choice(spans), rng.choice(spans)))


def drop_field(packet: bytes, rng) -> bytes:
    pair = _two_spans(packet, rng)
    return packet if pair is None else packet[:pair[0][0]] + packet[pair[0][1]:]


def duplicate_field(packet: bytes, rng) -> bytes:
    pair = _two_spans(packet, rng)
    if pair is None:
        return packet
    (start, stop), (_, other_stop) = pair
    return packet[:other_stop] + packet[start:stop] + packet[other_stop:]


def swap_fields(packet: bytes, rng) -> bytes:
    pair = _two_spans(packet, rng)
    if pair is None or pair[0][1] > pair[1][0]:
        return packet
    (a, b), (c, d) = pair
    return packet[:a] + packet[c:d] + packet[b:c] + packet[a:b] + packet[d:]


def renumber_field(packet: bytes, rng) -> bytes:
    """Another length in front of a netstring item: off by one, zero, huge, signed, padded."""
    spans = [span for span in packet_spans(packet) if packet[span[0]:span[0] + 1].isdigit()]
    if not spans:
        return packet
    start, stop = rng.choice(spans)
    colon = packet.find(b":", start, stop)
    if colon < 0 or not packet[start:colon].isdigit():
        return packet
    length = int(packet[start:colon])
    other = rng.choice((length - 1, length + 1, 0, length * 2, 2 ** 18, 2 ** 64))
    text = rng.choice(("%d", "0%d", "+%d", " %d", "%d ", "-%d")) % other
    return packet[:start] + text.encode() + packet[colon:]


def edit_value(packet: bytes, rng) -> bytes:
    """Bytes inside a field after its '=': tricky tokens, NUL, CR, 0x13, UTF-8, keeping (or
    not) the netstring length right."""
    spans = packet_spans(packet)
    if not spans:
        return packet
    start, stop = rng.choice(spans)
    colon = packet.find(b":", start, stop) if packet[start:start + 1].isdigit() else -1
    if colon >= 0 and not packet[start:colon].isdigit():
        colon = -1
    equals = packet.find(b"=", start, stop)
    at = rng.randrange(max(equals, colon) + 1, stop) if max(equals, colon) + 1 < stop else stop
    piece = rng.choice((b"\0", b"\r", b"\n", b"\x13", b"=", b",", b"%%%\n", b"###\n", b"<<<\n",
                        b">>>\n", b"\xff", b"\xc3\xa9", b"\xed\xa0\x80", b"\x80", b"(1)", b"9",
                        rng.choice(TRICKY_TOKENS).encode("utf-8", "surrogatepass")))
    mutated = packet[:at] + piece + packet[at:]
    if colon >= 0 and rng.random() < 0.7:  # keep the netstring length honest
        length = int(packet[start:colon]) + len(piece)
        mutated = mutated[:start] + str(length).encode() + mutated[colon:]
    return mutated


def retype_field(packet: bytes, rng) -> bytes:
    spans = packet_spans(packet)
    if not spans:
        return packet
    start, stop = rng.choice(spans)
    paren = packet.find(b"(", start, stop)
    if paren < 0 or paren + 1 >= len(packet):
        return packet[:start] + b"(" + bytes([rng.choice(b"0123456789a")]) + b")" + \
            packet[start:]
    return packet[:paren + 1] + bytes([rng.choice(b"0123456789a(")]) + packet[paren + 2:]


def tamper_trailer(packet: bytes, rng) -> bytes:
    """The auth trailer or auth field: another index, a changed or upper-cased digest, bytes
    after it, or moved into the body."""
    marker = packet.rfind(b"%%%\n")
    auth = packet.rfind(b"auth=")
    at = marker + 4 if marker >= 0 else (auth + 5 if auth >= 0 else -1)
    if at < 0 or at >= len(packet):
        return packet + rng.choice((b"5:1 abc,", b"\0", b"\n"))
    tail = packet[at:]
    kind = rng.randrange(6)
    if kind == 0:
        tail = re.sub(rb"(\d+:)?\d+ ", lambda m: (m[1] or b"") + rng.choice(
            (b"0 ", b"2 ", b"3 ", b"4 ", b"15 ", b"16 ", b"01 ", b"1  ")), tail, count=1)
    elif kind == 1:
        tail = tail.upper()
    elif kind == 2:
        hexes = [m.start() for m in re.finditer(rb"[0-9a-f]", tail)]
        if hexes:
            i = rng.choice(hexes)
            tail = tail[:i] + bytes([rng.choice(b"0123456789abcdef")]) + tail[i + 1:]
    elif kind == 3:
        tail = tail + rng.choice((b"\0", b"\n", b",", b"x", tail))
    elif kind == 4:
        return packet[:marker] + tail + packet[marker:at] if marker >= 0 else packet
    else:
        tail = tail[:rng.randrange(len(tail) + 1)]
    return packet[:at] + tail


def reframe(packet: bytes, rng) -> bytes:
    """Netstring items as classic lines or the other way round, without signing anything:
    a packet's claimed digest carried to a framing that signs other bytes."""
    from lvs_compat.heartbeat import wire  # the codec renders; nothing is signed here

    try:
        message = wire.decode(packet)
    except wire.DecodeError:
        return packet
    auth = message.get("auth")
    auth = auth.encode("utf-8", "surrogateescape") if isinstance(auth, str) else b"1 00"
    if packet.startswith(b"###\n"):
        return b">>>\n" + wire.auth_field_payload(message) + b"auth=" + auth + b"\n<<<\n"
    items = (b"(%d)%s=%s" % (f.type, f.name.encode(), f.value.encode("utf-8", "surrogateescape")
                             if isinstance(f.value, str) else f.value) for f in message)
    body = b"".join(b"%d:%s," % (len(item), item) for item in items)
    return b"###\n" + body + b"%%%\n" + b"%d:%s," % (len(auth), auth)


def mangle_newlines(packet: bytes, rng) -> bytes:
    """CR/LF mixtures between and inside classic lines (C skips runs of them)."""
    ends = [m.start() for m in re.finditer(rb"\n", packet)]
    if not ends:
        return packet
    at = rng.choice(ends)
    return packet[:at] + rng.choice((b"\r\n", b"\n\n", b"\r", b"\n\r\n", b"\r\r", b"")) + \
        packet[at + 1:]


PACKET_MUTATIONS = (drop_field, duplicate_field, swap_fields, renumber_field, edit_value,
                    edit_value, retype_field, tamper_trailer, tamper_trailer, reframe,
                    mangle_newlines)
_BYTE_MUTATIONS = (flip_byte, truncate, insert_bytes, insert_nul)


MAX_PACKET = 300 * 1024  # a little past MAXMSG


def mutate_packet(packet: bytes, rng, count: int | None = None,
                  max_size: int = MAX_PACKET) -> bytes:
    """1-3 (or ``count``) packet mutations; now and then a plain byte-level one."""
    for _ in range(count if count is not None else rng.choice((1, 1, 2, 3))):
        if rng.random() < 0.2:
            mutated = rng.choice(_BYTE_MUTATIONS)(packet, rng, ())
        else:
            mutated = rng.choice(PACKET_MUTATIONS)(packet, rng)
        if len(mutated) <= max_size:
            packet = mutated
    return packet
