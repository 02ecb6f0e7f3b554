"""A primary, its replicas and three Sentinels (quorum 2), each on its own port on 127.0.0.1.

Ready means: every replica in sync (`master_link_status:up`, offsets caught up), and every
Sentinel names the primary, knows every replica (none down) and both other Sentinels. After a
fault the topology says what happened, from the servers' and Sentinels' own state: which replica
was promoted and when, when the Sentinels named it, when the old primary became a replica again
and when it caught up (`SentinelFacts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import redis

from harness.errors import HarnessError
from harness.record import Columns
from harness.server.base import Server
from harness.server.net import LOOPBACK, free_port
from harness.topology.base import DataDirFor, ServerFactory, Topology
from harness.topology.proxy import ProxyHub
from harness.topology.sentinel_events import SentinelWatch, port_in
from harness.topology.sentinel_setup import (SENTINELS, SERVICE, SentinelOptions, data_roles, data_server_args,
                                             fixed_ports, sentinel_config, sentinel_roles)

READY_TIMEOUT_S = 60.0
POLL_S = 0.05


@dataclass(frozen=True)
class SentinelFacts(Columns):
    """The Sentinel topology's settings, and what its servers and Sentinels said during the trial.
    Instants are ns since the epoch (0: did not happen)."""

    replicas: int = 0
    down_after_ms: int = 0
    failover_timeout_ms: int = 0
    min_replicas_to_write: int = 0
    min_replicas_max_lag_s: int = 0
    partition_proxies: bool = False
    server_ports: str = ""  # 'primary=41001 replica-1=41002 ...': the history's `server` column by role
    old_primary_port: int = 0
    winner: str = ""  # the role promoted ("": none)
    winner_port: int = 0
    promotion_ns: int = 0  # the leader Sentinel sent REPLICAOF NO ONE to the winner
    switch_ns: int = 0  # the first +switch-master: a Sentinel names the new primary
    settled_ns: int = 0  # every Sentinel names it
    demoted_ns: int = 0  # the old primary became a replica
    demoted_by: str = ""  # sentinel (+convert-to-slave) | harness (REPLICAOF after its restart)
    rejoined_ns: int = 0  # the old primary in sync with the new one
    primary_offset_at_fault: int = 0  # master_repl_offset just before the fault
    replica_offsets_at_fault: str = ""  # each replica's processed offset then: 'replica-1=123 ...'
    lag_bytes_at_fault: int = 0  # at most: the primary's offset minus the best replica's (read just before)
    failover_aborts: str = ""  # -failover-abort-* events, if any


def _info(port: int, section: str = "replication") -> dict:
    client = redis.Redis(host=LOOPBACK, port=port, socket_timeout=2.0, socket_connect_timeout=1.0)
    try:
        return client.info(section)
    finally:
        client.close()


def _wait(check: Callable[[], str | None], timeout_s: float, what: str) -> None:
    """Poll `check` (None: done; else what is still missing) until done or the timeout."""
    deadline = time.monotonic() + timeout_s
    missing = "not checked"
    while time.monotonic() < deadline:
        try:
            missing = check()
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as exc:
            missing = f"{type(exc).__name__}: {exc}"
        if missing is None:
            return
        time.sleep(POLL_S)
    raise HarnessError(f"{what} within {timeout_s:.0f} s: {missing}")


class SentinelTopology(Topology):
    kind = "sentinel"
    promotes = True
    columns = SentinelFacts

    def __init__(self, servers: dict[str, Server], options: SentinelOptions, announced: dict[str, int],
                 proxies: ProxyHub | None, events_log) -> None:
        super().__init__(servers)
        self.options = options
        self.announced = announced  # role -> the port its peers reach it on (its relay's, with proxies)
        self.proxies = proxies
        self.events_log = events_log
        self.watch = SentinelWatch({role: servers[role].port for role in sentinel_roles()})
        self.found = SentinelFacts(
            replicas=options.replicas, down_after_ms=options.down_after_ms,
            failover_timeout_ms=options.failover_timeout_ms, min_replicas_to_write=options.min_replicas_to_write,
            min_replicas_max_lag_s=options.min_replicas_max_lag_s, partition_proxies=options.proxied,
            server_ports=" ".join(f"{role}={servers[role].port}" for role in data_roles(options.replicas)),
            old_primary_port=servers["primary"].port)

    @classmethod
    def create(cls, factory: ServerFactory, name: str, data_dir_for: DataDirFor, port: int | None = None,
               **options) -> "SentinelTopology":
        opts = SentinelOptions.of(options)
        ports = {role: fixed or free_port() for role, fixed in fixed_ports(port, opts.replicas).items()}
        proxies = ProxyHub() if opts.proxied else None
        try:
            announced = {role: proxies.add(ports[role]) if proxies else ports[role] for role in data_roles(opts.replicas)}
            servers = {}
            for role in data_roles(opts.replicas):
                replica_of = None if role == "primary" else announced["primary"]
                args = data_server_args(opts, announced[role] if proxies else None, replica_of)
                servers[role] = factory.make(f"{name}__{role}", data_dir_for(role), ports[role], args=args)
            for role in sentinel_roles():
                directory = data_dir_for(role)
                config = directory / "sentinel.conf"
                config.write_text(sentinel_config(opts, announced["primary"]))
                servers[role] = factory.make(f"{name}__{role}", directory, ports[role], config_path=config,
                                             sentinel=True)
        except BaseException:
            if proxies:
                proxies.close()
            raise
        return cls(servers, opts, announced, proxies, factory.log_dir / f"{name}__sentinel-events.log")

    # -- who is where ---------------------------------------------------------------------------
    @property
    def data_servers(self) -> list[str]:
        return data_roles(self.options.replicas)

    @property
    def replicas(self) -> list[str]:
        return self.data_servers[1:]

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, self.servers[role].port) for role in sentinel_roles()]

    def address_map(self) -> dict[int, int]:
        """Announced port -> the server's own port: where a client goes for what a Sentinel names."""
        return {self.announced[role]: self.servers[role].port for role in self.data_servers}

    def role_at(self, port: int) -> str | None:
        """The data server on `port`, its own or its announced one."""
        return next((r for r in self.data_servers if port in (self.servers[r].port, self.announced[r])), None)

    def named_primaries(self) -> list[str | None]:
        """The primary each Sentinel names now (None: it names none, or cannot be asked)."""
        named = []
        for host, port in self.sentinel_addresses():
            client = redis.Redis(host=host, port=port, socket_timeout=1.0, socket_connect_timeout=1.0)
            try:
                address = client.sentinel_get_master_addr_by_name(SERVICE)
                named.append(self.role_at(int(address[1])) if address else None)
            except (redis.ConnectionError, redis.TimeoutError):
                named.append(None)
            finally:
                client.close()
        return named

    # -- start ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.primary.start()
        for role in self.replicas:
            self.servers[role].start()
        self.wait_replicas_synced()
        for role in sentinel_roles():
            self.servers[role].start()
        _wait(self._sentinels_agree, READY_TIMEOUT_S, "the Sentinels did not agree on the topology")
        self.watch.start()

    def wait_replicas_synced(self) -> None:
        _wait(self._replicas_synced, READY_TIMEOUT_S, "the replicas did not catch up with the primary")

    def _replicas_synced(self) -> str | None:
        return self._replicas_synced_with("primary")

    def _replicas_synced_with(self, primary_role: str) -> str | None:
        """None once every other data server is an online replica of `primary_role`, caught up."""
        others = [role for role in self.data_servers if role != primary_role]
        primary = _info(self.servers[primary_role].port)
        if primary.get("connected_slaves", 0) != len(others):
            return f"{primary_role} has {primary.get('connected_slaves', 0)} of {len(others)} replicas connected"
        for index in range(len(others)):
            entry = primary.get(f"slave{index}", {})
            if entry.get("state") != "online" or entry.get("offset") != primary.get("master_repl_offset"):
                return f"a replica is not caught up ({entry})"
        for role in others:
            if _info(self.servers[role].port).get("master_link_status") != "up":
                return f"{role}'s link to {primary_role} is not up"
        return None

    def _sentinels_agree(self) -> str | None:
        for role in sentinel_roles():
            client = self.servers[role].client(timeout_s=1.0)
            try:
                master = client.sentinel_master(SERVICE)
                if int(master["port"]) != self.announced["primary"] or not master["is_master"] or \
                        master["is_sdown"] or master["is_odown"]:
                    return f"{role} sees the primary as {master['ip']}:{master['port']} ({master['flags']})"
                if master["num-slaves"] != len(self.replicas) or master["num-other-sentinels"] != SENTINELS - 1:
                    return (f"{role} knows {master['num-slaves']} replicas and {master['num-other-sentinels']} "
                            f"other Sentinels")
                down = [r for r in client.sentinel_slaves(SERVICE) if r["is_sdown"] or r["is_odown"]]
                if down:
                    return f"{role} sees a replica down: {down[0]['name']}"
            finally:
                client.close()
        return None

    # -- after a fault --------------------------------------------------------------------------------
    def note_lag(self) -> None:
        """The replication offsets just before the fault: each replica's own, then the primary's (read
        in that order, so the lag is an upper bound: the primary moved on while it was asked)."""
        offsets = {role: _info(self.servers[role].port).get("slave_repl_offset", 0) for role in self.replicas}
        primary = _info(self.primary.port).get("master_repl_offset", 0)
        self.found = replace(self.found, primary_offset_at_fault=primary,
                             replica_offsets_at_fault=" ".join(f"{r}={o}" for r, o in offsets.items()),
                             lag_bytes_at_fault=max(0, primary - max(offsets.values(), default=primary)))

    def wait_promotion(self, after_ns: int, timeout_s: float) -> str | None:
        event = self.watch.wait_for("+failover-state-wait-promotion", after_ns, timeout_s)
        if event is None:
            return None
        winner = self.role_at(port_in(event.data) or 0)
        if not self.found.promotion_ns:
            self.found = replace(self.found, promotion_ns=event.at_ns, winner=winner or "",
                                 winner_port=self.servers[winner].port if winner else 0)
        return winner

    def wait_settled(self, after_ns: int, timeout_s: float) -> str | None:
        """Every Sentinel names one primary other than the first: the failover is over. Returns
        that primary's role (None: not within the timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            named = self.named_primaries()
            if named[0] not in (None, "primary") and len(set(named)) == 1:
                switch = self.watch.first("+switch-master", after_ns)
                self.wait_promotion(after_ns, 0)
                if not self.found.settled_ns:  # the first time it was seen (a partition waits for it too)
                    self.found = replace(self.found, settled_ns=time.time_ns(), switch_ns=switch.at_ns if switch else 0)
                return named[0]
            time.sleep(POLL_S)
        return None

    def current_primary(self) -> str:
        """The role the Sentinels name (the first primary while none is named)."""
        named = [role for role in self.named_primaries() if role]
        return max(set(named), key=named.count) if named else "primary"

    def rejoin(self, role: str) -> None:
        """Make a running old primary a replica of the current primary, as an operator would after
        restarting it (Sentinel itself waits about 10 s before it converts a returning primary)."""
        primary = self.current_primary()
        client = self.servers[role].client(timeout_s=2.0)
        try:
            client.replicaof(LOOPBACK, self.announced[primary])
        finally:
            client.close()
        self.found = replace(self.found, demoted_ns=time.time_ns(), demoted_by="harness")

    def wait_demoted(self, role: str, timeout_s: float) -> bool:
        """Wait until `role` reports itself a replica (Sentinel converts a returning old primary)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if _info(self.servers[role].port).get("role") == "slave":
                    converted = self.watch.first("+convert-to-slave")
                    self.found = replace(self.found, demoted_ns=self.found.demoted_ns or time.time_ns(),
                                         demoted_by=self.found.demoted_by or ("sentinel" if converted else "harness"))
                    return True
            except (redis.ConnectionError, redis.TimeoutError):
                pass
            time.sleep(POLL_S)
        return False

    def wait_in_sync(self, role: str, timeout_s: float) -> None:
        """`role` replicates the current primary, its sync done and its offset caught up (the load
        stopped); if `role` is the primary again (no failover), every replica caught up with it."""
        primary = self.current_primary()

        def synced() -> str | None:
            if role == primary:
                return self._replicas_synced_with(primary)
            mine = _info(self.servers[role].port)
            if mine.get("role") != "slave" or mine.get("master_link_status") != "up" or \
                    mine.get("master_sync_in_progress"):
                return f"{role}: role {mine.get('role')}, link {mine.get('master_link_status')}"
            theirs = _info(self.servers[primary].port).get("master_repl_offset")
            return None if mine.get("slave_repl_offset") == theirs else f"{role} at {mine.get('slave_repl_offset')} of {theirs}"

        _wait(synced, timeout_s, f"{role} did not catch up with the primary")
        self.found = replace(self.found, rejoined_ns=time.time_ns())

    def partition(self, role: str, cut: bool) -> None:
        """Cut (or heal) the links between `role` and every other server; its clients still reach it."""
        if self.proxies is None:
            raise HarnessError("this topology has no partition proxies (the partition fault needs them)")
        (self.proxies.cut if cut else self.proxies.heal)(self.announced[role])

    def facts(self) -> SentinelFacts:
        aborts = sorted({e.channel for e in self.watch.events if e.channel.startswith("-failover-abort")})
        return replace(self.found, failover_aborts=" ".join(aborts))

    def remove(self) -> None:
        self.watch.stop()
        try:
            self.events_log.parent.mkdir(parents=True, exist_ok=True)
            self.events_log.write_text(self.watch.text())
        except OSError:
            pass  # the events are evidence, never worth failing cleanup for
        try:
            super().remove()
        finally:
            if self.proxies is not None:
                self.proxies.close()
