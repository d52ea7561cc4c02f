"""Start the real mon on one config inside a private network namespace and report what it made of it.

Run as ``unshare -n python3 run_mon.py CONFIG PORT [GROUP...]``.  Prints one JSON
object: ``{"exit": rc, "stderr": ...}`` when mon refused the file, or
``{"exit": null, "stderr": ..., "replies": {command: [lines]}}`` when it started,
with the replies to ``list watch``, ``list descriptions``, ``list opstatus``,
``list aliases`` and ``list group GROUP``.  mon is always stopped before exit.
"""

import json
import socket
import subprocess
import sys
import tempfile
import time

STARTUP_SECONDS = 8


def ask(connection, reader, command):
    connection.sendall(command.encode() + b"\n")
    lines = []
    while True:
        line = reader.readline().decode("utf-8", "replace")
        if not line:
            return lines
        line = line.rstrip("\n")
        if line[:3].isdigit() and line[3:4] == " " and line[0] in "25":
            return lines + [line]
        lines.append(line)


def main():
    config, port, groups = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "TZ": "UTC"}
    with tempfile.TemporaryFile() as stderr:
        mon = subprocess.Popen(["/usr/sbin/mon", "-c", config, "-P", ""], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=stderr, env=environment)
        result = {"exit": None}
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if mon.poll() is not None:
                    result["exit"] = mon.returncode
                    break
                try:
                    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
                except OSError:
                    if time.monotonic() > deadline:
                        result["exit"] = "timeout"
                        break
                    time.sleep(0.05)
                    continue
                with connection, connection.makefile("rb") as reader:
                    commands = ["list watch", "list descriptions", "list opstatus", "list aliases"]
                    commands += [f"list group {group}" for group in groups]
                    result["replies"] = {command: ask(connection, reader, command) for command in commands}
                    connection.sendall(b"quit\n")
                break
        finally:
            if mon.poll() is None:
                mon.terminate()
                try:
                    mon.wait(5)
                except subprocess.TimeoutExpired:
                    mon.kill()
                    mon.wait()
        stderr.seek(0)
        result["stderr"] = [line for line in stderr.read().decode("utf-8", "replace").splitlines()
                            if not line.startswith("client ")]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
