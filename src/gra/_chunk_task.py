"""The Prefect task and flow that run chunks of work in pool workers.

They live at module level in their own module so process pools pickle them by reference; Prefect
ships the flow and its parameters to every worker, so the flow takes no parameters and reads
the job (work list and progress callback, which hold unpicklable things) from `_JOB` in the
parent process. `gra.parallel` imports this module only when it really goes parallel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, task
from prefect.futures import as_completed

_JOB: dict[str, Any] = {}


def current_job() -> dict[str, Any]:
    # A module-level function is pickled by reference. The flow's own function is pickled by
    # value (the module attribute holds the Flow, not the function), so it must not name _JOB.
    return _JOB


@task(name="chunk", retries=1, retry_delay_seconds=2)
def run_chunk(fn: Callable[..., Any], chunk: Any, args: tuple) -> Any:
    return fn(chunk, *args)


@flow(name="parallel-map")
def parallel_map() -> list[Any]:
    job = current_job()
    fn, chunks, args, on_done = job["fn"], job["chunks"], job["args"], job["on_done"]
    futures = [run_chunk.submit(fn, chunk, args) for chunk in chunks]
    position = {f.task_run_id: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    for future in as_completed(futures):
        i = position[future.task_run_id]
        results[i] = future.result()
        if on_done:
            on_done(len(chunks[i]))
    return results
