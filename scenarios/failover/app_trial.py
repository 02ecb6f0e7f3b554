"""One application trial: redis-py as an application uses it, through a restart or a failover.

    restart:  one server; kill -9 at a random moment, down `down_s`, restarted on its data
    failover: a primary, replicas and Sentinels; kill -9 of the primary, the Sentinels fail over,
              the old primary is restarted and rejoins as a replica

Each with the client as installed (`defaults`: `redis.Redis(host, port)`) or configured with care
(`careful`: timeouts, Retry with exponential backoff, Sentinel-aware where there are Sentinels).
The application checker counts what its users saw (harness.checkers.application).
"""

from __future__ import annotations

import time

import pandas as pd

from harness import faults
from harness.trial import CrashTrial, restart_server
from harness.topology.sentinel_setup import SERVICE
from harness.workload.app import APP_CLIENTS, AppFacts, AppLoad, app_client, careful_settings, redis_py_defaults

SITUATIONS = ("restart", "failover")

__all__ = ["APP_CLIENTS", "SITUATIONS", "AppTrial", "app_spec_options", "run_app"]


def app_spec_options(app, situation: str, client: str, settle_timeout_s: float) -> dict:
    return {"part": "application", "situation": situation, "client": client, "threads": app.threads,
            "rate_per_thread": app.rate_per_thread, "app_duration_s": app.duration_s, "down_s": app.down_s,
            "app_after_s": app.after_s, "app_users": app.users, "settle_timeout_s": settle_timeout_s}


def no_survivors() -> pd.DataFrame:
    """The application trial reads nothing back: its checker judges what the users saw."""
    return pd.DataFrame({"key": pd.array([], dtype="int64"), "present": pd.array([], dtype="bool"),
                         "value_hash": pd.array([], dtype="int64"), "expire_at_ms": pd.array([], dtype="int64"),
                         "read_at_ms": pd.array([], dtype="float64")})


class AppTrial(CrashTrial):
    def __init__(self, spec, env, shard) -> None:
        self.options = spec.scenario_options
        self.situation = str(self.options["situation"])
        self.client_kind = str(self.options["client"])
        super().__init__(spec, env, shard)

    def make_load(self) -> AppLoad:
        primary, options, workload = self.topology.primary, self.options, self.spec.workload
        sentinels = self.topology.sentinel_addresses() if self.situation == "failover" else None
        client = app_client(self.client_kind, primary.host, primary.port, sentinels, SERVICE)
        return AppLoad(client, int(options["threads"]), float(options["rate_per_thread"]), int(options["app_users"]),
                       workload.ttl_s, workload.value_bytes, self.spec.seed, self.recorder)

    def start(self) -> None:
        self.env.step(f"starting {'one server' if self.situation == 'restart' else 'a primary, replicas, Sentinels'}"
                      f" for redis-py ({self.client_kind})")
        super().start()

    def load_and_fault(self, persisted: list[str] = ()) -> None:
        duration = float(self.options["app_duration_s"])
        fault_after_s = self.rng.uniform(*self.spec.timeline.fault_window) * duration
        self.env.step(f"application load, kill -9 at {fault_after_s:.1f} s")
        self.stamps["load_start_ns"] = start_ns = time.time_ns()
        self.load.start()
        time.sleep(max(0.0, start_ns / 1e9 + fault_after_s - time.time()))
        self.stamps["fault_ns"] = time.time_ns()
        self.fault_facts = faults.as_tuple(self.broken.inject(self.topology, self._fault_took_effect))
        self._fault_took_effect()

    def recover(self) -> None:
        topo = self.topology
        if self.situation == "restart":
            time.sleep(float(self.options["down_s"]))
            self.env.step("restarting the server")
            self.stamps["restart_ns"] = time.time_ns()
            self.restart_columns = restart_server(topo.primary)
            self.stamps["ready_ns"] = time.time_ns()
        else:
            self.env.step("waiting for the Sentinels to fail over")
            new = topo.wait_settled(self.stamps["fault_ns"], float(self.options["settle_timeout_s"]))
            self.stamps["restart_ns"] = topo.found.promotion_ns or time.time_ns()
            self.stamps["ready_ns"] = topo.found.settled_ns or time.time_ns()
            self.restart_columns = restart_server(topo.primary)
            if new is not None and not self.restart_columns.restart_failed:
                topo.rejoin("primary")
        time.sleep(float(self.options["app_after_s"]))
        self.load.stop()

    def read_back(self) -> None:
        self.history = self.recorder.frame()
        self.survivors = no_survivors()
        self.stamps["read_ns"] = time.time_ns()

    def fact_groups(self) -> list:
        settings = redis_py_defaults() if self.client_kind == "defaults" else \
            careful_settings(self.situation == "failover")
        import redis  # noqa: PLC0415

        facts = AppFacts(app_client=self.client_kind, app_client_settings=settings, app_situation=self.situation,
                         app_threads=int(self.options["threads"]),
                         app_rate_per_thread=float(self.options["rate_per_thread"]), redis_py=redis.__version__)
        return [*super().fact_groups(), facts]


def run_app(spec, env, shard) -> None:
    with AppTrial(spec, env, shard) as trial:
        trial.start()
        trial.load_and_fault()
        trial.recover()
        trial.read_back()
    trial.judge()
