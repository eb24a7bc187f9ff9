"""What the exploration notebooks (notebooks/*.ipynb) show, as plain functions: the notebooks
only call these and GRA's pipeline functions, then plot.

- which source a notebook reads (`notebook_source`: the demo corpus unless told otherwise);
- a source's make-up: labels by locale, durations, speakers and clips per speaker;
- features by gender and age, the speaker embedding in 2-D;
- one model family trained and scored the way `gra train` and `gra evaluate` do it;
- running a notebook top to bottom (`execute_notebook`: `make notebooks` and the tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gra.config import Settings, load_settings
from gra.data.sources import SourceReport
from gra.errors import UserError

ENV_SOURCE = "GRA_NOTEBOOK_SOURCE"  # folder(s), os.pathsep-separated, or "params"
ENV_CACHE = "GRA_NOTEBOOK_CACHE"  # feature cache folder (default: paths.cache)
ENV_SPEAKERS = "GRA_NOTEBOOK_SPEAKERS_PER_CLASS"  # speakers featurized per gender x age group
DEMO_SOURCE = Path("data/raw/demo")
DEMO_SPEAKERS_PER_CLASS = 4  # the demo corpus has 12: 4 keep a cold notebook run in seconds


def project_root(start: Path | None = None) -> Path:
    """The GRA checkout holding `start` (default: the working directory): the first folder
    upwards with params.yaml and dvc.yaml. Notebooks run from notebooks/ or the root."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file() and (folder / "dvc.yaml").is_file():
            return folder
    raise UserError(
        f"no GRA project (params.yaml + dvc.yaml) in {here} or above: start Jupyter from the "
        "GRA checkout (or its notebooks/ folder)."
    )


@dataclass(frozen=True)
class NotebookSource:
    """What a notebook reads: source folders, whether they are synthetic, and the project's
    settings with data.sources (and paths.cache) pointing there."""

    root: Path  # the project
    sources: list[Path]  # absolute
    synthetic: bool
    demo: bool  # the default demo corpus (not told where to look)
    speakers_per_class: int | None  # featurize at most this many per gender x age group
    settings: Settings

    def banner(self) -> str:
        """Markdown a notebook shows first: what it reads, and whether the scores mean
        anything."""
        names = ", ".join(_shown(p, self.root) for p in self.sources)
        if self.synthetic:
            return (
                f"**Synthetic data** ({names}): the demo corpus of `gra demo-data`, a voice "
                "model whose pitch and vocal tract follow published trends. It shows the "
                "plumbing works; **its scores are not real accuracy** and must not be quoted "
                f"as such. Set `{ENV_SOURCE}` to a Common Voice folder for real data."
            )
        return f"**Source:** {names} (real recordings, as far as GRA can tell)."


def notebook_source(
    environ: Mapping[str, str] | None = None, root: Path | None = None
) -> NotebookSource:
    """The source a notebook explores, from the environment:

    - `GRA_NOTEBOOK_SOURCE` unset or empty: the demo corpus at data/raw/demo, written by
      `gra demo-data`'s generator (seed 0, as `make demo`) when missing;
    - `params`: data.sources of params.yaml;
    - otherwise one or more folders (os.pathsep-separated), relative to the project root;
    - `GRA_NOTEBOOK_CACHE`: the feature cache (default paths.cache, shared with the pipeline);
    - `GRA_NOTEBOOK_SPEAKERS_PER_CLASS`: speakers featurized per gender x age group (`all`;
      default 4 on the demo corpus, all elsewhere).
    """
    from gra.data.demo import SYNTHETIC_MARKER
    from gra.data.sources import detect_layout

    environ = os.environ if environ is None else environ
    root = project_root(root)
    settings = load_settings(root / "params.yaml")
    value = (environ.get(ENV_SOURCE) or "").strip()
    demo = not value
    if demo:
        sources = [_demo_corpus(root)]
    elif value == "params":
        sources = [_absolute(p, root) for p in settings.data.sources]
    else:
        sources = [_absolute(Path(p.strip()), root) for p in value.split(os.pathsep) if p.strip()]
    for source in sources:
        detect_layout(source)  # a clear error now for a folder that is not a source
    # The default demo folder may predate the marker; it is synthetic all the same.
    synthetic = demo or any((s / SYNTHETIC_MARKER).exists() for s in sources)
    cache = _absolute(Path(environ.get(ENV_CACHE) or settings.paths.cache), root)
    settings = settings.model_copy(
        update={
            "data": settings.data.model_copy(update={"sources": sources}),
            "paths": settings.paths.model_copy(update={"cache": cache}),
        }
    )
    per_class = _speakers_per_class(environ.get(ENV_SPEAKERS), demo)
    return NotebookSource(root, sources, synthetic, demo, per_class, settings)


