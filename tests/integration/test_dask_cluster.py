"""Featurization on a real Dask cluster: a `dask scheduler` and two `dask worker` processes on
127.0.0.1, started as a user would start them, separate from this (client) process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gra.errors import UserError
from gra.features.pipeline import featurize

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 60


@dataclass
class Cluster:
    address: str
    workers: dict[str, str]  # name -> worker address
    folders: dict[str, Path]  # name -> the folder the worker runs in
    client: object  # distributed.Client, to look at what the cluster did


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONWARNINGS="ignore", DASK_DISTRIBUTED__WORKER__DAEMON="False")


def _start(cmd: list[str], cwd: Path, log: Path, procs: list[subprocess.Popen]) -> None:
    with open(log, "wb") as out:
        procs.append(
            subprocess.Popen(
                [str(c) for c in cmd],
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_env(),
                start_new_session=True,  # its own process group: the finalizer ends it all
            )
        )


def _stop(procs: list[subprocess.Popen]) -> None:
    """Workers first, each gone before the next, then the scheduler: a worker told to stop
    says goodbye to its scheduler, and waits for it if it is already gone."""
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _scheduler(root: Path, procs: list[subprocess.Popen]) -> str:
    """A scheduler on a free port (the OS picks it); its address."""
    info = root / "scheduler.json"
    _start(
        [BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        + ["--scheduler-file", info],
        root,
        root / "scheduler.log",
        procs,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not info.exists() or not info.read_text().strip():
        if procs[-1].poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((root / "scheduler.log").read_text()[-3000:])
        time.sleep(0.1)
    return json.loads(info.read_text())["address"]


def _wait_for(address: str, names: set[str]):
    from distributed import Client

    client = Client(address, timeout=START_TIMEOUT_S, set_as_default=False)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        workers = {w["name"]: a for a, w in client.scheduler_info()["workers"].items()}
        if names <= set(workers):
            return client, workers
        if time.monotonic() > deadline:
            client.close()
            raise RuntimeError(f"workers {names - set(workers)} did not join {address}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, request) -> Cluster:
    root = tmp_path_factory.mktemp("dask")
    procs: list[subprocess.Popen] = []
    request.addfinalizer(lambda: _stop(procs))
    address = _scheduler(root, procs)
    folders = {}
    for name in ("worker-a", "worker-b"):
        folders[name] = root / name
        folders[name].mkdir()
        _start(
            [BIN / "dask", "worker", address, "--name", name, "--host", "127.0.0.1"]
            + ["--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
            + ["--local-directory", root / f"{name}-scratch"],
            folders[name],
            root / f"{name}.log",
            procs,
        )
    client, workers = _wait_for(address, set(folders))
    request.addfinalizer(client.close)
    return Cluster(address, workers, folders, client)


def _manifest(paths: list[Path | str]) -> pd.DataFrame:
    return pd.DataFrame({"clip_id": [Path(p).stem for p in paths], "path": [str(p) for p in paths]})


def _demo_clips(demo_corpus: Path, n: int) -> list[Path]:
    """n clips of the demo corpus, every format it has."""
    by_format: dict[str, list[Path]] = {}
    for path in sorted(demo_corpus.glob("*/clips/*")):
        by_format.setdefault(path.suffix, []).append(path)
    mixed = [p for group in zip(*by_format.values(), strict=False) for p in group]
    return mixed[:n]


def test_featurize_on_the_cluster_matches_the_local_pool(cluster, demo_corpus, tmp_path, settings):
    from distributed import get_task_stream

    clips = _demo_clips(demo_corpus, 6)
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"OggS" + os.urandom(3000))  # starts like Ogg, then garbage
    missing = tmp_path / "missing.mp3"
    manifest = _manifest([*clips[:3], broken, missing, *clips[3:]])
    pool = settings.featurize.model_copy(update={"workers": 2, "chunk_size": 2})
    local = featurize(manifest, settings.audio, pool, tmp_path / "local-cache")

    on_dask = pool.model_copy(update={"dask_address": cluster.address})
    done: list[int] = []
    with get_task_stream(client=cluster.client) as stream:
        table = featurize(
            manifest, settings.audio, on_dask, tmp_path / "dask-cache", progress=done.append
        )
    chunks = [t for t in stream.data if t["key"].startswith("extract_chunk")]
    assert len(chunks) == 4  # 7 clips to extract, 2 a chunk ...
    assert {t["worker"] for t in chunks} == set(cluster.workers.values())  # ... on both workers
    # Progress: the missing clip at once, then each chunk as it came back; it reaches the total.
    assert sum(done) == len(manifest) and len(done) == 1 + 4
    assert (
        table.stats
        == local.stats
        == {
            "clips": 8,
            "cache_hits": 0,
            "extracted": 7,
            "quarantined": 2,
        }
    )
    pd.testing.assert_frame_equal(local.vectors, table.vectors)
    np.testing.assert_array_equal(local.patches, table.patches)
    pd.testing.assert_frame_equal(local.quarantine, table.quarantine)
    reasons = table.quarantine.set_index("clip_id").reason
    assert reasons["broken"].startswith("CorruptAudio: ")
    assert "cannot read" in reasons["missing"]

    # The results were cached by this process: the same run again needs no cluster at all.
    unreachable = on_dask.model_copy(update={"dask_address": "tcp://127.0.0.1:9"})
    again = featurize(manifest, settings.audio, unreachable, tmp_path / "dask-cache")
    assert again.stats["cache_hits"] == 7
    pd.testing.assert_frame_equal(again.vectors, table.vectors)


def _visible_to(folder: Path, clip: Path, name: str) -> str:
    """A path this process and a worker running in `folder` can read, the other worker not.

    /proc/self/cwd/... is an absolute path each process resolves in its own working directory:
    the one way on a single machine, without privileges, to have a clip that exists at a path
    for some processes and not others, as when the data is not mounted on some worker."""
    (folder / "clips").mkdir(exist_ok=True)
    shutil.copy(clip, folder / "clips" / name)
    return f"/proc/self/cwd/clips/{name}"


def test_a_worker_that_cannot_read_the_clips_is_named_before_any_work(
    cluster, demo_corpus, tmp_path, settings, monkeypatch
):
    from distributed import get_task_stream

    folder = cluster.folders["worker-a"]
    path = _visible_to(folder, _demo_clips(demo_corpus, 1)[0], "seen-by-a.mp3")
    monkeypatch.chdir(folder)  # this process sees the clip where worker-a does
    on_dask = settings.featurize.model_copy(update={"dask_address": cluster.address})
    with get_task_stream(client=cluster.client) as stream, pytest.raises(UserError) as error:
        featurize(_manifest([path]), settings.audio, on_dask, tmp_path / "cache")
    message = str(error.value)
    assert "Dask worker worker-b" in message and cluster.workers["worker-b"] in message
    assert "worker-a" not in message
    assert f"cannot read {path} (No such file or directory)" in message
    assert "mount the data on every worker at the same path" in message
    assert not stream.data  # nothing was sent


def test_a_clip_a_worker_cannot_read_is_quarantined_not_cached(
    cluster, demo_corpus, tmp_path, settings, monkeypatch
):
    """A clip this process reads but no worker can (past the sample check) is quarantined with
    the reason, as locally, and not cached: once it is readable, the next run extracts it."""
    clips = _demo_clips(demo_corpus, 3)
    monkeypatch.chdir(tmp_path)  # where neither worker runs
    hidden = _visible_to(tmp_path, clips[1], "hidden.mp3")
    # The sample check reads the first and the last clip: both are visible everywhere.
    manifest = _manifest([clips[0], hidden, clips[2]])
    on_dask = settings.featurize.model_copy(
        update={"dask_address": cluster.address, "chunk_size": 1}
    )
    table = featurize(manifest, settings.audio, on_dask, tmp_path / "cache")
    reason = table.quarantine.set_index("clip_id").reason["hidden"]
    assert reason.startswith(f"FileNotFoundError: cannot read {hidden} on ")
    assert len(table.vectors) == 2

    inline = on_dask.model_copy(update={"dask_address": None, "workers": 1})
    again = featurize(manifest, settings.audio, inline, tmp_path / "cache")
    assert again.stats["cache_hits"] == 2 and again.stats["extracted"] == 1
    assert again.quarantine.empty


def test_no_scheduler_no_workers_and_a_worker_without_gra_are_clear_errors(
    tmp_path, settings, demo_corpus, monkeypatch
):
    import gra.parallel

    monkeypatch.setattr(gra.parallel, "CONNECT_TIMEOUT_S", 1)
    monkeypatch.setattr(gra.parallel, "WORKERS_TIMEOUT_S", 1)
    manifest = _manifest(_demo_clips(demo_corpus, 1))

    def run(address: str) -> str:
        on_dask = settings.featurize.model_copy(update={"dask_address": address})
        with pytest.raises(UserError) as error:
            featurize(manifest, settings.audio, on_dask, tmp_path / "cache")
        return str(error.value)

    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in run("tcp://127.0.0.1:9")
    procs: list[subprocess.Popen] = []
    try:
        address = _scheduler(tmp_path, procs)
        assert f"has no workers (waited 1 s): start some with `dask worker {address}`" in run(
            address
        )
        # A worker whose Python cannot import gra: its import path stripped of GRA's source.
        launcher = (
            "import os, sys\n"
            "sys.path[:] = [p for p in sys.path"
            " if not os.path.exists(os.path.join(p or '.', 'gra', '__init__.py'))]\n"
            "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
            "from distributed.cli.dask_worker import main\n"
            "main()\n"
        )
        _start(
            [sys.executable, "-c", launcher, address, "--name", "no-gra", "--no-nanny"]
            + ["--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]
            + ["--local-directory", tmp_path / "scratch"],
            tmp_path,
            tmp_path / "no-gra.log",
            procs,
        )
        client, workers = _wait_for(address, {"no-gra"})
        client.close()
        message = run(address)
        assert f"Dask worker no-gra ({workers['no-gra']})" in message
        assert "cannot import gra.features.extract: ModuleNotFoundError" in message
        assert "Install GRA" in message and sys.executable in message
    finally:
        _stop(procs)
