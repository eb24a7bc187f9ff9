"""The model a family ships: its speaker-disjoint fold models, averaged, then calibrated.

Fitting cross-validates by speaker with scikit-learn's own tools (StratifiedGroupKFold,
cross_validate with metadata routing: `groups` reach the splitter and any estimator that asks
for them, `sample_weight` the steps that ask for it). Each fold model was trained on (k-1)/k of
the speakers and predicted the rest, so the ensemble comes with honest out-of-fold
probabilities (scored by gra.evaluation, used for calibration) and costs no extra final fit.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from joblib import parallel_config
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedGroupKFold, cross_validate
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from gra.models.calibration import apply_temperature, fit_temperature
from gra.models.inputs import LazyRows


class SpeakerFoldEnsemble(ClassifierMixin, BaseEstimator):
    """k fold models of `estimator` (one per speaker-disjoint fold), their mean probability,
    temperature-scaled on the out-of-fold predictions.

    After fit: estimators_, classes_, fold_test_indices_ (each fold's held-out rows),
    oof_proba_ (raw out-of-fold probabilities, rows as the input) and temperature_.
    `on_fold` (not saved) is called after each fold model is fitted, for progress;
    `n_jobs` fold models are fitted at once, on threads.
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        n_splits: int = 5,
        random_state: int | None = None,
        n_jobs: int | None = None,
        on_fold: Callable[[int], None] | None = None,
    ) -> None:
        self.estimator = estimator
        self.n_splits = n_splits
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.on_fold = on_fold

    def fit(self, X, y, groups=None, sample_weight=None) -> SpeakerFoldEnsemble:
        """groups: the speaker of each row (None: every row its own speaker)."""
        X, y = self._validate(X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        n_speakers = len(np.unique(groups))
        if n_speakers < self.n_splits:
            raise ValueError(
                f"cross-validation needs at least n_splits={self.n_splits} speakers; "
                f"the data has {n_speakers} ({len(y)} samples)"
            )
        splitter = StratifiedGroupKFold(self.n_splits, shuffle=True, random_state=self.random_state)
        params = {"groups": groups}
        if sample_weight is not None:
            params["sample_weight"] = _check_sample_weight(sample_weight, X, dtype=np.float64)
            if len(np.unique(y[params["sample_weight"] > 0])) < 2:
                raise ValueError("the rows with a weight above 0 hold a single class")
        # Threads, not processes: the folds share X (and progress callbacks reach this
        # process); libsvm, liblinear, BLAS and torch release the GIL while they fit.
        with config_context(enable_metadata_routing=True), parallel_config("threading"):
            result = cross_validate(
                self.estimator,
                X,
                y,
                cv=splitter,
                params=params,
                scoring=self._fold_finished,
                return_estimator=True,
                return_indices=True,
                error_score="raise",
                n_jobs=self.n_jobs,
            )
        self.estimators_ = result["estimator"]
        self.fold_test_indices_ = result["indices"]["test"]
        self.oof_proba_ = np.zeros((len(y), len(self.classes_)))
        for member, rows in zip(self.estimators_, self.fold_test_indices_, strict=True):
            self.oof_proba_[rows] = self._member_proba(member, X[rows])
        self.temperature_ = fit_temperature(self.oof_proba_, np.searchsorted(self.classes_, y))
        return self

    def _validate(self, X, y="no_validation", reset: bool = True):
        """scikit-learn's input checks (X, or X and y), except on LazyRows (memory-mapped
        log-mel patches): checking them would read them all. Their folds stay lazy too
        (X[rows] is another LazyRows), and the PyTorch families read them a batch at a time."""
        if not isinstance(X, LazyRows):
            return validate_data(
                self, X, y, dtype=None, allow_nd=True, ensure_all_finite=False, reset=reset
            )
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, skip_check_array=True, reset=reset)
        X, y = validate_data(self, X, y, skip_check_array=True, reset=reset)
        return X, np.asarray(y)

    def _fold_finished(self, estimator, X, y) -> float:
        """cross_validate's scorer, called once per fold after its fit: reports progress.
        Scores themselves are computed by gra.evaluation on the out-of-fold probabilities."""
        if self.on_fold is not None:
            self.on_fold(len(y))  # held-out rows of the fold just fitted
        return float(len(y))  # held-out rows of this fold

    def _member_proba(self, member, X) -> np.ndarray:
        """A fold model's probabilities in this ensemble's column order (a fold whose training
        part lacked a class gives it probability 0)."""
        proba = np.zeros((len(X), len(self.classes_)))
        proba[:, np.searchsorted(self.classes_, member.classes_)] = member.predict_proba(X)
        return proba

    def raw_proba(self, X) -> np.ndarray:
        """Mean of the fold models' probabilities, before calibration."""
        check_is_fitted(self, "estimators_")
        X = self._validate(X, reset=False)
        return np.mean([self._member_proba(m, X) for m in self.estimators_], axis=0)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Temperature-scale probabilities already averaged over the fold models."""
        return apply_temperature(raw, self.temperature_)

    def predict_proba(self, X) -> np.ndarray:
        return self.calibrate(self.raw_proba(X))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # (raises NotFittedError before classes_ is read)
        return self.classes_[proba.argmax(axis=1)]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: object.__getstate__ is __dict__ itself
        state["on_fold"] = None  # a progress callback is not part of the model
        return state
