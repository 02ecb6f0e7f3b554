"""How a trial runs and what the checker's categories mean, for the report's Method section.

Written once as text with inline Markdown (`code`, **bold**): the Markdown report uses it
as is and the HTML report converts those two marks after escaping.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.report import fmt


@dataclass(frozen=True)
class Method:
    steps: list[str]
    categories: list[tuple[str, str]]  # (name, meaning)


def _value(environment: dict, trials_value: object, *keys: str) -> str | None:
    for key in keys:
        value = environment.get(key)
        if value is None and isinstance(environment.get("workload"), dict):
            value = environment["workload"].get(key)
        if not fmt.is_missing(value):
            return fmt.plain(value)
    return None if fmt.is_missing(trials_value) else fmt.plain(trials_value)


def method(environment: dict, duration_s: object = None, concurrency: object = None) -> Method:
    duration = _value(environment, duration_s, "duration_s")
    workers = _value(environment, concurrency, "concurrency")
    load_for = f"for {duration} seconds" if duration else "for the configured duration"
    with_workers = f" from {workers} concurrent clients" if workers else " from concurrent clients"
    steps = [
        "Start the server with the config under test (`configs/<config>.conf`, shown below) on an empty data "
        "directory.",
        "Write the baseline sessions and make them durable the way the config allows: wait for a finished "
        "`BGSAVE` when the config has RDB, a finished `BGREWRITEAOF` when it has AOF (with no persistence, "
        "nothing is durable).",
        f"Run the session load {load_for}{with_workers}: login = `SET session:<id> <json> EX <ttl>`, "
        "read = `GET`, refresh = `EXPIRE`, logout = `DEL`. Each session belongs to one client, so every "
        "session's operations are sequential, and every operation is recorded with its start time, end time "
        "and outcome (the history).",
        "At a random moment in the second half of the load (so the load is in full swing), send `SIGKILL` "
        "to the server (kill -9). Clients see their connections drop; requests in flight end with an unknown "
        "outcome.",
        "Restart the server on the same data directory with the same config; the time until it answers again "
        "(data loaded) is the recovery time. Clients reconnect and log in new users (phase `after`), which "
        "shows the outage from a client's side in the latency chart.",
        "Read back every session the history touched and compare each with what its acknowledged "
        "operations allow (the checker). Throughput and latency are of acknowledged operations in the load "
        "phase before the kill.",
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
        ("loss window", "from the oldest lost acknowledged write to the kill: how far back the loss reaches."),
    ]
    return Method(steps, categories)
