"""The expiry checker: what a restart did to session TTLs, judged against absolute expiry times.

A TTL is stored as an absolute time (`PXAT`, `PEXPIREAT` in the AOF; absolute in the RDB), so a
session whose expiry passed while the server was down must be gone when it is back, and one
whose expiry lies ahead must still be there (if its data survived). Pure functions; the same
exact per-session states as the durability checker (`feasible_states`: every execution the
replies allow, an expiry in its request's measured window), judged at the moment each session
was read back:

  zombie          present after its absolute expiry: past every expiry any write of the history
                  could have set, or past the expiry the server itself reports (a security
                  problem, like a resurrected logout: the user's session outlived its end)
  expired early   absent, although every execution leaves it alive at the readback, while an
                  *older* version of it had an expiry that passed by then (a lost refresh): the
                  older version came back and expired. Only counted when the restart loaded data
                  (evidence `restart`: a restart that loaded nothing brought no version back, its
                  absent sessions are the durability checker's "lost"). One key's readback cannot
                  tell "came back and expired" from "never persisted"; the server's own count of
                  keys it found expired when it loaded (`expired_on_load`) says how many did.
  TTL longer      present with an expiry later than any write set
  TTL shorter     present with an expiry earlier than its last acknowledged login or refresh set
                  (a lost refresh whose older expiry has not passed yet)

and the population under test: sessions alive at the fault, of which some expired between the
fault and the readback (they must be gone) and some expire after it (they must be there).
"""

from __future__ import annotations

import math

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.checkers.base import Checker, Evidence, Verdict
from harness.checkers.durability import (ABSENT, Observed, Op, feasible_states, histories_from_frame,
                                         survivors_from_frame, window)
from harness.record import NAN, Columns

# What a session's expiry says at the readback (one of), or "" when its executions disagree.
EXPIRED_IN_DOWNTIME = "expired_in_downtime"  # alive at the fault, expired before the readback
ALIVE_AT_READ = "alive_at_read"  # its expiry lies after the readback


@dataclass(frozen=True)
class KeyExpiry:
    population: str = ""  # EXPIRED_IN_DOWNTIME, ALIVE_AT_READ, or "" (neither, or undecided)
    alive_at_fault: bool = False  # every execution leaves it alive when the fault hit
    present: bool = False
    zombie: bool = False
    expired_early: bool = False
    ttl_longer: bool = False
    ttl_shorter: bool = False


def _population(ops: Sequence[Op], final: set, fault_ms: float, read_at: float) -> tuple[str, bool]:
    """Where the session's expiry falls, when every execution agrees it exists (no logout that may
    have happened, no contradiction); and whether it was alive at the fault."""
    if not final or ABSENT in final:
        return "", False
    windows = [window(ops, state[1]) for state in final]
    alive = all(low > fault_ms for low, _ in windows)
    # Expired by the read only once the millisecond of its latest possible expiry is past: the
    # server keeps a key through that millisecond (as for a zombie, below).
    if alive and all(math.floor(read_at) > high for _, high in windows):
        return EXPIRED_IN_DOWNTIME, alive
    if all(low > read_at for low, _ in windows):
        return ALIVE_AT_READ, alive
    return "", alive


def _holding(ops: Sequence[Op], states: set, value: int) -> list[tuple[float, float]]:
    return [window(ops, s[1]) for s in states if s is not ABSENT and s[0] == value]


def _present(ops: Sequence[Op], feasible: list[set], seen: Observed, read_at: float, population: str,
             alive: bool) -> KeyExpiry:
    ever = [w for states in feasible for w in _holding(ops, states, seen.value_hash)]
    if not ever:  # a value no write set: corrupt, the durability checker's to count
        return KeyExpiry(population, alive, present=True)
    latest = max(high for _, high in ever)
    # The server keeps a key through the millisecond of its expiry (keyIsExpired: now > when, in
    # whole ms), and it read the key no earlier than `read_at` (stamped before the batch was sent):
    # a zombie is certain only once that millisecond is past.
    now = math.floor(read_at)
    expired_by_server = 0 <= seen.expire_at_ms < now
    final = _holding(ops, feasible[-1], seen.value_hash)
    shorter = bool(final) and seen.expire_at_ms >= 0 and seen.expire_at_ms < min(low for low, _ in final)
    return KeyExpiry(population, alive, present=True, zombie=now > latest or expired_by_server,
                     ttl_longer=seen.expire_at_ms > latest, ttl_shorter=shorter)


