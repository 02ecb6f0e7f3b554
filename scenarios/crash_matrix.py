"""The crash matrix: every config x every fault x N trials, then the report.

One trial: start the server on an empty data directory, log in a baseline population and
persist it as the config allows, drive the session load, break the server at a random moment
under load, restart it on the same data, read back every session the history touched, and
let the checker judge.
"""

from __future__ import annotations

import random
import shutil
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from harness import configs as config_files
from harness.checker import check_frames, checked_keys
from harness.environment import describe_machine
from harness.ceiling import Ceiling, measure_ceiling
from harness.disk import probe_fsync
from harness.errors import HarnessError, ServerExited
from harness.latency import encode
from harness.faults import Fault, FaultOptions, default_faults, select_faults
from harness.metrics import load_metrics
from harness.progress import RunUI
from harness.results import RunDir
from harness.server import Backend, ServerIdentity, ServerSpec, choose_backend, free_port, identify
from harness.server.base import ensure_port_free, exit_reason, last_start, truncated_aof
from harness.server.persistence import persist_baseline
from harness.workload.driver import SessionLoad
from harness.workload.history import HistoryRecorder
from harness.workload.readback import read_survivors
from harness.workload.session import WorkloadParams

KILL_WINDOW = (0.5, 0.95)  # the fault lands at a uniform random fraction of the load duration


@dataclass(frozen=True)
class MatrixOptions:
    configs_dir: Path = Path("configs")
    config_names: list[str] | None = None
    fault_names: list[str] | None = None
    trials: int = 3
    duration_s: float = 4.0
    after_s: float = 0.5  # load kept going after the restart, to see clients come back
    backend: str = "auto"
    image: str = "redis:7.4"
    server_bin: Path | None = None
    results_root: Path = Path("results")
    keep_data: bool = False
    port: int | None = None
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(2**31))
    workload: WorkloadParams = field(default_factory=WorkloadParams)
    ceiling_requests: int = 20_000  # redis-benchmark requests per trial (0: do not measure)
    fault_options: FaultOptions = field(default_factory=FaultOptions)


def trial_seed(run_seed: int, config: str, fault: str, trial: int) -> int:
    return random.Random(f"{run_seed}:{config}:{fault}:{trial}").randrange(2**31)


@dataclass(frozen=True)
class RunContext:
    backend: Backend
    run: RunDir
    options: MatrixOptions
    ui: RunUI
    image_label: str  # the image the containers ran ("" for the process backend)


