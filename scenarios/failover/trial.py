"""One failover trial: a primary, replicas and Sentinels under the session load, a fault on a role,
the failover, the old primary back as a replica, and every session read back from the new primary.

    with FailoverTrial(spec, env, shard) as trial:
        trial.start()           # topology ready: replicas in sync, Sentinels agree
        trial.baseline()        # sessions logged in, persisted, replicated
        trial.load_and_fault()  # the load through the Sentinels; offsets noted; the fault
        trial.settle()          # failover done; old primary demoted (or restarted and rejoined), in sync
        trial.read_back()       # from the primary the Sentinels name
    trial.judge()               # durability, speed and failover checkers

The load keeps going until the old primary is a replica again (plus `after_s`), so the writes its
clients sent it after another server was promoted are in the history and judged: after the
fault, users log in new sessions on checked keys (`Phase.FAILOVER`), whichever primary took them.
"""

from __future__ import annotations

import time

import redis

from harness import faults
from harness.errors import HarnessError
from harness.record import Restart
from harness.server.net import LOOPBACK
from harness.topology.sentinel_setup import SERVICE
from harness.trial import CrashTrial, restart_server
from harness.workload.acks import AckMode, config_has_aof, why_unavailable
from harness.workload.driver import SessionLoad
from harness.workload.route import AddressMap, ClientFacts, make_route

REPLICA_DOWN_S = 1.0  # a killed replica stays down this long before it is restarted


def has_waitaof(client) -> bool:
    """Does the server know WAITAOF? `WAITAOF 0 0 0` asks for nothing and returns at once where it
    exists; a server without it says "unknown command"."""
    try:
        client.execute_command("WAITAOF", 0, 0, 0)
        return True
    except redis.ResponseError as exc:
        if "unknown command" in str(exc).lower():
            return False
        raise


class FailoverTrial(CrashTrial):
    checked_after = True

    def __init__(self, spec, env, shard) -> None:
        super().__init__(spec, env, shard)
        options = spec.scenario_options
        self.acks = AckMode(str(options.get("ack_mode", "plain")), int(options.get("ack_timeout_ms", 1000)))
        self.ack_mode = self.acks.name
        self.client_mode = str(options.get("client_mode", "lookup"))
        self.settle_timeout_s = float(options.get("settle_timeout_s", 40.0))

    def make_load(self) -> SessionLoad:
        topo = self.topology
        primary = topo.primary
        route = make_route(self.client_mode, (LOOPBACK, primary.port), topo.sentinel_addresses(), SERVICE,
                           AddressMap(topo.address_map()))
        return SessionLoad(primary.host, primary.port, self.spec.workload, self.spec.seed, self.recorder,
                           route=route, acks=self.acks)

    def start(self) -> None:
        self.env.step(f"starting a primary, {self.topology.options.replicas} replica(s) and 3 Sentinels")
        super().start()
        client = self.topology.primary.client()
        try:
            reason = why_unavailable(self.acks, has_waitaof(client), config_has_aof(self.spec.config.text))
        finally:
            client.close()
        if reason:
            raise HarnessError(f"ack mode {self.acks.name} cannot run on {self.identity.label}: {reason}")

    def baseline(self) -> list[str]:
        persisted = super().baseline()
        self.topology.wait_replicas_synced()  # the baseline is on every replica before the load
        return persisted

    def before_fault(self) -> None:
        super().before_fault()
        self.topology.note_lag()  # the replication offsets at the fault

    def after_fault(self, start_ns: int) -> None:
        """No watch under load here: what follows a failover fault is the failover (settle)."""
        self._fault_took_effect()
        self.fault_facts += faults.as_tuple(self.broken.finish())

    def settle(self) -> None:
        """Wait for the failover, the old primary's return as a replica, then stop the load and
        wait until every data server is in sync."""
        topo, fault_ns = self.topology, self.stamps["fault_ns"]
        target = self.fault.target_role
        if target == "primary":
            self.env.step("waiting for the Sentinels to fail over")
            new = topo.wait_settled(fault_ns, self.settle_timeout_s)
            self.stamps["restart_ns"] = topo.found.promotion_ns or time.time_ns()  # the service is back there
            self.stamps["ready_ns"] = topo.found.settled_ns or time.time_ns()
            self._old_primary_back(new is not None)
        else:
            time.sleep(REPLICA_DOWN_S)
            self.env.step(f"restarting {target}")
            self.stamps["restart_ns"] = time.time_ns()
            self.restart_columns = restart_server(topo.role(target))
            self.stamps["ready_ns"] = time.time_ns()
        time.sleep(self.spec.timeline.after_s)
        self.load.stop()
        if not self.restart_columns.restart_failed:
            self.env.step(f"waiting for {target} to catch up")
            topo.wait_in_sync(target, self.settle_timeout_s)

    def _old_primary_back(self, failed_over: bool) -> None:
        topo, old = self.topology, self.topology.primary
        if not old.is_running():  # killed: it stayed down through the failover; restart it now
            self.env.step("restarting the old primary on what survived")
            self.restart_columns = restart_server(old)
            if failed_over and not self.restart_columns.restart_failed:
                topo.rejoin("primary")
        elif failed_over:  # stalled or cut off: it wakes up a primary, until a Sentinel demotes it
            self.env.step("waiting for a Sentinel to demote the old primary")
            if not topo.wait_demoted("primary", self.settle_timeout_s):
                raise HarnessError(f"the old primary was not demoted within {self.settle_timeout_s:g} s")
        else:
            self.restart_columns = Restart()

    def read_server(self):
        server = self.topology.role(self.topology.current_primary())
        return server if server.is_running() else None  # no failover, and the old primary did not come back

    def fact_groups(self) -> list:
        route = self.load.route
        client = ClientFacts(client_mode=self.client_mode, refused_connects=self.load.refused_connects,
                             failed_lookups=route.failed_lookups, switch_messages=route.switch_messages)
        return [*super().fact_groups(), client]
