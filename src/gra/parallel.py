"""Run chunks of work through a Prefect task runner: local processes, or Dask when an address
is given. One process pool, one temporary Prefect API shared by the parent and its workers."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def share_prefect_api() -> None:
    """Export the API URL so child processes (pool workers, `dvc repro` stages) report to the
    same Prefect API instead of each starting a temporary server of its own (~5 s each)."""
    if os.environ.get("PREFECT_API_URL"):
        return
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start()
        url = server.api_url
    os.environ["PREFECT_API_URL"] = url


def map_chunks(
    fn: Callable[..., T],
    chunks: Sequence[Any],
    args: tuple = (),
    workers: int = 1,
    dask_address: str | None = None,
    on_done: Callable[[int], None] | None = None,
    name: str = "map",
) -> list[T]:
    """fn(chunk, *args) for every chunk, results in input order.

    With one worker and no Dask address it runs inline (no Prefect overhead); otherwise each
    chunk is a Prefect task run, with one retry for transient failures.
    """
    if not chunks:
        return []
    if dask_address is None and (workers <= 1 or len(chunks) == 1):
        results = []
        for chunk in chunks:
            results.append(fn(chunk, *args))
            if on_done:
                on_done(len(chunk))
        return results

    # Prefect is imported only here: inline runs (tests, serving) skip its ~2 s import.
    from gra import _chunk_task

    share_prefect_api()
    if dask_address:
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(address=dask_address)
    else:
        from prefect.task_runners import ProcessPoolTaskRunner

        runner = ProcessPoolTaskRunner(max_workers=workers)
    _chunk_task._JOB.update(fn=fn, chunks=chunks, args=args, on_done=on_done)
    try:
        return _chunk_task.parallel_map.with_options(name=name, task_runner=runner)()
    finally:
        _chunk_task._JOB.clear()
