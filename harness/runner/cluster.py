"""The cluster executor: a plan's trials fanned out over a Dask cluster, merged into one run folder.

`python -m harness run --cluster tcp://HOST:8786` connects to a Dask scheduler, checks every
config on a worker's real server, then submits one task per trial spec. Each task asks for the
worker resource `trial`, which each worker offers once (`--resources trial=1`), so a worker runs
one trial at a time, whole, next to its own Docker engine or server binary
(harness.runner.cluster_task). Shards come back packed and are merged as each trial finishes,
exactly as the local runner merges them, so trials.csv, environment.json (with every host) and
the report are those of a local run.

What can go wrong, and what happens:
- Ctrl-C (or SIGTERM): every task is cancelled, and the client waits until the workers' trial
  processes have removed their servers; the finished trials are kept and reported.
- A worker dies mid-trial: Dask runs the task again on another worker (up to its
  `distributed.scheduler.allowed-failures`, 3 by default); after that the trial is recorded as
  failed with the reason, in environment.json's `failed_trials`, and the run goes on.
- A trial fails on its worker (its server refused to start, say): recorded as failed with the
  trial's own error line, its servers' logs kept; the run goes on.
"""

from __future__ import annotations

import queue
import time
from concurrent.futures import CancelledError  # what a cancelled Dask future raises
from dataclasses import dataclass, field

import distributed
import msgspec
from distributed import Client
from distributed.comm.core import CommClosedError
from distributed.scheduler import KilledWorker

from harness import __version__
from harness.environment import command_line
from harness.errors import HarnessError
from harness.progress import RunUI
from harness.results import RunDir
from harness.runner.cluster_task import (TRIAL_RESOURCE, CheckResult, TaskResult, TrialProcesses, check_servers,
                                         drain, harness_version, run_trial)
from harness.runner.local import Plan, scenario_of
from harness.runner.merge import keep_logs, merge
from harness.runner.shard import Shard

CONNECT_TIMEOUT_S = 10.0
NO_WORKER_GRACE_S = 120.0  # how long the run waits for a trial worker to (re)join before it gives up
INTERRUPTED = ("interrupted", "stopped before it started", "killed by signal 15")
MAX_ATTEMPTS = 3  # a trial whose worker was shut down under it is resubmitted this often in all


