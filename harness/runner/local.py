"""The local runner: a scenario's specs, one after another, in this process.

Each trial runs exactly as a worker runs it (`run_trial`: a shard written, then merged into
the run folder), so a run on one machine and a run over a cluster produce the same folder.
Results so far are kept whatever happens, and nothing is left running.
"""

from __future__ import annotations

import time

from harness.errors import HarnessError
from harness.progress import RunUI
from harness.results import RunDir
from harness.runner.checks import Skip, check_plan, without
from harness.runner.context import TrialEnv
from harness.runner.host import host_facts
from harness.runner.merge import keep_logs, merge
from harness.runner.plan import Plan, combine  # noqa: F401 - the plan API, where scenarios find it
from harness.runner.resume import finished_trials, save_plan
from harness.runner.servers import ServerPool
from harness.runner.shard import Shard
from harness.spec import TrialSpec


def scenario_of(spec: TrialSpec):
    """The scenario module that runs `spec` (found by its name, as the worker finds it)."""
    import scenarios  # noqa: PLC0415 - scenarios import the harness, not the other way round

    return scenarios.get(spec.scenario)


def run_trial(scenario, spec: TrialSpec, shard: Shard, env: TrialEnv) -> list[dict]:
    """One trial into its shard (the worker's code path too); returns the rows it wrote."""
    scenario.run(spec, env, shard)
    return shard.rows()


def check_configs(pool: ServerPool, plan: Plan, run: RunDir, echo) -> list[Skip]:
    """Every config against every server it will run on, before any trial (harness.runner.checks),
    then the scenarios' own checks on each server; returns the (server, config) pairs that will not run."""
    skips = check_plan(pool, plan.specs, run.path / "configs", plan.configs, echo)
    if plan.checks:
        for choice in dict.fromkeys(spec.server for spec in plan.specs):
            backend, build = pool.get(choice)
            for check in plan.checks:
                check(backend, build, echo)
    return skips


def start_environment(pool: ServerPool, plan: Plan, run: RunDir, echo, skips: list[Skip] = ()) -> dict:
    echo("measuring this data directory's fsync rate (the bound on appendfsync always)")
    host = host_facts(run.path)
    first = plan.specs[0].server
    environment = {
        "run_id": run.run_id,
        "started_at": _now(),
        **{k: v for k, v in host.items() if k != "disk_fsync"},
        **pool.describe(first),
        **plan.environment,
        "skipped": [skip.as_dict() for skip in skips],
        "disk_fsync": host.get("disk_fsync"),
    }
    run.write_environment(environment)
    return host


def resume_environment(run: RunDir, echo) -> dict:
    """A resumed run keeps its environment.json (what was asked, every host and server so far) and
    notes when it was continued."""
    echo("measuring this data directory's fsync rate (the bound on appendfsync always)")
    host = host_facts(run.path)
    environment = run.environment()
    environment.setdefault("resumed_at", []).append(_now())
    run.write_environment(environment)
    return host


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _run_specs(scenario, specs: list[TrialSpec], run: RunDir, env: TrialEnv, ui: RunUI) -> None:
    ui.begin(len(specs))
    for number, spec in enumerate(specs, 1):
        ui.trial(number, spec.trial_id)
        shard = Shard.create(run.shard_dir(spec.trial_id), spec.with_run(run.run_id))
        module = scenario or scenario_of(spec)
        try:
            run_trial(module, shard.spec(), shard, env)
        except BaseException:
            keep_logs(shard, run)  # a trial that failed is explained by its servers' logs
            raise
        rows = merge(shard, run)
        run.mark_latest()
        ui.trial_done(module.trial_line(rows[0]))
    ui.end()


def prepare(scenario, plan: Plan, pool: ServerPool, echo) -> Plan:
    """Each scenario of the plan that has a `prepare(plan, pool, echo)` hook acts on it once the
    configs are checked: it may drop the trials its servers cannot run, and say so (failover: an
    ack mode a server lacks)."""
    modules = [scenario] if scenario is not None else \
        list({spec.scenario: scenario_of(spec) for spec in plan.specs}.values())
    for module in modules:
        hook = getattr(module, "prepare", None)
        if hook is not None:
            plan = hook(plan, pool, echo)
    if not plan.specs:
        raise HarnessError("nothing to run: no trial of the plan can run on these servers")
    return plan


def run_plan(scenario, plan: Plan, run: RunDir, ui: RunUI, resume: bool = False) -> None:
    """Check every server and config, then run the plan's trials one by one into `run`; `scenario`
    runs them all, or (None: a run of several scenarios) each spec's own. `resume`: `run` already
    holds some of them (harness.runner.resume); only the others run."""
    if not plan.specs:
        raise HarnessError("nothing to run: the plan has no trials")
    if not resume:
        save_plan(run, scenario.NAME if scenario else "", plan)
    done = finished_trials(run) if resume else set()
    todo = Plan([spec for spec in plan.specs if spec.trial_id not in done], plan.configs, plan.environment,
                checks=plan.checks)
    if resume:
        ui.echo(f"resuming {run.run_id}: {len(done)} finished trial(s) kept, {len(todo.specs)} of "
                f"{len(plan.specs)} planned still to run")
        if not todo.specs:
            return
    pool = ServerPool(run.run_id, ui.echo, owner=str(run.root.resolve()))
    try:
        skips = check_configs(pool, todo, run, ui.echo)
        todo = prepare(scenario, todo, pool, ui.echo)
        host = resume_environment(run, ui.echo) if resume else start_environment(pool, todo, run, ui.echo, skips)
        specs = without(todo.specs, skips)
        if specs:
            _run_specs(scenario, specs, run, TrialEnv(pool, host, ui.step), ui)
    finally:
        pool.cleanup()
        run.tidy()
