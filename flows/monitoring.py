"""Prefect flow `monitor`: the drift report of the served model (`gra monitor`), kept as a Prefect
artifact; when drift is found and `monitoring.retrain_on_drift` is on, it starts the `training`
flow (the DVC pipeline on the current data.sources, then the gate).

    python flows/monitoring.py          # one run on a temporary local Prefect API
    gra schedule                        # served every monitoring interval, with retraining
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "flows"))  # the training flow lives beside this file

from training import _env, training  # noqa: E402

NO_VERDICT = 3  # `gra monitor` exit code: too few logged answers


@task(name="drift-report")
def drift_report() -> dict:
    """`gra monitor --format json` in the project: the Evidently report and its summary."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "gra"), "monitor", "--format", "json"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
    )
    if proc.returncode not in (0, NO_VERDICT):
        raise RuntimeError(f"gra monitor failed:\n{proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout)


def drift_markdown(summary: dict) -> str:
    from gra.monitoring.drift import headline, label_mix

    if summary.get("drift_detected") is None:
        return f"# GRA drift\n\nNo verdict: {summary['message']}"
    verdict = "**drift detected**" if summary["drift_detected"] else "no drift"
    lines = [
        "# GRA drift",
        "",
        f"{verdict}: {headline(summary)}.",
        "",
        "| task | answers now | in training |",
        "|---|---|---|",
    ]
    for task_name, p in summary["prediction_drift"].items():
        drifted = " (drifted)" if p["drifted"] else ""
        lines.append(
            f"| {task_name}{drifted} | {label_mix(p['current'])} | {label_mix(p['reference'])} |"
        )
    if summary["drifted_columns"]:
        lines += ["", "Drifted columns: " + ", ".join(summary["drifted_columns"])]
    lines += ["", f"Evidently report: `{summary['report']}`"]
    return "\n".join(lines)


@flow(name="monitor", log_prints=True)
def monitor(retrain_on_drift: bool | None = None) -> dict:
    """Measure drift; retrain when it is found and retraining on drift is on (params, or the
    argument). Returns the drift summary, with "retrained" when the training flow ran."""
    from gra.config import load_settings

    logger = get_run_logger()
    summary = drift_report()
    create_markdown_artifact(
        markdown=drift_markdown(summary), key="gra-drift", description="GRA drift report"
    )
    if summary.get("drift_detected") is None:
        logger.info("no verdict: %s", summary["message"])
        return summary
    logger.info(
        "drift %s: %s of %s columns; report %s",
        "detected" if summary["drift_detected"] else "not detected",
        len(summary["drifted_columns"]),
        summary["columns_tested"],
        summary["report"],
    )
    if retrain_on_drift is None:
        retrain_on_drift = load_settings(ROOT / "params.yaml").monitoring.retrain_on_drift
    if summary["drift_detected"] and retrain_on_drift:
        logger.info("drift found and retraining on drift is on: starting the training flow")
        state = training(refresh_sources=True, return_state=True)
        summary["retrained"] = {"completed": state.is_completed(), "message": state.message}
    return summary


if __name__ == "__main__":
    result = monitor()
    print(json.dumps({k: v for k, v in result.items() if k != "prediction_drift"}, indent=2))
