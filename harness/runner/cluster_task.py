"""The cluster executor's worker side: what a Dask worker runs, one trial at a time.

A task runs `python -m harness worker SPEC OUT` as a child process on the worker's machine,
next to its Docker engine or server binary (the load goes to that machine's loopback), and
returns the shard packed (harness.runner.shard). A child process rather than the worker's own
thread, because Dask cannot stop a running thread: when the client cancels (Ctrl-C), goes
away, or the worker shuts down, the `TrialProcesses` worker plugin sends the child SIGTERM,
and it removes its servers, mounts and containers as it does on Ctrl-C; when the worker
itself is killed, the child's lifeline (harness.runner.lifeline) does the same.

Each worker offers one `trial` resource (`dask worker ... --resources trial=1`) and every
task asks for it, so a worker runs one trial at a time: trials never share its CPU or disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from harness import __version__
from harness.runner.host import host_facts
from harness.runner.shard import Shard
from harness.spec import TrialSpec

TRIAL_RESOURCE = "trial"
STOP_GRACE_S = 90.0  # a stopped trial's cleanup (servers, a FUSE unmount) before it is killed outright
ERROR_PREFIX = "crash-matrix: error: "


@dataclass(frozen=True)
class TaskResult:
    """What a trial task sends back to the client."""

    trial_id: str
    worker: str  # the Dask worker's address
    host: str
    shard: bytes = b""  # the packed shard; for a failed trial, what it wrote (its servers' logs)
    error: str = ""  # why the trial did not finish ("": it did)
    seconds: float = 0.0  # on the worker, the child process's start included


@dataclass(frozen=True)
class CheckResult:
    """What the config check on a worker found: the servers it will run, and the machine."""

    worker: str
    host: dict
    servers: list[dict]
    harness_version: str
    error: str = ""


class TrialProcesses(WorkerPlugin):
    """The trial processes of one Dask worker, stopped when their task stops being wanted."""

    name = "crash-matrix-trials"
    idempotent = True  # a second run's registration keeps the plugin that knows the running trials

    def setup(self, worker) -> None:
        self._children: dict[str, subprocess.Popen] = {}
        self._stopped: set[str] = set()  # keys stopped before (or while) their child started
        self._lock = threading.Lock()

    def transition(self, key, start, finish, **kwargs) -> None:
        # executing -> released/cancelled/forgotten: the client cancelled the task or went away.
        if start == "executing" and finish in ("released", "cancelled", "forgotten"):
            self.stop(str(key))

    def teardown(self, worker) -> None:
        """The worker is closing: stop every trial and wait for its cleanup."""
        with self._lock:
            children = list(self._children.items())
        for key, _ in children:
            self.stop(key)
        for _, child in children:
            _wait_or_kill(child, STOP_GRACE_S)

    def run(self, key: str, command: list[str], cwd: Path, on_line: Callable[[str], None]) -> tuple[int, list[str]]:
        """Run `command` for task `key`, each output line to `on_line`; its exit code and lines."""
        with self._lock:
            if key in self._stopped:
                return 130, ["crash-matrix: error: stopped before it started"]
            child = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                     env=child_environment())
            self._children[key] = child
        lines: list[str] = []
        try:
            for line in child.stdout:
                lines.append(line.rstrip("\n"))
                on_line(lines[-1])
            return child.wait(), lines
        finally:
            _wait_or_kill(child, STOP_GRACE_S)
            with self._lock:
                self._children.pop(key, None)
                self._stopped.discard(key)

    def stop(self, key: str) -> None:
        with self._lock:
            self._stopped.add(key)
            child = self._children.get(key)
        if child is not None and child.poll() is None:
            child.terminate()  # SIGTERM: the trial stops as on Ctrl-C, removing what it started

    def running(self) -> list[str]:
        with self._lock:
            return [key for key, child in self._children.items() if child.poll() is None]


def _wait_or_kill(child: subprocess.Popen, grace_s: float) -> None:
    try:
        child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        child.kill()  # its cleanup hung; a later run reaps containers left by a dead process
        child.wait()


def _plugin(worker) -> TrialProcesses:
    plugin = worker.plugins.get(TrialProcesses.name)
    if plugin is None:
        raise RuntimeError("the crash-matrix worker plugin is not registered on this worker")
    return plugin


def _host(worker) -> dict:
    """This machine's facts; the fsync probe of the worker's directory runs once per worker process."""
    return host_facts(Path(worker.local_directory))


def failure_reason(code: int, lines: list[str]) -> str:
    """Why a trial process failed, in its own words where it said them."""
    for line in reversed(lines):
        if line.startswith(ERROR_PREFIX):
            return line[len(ERROR_PREFIX):]
    if code < 0:
        return f"the trial process was killed by signal {-code}"
    last = next((line for line in reversed(lines) if line.strip()), "")
    return f"the trial process exited with code {code}" + (f": {last}" if last else "")


def trial_environment(environ: dict[str, str], nanny_set: dict[str, object]) -> dict[str, str]:
    """The trial process's environment: the worker's, less what Dask's nanny set for its worker
    (`distributed.nanny.pre-spawn-environ`). Its MALLOC_TRIM_THRESHOLD_=65536 makes glibc hand memory
    back on nearly every free: measured here, the load driver lost 30-40% of its throughput to it."""
    return {k: v for k, v in environ.items() if not (k in nanny_set and v == str(nanny_set[k]))}


def child_environment() -> dict[str, str]:
    import dask  # noqa: PLC0415

    return trial_environment(dict(os.environ), dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})


def _harness(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", *args, "--exit-with-parent", str(os.getpid())]


def run_trial(spec_json: bytes, topic: str) -> TaskResult:
    """The task: one trial from its JSON spec on this worker's machine, its shard packed."""
    worker = get_worker()
    key = str(worker.get_current_task())
    spec = TrialSpec.from_json(spec_json)
    began = time.monotonic()
    host = _host(worker)

    def say(text: str) -> None:
        if text.startswith("shard: "):  # the worker command's last line names its scratch folder: no news here
            return
        worker.log_event(topic, {"trial_id": spec.trial_id, "worker": worker.address, "host": host["host"],
                                 "text": text})

    with tempfile.TemporaryDirectory(prefix="crash-matrix-", dir=worker.local_directory) as scratch:
        scratch_dir, out = Path(scratch), Path(scratch) / "shard"
        (scratch_dir / "spec.json").write_bytes(spec_json)
        (scratch_dir / "host.json").write_text(json.dumps(host, default=str))
        say("started")
        code, lines = _plugin(worker).run(key, _harness("worker", "spec.json", "shard", "--host-facts", "host.json"),
                                          scratch_dir, say)
        packed = Shard(out).pack() if out.is_dir() else b""
    return TaskResult(spec.trial_id, worker.address, host["host"], packed,
                      "" if code == 0 else failure_reason(code, lines), round(time.monotonic() - began, 3))


