"""The `gra` command: thin wrappers over gra.steps, with readable errors instead of tracebacks."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gra.errors import UserError

# Quiet third-party chatter before any of them is imported.
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

app = typer.Typer(
    help="GRA: gender and age recognition from voice (Common Voice -> served champion).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
ParamsOption = Annotated[Path, typer.Option("--params", help="Settings file.")]


def _friendly(fn: Callable) -> Callable:
    """Print a UserError's message and exit 1; anything else keeps its traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def _settings(params: Path):
    from gra.config import load_settings

    return load_settings(params)


@app.command("demo-data")
@_friendly
def demo_data(
    out: Annotated[Path, typer.Option(help="Folder to write the corpus to.")] = Path(
        "data/raw/demo"
    ),
    seed: Annotated[int, typer.Option(help="Same seed, same corpus.")] = 0,
    speakers_per_class: int = 12,
    clips_per_speaker: int = 4,
) -> None:
    """Write the synthetic demo corpus (Common Voice layout). It proves plumbing, not accuracy."""
    from gra.data.demo import make_demo_corpus
    from gra.progress import bar

    total = speakers_per_class * 12 * clips_per_speaker
    with bar("demo corpus", total) as advance:
        summary = make_demo_corpus(
            out,
            seed=seed,
            speakers_per_class=speakers_per_class,
            clips_per_speaker=clips_per_speaker,
            progress=lambda _done, total: advance(1, total),
        )
    console.print(
        f"wrote {summary.clips} clips from {summary.speakers} synthetic speakers to "
        f"{summary.root} in {summary.seconds:.1f} s (synthetic: not for accuracy claims)"
    )


@app.command()
@_friendly
def ingest(params: ParamsOption = Path("params.yaml")) -> None:
    """Read data.sources into the manifest; count every skipped row."""
    from gra.steps import ingest as step

    result = step.run(_settings(params))
    for r in result.reports:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(r.skipped.items())) or "none"
        console.print(
            f"{r.source} ({r.layout}): {r.rows_read} rows, kept {r.rows_kept}, skipped: {skipped}"
        )
        for w in r.warnings:
            console.print(f"[yellow]warning:[/] {w}")


@app.command()
@_friendly
def validate(
    params: ParamsOption = Path("params.yaml"),
    features: Annotated[bool, typer.Option("--features", help="Check the feature table.")] = False,
) -> None:
    """Great Expectations checks on the manifest (or, with --features, the feature table)."""
    from gra.steps import validate as step

    settings = _settings(params)
    report = step.features(settings) if features else step.manifest(settings)
    console.print(f"{report.suite}: {len(report.checks)} checks passed on {report.rows} rows")


@app.command()
@_friendly
def split(params: ParamsOption = Path("params.yaml")) -> None:
    """Assign speakers to train/val/test by a salted hash of their client_id."""
    from gra.steps import split as step

    _, report = step.run(_settings(params))
    console.print(f"clips {report.clips}, speakers {report.speakers}")
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}")


@app.command()
@_friendly
def featurize(params: ParamsOption = Path("params.yaml")) -> None:
    """Extract features for every clip (parallel, cached); quarantine clips that fail."""
    from gra.steps import featurize as step

    table = step.run(_settings(params))
    s = table.stats
    console.print(
        f"{len(table.vectors)} clips featurised ({s['cache_hits']} from cache), "
        f"{s['quarantined']} quarantined"
    )


@app.command()
@_friendly
def train(
    family: Annotated[str, typer.Argument(help="svm, random_forest or cnn")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Fit one model family for each task."""
    from gra.steps import train as step

    summary = step.run(_settings(params), family)
    for task, t in summary["tasks"].items():
        console.print(f"{family}/{task}: {t['train_clips']} clips, {t['seconds']} s")


@app.command()
@_friendly
def evaluate(params: ParamsOption = Path("params.yaml")) -> None:
    """Score candidates on val and test; pick each task's winner on val."""
    from gra.steps import evaluate as step

    result = step.run(_settings(params))
    print_metrics(result)


@app.command()
@_friendly
def gate(params: ParamsOption = Path("params.yaml")) -> None:
    """Promote the winners to the BentoML store if they pass the evaluation gate."""
    from gra.steps import gate as step

    result = step.run(_settings(params))
    console.print(f"[green]gate passed[/]: champion is now {result.tag}")


@app.command()
@_friendly
def champion(params: ParamsOption = Path("params.yaml")) -> None:
    """Show the current champion in the BentoML model store."""
    from gra.registry import current_champion

    champ = current_champion(_settings(params).gate.model_name)
    if champ is None:
        console.print("no champion yet: run the pipeline (make demo / dvc repro)")
        raise typer.Exit(1)
    console.print(
        f"{champ.tag}: " + ", ".join(f"{t}={v['family']}" for t, v in champ.info["tasks"].items())
    )
    console.print_json(data=champ.info["metrics"])


@app.command()
@_friendly
def rollback(params: ParamsOption = Path("params.yaml")) -> None:
    """Delete the current champion so the previous one serves again."""
    from gra.registry import rollback as do_rollback

    after = do_rollback(_settings(params).gate.model_name)
    console.print(f"champion is now {after or 'none'}")


def print_metrics(result: dict) -> None:
    """The readable metrics table: every candidate's test scores, winner marked."""
    table = Table(title="Test split (speaker-disjoint); winner chosen on validation")
    for col in ("task", "model", "bal. acc", "accuracy", "macro F1", "MAE groups", "within 1"):
        left = col in ("task", "model")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for task, r in result["tasks"].items():
        for family, scores in r["candidates"].items():
            t = scores["test"]
            mark = " *" if family == r["winner"] else ""
            table.add_row(
                task,
                family + mark,
                f"{t['balanced_accuracy']:.3f}",
                f"{t['accuracy']:.3f}",
                f"{t['macro_f1']:.3f}",
                f"{t['mae_groups']:.2f}" if "mae_groups" in t else "",
                f"{t['within_one_group']:.3f}" if "within_one_group" in t else "",
            )
    Console().print(table)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
