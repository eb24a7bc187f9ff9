"""Every model family, registered here and nowhere else: its name, what it reads and how its
scikit-learn estimator is built from params.yaml.

A family's estimator is a plain scikit-learn Pipeline: [GenderInteraction] (age given gender),
StandardScaler (vector families; the frame families standardise inside), the classifier.
Metadata routing says who takes what: the classifier takes `sample_weight` (speaker
balancing), the PyTorch families also `groups` (speakers held back to pick the best epoch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from sklearn import config_context
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from gra.config import TrainSettings
from gra.models.conditioning import GenderInteraction
from gra.models.inputs import Reads

EpochCallback = Callable[[dict], None] | None
Builder = Callable[[TrainSettings, EpochCallback, int | None], BaseEstimator]  # n_rows: data size


@dataclass(frozen=True)
class Family:
    name: str
    reads: Reads  # summary "vectors" or log-mel frames
    classifier: Builder
    epochs: Callable[[TrainSettings], int] | None = None  # PyTorch: epochs per fit (progress)
    scaled: bool = True  # a StandardScaler before it (vector families; trees need none)
    # Fold models may be fitted on parallel threads. Not the PyTorch families: they seed
    # torch's one global RNG (dropout, initialisation), and they use every core already.
    parallel_folds: bool = True


def _logreg(t: TrainSettings, _: EpochCallback, n_rows: int | None) -> BaseEstimator:
    from sklearn.linear_model import LogisticRegression

    # Strong L2 (small C): 500 correlated features from a few thousand speakers.
    return LogisticRegression(
        C=t.logreg.C, class_weight="balanced", max_iter=t.logreg.max_iter, random_state=t.seed
    ).set_fit_request(sample_weight=True)


def _svm(t: TrainSettings, _: EpochCallback, n_rows: int | None) -> BaseEstimator:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # Balanced class weights: Common Voice is ~3:1 male and has few teens and 60+ speakers.
    if n_rows is not None and n_rows > t.svm.exact_max_rows:
        svm = _approximate_svm(t, n_rows)  # an exact kernel SVM's cost grows with rows squared
    else:
        svm = SVC(C=t.svm.C, gamma=t.svm.gamma, class_weight="balanced", random_state=t.seed)
        svm.set_fit_request(sample_weight=True)
    # Probabilities: what replaces SVC(probability=True) (deprecated in scikit-learn 1.9).
    return CalibratedClassifierCV(
        svm,
        method=t.svm.calibration,
        cv=t.svm.calibration_folds,
        ensemble=False,
    ).set_fit_request(sample_weight=True)


def _approximate_svm(t: TrainSettings, n_rows: int) -> BaseEstimator:
    """The RBF kernel through a Nystroem map, then a linear SVM trained by averaged SGD: cost
    linear in rows. (LinearSVC, liblinear, took 135 s a fit at 43,000 x 1,000 against 10 s
    for SGD: bench/scale.py, README.)"""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import SGDClassifier

    # gamma None: 1 / n_features, which is "scale" on standardised features.
    gamma = None if t.svm.gamma == "scale" else t.svm.gamma
    # SVC minimises C * sum(hinge) + |w|^2 / 2; SGD mean(hinge) + alpha * |w|^2 / 2: the same
    # objective when alpha = 1 / (C * rows).
    return make_pipeline(
        Nystroem(gamma=gamma, n_components=t.svm.approx_components, random_state=t.seed),
        SGDClassifier(
            loss="hinge",
            alpha=1.0 / (t.svm.C * n_rows),
            average=True,
            max_iter=t.svm.approx_epochs,
            tol=None,  # a fixed number of passes: the same cost for every fit
            class_weight="balanced",
            random_state=t.seed,
        ).set_fit_request(sample_weight=True),
    )


def _random_forest(t: TrainSettings, _: EpochCallback, n_rows: int | None) -> BaseEstimator:
    from sklearn.ensemble import RandomForestClassifier

    # Bounded bootstrap rows per tree: each tree costs the same however large the data.
    bounded = n_rows is not None and n_rows > t.random_forest.max_samples_per_tree
    return RandomForestClassifier(
        max_samples=t.random_forest.max_samples_per_tree if bounded else None,
        n_estimators=t.random_forest.n_estimators,
        min_samples_leaf=t.random_forest.min_samples_leaf,
        max_features=t.random_forest.max_features,
        class_weight="balanced_subsample",
        n_jobs=-1,
        random_state=t.seed,
    ).set_fit_request(sample_weight=True)


def _torch(name: str, cls: str) -> Builder:
    """A PyTorch family: class `cls` of gra.models.<name>, settings in train.<name>."""

    def make(t: TrainSettings, on_epoch: EpochCallback, _: int | None) -> BaseEstimator:
        estimator = getattr(import_module(f"gra.models.{name}"), cls)
        settings = {
            key: tuple(value) if isinstance(value, list) else value  # (hashable params)
            for key, value in getattr(t, name).model_dump().items()
        }
        return estimator(
            **settings, device=t.device, random_state=t.seed, on_epoch=on_epoch
        ).set_fit_request(sample_weight=True, groups=True)

    return make


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("logreg", "vectors", _logreg),
        Family("svm", "vectors", _svm),
        Family("random_forest", "vectors", _random_forest, scaled=False),
        Family(
            "mlp",
            "vectors",
            _torch("mlp", "MlpClassifier"),
            lambda t: t.mlp.epochs,
            parallel_folds=False,
        ),
        Family(
            "cnn",
            "logmel",
            _torch("cnn", "CnnClassifier"),
            lambda t: t.cnn.epochs,
            parallel_folds=False,
        ),
        Family(
            "rnn",
            "logmel",
            _torch("rnn", "RnnClassifier"),
            lambda t: t.rnn.epochs,
            parallel_folds=False,
        ),
    )
}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ValueError(f"unknown model family {name!r}: use one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


def conditioned(t: TrainSettings, task: str, name: str) -> bool:
    """Whether this task's model of this family is conditioned on gender (age, on vectors)."""
    return t.age_given_gender and task == "age" and family(name).reads == "vectors"


def build(
    name: str,
    t: TrainSettings,
    conditioned: bool = False,
    on_epoch: EpochCallback = None,
    n_rows: int | None = None,
) -> Pipeline:
    """A fresh, unfitted pipeline of this family; on_epoch (PyTorch families) sees each
    epoch's record, for progress; n_rows (the training rows of one fit, if known) lets a
    family switch to its large-data form (params: svm.exact_max_rows, ...)."""
    f = family(name)
    if conditioned and f.reads != "vectors":
        raise ValueError(f"the {name} family reads frames and cannot be conditioned on gender")
    with config_context(enable_metadata_routing=True):  # set_fit_request needs it on
        steps: list[BaseEstimator] = [GenderInteraction()] if conditioned else []
        if f.reads == "vectors" and f.scaled:
            steps.append(StandardScaler().set_fit_request(sample_weight=False))
        steps.append(f.classifier(t, on_epoch, n_rows))
        return make_pipeline(*steps)