def check_servers(specs_json: bytes) -> CheckResult:
    """The task that checks every config against every server of the plan, on this worker's
    machine, before any trial (as the local runner does): `python -m harness check-host`."""
    worker = get_worker()
    host = _host(worker)
    with tempfile.TemporaryDirectory(prefix="crash-matrix-check-", dir=worker.local_directory) as scratch:
        scratch_dir = Path(scratch)
        (scratch_dir / "specs.json").write_bytes(specs_json)
        code, lines = _plugin(worker).run(str(worker.get_current_task()),
                                          _harness("check-host", "specs.json", "servers.json"), scratch_dir,
                                          lambda line: None)
        servers = json.loads((scratch_dir / "servers.json").read_text()) if code == 0 else []
    return CheckResult(worker.address, host, servers, __version__, "" if code == 0 else failure_reason(code, lines))


def harness_version() -> str:
    """This worker's crash-matrix version (`client.run(harness_version)`)."""
    return __version__


def running_trials(dask_worker) -> list[str]:
    """The task keys whose trial process runs on this worker (`client.run(running_trials)`)."""
    plugin = dask_worker.plugins.get(TrialProcesses.name)
    return plugin.running() if plugin is not None else []


async def drain(dask_worker, timeout_s: float = STOP_GRACE_S) -> list[str]:
    """Run on every worker after a cancel: wait until its trial processes are gone; what is left."""
    import asyncio  # noqa: PLC0415

    plugin = dask_worker.plugins.get(TrialProcesses.name)
    deadline = time.monotonic() + timeout_s
    while plugin is not None and plugin.running() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return plugin.running() if plugin is not None else []
