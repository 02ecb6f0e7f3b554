"""A Dask cluster on this machine's loopback: one scheduler and N workers, as real processes.

For `make cluster-demo` (the way to try the cluster executor on one machine) and the tests. It
starts exactly what a user starts on real machines (`dask scheduler`, `dask worker ...
--resources trial=1`), bound to 127.0.0.1, and says the commands; on leaving, the workers are
shut down first (SIGTERM: each stops its trials as on Ctrl-C), then the scheduler, and any
process that does not exit in time is killed with its process group, so nothing is left.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError
from harness.runner import lifeline
from harness.runner.cluster_task import TRIAL_RESOURCE

LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 100.0  # a worker's trial may need its cleanup grace (cluster_task.STOP_GRACE_S)


def scheduler_command(scheduler_file: Path) -> list[str]:
    return [sys.executable, "-m", "dask", "scheduler", "--host", LOOPBACK, "--port", "0", "--no-dashboard",
            "--scheduler-file", str(scheduler_file)]


def worker_command(address: str, name: str, directory: Path) -> list[str]:
    return [sys.executable, "-m", "dask", "worker", address, "--host", LOOPBACK, "--nthreads", "1",
            "--resources", f"{TRIAL_RESOURCE}=1", "--no-dashboard", "--name", name,
            "--local-directory", str(directory)]


class LoopbackCluster:
    def __init__(self, workers: int, directory: Path, echo: Callable[[str], None] = lambda text: None) -> None:
        self.size = workers
        self.directory = Path(directory)
        self.echo = echo
        self.address = ""
        self.scheduler: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def _start(self, argv: list[str], log_name: str) -> subprocess.Popen:
        self.echo("  " + shlex.join(["dask", *argv[3:]]))
        log = open(self.directory / log_name, "w")  # noqa: SIM115 - the process writes it until it ends
        try:
            # Its own session: Ctrl-C in the terminal reaches the run, which stops its trials, not
            # the workers under it; they are shut down in order afterwards. Its lifeline: if this
            # process dies (kill -9), they get SIGTERM and shut down instead of running on.
            return subprocess.Popen(lifeline.command(os.getpid(), argv), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=self.directory)
        finally:
            log.close()

    def __enter__(self) -> "LoopbackCluster":
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self._start_all()
        except BaseException:
            self.close()
            raise
        return self

    def _start_all(self) -> None:
        scheduler_file = self.directory / "scheduler.json"
        self.echo(f"starting a Dask scheduler and {self.size} worker(s) on {LOOPBACK}:")
        self.scheduler = self._start(scheduler_command(scheduler_file), "scheduler.log")
        self.address = self._wait_for_address(scheduler_file)
        for number in range(1, self.size + 1):
            workdir = self.directory / f"worker-{number}"
            workdir.mkdir(exist_ok=True)
            self.workers.append(self._start(worker_command(self.address, f"worker-{number}", workdir),
                                            f"worker-{number}.log"))
        self._wait_for_workers()
        self.echo(f"cluster ready at {self.address}")

    def _wait_for_address(self, scheduler_file: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.scheduler.poll() is not None:
                raise HarnessError(f"the Dask scheduler exited ({self._log_tail('scheduler.log')})")
            try:
                return json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        raise HarnessError(f"the Dask scheduler did not start within {START_TIMEOUT_S:.0f} s")

    def _wait_for_workers(self) -> None:
        from harness.runner.cluster import connect, trial_workers  # noqa: PLC0415

        client = connect(self.address)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while len(trial_workers(client)) < self.size:
                dead = [n for n, w in enumerate(self.workers, 1) if w.poll() is not None]
                if dead:
                    raise HarnessError(f"Dask worker {dead[0]} exited ({self._log_tail(f'worker-{dead[0]}.log')})")
                if time.monotonic() > deadline:
                    raise HarnessError(f"the Dask workers did not join within {START_TIMEOUT_S:.0f} s")
                time.sleep(0.2)
        finally:
            client.close()

    def _log_tail(self, name: str) -> str:
        try:
            lines = (self.directory / name).read_text().strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "empty log"

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Workers first (their trials stop cleanly), then the scheduler; stragglers killed."""
        for process in self.workers:
            _terminate(process)
        for process in self.workers:
            _reap(process, STOP_TIMEOUT_S)
        if self.scheduler is not None:
            _terminate(self.scheduler)
            _reap(self.scheduler, 20.0)
        self.workers, self.scheduler = [], None


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()


def _reap(process: subprocess.Popen, timeout_s: float) -> None:
    """Wait for the process, then make sure its whole group (a nanny's worker child) is gone."""
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its session's group: the nanny and the worker under it
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
