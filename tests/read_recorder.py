"""An array that records how many rows each read loads: what a memory map would bring into
memory. Shared by the tests that check log-mel patches stay on disk until a model asks."""

from __future__ import annotations

import numpy as np


class RecordingArray:
    def __init__(self, array: np.ndarray) -> None:
        self.array, self.reads = array, []
        self.shape, self.ndim, self.dtype = array.shape, array.ndim, array.dtype

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, key):
        out = self.array[key]
        self.reads.append(len(out))
        return out
