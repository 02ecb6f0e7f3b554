"""A section per fault: what the server did, what its clients saw, what was lost or served corrupt,
and one plain sentence per config of what that means for a session store.

Pure: the typed trials frame in, sections out. Every number is a median (or a count of trials)
of the trials' own columns, written by `fmt` as the tables write it; the sentence's verdict is a
rule over those numbers, stated in `meaning()`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from harness import faults
from harness.report import fmt
from harness.report.section import Bullets, Paragraphs, Section
from harness.report.tables import Column, formatted, free_text, table_of

STALL_NOTICED_S = 1.0  # a wait for an acknowledgement longer than this is one a user notices
MAX_QUOTE = 120
CHECKSUMS = ("How the server checks what it loads (from the source, src/rdb.c and src/aof.c): an RDB file "
             "(`dump.rdb`, or an AOF base file with the RDB preamble) ends in a CRC64 that the server verifies on "
             "load when `rdbchecksum` is on, the default (\"Wrong RDB checksum ... Aborting now\"; its parser may "
             "refuse a flip first: \"Invalid LZF compressed string\"); an AOF incr file "
             "has no checksum at all: its commands are replayed as they are, so a flipped bit inside a value is "
             "served, and one in the protocol's framing stops the load (\"Bad file format\").")


def _median(group: pd.DataFrame, column: str) -> float:
    return float(pd.to_numeric(group[column], errors="coerce").median()) if column in group else float("nan")


def _trials_over(group: pd.DataFrame, column: str) -> int:
    """Trials with a positive count in `column`."""
    return int((pd.to_numeric(group[column], errors="coerce") > 0).sum())


def _quote(text: object) -> str:
    words = fmt.text(text) or ""
    return words if len(words) <= MAX_QUOTE else words[:MAX_QUOTE - 1] + "…"


@dataclass(frozen=True)
class Outcome:
    """One (config, fault) of the run, as the sentence reads it."""

    config: str
    fault: str
    trials: int
    reactions: Counter  # server_reaction -> trials
    words: str  # the server's own words: its exit line or the restart error, first seen
    misconf: float  # median error replies by prefix
    loading: float
    other_errors: float
    longest_stall_s: float
    fault_ops_s: float
    unknown: float  # median operations sent that got no reply
    lost_sessions: float
    lost_writes: float
    lost_max: float
    lost_writes_max: float
    trials_with_loss: int  # trials that lost an acknowledged write
    corrupt: float
    corrupt_max: float
    trials_with_corrupt: int
    loss_window_s: float
    flips_checksummed: float
    flipped_bits: float
    save_running: int  # trials whose crash found the save still running
    delayed_fsync: float

    @classmethod
    def of(cls, config: str, fault: str, group: pd.DataFrame) -> "Outcome":
        words = next((t for c in ("exit_line", "restart_error") for t in map(fmt.text, group.get(c, [])) if t), "")
        errors = ["errors_oom", "errors_readonly", "errors_other"]
        return cls(config, fault, len(group), Counter(fmt.text(r) or "" for r in group["server_reaction"]), words,
                   _median(group, "errors_misconf"), _median(group, "errors_loading"),
                   float(sum(_median(group, c) for c in errors)),
                   _median(group, "longest_stall_s"), _median(group, "fault_ops_s"), _median(group, "unknown_ops"),
                   _median(group, "lost_sessions"),
                   _median(group, "lost_writes"), float(group["lost_sessions"].max()),
                   float(group["lost_writes"].max()),
                   _trials_over(group, "lost_writes"), _median(group, "corrupt_values"),
                   float(group["corrupt_values"].max()), _trials_over(group, "corrupt_values"),
                   _median(group, "loss_window_s"),
                   _median(group, "flips_checksummed"), _median(group, "flipped_bits"),
                   int(group.get("save_running_at_crash", pd.Series(dtype=bool)).map(fmt.truthy).sum()),
                   _median(group, "aof_delayed_fsync"))

    def most(self) -> str:
        return self.reactions.most_common(1)[0][0] if self.reactions else ""


def _n(value: float, one: str, many: str) -> str:
    return f"{fmt.count(value)} {one if value == 1 else many}"


def _server_did(o: Outcome) -> str:
    parts = []
    phrases = {"exited": "exited on its own", "refused-writes": "kept running but refused writes",
               "kept-serving": "kept serving", "refused-to-start": "would not start again on what survived",
               "restarted": "started again on what survived"}
    for reaction, count in o.reactions.most_common():
        share = "" if count == o.trials else f" in {count} of {o.trials} trials"
        parts.append(phrases.get(reaction, reaction or "(not recorded)") + share)
    said = f" (\"{_quote(o.words)}\")" if o.words else ""
    return "the server " + ", ".join(parts) + said


def _clients_saw(o: Outcome) -> str:
    seen = []
    if o.misconf > 0:
        seen.append(f"a median of {fmt.count(o.misconf)} `MISCONF` errors")
    if o.loading > 0:
        seen.append(f"{_n(o.loading, '`LOADING` reply', '`LOADING` replies')} while it loaded its files")
    if o.other_errors > 0:
        seen.append(_n(o.other_errors, "other error reply", "other error replies"))
    if not fmt.is_missing(o.longest_stall_s):
        seen.append(f"waits of up to {fmt.seconds(o.longest_stall_s)} s for an acknowledgement")
    if o.delayed_fsync > 0:
        seen.append(f"{fmt.count(o.delayed_fsync)} AOF writes the server forced past a running fsync "
                    "(`aof_delayed_fsync`)")
    return ("clients got " + ", ".join(seen)) if seen else ""


def _in(count: int, trials: int) -> str:
    return "" if count == trials else f" in {count} of {trials} trials"


def _lost(o: Outcome) -> str:
    if o.trials_with_loss == 0:
        lost = "no acknowledged write was lost"
    elif o.trials_with_loss * 2 > o.trials:  # most trials lost: the median says it
        lost = (f"it lost a median of {_n(o.lost_sessions, 'session', 'sessions')} "
                f"({_n(o.lost_writes, 'acknowledged write', 'acknowledged writes')}, reaching back "
                f"{fmt.seconds(o.loss_window_s)} s){_in(o.trials_with_loss, o.trials)}")
    else:
        lost = (f"it lost acknowledged writes{_in(o.trials_with_loss, o.trials)} (at most "
                f"{_n(o.lost_writes_max, 'write', 'writes')}, {_n(o.lost_max, 'session', 'sessions')})")
    if o.trials_with_corrupt:
        lost += (f", and served corrupt values{_in(o.trials_with_corrupt, o.trials)} (up to "
                 f"{fmt.count(o.corrupt_max)})")
    return lost


def meaning(o: Outcome) -> str:
    """The plain verdict for a session store, by rule over the measured numbers."""
    reaction, lost = o.most(), o.lost_max > 0 or o.lost_writes > 0
    if o.corrupt_max > 0:
        return "users can be handed session documents that were never written: nothing on the AOF path catches it"
    if reaction == "refused-to-start":
        return ("the store stays down until someone repairs or restores its files; every session is unavailable "
                "until then")
    if reaction == "exited":
        return ("the store goes down at the first disk error rather than acknowledge what it cannot keep: an outage, "
                + ("and logins were lost as well" if lost else "not lost logins"))
    if reaction == "refused-writes":
        return ("logins, refreshes and logouts fail while reads go on: users see errors or get logged out, "
                + ("and some acknowledged logins were lost too" if lost else "but nothing acknowledged is lost"))
    if lost:
        return "acknowledged logins were lost although the server answered as if all was well: silent loss"
    if not fmt.is_missing(o.longest_stall_s) and o.longest_stall_s > STALL_NOTICED_S:
        return "the disk's trouble reached users as stalled requests, not as lost sessions"
    return "nothing a user would notice"


def sentence(o: Outcome) -> str:
    facts = "; ".join(p for p in (_server_did(o), _clients_saw(o), _lost(o)) if p)
    extra = f" The save was still running at the crash in {o.save_running} of {o.trials} trials." \
        if o.save_running or "crash-mid-save" in o.fault else ""
    return f"**{o.config}**: {facts}.{extra} For a session store: {meaning(o)}."


def _columns() -> list[Column]:
    return [
        Column("Config", formatted("config", fmt.plain), numeric=False),
        Column("Trials", lambda r: fmt.count(r["trials"])),
        Column("Server did", formatted("did", fmt.plain), numeric=False),
        Column("Its words", formatted("words", free_text), numeric=False),
        Column("MISCONF", formatted("misconf", fmt.count)),
        Column("LOADING", formatted("loading", fmt.count)),
        Column("Other errors", formatted("other_errors", fmt.count)),
        Column("Ops/s under the fault", formatted("fault_ops_s", fmt.rate)),
        Column("Longest wait (s)", formatted("longest_stall_s", fmt.seconds)),
        Column("Unknown ops", formatted("unknown", fmt.count)),
        Column("Lost sessions", formatted("lost_sessions", fmt.count)),
        Column("Lost writes", formatted("lost_writes", fmt.count)),
        Column("Corrupt", formatted("corrupt", fmt.count)),
        Column("Loss window (s)", formatted("loss_window_s", fmt.seconds)),
        Column("Bits flipped", formatted("flipped_bits", fmt.count)),
        Column("In RDB files", formatted("flips_checksummed", fmt.count)),
    ]


def _row(o: Outcome) -> dict:
    did = ", ".join(f"{r} {n}/{o.trials}" for r, n in o.reactions.most_common())
    return {**o.__dict__, "did": did, "words": _quote(o.words)}


def fault_section(fault: str, outcomes: list[Outcome]) -> Section:
    found = faults.info(fault)
    intro = found.description + (f" It stands for {found.meaning}." if getattr(found, "meaning", "") else "")
    blocks = [Paragraphs([intro]), table_of(_columns(), pd.DataFrame([_row(o) for o in outcomes])),
              Bullets([sentence(o) for o in outcomes], spaced=True)]
    if fault.partition(":")[0] == "bitflip":
        blocks.insert(1, Paragraphs([CHECKSUMS], "note"))
    return Section(f"{found.label} (`{fault}`)", blocks, anchor=f"fault-{_anchor(fault)}")


def _anchor(fault: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in fault).strip("-")


def fault_sections(trials: pd.DataFrame) -> list[Section]:
    """One section per fault of the run, gentlest first, a row and a sentence per config."""
    if trials.empty or "server_reaction" not in trials or not trials["server_reaction"].map(fmt.text).any():
        return []  # a run from before the reaction checker
    sections = []
    for fault in faults.order(trials["fault"]):
        group = trials[trials["fault"].astype(str) == fault]
        outcomes = [Outcome.of(str(config), fault, part) for config, part in group.groupby("config", sort=False)]
        sections.append(fault_section(fault, outcomes))
    return sections
