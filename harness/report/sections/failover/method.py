"""The failover part's method and caveats, from what the trials recorded (and environment.json)."""

from __future__ import annotations

import pandas as pd

from harness import faults
from harness.report import fmt
from harness.report.sections.failover.summary import app_trials, driver_trials
from harness.topology.sentinel_setup import PRODUCTION_DOWN_AFTER_MS, PRODUCTION_FAILOVER_TIMEOUT_MS

MEASURES = [
    ("failover", "from the fault to the first write the new primary acknowledged, as the load saw it"),
    ("acked by old primary after promotion", "writes the old primary acknowledged after the leader Sentinel sent "
     "`REPLICAOF NO ONE` to the replica it chose (its `+failover-state-wait-promotion` event): they exist on the old "
     "primary only, and go when it resyncs as a replica; *of those logins lost* is how many of those sessions did "
     "not come back; *split brain* is how long after the promotion the last of them was acknowledged"),
    ("lost sessions, lost writes, resurrected", "the durability checker's verdicts on every session, read back from "
     "the primary the Sentinels name once the old primary rejoined as a replica and caught up"),
    ("downtime", "the longest a client waited for any acknowledgement around the promotion (a stalled primary that "
     "wakes up answers its clients: their wait ends, though what it acknowledges is lost)"),
    ("errors", "writes from the fault on that failed (the error reply's first word: `READONLY`, `NOREPLICAS`, "
     "`MASTERDOWN`, `LOADING`) or ended unknown (a timeout, a dropped connection, a WAIT / WAITAOF that did not "
     "confirm in time); *refused connects* counts connection attempts to a server that was down (the load retries "
     "every 10 ms); *failed lookups* the lookups that found no primary (redis-py: `MasterNotFoundError`)"),
    ("lag at fault", "the primary's replication offset minus the best replica's, read just before the fault "
     "(replica first, so an upper bound)"),
    ("throughput, latency", "the load before the fault, so each ack mode's cost is measured without the outage"),
]


def _distinct(trials: pd.DataFrame, column: str) -> list[str]:
    return [fmt.plain(v) for v in dict.fromkeys(trials[column].dropna().tolist()) if str(v) not in ("", "nan")]


def settings_sentence(trials: pd.DataFrame) -> str:
    driver = driver_trials(trials)
    replicas = ", ".join(_distinct(driver, "replicas")) or "1"
    down = ", ".join(_distinct(driver, "down_after_ms")) or fmt.DASH
    timeout = ", ".join(_distinct(driver, "failover_timeout_ms")) or fmt.DASH
    return (f"A primary, {replicas} replica(s) and three Sentinels (quorum 2), each its own process on 127.0.0.1; "
            f"every data server runs the persistence config unchanged. Sentinel `down-after-milliseconds` {down} ms "
            f"(the production default is {PRODUCTION_DOWN_AFTER_MS:,} ms: there, a failover starts 30 s after the "
            f"primary stopped answering, and every figure that depends on it here, failover time, downtime and the "
            f"writes refused or lost while Sentinels wait, grows with it), `failover-timeout` {timeout} ms "
            f"(default {PRODUCTION_FAILOVER_TIMEOUT_MS:,}), `repl-diskless-sync-delay 0` so a rejoining server "
            f"syncs at once.")


def steps(trials: pd.DataFrame) -> list[str]:
    fault_names = faults.order(_distinct(driver_trials(trials), "fault"))
    return [
        settings_sentence(trials),
        "Ready: every replica online with its offset caught up, and every Sentinel naming the primary, knowing "
        "every replica and both other Sentinels.",
        "Baseline sessions logged in, persisted as the config allows, replicated; then the session load, sent to "
        "the primary the Sentinels name. `lookup` clients (as redis-py's `Sentinel.master_for`) ask the Sentinels "
        "again (`SENTINEL MASTERS`, the first that names a primary not down) whenever a connection drops, times out "
        "or answers `READONLY`; `subscribe` clients (as Jedis and Lettuce) listen to every Sentinel's "
        "`+switch-master` and move at once. Every operation records the port of the server that answered it.",
        "Ack modes: `plain`, the reply; `wait`, `WAIT 1 <ms>` after each write (acknowledged only if a replica "
        "received it; a timeout is an unknown outcome); `waitaof`, `WAITAOF 1 1 <ms>`; `min-replicas`, every data "
        "server with `min-replicas-to-write 1` (refusals are failed writes, `NOREPLICAS`).",
        "At a random moment, the fault: " + "; ".join(faults.info(f).description.rstrip(". ") for f in fault_names)
        + ". From the moment it took effect, users log in new sessions on checked keys, whichever server "
        "acknowledges them.",
        "Wait until every Sentinel names a new primary; a killed primary is then restarted on its data and made a "
        "replica (`REPLICAOF`), a stalled or cut-off one is left for a Sentinel to demote; the load goes on until "
        "then, and a moment more.",
        "Load stopped, every data server caught up; every session read back from the primary the Sentinels name "
        "and judged by the same checker as the crash matrix.",
    ]


