"""`python -m harness worker SPEC OUT`: run one trial from its JSON spec into a results shard.

For machines other than the one that planned the run: the trial runs whole here, next to this
machine's Docker engine or server binary (its load goes to this machine's loopback), and OUT
holds everything it produced, to be merged into a run folder anywhere (`python -m harness merge`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError
from harness.runner.context import TrialEnv
from harness.runner.host import host_facts
from harness.runner.checks import check_plan
from harness.runner.local import run_trial
from harness.runner.servers import ServerPool
from harness.runner.shard import Shard
from harness.spec import TrialSpec


def run_spec(spec: TrialSpec, out: Path, echo: Callable[[str], None], probe_disk: bool = True,
             pool: ServerPool | None = None, host: dict | None = None) -> Shard:
    """Run `spec` into a new shard at `out` (which must not exist, or be empty). `host`: this
    machine's facts probed already (a cluster worker probes its disk once, not once per trial)."""
    import scenarios  # noqa: PLC0415 - the scenario modules, found by name

    scenario = scenarios.get(spec.scenario)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise HarnessError(f"{out} is not empty: a shard is written into a new folder")
    own_pool = pool is None
    # The pool's cleanup removes containers by its run label: this process's own, so a trial
    # finishing next to another one on the same Docker engine (two workers on a machine) leaves
    # the other's server alone.
    pool = pool or ServerPool(f"{spec.run_id or 'worker'}-{os.getpid()}", echo, owner=str(out.resolve().parent))
    try:
        shard = Shard.create(out, spec)
        env = TrialEnv(pool, host or host_facts(out, probe_disk=probe_disk), step=echo)
        run_trial(scenario, spec, shard, env)
        return shard
    finally:
        if own_pool:
            pool.cleanup()


def check_specs(specs: list[TrialSpec], folder: Path, echo: Callable[[str], None]) -> list[dict]:
    """Every config of these specs against every server they name, on this machine (what the
    local runner checks before any trial, for a cluster); each server's description, as first named."""
    folder = Path(folder)
    pool = ServerPool(f"config-check-{os.getpid()}", echo, owner=str(folder.resolve()))
    try:
        configs = list({spec.config.name: spec.config for spec in specs}.values())
        servers = list(dict.fromkeys(spec.server for spec in specs))
        # A config every server refuses stops the run; one only some refuse fails its trials there.
        check_plan(pool, specs, folder / "configs", configs, echo)
        return [pool.describe(choice) for choice in servers]
    finally:
        pool.cleanup()
