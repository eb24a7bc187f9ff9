"""Run chunks of work inline, on a local process pool, or on a Dask cluster.

Whatever runs them, the results come back in input order and `on_result(index, result)` is
called in this process as each chunk finishes (progress, caching), so callers see the same thing
on every backend. Nothing heavy is imported until a pool or a cluster is really used.

- Local: `concurrent.futures.ProcessPoolExecutor` (spawned processes). If a worker process dies
  (killed for memory, a crash in native code), the unfinished chunks are run once more on a new
  pool; a second death is an error.
- Dask (`dask_address`): a `distributed.Client` on that scheduler. The workers must be able to
  import the function's module (GRA installed on them) and read the files the chunks name, at
  the same paths as here; both are checked on every worker before any work is sent, and a
  worker that fails the check is named in a `UserError`. Dask itself reruns the chunks of a
  worker that dies (`distributed.scheduler.allowed-failures` times).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gra.errors import UserError

T = TypeVar("T")

CONNECT_TIMEOUT_S = 15  # reaching the scheduler
WORKERS_TIMEOUT_S = 30  # for a scheduler with no worker yet to get one


def map_chunks(
    fn: Callable[..., T],
    chunks: Sequence[Any],
    args: tuple = (),
    workers: int = 1,
    dask_address: str | None = None,
    on_result: Callable[[int, T], None] | None = None,
    readable: Sequence[str] = (),
    name: str = "map",
    keep: bool = True,
) -> list[T]:
    """fn(chunk, *args) for every chunk, results in input order.

    Inline with one worker (or one chunk) and no Dask address; on `workers` local processes
    otherwise, or on the Dask cluster at `dask_address`. `fn` must be a module-level function
    (it is pickled by reference). `readable`: sample paths every Dask worker must be able to
    read. If fn's module defines `code_fingerprint()`, every Dask worker must return the same
    value as this process (the same code computes the results everywhere). `name` is used in
    messages. `keep=False`: results are handed to `on_result` and not kept (the list returned
    holds None), so memory holds one chunk's results at a time, not all of them.
    """
    if not chunks:
        return []
    if not keep and on_result is None:
        raise ValueError("keep=False needs on_result: the results would be lost")
    if dask_address:
        return _on_dask(fn, chunks, args, dask_address, on_result, readable, name, keep)
    if workers <= 1 or len(chunks) == 1:
        results: list[Any] = []
        for i, chunk in enumerate(chunks):
            result = fn(chunk, *args)
            results.append(result if keep else None)
            if on_result:
                on_result(i, result)
        return results
    return _on_pool(fn, chunks, args, workers, on_result, name, keep)


def _on_pool(
    fn: Callable[..., T],
    chunks: Sequence[Any],
    args: tuple,
    workers: int,
    on_result: Callable[[int, T], None] | None,
    name: str,
    keep: bool = True,
) -> list[T]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    results: list[Any] = [None] * len(chunks)
    todo = set(range(len(chunks)))

    def collect(i: int, result: Any) -> None:
        results[i] = result if keep else None
        todo.discard(i)
        if on_result:
            on_result(i, result)

    # spawn, not fork: the parent has threads (progress, BLAS, torch) that a fork would copy
    # in whatever state they are.
    context = multiprocessing.get_context("spawn")
    for attempt in (1, 2):
        pool = ProcessPoolExecutor(min(workers, len(todo)), mp_context=context)
        futures = {pool.submit(fn, chunks[i], *args): i for i in sorted(todo)}
        try:
            for future in as_completed(futures):
                # (popped: a finished future holds its result for as long as it is referenced)
                collect(futures.pop(future), future.result())
            return results
        except BrokenProcessPool as exc:
            # Keep what finished before the pool broke; run the rest once more.
            for future, i in futures.items():
                if i in todo and future.done() and future.exception() is None:
                    collect(i, future.result())
            if attempt == 2:
                raise RuntimeError(
                    f"{name}: a worker process of the local pool died twice ({exc}). If the "
                    "machine ran out of memory, lower featurize.workers or featurize.chunk_size."
                ) from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    raise AssertionError("unreachable")


def _on_dask(
    fn: Callable[..., T],
    chunks: Sequence[Any],
    args: tuple,
    address: str,
    on_result: Callable[[int, T], None] | None,
    readable: Sequence[str],
    name: str,
    keep: bool = True,
) -> list[T]:
    from distributed import Client, as_completed
    from distributed.scheduler import KilledWorker

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise UserError(
            f"cannot reach the Dask scheduler at {address} (featurize.dask_address): {exc}. "
            "Start one (`dask scheduler`) or fix the address; set it to null to run locally."
        ) from exc
    with client:
        check_workers(client, fn.__module__, readable)
        n = len(chunks)
        futures = client.map(fn, chunks, *([arg] * n for arg in args), pure=False)
        position = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * n
        try:
            for future in as_completed(futures, loop=client.loop):
                i = position[future.key]
                result = future.result()
                future.release()
                results[i] = result if keep else None
                if on_result:
                    on_result(i, result)
        except KilledWorker as exc:
            raise UserError(
                f"{name}: Dask workers died running the same chunk again and again ({exc}). "
                "If they ran out of memory, give them more or lower featurize.chunk_size; "
                "the workers' logs say more."
            ) from exc
        return results  # leaving `with client` releases whatever is left on the cluster


def _worker_probe() -> Callable[[str, list[str]], dict]:
    """The check run on each Dask worker. Made here, as a local function, because cloudpickle
    ships local functions by value: it must run on a worker that cannot import gra."""

    def probe(module: str, paths: list[str]) -> dict:
        import importlib
        import os
        import socket
        import sys

        answer = {
            "host": socket.gethostname(),
            "python": sys.executable,
            "cwd": os.getcwd(),
            "import_error": None,
            "fingerprint": None,
            "unreadable": [],
        }
        try:
            loaded = importlib.import_module(module)
            fingerprint = getattr(loaded, "code_fingerprint", None)
            answer["fingerprint"] = fingerprint() if callable(fingerprint) else None
        except Exception as exc:  # noqa: BLE001 - any failure to import is reported
            answer["import_error"] = f"{type(exc).__name__}: {exc}"
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    handle.read(1)
            except OSError as exc:
                answer["unreadable"].append(f"{path} ({exc.strerror or type(exc).__name__})")
        return answer

    return probe


def check_workers(client: Any, module: str, readable: Sequence[str]) -> None:
    """Every worker of the cluster can import `module`, runs the same code as this process and
    can read the `readable` paths; otherwise a UserError naming each worker and the fix."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except TimeoutError as exc:
        raise UserError(
            f"the Dask scheduler at {client.scheduler.address} has no workers (waited "
            f"{WORKERS_TIMEOUT_S} s): start some with `dask worker {client.scheduler.address}`."
        ) from exc
    probe = _worker_probe()
    here = probe(module, [])
    answers = client.run(probe, module, list(readable), on_error="return")
    names = {a: w.get("name", a) for a, w in client.scheduler_info()["workers"].items()}
    problems = []
    for address, answer in sorted(answers.items()):
        worker = f"Dask worker {names.get(address, address)} ({address})"
        if isinstance(answer, BaseException):
            problems.append(f"{worker}: the check itself failed: {answer!r}")
            continue
        where = f"{worker} on host {answer['host']}"
        if answer["import_error"]:
            problems.append(
                f"{where} cannot import {module}: {answer['import_error']}. Install GRA, the "
                f"same version as here, into the Python that runs `dask worker` "
                f"({answer['python']}), e.g. `pip install -e` of the same checkout."
            )
        elif answer["fingerprint"] != here["fingerprint"]:
            problems.append(
                f"{where} runs other GRA feature code than this machine (code fingerprint "
                f"{answer['fingerprint']}, here {here['fingerprint']}): install the same GRA "
                "version on the workers."
            )
        if answer["unreadable"]:
            problems.append(
                f"{where} cannot read {', '.join(answer['unreadable'])}. Workers read the clips "
                "themselves, by the same absolute path as this machine: mount the data on "
                f"every worker at the same path (the worker runs in {answer['cwd']})."
            )
    if problems:
        raise UserError(
            "the Dask cluster cannot run this work:\n" + "\n".join(f"- {p}" for p in problems)
        )
