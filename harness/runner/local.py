"""The local runner: a scenario's specs, one after another, in this process.

Each trial runs exactly as a worker runs it (`run_trial`: a shard written, then merged into
the run folder), so a run on one machine and a run over a cluster produce the same folder.
Results so far are kept whatever happens, and nothing is left running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness import configs as config_files
from harness.errors import HarnessError
from harness.progress import RunUI
from harness.results import RunDir
from harness.runner.context import TrialEnv
from harness.runner.host import host_facts
from harness.runner.merge import keep_logs, merge
from harness.runner.servers import ServerPool
from harness.runner.shard import Shard
from harness.server.base import Backend, ServerBuild
from harness.spec import ConfigSpec, TrialSpec

# A check a scenario needs on the real server before any trial (after every config was accepted):
# (backend, build, echo) -> None, raising HarnessError. The eviction scenario's: is maxmemory big
# enough for the empty server and the baseline?
ServerCheck = Callable[[Backend, ServerBuild, Callable[[str], None]], None]


@dataclass
class Plan:
    """What a scenario will run: its specs, the configs they use, facts for environment.json,
    notes said before the run starts, and checks on the real server before the first trial."""

    specs: list[TrialSpec]
    configs: list[ConfigSpec] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    checks: list[ServerCheck] = field(default_factory=list)


def combine(plans: dict[str, Plan]) -> Plan:
    """Several scenarios' plans as one run, in the order given. environment.json keeps each one's
    facts under `scenarios.<name>`, and the first plan's at the top level (where a one-scenario
    run has them, so its report reads them the same way)."""
    parts = list(plans.values())
    configs = {}
    for part in parts:
        for config in part.configs:
            configs.setdefault((config.name, config.text), config)
    environment = {**(parts[0].environment if parts else {}),
                   "scenarios": {name: part.environment for name, part in plans.items()}}
    return Plan([s for p in parts for s in p.specs], list(configs.values()), environment,
                [n for p in parts for n in p.notes], [c for p in parts for c in p.checks])


def scenario_of(spec: TrialSpec):
    """The scenario module that runs `spec` (found by its name, as the worker finds it)."""
    import scenarios  # noqa: PLC0415 - scenarios import the harness, not the other way round

    return scenarios.get(spec.scenario)


def run_trial(scenario, spec: TrialSpec, shard: Shard, env: TrialEnv) -> list[dict]:
    """One trial into its shard (the worker's code path too); returns the rows it wrote."""
    scenario.run(spec, env, shard)
    return shard.rows()


def check_configs(pool: ServerPool, plan: Plan, run: RunDir, echo) -> None:
    """Every config against every server it will run on, before any trial: the real server is
    the only authority on what it accepts."""
    for config in plan.configs:
        run.write_config(config.name, config.text)
    written = [config_files.write_config(c, run.path / "configs") for c in plan.configs]
    for choice in dict.fromkeys(spec.server for spec in plan.specs):
        backend, build = pool.get(choice)
        echo(f"checking {len(written)} config(s) against the server: {', '.join(c.name for c in written)}")
        config_files.check_all(backend, written, build)
        for check in plan.checks:
            check(backend, build, echo)


def start_environment(pool: ServerPool, plan: Plan, run: RunDir, echo) -> dict:
    echo("measuring this data directory's fsync rate (the bound on appendfsync always)")
    host = host_facts(run.path)
    first = plan.specs[0].server
    environment = {
        "run_id": run.run_id,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **{k: v for k, v in host.items() if k != "disk_fsync"},
        **pool.describe(first),
        **plan.environment,
        "disk_fsync": host.get("disk_fsync"),
    }
    run.write_environment(environment)
    return host


def run_plan(scenario, plan: Plan, run: RunDir, ui: RunUI) -> None:
    """Every spec of the plan, in order; `scenario` runs them all, or (None) each spec's own."""
    if not plan.specs:
        raise HarnessError("nothing to run: the plan has no trials")
    pool = ServerPool(run.run_id, ui.echo, owner=str(run.root.resolve()))
    try:
        check_configs(pool, plan, run, ui.echo)
        env = TrialEnv(pool, start_environment(pool, plan, run, ui.echo), ui.step)
        ui.begin(len(plan.specs))
        for number, spec in enumerate(plan.specs, 1):
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
    finally:
        pool.cleanup()
        run.tidy()
