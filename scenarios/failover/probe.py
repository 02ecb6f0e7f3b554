"""Before any failover trial: can each server run each ack mode? (WAITAOF is Redis 7.2+ and Valkey.)

The runner calls `prepare(plan, pool, echo)` once the configs are checked: a throwaway server per
server choice is asked, and the trials of a mode its server lacks are dropped from the plan, with
a note said in the output and kept in environment.json (the report says it too).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from harness.runner.local import Plan
from harness.server.base import ServerSpec, identify
from harness.server.net import free_port
from harness.workload.acks import AckMode, why_unavailable
from scenarios.failover.trial import has_waitaof

NAME = "failover"


def _probe(pool, choice) -> tuple[str, bool]:
    """(the server's label, whether it has WAITAOF), from a throwaway server with an empty config."""
    backend, build = pool.get(choice)
    scratch = Path(tempfile.mkdtemp(prefix="crash-matrix-check-waitaof-"))
    try:
        (scratch / "data").mkdir()
        config = scratch / "empty.conf"
        config.write_text("# probing which commands the server has\n")
        server = backend.server(ServerSpec("check-waitaof", config, scratch / "data", scratch / "server.log",
                                           free_port()), build)
        try:
            server.start()
            client = server.client()
            try:
                return identify(client).label, has_waitaof(client)
            finally:
                client.close()
        finally:
            server.remove()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def prepare(plan: Plan, pool, echo) -> Plan:
    """The plan without the trials of ack modes their server cannot run, and a note for each."""
    needing = [s for s in plan.specs if s.scenario == NAME and s.scenario_options.get("ack_mode") == "waitaof"]
    skipped: dict[str, str] = {}
    drop = set()
    for choice in dict.fromkeys(s.server for s in needing):
        label, has = _probe(pool, choice)
        reason = why_unavailable(AckMode("waitaof"), has, appendonly=True)
        if reason:
            skipped[label] = reason
            drop.update(s.trial_id for s in needing if s.server == choice)
    if not drop:
        return plan
    notes = [f"failover: ack mode waitaof skipped on {label}: {reason}" for label, reason in skipped.items()]
    for note in notes:
        echo(note)
    # environment.json keeps each scenario's facts under scenarios.<name> (harness.runner.plan.combine)
    environment = dict(plan.environment)
    parts = dict(environment.get("scenarios") or {NAME: {}})
    parts[NAME] = {**parts.get(NAME, {}), "notes": [*parts.get(NAME, {}).get("notes", []), *notes]}
    environment["scenarios"] = parts
    return replace(plan, specs=[s for s in plan.specs if s.trial_id not in drop], environment=environment,
                   notes=[*plan.notes, *notes])
