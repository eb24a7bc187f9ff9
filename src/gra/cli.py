"""The `gra` command: thin wrappers over gra.steps, with readable errors instead of tracebacks."""

from __future__ import annotations

import functools
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gra.config import ModelName
from gra.errors import UserError, environment_problem
from gra.store import project_root, use_project_homes

# Before BentoML or Prefect is imported: this project's own model store and Prefect home
# (.gra/bentoml, .gra/prefect) unless BENTOML_HOME / PREFECT_HOME are set.
use_project_homes()
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
    rich_markup_mode=None,  # plain help: flags read as flags (not `<bool>`), fits 80 columns
)
console = Console(stderr=True)
ParamsOption = Annotated[Path, typer.Option("--params", help="Settings file.")]
FAMILIES = get_args(ModelName)  # every model family that exists (config.ModelName)


def _friendly(fn: Callable) -> Callable:
    """Print a UserError's message and exit 1; a broken environment (a package or native
    library that cannot be loaded) gets its traceback and then what to do; anything else keeps
    its traceback."""

    def error(message: str) -> None:
        # escaped: messages name things in brackets ("[column duration]"), not markup
        console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            error(str(exc))
            raise typer.Exit(1) from None
        except (ImportError, OSError) as exc:
            if (problem := environment_problem(exc)) is None:
                raise
            traceback.print_exc()
            error(problem)  # the last line, where a user (and the training flow) looks
            raise typer.Exit(1) from None

    return wrapper


def _settings(params: Path):
    """The project's settings, also from a folder inside the project: then the commands run
    from the project root, where the settings' relative paths (data, models, logs) point."""
    from gra.config import load_settings

    if not params.is_absolute() and not params.exists():
        root = project_root()
        if (root / params).exists():
            os.chdir(root)
    return load_settings(params)


def _detach(output: Path) -> None:
    """A step run by hand (not by `dvc repro`, which removes a stage's outputs first) over
    outputs DVC has linked to its cache (cache.type hardlink/symlink): remove the links, so
    the step writes new files instead of changing the cached copy through them."""
    from gra.disk import detach_links

    if detach_links(output):
        console.print(f"{output}: removed its links into the DVC cache before rewriting it")