def _demo_corpus(root: Path) -> Path:
    """data/raw/demo, written as `make demo` writes it (seed 0) when missing. When something
    else is there (the DVC stage leaves only NOT_BUILT.txt where params.yaml lists real
    data), the notebooks' own copy in .gra/demo instead: DVC's folder is left alone."""
    from gra.data.demo import LOCALES, make_demo_corpus

    folder = root / DEMO_SOURCE
    if folder.exists() and not (folder / LOCALES[0] / "validated.tsv").exists():
        folder = root / ".gra" / "demo"
    if not (folder / LOCALES[0] / "validated.tsv").exists():
        print(f"writing the synthetic demo corpus to {_shown(folder, root)} (once) ...")
        make_demo_corpus(folder, seed=0)
    return folder.resolve()


def _speakers_per_class(value: str | None, demo: bool) -> int | None:
    value = (value or "").strip().lower()
    if not value:
        return DEMO_SPEAKERS_PER_CLASS if demo else None
    if value == "all":
        return None
    if not value.isdigit() or int(value) < 1:
        raise UserError(f"{ENV_SPEAKERS} must be a positive whole number or 'all', got {value!r}")
    return int(value)


def _absolute(path: Path, root: Path) -> Path:
    path = Path(path).expanduser()
    return (path if path.is_absolute() else root / path).resolve()


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


# ---- a source's make-up (notebook 01) ----


def label_mix(
    manifest: pd.DataFrame, label: str, by: str = "locale", count: str = "clips"
) -> pd.DataFrame:
    """Clips (or speakers) per value of `by` (rows) and of `label` (columns), with a total
    column, rows largest first. Missing values show as "unknown"."""
    frame = manifest.assign(**{c: manifest[c].fillna("unknown").astype(str) for c in {label, by}})
    if count == "speakers":
        frame = frame.drop_duplicates(["client_id", by, label])
    elif count != "clips":
        raise ValueError(f"count must be 'clips' or 'speakers', got {count!r}")
    table = pd.crosstab(frame[by], frame[label])
    table = table[_label_order(table.columns, label)]
    table["total"] = table.sum(axis=1)
    table = table.sort_values("total", ascending=False)
    table.columns.name = label
    return table


_AGE_ORDER = ("teens", "twenties", "thirties", "fourties", "fifties", "sixties", "seventies")
_AGE_ORDER += ("eighties", "nineties")


def _label_order(values, label: str) -> list[str]:
    """Age groups youngest first; anything else alphabetical."""
    values = list(values)
    if label.startswith("age"):
        rank = {a: i for i, a in enumerate(_AGE_ORDER)}
        return sorted(values, key=lambda v: (rank.get(v, len(rank)), v))
    return sorted(values)


def duration_summary(manifest: pd.DataFrame, by: str = "locale") -> pd.DataFrame:
    """Per value of `by` (and "all" last): clips, hours, duration percentiles in seconds and
    how many clips had no readable duration (featurize quarantines those)."""

    def summary(d: pd.Series) -> dict:
        known = d.dropna()
        q = known.quantile([0.05, 0.5, 0.95]) if len(known) else pd.Series([np.nan] * 3)
        return {
            "clips": int(len(d)),
            "hours": round(float(known.sum()) / 3600, 3),
            "mean_s": round(float(known.mean()), 2) if len(known) else np.nan,
            "p05_s": round(float(q.iloc[0]), 2),
            "median_s": round(float(q.iloc[1]), 2),
            "p95_s": round(float(q.iloc[2]), 2),
            "unreadable": int(d.isna().sum()),
        }

    rows = {str(k): summary(g["duration"]) for k, g in manifest.groupby(by, dropna=False)}
    table = pd.DataFrame.from_dict(rows, orient="index").sort_values("clips", ascending=False)
    table.loc["all"] = summary(manifest["duration"])
    table.index.name = by
    return table


