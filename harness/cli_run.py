"""A run from the command line, start to exit: progress, the plan run locally, the report from what
finished, the expectations judged, and the exit status on every path.

Exit status: 0 everything ran and every expectation held; 2 bad input or a failure the message
names; 3 a bug (unexpected exception; the traceback follows the one-line message);
4 every trial ran but an expectation failed; 130 interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

import click

from harness.errors import HarnessError

EXIT_ERROR = 2
EXIT_BUG = 3
EXIT_EXPECTATION_FAILED = 4
EXIT_INTERRUPTED = 130
EXIT_STATUS_HELP = ("Exit status: 0 all trials ran and every expectation held; 2 bad input or a failed run "
                    "(the message says which); 3 a bug; 4 an expectation failed (see the report's Expectations "
                    "table and junit.xml); 130 interrupted. Finished trials are kept on every path.")


def fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"crash-matrix: error: {message}", err=True)
    sys.exit(code)


class Interrupts:
    """First Ctrl-C (or SIGTERM) stops the run; later ones are ignored so cleanup can finish."""

    def __init__(self) -> None:
        self.seen = 0

    def __enter__(self) -> "Interrupts":
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


def _execute(scenario, plan, run_dir, ui, resume: bool, cluster: str | None) -> str | None:
    """The plan here, or on the cluster; None, or what to say about trials that failed (cluster)."""
    if not cluster:
        from harness.runner.local import run_plan  # noqa: PLC0415

        run_plan(scenario, plan, run_dir, ui, resume=resume)
        return None
    if resume:
        raise HarnessError("--resume runs here, not on a cluster: drop --cluster (or resume without it)")
    from harness.runner.cluster import run_plan_on_cluster  # noqa: PLC0415

    failures = run_plan_on_cluster(scenario, plan, run_dir, ui, cluster)
    if not failures:
        return None
    return (f"{len(failures)} of {len(plan.specs)} trial(s) failed (first: {failures[0]['trial_id']}: "
            f"{failures[0]['reason']}); see failed_trials in environment.json")


def run_plan_from_cli(scenario, plan, run_dir, plain: bool, what: str, resume: bool = False,
                      notes: list[str] = (), cluster: str | None = None) -> None:
    """Run a plan into `run_dir` (a RunDir, new or being resumed), here or on a Dask cluster; never
    returns normally with a failure: the exit status says what happened."""
    from harness.progress import make_ui  # noqa: PLC0415

    ui = make_ui(plain=True if plain else None)
    failed = None
    with Interrupts():
        try:
            for note in [*plan.notes, *notes]:
                ui.echo(note)
            ui.echo(f"run {run_dir.run_id}: {what}" + (f", on the Dask cluster at {cluster}" if cluster else ""))
            failed = _execute(scenario, plan, run_dir, ui, resume, cluster)
        except HarnessError as exc:
            ui.end()
            finish(run_dir, failed=f"{exc}")
        except KeyboardInterrupt:
            ui.end()
            finish(run_dir, failed="interrupted", code=EXIT_INTERRUPTED)
        except Exception as exc:  # a bug: still keep what finished, still say it in one line first
            ui.end()
            finish(run_dir, failed=f"unexpected {type(exc).__name__}: {exc}", code=EXIT_BUG, reraise=exc)
    finish(run_dir, failed=failed)


def finish(run_dir, failed: str | None = None, code: int = EXIT_ERROR, reraise: Exception | None = None) -> None:
    """Report what finished (also after a failure or Ctrl-C), then exit with the right code."""
    if run_dir is None:
        fail(failed or "no results folder", code)
    if run_dir.trial_count == 0:
        shutil.rmtree(run_dir.path, ignore_errors=True)
        if failed:
            fail(f"{failed} (no trial finished; nothing kept)", code)
        return
    outcomes = None
    try:
        outcomes = report_and_summary(run_dir.path)
    except Exception as exc:  # the trials are kept even if the report cannot be drawn
        click.echo(f"crash-matrix: the report could not be built: {exc}", err=True)
    if failed:
        if reraise is not None:
            import traceback  # noqa: PLC0415
            traceback.print_exception(reraise)
        fail(f"{failed}; {run_dir.trial_count} finished trial(s) kept in {run_dir.path}", code)
    exit_for(outcomes)


def exit_for(outcomes) -> None:
    from harness.expectations import any_failed  # noqa: PLC0415

    if outcomes and any_failed(outcomes):
        failed = sum(o.failed for o in outcomes)
        fail(f"{failed} of {len(outcomes)} expectation(s) failed (the report's Expectations table, junit.xml)",
             EXIT_EXPECTATION_FAILED)


def _summary(trials):
    """The crash matrix's console summary (None: the run has no crash-matrix trials)."""
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from harness.report import summary_table  # noqa: PLC0415

    trials = trials[trials["scenario"] == "crash-matrix"]
    if trials.empty:
        return None
    summary = summary_table(trials)
    servers = summary["server"].nunique() > 1
    table = Table(title="crash matrix: medians over trials (min-max)", title_justify="left", box=box.SIMPLE_HEAD)
    names = ("server",) * servers + ("config", "fault", "trials", "lost sessions", "lost writes", "resurrected",
                                     "ops/s", "p99 ms", "recovery s")
    for name in names:
        table.add_column(name, justify="left" if name in ("server", "config", "fault") else "right", no_wrap=True)
    for row in summary.to_dict("records"):
        table.add_row(
            *((str(row["server"]),) * servers), str(row["config"]), str(row["fault"]), str(row["trials"]),
            f"{row['lost_sessions']:,.0f} ({row['lost_sessions_min']:,.0f}-{row['lost_sessions_max']:,.0f})",
            f"{row['lost_writes']:,.0f}", f"{row['resurrected_sessions']:,.0f}",
            f"{row['throughput_ops_s']:,.0f}", f"{row['p99_ms']:.2f}", f"{row['recovery_s']:.3f}",
        )
    return table