@app.command("demo-data")
@_friendly
def demo_data(
    out: Annotated[Path, typer.Option(help="Folder to write the corpus to.")] = Path(
        "data/raw/demo"
    ),
    seed: Annotated[int, typer.Option(help="Same seed, same corpus.")] = 0,
    speakers_per_class: int = 12,
    clips_per_speaker: int = 4,
    only_if_listed: Annotated[
        bool,
        typer.Option(
            "--only-if-listed",
            help="Build it only if data.sources lists --out; otherwise write a one-line note "
            "there (the DVC stage: real-data users never build the demo).",
        ),
    ] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Write the synthetic demo corpus (Common Voice layout). It proves plumbing, not accuracy."""
    from gra.data.demo import make_demo_corpus
    from gra.progress import bar

    if only_if_listed:
        listed = {Path(s).resolve() for s in _settings(params).data.sources}
        if out.resolve() not in listed:
            out.mkdir(parents=True, exist_ok=True)
            (out / "NOT_BUILT.txt").write_text(
                f"The demo corpus was not built: data.sources does not list {out}.\n"
            )
            console.print(f"data.sources does not list {out}: the demo corpus is not built")
            return

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

    settings = _settings(params)
    _detach(settings.paths.manifest)
    result = step.run(settings)
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

    settings = _settings(params)
    _detach(settings.paths.splits)
    _, report = step.run(settings)
    console.print(f"clips {report.clips}, speakers {report.speakers}")
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}")


@app.command()
@_friendly
def featurize(params: ParamsOption = Path("params.yaml")) -> None:
    """Extract features for every clip (parallel, cached); quarantine clips that fail."""
    from gra.steps import featurize as step

    settings = _settings(params)
    _detach(settings.paths.features)
    table = step.run(settings)
    s = table.stats
    console.print(
        f"{len(table.vectors)} clips featurised ({s['cache_hits']} from cache), "
        f"{s['quarantined']} quarantined"
    )


@app.command()
@_friendly
def train(
    family: Annotated[str, typer.Argument(help=f"One of: {', '.join(FAMILIES)}.")],
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Cross-validate one model family for each task (speaker-grouped folds)."""
    from gra.steps import train as step

    settings = _settings(params)
    _detach(settings.paths.models / "candidates" / family)
    summary = step.run(settings, family)
    for task, t in summary["tasks"].items():
        metric = settings.evaluate.metric_for(task)
        cv = t["cv"][metric]
        console.print(
            f"{family}/{task}: {t['dev_clips']} clips, {t['dev_speakers']} speakers, "
            f"CV {metric} {cv['mean']:.3f} ± {cv['std']:.3f}, {t['seconds']} s"
        )


@app.command()
@_friendly
def evaluate(params: ParamsOption = Path("params.yaml")) -> None:
    """Pick each task's winner by CV score; report every candidate on the test split."""
    from gra.steps import evaluate as step

    result = step.run(_settings(params))
    print_metrics(result)


@app.command()
@_friendly
def gate(
    exit_zero: Annotated[
        bool,
        typer.Option(
            "--exit-zero",
            help="A refusal is recorded in reports/gate.json and exits 0 (the DVC stage: a "
            "refused experiment is still an experiment). Errors still exit 1.",
        ),
    ] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Promote the winners to the BentoML store if they pass the evaluation gate."""
    from gra.errors import GateFailed
    from gra.steps import gate as step

    settings = _settings(params)
    _detach(settings.paths.models / "bundle")
    try:
        result = step.run(settings)
    except GateFailed as exc:
        if not exit_zero:
            raise
        console.print(f"[bold yellow]gate refused[/] (recorded in reports/gate.json): {exc}")
        return
    said = {
        "new": f"champion is now {result.tag}",
        "reused": f"champion is now {result.tag} again (the store held this exact bundle)",
        "already champion": f"{result.tag} is already the champion: nothing changed",
    }
    console.print(f"[green]gate passed[/]: {said[result.promotion.how]}")


@app.command()
@_friendly
def champion(
    show_history: Annotated[
        bool, typer.Option("--history", help="Every champion this store has had.")
    ] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Show the current champion (JSON on stdout), or with --history every champion."""
    import json

    from gra import registry

    name = _settings(params).gate.model_name
    if show_history:
        rows = registry.history(name)
        if not rows:
            raise UserError(f"no champion {name!r} has been promoted in {registry.store_home()}")
        print_history(rows)
        return
    champ = registry.current_champion(name)
    if champ is None:
        console.print("no champion yet: run the pipeline (make demo / dvc repro)")
        raise typer.Exit(1)
    families = {t: v["family"] for t, v in champ.info["tasks"].items()}
    print(json.dumps({"tag": champ.tag, "families": families} | _provenance(champ.info), indent=2))


def _provenance(info: dict) -> dict:
    keys = ("metrics", "data_version", "git_commit", "params")
    return {k: info[k] for k in keys if k in info}


def print_history(rows: list[dict]) -> None:
    from rich import box

    table = Table(title="Champions, oldest first (* = champion now)", box=box.SIMPLE_HEAD)
    for col in ("champion", "promoted (UTC)", "replaced", "gender", "age", "data", "commit"):
        table.add_column(col, no_wrap=True)

    def score(metrics: dict, task: str, metric: str) -> str:
        t = metrics.get(task, {})
        return f"{t[metric]:.3f} {t['winner']}" if metric in t else ""

    for r in rows:
        m = r.get("metrics", {})
        table.add_row(
            r["tag"] + (" *" if r["current"] else ""),
            r["at"][:16].replace("T", " "),
            (r.get("replaced") or "-").split(":")[-1],
            score(m, "gender", "balanced_accuracy"),
            score(m, "age", "macro_f1"),
            r.get("data_version", "")[:8],
            r.get("git_commit", ""),
        )
    out = Console()
    if not out.is_terminal:
        out = Console(width=160)
    out.print(table)
    out.print("gender: test balanced accuracy; age: test macro-F1 (each with its winning family)")


@app.command()
@_friendly
def rollback(
    to: Annotated[
        str | None, typer.Option("--to", help="Tag to make champion (default: the previous).")
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Make the previous champion (or --to TAG) the champion again. Deletes nothing."""
    from gra.registry import rollback as do_rollback

    before, after = do_rollback(_settings(params).gate.model_name, to)
    print(f"champion is now {after} (was {before}; both stay in the store)")
    console.print("a running `gra serve` keeps its model until it is restarted")


@app.command()
@_friendly
def monitor(
    format: Annotated[str, typer.Option("--format", "-f", help="text or json.")] = "text",
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete every row of the inference log.")
    ] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Drift of the logged answers against the champion's training data (Evidently report).

    Exit code 0 with a verdict (drift or not), 3 when there are too few answers for one."""
    import json

    from gra.monitoring.drift import NotEnoughData, headline, label_mix, measure_drift
    from gra.monitoring.log import InferenceLog

    if format not in ("text", "json"):
        raise UserError(f"--format must be text or json, not {format!r}")
    settings = _settings(params)
    m = settings.monitoring
    if reset:
        rows = InferenceLog(m.log_path, m).reset()
        print(f"cleared {m.log_path} ({rows} rows)")
        return
    try:
        summary = measure_drift(settings, settings.paths.reports / "monitoring")
    except NotEnoughData as exc:
        if format == "json":
            answer = {"rows": exc.rows, "drift_detected": None, "message": str(exc)}
            print(json.dumps(answer))
        console.print(f"[yellow]no verdict:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(3) from None
    if format == "json":
        print(json.dumps(summary.to_dict(), indent=2))
        return
    verdict = "[bold red]DRIFT[/]" if summary.drift_detected else "[green]no drift[/]"
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"{verdict}: {headline(summary.to_dict())}")
    if summary.drifted_columns:
        out.print("  drifted: " + ", ".join(summary.drifted_columns))
    for task, p in summary.prediction_drift.items():
        drifted = "  (drifted)" if p["drifted"] else ""
        out.print(f"  {task} answers: {label_mix(p['current'])}{drifted}")
    if summary.embedding_drift:
        e = summary.embedding_drift
        out.print(f"  speaker embedding: score {e['score']:.3f}, drifted: {e['drifted']}")
    out.print(f"  report: {summary.report}")


@app.command()
@_friendly
def cache(
    prune: Annotated[
        bool,
        typer.Option(
            "--prune",
            help="Delete the per-clip cache's settings-key folders that the current settings "
            "do not use (older params or older feature code).",
        ),
    ] = False,
    unlisted: Annotated[
        bool,
        typer.Option(
            "--unlisted",
            help="With --prune: also delete the current key's entries for clips no longer in "
            "the manifest (only when every manifest clip could be read).",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --prune: list what it would delete, only.")
    ] = False,
    clips: Annotated[
        bool,
        typer.Option(
            "--clips/--no-clips",
            help="Hash the manifest's clips to count how many the current key holds (reads "
            "every clip's audio; --no-clips shows sizes only).",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Disk use: the per-clip feature cache by settings key, data/features, models and the DVC
    cache; --prune deletes cache entries the current settings no longer use."""
    import json

    from gra import disk
    from gra.progress import bar

    if (unlisted or dry_run) and not prune:
        raise UserError("--unlisted and --dry-run go with --prune")
    if unlisted and not clips:
        raise UserError("--unlisted needs the manifest's clip hashes: leave out --no-clips")
    settings = _settings(params)
    root = Path.cwd()
    rep, digests = disk.report(settings, root, clips=clips, progress_bar=bar)
    pruned = None
    if prune:
        if unlisted and rep.manifest is None:
            raise UserError(
                f"--unlisted needs the manifest ({settings.paths.manifest} is missing): "
                "run `gra ingest` first"
            )
        pruned = disk.prune(rep, root, digests if unlisted else None, dry_run=dry_run)
    if as_json:
        answer = rep.to_dict() | ({"pruned": pruned.to_dict()} if pruned else {})
        print(json.dumps(answer, indent=2))
        return
    print_cache_report(rep, hint=pruned is None)
    if pruned is not None:
        print_pruned(rep, pruned, unlisted)


def print_cache_report(rep, hint: bool = True) -> None:
    from rich import box

    from gra.disk import human

    out = Console(highlight=False, soft_wrap=True)
    if not rep.exists:
        out.print(
            f"no per-clip feature cache at {rep.cache_path} (paths.cache) yet: "
            "`gra featurize` creates it"
        )
    else:
        out.print(
            f"per-clip feature cache {rep.cache_path} (paths.cache): {human(rep.bytes)} in "
            f"{len(rep.keys)} settings key(s)"
        )
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("settings key", "clips", "size", "last written (UTC)", ""):
            table.add_column(col, justify="right" if col in ("clips", "size") else "left")
        for k in rep.keys:
            note = "current (params.yaml)" if k.current else "stale"
            table.add_row(k.key, f"{k.entries:,}", human(k.bytes), k.last_written or "-", note)
        out.print(table)
        if rep.other:
            out.print(f"  not settings keys, left alone: {', '.join(rep.other)}")
        if not any(k.current for k in rep.keys):
            out.print(f"the current settings' key {rep.current_key} holds nothing yet")
    m = rep.manifest
    if m is not None:
        line = f"manifest {m.path}: {m.cached:,} of {m.clips:,} clips cached under the current key"
        if m.unreadable:
            line += f"; {m.unreadable:,} clips could not be read"
        if m.unlisted_entries:
            line += (
                f"; {m.unlisted_entries:,} entries ({human(m.unlisted_bytes)}) are for clips "
                "no longer in it (--prune --unlisted)"
            )
        out.print(line)
    for o in rep.outputs:
        shared = (
            f", {human(o.linked_bytes)} of it linked to the DVC cache (stored once)"
            if o.linked_bytes
            else ""
        )
        out.print(f"{o.path}: {human(o.bytes)}{shared}" if o.exists else f"{o.path}: none yet")
    if rep.dvc_cache is not None:
        d = rep.dvc_cache
        out.print(f"DVC cache {d['path']}: {human(d['bytes'])} (cache.type {d['type']})")
    stale = rep.stale
    if stale and hint:
        out.print(
            f"{len(stale)} stale key(s), {human(sum(k.bytes for k in stale))}: "
            "`gra cache --prune` deletes them"
        )


def print_pruned(rep, pruned, unlisted: bool) -> None:
    from gra.disk import human

    out = Console(highlight=False, soft_wrap=True)
    verb = "would free" if pruned.dry_run else "freed"
    if not rep.exists:
        out.print(f"nothing to prune: no cache at {rep.cache_path}")
        return
    what = [f"{len(pruned.keys)} stale key(s)"]
    if unlisted:
        if pruned.entries or (rep.manifest and not rep.manifest.unreadable):
            what.append(f"{pruned.entries:,} unlisted entries")
        else:
            what.append("no unlisted entries (some manifest clips could not be read)")
    for key in pruned.keys:
        out.print(f"  {'would delete' if pruned.dry_run else 'deleted'} {rep.cache_path}/{key}")
    kept = f"; kept the current key {rep.current_key}" if len(rep.stale) < len(rep.keys) else ""
    out.print(f"{verb} {human(pruned.bytes)} ({', '.join(what)}){kept}")


@app.command()
@_friendly
def build() -> None:
    """`bentoml build` of the current champion, from this project's model store."""
    import subprocess

    bentoml = str(Path(sys.executable).parent / "bentoml")
    proc = subprocess.run([bentoml, "build"], cwd=project_root(), capture_output=True, text=True)
    if proc.returncode:
        raise UserError(f"bentoml build failed:\n{proc.stderr.strip()[-3000:]}")
    tag = next(
        (line.split('"')[1] for line in proc.stdout.splitlines() if "Successfully built" in line),
        None,
    )
    console.print(proc.stdout.strip()[-2000:] if tag is None else f"built bento {tag}")
    if tag:
        print(tag)


@app.command()
@_friendly
def schedule(
    port: Annotated[
        int | None, typer.Option(help="Local Prefect server port (default schedule.prefect_port).")
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Serve retraining (cron) and monitoring (interval) on Prefect until stopped (Ctrl+C).

    Without PREFECT_API_URL it starts a local Prefect server (its UI on the same port), since
    schedules only fire where a server runs; with it, it uses that server."""
    from gra.scheduling import run_schedule

    run_schedule(_settings(params).schedule, project_root(), port, console)


@app.command()
@_friendly
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default serve.port).")] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Serve the champion over HTTP (BentoML): /predict, /predict_batch, the page at /."""
    from gra.registry import current_champion

    settings = _settings(params)
    champ = current_champion(settings.gate.model_name)
    if champ is None:
        raise UserError(
            f"no champion {settings.gate.model_name!r} in the BentoML model store: "
            "train one first (make demo, or dvc repro)"
        )
    host = host or settings.serve.host
    port = port or settings.serve.port
    _check_port_free(host, port)
    console.print(f"serving {champ.tag} on http://{host}:{port}/ (Ctrl+C to stop)")
    if settings.monitoring.log_requests:
        console.print(f"answers are logged to {settings.monitoring.log_path} (never the audio)")
    os.environ["GRA_PARAMS"] = str(params.resolve())
    bentoml = str(Path(sys.executable).parent / "bentoml")
    cmd = [bentoml, "serve", "gra.serving.service:GRA", "--host", host, "--port", str(port)]
    os.execv(bentoml, cmd)


def _check_port_free(host: str, port: int) -> None:
    """Refuse a port in use with one clear line, before BentoML starts and fails at length."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"cannot serve on {host}:{port}: {exc.strerror.lower()}; choose another port "
                "with --port (or serve.port in params.yaml), or stop what is using it"
            ) from None


@app.command()
@_friendly
def predict(
    paths: Annotated[list[Path], typer.Argument(help="Audio files or folders (searched).")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="table or jsonl (one JSON object per file).")
    ] = "table",
    url: Annotated[
        str | None, typer.Option(help="A running service (http://host:port); default: local.")
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Gender and age group for each recording. A file that fails gets an error, the rest go on."""
    import json

    from gra.progress import bar
    from gra.serving.client import expand, predict_local, predict_remote

    if format not in ("table", "jsonl"):
        raise UserError(f"--format must be table or jsonl, not {format!r}")
    given = expand(paths)
    if not given:
        raise UserError("no audio files found in " + ", ".join(map(str, paths)))
    # Absolute before _settings, which may move to the project root (run from any folder).
    files = [f.absolute() for f in given]
    shown = {str(f): str(g) for f, g in zip(files, given, strict=True)}
    rows: list[dict] = []
    with bar("predict", len(files)) as advance:
        if url:
            results = predict_remote(url, files, progress=advance)
        else:
            from gra.serving.predictor import Predictor

            predictor = Predictor.from_settings(_settings(params))
            results = predict_local(predictor, files, progress=advance)
        for result in results:
            result["path"] = shown[result["path"]]
            if format == "jsonl":
                print(json.dumps(result), flush=True)
            rows.append(result)
    if format == "table":
        print_predictions(rows)
    failed = sum("error" in r for r in rows)
    if failed:
        console.print(
            f"[yellow]{failed} of {len(rows)} files could not be used[/] (see their errors)",
            highlight=False,
        )
        raise typer.Exit(1)


def print_predictions(rows: list[dict]) -> None:
    """One line per file (80 columns are enough): paths relative to the folder they share."""
    from rich import box

    paths = [r["path"] for r in rows]
    folder = os.path.commonpath([os.path.dirname(p) or "." for p in paths]) if paths else ""
    title = f"in {folder}{os.sep}" if folder not in ("", ".") else None
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("file", overflow="fold", ratio=2)
    table.add_column("gender", no_wrap=True)
    table.add_column("age group", no_wrap=True)
    table.add_column("speech", justify="right", no_wrap=True)
    table.add_column("note", overflow="fold", ratio=1)

    def cell(task: dict | None) -> str:
        if task is None:
            return "-"
        p = task["probabilities"][task["label"]]
        return f"{task['label']} {p:.0%}" + (" ?" if task["uncertain"] else "")

    for r in rows:
        name = escape(os.path.relpath(r["path"], folder) if title else r["path"])
        if "error" in r:
            table.add_row(name, "", "", "", f"[red]{escape(r['error'])}[/]")
            continue
        note = "" if r["speech_detected"] else "no speech"
        table.add_row(name, cell(r["gender"]), cell(r["age"]), f"{r['speech_seconds']:.1f} s", note)
    Console().print(table)
    notes = Console(highlight=False)
    notes.print("? = uncertain (top probability under serve.uncertain_below)")
    if any((r.get("trained_on") or {}).get("synthetic") for r in rows):
        notes.print(
            "[bold yellow]note:[/] this model was trained on the synthetic demo corpus: its "
            "answers for real voices mean nothing (train on Common Voice, see the README)"
        )


def print_metrics(result: dict) -> None:
    """The readable metrics table: every candidate's CV and test scores, winner marked."""
    from gra.evaluation import METRICS_HEADERS, metrics_rows

    table = Table(
        title="Winner (*) by speaker-grouped CV (mean ± spread of its metric); "
        "then the unseen test split"
    )
    for col in METRICS_HEADERS:
        left = col in ("task", "model")
        table.add_column(col, justify="left" if left else "right", no_wrap=left)
    for row in metrics_rows(result):
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # logs and CI: do not squeeze the table into 80 columns
        console = Console(width=160)
    console.print(table)
