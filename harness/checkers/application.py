"""The application checker: what the users of an application load went through (harness.workload.app).

From the application's own record of its requests, pure:
- `requests_raised`: requests that raised from the fault on (an error reply or a connection error /
  timeout): the user saw an error page;
- `wrongly_logged_out`: sessions the application had created (a login that returned) and not ended
  (no logout asked) for which a `GET` returned nothing: the user was told to log in again;
- `longest_failure_run`: the most requests in a row, in the order they ended (all threads), that
  raised; `longest_failure_s`: the longest time in which no request succeeded;
- `first_success_s`: from the fault taking effect to the first request that succeeded after it;
  `last_failure_s` to the last one that raised; `raised_in_last_s` counts the requests made in the
  load's last second that raised (not 0: the application had not recovered when the load stopped).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.checkers.base import Checker, Evidence, Verdict
from harness.record import NAN, Columns


@dataclass(frozen=True)
class Application(Columns):
    requests: int = 0
    requests_raised: int = 0  # from the fault on
    wrongly_logged_out: int = 0
    longest_failure_run: int = 0
    longest_failure_s: float = NAN
    first_success_s: float = NAN
    last_failure_s: float = NAN  # fault to the end of the last request that raised
    raised_in_last_s: int = 0  # requests made in the load's last second that raised: the application had not recovered
    raised_by_error: str = ""  # 'ConnectionError=120 ReadOnlyError=30'


def wrongly_logged_out(history: pd.DataFrame) -> int:
    """Sessions a GET found missing while the application believed them alive."""
    count = 0
    ordered = history.sort_values(["key", "start_ns"], kind="stable")
    for _, ops in ordered.groupby("key", sort=False):
        alive = False
        for kind, outcome, result in zip(ops["kind"], ops["outcome"], ops["result"]):
            if kind == "login" and outcome == "ok":
                alive = True
            elif kind == "logout":
                alive = False
            elif kind == "read" and outcome == "ok" and result == 0 and alive:
                count += 1
                alive = False  # the application logs the user out; a new login makes a new session
    return count


def longest_run(failed: np.ndarray) -> int:
    """The longest run of True in a boolean array."""
    best = run = 0
    for value in failed:
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def longest_gap_s(ok_end_ns: np.ndarray, start_ns: int, end_ns: int) -> float:
    """The longest time without a successful request between `start_ns` and `end_ns`."""
    points = np.concatenate([[start_ns], np.sort(ok_end_ns[(ok_end_ns >= start_ns) & (ok_end_ns <= end_ns)]), [end_ns]])
    return float(np.diff(points).max()) / 1e9 if len(points) > 1 else NAN


def application_columns(history: pd.DataFrame, fault_effect_ns: int) -> Application:
    if history.empty:
        return Application()
    by_end = history.sort_values("end_ns", kind="stable")
    after = by_end[by_end["end_ns"].to_numpy() >= fault_effect_ns]
    raised = after[after["outcome"] != "ok"]
    ok_ends = by_end.loc[by_end["outcome"] == "ok", "end_ns"].to_numpy()
    first = ok_ends[ok_ends > fault_effect_ns]
    errors = Counter(str(e).split(":", 1)[0] for e in raised["error"])
    end = int(by_end["end_ns"].max())
    return Application(
        requests=len(history), requests_raised=len(raised), wrongly_logged_out=wrongly_logged_out(history),
        longest_failure_run=longest_run((after["outcome"] != "ok").to_numpy()),
        longest_failure_s=round(longest_gap_s(ok_ends, fault_effect_ns, end), 3),
        first_success_s=round((int(first.min()) - fault_effect_ns) / 1e9, 3) if len(first) else NAN,
        last_failure_s=round((int(raised["end_ns"].max()) - fault_effect_ns) / 1e9, 3) if len(raised) else NAN,
        raised_in_last_s=int((raised["start_ns"].to_numpy() > end - 1_000_000_000).sum()),
        raised_by_error=" ".join(f"{name}={n}" for name, n in errors.most_common()))


class ApplicationChecker(Checker):
    name = "application"
    columns = Application

    def check(self, evidence: Evidence) -> Verdict:
        times = evidence.times
        return Verdict(application_columns(evidence.history, times.fault_effect_ns or times.fault_ns))
