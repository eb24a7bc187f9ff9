"""Torch's intra-op thread count, set for a block and then put back.

`torch.set_num_threads` is process-wide: a step that wants a different count (one thread per
feature worker, N for CNN training) must restore the caller's, or every later torch call in
the process runs on the wrong number of threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    if previous == n:  # the server's steady state: nothing to change, nothing to race on
        yield
        return
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
