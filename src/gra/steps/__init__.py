"""Pipeline steps, one per module. Each reads its inputs from files, writes its outputs, and
returns a small typed result. The `gra` CLI, `dvc.yaml` and Prefect flows all call these."""
