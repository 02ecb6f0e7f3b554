"""One crash trial's parts and the steps a scenario composes from them.

    with CrashTrial(spec, env, shard) as trial:   # fault set up, topology and load made
        trial.start()                             # servers up, identity read
        trial.measure_ceiling()                   # redis-benchmark, then FLUSHALL
        trial.baseline()                          # sessions logged in and persisted
        trial.load_and_fault()                    # the load, the fault at a random moment
                                                  # (or trial.load_without_fault(): fault "none")
        trial.restart()                           # on what survived (if the fault stopped the server)
        trial.read_back()                         # every session the history touched
    records = trial.judge()                       # checkers -> one TrialRecord; files in the shard

A fault that stops the server (kill -9, a power cut) does so at once. A disk fault leaves it
running: the load goes on for the fault's time (its `watch_s`, at least to the end of the load),
watched for the server exiting on its own; then the fault is lifted, and the server restarted
only if it is down. Users move to new sessions once the server has stopped (its process gone),
not when the fault was ordered, so every write the old server acknowledged is checked. The
server's own account (INFO around the fault, its log) is kept for the checkers (harness/watch.py).

Leaving the block lifts a fault still acting (a stalled fsync would hold the server's kill),
removes the servers, then the fault's set-up (a filesystem mount), then the data directory, on
every path. `judge` runs afterwards: the checkers are pure and need nothing that was running.
"""

from __future__ import annotations

import random
import shutil
import time
from contextlib import ExitStack
from dataclasses import asdict

import pandas as pd

from harness import checkers, faults, topology
from harness.ceiling import Limits, measure_limits
from harness.checkers import Evidence
from harness.checkers.durability import checked_keys
from harness.configs import write_config
from harness.errors import HarnessError, ServerExited
from harness.record import Identity, Restart, Setup, Times, TrialRecord
from harness.runner.context import TrialEnv
from harness.runner.evidence import write_evidence
from harness.runner.shard import CEILING, HISTORY, HOST, RECORDS, SERVER, SURVIVORS, Shard
from harness.server.base import ServerIdentity, identify
from harness.server.logs import exit_reason, last_start, loaded_from, rdb_load_counts, truncated_aof
from harness.server.persistence import persist_baseline
from harness.spec import TrialSpec
from harness.topology import ServerFactory
from harness.workload.driver import SessionLoad
from harness.workload.history import HistoryRecorder
from harness.watch import ServerWatch
from harness.workload.readback import read_survivors


def restart_server(server) -> Restart:
    """Start `server` again on what survived; a server that refuses it is an outcome, said in its
    own words (the log of that start)."""
    error, recovery_s = "", float("nan")
    try:
        recovery_s = server.restart()
    except ServerExited as exc:
        error = str(exc)
    restart_log = last_start(server.log_text())  # what the restart logged, success or not
    if error:
        error = exit_reason(restart_log) or error
    counts = rdb_load_counts(restart_log) or (-1, -1)
    return Restart(recovery_s=round(recovery_s, 4), restart_failed=bool(error), restart_error=error,
                   aof_truncated=truncated_aof(restart_log), loaded_from="" if error else loaded_from(restart_log),
                   keys_loaded=counts[0], keys_expired_on_load=counts[1])


