"""The one exception type the CLI turns into a one-line message and a non-zero exit."""

from __future__ import annotations


class HarnessError(Exception):
    """A problem the user can act on: bad input, a missing image, a busy port, Docker down.

    The message is one line that names what went wrong and where; the CLI prints it as is.
    """


class ServerExited(HarnessError):
    """The server process or container ended on its own (before it was ready, or crashed)."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


class ServerNotReady(HarnessError):
    """The server did not answer PING with loading:0 in time."""
