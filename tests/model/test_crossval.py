"""Speaker-grouped cross-validation, the fold ensemble it ships, and its calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gra.config import TrainSettings
from gra.models import build, load, predict_tasks
from gra.models.base import FeatureMatrix
from gra.models.calibration import (
    apply_temperature,
    fit_temperature,
    negative_log_likelihood,
)
from gra.models.conditioning import gender_from_labels
from gra.models.crossval import cross_validate, speaker_folds, speaker_weights

CLASSES = ["female", "male"]


def _speakers(n_speakers: int = 40, clips: int = 6, seed: int = 0):
    """Clips whose features carry the speaker's class plus a per-speaker offset."""
    rng = np.random.default_rng(seed)
    y_speaker = rng.integers(0, 2, n_speakers)
    offsets = rng.normal(0, 1.0, (n_speakers, 8))
    groups = np.repeat(np.arange(n_speakers), clips).astype(str)
    y = np.repeat(y_speaker, clips)
    X = offsets[np.repeat(np.arange(n_speakers), clips)] + rng.normal(0, 0.5, (len(y), 8))
    X[:, 0] += 1.5 * (2 * y - 1)
    return FeatureMatrix(X.astype(np.float32), [f"f{i}" for i in range(8)]), y, groups


def test_each_speaker_is_held_out_in_exactly_one_fold():
    _, y, groups = _speakers()
    folds = speaker_folds(y, groups, k=5, seed=1)
    held = np.concatenate([test for _, test in folds])
    assert sorted(held.tolist()) == list(range(len(y)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])


def test_too_few_speakers_is_a_clear_error():
    _, y, groups = _speakers(n_speakers=3)
    with pytest.raises(Exception, match="cv_folds"):
        speaker_folds(y, groups, k=5, seed=0)


def test_speakers_with_many_clips_share_a_capped_weight():
    groups = np.array(["a"] * 20 + ["b"] * 5)
    w = speaker_weights(groups, cap=10)
    assert w[:20].sum() == pytest.approx(10.0) and (w[20:] == 1.0).all()


def test_cross_validation_scores_ships_and_reloads_the_fold_ensemble(tmp_path):
    X, y, groups = _speakers()
    settings = TrainSettings()
    cv = cross_validate(
        lambda: build("logreg", CLASSES, settings),
        X,
        y,
        groups,
        speaker_weights(groups, 10),
        CLASSES,
        k=4,
        seed=0,
    )
    assert len(cv.model.members) == 4 and len(cv.folds) == 4
    assert cv.summary["accuracy"]["mean"] > 0.8  # the class signal is learnable
    fold_accuracy = [fold["accuracy"] for fold in cv.folds]
    assert cv.summary["accuracy"]["std"] == pytest.approx(np.std(fold_accuracy), abs=1e-4)
    assert np.allclose(cv.oof_proba.sum(axis=1), 1.0)
    cv.model.save(tmp_path / "gender")
    again = load(tmp_path / "gender")
    assert np.allclose(again.predict_proba(X), cv.model.predict_proba(X))
    assert again.temperature == pytest.approx(cv.model.temperature)


def test_mlp_family_learns_conditions_on_gender_and_reloads(tmp_path):
    X, y, groups = _speakers()
    settings = TrainSettings.model_validate({"mlp": {"epochs": 60}})
    sign = np.where(y == 1, 1.0, -1.0)
    cv = cross_validate(
        lambda: build("mlp", CLASSES, settings, needs_gender=True),
        X.with_gender(sign),
        y,
        groups,
        speaker_weights(groups, 10),
        CLASSES,
        k=3,
        seed=0,
    )
    assert cv.summary["accuracy"]["mean"] > 0.8
    cv.model.save(tmp_path / "m")
    again = load(tmp_path / "m")
    assert again.needs_gender
    assert np.allclose(
        again.predict_proba(X.with_gender(sign)), cv.model.predict_proba(X.with_gender(sign))
    )


def test_temperature_softens_overconfident_probabilities_without_changing_decisions():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 2000)
    right = rng.uniform(size=2000) < 0.6  # right 60% of the time, claims 95%
    pred = np.where(right, y, (y + 1) % 3)
    proba = np.full((2000, 3), 0.025)
    proba[np.arange(2000), pred] = 0.95
    t = fit_temperature(proba, y)
    calibrated = apply_temperature(proba, t)
    assert t > 1.5
    assert negative_log_likelihood(calibrated, y) < negative_log_likelihood(proba, y)
    assert (calibrated.argmax(axis=1) == pred).all()
    assert calibrated.max(axis=1).mean() == pytest.approx(0.6, abs=0.05)


def test_age_conditioned_on_gender_gets_the_gender_models_output(tmp_path):
    """Ages drawn so that one feature means opposite things in women and men: only the
    conditioned model can learn it, and predict_tasks feeds it the gender model's answer."""
    rng = np.random.default_rng(5)
    n = 600
    sex = rng.integers(0, 2, n)  # 1 = male
    age = rng.integers(0, 2, n)
    X = rng.normal(0, 1, (n, 4)).astype(np.float32)
    X[:, 0] += np.where(sex == 1, 2.0, -2.0)  # gender signal
    X[:, 1] += np.where(age == sex, 1.5, -1.5)  # age signal, flipped by gender
    features = FeatureMatrix(X, ["g", "a", "n1", "n2"])
    settings = TrainSettings()
    labels = np.where(sex == 1, "male", "female")
    gender = build("logreg", CLASSES, settings).fit(features, sex)
    plain = build("logreg", ["young", "old"], settings).fit(features, age)
    conditioned = build("logreg", ["young", "old"], settings, needs_gender=True)
    conditioned.fit(features.with_gender(gender_from_labels(pd.Series(labels))), age)
    conditioned.save(tmp_path / "age")
    conditioned = load(tmp_path / "age")
    assert conditioned.needs_gender

    with pytest.raises(ValueError, match="predict gender first"):
        conditioned.predict_proba(features)
    proba = predict_tasks({"gender": gender, "age": conditioned}, features)
    assert list(proba) == ["gender", "age"]
    accuracy = (proba["age"].argmax(axis=1) == age).mean()
    assert accuracy > 0.8
    assert (plain.predict_proba(features).argmax(axis=1) == age).mean() < 0.65
    with pytest.raises(ValueError, match="needs a gender model"):
        predict_tasks({"age": conditioned}, features)


def test_uncertain_threshold_leaves_the_target_accuracy_unflagged():
    from gra.models.calibration import uncertainty_threshold

    rng = np.random.default_rng(0)
    n = 2000
    confidence = rng.uniform(0.5, 1.0, n)  # calibrated: right with probability `confidence`
    y = np.zeros(n, dtype=int)
    right = rng.uniform(size=n) < confidence
    proba = np.where(right[:, None], [[1, 0]], [[0, 1]]) * confidence[:, None]
    proba = proba + np.where(right[:, None], [[0, 1]], [[1, 0]]) * (1 - confidence[:, None])
    chosen = uncertainty_threshold(proba, y, target=0.9, min_coverage=0.1)
    unflagged = proba.max(axis=1) >= chosen["below"]
    assert chosen["target_reached"] and (proba[unflagged].argmax(1) == 0).mean() >= 0.9
    assert 0.2 < chosen["coverage"] < 0.9 and 0.7 < chosen["below"] < 0.95
    # Unreachable: the most confident tenth pass, and the record says so.
    hard = uncertainty_threshold(proba, y, target=0.999, min_coverage=0.1)
    assert not hard["target_reached"] and hard["coverage"] == pytest.approx(0.1, abs=0.01)
