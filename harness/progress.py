"""Telling the user what a long run is doing: trial x of y, and the step inside the trial."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RunUI(Protocol):
    def echo(self, message: str) -> None: ...
    def begin(self, total_trials: int) -> None: ...
    def trial(self, number: int, trial_id: str) -> None: ...
    def step(self, text: str) -> None: ...
    def trial_done(self, line: str) -> None: ...
    def end(self) -> None: ...


class PlainUI:
    """Line-by-line progress, for logs, CI and tests (no terminal control codes)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.total = 0
        self.current = ""

    def _say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def echo(self, message: str) -> None:
        self._say(message)

    def begin(self, total_trials: int) -> None:
        self.total = total_trials

    def trial(self, number: int, trial_id: str) -> None:
        self.current = f"[trial {number}/{self.total}] {trial_id}"
        self._say(self.current)

    def step(self, text: str) -> None:
        self._say(f"  {text}")

    def trial_done(self, line: str) -> None:
        self._say(f"  {line}")

    def end(self) -> None:
        pass


class RichUI:
    """A progress bar with the current trial and step, when stderr is a terminal."""

    def __init__(self) -> None:
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]trial"), MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
            TextColumn("{task.description}"), console=self.console, transient=False,
        )
        self.task = None
        self.trial_id = ""

    def echo(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    def begin(self, total_trials: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("starting", total=total_trials)

    def trial(self, number: int, trial_id: str) -> None:
        self.trial_id = trial_id
        self.progress.update(self.task, description=f"{trial_id}")

    def step(self, text: str) -> None:
        self.progress.update(self.task, description=f"{self.trial_id}: {text}")

    def trial_done(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False)
        self.progress.advance(self.task)

    def end(self) -> None:
        self.progress.stop()


def make_ui(plain: bool | None = None) -> RunUI:
    if plain is None:
        plain = not sys.stderr.isatty()
    return PlainUI() if plain else RichUI()


class EchoUI:
    """run_plan's progress (harness.progress.RunUI), every line through one `echo` (click.echo, a test's list)."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        self.echo = self.step = self.trial_done = echo  # each point says what it does, in its own lines

    def begin(self, total_trials: int) -> None:
        pass

    def trial(self, number: int, trial_id: str) -> None:
        pass

    def end(self) -> None:
        pass
