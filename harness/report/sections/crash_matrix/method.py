"""How a trial runs and what the checker's categories mean, for the report's Method section.

Written once as text with inline Markdown (`code`, **bold**): the Markdown report uses it
as is and the HTML report converts those two marks after escaping.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.faults import info as fault_info
from harness.latency import SIGNIFICANT_DIGITS
from harness.report import fmt
from harness.report.sections.crash_matrix.driver import DRIVER_LIMITED_BELOW


@dataclass(frozen=True)
class Method:
    steps: list[str]
    categories: list[tuple[str, str]]  # (name, meaning)
    measures: list[tuple[str, str]] = field(default_factory=list)  # (figure, how it was measured)


def _value(environment: dict, trials_value: object, *keys: str) -> str | None:
    for key in keys:
        value = environment.get(key)
        if value is None and isinstance(environment.get("workload"), dict):
            value = environment["workload"].get(key)
        if not fmt.is_missing(value):
            return fmt.plain(value)
    return None if fmt.is_missing(trials_value) else fmt.plain(trials_value)


# The checker's words, per session (harness/checkers/durability.py).
CATEGORIES = [
    ("lost", "the history says the session exists (an acknowledged login or refresh, with no acknowledged "
             "logout or expiry to explain its absence), but none came back. *Lost writes* counts the "
             "acknowledged writes that changed something (a login, a refresh that applied, a logout that "
             "deleted) after the last surviving point of each session's history."),
    ("resurrected", "the user logged out (an acknowledged `DEL` deleted the session, or the replies prove an "
                    "unanswered one did), yet the session came back: a logged-out user is logged in again, a "
                    "**security problem**."),
    ("stale refresh", "the right session came back, but with the expiry of an earlier write: an acknowledged "
                      "refresh was lost."),
    ("old value", "an older session document came back: a later acknowledged login on that key was lost."),
    ("corrupt", "a value never written for that key, or an expiry no request could have set: no prefix of "
                "its history explains it (it adds nothing to lost writes or the loss window)."),
    ("phantom", "a session that came back although no write in the history could have created it."),
    ("evidence", "every reply is evidence: a `GET` that hit (with the value read) or missed, an `EXPIRE` "
                 "that applied or found nothing, a `DEL` that deleted or found nothing says what the session "
                 "was when it ran, and so how an earlier unanswered request turned out. A history whose "
                 "replies cannot all be true is counted as a *contradiction*, not judged."),
    ("unknown outcome", "a request that got no reply (timeout, dropped connection) may or may not have "
                        "happened; the checker keeps both unless a later reply decides, and never counts it "
                        "as loss."),
    ("one cut", "an AOF is one log and an RDB one snapshot, so what survives must be the state at one moment "
                "for every session at once; when no moment explains every survivor, the trial has *holes*: "
                "lost acknowledged writes older than a write kept on another session."),
    ("loss window", "from the moment the cut lies at to the fault, as a bracket when the cut can lie "
                    "anywhere between the last write kept and the first write lost: how far back the loss "
                    "reaches."),
]


def _fault_step(fault_names: list[str]) -> str:
    """When and how the fault strikes, in each fault's own words."""
    when = "At a random moment in the second half of the load (so the load is in full swing), "
    after = (" Clients see their connections drop; requests in flight end with an unknown outcome. Users move "
             "to new sessions only once the server has stopped (its process gone): every write the old server "
             "acknowledged until then is checked (*acked after fault* counts those it acknowledged after the "
             "fault was issued).")
    found = [fault_info(f) for f in fault_names]
    how = " ".join(dict.fromkeys(f.description for f in found))
    if any(not f.stops_server or "+" in f.name for f in found):
        after += (" A disk fault leaves the server running: the load goes on while it acts (its `watch_s`), the "
                  "server's INFO is read before and after, then the fault is lifted (space back, errors cleared, "
                  "stalls released); a sequence crashes the server `delay_s` after its disk fault.")
    return when + ("inject the fault. " if len(fault_names) == 1 else "inject the trial's fault. ") + how + after


def _ceiling_step(workers: str | None, requests: float | None, shape: tuple[int, int, int] | None) -> str:
    share = f" of {fmt.count(requests)} requests" if requests is not None else " of the requests"
    mix = (": the four commands of the mix (`SET ... EX`, `GET`, `EXPIRE`, `DEL`) run one after another, each for "
           f"its mix-weighted share{share}, combined as total requests / total time (what a client issuing the mix "
           "at each command's own speed would reach).")
    if shape is None:  # results from before the ceiling took the driver's shape
        return ("Measure the server's ceiling with `redis-benchmark` on the same server, at the same concurrency"
                + (f" ({workers} clients, one connection each, no pipelining)" if workers else "") + mix)
    connections, depth, deep = shape
    return (f"Measure the server's ceiling with `redis-benchmark` on the same server, at the driver's own shape "
            f"(`-c {connections} -P {depth}`: {connections} connections, {depth} requests in flight on each, as the "
            f"driver's clients are spread over its connections), and its saturation with a deep pipeline on the "
            f"same connections (`-c {connections} -P {deep}`, with more requests)" + mix)