def app_method(trials: pd.DataFrame) -> list[str]:
    apps = app_trials(trials)
    if apps.empty:
        return []
    versions = ", ".join(_distinct(apps, "redis_py")) or fmt.DASH
    defaults = ", ".join(_distinct(apps[apps["app_client"] == "defaults"], "app_client_settings")) or fmt.DASH
    careful = _distinct(apps[(apps["app_client"] == "careful") & (apps["app_situation"] == "restart")],
                        "app_client_settings")
    careful_text = ", ".join(careful) if careful else fmt.DASH
    threads = ", ".join(_distinct(apps, "app_threads"))
    rate = ", ".join(_distinct(apps, "app_rate_per_thread"))
    return [f"The application load is redis-py {versions}, one client (and its connection pool) shared by "
            f"{threads} threads, each serving its own users at {rate} requests/s: a login is `SET session:<id> "
            f"<json> EX <ttl>`, every other request a `GET`, 5% a `DEL` (logout). Through a restart (one server, "
            f"kill -9, down a while, restarted on its data) and a failover (kill -9 of the primary). `defaults`: "
            f"`redis.Redis(host, port)` (pointed at the primary: the advice's code knows no Sentinel), which in "
            f"redis-py {versions} means {defaults}. `careful`: {careful_text}; through the failover, Sentinel-aware "
            f"(`Sentinel(...).master_for`) with the same settings."]


def caveats(trials: pd.DataFrame, environment: dict) -> list[str]:
    notes = list((environment.get("scenarios", {}).get("failover") or {}).get("notes") or [])
    driver = driver_trials(trials)
    out = [*notes,
           "Sentinel demotes a primary that comes back (after a stall or a partition) no sooner than 8 s after it "
           "sees it reporting itself primary again (four times its 2 s hello period, in `sentinelRefreshInstanceInfo`), "
           "about 10 s in these trials: clients that re-resolve only on errors write to it all that time. After a kill -9 the harness restarted the old primary and made it a replica at "
           "once, as an operator or a start script that asks the Sentinels first would; left to itself, Sentinel "
           "would have waited as long.",
           "The load runs as fast as the servers answer, so counts of lost writes scale with its throughput; the "
           "split-brain seconds say how long, whatever the rate.",
           "Everything runs on one machine over loopback: replication lag is what loopback allows (a fraction of a "
           "millisecond), so a crash of the primary loses less here than across a network, where lag is larger."]
    confirming = driver[driver["ack_mode"].isin(["wait", "waitaof"])]
    if len(confirming) and (pd.to_numeric(confirming["replicas"], errors="coerce") == 1).any():
        out.append("With one replica, once it is promoted no replica is left until the old primary rejoins: `WAIT 1` "
                   "and `WAITAOF 1 1` time out on every write the new primary takes meanwhile (unconfirmed, not "
                   "lost), so with those modes the failover lasts until the rejoin; more replicas shorten it.")
    lags = [float(v) for v in driver["min_replicas_max_lag_s"].dropna() if float(v) > 0]
    downs = [float(v) for v in driver["down_after_ms"].dropna() if float(v) > 0]
    if "min-replicas" in set(driver["ack_mode"].dropna()) and lags and downs and max(lags) * 1000 > min(downs):
        out.append(f"`min-replicas-max-lag` was {fmt.plain(max(lags))} s, longer than `down-after-milliseconds` "
                   f"({fmt.plain(min(downs))} ms): a primary cut off from its replicas goes on acknowledging for that "
                   f"long, while the Sentinels already promote another server.")
    if not app_trials(trials).empty:
        out.append("The application load's requests go through redis-py, which hides which server answered: its "
                   "history records no server, and a request it retried is recorded once, as its last attempt ended.")
    return out
