"""The failover checker: what a failover cost, from the history (which server answered what, when)
and the topology's instants (when another server was promoted).

- `failover_s`: from the fault to the first write the new primary acknowledged;
- `acked_by_old_primary_after_promotion`: writes the old primary acknowledged after another
  server was promoted (split brain: the old primary drops them when it resyncs as a replica);
  `logins_lost_after_promotion`: of those, the logins whose session did not come back;
  `split_brain_s`: from the promotion to the last of them;
- the writes that failed or ended unknown from the fault on, by what the client was told: the
  error reply's prefix (`READONLY`, `NOREPLICAS`, `MASTERDOWN`, `LOADING`, other), a timeout, a
  dropped connection, or a WAIT / WAITAOF that did not confirm.

Pure: the durability checker judges every session; this one only sorts the failover's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.checkers.base import Checker, Evidence, Verdict
from harness.record import NAN, Columns
from harness.topology.sentinel import SentinelFacts

WRITES = ("login", "refresh", "logout")
ERROR_PREFIXES = ("READONLY", "NOREPLICAS", "MASTERDOWN", "LOADING")


@dataclass(frozen=True)
class Failover(Columns):
    failover_s: float = NAN  # fault to the first write the new primary acknowledged
    acked_by_old_primary_after_promotion: int = 0
    logins_lost_after_promotion: int = 0  # of those, logins whose session did not come back
    split_brain_s: float = 0.0  # promotion to the old primary's last acknowledged write (0: none after it)
    readonly_writes: int = 0  # refused: the server was a replica (the old primary, demoted)
    noreplicas_writes: int = 0  # refused: min-replicas-to-write not met
    masterdown_writes: int = 0
    loading_writes: int = 0  # refused: the server was still loading its data
    other_failed_writes: int = 0
    timeout_writes: int = 0  # unknown: no reply within the client's request timeout
    dropped_writes: int = 0  # unknown: the connection dropped (refused connections send nothing)
    unconfirmed_writes: int = 0  # unknown: applied, but WAIT / WAITAOF did not confirm it in time
    servers_acking: int = 0  # servers that acknowledged writes from the fault on (2: both primaries)


def error_kind(outcome: str, error: str) -> str:
    """Which column a failed or unknown write counts in."""
    if outcome == "fail":
        word = error.split(" ", 1)[0].upper()
        return word.lower() if word in ERROR_PREFIXES else "other_failed"
    if error.startswith(("WAIT", "WAITAOF")):
        return "unconfirmed"
    return "timeout" if "Timeout" in error else "dropped"


def _error_counts(writes: pd.DataFrame) -> dict[str, int]:
    bad = writes[writes["outcome"].isin(["fail", "unknown"])]
    kinds = [error_kind(str(o), str(e)) for o, e in zip(bad["outcome"], bad["error"])]
    names = [p.lower() for p in ERROR_PREFIXES] + ["other_failed", "timeout", "dropped", "unconfirmed"]
    return {f"{name}_writes": kinds.count(name) for name in names}


def _lost_logins(after: pd.DataFrame, survivors: pd.DataFrame) -> int:
    """Logins whose value did not come back (a later write to the same key can change it; a
    login acknowledged after promotion is the last write its session had in a failover trial)."""
    logins = after[after["kind"] == "login"]
    if logins.empty:
        return 0
    back = survivors[survivors["present"]].set_index("key")["value_hash"]
    found = logins["key"].map(back)
    return int((found.isna() | (found.to_numpy() != logins["value_hash"].to_numpy())).sum())


def failover_columns(history: pd.DataFrame, survivors: pd.DataFrame, fault_ns: int, facts: SentinelFacts | None
                     ) -> Failover:
    if "server" not in history.columns:
        return Failover()
    writes = history[history["kind"].isin(WRITES) & (history["end_ns"].to_numpy() >= fault_ns)]
    acked = writes[writes["outcome"] == "ok"]
    failover_s, after, servers, split_s = NAN, acked.iloc[0:0], int(acked["server"].nunique()), 0.0
    if facts is not None and facts.winner_port:
        by_new = acked.loc[acked["server"] == facts.winner_port, "end_ns"]
        failover_s = round((int(by_new.min()) - fault_ns) / 1e9, 4) if len(by_new) else NAN
    if facts is not None and facts.promotion_ns:
        after = acked[(acked["server"] == facts.old_primary_port) & (acked["end_ns"] > facts.promotion_ns)]
        split_s = round((int(after["end_ns"].max()) - facts.promotion_ns) / 1e9, 3) if len(after) else 0.0
    return Failover(failover_s=failover_s, acked_by_old_primary_after_promotion=len(after), split_brain_s=split_s,
                    logins_lost_after_promotion=_lost_logins(after, survivors), servers_acking=servers,
                    **_error_counts(writes))


class FailoverChecker(Checker):
    name = "failover"
    columns = Failover

    def check(self, evidence: Evidence) -> Verdict:
        fault_ns = evidence.times.fault_ns or int(np.iinfo(np.int64).max)
        return Verdict(failover_columns(evidence.history, evidence.survivors, fault_ns, evidence.fact(SentinelFacts)))