def _scenario_tables(trials, console) -> None:
    """The other scenarios' console summaries (their report modules' `console_tables`, or one
    `console_table`), before the crash matrix's."""
    from rich import box  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from harness.report.sections import module_of  # noqa: PLC0415

    for scenario in dict.fromkeys(trials["scenario"]):
        module = module_of(str(scenario))
        mine = trials[trials["scenario"] == scenario]
        if scenario == "crash-matrix":
            continue
        if hasattr(module, "console_tables"):
            tables = module.console_tables(mine)
        elif hasattr(module, "console_table"):
            tables = [module.console_table(mine)]
        else:
            continue
        for title, headers, rows in tables:
            table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
            for index, header in enumerate(headers):
                table.add_column(header, justify="left" if index == 0 else "right", no_wrap=True)
            for row in rows:
                table.add_row(*row)
            console.print(table)


def report_and_summary(run_dir: Path):
    """Build the report, print the summary table and the expectations; returns their outcomes (None: none)."""
    from rich.console import Console  # noqa: PLC0415

    from harness.expectations.run import judge_run  # noqa: PLC0415
    from harness.expectations.text import console_line  # noqa: PLC0415
    from harness.report import build_report  # noqa: PLC0415
    from harness.report.rundata import read_trials  # noqa: PLC0415

    paths = build_report(run_dir)
    # Never squeeze the numbers: a log file has no width, and a narrow terminal may wrap lines.
    console = Console(width=max(Console().width, 130) if sys.stdout.isatty() else 160)
    trials = read_trials(run_dir)
    _scenario_tables(trials, console)
    summary = _summary(trials)
    if summary is not None:
        console.print(summary)
    outcomes = judge_run(run_dir, trials)
    for outcome in outcomes or []:
        console.print(console_line(outcome), markup=False, highlight=False)
    extra = ", junit.xml" if outcomes is not None else ""
    console.print(f"report: {paths['report.html']}  (also {paths['report.md'].name}, trials.csv{extra})")
    return outcomes
