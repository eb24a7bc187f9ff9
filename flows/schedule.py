"""Serve GRA's two deployments on Prefect: `retraining` (the `training` flow) on the cron
`schedule.retrain_cron`, and `monitoring` (the `monitor` flow) every
`schedule.monitor_every_minutes`. `gra schedule` runs this with a Prefect server (the local one it
starts, or PREFECT_API_URL), because schedules fire only where a server's scheduler runs.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "flows"))

from gra.config import ScheduleSettings, load_settings  # noqa: E402

from monitoring import monitor  # noqa: E402
from training import training  # noqa: E402

RETRAINING = "retraining"
MONITORING = "monitoring"


def deployments(schedule: ScheduleSettings) -> list:
    """The two deployments with their schedules (entrypoints relative to the project root)."""
    from prefect.schedules import Cron, Interval

    return [
        training.to_deployment(
            name=RETRAINING,
            schedule=Cron(schedule.retrain_cron, timezone=schedule.timezone),
            parameters={"refresh_sources": True},
            description="dvc repro on the current data.sources, then the evaluation gate",
        ),
        monitor.to_deployment(
            name=MONITORING,
            schedule=Interval(timedelta(minutes=schedule.monitor_every_minutes)),
            description="Evidently drift of the logged answers; retrains on drift if enabled",
        ),
    ]


def main() -> None:
    from prefect import serve

    serve(*deployments(load_settings(ROOT / "params.yaml").schedule))


if __name__ == "__main__":
    main()
