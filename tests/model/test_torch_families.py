"""The PyTorch families (MLP, CNN, RNN) as scikit-learn classifiers on small synthetic
problems: real torch training through the shared loop, no mocks."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
from read_recorder import RecordingArray

from gra.config import TrainSettings
from gra.models import FeatureMatrix, TaskModel, build, design_matrix
from gra.models.augment import add_noise_floor, augment, stretch
from gra.models.cnn import CnnClassifier
from gra.models.rnn import RnnClassifier
from gra.models.torch_estimator import class_weights, resolve_device

N_MELS, FRAMES = 32, 120
SMALL = {"epochs": 8, "batch_size": 16, "lr": 0.005, "crop_frames": 80, "threads": 1}
FAMILIES = {
    "cnn": lambda **kw: CnnClassifier(channels=(8, 16), dropout=0.1, **(SMALL | kw)),
    "rnn": lambda **kw: RnnClassifier(hidden=16, dropout=0.1, **(SMALL | kw)),
}


def _clips(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 has extra energy in the low mel bands, class 1 in the high bands (+ noise)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rng.shuffle(y)
    x = rng.normal(0.0, 4.0, size=(n, N_MELS, FRAMES))
    x[y == 0, : N_MELS // 3, :] += 6.0
    x[y == 1, -N_MELS // 3 :, :] += 6.0
    x -= x.mean(axis=(1, 2), keepdims=True)  # per-clip mean removed, as in featurize
    return x.astype(np.float16), y


@pytest.fixture(scope="module")
def data():
    X, y = _clips(60, seed=1)
    X_test, y_test = _clips(30, seed=2)
    return X, y, X_test, y_test


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def fitted(request, data):
    X, y, _, _ = data
    return request.param, FAMILIES[request.param](random_state=3).fit(X, y)


def test_learns_and_keeps_the_best_epoch(fitted, data):
    _, model = fitted
    _, _, X_test, y_test = data
    proba = model.predict_proba(X_test)
    assert proba.shape == (30, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.mean(model.predict(X_test) == y_test) > 0.8
    assert len(model.history_) == SMALL["epochs"] and 1 <= model.best_epoch_ <= SMALL["epochs"]
    assert all("val_balanced_accuracy" in record for record in model.history_)


def test_joblib_round_trip_predicts_the_same(fitted, data, tmp_path):
    name, model = fitted
    _, _, X_test, _ = data
    joblib.dump(model, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_array_equal(again.predict_proba(X_test), model.predict_proba(X_test))
    assert hasattr(model, "module_"), "saving must not strip the fitted network"
    assert b"torch.nn" not in pickle.dumps(model), "the network travels as a state dict"


def test_same_seed_same_probabilities_and_auto_device_is_the_cpu_here(fitted, data):
    name, model = fitted
    X, y, X_test, _ = data
    assert resolve_device("auto").type == (
        "cuda" if __import__("torch").cuda.is_available() else "cpu"
    )
    again = FAMILIES[name](random_state=3, device="auto").fit(X, y)
    if resolve_device("auto").type == "cpu":
        np.testing.assert_array_equal(again.predict_proba(X_test), model.predict_proba(X_test))


def test_epoch_callback_sees_every_epoch_and_is_not_saved(data):
    X, y, _, _ = data
    seen = []
    model = FAMILIES["cnn"](epochs=2, on_epoch=seen.append).fit(X, y)
    assert [r["epoch"] for r in seen] == [1.0, 2.0]
    assert pickle.loads(pickle.dumps(model)).on_epoch is None


def test_a_class_absent_from_training_keeps_a_zero_column(data):
    X, y, X_test, _ = data
    model = FAMILIES["rnn"](epochs=2).fit(X, y)
    shipped = TaskModel("rnn", ["a", "b", "never_seen"], False, model)
    proba = shipped.predict_proba(FeatureMatrix(np.zeros((30, 1), np.float32), ["x"], X_test))
    assert proba.shape == (30, 3) and (proba[:, 2] == 0).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)


def test_a_frame_family_trains_from_a_memory_mapped_file_a_batch_at_a_time(tmp_path):
    """The speaker-fold ensemble of a frame family, fitted on LazyRows of a .npy memory map
    (what `gra train cnn` gets): the same model as from the array in memory, and no read
    larger than a chunk of rows, so the patch file is never loaded whole."""
    from gra.models.fold_ensemble import SpeakerFoldEnsemble
    from gra.models.inputs import LazyRows

    X, y = _clips(300, seed=4)
    np.save(tmp_path / "logmel.npy", X)
    mapped = RecordingArray(np.load(tmp_path / "logmel.npy", mmap_mode="r"))
    groups = np.arange(300) // 3  # speakers of three clips
    cnn = {"epochs": 1, "channels": [4], "batch_size": 16, "crop_frames": 80}
    t = TrainSettings(cnn=cnn, device="cpu")  # (bit-for-bit comparison: CPU)

    def fit(X) -> SpeakerFoldEnsemble:
        ensemble = SpeakerFoldEnsemble(build("cnn", t), n_splits=3, random_state=0)
        return ensemble.fit(X, y, groups=groups, sample_weight=np.ones(300))

    lazy = fit(LazyRows(mapped))
    assert mapped.reads and max(mapped.reads) <= 256 < 300
    in_memory = fit(X)
    np.testing.assert_array_equal(lazy.oof_proba_, in_memory.oof_proba_)
    before = len(mapped.reads)
    np.testing.assert_array_equal(
        lazy.predict_proba(LazyRows(mapped)[:50]), in_memory.predict_proba(X[:50])
    )
    assert max(mapped.reads[before:]) <= CnnClassifier.predict_batch


def test_frame_families_need_the_logmel_set():
    no_patches = FeatureMatrix(np.zeros((3, 2), np.float32), ["a", "b"], None)
    with pytest.raises(ValueError, match="featurize.sets"):
        design_matrix(no_patches, "logmel")
    with pytest.raises(ValueError, match="cannot be conditioned"):
        build("rnn", TrainSettings(), conditioned=True)


def test_class_weights_balance_classes_and_keep_the_mean_weight():
    y = np.array([0] * 90 + [1] * 10)
    w = class_weights(y, np.ones(100), 3)
    assert w[1] / w[0] == pytest.approx(9.0) and w[2] == 0.0
    assert (w[y]).mean() == pytest.approx(1.0)


def test_augmentation_stretches_tempo_and_adds_a_noise_floor():
    rng = np.random.default_rng(0)
    patch = rng.normal(-40.0, 10.0, size=(N_MELS, FRAMES)).astype(np.float32)
    patch[:, :10] = 0.0  # the loudest frames

    slower = stretch(patch, 1.08)
    assert slower.shape == (N_MELS, round(FRAMES * 1.08))
    assert np.allclose(slower[:, 0], patch[:, 0]) and np.allclose(slower[:, -1], patch[:, -1])

    noisy = add_noise_floor(patch, below_peak_db=30.0)
    assert noisy.min() >= -30.0 - 1e-3  # nothing quieter than the floor survives
    assert np.allclose(noisy[:, :10], 0.0, atol=0.01)  # loud frames barely change

    batch = np.stack([patch, patch[:, ::-1]]).astype(np.float16)
    out = augment(batch, np.random.default_rng(1), crop=80, mean=-30.0, std=10.0)
    assert out.shape == (2, N_MELS, 80) and out.dtype == np.float32 and np.isfinite(out).all()
