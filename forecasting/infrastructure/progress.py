"""Progress of long work: a small protocol the domain reports to, and its Rich bar for the terminal.

Domain code (the backtest, for one) takes a :class:`ProgressReporter` and never imports Rich; the
command line and the benchmarks pass :func:`progress_reporter`'s bar, tests pass ``False``.
"""

from __future__ import annotations

from typing import Protocol


class ProgressReporter(Protocol):
    """What long work reports: how many steps, what it is doing now, a finished step, a line to keep.

    The methods do nothing by default, so a reporter implements only what it shows.
    """

    def start(self, total: int) -> None:
        """Begin: ``total`` steps."""
        return None

    def update(self, description: str) -> None:
        """What is being done now (replaces the previous description)."""
        return None

    def advance(self) -> None:
        """One step done."""
        return None

    def note(self, line: str) -> None:
        """A line that stays on screen (e.g. what a finished step cost)."""
        return None

    def stop(self) -> None:
        """End (the bar disappears; the notes stay)."""
        return None


class SilentProgress(ProgressReporter):
    """Reports nowhere (the protocol's methods do nothing)."""


class RichProgress:
    """A transient Rich bar on the terminal: ``<label> <description> [bar] done/total elapsed``.

    Args:
        label: Bold prefix naming the work, e.g. ``"backtest"``.
    """

    def __init__(self, label: str) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn(f"[bold]{label}[/] {{task.description}}"), BarColumn(),
                             TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), transient=True)
        self._task = self._bar.add_task("", total=None)

    def start(self, total: int) -> None:
        """Show the bar with ``total`` steps."""
        self._bar.update(self._task, total=total)
        self._bar.start()

    def update(self, description: str) -> None:
        """Set the description."""
        self._bar.update(self._task, description=description)

    def advance(self) -> None:
        """One step done."""
        self._bar.advance(self._task)

    def note(self, line: str) -> None:
        """Print ``line`` above the bar."""
        self._bar.console.print(line, highlight=False)

    def stop(self) -> None:
        """Remove the bar."""
        self._bar.stop()


def progress_reporter(progress: bool | ProgressReporter, label: str) -> ProgressReporter:
    """``True``: a :class:`RichProgress` labelled ``label``; ``False``: silence; a reporter: itself."""
    if progress is True:
        return RichProgress(label)
    if progress is False:
        return SilentProgress()
    return progress
