"""Peak memory (RSS) of the data stages on a real corpus, each stage in its own process
(prints figures; not a test).

    python bench/memory.py ../shared/cv-real-dev                   # the params.yaml candidates
    python bench/memory.py ../shared/cv-real-dev --replicate 4     # 4 x the rows (new speakers)
    python bench/memory.py ../shared/cv-real-dev --candidates logreg,cnn   # with log-mel patches

Stages, as the pipeline runs them: ingest (read the release, write the manifest), split,
featurize (cache lookups, the feature table and, when a candidate reads them, the log-mel
patch file; written to disk as `gra featurize` does) and features (read_features plus
task_data for every task on the development and the test split: what `gra train` and
`gra evaluate` build before they fit or predict). Each figure is the stage's peak resident set
size (ru_maxrss) less the same process's RSS after its imports, so it is what the stage itself
holds; extraction workers are not counted (they are separate processes, and the cache should be
warm: the point is the memory of the parent, not extraction). --replicate K repeats every row K
times as new clips of new speakers pointing at the same audio (the cache serves them).

To compare with another checkout's code, run it with that checkout's `src` first on
PYTHONPATH; stages use only functions that exist in both (featurize's patches_to is passed
only when featurize takes it). Results go to stdout and, with --json, to a file.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

STAGES = ("ingest", "split", "featurize", "features")


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _settings(params: Path, candidates: list[str] | None):
    import yaml

    from gra.config import Settings

    data = yaml.safe_load(params.read_text())
    if candidates:
        data["train"]["candidates"] = candidates
    return Settings.model_validate(data)


def child(stage: str, work: Path, args: argparse.Namespace) -> dict:
    """One stage in this process; returns its figures."""
    import pandas as pd

    from gra.artifacts import read_features, task_data, write_features
    from gra.data.sources import read_sources
    from gra.data.split import assign_splits
    from gra.features.pipeline import featurize

    settings = _settings(args.params, args.candidates)
    baseline = _rss_mb()
    started = time.perf_counter()
    rows = None
    if stage == "ingest":
        manifest, _ = read_sources([args.source])
        if args.replicate > 1:
            copies = []
            for k in range(args.replicate):
                copy = manifest.copy()
                if k:
                    copy["clip_id"] = copy["clip_id"] + f"#{k}"
                    copy["client_id"] = copy["client_id"] + f"#{k}"
                copies.append(copy)
            manifest = pd.concat(copies, ignore_index=True)
            del copies
        manifest.to_parquet(work / "manifest.parquet", index=False)
        rows = len(manifest)
    elif stage == "split":
        manifest = pd.read_parquet(work / "manifest.parquet")
        splits, _ = assign_splits(manifest, settings.split, settings.labels)
        splits.to_parquet(work / "splits.parquet", index=False)
        rows = len(splits)
    elif stage == "featurize":
        splits = pd.read_parquet(work / "splits.parquet")
        extra = {}
        if "patches_to" in inspect.signature(featurize).parameters:
            extra["patches_to"] = work / "features" / "logmel.npy"
        table = featurize(splits, settings.audio, settings.featurize, args.cache, **extra)
        write_features(table, work / "features")
        rows = len(table.vectors)
        patches = work / "features" / "logmel.npy"
        extra_out = {
            "extracted": table.stats["extracted"],
            "sets": list(settings.featurize.sets),
            "logmel_npy_mb": round(patches.stat().st_size / 2**20, 1) if patches.exists() else 0,
        }
    elif stage == "features":
        splits = pd.read_parquet(work / "splits.parquet")
        features = read_features(work / "features")
        rows = 0
        for task in settings.train.tasks:
            classes = settings.labels.classes(task)
            for split in (("train", "val"), "test"):
                data = task_data(splits, features, task, split, classes)
                rows += len(data.y)
                del data
    seconds = time.perf_counter() - started
    out = {
        "stage": stage,
        "rows": rows,
        "seconds": round(seconds, 2),
        "baseline_mb": round(baseline, 1),
        "peak_mb": round(_peak_mb(), 1),
        "stage_peak_mb": round(_peak_mb() - baseline, 1),
    }
    if stage == "featurize":
        out |= extra_out
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="a Common Voice release folder")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--cache", type=Path, default=None, help="default: paths.cache")
    parser.add_argument("--candidates", default=None, help="comma-separated train.candidates")
    parser.add_argument("--replicate", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--child", choices=STAGES, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.candidates = args.candidates.split(",") if args.candidates else None
    if args.cache is None:
        args.cache = _settings(args.params, args.candidates).paths.cache
    if args.child:
        print(json.dumps(child(args.child, args.work, args)))
        return

    import gra

    with tempfile.TemporaryDirectory(prefix="gra-memory-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = []
        for stage in STAGES:
            cmd = [sys.executable, __file__, str(args.source), "--child", stage]
            cmd += ["--work", str(work), "--params", str(args.params), "--cache", str(args.cache)]
            cmd += ["--replicate", str(args.replicate)]
            if args.candidates:
                cmd += ["--candidates", ",".join(args.candidates)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{stage} failed:\n{proc.stderr[-3000:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            r = results[-1]
            print(
                f"{stage:10s} rows {r['rows']:>7,}  {r['seconds']:7.1f} s  peak RSS "
                f"{r['peak_mb']:7.1f} MB = {r['baseline_mb']:6.1f} after imports + "
                f"{r['stage_peak_mb']:7.1f} MB for the stage"
                + (
                    f"  (extracted {r['extracted']}, logmel.npy {r['logmel_npy_mb']} MB)"
                    if stage == "featurize"
                    else ""
                ),
                flush=True,
            )
    summary = {"code": str(Path(gra.__file__).parents[1]), "replicate": args.replicate}
    summary["stages"] = results
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
