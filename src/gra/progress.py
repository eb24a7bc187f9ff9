"""Progress bars for long work (rich), quiet when output is not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yields advance(n, total=None): a live bar on a terminal, a final line otherwise."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    # On stderr: stdout carries results (`gra predict --format jsonl`). No stdout/stderr
    # redirection: Prefect pickles its context for pool workers, and rich's redirect proxies
    # (which hold locks) would end up in it.
    with Progress(
        *columns,
        console=Console(stderr=True),
        transient=False,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as progress:
        task = progress.add_task(description, total=total, rate="")

        def advance(n: int, total: int | None = None) -> None:
            if total is not None:
                progress.update(task, total=total)
            progress.advance(task, n)
            t = progress.tasks[task]
            if t.elapsed and t.completed:
                rate = t.completed / t.elapsed
                text = f"{rate:,.0f}/s" if rate >= 1 else f"{1 / rate:.1f} s each"
                progress.update(task, rate=text)

        yield advance