def method(environment: dict, faults: list[str], duration_s: object = None, concurrency: object = None,
           ceiling: bool = True, shape: tuple[int, int, int] | None = None) -> Method:
    """The Method section. `faults`: the faults this run used (registry names); `ceiling`:
    whether its trials measured redis-benchmark's ceiling (results from before it did not);
    `shape`: the ceiling's connections and pipeline depth and the saturation's depth (None: the
    trials predate them, and the ceiling had one connection per client)."""
    power = any(fault_info(f).cuts_power for f in faults)
    duration = _value(environment, duration_s, "duration_s")
    workers = _value(environment, concurrency, "concurrency")
    connections = _value(environment, None, "connections")
    requests = environment.get("ceiling_requests")
    requests = requests if isinstance(requests, (int, float)) and not fmt.is_missing(requests) else None
    load_for = f"for {duration} seconds" if duration else "for the configured duration"
    with_workers = f" from {workers} concurrent clients" if workers else " from concurrent clients"
    if workers and connections:
        with_workers += f" sharing {connections} connections (each client one request at a time, pipelined)"
    steps = [
        "Start the server with the config under test (`configs/<config>.conf`, shown below) on an empty data "
        "directory" + (" (for a fault that cuts the power, on the simulated filesystem)." if power else "."),
    ]
    if ceiling:
        steps.append(_ceiling_step(workers, requests, shape))
    steps += [
        "Write the baseline sessions and make them durable the way the config allows: wait for a finished "
        "`BGSAVE` when the config has RDB, a finished `BGREWRITEAOF` when it has AOF (with no persistence, "
        "nothing is durable).",
        f"Run the session load {load_for}{with_workers}: login = `SET session:<id> <json> EX <ttl>`, "
        "read = `GET`, refresh = `EXPIRE`, logout = `DEL`, as an application makes sessions: each login creates "
        "a new session id (never reused), reads and refreshes go to that user's live sessions, a logout deletes "
        "one. Each user belongs to one client, so every session's operations are sequential, and every "
        "operation is recorded with its start time, end time, outcome and reply (the history).",
        _fault_step(faults),
        "Restart the server (if the fault stopped it) on the same data directory with the same config; the time "
        "until it answers again (data loaded) is the recovery time. Clients reconnect and log in new users "
        "(phase `after`), which "
        "shows the outage from a client's side in the charts."
        + (" If the server will not start on what survived (it refuses a damaged file), the restart has failed: "
           "every session the history says should exist is counted as lost, and recovery time and downtime are "
           "not measured." if power else ""),
        "Read back every session the server holds (`SCAN`, then `GET` and `PEXPIRETIME`) and compare each "
        "session the history made, and any it did not, with what its operations and their replies allow (the "
        "checker). Throughput and latency are of acknowledged operations in the load phase before the fault.",
    ]
    return Method(steps, CATEGORIES, _measures(workers, connections, ceiling, power, shape is not None))


def _ratio_measures(users: str, shaped: bool) -> list[tuple[str, str]]:
    limited = (f"the trial's throughput divided by its redis-benchmark ceiling; below {fmt.ratio(DRIVER_LIMITED_BELOW)}, "
               "the load generator rather than the server was the limit.")
    if not shaped:
        return [("driver/ceiling", limited + f" A ratio above 1 is not an error here: the driver pipelines the "
                                             f"requests of {users}, while this run's redis-benchmark sent one "
                                             "request at a time per connection, without pipelining.")]
    return [("driver/ceiling", limited + " The ceiling has the driver's shape (its connections, as many requests in "
                                         "flight on each), so both asked the server for the same thing."),
            ("ceiling/saturation", "the ceiling divided by the same server's rate with a deep pipeline: how close a "
                                   "client of the driver's shape can come to what the server itself can do; well "
                                   "below 1, the server had capacity the load's shape did not reach.")]


def _measures(workers: str | None, connections: str | None, ceiling: bool, power: bool,
              shaped: bool = False) -> list[tuple[str, str]]:
    measures = [
        ("throughput", "acknowledged operations of the load phase that completed before the fault, divided by the "
                       "time from load start to the fault."),
        ("latency", f"p50, p95, p99, p99.9 and max of those operations, read from an HdrHistogram (microseconds, "
                    f"{SIGNIFICANT_DIGITS} significant digits), stored per trial as `histograms/<trial>.hdr` "
                    "(base64, readable by any HdrHistogram tool)."),
    ]
    if ceiling:
        users = (f"{workers} simulated users over {connections} connections" if workers and connections
                 else "the simulated users over a few connections")
        measures += _ratio_measures(users, shaped)
    measures += [
        ("recovery time", "from the restart call until the server answers `PING` with its data loaded."),
        ("downtime", "what a client saw: from the last operation acknowledged before the fault to the first one "
                     "acknowledged after the restart (detection, restart, data load and reconnection together); not "
                     "measured when the server never came back."),
    ]
    if power:
        measures.append(("unsynced bytes at cut", "bytes the server had written but not fsynced when the power was "
                                                  "cut: what the cut could take away (only part of it may have "
                                                  "mattered to the sessions)."))
    return measures
