"""A pretrained speaker embedding: Resemblyzer's GE2E encoder (weights inside the wheel),
256 values per clip. Trained to tell speakers apart, it captures voice quality that gender
and age change."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from gra.features.analysis import Analysis
from gra.threads import torch_threads

# Column names of the embedding. It identifies a voice: the inference log leaves it out unless
# the operator turns monitoring.log_embedding on.
EMBEDDING_PREFIX = "spk_emb_"


@lru_cache(maxsize=1)
def _encoder():
    import warnings

    with warnings.catch_warnings():  # its webrtcvad dependency imports the old pkg_resources
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def compute(a: Analysis) -> dict[str, float]:
    if a.sample_rate != 16000:
        raise ValueError("the speaker embedding needs audio.sample_rate 16000")
    samples = np.asarray(a.samples, dtype=np.float32)
    # One thread: feature workers are processes, one per core. Set only around this call so
    # that torch work later in the same process (MLP/CNN training) keeps its own count.
    with torch_threads(1):
        vector = _encoder().embed_utterance(samples)
    return {f"{EMBEDDING_PREFIX}{i:03d}": float(v) for i, v in enumerate(vector)}
