"""A progress line for long commands (``batch``, ``diff``) on a terminal: counts only, never case data.

The line is redrawn in place (a carriage return) at most :data:`INTERVAL` seconds apart and holds the
command's label, the number of rows done, a bar and percentage when the share done is known,
and the rate. It is written only when enabled (by default: when the stream is a terminal).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

#: The shortest time between two redraws, in seconds (at most ten a second).
INTERVAL = 0.1
_WIDTH = 24


class Progress:
    """A progress line on ``stream`` (usually standard error); silent unless ``enabled``.

    ``done(rows, share)`` reports the rows done so far and, when known, the share of the work
    done (0 to 1, or a function returning it). ``note(text)`` prints a line of its own above the
    progress line; ``close()`` clears the line. ``clock`` is for tests.
    """

    def __init__(
        self,
        label: str,
        stream: TextIO,
        *,
        enabled: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream
        self.enabled = enabled
        self.clock = clock
        self.start = clock()
        self._last: float | None = None
        self._shown = 0
        self.rows = 0

    def done(self, rows: int, share: float | Callable[[], float | None] | None = None) -> None:
        """``rows`` rows are done (and ``share`` of the work, if known); redraw if it is time to.

        ``share`` may be a function, called only when the line is redrawn.
        """
        self.rows = rows
        if not self.enabled:
            return
        now = self.clock()
        if self._last is not None and now - self._last < INTERVAL:
            return
        self._last = now
        self._draw(self._text(rows, share() if callable(share) else share, now))

    def _text(self, rows: int, share: float | None, now: float) -> str:
        elapsed = now - self.start
        rate = f" · {rows / elapsed:,.0f}/s" if elapsed > 0 and rows else ""
        if share is None:
            return f"{self.label}: {rows:,} rows{rate}"
        share = min(max(share, 0.0), 1.0)
        filled = round(share * _WIDTH)
        bar = "#" * filled + "-" * (_WIDTH - filled)
        return f"{self.label}: [{bar}] {share:4.0%} · {rows:,} rows{rate}"

    def _draw(self, text: str) -> None:
        padding = " " * max(self._shown - len(text), 0)
        self.stream.write("\r" + text + padding)
        self.stream.flush()
        self._shown = len(text)

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0

    def note(self, text: str) -> None:
        """Print ``text`` on a line of its own (above the progress line, which is redrawn later)."""
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last = None

    def close(self) -> None:
        """Clear the progress line."""
        if self.enabled:
            self._clear()
            self.stream.flush()

    def seconds(self) -> float:
        """Seconds since the progress began."""
        return self.clock() - self.start
