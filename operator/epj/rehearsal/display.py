"""Live progress of a rehearsal: phase changes and events as lines, migrations as a bar with ETA.

Rich on a terminal; plain, greppable lines otherwise (CI logs, pipes). Simulated times are
shown as such, so nobody mistakes a simulated month for a real one.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from typing import TextIO

from epj.golive import EmitEvent

ProgressCallback = Callable[[int, int | None], None]


class ConsoleDisplay:
    """Prints what the rehearsal does; ``tty`` decides between a Rich bar and plain lines."""

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None, clock_label: str = "sim") -> None:
        from rich.console import Console

        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.console = Console(file=self.stream, force_terminal=self.tty, highlight=False, soft_wrap=True)
        self.clock_label = clock_label

    def _stamp(self, now: dt.datetime) -> str:
        return f"[{self.clock_label} {now.strftime('%Y-%m-%d %H:%M')}Z]"

    def event(self, kommunenummer: str, event: EmitEvent, now: dt.datetime) -> None:
        transition = " → " in event.message.split(":", 1)[0]
        if transition:
            style = "bold red" if event.type == "Warning" else "bold"
            text = f"{self._stamp(now)} {kommunenummer} {event.message}"
        else:
            style = "yellow" if event.type == "Warning" else "dim"
            text = f"{self._stamp(now)} {kommunenummer}   {event.reason}: {event.message}"
        self.console.print(text, style=style, markup=False)

    def note(self, message: str) -> None:
        self.console.print(message, markup=False)

    def job_progress(self, kommunenummer: str, job_name: str) -> tuple[ProgressCallback, Callable[[], None]]:
        """(progress(done, total), close) for one migration job."""
        if self.tty:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            bar.start()
            task = bar.add_task(f"{kommunenummer} {job_name}", total=None)

            def update(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            def close() -> None:
                bar.stop()
                self.console.print(f"  {job_name}: migration finished", style="dim", markup=False)

            return update, close

        start = time.perf_counter()
        last = {"at": 0.0}

        def plain(done: int, total: int | None) -> None:
            now = time.perf_counter()
            if now - last["at"] < 2 and (total is None or done < total):
                return
            last["at"] = now
            elapsed = now - start
            rate = done / elapsed if elapsed > 0 else 0.0
            share = f" ({done / total:.0%})" if total else ""
            eta = f", ETA {max(total - done, 0) / rate:.0f} s" if total and rate else ""
            of = f"/{total}" if total else ""
            print(f"  {job_name}: {done}{of} records{share}{eta}", file=self.stream, flush=True)

        def done_line() -> None:
            print(f"  {job_name}: migration finished in {time.perf_counter() - start:.1f} s", file=self.stream)

        return plain, done_line