def run_trial(ctx: RunContext, config: config_files.Config, fault: Fault, trial: int) -> dict:
    backend, run, options, ui = ctx.backend, ctx.run, ctx.options, ctx.ui
    trial_id = f"{config.name}__{fault.name}__{trial}"
    seed = trial_seed(options.seed, config.name, fault.name, trial)
    rng = random.Random(seed)
    port = options.port or free_port()
    if options.port:
        ensure_port_free(port)
    data_dir = run.data_dir(trial_id)
    recorder = HistoryRecorder()
    restart_error = ""
    with ExitStack() as cleanup:
        # Unwound in reverse: the server goes first, then the fault's set-up (a filesystem
        # mount), then the data directory.
        if not options.keep_data:
            cleanup.callback(shutil.rmtree, data_dir, ignore_errors=True)
        broken = cleanup.enter_context(fault.session(data_dir, seed))
        spec = ServerSpec(trial_id, config.path, broken.server_dir, run.log_path(trial_id), port)
        server = backend.server(spec)
        cleanup.callback(server.remove)
        cleanup.callback(server.save_log)
        load = SessionLoad(server.host, port, options.workload, seed, recorder)
        cleanup.callback(load.stop)

        ui.step("starting the server")
        server.start()
        identity = identify(server.client())
        ceiling = measure_trial_ceiling(server, options, ui)
        ui.step(f"logging in {options.workload.baseline_sessions:,} baseline sessions")
        baseline_acked = load.baseline()
        persisted = persist_baseline(server.client())
        kill_after_s = rng.uniform(*KILL_WINDOW) * options.duration_s
        ui.step(f"session load, {fault.name} at {kill_after_s:.1f} s"
                + (f" (baseline persisted by {' and '.join(persisted)})" if persisted else ""))
        load_start_ns = time.time_ns()
        load.start()
        time.sleep(max(0.0, load_start_ns / 1e9 + kill_after_s - time.time()))
        load.begin_after_phase()
        fault_ns = time.time_ns()
        fault_facts = broken.inject(server)
        ui.step("restarting on what survived")
        restart_ns = time.time_ns()
        try:
            recovery_s = server.restart()
            ready_ns = time.time_ns()
            time.sleep(options.after_s)
        except ServerExited as exc:
            restart_error = str(exc)
            recovery_s, ready_ns = float("nan"), time.time_ns()
        restart_log = last_start(server.log_text())  # what the restart logged, success or not
        if restart_error:
            restart_error = exit_reason(restart_log) or restart_error
        load.stop()
        history = recorder.frame()
        ui.step("reading back every session")
        keys = checked_keys(history)
        if restart_error:
            # The session store is down: every session counts as unavailable.
            survivors = pd.DataFrame({"key": pd.array(keys, dtype="int64"), "present": False,
                                      "value_hash": 0, "expire_at_ms": -1})
            read_at_ms = time.time_ns() // 1_000_000
        else:
            survivors, read_at_ms = read_survivors(server.client(timeout_s=30), keys)

    result = check_frames(history, survivors, read_at_ms, fault_ns / 1e6)
    speed = load_metrics(history, load_start_ns, fault_ns, restart_ns)
    run.write_history(trial_id, history)
    run.write_histogram(trial_id, encode(speed.histogram))
    run.write_ceiling(trial_id, ceiling)
    run.write_survivors(trial_id, survivors.merge(result.verdict_frame()[["key", "status"]], on="key", how="left"))
    return {
        "run_id": run.run_id,
        "trial_id": trial_id,
        "server": identity.label,
        "backend": backend.name,
        "image": ctx.image_label,
        "config": config.name,
        "config_description": config.description,
        "fault": fault.name,
        "trial": trial,
        "seed": seed,
        "duration_s": options.duration_s,
        "concurrency": options.workload.concurrency,
        "offered_rate_ops_s": options.workload.rate_ops_s,  # 0: as fast as it goes
        "baseline_sessions": baseline_acked,
        "acked_writes": result.acked_writes,
        "lost_writes": result.lost_writes,
        "lost_sessions": result.lost_sessions,
        "resurrected_sessions": result.resurrected_sessions,
        "stale_refreshes": result.stale_refreshes,
        "old_values": result.old_values,
        "corrupt_values": result.corrupt_values,
        "unknown_ops": result.unknown_ops,
        "loss_window_s": round(result.loss_window_s, 3),
        "ops": speed.ops,
        "throughput_ops_s": round(speed.throughput_ops_s, 1),
        "ceiling_ops_s": round(ceiling.ops_s, 1),
        "driver_ceiling_ratio": round(speed.throughput_ops_s / ceiling.ops_s, 3) if ceiling.ops_s > 0 else None,
        "p50_ms": round(speed.latency.p50_ms, 3),
        "p95_ms": round(speed.latency.p95_ms, 3),
        "p99_ms": round(speed.latency.p99_ms, 3),
        "p999_ms": round(speed.latency.p999_ms, 3),
        "max_ms": round(speed.latency.max_ms, 3),
        "ceiling_p50_ms": round(ceiling.p50_ms, 3),
        "ceiling_p99_ms": round(ceiling.p99_ms, 3),
        "downtime_s": round(speed.downtime_s, 4),
        "recovery_s": round(recovery_s, 4),
        "restart_failed": bool(restart_error),
        "restart_error": restart_error,
        "aof_truncated": truncated_aof(restart_log),  # the server cut a torn AOF tail to start
        **fault.facts(),
        "unsynced_bytes_at_cut": fault_facts.get("unsynced_bytes_at_cut", 0),
        "torn_bytes_kept": fault_facts.get("torn_bytes_kept", 0),
        # strict metadata: namespace changes whose directory was never fsynced, lost at the cut
        "metadata_dropped": fault_facts.get("pending_metadata_ops_dropped", 0),
        "metadata_dropped_detail": "; ".join(fault_facts.get("dropped_metadata", [])[:5]),
        "dataset_keys": int(survivors["present"].sum()),
        "kill_at_s": round((fault_ns - load_start_ns) / 1e9, 3),
        "ready_at_s": round((ready_ns - load_start_ns) / 1e9, 3),
        "load_start_ns": load_start_ns,
        "kill_ns": fault_ns,
        "restart_ns": restart_ns,
        "ready_ns": ready_ns,
    }


