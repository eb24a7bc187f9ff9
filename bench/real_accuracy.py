"""Accuracy on unseen real speakers: every GRA candidate and two published reference recipes,
trained on one Common Voice folder and scored on another (prints figures; not a test).

    python bench/speaker_folds.py ../shared/cv-real-dev /tmp/cv-folds      # speaker-disjoint
    python bench/real_accuracy.py /tmp/cv-folds/fold_0/train /tmp/cv-folds/fold_0/test
    python bench/real_accuracy.py --folds /tmp/cv-folds      # every fold, then mean ± spread

Scored the way the project is judged: at most --max-clips-per-speaker clips per test speaker;
gender = accuracy over clips labelled female/male; age = the six groups of params.yaml
(sixties and older merged): macro-F1, exact accuracy, mean absolute error in groups and
within-one-group accuracy.

- GRA candidates: exactly what `gra train` builds (params.yaml: audio front end, feature sets,
  speaker-grouped CV ensemble, calibration), via the same functions. `*` marks the candidate
  `dvc repro` would pick (best CV score on TRAIN_ROOT).
- Reference recipes, as published, without VAD or class balancing: (a) mean of a 128-band mel
  spectrogram + MLP; (b) means of 40 MFCC + 12 chroma + 128 mel + 7 contrast + 6 tonnetz
  (193 values) + RBF SVM. librosa at its default 22,050 Hz.

Results go to stdout and bench/out/real_accuracy_<name>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=UserWarning)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from gra.artifacts import task_data  # noqa: E402
from gra.config import load_settings  # noqa: E402
from gra.data.sources import read_sources  # noqa: E402
from gra.data.split import assign_splits  # noqa: E402
from gra.features.extract import content_hash  # noqa: E402
from gra.features.pipeline import featurize  # noqa: E402
from gra.models import predict_tasks  # noqa: E402
from gra.progress import bar  # noqa: E402
from gra.steps.train import cross_validate_family  # noqa: E402

REFERENCE_SR = 22050
TASKS = ("gender", "age")


# ---------------------------------------------------------------- data


def labelled_clips(root: Path, settings) -> pd.DataFrame:
    manifest, _ = read_sources([root])
    if manifest.empty:
        sys.exit(f"{root}: no labelled clips found (expected <locale>/validated.tsv + clips/)")
    table, _ = assign_splits(manifest, settings.split, settings.labels)
    table["split"] = "all"  # the whole folder is one side of the comparison
    return table


def cap_per_speaker(rows: pd.DataFrame, cap: int) -> np.ndarray:
    """Positions of at most `cap` clips per speaker (first ones in path order)."""
    order = rows.sort_values("path").groupby("client_id").cumcount()
    return np.flatnonzero(order.reindex(rows.index).to_numpy() < cap)


# ------------------------------------------------------ reference recipes


def reference_vector(path: str) -> np.ndarray:
    """193 means: 40 MFCC, 12 chroma, 128 mel, 7 contrast, 6 tonnetz (mel = [52:180])."""
    import librosa

    warnings.filterwarnings("ignore")
    y, sr = librosa.load(path, sr=REFERENCE_SR)
    stft = np.abs(librosa.stft(y))
    parts = [
        librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40).mean(axis=1),
        librosa.feature.chroma_stft(S=stft, sr=sr).mean(axis=1),
        librosa.feature.melspectrogram(y=y, sr=sr, n_mels=128).mean(axis=1),
        librosa.feature.spectral_contrast(S=stft, sr=sr).mean(axis=1),
        librosa.feature.tonnetz(y=librosa.effects.harmonic(y), sr=sr).mean(axis=1),
    ]
    return np.concatenate(parts).astype(np.float32)


def _reference_chunk(paths: list[str], cache: str) -> list[np.ndarray | None]:
    out = []
    for path in paths:
        target = Path(cache) / f"{content_hash(path)}.npy"
        if target.exists():
            out.append(np.load(target))
            continue
        try:
            vector = reference_vector(path)
        except Exception:  # noqa: BLE001 - an undecodable clip drops out of the recipes
            out.append(None)
            continue
        np.save(target, vector)
        out.append(vector)
    return out


def reference_features(paths: list[str], cache: Path, workers: int) -> list[np.ndarray | None]:
    cache.mkdir(parents=True, exist_ok=True)
    chunks = [paths[i : i + 32] for i in range(0, len(paths), 32)]
    results: list[np.ndarray | None] = []
    with bar("reference features", len(paths)) as advance, ProcessPoolExecutor(workers) as pool:
        for chunk, vectors in zip(
            chunks, pool.map(_reference_chunk, chunks, [str(cache)] * len(chunks)), strict=True
        ):
            results += vectors
            advance(len(chunk))
    return results


REFERENCE_RECIPES = {
    "ref: mel-128 means + MLP": (
        slice(52, 180),
        lambda seed: make_pipeline(
            StandardScaler(),
            MLPClassifier((256, 128), max_iter=500, early_stopping=True, random_state=seed),
        ),
    ),
    "ref: 193 means + SVM": (
        slice(0, 193),
        lambda seed: make_pipeline(StandardScaler(), SVC(random_state=seed)),
    ),
}


# --------------------------------------------------------------- scoring


def scores(task: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    if task == "gender":
        return {"accuracy": accuracy_score(y_true, y_pred)}
    error = np.abs(y_true - y_pred)
    return {
        "macro_f1": f1_score(y_true, y_pred, average="macro"),
        "accuracy": accuracy_score(y_true, y_pred),
        "mae_groups": float(error.mean()),
        "within_one_group": float((error <= 1).mean()),
    }


def run(
    train_root: Path,
    test_root: Path,
    params: Path,
    cap: int,
    families: list[str] | None = None,
    with_reference: bool = True,
) -> dict:
    settings = load_settings(params)
    unknown = sorted(set(families or []) - set(settings.train.candidates))
    if unknown:
        sys.exit(f"--families {unknown} are not in train.candidates {settings.train.candidates}")
    train_rows, test_rows = (
        labelled_clips(train_root, settings),
        labelled_clips(test_root, settings),
    )
    overlap = set(train_rows.client_id) & set(test_rows.client_id)
    if overlap:
        print(f"warning: {len(overlap)} speakers are on both sides: scores will be optimistic")
    tables = {}
    for name, rows in (("train", train_rows), ("test", test_rows)):
        with bar(f"featurize {name}", len(rows)) as advance:
            tables[name] = featurize(
                rows, settings.audio, settings.featurize, settings.paths.cache, progress=advance
            )
    reference = (
        dict(
            zip(
                ("train", "test"),
                (
                    reference_features(
                        list(r["path"]),
                        settings.paths.cache / "reference",
                        settings.featurize.workers,
                    )
                    for r in (train_rows, test_rows)
                ),
                strict=True,
            )
        )
        if with_reference
        else None
    )
    results: dict = {"train": str(train_root), "test": str(test_root), "tasks": {}}
    t = settings.train
    picked_gender = None
    for task in TASKS:
        classes = settings.labels.classes(task)
        train = task_data(train_rows, tables["train"], task, "all", classes)
        test = task_data(test_rows, tables["test"], task, "all", classes)
        keep = cap_per_speaker(test.rows, cap)
        rows: dict[str, dict] = {}
        cv_best: tuple[float, str] | None = None
        for family in families or t.candidates:
            started = time.perf_counter()
            cv = cross_validate_family(t, family, task, train, classes)
            fit_seconds = time.perf_counter() - started
            held = test.X.take(keep)
            started = time.perf_counter()
            # As served: a conditioned age model gets the picked gender model's output.
            models = (
                {task: cv.model} if task == "gender" else {"gender": picked_gender, task: cv.model}
            )
            proba = predict_tasks(models, held)[task]
            per_clip_ms = 1000 * (time.perf_counter() - started) / max(len(keep), 1)
            rows[family] = scores(task, test.y[keep], proba.argmax(axis=1)) | {
                "fit_seconds": round(fit_seconds, 1),
                "model_ms_per_clip": round(per_clip_ms, 2),
            }
            metric = settings.evaluate.metric_for(task)
            mean = cv.summary[metric]["mean"]
            if cv_best is None or mean > cv_best[0]:
                cv_best = (mean, family)
                if task == "gender":
                    picked_gender = cv.model
            print(f"{task} {family}: {rows[family]}", flush=True)
        for name, (columns, make) in (REFERENCE_RECIPES if reference else {}).items():
            rows[name] = _reference_scores(
                task, classes, train_rows, test_rows, reference, columns, make, cap, t.seed
            )
            print(f"{task} {name}: {rows[name]}", flush=True)
        results["tasks"][task] = {
            "picked": cv_best[1] if cv_best else None,
            "test_clips": int(len(keep)),
            "test_speakers": int(test.rows.iloc[keep]["client_id"].nunique()),
            "rows": rows,
        }
    return results


def _reference_scores(task, classes, train_rows, test_rows, reference, columns, make, cap, seed):
    label = f"{task}_label"
    lookup = {c: i for i, c in enumerate(classes)}
    sides = {}
    for name, rows in (("train", train_rows), ("test", test_rows)):
        vectors = reference[name]
        ok = np.array([v is not None for v in vectors]) & rows[label].notna().to_numpy()
        part = rows[ok].reset_index(drop=True)
        X = np.stack([v for v, good in zip(vectors, ok, strict=True) if good])[:, columns]
        sides[name] = (part, np.nan_to_num(X), part[label].map(lookup).to_numpy())
    part, X, y = sides["train"]
    started = time.perf_counter()
    model = make(seed).fit(X, y)
    fit_seconds = time.perf_counter() - started
    part, X, y = sides["test"]
    keep = cap_per_speaker(part, cap)
    return scores(task, y[keep], model.predict(X[keep])) | {"fit_seconds": round(fit_seconds, 1)}


def markdown(results: dict) -> str:
    g, a = results["tasks"]["gender"], results["tasks"]["age"]
    lines = [
        f"Train: `{results['train']}`; test: `{results['test']}` "
        f"(gender {g['test_clips']} clips / {g['test_speakers']} speakers, "
        f"age {a['test_clips']} clips / {a['test_speakers']} speakers, <= cap per speaker).",
        "",
        "| model | gender acc | age macro-F1 | age acc | age MAE | age within-1 | ms/clip batch |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in g["rows"]:
        gr, ar = g["rows"][name], a["rows"][name]
        picked = [t for t, r in (("gender", g), ("age", a)) if r["picked"] == name]
        mark = f" (picked for {', '.join(picked)})" if picked else ""
        # The age call runs the picked gender model first, as served: it is the whole cost.
        ms = ar.get("model_ms_per_clip")
        ms_text = f"{ms:.1f}" if ms is not None else ""
        lines.append(
            f"| {name}{mark} | {gr['accuracy']:.3f} | {ar['macro_f1']:.3f} | {ar['accuracy']:.3f} "
            f"| {ar['mae_groups']:.2f} | {ar['within_one_group']:.3f} | {ms_text} |"
        )
    return "\n".join(lines) + "\n"


def summary_markdown(folds: list[dict]) -> str:
    """Mean ± spread over folds of each model's scores (each fold: other test speakers)."""
    columns = [
        ("gender", "accuracy", "gender acc"),
        ("age", "macro_f1", "age macro-F1"),
        ("age", "accuracy", "age acc"),
        ("age", "mae_groups", "age MAE"),
        ("age", "within_one_group", "age within-1"),
    ]
    names = list(folds[0]["tasks"]["gender"]["rows"])
    lines = [
        f"{len(folds)} speaker-disjoint folds; mean ± standard deviation over the folds.",
        "",
        "| model | " + " | ".join(title for _, _, title in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in names:
        cells = []
        for task, key, _ in columns:
            values = [f["tasks"][task]["rows"][name][key] for f in folds]
            cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
        picked = sum(f["tasks"][t]["picked"] == name for f in folds for t in TASKS)
        mark = f" (picked {picked}/{2 * len(folds)})" if picked else ""
        lines.append(f"| {name}{mark} | " + " | ".join(cells) + " |")
    # What `dvc repro` ships: in each fold, each task's CV-picked candidate.
    cells = []
    for task, key, _ in columns:
        values = [f["tasks"][task]["rows"][f["tasks"][task]["picked"]][key] for f in folds]
        cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}")
    lines.append("| **GRA as shipped** (CV-picked per task) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train_root", type=Path, nargs="?")
    parser.add_argument("test_root", type=Path, nargs="?")
    parser.add_argument(
        "--folds", type=Path, default=None, help="run every fold_*/{train,test} of this folder"
    )
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--max-clips-per-speaker", type=int, default=10)
    parser.add_argument("--name", default=None, help="output file suffix (default: test folder)")
    parser.add_argument(
        "--families", default=None, help="comma-separated subset of train.candidates to run"
    )
    parser.add_argument(
        "--skip-reference",
        action="store_true",
        help="leave out the two reference recipes (their features take ~20 min cold)",
    )
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if args.folds:
        pairs = [(d / "train", d / "test") for d in sorted(args.folds.glob("fold_*"))]
        if not pairs:
            sys.exit(f"{args.folds} has no fold_*/ folders: make them with bench/speaker_folds.py")
    elif args.train_root and args.test_root:
        pairs = [(args.train_root, args.test_root)]
    else:
        sys.exit("pass TRAIN_ROOT TEST_ROOT, or --folds FOLDER (see bench/speaker_folds.py)")
    for train_root, test_root in pairs:
        for root in (train_root, test_root):
            if not root.is_dir():
                sys.exit(f"{root} is not a folder: pass Common Voice release folders")
    families = args.families.split(",") if args.families else None
    out = Path("bench/out")
    out.mkdir(parents=True, exist_ok=True)
    all_results = []
    for train_root, test_root in pairs:
        results = run(
            train_root,
            test_root,
            args.params,
            args.max_clips_per_speaker,
            families,
            with_reference=not args.skip_reference,
        )
        all_results.append(results)
        text = markdown(results)
        print(text, flush=True)
        name = args.name or "_".join(test_root.resolve().parts[-2:])
        (out / f"real_accuracy_{name}.json").write_text(json.dumps(results, indent=2) + "\n")
        (out / f"real_accuracy_{name}.md").write_text(text)
    if len(all_results) > 1:
        text = summary_markdown(all_results)
        print(text)
        (out / "real_accuracy_summary.md").write_text(text)


if __name__ == "__main__":
    main()
