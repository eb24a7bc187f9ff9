"""How each pipeline stage's time and peak memory grow with the number of clips (prints figures;
not a test).

    python bench/scale.py ../shared/cv-real-dev [--sizes 4000,16000,64000] [--out /tmp/gra-scale]
                          [--families logreg,svm,random_forest,mlp]

For each size N it builds a corpus in Common Voice layout by replicating the source: copy k of a
clip gets a new name (a new clip id) and its speaker a new client id ("<id>-r<k>"), and links to
the real mp3, so labels, locales and formats stay real. A project folder per N holds a
params.yaml pointing at that corpus and sharing one per-clip feature cache: replicated clips
have the same content hash, so featurize is warm (hashing, cache reads, writing the table);
cold extraction speed is what bench/featurize.py measures. Then each stage runs as `gra STAGE`
under /usr/bin/time: wall seconds and peak resident memory (RSS) of the stage's process tree's
largest process. Per stage, the growth exponent b of time ~ N^b (and of RSS) between the two
largest sizes, and both extrapolated from the largest size to 1,000,000 clips.

Cold featurization (`--cold-clips M`, 0 to skip): M distinct clips through `gra featurize` with an
empty cache, once on the local process pool (featurize.workers) and once on a real Dask cluster
the bench starts on 127.0.0.1: a `dask scheduler` and two `dask worker` processes (one thread
each), separate from the client; clips per second from the step's own report.

Results go to stdout and bench/out/scale.{json,md}.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "validate", "split", "featurize", "validate --features"]
MILLION = 1_000_000


def replicate(source: Path, out: Path, n_clips: int) -> int:
    """A Common Voice folder of about n_clips rows: whole copies of the source's rows, each
    copy with new clip names and new speaker ids. Returns the rows written."""
    tables = sorted(source.glob("*/validated.tsv"))
    if not tables:
        sys.exit(f"{source} holds no <locale>/validated.tsv")
    rows_by_locale: dict[str, tuple[list[str], list[dict]]] = {}
    for table in tables:
        with table.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            rows_by_locale[table.parent.name] = (list(reader.fieldnames or []), list(reader))
    total = sum(len(rows) for _, rows in rows_by_locale.values())
    copies = max(1, -(-n_clips // total))
    written = 0
    for locale, (header, rows) in rows_by_locale.items():
        clips = out / locale / "clips"
        clips.mkdir(parents=True, exist_ok=True)
        with (out / locale / "validated.tsv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(
                handle, header, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\"
            )
            writer.writeheader()
            for k in range(copies):
                for row in rows:
                    if written >= n_clips:
                        break
                    stem, suffix = os.path.splitext(row["path"])
                    name = f"{stem}-r{k}{suffix}" if k else row["path"]
                    link = clips / name
                    if not link.exists():
                        link.symlink_to((source / locale / "clips" / row["path"]).resolve())
                    client = f"{row['client_id']}-r{k}" if k else row["client_id"]
                    writer.writerow(row | {"path": name, "client_id": client})
                    written += 1
    return written


def source_rows(source: Path) -> int:
    return sum(
        sum(1 for _ in table.open(encoding="utf-8")) - 1 for table in source.glob("*/validated.tsv")
    )


def make_project(
    folder: Path, corpus: Path, cache: Path, families: list[str], dask_address: str | None = None
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["sources"] = [str(corpus)]
    params["paths"]["cache"] = str(cache)
    params["train"]["candidates"] = families
    params["featurize"]["dask_address"] = dask_address
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def timed(stage: str, project: Path) -> dict:
    """Run `gra STAGE` in the project under GNU time: wall seconds and peak RSS in MB."""
    report = project / "time.txt"
    env = os.environ | {
        "BENTOML_HOME": str(project / ".gra" / "bentoml"),
        "PREFECT_HOME": str(project / ".gra" / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "BENTOML_DO_NOT_TRACK": "true",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(report), "gra", *stage.split()],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"gra {stage} failed in {project}:\n{proc.stderr[-3000:]}")
    peak_kb = int(re.findall(r"\d+", report.read_text())[-1])
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(peak_kb / 1024, 1)}


def loopback_cluster(folder: Path, workers: int = 2) -> tuple[str, list[subprocess.Popen]]:
    """A `dask scheduler` and `workers` `dask worker` processes (one thread each) on 127.0.0.1,
    started as a user starts them; (scheduler address, processes)."""
    from distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "scheduler.json"
    info.unlink(missing_ok=True)
    dask = Path(sys.executable).parent / "dask"
    common = ["--no-dashboard", "--scheduler-file", str(info)]
    commands = [[str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", *common]] + [
        [str(dask), "worker", "--host", "127.0.0.1", "--nthreads", "1", "--name", f"w{k}"]
        + ["--local-directory", str(folder / f"w{k}"), *common]
        for k in range(workers)
    ]
    procs = []
    for k, command in enumerate(commands):
        log = (folder / f"{command[1]}-{k}.log").open("wb")
        procs.append(
            subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )
        while k == 0 and not (info.exists() and info.read_text().strip()):
            time.sleep(0.1)  # workers read the scheduler's address from this file
    with Client(scheduler_file=str(info), timeout=60) as client:
        client.wait_for_workers(workers, timeout=60)
        return client.scheduler.address, procs


def cold_featurize(source: Path, out: Path, n_clips: int) -> dict[str, dict]:
    """Clips per second of `gra featurize` with an empty cache: local pool, then Dask cluster."""
    corpus = out / "corpus-cold"
    rows = replicate(source, corpus, min(n_clips, source_rows(source)))
    results = {}
    procs: list[subprocess.Popen] = []
    try:
        for backend in ("local pool", "dask cluster"):
            address = None
            if backend == "dask cluster":
                address, procs = loopback_cluster(out / "dask")
            project = out / f"project-cold-{backend.split()[0]}"
            cache = project / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            make_project(project, corpus, cache, ["logreg"], dask_address=address)
            for stage in ("ingest", "split"):
                timed(stage, project)
            run = timed("featurize", project)
            report = json.loads((project / "reports" / "featurize.json").read_text())
            results[backend] = run | {
                "clips": rows,
                "extracted": report["extracted"],
                "clips_per_second": report["clips_per_second"],
            }
            print(f"cold featurize, {backend}: {results[backend]}", flush=True)
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    return results


def growth(sizes: list[int], values: list[float]) -> tuple[float, float]:
    """(b, value at 1M): b is the exponent of v ~ N^b between the two largest sizes (at small N
    a stage's fixed start-up cost hides its growth). The 1M value is the larger of that power
    law and the straight line through the two points (start-up + a cost per clip: when b < 1
    the power law would flatten the per-clip part away), both from the largest size."""
    (n1, v1), (n2, v2) = sorted(zip(sizes, np.maximum(values, 1e-3), strict=True))[-2:]
    b = float(np.log(v2 / v1) / np.log(n2 / n1))
    power = v2 * (MILLION / n2) ** b
    line = v2 + (v2 - v1) / (n2 - n1) * (MILLION - n2)
    return b, float(max(power, line))


def render(data: dict, workers: tuple[int, ...] = (2, 8, 32)) -> list[str]:
    """The Markdown tables of a bench result (as written to scale.json)."""
    sizes = data["sizes"]
    table = [
        "| stage | " + " | ".join(f"N={n:,}: s / MB" for n in sizes) + " | time ~ N^b | "
        "RSS ~ N^b | 1M clips: time / RSS |",
        "|---|" + "---|" * (len(sizes) + 3),
    ]
    total_1m = 0.0
    for stage, by_n in data["stages"].items():
        seconds = [by_n[str(n)]["seconds"] for n in sizes]
        rss = [by_n[str(n)]["peak_rss_mb"] for n in sizes]
        (bt, t1m), (bm, m1m) = growth(sizes, seconds), growth(sizes, rss)
        total_1m += t1m
        cells = " | ".join(f"{s:,.1f} / {m:,.0f}" for s, m in zip(seconds, rss, strict=True))
        at_1m = f"{t1m / 3600:,.2f} h / {m1m / 1024:,.1f} GB"
        table.append(f"| {stage} | {cells} | {bt:.2f} | {bm:.2f} | {at_1m} |")
    cold = data.get("cold_featurize") or {}
    if not cold:
        return table
    clips = next(iter(cold.values()))["clips"]
    table += [
        "",
        f"Cold featurization, {clips:,} distinct clips, empty cache (peak RSS of the client "
        "process; on the local pool the largest process is a worker):",
        "",
        "| backend | wall s | clips/s | peak RSS MB |",
        "|---|---|---|---|",
    ] + [
        f"| {b} | {r['seconds']:,.1f} | {r['clips_per_second']:,.1f} | {r['peak_rss_mb']:,.0f} |"
        for b, r in cold.items()
    ]
    local = cold["local pool"]["clips_per_second"]
    per_worker = cold["dask cluster"]["clips_per_second"] / 2  # the bench's two workers
    hours = [
        f"2 cores (local pool): {(total_1m + MILLION / local) / 3600:,.1f} h "
        f"({MILLION / local / 3600:,.1f} h of it cold featurization)"
    ] + [
        f"{k} Dask workers of this speed: {(total_1m + MILLION / (k * per_worker)) / 3600:,.1f} h"
        for k in workers
    ]
    table += [
        "",
        "A 1M-clip release end to end (every stage above extrapolated, plus featurization with an "
        "empty cache): " + "; ".join(hours) + ".",
    ]
    return table


def again(out: Path, stages: list[str], sizes: list[int]) -> None:
    """Re-measure some stages at some sizes in the projects the last full run left in `out`."""
    path = ROOT / "bench" / "out" / "scale.json"
    data = json.loads(path.read_text())
    for n in sizes:
        for stage in stages:
            data["stages"][stage][str(n)] = timed(stage, out / f"project-{n}")
            print(f"N={n:,} {stage}: {data['stages'][stage][str(n)]}", flush=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    table = render(data)
    (path.parent / "scale.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("--sizes", default="4000,16000,64000")
    parser.add_argument("--out", type=Path, default=Path("/tmp/gra-scale"))
    parser.add_argument("--families", default="logreg,svm,random_forest,mlp")
    parser.add_argument("--cold-clips", type=int, default=500)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="add these sizes to bench/out/scale.json instead of starting a new one",
    )
    parser.add_argument("--render", type=Path, help="only print the tables of this scale.json")
    parser.add_argument(
        "--again",
        default=None,
        help="comma-separated stages to measure again in the projects of the last run (after "
        "a change to them); their figures replace those in bench/out/scale.json",
    )
    args = parser.parse_args()
    if args.render:
        print("\n".join(render(json.loads(args.render.read_text()))))
        return
    if args.again:
        again(args.out, args.again.split(","), [int(s) for s in args.sizes.split(",")])
        return
    cold = cold_featurize(args.source, args.out, args.cold_clips) if args.cold_clips else {}
    sizes = [int(s) for s in args.sizes.split(",")]
    families = args.families.split(",")
    stages = STAGES + [f"train {f}" for f in families] + ["evaluate"]
    cache = args.out / "cache"  # shared: replicated clips hit the entries of their original
    results: dict[str, dict[int, dict]] = {stage: {} for stage in stages}
    # Untimed: extract every distinct clip once, so each size's featurize is warm.
    warm = args.out / "project-warm"
    rows = replicate(
        args.source, args.out / "corpus-warm", min(max(sizes), source_rows(args.source))
    )
    make_project(warm, args.out / "corpus-warm", cache, families)
    print(f"warming the feature cache: {rows:,} distinct clips (cold extraction)", flush=True)
    for stage in ("ingest", "validate", "split", "featurize"):
        timed(stage, warm)
    for n in sizes:
        corpus = args.out / f"corpus-{n}"
        rows = replicate(args.source, corpus, n)
        project = args.out / f"project-{n}"
        make_project(project, corpus, cache, families)
        for stage in stages:
            results[stage][n] = timed(stage, project)
            print(f"N={rows:,} {stage}: {results[stage][n]}", flush=True)
    data = {"sizes": sizes, "stages": results, "cold_featurize": cold}
    data = json.loads(json.dumps(data))  # sizes as strings, as when read back
    previous = ROOT / "bench" / "out" / "scale.json"
    if args.merge and previous.exists():
        old = json.loads(previous.read_text())
        for stage, by_n in data["stages"].items():
            old["stages"].setdefault(stage, {}).update(by_n)
        old["sizes"] = sorted(set(old["sizes"]) | set(sizes))
        old["cold_featurize"] = cold or old.get("cold_featurize", {})
        data = old
    table = render(data)
    print("\n".join(table))
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / "scale.md").write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
