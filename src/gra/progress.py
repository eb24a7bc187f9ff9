"""Progress for long work: a live bar (rich) on a terminal; elsewhere (logs, CI, `make demo`
piped, Prefect) a plain line every few seconds, so no stretch of work goes silent."""

from __future__ import annotations

import threading
import time
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
    console = Console(stderr=True)
    if not console.is_terminal:
        with _plain_lines(description, total, console) as advance:
            yield advance
        return
    with Progress(
        *columns,
        console=console,
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


PLAIN_EVERY_SECONDS = 5.0


@contextmanager
def _plain_lines(description: str, total: int, console: Console) -> Iterator[Callable[[int], None]]:
    """`description: done/total (rate)` every PLAIN_EVERY_SECONDS, and when done. A watcher
    thread says it even while no item finishes (workers starting, one slow chunk)."""
    state = {"done": 0, "total": total, "started": time.monotonic(), "said": time.monotonic()}
    lock = threading.Lock()
    finished = threading.Event()

    def line() -> str:
        elapsed = time.monotonic() - state["started"]
        rate = state["done"] / elapsed if elapsed > 0 else 0.0
        pace = f"{rate:,.1f}/s" if rate >= 1 else (f"{1 / rate:.1f} s each" if rate else "")
        return f"{description}: {state['done']}/{state['total']} {pace} {elapsed:.0f} s"

    def say_if_due() -> None:
        with lock:
            if time.monotonic() - state["said"] >= PLAIN_EVERY_SECONDS:
                state["said"] = time.monotonic()
                console.print(line(), highlight=False)

    def watch() -> None:
        while not finished.wait(min(1.0, PLAIN_EVERY_SECONDS / 2)):
            say_if_due()

    def advance(n: int, total: int | None = None) -> None:
        with lock:
            if total is not None:
                state["total"] = total
            state["done"] += n
        say_if_due()

    watcher = threading.Thread(target=watch, name="gra-progress", daemon=True)
    watcher.start()
    try:
        yield advance
    finally:
        finished.set()
        watcher.join()
    console.print(line(), highlight=False)
