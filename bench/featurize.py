"""Benchmark of the featurize step on real Common Voice clips (prints figures; not a test).

What it measures, all on the same clips and the same machine:

- cold: `gra.features.pipeline.featurize` with an empty temporary cache. Wall time includes the
  whole step as a user sees it: hashing the clips, the process pool start-up (or connecting to
  the Dask cluster and checking its workers), decoding and feature extraction in the workers,
  and writing the cache.
- warm: the same call again on the now-filled cache (content hash + cache load per clip).
- naive: a straightforward single-process librosa loop, the way a tutorial would compute the
  same kinds of features (librosa.load at its default 22,050 Hz, MFCC + deltas, spectral shape,
  zero-crossing rate, YIN F0, a log-mel patch). It runs on an evenly spaced subset of the clips
  (--naive-limit) to keep the benchmark short, after one untimed warm-up clip (librosa's numba
  JIT compilation is not counted, which favours the baseline); its clips/s is what the
  speed-ups are relative to.

Run from the repository root (it reads params.yaml there):

    python bench/featurize.py ../shared/cv-real-dev [--limit N] [--workers N]
        [--chunk-size N] [--naive-limit N] [--dask-address tcp://HOST:8786]

The figures are also written to bench/out/featurize.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

# Before librosa (and audioread, which it may fall back on) are imported anywhere.
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=UserWarning, module="librosa")
warnings.filterwarnings("ignore", module="audioread")
# Inherited by the pool workers too.
os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning,ignore::FutureWarning")

OUT = Path("bench/out/featurize.json")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="Common Voice folder (<locale>/validated.tsv)")
    parser.add_argument("--limit", type=int, default=None, help="first N clips (default: all)")
    parser.add_argument("--workers", type=int, default=None, help="default: params.yaml")
    parser.add_argument("--chunk-size", type=int, default=None, help="default: params.yaml")
    parser.add_argument("--dask-address", default=None, help="default: params.yaml")
    parser.add_argument("--naive-limit", type=int, default=400, help="clips for the naive loop")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    return parser.parse_args()


def naive_features(path: str) -> dict:
    """The tutorial way: librosa end to end, at librosa's default sample rate."""
    import librosa
    import numpy as np

    y, sr = librosa.load(path)
    out = {}
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    d1 = librosa.feature.delta(mfcc)
    d2 = librosa.feature.delta(mfcc, order=2)
    for name, m in (("mfcc", mfcc), ("d1", d1), ("d2", d2)):
        out[f"{name}_mean"], out[f"{name}_std"] = m.mean(axis=1), m.std(axis=1)
    spectral = {
        "centroid": librosa.feature.spectral_centroid(y=y, sr=sr),
        "bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr),
        "rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr),
        "flatness": librosa.feature.spectral_flatness(y=y),
        "contrast": librosa.feature.spectral_contrast(y=y, sr=sr),
        "zcr": librosa.feature.zero_crossing_rate(y),
    }
    for name, m in spectral.items():
        out[f"{name}_mean"], out[f"{name}_std"] = m.mean(axis=1), m.std(axis=1)
    f0 = librosa.yin(y, fmin=60, fmax=500, sr=sr)
    out["f0"] = np.array([f0.mean(), np.median(f0), f0.std()])
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_mels=64))
    out["logmel"] = librosa.util.fix_length(mel, size=300, axis=1).astype(np.float16)
    return out


def run_naive(paths: list[str]) -> tuple[float, int]:
    """Seconds for the naive loop over paths, and how many clips failed."""
    import contextlib

    with contextlib.suppress(Exception):  # warm-up: imports and numba JIT, not timed
        naive_features(paths[0])
    failed = 0
    started = time.perf_counter()
    for path in paths:
        try:
            naive_features(path)
        except Exception:  # noqa: BLE001 - a failing clip is counted, the loop goes on
            failed += 1
    return time.perf_counter() - started, failed


def main() -> int:
    args = parse_args()
    if not args.params.exists():
        print(f"{args.params} not found: run this from the repository root.", file=sys.stderr)
        return 2

    from gra.config import load_settings
    from gra.data.sources import read_sources
    from gra.features.pipeline import featurize

    settings = load_settings(args.params)
    overrides = {
        "workers": args.workers,
        "chunk_size": args.chunk_size,
        "dask_address": args.dask_address,
    }
    feat = settings.featurize.model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    manifest, _ = read_sources([args.source])
    if args.limit is not None:
        manifest = manifest.head(args.limit).reset_index(drop=True)
    n = len(manifest)
    if n == 0:
        print(f"no clips found under {args.source}", file=sys.stderr)
        return 2

    rows = []
    with tempfile.TemporaryDirectory(prefix="gra-bench-cache-") as cache:
        for method in ("cold", "warm"):
            started = time.perf_counter()
            table = featurize(manifest, settings.audio, feat, Path(cache))
            seconds = time.perf_counter() - started
            rows.append({"method": method, "clips": n, "seconds": seconds, "stats": table.stats})
            print(f"{method}: {n} clips in {seconds:.2f} s", flush=True)

    step = max(1, n // max(1, args.naive_limit))
    naive_paths = list(manifest["path"].iloc[::step].head(args.naive_limit))
    seconds, naive_failed = run_naive(naive_paths)
    rows.append({"method": "naive", "clips": len(naive_paths), "seconds": seconds})
    print(f"naive: {len(naive_paths)} clips in {seconds:.2f} s", flush=True)

    naive_rate = len(naive_paths) / seconds
    for row in rows:
        row["clips_per_second"] = row["clips"] / row["seconds"]
        row["speedup_vs_naive"] = row["clips_per_second"] / naive_rate

    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    quarantined = rows[0]["stats"]["quarantined"]
    print()
    print(
        f"machine: {platform.processor() or platform.machine()}, {cores} cores "
        f"({usable} usable), Python {platform.python_version()}; workers={feat.workers}, "
        f"chunk_size={feat.chunk_size}, dask_address={feat.dask_address}"
    )
    print(
        "cold = empty cache, wall time incl. process pool start-up; "
        "warm = same cache again; naive = single-process librosa loop on "
        f"{len(naive_paths)} evenly spaced clips (after an untimed warm-up clip)"
    )
    print(f"{'method':<8}{'clips':>7}{'seconds':>10}{'clips/s':>10}{'vs naive':>10}")
    for row in rows:
        print(
            f"{row['method']:<8}{row['clips']:>7}{row['seconds']:>10.2f}"
            f"{row['clips_per_second']:>10.1f}{row['speedup_vs_naive']:>9.1f}x"
        )
    print(f"quarantined: {quarantined} of {n} clips; naive failures: {naive_failed}")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "source": str(args.source),
        "machine": {
            "cpu_count": cores,
            "usable_cores": usable,
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "workers": feat.workers,
        "dask_address": feat.dask_address,
        "chunk_size": feat.chunk_size,
        "quarantined": quarantined,
        "naive_failures": naive_failed,
        "results": [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
            for row in rows
        ],
    }
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
