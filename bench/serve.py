"""Benchmark of the HTTP service on real 5-second Common Voice clips (prints figures).

- sequential: one client, one request at a time: p50/p95/mean latency of POST /predict.
- concurrent: 16 clients posting as fast as they can for 30 s: throughput, latency under
  load, and the error count (anything but HTTP 200).
- in-process: the same clips through `Predictor.predict` without HTTP, split into decode +
  VAD (+ noise gate), features and models, to show where the time goes.
- inference log: the sequential and concurrent phases run twice in one go, with the inference
  log off and on (a temporary log file), so the cost of logging is measured side by side.

It starts `gra serve` itself on a free port with the champion in the BentoML store
(BENTOML_HOME), or measures a running service given with --url. Run from the repository root:

    python bench/serve.py ../shared/cv-real-dev [--clips 60] [--seconds 30] [--clients 16]
                          [--logging both|on|off] [--rounds 1]

Figures are also written to bench/out/serve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

OUT = Path("bench/out/serve.json")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="Common Voice folder (<locale>/clips/*.mp3)")
    parser.add_argument("--clips", type=int, default=60, help="5-second clips to use")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests")
    parser.add_argument("--seconds", type=float, default=30.0, help="concurrent phase length")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--url", help="measure this running service instead of starting one")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument(
        "--logging", choices=["both", "on", "off"], default="both", help="inference log"
    )
    parser.add_argument("--rounds", type=int, default=1, help="off/on pairs, interleaved")
    return parser.parse_args()


def params_with_logging(params: Path, on: bool, log_file: Path) -> Path:
    """A copy of the params with the inference log on (to `log_file`) or off."""
    import yaml

    values = yaml.safe_load(params.read_text())
    values.setdefault("monitoring", {}).update(log_requests=on, log_path=str(log_file))
    out = Path(tempfile.mkstemp(prefix="gra-bench-params-", suffix=".yaml")[1])
    out.write_text(yaml.safe_dump(values, sort_keys=False))
    return out


def five_second_clips(source: Path, count: int) -> list[tuple[str, bytes]]:
    """The `count` mp3 clips closest to 5.0 s, spread over locales (sorted for repeatability)."""
    import soundfile as sf

    candidates = []
    for path in sorted(source.glob("*/clips/*.mp3")):
        duration = sf.info(str(path)).duration
        if 4.5 <= duration <= 5.5:
            candidates.append((abs(duration - 5.0), path))
    if len(candidates) < count:
        sys.exit(f"only {len(candidates)} clips of 4.5-5.5 s under {source}")
    chosen = sorted(candidates)[:count]
    return [(p.name, p.read_bytes()) for _, p in sorted(chosen, key=lambda c: c[1])]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def start_service(params: Path) -> tuple[subprocess.Popen, str, Path]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = Path(tempfile.mkstemp(prefix="gra-bench-serve-", suffix=".log")[1])
    gra = str(Path(sys.executable).parent / "gra")
    proc = subprocess.Popen(
        [gra, "serve", "--port", str(port), "--params", str(params)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return proc, f"http://127.0.0.1:{port}", log


def wait_ready(url: str, proc: subprocess.Popen | None, log: Path | None) -> None:
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"the service exited:\n{log.read_text()[-2000:] if log else ''}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("the service did not become ready in 180 s")


def sequential(url: str, clips: list[tuple[str, bytes]], n: int) -> list[float]:
    import httpx

    times = []
    with httpx.Client(timeout=60) as client:
        for name, data in clips[:5]:  # warm-up, not counted
            client.post(url + "/predict", files={"audio": (name, data)})
        for i in range(n):
            name, data = clips[i % len(clips)]
            start = time.perf_counter()
            response = client.post(url + "/predict", files={"audio": (name, data)})
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code} {response.text[:200]}")
    return times


def concurrent(url: str, clips: list[tuple[str, bytes]], clients: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(offset: int) -> None:
        with httpx.Client(timeout=120) as client:
            i = offset
            while time.monotonic() < stop_at:
                name, data = clips[i % len(clips)]
                i += clients
                start = time.perf_counter()
                try:
                    response = client.post(url + "/predict", files={"audio": (name, data)})
                    ok = response.status_code == 200
                    detail = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, detail = False, type(exc).__name__
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    (latencies.append(elapsed) if ok else errors.append(f"{name}: {detail}"))

    started = time.monotonic()
    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "completed": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:5],
        "throughput_per_s": round(len(latencies) / wall, 1),
        **summary(latencies),
    }


def measure_service(params: Path, url: str | None, args, clips) -> dict:
    """Sequential and concurrent phases against a service started with `params` (or `url`)."""
    proc = log = None
    if url is None:
        proc, url, log = start_service(params)
    try:
        wait_ready(url, proc, log)
        info = __import__("httpx").get(url + "/info").json()
        seq = summary(sequential(url, clips, args.requests))
        conc = concurrent(url, clips, args.clients, args.seconds)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    return {"info": info, "sequential": seq, "concurrent": conc}


def in_process_logging(params: Path, clips: list[tuple[str, bytes]], log_file: Path) -> dict:
    """`Predictor.predict` per clip with the inference log off and on, interleaved."""
    import torch
    from threadpoolctl import threadpool_limits

    from gra.config import load_settings
    from gra.monitoring.log import InferenceLog
    from gra.serving.predictor import Predictor

    torch.set_num_threads(1)
    settings = load_settings(params)
    predictor = Predictor.from_settings(settings, log=False)
    log = InferenceLog(log_file, settings.monitoring)
    times: dict[str, list[float]] = {"off": [], "on": []}
    with threadpool_limits(1):
        predictor.predict(clips[0][1])  # warm-up
        for _, data in clips:
            for mode in ("off", "on"):
                predictor.log = log if mode == "on" else None
                start = time.perf_counter()
                predictor.predict(data)
                times[mode].append((time.perf_counter() - start) * 1000)
    return {mode: summary(ms) for mode, ms in times.items()}


def in_process(params: Path, clips: list[tuple[str, bytes]]) -> dict:
    """Stage times without HTTP, one thread (a server worker runs one request per core)."""
    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    from gra.audio import detect_speech, windows
    from gra.config import load_settings
    from gra.serving.predictor import Predictor

    torch.set_num_threads(1)
    predictor = Predictor.from_settings(load_settings(params), log=False)
    audio = predictor.audio
    stages: dict[str, list[float]] = {"decode+vad+denoise": [], "features": [], "models": []}
    with threadpool_limits(1):
        predictor.predict(clips[0][1])  # warm-up
        for _, data in clips:
            t0 = time.perf_counter()
            speech = detect_speech(data, audio, predictor.serve.max_duration_seconds)
            t1 = time.perf_counter()
            rows = [
                predictor.champion.features_of(w, speech.sample_rate)
                for w in windows(speech, audio)
            ]
            t2 = time.perf_counter()
            for row in rows:
                predictor.champion.predict_features(row)
            t3 = time.perf_counter()
            for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                stages[key].append(value * 1000)
    total = [sum(parts) for parts in zip(*stages.values(), strict=True)]
    return {
        "model": predictor.model_tag,
        "families": {t: v["family"] for t, v in predictor.champion.info["tasks"].items()},
        "total": summary(total),
        **{k: round(float(np.mean(v)), 1) for k, v in stages.items()},
    }


def main() -> None:
    from gra.store import use_project_homes

    args = parse_args()
    use_project_homes()  # the same model store as `gra serve` in this checkout
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    clips = five_second_clips(args.source, args.clips)
    print(f"{len(clips)} clips of 4.5-5.5 s from {args.source}; {os.cpu_count()} CPU cores")
    log_dir = Path(tempfile.mkdtemp(prefix="gra-bench-log-"))
    modes = {"both": ["off", "on"], "on": ["on"], "off": ["off"]}[args.logging]
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for _ in range(args.rounds):
        for mode in modes:
            params = params_with_logging(args.params, mode == "on", log_dir / "inference.sqlite")
            print(f"service with the inference log {mode} ...", flush=True)
            run = measure_service(params, args.url, args, clips)
            runs[mode].append(run)
            seq, conc = run["sequential"], run["concurrent"]
            print(
                f"  sequential p50 {seq['p50_ms']} ms; {conc['clients']} clients "
                f"{conc['throughput_per_s']} req/s, p50 {conc['p50_ms']} ms, "
                f"{conc['errors']} errors",
                flush=True,
            )
    local = in_process(args.params, clips)
    local_logging = in_process_logging(args.params, clips, log_dir / "in-process.sqlite")
    info = next(iter(runs.values()))[0]["info"]
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "model": info["model"],
        "families": info["families"],
        "service": {
            mode: [{"sequential": r["sequential"], "concurrent": r["concurrent"]} for r in rs]
            for mode, rs in runs.items()
        },
        "in_process": local,
        "in_process_logging": local_logging,
    }
    families = ", ".join(f"{k}={v}" for k, v in info["families"].items())
    print(f"model {info['model']} ({families})")
    row = "{:<36}{:>6}{:>9}{:>9}{:>9}{:>8}{:>8}"
    print(row.format("phase", "n", "p50 ms", "p95 ms", "mean ms", "req/s", "errors"))
    for mode, rs in runs.items():
        for r in rs:
            seq, conc = r["sequential"], r["concurrent"]
            print(
                row.format(
                    f"sequential /predict, log {mode}",
                    seq["n"],
                    seq["p50_ms"],
                    seq["p95_ms"],
                    seq["mean_ms"],
                    "",
                    0,
                )
            )
            print(
                row.format(
                    f"{conc['clients']} clients {conc['seconds']} s, log {mode}",
                    conc["n"],
                    conc["p50_ms"],
                    conc["p95_ms"],
                    conc["mean_ms"],
                    conc["throughput_per_s"],
                    conc["errors"],
                )
            )
    for mode, t in local_logging.items():
        print(
            row.format(
                f"in-process predict, log {mode}",
                t["n"],
                t["p50_ms"],
                t["p95_ms"],
                t["mean_ms"],
                "",
                "",
            )
        )
    stages = ("decode+vad+denoise", "features", "models")
    print("in-process mean ms: " + ", ".join(f"{k} {local[k]}" for k in stages))
    if set(runs) == {"off", "on"}:

        def mean_of(mode: str, phase: str, key: str) -> float:
            return statistics.fmean(r[phase][key] for r in runs[mode])

        p50 = mean_of("on", "sequential", "p50_ms") / mean_of("off", "sequential", "p50_ms")
        tput = mean_of("on", "concurrent", "throughput_per_s") / mean_of(
            "off", "concurrent", "throughput_per_s"
        )
        print(f"logging on / off: sequential p50 x{p50:.3f}, 16-client throughput x{tput:.3f}")
        result["logging_ratio"] = {"sequential_p50": p50, "throughput": tput}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