def _address(address: str) -> str:
    return address if "://" in address else f"tcp://{address}"


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S):
    """A client of the scheduler at `address`; a clear error when none answers."""
    try:
        return Client(_address(address), timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise HarnessError(f"cannot reach the Dask scheduler at {_address(address)}: {exc}") from None


def trial_workers(client) -> dict[str, dict]:
    """The workers that offer a `trial` resource, by address."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return {address: w for address, w in workers.items() if (w.get("resources") or {}).get(TRIAL_RESOURCE, 0) >= 1}


def require_trial_workers(client, address: str) -> dict[str, dict]:
    workers = trial_workers(client)
    if not workers:
        raise HarnessError(f"no worker of the Dask cluster at {address} offers the `{TRIAL_RESOURCE}` resource: start "
                           f"workers with `dask worker {address} --nthreads 1 --resources {TRIAL_RESOURCE}=1`")
    return workers


def require_same_version(client, workers: dict[str, dict]) -> None:
    """Every worker runs this crash-matrix version: a trial must run the code that planned it."""
    try:
        versions = client.run(harness_version, workers=list(workers))
    except Exception as exc:  # noqa: BLE001 - the remote error says why (crash-matrix not installed there)
        raise HarnessError(f"a worker cannot run crash-matrix: {type(exc).__name__}: {exc}") from None
    other = {worker: version for worker, version in versions.items() if version != __version__}
    if other:
        raise HarnessError(f"workers run another crash-matrix version than this client's {__version__}: "
                           + ", ".join(f"{w} has {v}" for w, v in other.items()) + "; install the same on every worker")


def _check_specs(plan: Plan):
    """One spec per (server, config): what the check on a worker needs."""
    chosen = {(spec.server, spec.config.name): spec for spec in plan.specs}
    return list(chosen.values())


def check_on_cluster(client, plan: Plan, run: RunDir, echo) -> CheckResult:
    """Every config against the plan's servers on one worker's real server, before any trial."""
    for config in plan.configs:
        run.write_config(config.name, config.text)
    echo(f"checking {len(plan.configs)} config(s) on a worker's server: {', '.join(c.name for c in plan.configs)}")
    future = client.submit(check_servers, msgspec.json.encode(_check_specs(plan)), key=f"crash-matrix-check-{run.run_id}",
                           resources={TRIAL_RESOURCE: 1}, pure=False)
    try:
        result: CheckResult = future.result()
    except Exception as exc:  # noqa: BLE001 - its worker died, it could not be sent: say so in one line
        raise HarnessError(f"the config check on the cluster did not run: {_task_error(exc)}") from None
    finally:
        future.release()
    if result.error:
        raise HarnessError(result.error)
    if result.harness_version != __version__:
        raise HarnessError(f"the worker {result.worker} runs crash-matrix {result.harness_version}, this client "
                           f"{__version__}: install the same version on every worker")
    return result


def cluster_environment(run: RunDir, plan: Plan, check: CheckResult, address: str, workers: dict) -> dict:
    """environment.json of a cluster run: the checking worker's machine and server (every host
    that ran a trial is added under `hosts` as its shard is merged), the plan, the executor."""
    host = check.host
    return {
        "run_id": run.run_id,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **{k: v for k, v in host.items() if k != "disk_fsync"},
        "harness_version": __version__,
        "command_line": command_line(),
        **(check.servers[0] if check.servers else {}),
        **plan.environment,
        "disk_fsync": host.get("disk_fsync"),
        "executor": {"kind": "dask", "scheduler": address, "distributed_version": distributed.__version__,
                     "workers": [{"address": a, "host": w.get("host"), "name": str(w.get("name", "")),
                                  "nthreads": w.get("nthreads")} for a, w in workers.items()]},
        "failed_trials": [],
        "reruns": [],
    }


@dataclass
class _Progress:
    started: int = 0
    finished: int = 0
    attempts: dict[str, list[str]] = field(default_factory=dict)  # trial id -> the workers it started on


class ClusterRun:
    """One plan's trials on the cluster: submitted, followed, merged as they finish."""

    def __init__(self, client, scenario, plan: Plan, run: RunDir, ui: RunUI) -> None:
        self.client, self.scenario, self.plan, self.run, self.ui = client, scenario, plan, run, ui
        self.topic = f"crash-matrix-{run.run_id}"
        self.inbox: queue.Queue = queue.Queue()  # worker events and finished futures, for the main thread
        self.futures: dict[str, object] = {}  # task key -> future
        self.specs: dict[str, object] = {}  # task key -> the spec it runs
        self.progress = _Progress()
        self.failures: list[dict] = []

    def submit(self, spec, attempt: int = 1) -> None:
        spec = spec.with_run(self.run.run_id)
        key = f"crash-matrix-{self.run.run_id}-{spec.trial_id}" + (f"-attempt{attempt}" if attempt > 1 else "")
        future = self.client.submit(run_trial, spec.to_json(), self.topic, key=key,
                                    resources={TRIAL_RESOURCE: 1}, pure=False)
        self.futures[key], self.specs[key] = future, spec
        future.add_done_callback(lambda f: self.inbox.put(("done", f)))

    def execute(self) -> list[dict]:
        """Run every trial; the trials that failed, with their reasons."""
        self.client.subscribe_topic(self.topic, lambda event: self.inbox.put(("event", event[1])))
        self.ui.begin(len(self.plan.specs))
        for spec in self.plan.specs:
            self.submit(spec)
        try:
            self._follow()
        except BaseException:
            self.stop()
            raise
        finally:
            self.client.unsubscribe_topic(self.topic)
        self.ui.end()
        return self.failures

    def _follow(self) -> None:
        lonely_since: float | None = None
        while self.futures:
            try:
                kind, item = self.inbox.get(timeout=2.0)
            except queue.Empty:
                lonely_since = self._watch_workers(lonely_since)
                continue
            if kind == "event":
                self._on_event(item)
            elif item.key in self.futures:
                self._on_done(item)

    def _watch_workers(self, lonely_since: float | None) -> float | None:
        """None while a trial worker is there; since when none is; an error after the grace period."""
        if trial_workers(self.client):
            return None
        lonely_since = lonely_since or time.monotonic()
        if time.monotonic() - lonely_since > NO_WORKER_GRACE_S:
            raise HarnessError(f"no worker offering `{TRIAL_RESOURCE}` has been in the cluster for "
                               f"{NO_WORKER_GRACE_S:.0f} s; {len(self.futures)} trial(s) did not run")
        return lonely_since

    def _on_event(self, message: dict) -> None:
        trial_id, text = message.get("trial_id", "?"), message.get("text", "")
        where = f"{message.get('host')} ({message.get('worker')})"
        if text != "started":
            self.ui.step(f"[{trial_id}] {text}")
            return
        tries = self.progress.attempts.setdefault(trial_id, [])
        tries.append(str(message.get("worker")))
        if len(tries) == 1:
            self.progress.started += 1
            self.ui.trial(self.progress.started, f"{trial_id} on {where}")
        else:
            self.ui.echo(f"{trial_id}: started again on {where} (attempt {len(tries)}: the worker running it left)")

    def _on_done(self, future) -> None:
        key = future.key
        spec = self.specs.pop(key)
        self.futures.pop(key)
        try:
            result: TaskResult = future.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, cancelled elsewhere (CancelledError): it failed
            future.release()
            self._failed(spec, _task_error(exc), None)
            return
        future.release()
        attempts = len(self.progress.attempts.get(spec.trial_id, [])) or 1
        if result.error and any(marker in result.error for marker in INTERRUPTED) and attempts < MAX_ATTEMPTS:
            self.ui.echo(f"{spec.trial_id}: stopped on {result.host} ({result.error}); running it again")
            self.submit(spec, attempt=attempts + 1)
        elif result.error:
            self._failed(spec, result.error, result)
        else:
            self._merge(spec, result)

    def _merge(self, spec, result: TaskResult) -> None:
        shard = Shard.unpack(result.shard, self.run.shard_dir(spec.trial_id))
        rows = merge(shard, self.run)
        self._note_reruns(spec.trial_id)
        self.run.mark_latest()
        self.progress.finished += 1
        module = self.scenario or scenario_of(spec)  # None: a run of several scenarios, each spec its own
        self.ui.trial_done(f"{module.trial_line(rows[0])} [{result.host}, {result.seconds:.1f} s on the worker]")

    def _failed(self, spec, reason: str, result: TaskResult | None) -> None:
        if result is not None and result.shard:
            shard = Shard.unpack(result.shard, self.run.shard_dir(spec.trial_id))
            keep_logs(shard, self.run)  # what its servers said explains the failure
        failure = {"trial_id": spec.trial_id, "reason": reason, "host": result.host if result else "",
                   "workers": self.progress.attempts.get(spec.trial_id, [])}
        self.failures.append(failure)
        environment = self.run.environment()
        environment.setdefault("failed_trials", []).append(failure)
        self.run.write_environment(environment)
        self.ui.trial_done(f"{spec.trial_id}: FAILED: {reason}")

    def _note_reruns(self, trial_id: str) -> None:
        workers = self.progress.attempts.get(trial_id, [])
        if len(workers) > 1:
            environment = self.run.environment()
            environment.setdefault("reruns", []).append({"trial_id": trial_id, "attempts": len(workers),
                                                         "workers": workers})
            self.run.write_environment(environment)

    def stop(self) -> None:
        """Cancel what did not finish and wait until no trial process is left on any worker."""
        pending = list(self.futures.values())
        self.futures.clear()
        if not pending:
            return
        self.ui.echo(f"cancelling {len(pending)} trial(s) on the cluster; waiting for the workers to clean up")
        try:
            self.client.cancel(pending, force=True)
            left = self.client.run(drain)
        except CommClosedError as exc:  # the scheduler is gone: nothing to cancel through
            self.ui.echo(f"could not reach the Dask scheduler to cancel the trials: {exc}")
            return
        still = {worker: keys for worker, keys in left.items() if keys}
        if still:
            self.ui.echo(f"still running after the grace period (killed): {still}")


