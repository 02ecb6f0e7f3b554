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


def _fault_step(fault_names: list[str]) -> str:
    """When and how the fault strikes, in each fault's own words."""
    when = "At a random moment in the second half of the load (so the load is in full swing), "
    after = " Clients see their connections drop; requests in flight end with an unknown outcome."
    found = [fault_info(f) for f in fault_names]
    how = " ".join(dict.fromkeys(f.description for f in found))
    if any(not f.stops_server or "+" in f.name for f in found):
        after += (" A disk fault leaves the server running: the load goes on while it acts (its `watch_s`), the "
                  "server's INFO is read before and after, then the fault is lifted (space back, errors cleared, "
                  "stalls released); a sequence crashes the server `delay_s` after its disk fault. Whatever stops "
                  "the server switches the load to new sessions at that moment.")
    return when + ("inject the fault. " if len(fault_names) == 1 else "inject the trial's fault. ") + how + after


def method(environment: dict, faults: list[str], duration_s: object = None, concurrency: object = None,
           ceiling: bool = True) -> Method:
    """The Method section. `faults`: the faults this run used (registry names); `ceiling`:
    whether its trials measured redis-benchmark's ceiling (results from before it did not)."""
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
        share = f" of {fmt.count(requests)} requests" if requests is not None else " of the requests"
        steps.append(
            "Measure the server's ceiling with `redis-benchmark` on the same server, at the same concurrency"
            + (f" ({workers} clients)" if workers else "") + ": the four commands of the mix (`SET ... EX`, `GET`, "
            f"`EXPIRE`, `DEL`) run one after another, each for its mix-weighted share{share}, combined as total "
            "requests / total time (what a client issuing the mix at each command's own speed would reach).")
    steps += [
        "Write the baseline sessions and make them durable the way the config allows: wait for a finished "
        "`BGSAVE` when the config has RDB, a finished `BGREWRITEAOF` when it has AOF (with no persistence, "
        "nothing is durable).",
        f"Run the session load {load_for}{with_workers}: login = `SET session:<id> <json> EX <ttl>`, "
        "read = `GET`, refresh = `EXPIRE`, logout = `DEL`. Each session belongs to one client, so every "
        "session's operations are sequential, and every operation is recorded with its start time, end time "
        "and outcome (the history).",
        _fault_step(faults),
        "Restart the server (if the fault stopped it) on the same data directory with the same config; the time "
        "until it answers again (data loaded) is the recovery time. Clients reconnect and log in new users "
        "(phase `after`), which "
        "shows the outage from a client's side in the charts."
        + (" If the server will not start on what survived (it refuses a damaged file), the restart has failed: "
           "every session the history says should exist is counted as lost, and recovery time and downtime are "
           "not measured." if power else ""),
        "Read back every session the history touched and compare each with what its acknowledged "
        "operations allow (the checker). Throughput and latency are of acknowledged operations in the load "
        "phase before the fault.",
    ]
    categories = [
        ("lost", "the history says the session exists (an acknowledged login or refresh, with no acknowledged "
                 "logout or expiry to explain its absence), but none came back. *Lost writes* counts the "
                 "acknowledged writes after the last surviving point of each key's history."),
        ("resurrected", "the history says the user logged out (an acknowledged `DEL`), yet the session came back: "
                        "a logged-out user is logged in again, a **security problem**."),
        ("stale refresh", "the right session came back, but with an expiry earlier than an acknowledged refresh "
                          "had set."),
        ("old value", "an older session document came back: a later acknowledged login was lost."),
        ("corrupt", "a value never written for that key, or an expiry no request could have set."),
        ("unknown outcome", "a request that got no reply (timeout, dropped connection) may or may not have "
                            "happened; the checker accepts both, so it is never counted as loss."),
        ("loss window", "from the oldest lost acknowledged write to the fault: how far back the loss reaches."),
    ]
    return Method(steps, categories, _measures(workers, connections, ceiling, power))


def _measures(workers: str | None, connections: str | None, ceiling: bool, power: bool) -> list[tuple[str, str]]:
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
        measures.append(
            ("driver/ceiling", "the trial's throughput divided by its redis-benchmark ceiling; below "
                               f"{fmt.ratio(DRIVER_LIMITED_BELOW)}, the load generator rather than the server was "
                               f"the limit. A ratio above 1 is not an error: the driver pipelines the requests of "
                               f"{users}, while redis-benchmark sends one request at a time per connection, without "
                               "pipelining."))
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