def key_expiry(ops: Sequence[Op], seen: Observed, fault_ms: float, read_at_ms: float) -> KeyExpiry:
    read_at = seen.read_at_ms if seen.read_at_ms is not None else read_at_ms
    feasible = feasible_states(ops)
    if not feasible[0]:
        return KeyExpiry()  # the replies contradict each other: nothing to judge
    population, alive = _population(ops, feasible[-1], fault_ms, read_at)
    if seen.present:
        return _present(ops, feasible, seen, read_at, population, alive)
    # Absent although it should be alive: early, if an older state of it had expired by the read.
    older_expired = any(s is not ABSENT and window(ops, s[1])[0] <= read_at for states in feasible[:-1] for s in states)
    return KeyExpiry(population, alive, expired_early=population == ALIVE_AT_READ and older_expired)


@dataclass(frozen=True)
class Expiry(Columns):
    """What the restart did to TTLs (see the module docstring)."""

    ttl_s: float = NAN  # the sessions' TTL, from the history
    stayed_down_s: float = NAN  # from the fault taking effect to the restart call
    alive_at_fault: int = 0  # sessions every execution leaves alive when the fault hit
    expired_in_downtime: int = 0  # of those, whose expiry passed between the fault and the readback
    expired_in_downtime_gone: int = 0  # of those, absent after the restart, as they must be
    alive_at_read: int = 0  # sessions whose expiry lies after the readback
    alive_at_read_present: int = 0  # of those, present
    zombie_sessions: int = 0
    expired_early: int = 0
    ttl_longer: int = 0
    ttl_shorter: int = 0
    expired_on_load: int = -1  # keys the restart's RDB load found already expired (its log; -1: not said)


def expiry_columns(histories: Mapping[int, Sequence[Op]], survivors: Mapping[int, Observed], fault_ms: float,
                   read_at_ms: float, something_loaded: bool = True) -> dict[str, int]:
    counts = dict.fromkeys(("alive_at_fault", "expired_in_downtime", "expired_in_downtime_gone", "alive_at_read",
                            "alive_at_read_present", "zombie_sessions", "expired_early", "ttl_longer",
                            "ttl_shorter"), 0)
    for key, ops in histories.items():
        verdict = key_expiry(ops, survivors.get(key, Observed(False)), fault_ms, read_at_ms)
        counts["alive_at_fault"] += verdict.alive_at_fault
        if verdict.population == EXPIRED_IN_DOWNTIME:
            counts["expired_in_downtime"] += 1
            counts["expired_in_downtime_gone"] += not verdict.present
        elif verdict.population == ALIVE_AT_READ:
            counts["alive_at_read"] += 1
            counts["alive_at_read_present"] += verdict.present
        for name in ("zombie", "expired_early", "ttl_longer", "ttl_shorter"):
            counts["zombie_sessions" if name == "zombie" else name] += getattr(verdict, name)
    if not something_loaded:
        counts["expired_early"] = 0  # nothing came back to expire: those sessions were lost
    return counts


class ExpiryChecker(Checker):
    name = "expiry"
    columns = Expiry

    def check(self, evidence: Evidence) -> Verdict:
        times, history = evidence.times, evidence.history
        fault_ms = (times.fault_effect_ns or times.fault_ns) / 1e6
        restart = evidence.extra.get("restart", {})
        loaded = restart.get("loaded_from", "rdb") not in ("nothing", "") and not restart.get("restart_failed")
        counts = expiry_columns(histories_from_frame(history), survivors_from_frame(evidence.survivors), fault_ms,
                                times.read_ns / 1e6, loaded)
        ttls = history.loc[history["ttl_ms"] > 0, "ttl_ms"]
        down = (times.restart_ns - times.fault_effect_ns) / 1e9 if times.restart_ns and times.fault_effect_ns else NAN
        return Verdict(Expiry(ttl_s=float(ttls.max()) / 1000 if len(ttls) else NAN, stayed_down_s=round(down, 3),
                              expired_on_load=int(restart.get("keys_expired_on_load", -1)), **counts))
