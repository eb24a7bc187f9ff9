"""numba-compiled code (librosa.yin and util.localmin, and the same kernel in plain numba)
compiled for an AMD Zen 4 CPU (`NUMBA_CPU_NAME=znver4`, what llvmlite names such hosts), where
users reported a segmentation fault in librosa.yin. Runs where this CPU can execute that
target's instructions (AVX-512), in a subprocess so that a crash fails the test instead of
ending the run; skips with the reason elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

# What LLVM's znver4 target may use beyond AVX2 (/proc/cpuinfo's names).
ZEN4_FLAGS = {
    "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512ifma", "avx512vbmi",
    "avx512_vbmi2", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq", "avx512_bf16", "gfni",
    "vaes", "vpclmulqdq",
}  # fmt: skip

REPRODUCTION = """
import numba
import numpy as np

# librosa.util.localmin's kernel (librosa 0.11 utils.py), in plain numba.
@numba.stencil
def _below_neighbours(x):
    return (x[0] < x[-1]) & (x[0] <= x[1])

@numba.guvectorize(
    ["void(float32[:], bool_[:])", "void(float64[:], bool_[:])"], "(n)->(n)", nopython=True
)
def localmin(x, y):
    y[:] = _below_neighbours(x)

rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    x = rng.standard_normal((87, 257)).astype(dtype)
    expected = (x[:, 1:-1] < x[:, :-2]) & (x[:, 1:-1] <= x[:, 2:])
    assert np.array_equal(localmin(x)[:, 1:-1], expected), dtype

import librosa  # the issue's reproduction: yin -> numba-compiled librosa.util.localmin

y = np.sin(2 * np.pi * 150 * np.arange(16000) / 16000).astype(np.float32)
f0 = librosa.yin(y, fmin=60, fmax=400, sr=16000)
assert np.all(np.abs(np.median(f0) - 150) < 1.5), f0[:5]
print("numba", numba.__version__, "target", numba.config.CPU_NAME, "ok")
"""


def _cpu_flags() -> set[str]:
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_numba_code_compiled_for_zen4_runs_and_is_right(tmp_path):
    missing = ZEN4_FLAGS - _cpu_flags()
    if missing:
        pytest.skip(f"this CPU cannot run znver4 code (lacks {', '.join(sorted(missing))})")
    env = {
        **os.environ,
        "NUMBA_CPU_NAME": "znver4",
        "NUMBA_CACHE_DIR": str(tmp_path),  # compiled for this target now, not loaded from cache
    }
    proc = subprocess.run(
        [sys.executable, "-c", REPRODUCTION],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    versions = f"numba {version('numba')}, llvmlite {version('llvmlite')}"
    assert proc.returncode == 0, (
        f"numba code compiled for znver4 failed (exit {proc.returncode}; -11 is a segmentation "
        f"fault) with {versions}:\n{proc.stderr[-3000:]}\nREADME: Troubleshooting"
    )
    assert "target znver4 ok" in proc.stdout
