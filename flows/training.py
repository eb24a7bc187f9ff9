"""Prefect flow `training`: runs the DVC pipeline stage by stage as Prefect tasks.

Arrangement: DVC decides *what* is stale and records *what* was built (dvc.lock); Prefect runs
each stage as a task (`dvc repro --single-item <stage>`), with logs, retries for transient
failures and a markdown artifact of the metrics. After a run, `dvc status` is clean and a plain
`dvc repro` changes nothing, because every stage was run by DVC itself.

    python flows/training.py                 # run once (temporary local Prefect API)
    gra schedule                             # serve it on schedule.retrain_cron (flows/schedule.py)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Before Prefect is imported, as `make` would set them: the project's Prefect home and model
# store, and no telemetry (which fails offline and fills the log with errors).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
from gra.store import use_project_homes  # noqa: E402

use_project_homes(ROOT)

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402

# DVC's closing hints, printed by every `dvc repro --single-item`: said once by the flow, not
# once per stage.
DVC_HINTS = (
    "To track the changes with git",
    "git add dvc.lock",
    "To enable auto staging",
    "dvc config core.autostage",
    "Use `dvc push` to send",
)


# What a retry can fix: the machine or the network, not the data, the settings or the
# environment (an import error, a missing library, a failed validation repeat exactly).
TRANSIENT = (
    "ConnectionError",
    "ConnectionResetError",
    "TimeoutError",
    "BrokenProcessPool",
    "Unable to acquire lock",  # DVC: another dvc command holds the repository
    "MemoryError",
    "exited with -9",  # killed (out of memory)
)


class StageFailed(RuntimeError):
    """A DVC stage exited non-zero. The message is its cause (gra's `error:` lines, else the
    exception that ended it, else the output's tail) and what to do; the whole output is in
    the task's log above."""

    def __init__(self, stage: str, output: str):
        lines = [line for line in output.strip().splitlines() if line.strip()]
        self.stage = stage
        self.transient = any(marker in output for marker in TRANSIENT)
        self.cause = _cause(lines)
        fix = _fix(stage, output)
        super().__init__(f"stage {stage} failed: {self.cause}" + (f"\n{fix}" if fix else ""))


def _cause(lines: list[str]) -> str:
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    if errors:  # gra's own message: what was wrong and what to do
        return "\n".join(errors)
    exception = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", line)]
    if exception:
        return exception[-1]
    dvc = [line.removeprefix("ERROR:").strip() for line in lines if line.startswith("ERROR:")]
    return dvc[-1] if dvc else "\n".join(lines[-5:])


def _fix(stage: str, output: str) -> str | None:
    """What to do, where gra's own message does not say it."""
    if re.search(r"exited with (-11|139)\b", output):  # SIGSEGV in native code
        return (
            "what to do: a native library crashed (segmentation fault); README: "
            "Troubleshooting lists the known cases (numba on AMD Zen 4 and others)"
        )
    if "error:" in output:
        return None
    return f"what to do: read the output of task {stage!r} above, or run `dvc repro {stage}`"


class GateRefused(RuntimeError):
    """The gate stage ran (or was up to date) and its record says nothing was promoted."""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Stage commands (`gra ...`) live next to this interpreter, whatever PATH says.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _dvc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
    )


def stages() -> list[str]:
    """Pipeline stages in dvc.yaml order (which is dependency order), foreach items expanded."""
    listed = _dvc("stage", "list", "--name-only")
    if listed.returncode:
        raise RuntimeError(f"dvc stage list failed: {listed.stderr}")
    return [line.strip() for line in listed.stdout.splitlines() if line.strip()]


def _transient(task, task_run, state) -> bool:
    """Retry only what a retry can fix (TRANSIENT): data, settings and environment errors
    repeat exactly."""
    try:
        state.result()
    except StageFailed as exc:
        return exc.transient
    except Exception:  # noqa: BLE001
        return False
    return False


@task(
    name="dvc-stage",
    retries=1,
    retry_delay_seconds=5,
    retry_condition_fn=_transient,
    task_run_name="{stage}",
)
def run_stage(stage: str, force: bool = False) -> str:
    """`dvc repro --single-item STAGE`: runs it only if its deps or params changed (or always,
    with force)."""
    logger = get_run_logger()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "--single-item", *(["-f"] if force else []), stage],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        text = line.rstrip()
        if text and "\r" not in line and not any(h in text for h in DVC_HINTS):
            logger.info(text)
    output = "".join(lines)
    if proc.wait():
        raise StageFailed(stage, output)
    return "skipped" if "didn't change, skipping" in output else "ran"


def metrics_markdown(evaluation: dict, gate: dict | None) -> str:
    from gra.evaluation import METRICS_HEADERS, markdown_table, metrics_rows

    lines = [
        "# GRA training run",
        "",
        "Test split, speakers disjoint from training. Winner (*) chosen by speaker-grouped "
        "cross-validation (CV: mean ± spread of the selection metric over the folds).",
        "",
        *markdown_table(METRICS_HEADERS, metrics_rows(evaluation)),
    ]
    if gate:
        verdict = f"champion `{gate['promoted']}`" if gate["passed"] else "failed"
        lines += ["", f"Gate: {verdict}."] + [f"- {r}" for r in gate["reasons"]]
    return "\n".join(lines)


@task(name="bento-build")
def build_bento() -> str:
    """`gra build`: pack the new champion into a bento (schedule.build_bento)."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "gra"), "build"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"gra build failed:\n{proc.stderr.strip()[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


@flow(name="training", log_prints=True)
def training(refresh_sources: bool = False) -> dict:
    """Run every stale DVC stage in order; fail (and promote nothing) if any stage fails.
    After a promotion, build the bento when schedule.build_bento is on.

    refresh_sources re-reads data.sources even when DVC sees no change (sources outside
    data/raw): scheduled retraining sets it, so new clips are picked up; when the manifest comes
    out the same, the later stages are skipped as usual."""
    from gra.config import load_settings

    outcome = {
        stage: run_stage(stage, force=refresh_sources and stage == "ingest") for stage in stages()
    }
    settings = load_settings(ROOT / "params.yaml")
    reports = ROOT / settings.paths.reports  # relative paths in params are from the root
    evaluation = json.loads((reports / "evaluation.json").read_text())
    gate_file = reports / "gate.json"
    gate = json.loads(gate_file.read_text()) if gate_file.exists() else None
    create_markdown_artifact(
        markdown=metrics_markdown(evaluation, gate),
        key="gra-metrics",
        description="GRA test metrics and gate decision",
    )
    from gra.cli import print_metrics

    print_metrics(evaluation)
    if gate:
        print(f"gate: {'passed, champion ' + gate['promoted'] if gate['passed'] else 'failed'}")
        if not gate["passed"]:
            # The DVC stage records a refusal and exits 0 (so `dvc exp run` keeps the
            # experiment); a training run that promoted nothing still fails.
            raise GateRefused(
                "evaluation gate failed, nothing promoted:\n  " + "\n  ".join(gate["reasons"])
            )
    promoted = (
        outcome.get("gate") == "ran" and gate and gate.get("promotion", "new") != "already champion"
    )
    bento = None
    if promoted and settings.schedule.build_bento:
        bento = build_bento()
        print(bento)
    return {"stages": outcome, "gate": gate, "bento": bento}


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    state = training(return_state=True)
    if not state.is_completed():
        # The last lines say why and what to do (Prefect's log above has the whole story).
        cause = state.result(raise_on_failure=False)
        print(
            f"\ntraining failed: {cause if isinstance(cause, Exception) else state.message}",
            file=sys.stderr,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
