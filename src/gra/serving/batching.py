"""Adaptive batching of model calls across concurrent requests in one worker process.

Feature extraction runs on each request's own thread; the models then run once for whatever
clips are waiting. Nothing waits on purpose: a lone request goes straight through (batch of
one), and under load the clips that queued while the previous batch ran form the next batch.
That suits models whose cost is mostly per call rather than per row (a random forest walks
each of its trees once per call, a network runs one forward pass).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(self, fn: Callable[[list[T]], list[R]], max_batch: int = 64):
        self.fn = fn
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[T, Future]] = queue.Queue()
        threading.Thread(target=self._run, name="gra-batcher", daemon=True).start()

    def map(self, items: Sequence[T]) -> list[R]:
        """Results for `items`, in order (they may share a batch with other requests)."""
        futures = []
        for item in items:
            future: Future = Future()
            self._queue.put((item, future))
            futures.append(future)
        return [f.result() for f in futures]

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self.fn([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
