"""What bounded each trial's loss (the bound checker's columns), and a sentence for every trial whose
loss is not what its config's name suggests: `aof-no` losing only the last fraction of a second
because a rewrite had just run, `everysec` losing more than a second behind a stalled fsync,
kill -9 losing acknowledged writes at all.

Pure: the typed trials frame and the configs' texts in, a section out. What a name "suggests" is
the folklore the field notes quote (redis.io, redis.conf), applied to the fault's kind:
    appendfsync always       nothing
    appendfsync everysec     a power loss: up to one second; a process crash: nothing (redis.conf:
                             "a single write" at most)
    appendfsync no           a power loss: up to the kernel's 30 s writeback; a process crash: nothing
    RDB only, or nothing     no claim in seconds ("since the last save"): no sentence
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness import faults
from harness.configs import persistence_of
from harness.report import fmt
from harness.report.section import Bullets, Paragraphs, Section
from harness.report.tables import Column, formatted, free_text, table_of

SLACK_S = 0.05  # a window this much past the promise still counts as kept (clock reads, a loop turn)
KERNEL_WRITEBACK_S = 30.0
INTRO = ("What made data durable last before each crash, read from the server's log and INFO and from powerfs's "
         "own count of fsyncs, not from the config's name: `durable by` is the event, `before crash` how old the "
         "data it kept was when the server stopped, beside the loss window the checker measured. Under `everysec` "
         "the background fsync is queued when the server's whole-second clock ticks over, so a power cut loses "
         "about what was acknowledged since the last tick: `crash in second` is that position.")


@dataclass(frozen=True)
class Promise:
    window_s: float  # the most the name suggests can be lost, in seconds
    words: str


def promise(config_text: str | None, cuts_power: bool) -> Promise | None:
    if not config_text:
        return None
    kept = persistence_of(config_text)
    if not kept.aof:
        return None
    if kept.appendfsync == "always":
        return Promise(0.0, "`appendfsync always` suggests nothing is lost")
    if not cuts_power:
        return Promise(0.0, "a process crash with the AOF on suggests nothing is lost (redis.conf: at most a "
                            "single write)")
    if kept.appendfsync == "everysec":
        return Promise(1.0, "`everysec` suggests at most one second is lost")
    return Promise(KERNEL_WRITEBACK_S, "`appendfsync no` suggests up to the kernel's 30-second writeback is lost")


def reason(row: pd.Series) -> str:
    """Why the loss was what it was, from the bound checker's and the faults' columns."""
    by, before = str(row.get("durable_by") or ""), row.get("durable_before_crash_s")
    flipped = row.get("flipped_bits", 0)
    if not fmt.is_missing(flipped) and flipped > 0:
        bits = "bit" if flipped == 1 else "bits"
        return (f"{fmt.count(flipped)} {bits} flipped at rest changed what the files said (nothing checks an AOF "
                "incr file, so a changed key or value loads as it is)")
    stalled = row.get("stalled_fsyncs", 0)
    stalled = 0 if fmt.is_missing(stalled) else stalled
    buffer = row.get("aof_buffer_bytes_at_crash", -1)
    if by == "page-cache":
        held = f" ({fmt.count(buffer)} bytes still in its AOF buffer at the crash)" if not fmt.is_missing(buffer) \
            and buffer > 0 else ""
        why = "its AOF write was postponed behind a stalled fsync" if stalled else "it had not yet written them"
        return f"the writes never reached the file: {why}{held}"
    if by == "aof-fsync" and not fmt.is_missing(before) and before < 0:
        return (f"a stalled fsync completed {fmt.seconds(-before)} s after the crash was ordered (the process could "
                "not die before it returned), and what it covered was all that was durable")
    if by == "aof-fsync":
        text = f"the last fsync that completed was {fmt.seconds(before)} s before the crash"
        return text + (" (the next one was stalled and never finished)" if stalled else "")
    if by == "aof-rewrite-start":
        return (f"an AOF rewrite ({row.get('durable_source') or 'unknown origin'}) started {fmt.seconds(before)} s "
                "before the crash, and starting one fsyncs the file it replaces")
    if by == "bgsave":
        return f"the last finished BGSAVE forked {fmt.seconds(before)} s before the crash"
    if by == "every-write":
        return "every acknowledged write was fsynced before its reply, yet some did not come back"
    return f"what bounded it was not recorded (`{by or 'unknown'}`)"


def surprise(row: pd.Series, config_texts: dict) -> str | None:
    """A sentence when this trial's loss differs from what its config's name suggests, else None."""
    if fmt.truthy(row.get("restart_failed")) or str(row.get("durable_by")) == "running":
        return None
    found = promise(config_texts.get(str(row["config"])), bool(faults.info(str(row["fault"])).cuts_power))
    lost, window = row.get("lost_writes", 0), row.get("loss_window_s", 0.0)
    if found is None or fmt.is_missing(lost):
        return None
    window = 0.0 if fmt.is_missing(window) else float(window)
    more = lost > 0 and window > found.window_s + SLACK_S
    less = found.window_s >= KERNEL_WRITEBACK_S and window < found.window_s / 2
    if not (more or less):
        return None
    writes = "acknowledged write" if lost == 1 else "acknowledged writes"
    measured = (f"it lost {fmt.count(lost)} {writes} reaching back {fmt.seconds(window)} s"
                if lost > 0 else "it lost nothing")
    return (f"`{row['trial_id']}`: {found.words}; {measured}, {'more' if more else 'less'} than that, because "
            f"{reason(row)}.")


def _columns() -> list[Column]:
    return [
        Column("Trial", formatted("trial_id", fmt.plain), numeric=False),
        Column("Lost writes", formatted("lost_writes", fmt.count)),
        Column("Loss window (s)", formatted("loss_window_s", fmt.seconds)),
        Column("Durable by", formatted("durable_by", free_text), numeric=False),
        Column("Started by", formatted("durable_source", free_text), numeric=False),
        Column("Before crash (s)", formatted("durable_before_crash_s", fmt.seconds)),
        Column("Last fsync before crash (s)", formatted("last_fsync_before_crash_s", fmt.seconds)),
        Column("Last save before crash (s)", formatted("last_save_before_crash_s", fmt.seconds)),
        Column("Crash in second", formatted("crash_in_second", fmt.ratio)),
        Column("AOF buffer at crash (B)", lambda r: fmt.count(r.get("aof_buffer_bytes_at_crash"))
               if not fmt.is_missing(r.get("aof_buffer_bytes_at_crash")) and r.get("aof_buffer_bytes_at_crash") >= 0
               else fmt.DASH),
        Column("Automatic saves", formatted("automatic_saves", fmt.count)),
    ]


def loss_bound_section(trials: pd.DataFrame, config_texts: dict) -> Section | None:
    by = trials["durable_by"].map(lambda v: fmt.text(v) or "") if "durable_by" in trials else pd.Series(dtype=str)
    if trials.empty or not by.astype(bool).any():
        return None  # a run from before the bound checker
    stopped = trials[by != "running"]
    sentences = [s for s in (surprise(row, config_texts) for _, row in stopped.iterrows()) if s]
    blocks = [Paragraphs([INTRO], "note"), table_of(_columns(), stopped)]
    blocks.append(Bullets(sentences, spaced=True) if sentences else
                  Paragraphs(["Every trial lost what its config's name suggests (or less where no claim is made)."]))
    return Section("What bounded the loss", blocks, anchor="loss-bound")
