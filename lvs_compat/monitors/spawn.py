"""Run programs with stdout and stderr merged into one pipe, killed at a deadline.

``os.posix_spawnp`` and ``select.poll`` instead of ``subprocess``: the latter costs
≈ 8 ms to import on these machines, more than the rest of fping.monitor.
"""

import os
import select
import signal
import time


class Finished:
    def __init__(self, argv):
        self.argv = argv
        self.output = b""
        self.exit_code = None   # None: could not start, or killed at the deadline
        self.start_error = None
        self.killed = False


def run_all(argvs, deadline, clock=time.monotonic):
    """Run each argv (looked up in PATH, no shell) at once; return a ``Finished`` per
    argv once all have exited or ``deadline`` (a ``clock()`` value) has passed."""
    runs, by_fd, chunks = [], {}, {}
    poller = select.poll()
    for argv in argvs:
        run = Finished(argv)
        runs.append(run)
        read_end, write_end = os.pipe()
        try:
            run.pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, write_end, 1), (os.POSIX_SPAWN_DUP2, write_end, 2)])
        except OSError as error:
            run.start_error = error.strerror
            run.pid = None
            os.close(read_end)
            continue
        finally:
            os.close(write_end)
        by_fd[read_end] = run
        chunks[read_end] = []
        poller.register(read_end, select.POLLIN)
    while by_fd:
        remaining = deadline - clock()
        if remaining <= 0:
            break
        for fd, _ in poller.poll(remaining * 1000):
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                os.close(fd)
                by_fd.pop(fd).output = b"".join(chunks[fd])
    for fd, run in by_fd.items():  # the deadline struck
        os.kill(run.pid, signal.SIGKILL)
        run.killed = True
        run.output = b"".join(chunks[fd])
        os.close(fd)
    for run in runs:
        if run.pid is not None:
            _, status = os.waitpid(run.pid, 0)
            if not run.killed:
                run.exit_code = os.waitstatus_to_exitcode(status)
    return runs
