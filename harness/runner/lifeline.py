"""A process that ends with the process that started it.

A cluster worker runs each trial as a child process; if the worker dies (kill -9, a lost
machine), the trial must not go on loading a server nobody will read. Linux's
PR_SET_PDEATHSIG sends the child a signal when its parent goes; SIGTERM, so the trial
stops the way Ctrl-C stops it: servers, mounts and containers removed. ctypes, because the
standard library has no prctl and one call does not justify a dependency.

The setting survives exec, so `python -m harness.runner.lifeline PID -- COMMAND...` runs any
command (a Dask scheduler or worker the demo starts) bound to process PID the same way.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def exit_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> None:
    """Have the kernel send `signum` to this process when its parent ends (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:  # the parent was gone before the call took effect
        os.kill(os.getpid(), signum)


def command(parent_pid: int, argv: list[str]) -> list[str]:
    """`argv`, run so that it gets SIGTERM when process `parent_pid` ends."""
    return [sys.executable, "-m", "harness.runner.lifeline", str(parent_pid), "--", *argv]


if __name__ == "__main__":
    parent, _, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    exit_with_parent(int(parent))
    os.execvp(argv[0], argv)