@dataclass(frozen=True)
class Plan:
    configs: list[config_files.Config]
    faults: list[Fault]
    notes: list[str] = field(default_factory=list)  # said before the run starts


def plan_matrix(options: MatrixOptions) -> Plan:
    """Everything that can be checked without a server: names, files, owned settings."""
    available = config_files.discover(options.configs_dir)
    selected = config_files.select(available, options.config_names)
    notes = []
    if not options.fault_names:
        names, note = default_faults()
        notes += [note] if note else []
    faults = select_faults(options.fault_names or names, options.fault_options)
    for fault in faults:
        fault.check()
    for config in selected:
        config_files.read_check(config)
    return Plan(selected, faults, notes)


def measure_trial_ceiling(server, options: MatrixOptions, ui: RunUI) -> Ceiling:
    """redis-benchmark on this trial's server, before anything else is in it, at the load's
    concurrency and mix; then FLUSHALL, so the trial starts from an empty dataset (the baseline
    save or rewrite that follows leaves no trace of the benchmark in the files)."""
    params = options.workload
    if options.ceiling_requests <= 0:
        return Ceiling.unavailable("not measured (--ceiling-requests 0)", params.concurrency)
    ui.step(f"measuring the ceiling with redis-benchmark ({options.ceiling_requests:,} requests)")
    try:
        ceiling = measure_ceiling(server.run_benchmark, server.port, params, options.ceiling_requests)
    except HarnessError as exc:
        ceiling = Ceiling.unavailable(str(exc), params.concurrency)
    server.client().flushall()
    return ceiling


def run_matrix(options: MatrixOptions, plan: Plan, run: RunDir, ui: RunUI) -> None:
    """Run every trial; results so far are kept whatever happens, and nothing is left running."""
    selected, faults = plan.configs, plan.faults
    backend = choose_backend(options.backend, options.image, run.run_id, options.server_bin, ui.echo)
    identity: ServerIdentity | None = None
    try:
        backend.prepare(ui.echo)
        ui.echo(f"checking {len(selected)} config(s) against the server: {', '.join(c.name for c in selected)}")
        config_files.check_all(backend, selected)
        for config in selected:
            run.copy_config(config.path)
        ui.echo("measuring this data directory's fsync rate (the bound on appendfsync always)")
        disk = probe_fsync(run.path)
        environment = {
            "run_id": run.run_id,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **describe_machine(run.path),
            **backend.describe(),
            "seed": options.seed,
            "trials": options.trials,
            "duration_s": options.duration_s,
            "after_s": options.after_s,
            "configs": [c.name for c in selected],
            "faults": [f.name for f in faults],
            "workload": options.workload.as_dict(),
            "ceiling_requests": options.ceiling_requests,
            "disk_fsync": disk.as_dict(),
        }
        run.write_environment(environment)
        ctx = RunContext(backend, run, options, ui, environment.get("image_used") or "")
        plan = [(c, f, t) for c in selected for f in faults for t in range(1, options.trials + 1)]
        ui.begin(len(plan))
        for number, (config, fault, trial) in enumerate(plan, 1):
            ui.trial(number, f"{config.name}__{fault.name}__{trial}")
            row = run_trial(ctx, config, fault, trial)
            run.add_trial(row)
            run.mark_latest()
            ui.trial_done(row)
            if identity is None:
                name, _, version = row["server"].partition(" ")
                identity = ServerIdentity(name, version)
                environment.update(server=name, server_version=version)
                run.write_environment(environment)
        ui.end()
    finally:
        backend.cleanup()
        run.remove_empty_data_dir()