def _task_error(exc: BaseException) -> str:
    if isinstance(exc, CancelledError):
        return "cancelled on the cluster (by another client, or the scheduler lost it)"
    if isinstance(exc, KilledWorker):
        return (f"its worker died while running it, {exc.allowed_failures + 1} times (last {exc.last_worker.address}); "
                "Dask stopped retrying (distributed.scheduler.allowed-failures)")
    return f"{type(exc).__name__}: {exc}"


def run_plan_on_cluster(scenario, plan: Plan, run: RunDir, ui: RunUI, address: str) -> list[dict]:
    """Run the plan's trials on the cluster at `address` into `run`; the trials that failed."""
    if not plan.specs:
        raise HarnessError("nothing to run: the plan has no trials")
    address = _address(address)
    client = connect(address)
    try:
        workers = require_trial_workers(client, address)
        hosts = sorted({str(w.get("host")) for w in workers.values()})
        ui.echo(f"cluster {address}: {len(workers)} trial worker(s) on {len(hosts)} address(es): {', '.join(hosts)}")
        require_same_version(client, workers)
        client.register_plugin(TrialProcesses())
        check = check_on_cluster(client, plan, run, ui.echo)
        run.write_environment(cluster_environment(run, plan, check, address, workers))
        return ClusterRun(client, scenario, plan, run, ui).execute()
    except CommClosedError as exc:  # the scheduler went away under the run
        raise HarnessError(f"lost the Dask scheduler at {address}: {exc}") from None
    finally:
        client.close()
        run.tidy()