def speaker_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per speaker: locale, gender and age (the most common over their clips), clips,
    seconds, and whether their clips disagree on gender or age (Common Voice labels are
    per clip; a speaker may have changed them)."""

    def mode(s: pd.Series) -> str:
        s = s.dropna().astype(str)
        return s.mode().iloc[0] if len(s) else "unknown"

    grouped = manifest.groupby("client_id", sort=False)
    table = pd.DataFrame(
        {
            "locale": grouped["locale"].agg(mode),
            "gender": grouped["gender"].agg(mode),
            "age": grouped["age"].agg(mode),
            "clips": grouped.size(),
            "seconds": grouped["duration"].sum().round(1),
            "labels_differ": (grouped["gender"].nunique() > 1) | (grouped["age"].nunique() > 1),
        }
    )
    return table.sort_values("clips", ascending=False)


def clips_per_speaker(
    manifest: pd.DataFrame, edges: Sequence[int] = (1, 2, 5, 10, 50, 100)
) -> pd.DataFrame:
    """How many speakers have 1, 2-4, 5-9, ... clips, and what share of all clips they hold:
    a few speakers with hundreds of clips is why training caps a speaker's weight
    (train.speaker_clip_cap)."""
    counts = manifest.groupby("client_id").size()
    bounds = [*edges, np.inf]
    rows = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        inside = counts[(counts >= lo) & (counts < hi)]
        name = f"{lo}" if hi == lo + 1 else (f"{lo}+" if hi == np.inf else f"{lo}-{int(hi) - 1}")
        rows.append(
            {
                "clips_per_speaker": name,
                "speakers": int(len(inside)),
                "clips": int(inside.sum()),
                "share_of_clips": round(float(inside.sum()) / max(len(manifest), 1), 4),
            }
        )
    return pd.DataFrame(rows)


def skipped_rows(reports: Sequence[SourceReport]) -> pd.DataFrame:
    """Per source: rows read and kept, and each reason rows were skipped (ingest's report)."""
    rows = [
        {"source": r.source, "layout": r.layout, "rows_read": r.rows_read, "rows_kept": r.rows_kept}
        | {f"skipped_{k}": v for k, v in sorted(r.skipped.items())}
        for r in reports
    ]
    return pd.DataFrame(rows).fillna(0)


# ---- features (notebook 02) ----


def sample_speakers(manifest: pd.DataFrame, per_class: int | None, seed: int = 0) -> pd.DataFrame:
    """All clips of at most `per_class` speakers per (gender, age) group, chosen at random
    (seeded); rows in manifest order. None keeps every row."""
    if per_class is None:
        return manifest
    speakers = speaker_table(manifest).reset_index()
    rng = np.random.default_rng(seed)
    chosen = [
        group["client_id"].to_numpy()[rng.permutation(len(group))[:per_class]]
        for _, group in speakers.groupby(["gender", "age"], sort=True)
    ]
    keep = set(np.concatenate(chosen)) if chosen else set()
    return manifest[manifest["client_id"].isin(keep)].reset_index(drop=True)


def labelled_features(
    splits: pd.DataFrame, vectors: pd.DataFrame, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Feature `columns` (default: all) of the featurized clips beside their labels (the
    split table's gender_label and age_label, age as an ordered category) and locale,
    speaker and split; clips without a gender or age label are left out."""
    from gra.features.pipeline import META_COLUMNS

    columns = [c for c in vectors.columns if c not in META_COLUMNS] if columns is None else columns
    labels = splits[["clip_id", "client_id", "locale", "split", "gender_label", "age_label"]]
    frame = labels.merge(vectors[["clip_id", *columns]], on="clip_id", how="inner")
    frame = frame.dropna(subset=["gender_label", "age_label"]).reset_index(drop=True)
    ages = _label_order(frame["age_label"].unique(), "age")
    frame["age_label"] = pd.Categorical(frame["age_label"], categories=ages, ordered=True)
    return frame


def group_summary(
    frame: pd.DataFrame, column: str, by: Sequence[str] = ("age_label", "gender_label")
) -> pd.DataFrame:
    """Clips, median and interquartile range of one feature per group (rows: the first of
    `by`; columns: statistic x the others)."""
    values = frame[column].astype(np.float64)  # float32 would print 252.432999
    grouped = values.groupby([frame[b] for b in by], observed=True)
    table = pd.DataFrame(
        {
            "clips": grouped.size(),
            "median": grouped.median(),
            "q25": grouped.quantile(0.25),
            "q75": grouped.quantile(0.75),
        }
    ).round(3)
    return table.unstack(list(by[1:])) if len(by) > 1 else table


@dataclass(frozen=True)
class Projection:
    """Clips in two dimensions: `frame` has x, y and the label columns; `explained` is each
    axis's share of the variance (PCA)."""

    frame: pd.DataFrame
    explained: tuple[float, float]
    columns: int  # dimensions projected


def embedding_projection(frame: pd.DataFrame, prefix: str | None = None) -> Projection:
    """PCA of the columns starting with `prefix` (default: the speaker embedding's) to 2-D."""
    from sklearn.decomposition import PCA

    from gra.features.embedding import EMBEDDING_PREFIX

    prefix = EMBEDDING_PREFIX if prefix is None else prefix
    columns = [c for c in frame.columns if str(c).startswith(prefix)]
    if not columns:
        raise UserError(
            f"no feature columns start with {prefix!r}: add `embedding` to featurize.sets "
            "in params.yaml to compute the speaker embedding."
        )
    if len(frame) < 3:
        raise UserError(f"a 2-D projection needs at least 3 clips, got {len(frame)}")
    pca = PCA(n_components=2, random_state=0)
    xy = pca.fit_transform(frame[columns].to_numpy(dtype=np.float64))
    keep = [c for c in frame.columns if not str(c).startswith(prefix)]
    out = frame[keep].copy()
    out["x"], out["y"] = xy[:, 0], xy[:, 1]
    ratio = pca.explained_variance_ratio_
    return Projection(out, (float(ratio[0]), float(ratio[1])), len(columns))


# ---- training and evaluation (notebook 03) ----


@dataclass
class TaskEvaluation:
    """One task of one family: its cross-validation on the development speakers and its
    scores on the unseen test split, as `gra train` and `gra evaluate` compute them."""

    task: str
    classes: list[str]
    cv: object  # gra.steps.train.CrossValidation
    dev_rows: pd.DataFrame
    dev_y: np.ndarray
    oof_proba: np.ndarray  # calibrated out-of-fold probabilities of the development clips
    test_rows: pd.DataFrame
    test_y: np.ndarray
    test_proba: np.ndarray  # calibrated; age from the predicted gender, as in serving
    test: dict  # gra.evaluation.score

    def by(self, column: str, split: str = "test", min_clips: int = 20) -> pd.DataFrame:
        """Scores per value of `column` (locale, gender) on the test split or the
        development speakers' out-of-fold predictions ("cv": more clips, same speakers
        never scored by a model that saw them)."""
        from gra.evaluation import breakdown

        if split == "test":
            rows, y, proba = self.test_rows, self.test_y, self.test_proba
        elif split == "cv":
            rows, y, proba = self.dev_rows, self.dev_y, self.oof_proba
        else:
            raise ValueError(f"split must be 'test' or 'cv', got {split!r}")
        ordinal = self.task == "age"
        return pd.DataFrame(breakdown(rows, y, proba, column, self.classes, ordinal, min_clips))

    def confusion(self, normalize: bool = False) -> pd.DataFrame:
        """Test confusion matrix: rows actual, columns predicted (row shares if normalize)."""
        return confusion_frame(self.test_y, self.test_proba, self.classes, normalize)

    def reliability(self, bins: int = 10) -> pd.DataFrame:
        """Test reliability diagram rows: per confidence bin, confidence, accuracy, clips."""
        from gra.evaluation import reliability

        columns = ["bin", "confidence", "accuracy", "clips"]
        return pd.DataFrame(reliability(self.test_proba, self.test_y, bins), columns=columns)


def train_evaluate(
    settings: Settings,
    splits: pd.DataFrame,
    features,
    family: str = "logreg",
    tasks: Sequence[str] | None = None,
) -> dict[str, TaskEvaluation]:
    """Cross-validate `family` on the train+val speakers and score it on the test split, per
    task (gender first: a conditioned age model is scored with the predicted gender), with
    `gra train`'s `cross_validate_family` and `gra evaluate`'s scoring. Nothing is saved."""
    from gra.artifacts import task_data
    from gra.evaluation import score
    from gra.models.conditioning import with_predicted_gender
    from gra.steps.train import DEVELOPMENT, cross_validate_family

    tasks = list(settings.train.tasks if tasks is None else tasks)
    results: dict[str, TaskEvaluation] = {}
    gender_model = None
    for task in sorted(tasks, key=lambda t: t != "gender"):
        classes = settings.labels.classes(task)
        dev = task_data(splits, features, task, DEVELOPMENT, classes)
        test = task_data(splits, features, task, "test", classes)
        if not len(test.y):
            raise UserError(
                f"the test split has no featurized {task}-labelled clips: use more speakers "
                f"({ENV_SPEAKERS}) or a larger source."
            )
        cv = cross_validate_family(settings.train, family, task, dev, classes)
        model = cv.model
        test_X = test.X
        if model.conditioned:
            if gender_model is None:
                raise UserError(f"the {task} model is conditioned on gender: train gender too.")
            test_X = with_predicted_gender(test.X, gender_model)
        if task == "gender":
            gender_model = model
        proba = model.predict_proba(test_X)
        results[task] = TaskEvaluation(
            task=task,
            classes=classes,
            cv=cv,
            dev_rows=dev.rows,
            dev_y=dev.y,
            oof_proba=model.estimator.calibrate(cv.oof_proba),
            test_rows=test.rows,
            test_y=test.y,
            test_proba=proba,
            test=score(test.y, proba, classes, ordinal=task == "age"),
        )
    return {task: results[task] for task in tasks}


def confusion_frame(
    y_true: np.ndarray, proba: np.ndarray, classes: list[str], normalize: bool = False
) -> pd.DataFrame:
    """Confusion matrix as a table: rows actual, columns predicted; with normalize, each row
    as shares of that class's clips (a class with no clips: zeros)."""
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(y_true, proba.argmax(axis=1), labels=range(len(classes)))
    values = counts.astype(float)
    if normalize:
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    table = pd.DataFrame(values if normalize else counts, index=classes, columns=classes)
    table.index.name, table.columns.name = "actual", "predicted"
    return table


def scores_table(results: Mapping[str, TaskEvaluation]) -> pd.DataFrame:
    """Per task: CV mean ± spread of the headline metrics, then the test scores."""
    rows = []
    for task, r in results.items():
        row: dict = {"task": task, "test_clips": r.test["n"]}
        row |= {f"cv_{m}": f"{v['mean']:.3f} ± {v['std']:.3f}" for m, v in r.cv.summary.items()}
        row |= {
            f"test_{m}": r.test[m]
            for m in ("balanced_accuracy", "macro_f1", "mae_groups", "within_one_group", "ece")
            if m in r.test
        }
        rows.append(row)
    table = pd.DataFrame(rows).set_index("task")
    # CV columns first, then test (gender rows have no error-in-groups columns: blank).
    order = sorted(table.columns, key=lambda c: (not c.startswith("cv_"), c != "test_clips"))
    return table[order]


# ---- running notebooks ----


def execute_notebook(
    path: Path,
    out: Path | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: int = 600,
    kernel_name: str = "python3",
):
    """Run a notebook top to bottom in a fresh kernel (its working directory: the notebook's
    folder) and return it with its outputs; `out` also writes it there (the source file is
    never overwritten: committed notebooks stay without outputs). `environ` is set for the
    kernel (e.g. GRA_NOTEBOOK_SOURCE). Raises nbclient's CellExecutionError on a failing cell.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    env = {**os.environ, **(environ or {})}
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    client.execute(env=env)
    if out is not None:
        out = Path(out)
        if out.resolve() == path.resolve():
            raise UserError(f"{out}: write executed notebooks elsewhere, not over the source")
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out)
    return notebook


def has_outputs(notebook) -> list[int]:
    """Indices of code cells with outputs or an execution count (what git must not hold)."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
