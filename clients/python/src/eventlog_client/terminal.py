"""What the CLI draws: progress with rate and ETA (rich's when installed), bar charts, tables
and levels in colour (on a terminal, unless NO_COLOR is set)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

LEVEL_COLOURS = {
    "DEBUG": "\x1b[2m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;31m",
}
RESET = "\x1b[0m"
EIGHTHS = " ▏▎▍▌▋▊▉"


def colours_on(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


def coloured_level(level: str, on: bool) -> str:
    text = f"{level:<8}"
    return f"{LEVEL_COLOURS.get(level, '')}{text}{RESET}" if on else text


def bar(value: float, largest: float, width: int = 40) -> str:
    """A horizontal bar, in eighths of a character."""
    if largest <= 0:
        return ""
    eighths = round(width * 8 * value / largest)
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


def bar_chart(rows: list[tuple[str, int]], width: int = 40) -> str:
    largest = max((count for _, count in rows), default=0)
    label_width = max((len(label) for label, _ in rows), default=0)
    count_width = len(f"{largest:,}")
    return "\n".join(
        f"{label:<{label_width}} {count:>{count_width},} {bar(count, largest, width)}"
        for label, count in rows
    )


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [
        [("" if row.get(column) is None else str(row.get(column))) for column in columns]
        for row in rows
    ]
    widths = [
        max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)
    ]
    lines = ["  ".join(column.upper().ljust(widths[i]) for i, column in enumerate(columns))]
    lines += ["  ".join(value.ljust(widths[i]) for i, value in enumerate(line)) for line in cells]
    return "\n".join(line.rstrip() for line in lines)


def duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Progress on stderr: done/total units (bytes of a file, say), items per second and the
    time left. On a terminal it redraws one line (rich's bar when rich is installed);
    elsewhere it prints a line every `every` seconds."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "events",
        stream: TextIO | None = None,
        every: float = 5.0,
    ):
        stream = stream or sys.stderr
        self.label, self.total, self.unit, self.stream = label, total, unit, stream
        self.every = every if not stream.isatty() else 0.2
        self.done = self.items = 0
        self.first_done = self.first_items = 0  # where a resumed run started
        self.started = time.monotonic()
        self._shown = 0.0
        self._rich: Any = _rich_progress(stream, label, total) if stream.isatty() else None

    def resume_at(self, done: int, items: int) -> None:
        self.done = self.first_done = done
        self.items = self.first_items = items

    def update(self, done: int, items: int) -> None:
        self.done, self.items = done, items
        if self._rich is not None:
            progress, task = self._rich
            progress.update(
                task, completed=done, description=f"{self.label} {self.rate():,.0f} {self.unit}/s"
            )
            return
        now = time.monotonic()
        if now - self._shown >= self.every:
            self._shown = now
            end = "\r" if self.stream.isatty() else "\n"
            self.stream.write(self.line() + end)
            self.stream.flush()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return (self.items - self.first_items) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        text = (
            f"{self.label}: {self.items:,} {self.unit}, {self.rate():,.0f}/s, {duration(elapsed)}"
        )
        if self.total:
            share = min(1.0, self.done / self.total)
            speed = (self.done - self.first_done) / elapsed if elapsed > 0 else 0
            left = (self.total - self.done) / speed if speed > 0 else 0
            text += f", {share:6.1%}, ETA {duration(left)}"
        return text

    def finish(self) -> None:
        if self._rich is not None:
            self._rich[0].stop()
            return
        self.stream.write(self.line() + "\n")
        self.stream.flush()


def _rich_progress(stream: TextIO, label: str, total: int | None) -> Any:
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeRemainingColumn
    except ImportError:
        return None
    progress = Progress(
        "{task.description}", BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
        console=Console(file=stream),
    )  # fmt: skip
    progress.start()
    return progress, progress.add_task(label, total=total)
