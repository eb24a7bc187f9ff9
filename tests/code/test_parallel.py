"""gra.parallel's local process pool: input order, one callback per chunk, one rerun after a
worker process dies, and an inline path that imports nothing heavy. (The Dask backend, with
real scheduler and worker processes: tests/integration/test_dask_cluster.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gra.parallel import map_chunks


def _square(chunk: list[int], marker_dir: str, die_on: int | None, always: bool) -> list[int]:
    """Squares, finishing out of order; the worker process dies (as when the kernel kills it
    for memory) on the chunk starting with `die_on`, once or every time."""
    first = chunk[0]
    marker = Path(marker_dir) / f"died-{first}"
    if first == die_on and (always or not marker.exists()):
        marker.touch()
        os._exit(9)
    time.sleep(0.02 * (5 - first))
    return [x * x for x in chunk]


def test_pool_keeps_order_and_reruns_chunks_after_a_worker_dies(tmp_path):
    chunks = [[i, 10 + i] for i in range(5)]
    seen = []
    out = map_chunks(
        _square,
        chunks,
        args=(str(tmp_path), 3, False),
        workers=2,
        on_result=lambda i, result: seen.append((i, result)),
    )
    assert out == [[i * i, (10 + i) ** 2] for i in range(5)]
    assert (tmp_path / "died-3").exists()  # a worker really died, and its chunk was rerun
    assert sorted(seen) == list(enumerate(out))  # each chunk reported once, as it came back

    with pytest.raises(RuntimeError, match="died twice"):
        map_chunks(_square, chunks, args=(str(tmp_path), 1, True), workers=2, name="test")


def test_inline_path_imports_no_pool_dask_or_prefect():
    code = (
        "import sys\n"
        "from gra.parallel import map_chunks\n"
        "assert map_chunks(len, [[1, 2], [3]], workers=1) == [2, 1]\n"
        "heavy = {'distributed', 'dask', 'prefect', 'concurrent.futures.process'}\n"
        "heavy &= set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
