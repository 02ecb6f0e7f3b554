"""The eviction checker: which sessions the server chose to drop, and what users saw of it.

Pure functions of a trial's evidence: the session history, the keys the server said it evicted
(`evicted`: keyspace notifications, harness.workload.evictions), the server's figures
(`pressure`: its policy and limit, its own eviction counter per server life, the other data's
counts) and what was read back.

An evicted session and a session lost in a crash are both "gone"; only the first is the
server's choice, and only the notifications tell them apart. So this module also holds the
durability checker as eviction trials run it (`durability-evictions`): the durability checker
on every session the server did *not* evict (a session lost there is a loss, as in the crash
matrix), the evicted ones counted here (verdict "evicted"). A read that found a session gone
which no notification explains stays with the durability checker, where it shows as a
contradiction or a loss: a missed notification cannot hide a loss.

Counts:
  sessions_evicted        checked sessions the server evicted (each one a logged-in user's)
  reads_session_gone      reads (and refreshes) that found a logged-in user's session gone: the
                          moment the user was logged out by the server
  reads_gone_unexplained  of those, on a session no notification named
  logins_refused_oom      logins refused with -OOM: users who could not log in
  other_evicted           keys of the other data evicted
  evicted_returned        evicted sessions present after a crash and restart (the eviction undone)
  evictions_unseen        evictions the server counted (INFO evicted_keys) and never notified
  evictions_from_aof      after a crash: sessions the AOF deletes that no notification named and
                          no logout or expiry explains (`aof_deletes`): evictions whose notice the
                          crash cut off (the AOF is written before the replies and notifications)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from harness.checkers.base import Checker, Evidence, Verdict
from harness.checkers.durability import (LOGIN, LOGOUT, OK, READ, REFRESH, UNKNOWN, DurabilityChecker, Op,
                                         histories_from_frame)
from harness.record import NAN, Columns
from harness.workload.session import AFTER_PREFIX, SESSION_PREFIX

SESSION = "session"
AFTER = "after"
OTHER = "other"
_SESSION, _AFTER = SESSION_PREFIX.decode(), AFTER_PREFIX.decode()


def key_class(name: str) -> tuple[str, int | None]:
    """What an evicted key was: a checked session (with its id), an after-fault session, other data."""
    if name.startswith(_AFTER):
        return AFTER, None
    if name.startswith(_SESSION) and name[len(_SESSION):].isdigit():
        return SESSION, int(name[len(_SESSION):])
    return OTHER, None


def evicted_sessions(evicted: pd.DataFrame | None) -> set[int]:
    """The ids of the checked sessions the notifications name."""
    if evicted is None or not len(evicted):
        return set()
    found = set()
    for name in evicted["key"].astype(str):
        kind, sid = key_class(name)
        if kind == SESSION:
            found.add(sid)
    return found


def _explained_otherwise(ops: Sequence[Op], read_at_ms: float) -> bool:
    """A deletion of this session that is not an eviction: a logout that happened or may have, or
    an expiry that may have passed by the readback."""
    if any(op.kind is LOGOUT and op.outcome in (OK, UNKNOWN) for op in ops):
        return True
    setters = [op for op in ops if op.outcome in (OK, UNKNOWN) and (op.kind is LOGIN or op.kind is REFRESH)]
    return not setters or setters[-1].start_ms + setters[-1].ttl_ms - 1 <= read_at_ms


def aof_evictions(histories: Mapping[int, Sequence[Op]], deleted: pd.DataFrame | None, notified: set[int],
                  read_at_ms: float) -> set[int]:
    """Checked sessions the AOF deletes that no notification named and nothing else explains."""
    if deleted is None or not len(deleted):
        return set()
    ids = {sid for kind, sid in map(key_class, deleted["key"].astype(str)) if kind == SESSION}
    return {sid for sid in ids - notified if sid in histories and not _explained_otherwise(histories[sid], read_at_ms)}


def evicted_ids(evidence: Evidence, histories: Mapping[int, Sequence[Op]] | None = None
                ) -> tuple[set[int], set[int]]:
    """(checked sessions the notifications name, those only the AOF's deletions show)."""
    histories = histories if histories is not None else histories_from_frame(evidence.history)
    notified = evicted_sessions(evidence.extra.get("evicted")) & set(histories)
    return notified, aof_evictions(histories, evidence.extra.get("aof_deletes"), notified, evidence.times.read_ns / 1e6)


def gone_reads(ops: Sequence[Op]) -> int:
    """Reads or refreshes that found this session gone while its user was logged in: an acknowledged
    login (or applied refresh) earlier, no logout sent since, its TTL not yet passed by the client's
    clock. After the first one the user is logged out (the driver drops the session)."""
    live_until = None  # the session's expiry by the client's clock while its user is logged in
    for op in ops:
        if op.kind is LOGIN:
            live_until = op.end_ms + op.ttl_ms if op.outcome is OK else None
        elif op.kind is LOGOUT and op.outcome in (OK, UNKNOWN):
            live_until = None
        elif op.kind in (READ, REFRESH) and op.outcome is OK and live_until is not None:
            if op.result == 0 and op.start_ms < live_until:
                return 1
            if op.kind is REFRESH and op.result == 1:
                live_until = op.end_ms + op.ttl_ms
    return 0


def logged_in(history: pd.DataFrame) -> int:
    """Acknowledged logins of the checked phases: the sessions there were to evict."""
    checked = history["phase"].isin(["baseline", "load"])
    return int((checked & (history["kind"] == "login") & (history["outcome"] == "ok")).sum())


def refused_logins(history: pd.DataFrame) -> int:
    """Logins of the checked phases refused with -OOM."""
    errors = history["error"].astype(str)
    checked = history["phase"].isin(["baseline", "load"])
    return int((checked & (history["kind"] == "login") & (history["outcome"] == "fail")
                & errors.str.startswith("OOM")).sum())


def _unseen(evicted: pd.DataFrame | None, counted: Mapping[str, int]) -> tuple[int, int]:
    """(the server's own eviction count over its lives, of those never notified)."""
    notified = evicted["life"].value_counts().to_dict() if evicted is not None and len(evicted) else {}
    total = sum(int(n) for n in counted.values())
    unseen = sum(max(0, int(n) - int(notified.get(int(life), 0))) for life, n in counted.items())
    return total, unseen


def _first_pressure_ns(evicted: pd.DataFrame | None, facts: Mapping, history: pd.DataFrame) -> int | None:
    """When memory was first full: the first eviction notified or the first write refused with -OOM."""
    moments = [int(evicted["received_ns"].min())] if evicted is not None and len(evicted) else []
    moments += [int(facts["other_first_refused_ns"])] if facts.get("other_first_refused_ns") else []
    refused = history.loc[(history["outcome"] == "fail") & history["error"].astype(str).str.startswith("OOM"),
                          "end_ns"]
    moments += [int(refused.min())] if len(refused) else []
    return min(moments) if moments else None


@dataclass(frozen=True)
class Eviction(Columns):
    """What the server evicted or refused under memory pressure, and what users saw of it."""

    maxmemory_policy: str = ""  # as the server ran it (CONFIG GET)
    other_data: str = ""  # no-ttl | ttl: whether the other data's keys carry a TTL
    maxmemory_bytes: int = 0
    sessions_logged_in: int = 0  # acknowledged logins (baseline and load): the sessions there were
    sessions_evicted: int = 0
    reads_session_gone: int = 0
    reads_gone_unexplained: int = 0
    logins_refused_oom: int = 0
    other_evicted: int = 0
    other_writes: int = 0  # the other data's acknowledged writes
    other_refused_oom: int = 0
    other_ops_s: float = NAN
    after_sessions_evicted: int = 0  # sessions made after a crash, evicted
    evicted_returned: int = 0
    evictions_notified: int = 0
    evictions_counted: int = 0  # the server's INFO evicted_keys, over its lives
    evictions_unseen: int = 0
    evictions_from_aof: int = 0  # after a crash: evicted sessions only the AOF's deletions show
    memory_full_at_s: float = NAN  # from the load's start to the first eviction or -OOM
    used_memory_bytes: int = 0  # INFO used_memory at the load's end
    used_memory_peak_bytes: int = 0


def _counts_by_class(evicted: pd.DataFrame | None, checked: Iterable[int]) -> dict[str, int]:
    checked = set(checked)
    counts = {SESSION: 0, AFTER: 0, OTHER: 0, "unchecked": 0}
    if evicted is None:
        return counts
    for name in evicted["key"].astype(str):
        kind, sid = key_class(name)
        if kind == SESSION and sid not in checked:
            kind = "unchecked"  # a session name no write of the history made (cannot happen; kept visible)
        counts[kind] += 1
    return counts


def eviction_columns(evidence: Evidence) -> Eviction:
    history, evicted = evidence.history, evidence.extra.get("evicted")
    facts: Mapping = evidence.extra.get("pressure", {})
    histories = histories_from_frame(history)
    by_class = _counts_by_class(evicted, histories)
    notified, from_aof = evicted_ids(evidence, histories)
    all_evicted = notified | from_aof
    gone = {key for key, ops in histories.items() if gone_reads(ops)}
    present = evidence.survivors.loc[evidence.survivors["present"].astype(bool), "key"]
    counted, unseen = _unseen(evicted, facts.get("info_evicted_keys", {}))
    first = _first_pressure_ns(evicted, facts, history)
    run_s = (facts.get("other_stopped_ns", 0) - facts.get("other_started_ns", 0)) / 1e9
    return Eviction(
        maxmemory_policy=str(facts.get("maxmemory_policy", "")), other_data=str(facts.get("other_data", "")),
        maxmemory_bytes=int(facts.get("maxmemory_bytes", 0)), sessions_logged_in=logged_in(history),
        sessions_evicted=len(all_evicted),
        reads_session_gone=len(gone), reads_gone_unexplained=len(gone - all_evicted),
        logins_refused_oom=refused_logins(history), other_evicted=by_class[OTHER],
        other_writes=int(facts.get("other_writes", 0)), other_refused_oom=int(facts.get("other_refused_oom", 0)),
        other_ops_s=round(facts.get("other_writes", 0) / run_s, 1) if run_s > 0 else NAN,
        after_sessions_evicted=by_class[AFTER], evicted_returned=len(all_evicted & set(present.tolist())),
        evictions_notified=0 if evicted is None else len(evicted), evictions_counted=counted,
        evictions_unseen=unseen, evictions_from_aof=len(from_aof),
        memory_full_at_s=round((first - evidence.times.load_start_ns) / 1e9, 3) if first else NAN,
        used_memory_bytes=int(facts.get("used_memory_bytes", 0)),
        used_memory_peak_bytes=int(facts.get("used_memory_peak_bytes", 0)))


class EvictionChecker(Checker):
    name = "eviction"
    columns = Eviction

    def check(self, evidence: Evidence) -> Verdict:
        return Verdict(eviction_columns(evidence))


def without_evicted(evidence: Evidence) -> tuple[Evidence, list[int]]:
    """The evidence with the evicted sessions taken out (history and survivors), and their ids."""
    notified, from_aof = evicted_ids(evidence)
    evicted = sorted(notified | from_aof)
    if not evicted:
        return evidence, []
    history = evidence.history[~evidence.history["key"].isin(evicted)]
    survivors = evidence.survivors[~evidence.survivors["key"].isin(evicted)]
    return Evidence(history, survivors, evidence.times, evidence.ceiling_ops_s, evidence.extra, evidence.server), evicted


class DurabilityBesideEvictions(DurabilityChecker):
    """The durability checker on the sessions the server did not evict (same columns)."""

    name = "durability-evictions"

    def check(self, evidence: Evidence) -> Verdict:
        kept, evicted = without_evicted(evidence)
        verdict = super().check(kept)
        if evicted and verdict.per_key is not None:
            marked = pd.DataFrame({"key": pd.array(evicted, dtype="int64"), "status": "evicted"})
            per_key = pd.concat([verdict.per_key.astype({"status": str}), marked], ignore_index=True)
            verdict = Verdict(verdict.columns, per_key, verdict.files)
        return verdict
