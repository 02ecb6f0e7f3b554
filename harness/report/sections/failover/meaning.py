"""One plain sentence per measured case on what it means for a session store, from its numbers only.

Each sentence states the measured figures first, then the consequence a session store's users
meet; nothing is said that the row does not show.
"""

from __future__ import annotations

from harness import faults
from harness.report import fmt

CLIENT_WORDS = {"lookup": "clients that ask the Sentinels again when a connection fails (redis-py)",
                "subscribe": "clients that move on +switch-master (Jedis, Lettuce)"}
ERROR_WORDS = {"readonly_writes": "READONLY", "noreplicas_writes": "NOREPLICAS", "masterdown_writes": "MASTERDOWN",
               "loading_writes": "LOADING", "other_failed_writes": "other errors", "timeout_writes": "timeouts",
               "dropped_writes": "dropped connections", "unconfirmed_writes": "unconfirmed WAIT/WAITAOF"}


def _n(value: object) -> float:
    return 0.0 if fmt.is_missing(value) else float(value)  # type: ignore[arg-type]


def _errors(row) -> str:
    """The two commonest ways writes failed or ended unknown, with counts."""
    found = sorted(((_n(row.get(c)), w) for c, w in ERROR_WORDS.items() if _n(row.get(c)) > 0), reverse=True)[:2]
    return " and ".join(f"{fmt.count(n)} {w}" for n, w in found)


def _case(row) -> str:
    return (f"**{faults.info(row['fault']).label}, ack `{row['ack_mode']}`, {row['client_mode']} clients** "
            f"(`{row['config']}`)")


def _consequence(row) -> str:
    lost, after = _n(row.get("lost_sessions")), _n(row.get("acked_by_old_primary_after_promotion"))
    refused = _n(row.get("noreplicas_writes")) + _n(row.get("readonly_writes"))
    if lost and after:
        return ("users who logged in while the old primary still answered were told they were logged in, then "
                "lost their session without any error: the loss is silent")
    if lost:
        return "sessions acknowledged just before the fault were gone: those users were logged out"
    if refused:
        return "no acknowledged session was lost, but users whose login was refused saw an error instead"
    if faults.info(row["fault"]).target_role != "primary":
        return "the primary kept serving, and no user noticed"
    waited = row.get("failover_s")
    return (f"no user lost a session; the price was {fmt.seconds(waited)} s in which no login or refresh was "
            "acknowledged" if not fmt.is_missing(waited) else "no user lost a session")


def driver_sentence(row) -> str:
    parts = [f"{_case(row)}: {fmt.count(row.get('lost_sessions'))} acknowledged sessions lost"]
    if _n(row.get("acked_by_old_primary_after_promotion")):
        parts.append(f"the old primary acknowledged {fmt.count(row.get('acked_by_old_primary_after_promotion'))} "
                     f"writes for {fmt.seconds(row.get('split_brain_s'))} s after {row.get('winner') or 'a replica'} "
                     f"was promoted ({fmt.count(row.get('logins_lost_after_promotion'))} of those logins did not "
                     f"come back)")
    if not fmt.is_missing(row.get("failover_s")):
        parts.append(f"writes were acknowledged by the new primary {fmt.seconds(row.get('failover_s'))} s after "
                     f"the fault")
    elif _n(row.get("no_failover")):
        parts.append("no failover happened")
    errors = _errors(row)
    if errors:
        parts.append(f"clients saw {errors}")
    return "; ".join(parts) + f". For a session store: {_consequence(row)}."


def ack_sentence(row) -> str | None:
    share = fmt.percent_of(_n(row.get("throughput_ops_s")), _n(row.get("plain_ops_s")))
    if row["ack_mode"] == "plain" or share is None:
        return None
    return (f"`{row['ack_mode']}` ran at {fmt.rate(row.get('throughput_ops_s'))} ops/s, {share} of `plain` in this "
            f"run, with p99 {fmt.ms(row.get('p99_ms'))} ms: what every write pays, fault or not.")


def _plural(value: object, word: str) -> str:
    return f"{fmt.count(value)} {word}" + ("" if _n(value) == 1 else "s")


def app_sentence(row) -> str:
    who = ("redis-py as installed (`redis.Redis(host, port)`)" if row["app_client"] == "defaults"
           else "redis-py configured with care")
    situation = "a restart of the only server" if row["app_situation"] == "restart" else "a Sentinel failover"
    raised = _n(row.get("requests_raised"))
    consequence = ("users saw no error page" if not raised else
                   f"{_plural(raised, 'request')} showed users an error, at most "
                   f"{fmt.count(row.get('longest_failure_run'))} in a row, the last "
                   f"{fmt.seconds(row.get('last_failure_s'))} s after the fault")
    if _n(row.get("raised_in_last_s")):
        consequence += (f", and {_plural(row.get('raised_in_last_s'), 'request')} made in the load's last second "
                        f"still raised: it had not recovered ({fmt.text(row.get('raised_by_error')) or 'errors'})")
    return (f"**{who}, through {situation}**: {consequence}; "
            f"{_plural(row.get('wrongly_logged_out'), 'user')} told they were logged out while their session should "
            f"have existed; the first request succeeded {fmt.seconds(row.get('first_success_s'))} s after the fault.")


def client_sentences(summary) -> list[str]:
    """Where both client modes ran the same case: how much sooner `subscribe` left the old primary."""
    out = []
    for (fault, ack), group in summary.groupby(["fault", "ack_mode"], sort=False):
        modes = {str(r["client_mode"]): r for _, r in group.iterrows()}
        if "lookup" not in modes or "subscribe" not in modes:
            continue
        lookup, subscribe = modes["lookup"], modes["subscribe"]
        out.append(f"{faults.info(fault).label}, ack `{ack}`: the old primary acknowledged "
                   f"{fmt.count(lookup.get('acked_by_old_primary_after_promotion'))} writes after the promotion from "
                   f"clients that look the primary up again only when a connection fails, "
                   f"{fmt.count(subscribe.get('acked_by_old_primary_after_promotion'))} from clients that move on "
                   f"+switch-master; the new primary took their first write "
                   f"{fmt.seconds(lookup.get('failover_s'))} s and {fmt.seconds(subscribe.get('failover_s'))} s "
                   f"after the fault.")
    return out
