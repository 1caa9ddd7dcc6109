"""Progress reporting and cancellation for long operations.

Long functions take ``progress`` (called as ``progress(fraction_0_to_1, message)``) and
``should_cancel`` (called with no argument, returns True to stop). Both are optional, plain
callables, so the CLI can pass a text progress bar and Slicer a progress dialog.
"""
from __future__ import annotations

from typing import Callable, Optional

from .errors import OperationCancelled

ProgressCallback = Optional[Callable[[float, str], None]]
CancelCallback = Optional[Callable[[], bool]]


def report(progress: ProgressCallback, fraction: float, message: str) -> None:
    """Call ``progress`` if given, with the fraction clipped to [0, 1]."""
    if progress is not None:
        progress(min(max(float(fraction), 0.0), 1.0), message)


def check_cancel(should_cancel: CancelCallback) -> None:
    """Raise OperationCancelled if the user asked to stop."""
    if should_cancel is not None and should_cancel():
        raise OperationCancelled("Cancelled by the user.")


def scaled(progress: ProgressCallback, start: float, stop: float) -> ProgressCallback:
    """A progress callback mapping [0, 1] of a sub-task onto [start, stop] of the whole task."""
    if progress is None:
        return None
    return lambda fraction, message: progress(start + (stop - start) * fraction, message)


class TextProgressBar:
    """A one-line progress bar with ETA for terminals (used by the CLI as a ``progress`` callback)."""

    #: the stream whose last line is a progress bar not yet finished (see end_progress_line)
    unfinished = None

    def __init__(self, stream=None, width: int = 30):
        import sys
        import time

        self._stream = stream if stream is not None else sys.stderr
        self._width = width
        self._clock = time.monotonic
        self._start = self._clock()

    def __call__(self, fraction: float, message: str) -> None:
        elapsed = self._clock() - self._start
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        filled = int(round(self._width * fraction))
        eta_text = f"ETA {eta:5.0f} s" if eta == eta else "ETA   ?  "
        line = f"\r[{'#' * filled}{'.' * (self._width - filled)}] {fraction * 100:5.1f}% {eta_text} {message[:60]:<60}"
        self._stream.write(line)
        TextProgressBar.unfinished = self._stream
        if fraction >= 1.0:
            end_progress_line()
        self._stream.flush()


def end_progress_line() -> None:
    """End an unfinished progress-bar line, so that a message printed next starts on a line of its own."""
    stream, TextProgressBar.unfinished = TextProgressBar.unfinished, None
    if stream is not None:
        stream.write("\n")
        stream.flush()