def store_down(keys) -> pd.DataFrame:
    """What a reader finds when the server never came back: nothing, for every session."""
    return pd.DataFrame({"key": pd.array(list(keys), dtype="int64"), "present": False, "value_hash": 0,
                         "expire_at_ms": -1, "read_at_ms": float(time.time_ns() // 1_000_000)})


class _Unbroken(faults.FaultSession):
    """Fault "none": nothing breaks (a scenario whose subject is not a crash: eviction)."""

    def inject(self, topology, took_effect) -> None:
        raise HarnessError("fault 'none' is never injected: use CrashTrial.load_without_fault")


class CrashTrial:
    #: after the fault, new sessions on checked keys (a failover: both primaries may acknowledge them)
    checked_after = False
    ack_mode = "plain"  # what acknowledges a write (harness.workload.acks); the crash matrix: its reply

    def __init__(self, spec: TrialSpec, env: TrialEnv, shard: Shard) -> None:
        self.spec = spec
        self.env = env
        self.shard = shard
        self.fault = None if spec.fault.name == faults.NO_FAULT else faults.build(spec.fault)
        self.rng = random.Random(spec.seed)
        self.recorder = HistoryRecorder()
        self.backend, self.build = env.pool.get(spec.server)
        self.identity: ServerIdentity | None = None
        self.ceiling = Limits.unavailable("not measured", spec.workload)
        self.baseline_acked = 0
        self.fault_facts: tuple = ()
        self.watch = ServerWatch(power_cut=bool(self.fault and self.fault.cuts_power))
        self.restart_columns = Restart()
        self.survivors: pd.DataFrame | None = None
        self.stamps: dict[str, int] = {}
        self.evidence: dict[str, object] = {}  # a scenario's extra evidence for its checkers (Evidence.extra)
        self._stack = ExitStack()

    # -- parts ------------------------------------------------------------------------------
    def __enter__(self) -> "CrashTrial":
        stack, spec = self._stack, self.spec
        try:
            # Unwound in reverse: the server goes first, then the fault's set-up, then the data.
            if not spec.keep_data:
                stack.callback(shutil.rmtree, self.shard.data_dir, ignore_errors=True)
            self.broken = stack.enter_context(self.fault.session(self.shard.data_dir, spec.seed) if self.fault
                                              else _Unbroken(self.shard.data_dir))
            self.broken.before_crash = self._server_stopping
            config = write_config(spec.config, self.shard.configs_dir)
            factory = ServerFactory(self.backend, self.build, config.path, self.shard.logs_dir)
            kind = topology.get(spec.topology.kind)
            self.topology = stack.enter_context(kind.create(
                factory, spec.trial_id, self._data_dir_for, spec.port, **spec.topology.options))
            self.load = self.make_load()
            stack.callback(self.load.stop)
            stack.callback(self.broken.finish)  # before the servers go: a stalled fsync would hold a kill
        except BaseException:
            stack.close()
            raise
        return self

    def make_load(self) -> SessionLoad:
        """The session load, at the primary (a scenario may route it otherwise)."""
        primary = self.topology.primary
        return SessionLoad(primary.host, primary.port, self.spec.workload, self.spec.seed, self.recorder)

    def _data_dir_for(self, role: str):
        if role == (self.fault.target_role if self.fault else "primary"):
            return self.broken.server_dir  # the fault owns the target's directory
        path = self.shard.data_dir / role
        path.mkdir(parents=True, exist_ok=True)
        return path

    def __exit__(self, *exc) -> None:
        self._stack.close()

    # -- steps ------------------------------------------------------------------------------
    def start(self) -> None:
        self.env.step("starting the server")
        started_ns = time.time_ns()
        self.topology.start()
        self.watch.started(self.topology.primary, started_ns)
        self.identity = identify(self.topology.primary.client())

    def measure_ceiling(self) -> None:
        """redis-benchmark on this trial's server, before anything else is in it, with the load's mix
        at the driver's shape and saturated (harness.ceiling); then FLUSHALL, so the trial starts
        from an empty dataset (the baseline save or rewrite that follows leaves no trace of the
        benchmark in the files)."""
        params, requests = self.spec.workload, self.spec.timeline.ceiling_requests
        server = self.topology.primary
        if requests <= 0:
            self.ceiling = Limits.unavailable("not measured (--ceiling-requests 0)", params)
            return
        self.env.step(f"measuring the ceiling and the saturation with redis-benchmark ({requests:,} requests)")
        try:
            self.ceiling = measure_limits(server.run_benchmark, server.port, params, requests)
        except HarnessError as exc:
            self.ceiling = Limits.unavailable(str(exc), params)
        server.client().flushall()

    def baseline(self) -> list[str]:
        """Log in the baseline sessions and persist them as the config allows; returns what ran."""
        self.env.step(f"logging in {self.spec.workload.baseline_sessions:,} baseline sessions")
        self.baseline_acked = self.load.baseline()
        return persist_baseline(self.topology.primary.client())

    def load_and_fault(self, persisted: list[str] = ()) -> None:
        """The session load, and the fault at a uniform random moment of its window."""
        timeline = self.spec.timeline
        fault_after_s = self.rng.uniform(*timeline.fault_window) * timeline.duration_s
        self.env.step(f"session load, {self.fault.name} at {fault_after_s:.1f} s"
                      + (f" (baseline persisted by {' and '.join(persisted)})" if persisted else ""))
        self.stamps["load_start_ns"] = start_ns = time.time_ns()
        self.load.start()
        time.sleep(max(0.0, start_ns / 1e9 + fault_after_s - time.time()))
        self.before_fault()
        self.stamps["fault_ns"] = time.time_ns()
        self.fault_facts = faults.as_tuple(self.broken.inject(self.topology, self._fault_took_effect))
        self.after_fault(start_ns)

    def before_fault(self) -> None:
        """Just before the fault: what the server says of itself then (a scenario may note more)."""
        self.watch.before_fault(self.topology.primary)
        if self.fault.stops_at_once() and self.fault.target_role == "primary":
            self._server_stopping("fault", read_info=False)  # INFO was just read

    def after_fault(self, start_ns: int) -> None:
        """The fault is in. A server it left running is watched under load for the fault's time
        (it may exit on its own, or refuse writes); then the fault is lifted."""
        timeline = self.spec.timeline
        if self.watch.stopped:
            self._fault_took_effect()  # a fault that did not say when: now, at the latest
        else:
            until_ns = max(start_ns + int(timeline.duration_s * 1e9),
                           self.stamps["fault_ns"] + int(self.fault.watch_s() * 1e9))
            self.env.step(f"{self.fault.name} acting; load goes on for {(until_ns - time.time_ns()) / 1e9:.1f} s")
            self.watch.ride_out(self.topology.primary, until_ns, lambda: self._server_stopping("exited"))
        self.fault_facts += faults.as_tuple(self.broken.finish())  # the fault lifted: space back, stalls released
        self.watch.lifted(self.topology.primary)

    def _server_stopping(self, how: str, read_info: bool = True) -> None:
        """The server is about to stop ("fault": its INFO read while it still answers) or was seen
        gone ("exited": then it already took effect)."""
        if self.watch.stopping(self.topology.primary, how, read_info):
            self.stamps["crash_ns"] = time.time_ns()
        if how == "exited":
            self._fault_took_effect()

    def load_without_fault(self, persisted: list[str] = ()) -> None:
        """The session load for the whole duration, nothing broken: the fault instant is the load's
        end (throughput counts up to it), and the server is never restarted."""
        self.env.step(f"session load, {self.spec.timeline.duration_s:g} s, no fault"
                      + (f" (baseline persisted by {' and '.join(persisted)})" if persisted else ""))
        self.stamps["load_start_ns"] = start_ns = time.time_ns()
        self.load.start()
        time.sleep(max(0.0, start_ns / 1e9 + self.spec.timeline.duration_s - time.time()))
        self.stamps["fault_ns"] = self.stamps["fault_effect_ns"] = time.time_ns()
        self.load.stop()
        self.stamps["restart_ns"] = self.stamps["ready_ns"] = time.time_ns()

    def _fault_took_effect(self) -> None:
        """Only now do users move to new sessions: the old server may have acknowledged writes
        until its process was gone, and those are checked like any other (acks_after_fault)."""
        if "fault_effect_ns" not in self.stamps:
            self.stamps["fault_effect_ns"] = time.time_ns()
            self.load.begin_after_phase(self.checked_after)

    def restart(self) -> None:
        """Start the target again on what survived; a server that refuses it is an outcome. One
        that a disk fault left running is not restarted: it is read back as it is."""
        server = self.topology.primary
        if not self.watch.stopped and server.is_running():
            self.load.stop()
            return
        self.env.step("restarting on what survived")
        self.watch.restarted = True
        self.stamps["restart_ns"] = time.time_ns()
        self.restart_columns = restart_server(self.topology.primary)
        self.stamps["ready_ns"] = time.time_ns()
        if not self.restart_columns.restart_failed:
            time.sleep(self.spec.timeline.after_s)
        self.load.stop()
        self.watch.restart_failed = self.restart_columns.restart_failed

    def read_back(self) -> None:
        self.env.step("reading back every session")
        self.history = self.recorder.frame()
        self.watch.log = self.topology.primary.log_text()
        keys = checked_keys(self.history)
        self.stamps["read_ns"] = time.time_ns()
        server = self.read_server()
        if server is None:
            self.survivors = store_down(keys)  # the session store is down: every session unavailable
        else:
            self.survivors, read_at_ms = read_survivors(server.client(timeout_s=30), keys)
            self.stamps["read_ns"] = read_at_ms * 1_000_000

    def read_server(self):
        """Where the sessions are read back from (None: the store is down)."""
        return None if self.restart_columns.restart_failed else self.topology.primary

    # -- the verdict ------------------------------------------------------------------------
    def times(self) -> Times:
        s = self.stamps
        start = s.get("load_start_ns", 0)
        return Times(fault_at_s=round((s.get("fault_ns", start) - start) / 1e9, 3),
                     ready_at_s=round((s["ready_ns"] - start) / 1e9, 3) if "ready_ns" in s else float("nan"),
                     load_start_ns=start, fault_ns=s.get("fault_ns", 0), fault_effect_ns=s.get("fault_effect_ns", 0),
                     crash_ns=s.get("crash_ns", 0), restart_ns=s.get("restart_ns", 0), ready_ns=s.get("ready_ns", 0),
                     read_ns=s.get("read_ns", 0))

    def identity_columns(self) -> Identity:
        spec = self.spec
        return Identity(run_id=spec.run_id, trial_id=spec.trial_id, scenario=spec.scenario,
                        server=self.identity.label if self.identity else "", backend=self.backend.name,
                        image=getattr(self.build, "tag", ""), host=self.env.host.get("host", ""),
                        config=spec.config.name, config_description=spec.config.description,
                        topology=spec.topology.kind, fault=self.fault.key if self.fault else spec.fault.name,
                        trial=spec.trial, seed=spec.seed)

    def setup_columns(self) -> Setup:
        workload = self.spec.workload
        return Setup(duration_s=self.spec.timeline.duration_s, concurrency=workload.concurrency,
                     offered_rate_ops_s=workload.rate_ops_s, baseline_sessions=self.baseline_acked,
                     ack_mode=self.ack_mode)

    def fact_groups(self) -> list:
        """What the trial measured besides the history: the fault's facts, the topology's."""
        return [*self.fault_facts, *faults.as_tuple(self.topology.facts())]

    def judge(self) -> list[TrialRecord]:
        """Run the spec's checkers on the evidence; write the shard's files; return the record."""
        times = self.times()
        facts = self.fact_groups()
        fault_row = {k: v for group in self.fault_facts for k, v in group.to_row().items()}
        server = self.watch.evidence(self.watch.log, fault_row)
        evidence = Evidence(self.history, self.survivors, times, self.ceiling.ops_s, extra=self.evidence,
                            server=server, facts=tuple(facts))
        verdicts = checkers.run_checkers(self.spec.checkers, evidence)
        survivors = self.survivors
        for verdict in verdicts:
            if verdict.per_key is not None:
                survivors = survivors.merge(verdict.per_key, on="key", how="left")
            for name, text in verdict.files.items():
                self.shard.write_text(name, text)
        groups = [self.identity_columns(), self.setup_columns(), *(v.columns for v in verdicts),
                  self.ceiling.columns(), self.restart_columns, *facts]
        record = TrialRecord((*groups, times))
        self.shard.write_frame(HISTORY, self.history)
        self.shard.write_frame(SURVIVORS, survivors)
        self.shard.write_json(CEILING, asdict(self.ceiling))
        write_evidence(self.shard.evidence_dir, self.evidence)
        self.shard.write_json(SERVER, asdict(server))
        self.shard.write_json(RECORDS, [record.to_row()])
        identity = {"label": self.identity.label, "name": self.identity.name, "version": self.identity.version,
                    **self.backend.describe(self.build)} if self.identity else None
        self.shard.write_json(HOST, {**self.env.host, "server": identity})
        return [record]
