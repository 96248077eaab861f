"""Progress on a terminal, silence elsewhere.

Long work (building, validating, signing or verifying a large PES, checking many files, waiting
for acknowledgements) shows what it is doing on standard error while that is a terminal, with
`rich <https://rich.readthedocs.io>`_ (imported only then); piped or redirected, nothing is
drawn and the output is the command's result alone. The bars are erased when the work ends.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def on_terminal(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: standard error) is a terminal that can draw progress."""
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


def _progress(*, bytes_: bool) -> Any:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    amount = DownloadColumn() if bytes_ else MofNCompleteColumn()
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        amount,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@contextlib.contextmanager
def reading(path: Path, label: str) -> Iterator[Path | IO[bytes]]:
    """What to read ``path`` through: on a terminal, the file opened behind a bar of the bytes
    read so far; elsewhere the path itself."""
    if not on_terminal():
        yield path
        return
    with _progress(bytes_=True) as progress, path.open("rb") as handle:
        task = progress.add_task(label, total=path.stat().st_size)
        yield progress.wrap_file(handle, task_id=task)


@contextlib.contextmanager
def writing(path: Path, label: str, total: int | None = None) -> Iterator[None]:
    """A bar of the bytes written to ``path`` so far (or to the temporary file beside it that
    becomes ``path``: ``.NAME…``), out of ``total`` if known, while the block runs."""
    if not on_terminal():
        yield
        return
    folder = path.parent if str(path.parent) else Path(".")

    def size() -> int:
        sizes = [0]
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if entry.name == path.name or entry.name.startswith(f".{path.name}"):
                    sizes.append(entry.stat().st_size)
        return max(sizes)

    with _progress(bytes_=True) as progress:
        task = progress.add_task(label, total=total)
        progress.update(task, completed=size())
        stop = threading.Event()
        thread = threading.Thread(target=_every, args=(0.2, stop, progress, task, size), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _every(seconds: float, stop: threading.Event, progress: Any, task: Any, size: Callable[[], int]) -> None:
    while not stop.wait(seconds):
        progress.update(task, completed=size())


@contextlib.contextmanager
def working(label: str) -> Iterator[None]:
    """A spinner and the time elapsed, for work that cannot tell how far it is."""
    if not on_terminal():
        yield
        return
    with _progress(bytes_=False) as progress:
        progress.add_task(label, total=None)
        yield


class Steps:
    """A bar of ``total`` steps (files checked, files sent); nothing when not on a terminal or for
    a single step. Use as a context manager; :meth:`advance` after each step."""

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.label = label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Steps:
        if self.total > 1 and on_terminal():
            self._progress = _progress(bytes_=False)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.label, total=self.total)
        return self

    def advance(self, note: str | None = None) -> None:
        """One more step done (``note``: what the bar says now)."""
        if self._progress is not None:
            fields = {"description": f"{self.label} {note}"} if note else {}
            self._progress.update(self._task, advance=1, **fields)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


@contextlib.contextmanager
def live(render: Callable[[], str]) -> Iterator[None]:
    """Redraw ``render()`` (a few lines) at the bottom of the terminal four times a second while
    the block runs; what the block prints goes above it. Nothing when not on a terminal."""
    if not on_terminal(sys.stdout):
        yield
        return
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    class _View:
        def __rich__(self) -> Text:
            return Text(render())

    with Live(_View(), console=Console(), refresh_per_second=4, transient=True):
        yield


__all__ = ["Steps", "live", "on_terminal", "reading", "working", "writing"]
