"""The plain recommendation for a session store, drawn only from the summary's numbers.

Pure: summary in, sentences out. Every number written is one of the summary's values,
formatted by `fmt` exactly as the tables format it (the one derived figure is a percentage
of the fastest config's throughput). Each sentence names the fault it is about, because a
config that survives a process crash may not survive a power loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness import faults
from harness.report import fmt
from harness.report.sections.crash_matrix.driver import is_driver_limited

# The longest server complaint quoted in a sentence; the full line is in the trials table.
MAX_ERROR_CHARS = 160


@dataclass(frozen=True)
class Measured:
    """One summary row, as the recommendation reads it (NaN where not measured)."""

    server: str
    config: str
    fault: str
    trials: int
    lost: float
    lost_min: float
    lost_max: float
    trials_without_loss: float
    resurrected: float
    resurrected_max: float
    corrupt: float
    corrupt_max: float
    throughput: float
    throughput_min: float
    throughput_max: float
    restart_failed: int  # trials whose server would not start on what survived
    restart_error: str | None
    driver_ratio: float  # median throughput / redis-benchmark ceiling; NaN: no ceiling
    aof_truncated: int  # trials that started only by cutting a torn AOF tail
    metadata_dropped: float  # median namespace changes a strict-mode cut dropped; NaN: the fault has no such count
    metadata_dropped_detail: str | None
    phantom: float = 0.0  # sessions present that no write created (median, max)
    phantom_max: float = 0.0
    cut_inconsistent: int = 0  # trials whose survivors no single moment explains
    holes_max: float = 0.0

    @classmethod
    def of(cls, row: pd.Series) -> Measured:
        """A row of `summary_table`, whose every column is there (NaN where not measured)."""
        return cls(
            server=str(row["server"]), config=str(row["config"]), fault=str(row["fault"]), trials=int(row["trials"]),
            lost=row["lost_sessions"], lost_min=row["lost_sessions_min"], lost_max=row["lost_sessions_max"],
            trials_without_loss=row["trials_without_loss"], resurrected=row["resurrected_sessions"],
            resurrected_max=row["resurrected_sessions_max"], corrupt=row["corrupt_values"],
            corrupt_max=row["corrupt_values_max"], throughput=row["throughput_ops_s"],
            throughput_min=row["throughput_ops_s_min"], throughput_max=row["throughput_ops_s_max"],
            restart_failed=row["restart_failed"], restart_error=fmt.text(row["restart_error"]),
            driver_ratio=row["driver_ceiling_ratio"], aof_truncated=row["aof_truncated"],
            metadata_dropped=row["metadata_dropped"], metadata_dropped_detail=fmt.text(row["metadata_dropped_detail"]),
            phantom=row["phantom_sessions"], phantom_max=row["phantom_sessions_max"],
            cut_inconsistent=row["cut_inconsistent"], holes_max=row["holes_max"],
        )

    @property
    def keeps_everything(self) -> bool:
        """Lost nothing, resurrected nothing, corrupted nothing, and restarted, in every trial (NaN
        never qualifies)."""
        return (self.lost_max == 0 and self.resurrected_max == 0 and self.corrupt_max == 0
                and not self.phantom_max > 0 and not self.failed_to_restart)

    @property
    def failed_to_restart(self) -> bool:
        return self.restart_failed > 0

    @property
    def has_throughput(self) -> bool:
        return not fmt.is_missing(self.throughput)


def _restarts(m: Measured) -> str:
    return f"failed to restart in {fmt.of(m.restart_failed, m.trials)} trials"


def _what_it_lost(m: Measured, restarts: bool = True) -> str:
    if fmt.is_missing(m.lost):
        lost = "had no measured count of lost sessions"
    elif m.trials > 1 and m.lost_min != m.lost_max:
        lost = (f"lost a median of {fmt.count(m.lost)} acknowledged sessions, "
                f"{fmt.count(m.lost_min)}{fmt.DASH}{fmt.count(m.lost_max)} over {m.trials} trials")
    elif m.trials > 1:
        lost = f"lost {fmt.count(m.lost)} acknowledged sessions in each of {m.trials} trials"
    else:
        lost = f"lost {fmt.count(m.lost)} acknowledged sessions"
    # A failed restart counts every session as lost: say why the count is what it is.
    return f"{lost}, and {_restarts(m)}" if restarts and m.failed_to_restart else lost


def _fastest(results: list[Measured]) -> Measured | None:
    timed = [m for m in results if m.has_throughput]
    # max() keeps the first of equals: ties go to the config the run listed first.
    return max(timed, key=lambda m: m.throughput) if timed else None


def _recommend(results: list[Measured], phrase: str, fastest: Measured | None) -> list[str]:
    zero_loss = [m for m in results if m.keeps_everything]
    best = max(zero_loss, key=lambda m: m.throughput if m.has_throughput else float("-inf"))
    sentence = (f"For a session store that must keep every acknowledged login through {phrase}, use "
                f"`{best.config}`: it lost 0 acknowledged sessions in {best.trials} of {best.trials} trials")
    if not best.has_throughput:
        return [sentence + " (its throughput was not measured)."]
    speed = f"{fmt.rate(best.throughput)} ops/s"
    if len(results) == 1:
        return [sentence + f" and ran at {speed} (the only config measured under this fault)."]
    if fastest is None or fastest.config == best.config or fastest.throughput == best.throughput:
        return [sentence + f" and was also the fastest config measured under this fault, at {speed}."]
    share = fmt.percent_of(best.throughput, fastest.throughput)
    sentences = [sentence + f" and ran at {speed}, {share} of the fastest config "
                            f"(`{fastest.config}`, which {_what_it_lost(fastest)})."]
    if best.trials > 1 and fastest.trials > 1 and _overlaps(best, fastest):
        # The price of durability may not even be measurable here; say so rather than imply it is.
        sentences.append(f"Under {phrase}, the throughput ranges of `{best.config}` ({_range(best)}) and "
                         f"`{fastest.config}` ({_range(fastest)}) overlap: in this run the speed given up for "
                         f"keeping every session is within measurement noise.")
    return sentences


def _none_qualifies(results: list[Measured], phrase: str, fastest: Measured | None) -> list[str]:
    counted = [m for m in results if not fmt.is_missing(m.lost)]
    if not counted:
        return [f"Under {phrase}, no config has a measured count of lost sessions, so nothing can be recommended."]
    fewest = min(counted, key=lambda m: (m.lost, m.lost_max, -m.throughput if m.has_throughput else 0.0))
    if fewest.lost_max > 0:
        how = f"it {_what_it_lost(fewest, restarts=False)}"
        # Only worth saying when some trials lost nothing: "5 in each of 3 trials" already says it.
        if fewest.trials > 1 and not fmt.is_missing(fewest.trials_without_loss) and fewest.trials_without_loss > 0:
            how += f", with no loss in {fmt.count(fewest.trials_without_loss)} of {fewest.trials} trials"
        if fewest.failed_to_restart:
            how += f", and {_restarts(fewest)}"
    else:
        how = f"it lost 0 acknowledged sessions in {fewest.trials} of {fewest.trials} trials"
    extra = []
    if fewest.resurrected_max > 0:
        extra.append(f"resurrected logged-out sessions (up to {fmt.count(fewest.resurrected_max)} in a trial)")
    if fewest.corrupt_max > 0:
        extra.append(f"returned corrupt values (up to {fmt.count(fewest.corrupt_max)} in a trial)")
    unrecorded = [what for what, value in (("resurrected", fewest.resurrected_max), ("corrupt", fewest.corrupt_max))
                  if fmt.is_missing(value)]
    if unrecorded:
        # Not measured is not zero: say why a loss-free config was still not recommended.
        extra.append(f"has no recorded count of {' or '.join(unrecorded)} sessions")
    if fewest.failed_to_restart and fewest.lost_max == 0:
        extra.append(_restarts(fewest))  # otherwise _what_it_lost already said it
    if extra:
        how += " but " + " and ".join(extra)
    restarting = " or failing to restart" if any(m.failed_to_restart for m in results) else ""
    sentences = [f"Under {phrase}, no config kept every acknowledged session in every trial without resurrecting "
                 f"or corrupting any{restarting}, so none can be recommended for a session store that must keep "
                 f"every login; the one with the fewest lost sessions was `{fewest.config}`: {how}."]
    if fastest is not None:
        if fastest.config == fewest.config:
            sentences.append(f"`{fastest.config}` was also the fastest config under {phrase}, "
                             f"at {fmt.rate(fastest.throughput)} ops/s.")
        else:
            sentences.append(f"The fastest config under {phrase} was `{fastest.config}` at "
                             f"{fmt.rate(fastest.throughput)} ops/s, which {_what_it_lost(fastest)}.")
    return sentences


def _overlaps(a: Measured, b: Measured) -> bool:
    bounds = (a.throughput_min, a.throughput_max, b.throughput_min, b.throughput_max)
    if any(fmt.is_missing(v) for v in bounds):
        return False
    return a.throughput_min <= b.throughput_max and b.throughput_min <= a.throughput_max


def _range(m: Measured) -> str:
    return f"{fmt.rate(m.throughput_min)}{fmt.DASH}{fmt.rate(m.throughput_max)} ops/s"


def _noise(results: list[Measured], phrase: str) -> list[str]:
    """Zero-loss configs whose speed cannot be told apart here: the reader may pick either."""
    zero_loss = [m for m in results if m.keeps_everything and m.has_throughput]
    if len(zero_loss) < 2:
        return []
    best = max(zero_loss, key=lambda m: m.throughput)
    others = [m for m in zero_loss if m is not best]
    if best.trials > 1:
        close = [m for m in others if m.trials > 1 and _overlaps(best, m)]
        if not close:
            return []
        names = ", ".join(f"`{m.config}` ({_range(m)})" for m in close)
        pick = "either" if len(close) == 1 else "any of them"
        return [f"Under {phrase}, `{best.config}` ({_range(best)}) and {names} all kept every acknowledged "
                f"session and their throughput ranges overlap: the difference is within measurement noise, "
                f"so {pick} is a sound choice."]
    # One trial has no range: say so instead of pretending a single difference is real.
    names = ", ".join(f"`{m.config}` ({fmt.rate(m.throughput)} ops/s)" for m in others)
    return [f"Under {phrase}, `{best.config}` ({fmt.rate(best.throughput)} ops/s) and {names} all kept every "
            f"acknowledged session; with one trial each their throughput difference cannot be told apart "
            f"from noise, so rerun with more trials before choosing between them on speed."]


def _security(results: list[Measured], phrase: str) -> list[str]:
    offenders = [m for m in results if m.resurrected_max > 0]
    if not offenders:
        return []
    names = "; ".join(f"`{m.config}` (median {fmt.count(m.resurrected)}, up to {fmt.count(m.resurrected_max)} "
                      f"in a trial)" for m in offenders)
    return [f"**Security problem** under {phrase}: {names} resurrected logged-out sessions, so a user who had "
            f"logged out was logged in again after the restart; do not use "
            f"{'these configs' if len(offenders) > 1 else 'it'} where a logout must stick."]


def _offenders(results: list[Measured], count: str) -> str:
    """The configs whose trials counted any of `count` (a Measured field with its `_max`), with
    their median and worst trial; "" when none did."""
    return "; ".join(f"`{m.config}` (median {fmt.count(getattr(m, count))}, up to "
                     f"{fmt.count(getattr(m, count + '_max'))} in a trial)"
                     for m in results if getattr(m, count + "_max") > 0)


def _corruption(results: list[Measured], phrase: str) -> list[str]:
    names = _offenders(results, "corrupt")
    if not names:
        return []
    return [f"Under {phrase}, {names} returned corrupt sessions: a value no request wrote for that key, "
            f"or an expiry no request could have set."]


def _phantoms(results: list[Measured], phrase: str) -> list[str]:
    names = _offenders(results, "phantom")
    if not names:
        return []
    return [f"Under {phrase}, {names} served sessions that no login created (phantoms): the server came back "
            f"with session keys the history cannot explain."]


def _holes(results: list[Measured], phrase: str) -> list[str]:
    """A log keeps a prefix of time: survivors that no single moment explains are a finding."""
    return [f"Under {phrase}, what `{m.config}` kept in {fmt.of(m.cut_inconsistent, m.trials)} trials is not the "
            f"state of one moment: an acknowledged write was lost while a later one on another session survived "
            f"(up to {fmt.count(m.holes_max)} such writes in a trial), so the files were not a clean prefix of "
            f"what it acknowledged." for m in results if m.cut_inconsistent > 0]


def _quoted_error(text: str) -> str:
    """A log line fit for inline code: no backticks to end it early, and not a whole paragraph."""
    text = " ".join(text.replace("`", "'").split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1].rstrip() + "…"


def _restart_failures(results: list[Measured], phrase: str) -> list[str]:
    """A server that will not start is its own outcome: nothing is lost quietly, everything is unavailable."""
    sentences = []
    for m in results:
        if not m.failed_to_restart:
            continue
        why = (f"the server refused what survived: `{_quoted_error(m.restart_error)}`" if m.restart_error
               else "the server would not start on what survived")
        all_trials = m.restart_failed == m.trials
        sentences.append(
            f"Under {phrase}, `{m.config}` {_restarts(m)} ({why}): **the session store was down**, every "
            f"session unavailable, so {'those trials count' if not all_trials else 'every trial counts'} all of "
            f"its sessions as lost.")
    return sentences


def _truncated_starts(results: list[Measured], phrase: str) -> list[str]:
    """Starts that worked only because the server cut an incomplete AOF tail (a write interrupted by
    kill -9, or torn by a power cut): said, not hidden in 'ok'."""
    sentences = []
    for m in results:
        if m.aof_truncated <= 0:
            continue
        sentences.append(
            f"Under {phrase}, `{m.config}` started in {fmt.of(m.aof_truncated, m.trials)} trials only after "
            f"truncating an incomplete command at the end of its AOF (`aof-load-truncated yes`); the losses "
            f"above are counted on what remained after that cut.")
    return sentences


def _dropped_metadata(results: list[Measured], phrase: str) -> list[str]:
    """Strict metadata: what the server never made durable in its directories is a finding about it."""
    sentences = []
    for m in results:
        if fmt.is_missing(m.metadata_dropped) or m.metadata_dropped <= 0:
            continue
        example = f" (for example: `{_quoted_error(m.metadata_dropped_detail)}`)" if m.metadata_dropped_detail else ""
        sentences.append(
            f"Under {phrase} with strict metadata, the cut dropped a median of {fmt.count(m.metadata_dropped)} "
            f"namespace changes of `{m.config}` whose directory had not been fsynced{example}: names the server "
            f"created, renamed or removed without making them durable.")
    return sentences


def _driver_limited(results: list[Measured], phrase: str) -> list[str]:
    """Speed comparisons against a config the load generator held back compare the generator."""
    limited = [m for m in results if is_driver_limited(m.driver_ratio)]
    if not limited:
        return []
    # The ratio as the driver table writes it, so the reader finds the same figure there.
    shares = [f"`{m.config}` ({fmt.ratio(m.driver_ratio)}" for m in limited]
    shares[0] += " of the redis-benchmark ceiling on the same server"
    names = ", ".join(share + ")" for share in shares)
    one = len(limited) == 1
    return [f"Under {phrase}, the load generator, not the server, limited the throughput of {names}: "
            f"{'its figure understates' if one else 'their figures understate'} what the server can do, so "
            f"speed comparisons with {'it' if one else 'them'} are not comparisons of the server."]


def _about(results: list[Measured], phrase: str) -> list[str]:
    """Every sentence about one group of rows (one fault, on one server)."""
    fastest = _fastest(results)
    if any(m.keeps_everything for m in results):
        sentences = _recommend(results, phrase, fastest) + _noise(results, phrase)
    else:
        sentences = _none_qualifies(results, phrase, fastest)
    for say in (_restart_failures, _truncated_starts, _dropped_metadata, _security, _corruption, _phantoms, _holes,
                _driver_limited):
        sentences += say(results, phrase)
    return sentences


def _scope(fault_names: list[str]) -> list[str]:
    """When no measured fault cut the power: a recommendation read alone would favour configs that
    never fsync, so say what these faults leave out."""
    measured = [faults.info(f) for f in fault_names]
    if not measured or any(f.cuts_power for f in measured):
        return []
    phrases = [f.phrase for f in measured]
    which = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    it = "it" if len(phrases) == 1 else "them"
    return [f"Only {which} {'was' if len(phrases) == 1 else 'were'} measured here: the operating system and its "
            f"page cache survived {it}, so these results do not say what a power loss or a kernel crash would lose, "
            f"which is where the `appendfsync` settings differ."]


def recommendation(summary: pd.DataFrame) -> list[str]:
    """Sentences for the reader, one group per server and fault in the summary: servers as first seen,
    and per server the gentlest fault first (each fault's `order`), so each group reads as a harsher
    test than the last. A server is named only when the run measured several."""
    if summary is None or summary.empty:
        return ["No trials were recorded in this run, so there is nothing to recommend."]
    results = [Measured.of(row) for _, row in summary.iterrows()]
    servers = list(dict.fromkeys(m.server for m in results))
    fault_names = faults.order(m.fault for m in results)
    sentences: list[str] = []
    for server in servers:
        for fault in fault_names:
            group = [m for m in results if m.server == server and m.fault == fault]
            on = f" on `{server}`" if len(servers) > 1 else ""
            sentences += _about(group, faults.info(fault).phrase + on) if group else []
    return sentences + _scope(fault_names)
