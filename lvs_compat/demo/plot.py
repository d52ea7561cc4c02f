"""The timeline as a PNG, written with the standard library only (zlib + struct).

Why not matplotlib: the scenario runs inside the QEMU guest, where Python is ~16x slower and
``import matplotlib.pyplot`` alone would cost minutes of the demo's 5; a few bands of colour need
no plotting library.  Labels are drawn with a 3x5 pixel font built in below.

Layout (time runs left to right, 8 pixels a second up to 1000 pixels):

* top band: who holds the VIP (lvs1 blue, lvs2 orange, nobody grey, both red);
* middle: the client's requests, each until the next (green answered, red failed);
* lower band: the long-lived connection (green answering, red lost, white not yet opened);
* black vertical lines: the events, numbered as in the printed timeline.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

WIDTH_MAX = 1000
HEIGHT = 200
COLOURS = {
    "white": (255, 255, 255), "black": (0, 0, 0), "grey": (190, 190, 190),
    "lvs1": (31, 119, 180), "lvs2": (255, 127, 14), "both": (214, 39, 40),
    "ok": (44, 160, 44), "failed": (214, 39, 40), "axis": (120, 120, 120),
}
FONT = {  # 3x5, rows top to bottom, bits left to right
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), "s": (0, 3, 6, 3, 6),
}


class Canvas:
    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.pixels = [bytearray(COLOURS["white"] * width) for _ in range(height)]

    def fill(self, x0: int, y0: int, x1: int, y1: int, colour) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x0 >= x1:
            return
        for y in range(y0, y1):
            self.pixels[y][x0 * 3:x1 * 3] = bytes(colour) * (x1 - x0)

    def text(self, x: int, y: int, text: str, colour=COLOURS["black"], scale: int = 2) -> None:
        for char in text:
            for row, bits in enumerate(FONT.get(char, (0,) * 5)):
                for column in range(3):
                    if bits & (4 >> column):
                        self.fill(x + column * scale, y + row * scale,
                                  x + (column + 1) * scale, y + (row + 1) * scale, colour)
            x += 4 * scale

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.pixels)

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def write_plot(record: dict, path: Path) -> None:
    duration = max(1.0, record["duration_s"])
    width = min(WIDTH_MAX, max(300, int(duration * 8)))
    seconds_per_px = duration / width
    canvas = Canvas(width, HEIGHT)
    x_of = lambda t: int(t / seconds_per_px)
    # VIP holder band, y 20..45
    for sample, following in zip(record["samples"], record["samples"][1:] + [None]):
        end = following["t"] if following else duration
        holders = sample["holders"]
        colour = (COLOURS["grey"] if not holders else COLOURS["both"] if len(holders) > 1
                  else COLOURS[holders[0]])
        canvas.fill(x_of(sample["t"]), 20, max(x_of(end), x_of(sample["t"]) + 1), 45, colour)
    # client requests, y 60..160: each request's outcome until the next one (green answered,
    # red failed: a timed-out request takes longer, so failures leave no gaps)
    requests = sorted(record["requests"])
    for (t, good, _), following in zip(requests, requests[1:] + [None]):
        end = following[0] if following else t + record.get("timers", {}).get(
            "client_period_s", 0.5)
        canvas.fill(x_of(t), 60, max(x_of(end), x_of(t) + 1), 160,
                    COLOURS["ok"] if good else COLOURS["failed"])
    canvas.fill(0, 160, width, 161, COLOURS["axis"])
    # long-lived connection band, y 170..185
    long_requests = record["long_requests"]
    for (t, good, _), following in zip(long_requests, long_requests[1:] + [None]):
        end = following[0] if following else (duration if good else t + 1)
        canvas.fill(x_of(t), 170, max(x_of(end), x_of(t) + 1), 185,
                    COLOURS["ok"] if good else COLOURS["failed"])
    # events
    for number, event in enumerate(record["events"], start=1):
        x = x_of(event["t"])
        canvas.fill(x, 10, x + 1, 190, COLOURS["black"])
        canvas.text(x + 2, 2, str(number))
    # a tick every 30 s with its time
    for second in range(0, int(duration) + 1, 30):
        x = x_of(second)
        canvas.fill(x, 186, x + 1, 192, COLOURS["axis"])
        canvas.text(x + 2, 189, f"{second}s", COLOURS["axis"], scale=2)
    Path(path).write_bytes(canvas.png())


LEGEND = ("top band: VIP holder (blue lvs1, orange lvs2, grey nobody, red both); middle: client "
          "requests (green answered, red failed); bottom band: the long-lived connection "
          "(green answering, red lost); black lines: the events, numbered as in the timeline")
