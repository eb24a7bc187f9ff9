"""The CNN family on a tiny synthetic log-mel problem: real torch training, no mocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gra.config import CnnSettings
from gra.models.base import FeatureMatrix
from gra.models.cnn import CnnClassifier

N_MELS, FRAMES = 64, 300
SETTINGS = CnnSettings(
    epochs=8, batch_size=16, lr=0.005, channels=[8, 16], dropout=0.1, crop_frames=200, threads=1
)


def _clips(n: int, seed: int, n_classes: int = 2) -> tuple[FeatureMatrix, np.ndarray]:
    """Class 0 has extra energy in the low mel bands, class 1 in the high bands (+ noise)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    x = rng.normal(0.0, 4.0, size=(n, N_MELS, FRAMES))
    x[y == 0, : N_MELS // 3, :] += 6.0
    x[y == 1, -N_MELS // 3 :, :] += 6.0
    x -= x.mean(axis=(1, 2), keepdims=True)  # per-clip mean removed, as in featurize
    vectors = np.zeros((n, 1), dtype=np.float32)
    return FeatureMatrix(vectors, ["dummy"], x.astype(np.float16)), y


@pytest.fixture(scope="module")
def data() -> tuple[FeatureMatrix, np.ndarray, FeatureMatrix, np.ndarray]:
    X, y = _clips(60, seed=1)
    X_test, y_test = _clips(30, seed=2)
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def fitted(data) -> CnnClassifier:
    X, y, _, _ = data
    return CnnClassifier(["female", "male"], SETTINGS, seed=3).fit(X, y)


def test_fit_predict_shape_and_accuracy(fitted: CnnClassifier, data) -> None:
    _, _, X_test, y_test = data
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (30, 2)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.mean(proba.argmax(axis=1) == y_test) > 0.8
    assert len(fitted.history) == SETTINGS.epochs


def test_save_load_roundtrip(fitted: CnnClassifier, data, tmp_path: Path) -> None:
    _, _, X_test, _ = data
    fitted.save(tmp_path)
    assert (tmp_path / "family.txt").read_text().strip() == "cnn"
    loaded = CnnClassifier.load(tmp_path)
    assert loaded.classes == fitted.classes
    assert loaded.settings == fitted.settings
    assert (loaded.mean, loaded.std) == (fitted.mean, fitted.std)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))


def test_same_seed_same_probabilities(fitted: CnnClassifier, data) -> None:
    X, y, X_test, _ = data
    again = CnnClassifier(["female", "male"], SETTINGS, seed=3).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X_test), fitted.predict_proba(X_test))


def test_missing_logmel_is_a_clear_error(data) -> None:
    X, y, _, _ = data
    no_patches = FeatureMatrix(X.vectors, X.columns, None)
    model = CnnClassifier(["female", "male"], SETTINGS)
    with pytest.raises(ValueError, match="featurize.sets"):
        model.fit(no_patches, y)
    with pytest.raises(ValueError, match="logmel"):
        model.predict_proba(no_patches)


def test_class_without_training_examples_keeps_a_column(data) -> None:
    X, y, X_test, y_test = data
    settings = SETTINGS.model_copy(update={"epochs": 4})
    model = CnnClassifier(["a", "b", "never_seen"], settings, seed=0)
    # With validation data: keeps the best epoch by validation balanced accuracy.
    model.fit(X, y, X_test, y_test)
    proba = model.predict_proba(X_test)
    assert proba.shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(np.isfinite(proba))
    assert proba[:, 2].mean() < 0.2
    assert model.best_epoch is not None and 1 <= model.best_epoch <= 4
    assert all("val_balanced_accuracy" in h for h in model.history)


def test_augmentation_stretches_tempo_and_adds_a_noise_floor() -> None:
    rng = np.random.default_rng(0)
    patch = rng.normal(-40.0, 10.0, size=(N_MELS, FRAMES)).astype(np.float32)
    patch[:, :10] = 0.0  # the loudest frames

    slower = CnnClassifier._stretch(patch, 1.08)
    assert slower.shape == (N_MELS, round(FRAMES * 1.08))
    assert np.allclose(slower[:, 0], patch[:, 0]) and np.allclose(slower[:, -1], patch[:, -1])

    noisy = CnnClassifier._add_noise_floor(patch, below_peak_db=30.0)
    assert noisy.min() >= -30.0 - 1e-3  # nothing quieter than the floor survives
    assert np.allclose(noisy[:, :10], 0.0, atol=0.01)  # loud frames barely change

    model = CnnClassifier(["a", "b"], SETTINGS, seed=0)
    batch = np.stack([patch, patch[:, ::-1]]).astype(np.float16)
    out = model._augment(batch, np.random.default_rng(1))
    assert out.shape == (2, N_MELS, SETTINGS.crop_frames) and np.isfinite(out).all()
