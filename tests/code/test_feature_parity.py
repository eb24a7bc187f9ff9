"""Our feature code against the libraries it stands in for (librosa, scipy), on synthetic signals
and, when ../shared/cv-real-dev is there, on a few real Common Voice clips.

Each test states its tolerance. Where we call librosa or scipy ourselves (mel filterbank, MFCC,
deltas, peak picking), the check is end to end or against values recorded from the hand-written
code the call replaced. README "Features and librosa" has the table.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest

from gra.audio.clean import _HOP as GATE_HOP
from gra.audio.clean import _WINDOW as GATE_WINDOW
from gra.audio.clean import _istft, _stft
from gra.features import mfcc, prosodic, spectral
from gra.features.analysis import Analysis, stats

SR = 16000
SHARED_REAL = Path(__file__).resolve().parents[3] / "shared" / "cv-real-dev"


def _harmonic(f0: float, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    """A steady harmonic tone (partials 1/k, random phases) with faint noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    partials = range(1, 8 if f0 < 250 else 5)
    y = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in partials)
    return (0.1 * y + 0.001 * rng.standard_normal(len(t))).astype(np.float32)


def _syllables(
    seconds: float = 3.0, rate_hz: float = 4.0, seed: int = 1, uneven: bool = False
) -> np.ndarray:
    """A voice gliding around 140 Hz, amplitude-modulated into `rate_hz` syllables a second;
    `uneven`: dips of random depth, some shallower than the 3 dB prominence peaks need."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(140 * (1 + 0.1 * np.sin(np.pi * t))) / SR
    voice = sum(np.sin(k * phase) / k for k in range(1, 12))
    if uneven:
        depth = rng.uniform(0.1, 0.8, int(seconds * rate_hz) + 1)[(t * rate_hz).astype(int)]
        envelope = 1 - depth * np.cos(np.pi * rate_hz * t) ** 2
    else:
        envelope = np.sin(np.pi * rate_hz * t) ** 2
    y = 0.1 * envelope * voice + 0.003 * rng.standard_normal(len(t))
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def real_speech(settings) -> list[np.ndarray]:
    """Three real clips through the training front end (decode, VAD, noise gate, loudness)."""
    if not SHARED_REAL.is_dir():
        pytest.skip(f"{SHARED_REAL} not found: real-clip parity needs it")
    from gra.audio import prepare

    paths = sorted(SHARED_REAL.glob("*/clips/*.mp3"))
    out = []
    for path in paths[:: len(paths) // 12]:  # evenly spaced over the locales
        samples = prepare(path, settings.audio).samples
        if len(samples) >= 1.5 * SR:
            out.append(samples)
        if len(out) == 3:
            return out
    pytest.fail("fewer than 3 clips with 1.5 s of speech")


@pytest.fixture(params=["synthetic", "real"])
def clips(request) -> list[np.ndarray]:
    if request.param == "synthetic":
        return [_syllables(), _harmonic(110, seconds=1.5) + _harmonic(700, seconds=1.5, seed=2)]
    return request.getfixturevalue("real_speech")


def _librosa_power(a: Analysis) -> np.ndarray:
    """(bins, frames) librosa.stft power with our window (a 400-sample Hann without its zero
    end points); librosa's own periodic "hann" differs by ~0.03 dB."""
    s = a.settings
    window = np.hanning(int(0.025 * SR) + 2)[1:-1]
    stft = librosa.stft(
        a.samples,
        n_fft=s.n_fft,
        hop_length=a.hop,
        win_length=len(window),
        window=window,
        center=True,
        pad_mode="reflect",
    )
    return np.abs(stft) ** 2


def _librosa_log_mel(a: Analysis, power: np.ndarray) -> np.ndarray:
    s = a.settings
    mel = librosa.feature.melspectrogram(
        S=power, sr=SR, n_fft=s.n_fft, n_mels=s.n_mels, fmin=s.fmin, fmax=s.fmax, htk=False
    )
    return librosa.power_to_db(mel + np.float32(1e-10), ref=1.0, amin=1e-10, top_db=None)


# --- STFT, mel, MFCC, deltas ------------------------------------------------------------------


def test_power_spectrum_matches_librosa_stft(clips, settings):
    """Tolerance: every bin within 1e-5 of the clip's largest bin (float32 FFT rounding)."""
    for y in clips:
        a = Analysis(y, SR, settings.featurize)
        ours, ref = a.spectrum.T, _librosa_power(a)
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * ref.max())


def test_log_mel_matches_librosa_melspectrogram_and_power_to_db(clips, settings):
    """Given the same power spectrum: within 1e-3 dB. (librosa's filterbank is ours now; this
    pins its settings: Slaney scale, area-normalised, and the +1e-10 before the log.)"""
    for y in clips:
        a = Analysis(y, SR, settings.featurize)
        ref = _librosa_log_mel(a, a.spectrum.T)
        np.testing.assert_allclose(a.log_mel, ref, rtol=0, atol=1e-3)


def test_mfcc_set_matches_an_all_librosa_chain(clips, settings):
    """librosa.stft -> melspectrogram -> power_to_db -> mfcc -> delta (width 5, edges repeated;
    d2 = delta of d1): all 120 statistics within 1e-3 absolute and 1e-4 relative."""
    n_mfcc = settings.featurize.n_mfcc
    for y in clips:
        a = Analysis(y, SR, settings.featurize)
        coeffs = librosa.feature.mfcc(
            S=_librosa_log_mel(a, _librosa_power(a)), n_mfcc=n_mfcc, dct_type=2, norm="ortho"
        )
        d1 = librosa.feature.delta(coeffs, width=5, mode="nearest")
        d2 = librosa.feature.delta(d1, width=5, mode="nearest")
        ref = stats("mfcc", coeffs) | stats("mfcc_d1", d1) | stats("mfcc_d2", d2)
        ours = mfcc.compute(a)
        assert list(ours) == list(ref)
        np.testing.assert_allclose(list(ours.values()), list(ref.values()), rtol=1e-4, atol=1e-3)


def test_mfcc_and_syllable_rate_unchanged_by_the_switch_to_librosa_and_scipy(settings):
    """Values the hand-written DCT, deltas and find_peaks gave (commit 129082b) on a fixed
    synthetic voice: within 1e-4 relative, so trained models see the same numbers."""
    a = Analysis(_syllables(), SR, settings.featurize)
    before = {
        "mfcc_mean_00": -269.375549,
        "mfcc_mean_07": -4.010414,
        "mfcc_std_03": 9.159118,
        "mfcc_d1_std_00": 11.526754,
        "mfcc_d1_std_12": 1.001352,
        "mfcc_d2_std_00": 3.834914,
        "mfcc_d2_std_19": 0.366637,
    }
    now = mfcc.compute(a)
    for name, value in before.items():
        assert now[name] == pytest.approx(value, rel=1e-4), name
    assert prosodic._syllable_rate(a) == 4.0  # 12 peaks in 3 s, as before
    # Where prominence (3 dB) and distance (100 ms) decide: 24 peaks at 1 dB, 1 at 6 dB.
    uneven = Analysis(_syllables(rate_hz=8.0, uneven=True), SR, settings.featurize)
    assert prosodic._syllable_rate(uneven) * 3.0 == pytest.approx(13)


def test_syllable_rate_counts_syllables(settings):
    """scipy.signal.find_peaks on the energy envelope: within one syllable over the clip."""
    for rate in (2.0, 3.0, 5.0):
        a = Analysis(_syllables(seconds=4.0, rate_hz=rate), SR, settings.featurize)
        assert abs(prosodic._syllable_rate(a) - rate) <= 1 / 4.0, rate


# --- spectral shape -----------------------------------------------------------------------------


def test_spectral_shape_matches_librosa_feature(clips, settings):
    """Frame by frame on our power spectrum (frames with any energy): centroid, bandwidth and
    flatness within 1e-4 relative; roll-off the same bin in >= 99% of frames and never more than
    one bin (31 Hz) apart; zero-crossing rate within 1e-6."""
    s = settings.featurize
    for y in clips:
        a = Analysis(y, SR, s)
        ours = spectral.tracks(a)
        power = a.spectrum.T
        mag = np.sqrt(power)
        freqs = librosa.fft_frequencies(sr=SR, n_fft=s.n_fft)
        live = power.sum(axis=0) > 1e-6  # ours gives 0 Hz on digital silence, librosa NaN-free junk
        centroid = librosa.feature.spectral_centroid(S=mag, sr=SR, freq=freqs)[0]
        bandwidth = librosa.feature.spectral_bandwidth(
            S=mag, sr=SR, freq=freqs, centroid=centroid[None], p=2
        )[0]
        # Ours takes the 85% point of the power, not of the magnitude (librosa's default S).
        rolloff = librosa.feature.spectral_rolloff(S=power, sr=SR, freq=freqs, roll_percent=0.85)
        # Ours adds 1e-10 to every bin; librosa floors at amin instead: give it ours.
        flatness = librosa.feature.spectral_flatness(S=power + np.float32(1e-10), power=1.0)
        # librosa divides the crossings by the frame length, we by the pairs in it.
        zcr = librosa.feature.zero_crossing_rate(
            a.padded, frame_length=s.n_fft, hop_length=a.hop, center=False, threshold=0.0
        )
        np.testing.assert_allclose(ours["centroid_khz"][live] * 1000, centroid[live], rtol=1e-4)
        np.testing.assert_allclose(ours["bandwidth_khz"][live] * 1000, bandwidth[live], rtol=1e-4)
        np.testing.assert_allclose(ours["flatness"], flatness[0], rtol=1e-4)
        off = np.abs(ours["rolloff_khz"] * 1000 - rolloff[0])
        assert (off == 0).mean() >= 0.99 and off.max() <= freqs[1] + 1e-3, off.max()
        np.testing.assert_allclose(ours["zcr"], zcr[0] * s.n_fft / (s.n_fft - 1), atol=1e-6)


def test_spectral_contrast_matches_librosa_band_by_band(clips, settings):
    """Each band, every 4th frame: within 1e-3 dB of librosa.feature.spectral_contrast on that
    band's bins with quantile 0.2. librosa is called per band and frame because its own layout
    puts band edges one bin lower and its dB are floored 80 below the array's maximum."""
    freqs = np.linspace(0, SR / 2, settings.featurize.n_fft // 2 + 1)
    for y in clips:
        a = Analysis(y, SR, settings.featurize)
        ours = spectral.tracks(a)["contrast"]
        power = a.spectrum.astype(np.float64) + 1e-10  # ours adds 1e-10 before the log
        edges = spectral._CONTRAST_EDGES_HZ
        for band, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
            bins = np.flatnonzero((freqs >= lo) & (freqs < hi))
            # With n_bands=1, librosa's last band is every bin from the one below fmin up:
            # labelled [0, f, f, ...] our band's bins are exactly that band.
            labels = np.full(len(bins), 1.0)
            labels[0] = 0.0
            for frame in range(0, len(power), 4):
                ref = librosa.feature.spectral_contrast(
                    S=power[frame, bins][:, None], freq=labels, n_bands=1, fmin=1.0, quantile=0.2
                )[1, 0]
                assert abs(ours[band, frame] - ref) < 1e-3, (band, frame, ours[band, frame], ref)


# --- pitch --------------------------------------------------------------------------------------


def _cents(f: np.ndarray, ref: np.ndarray | float) -> np.ndarray:
    return 1200 * np.abs(np.log2(f / ref))


@pytest.mark.parametrize("f0", [65.0, 80.0, 100.0, 115.0])
def test_pitch_of_harmonic_tones_below_two_f0_min(settings, f0):
    """Known pitch, only one period in the lag range: >= 95% of frames voiced, every voiced
    frame within 20 cents (librosa.yin, for scale: median <= 5 cents, max 12 here)."""
    f, _ = prosodic.pitch_track(Analysis(_harmonic(f0), SR, settings.featurize))
    voiced = f > 0
    assert voiced.mean() >= 0.95
    assert _cents(f[voiced], f0).max() < 20


@pytest.mark.xfail(
    strict=True,
    reason="known defect: on steady tones above 2 x f0_min the autocorrelation peak at a "
    "multiple of the period can win (65 Hz for 130 Hz); fixing it changes trained features",
)
@pytest.mark.parametrize("f0", [130.0, 240.0, 320.0, 450.0])
def test_pitch_of_harmonic_tones_above_two_f0_min(settings, f0):
    """Known pitch: >= 95% of voiced frames within 50 cents (librosa.pyin and yin manage it)."""
    f, _ = prosodic.pitch_track(Analysis(_harmonic(f0), SR, settings.featurize))
    voiced = f > 0
    assert (_cents(f[voiced], f0) < 50).mean() >= 0.95


def test_pitch_agrees_with_pyin_on_real_speech(real_speech, settings):
    """Against librosa.pyin (60-500 Hz, same hop), pooled over frames both call voiced: median
    error <= 30 cents and >= 60% of frames within 50 cents; voicing decisions agree on >= 65%
    of frames. (These 3 clips: 21 cents, 70%, 79%. On 40 clips: 18 cents, 71%, 81%; 14% of
    frames are over half an octave below pyin: the octave errors of the xfail test above.)"""
    s = settings.featurize
    errors, agree = [], []
    for y in real_speech:
        a = Analysis(y, SR, s)
        ours, _ = prosodic.pitch_track(a)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref, ref_voiced, _ = librosa.pyin(
                y, fmin=s.f0_min, fmax=s.f0_max, sr=SR, frame_length=1024, hop_length=a.hop
            )
        # Our frame t starts at t*hop; pyin's frame t is centred on t*hop: align the centres.
        shift = round(int(2.0 * SR / s.f0_min) / 2 / a.hop)
        n = min(len(ours), len(ref) - shift)
        ours, ref, ref_voiced = ours[:n], ref[shift : shift + n], ref_voiced[shift : shift + n]
        both = (ours > 0) & ref_voiced
        errors.append(_cents(ours[both], ref[both]))
        agree.append((ours > 0) == ref_voiced)
    errors, agree = np.concatenate(errors), np.concatenate(agree)
    summary = f"median {np.median(errors):.1f} cents, within 50: {(errors < 50).mean():.2f}"
    assert np.median(errors) <= 30 and (errors < 50).mean() >= 0.6, summary
    assert agree.mean() >= 0.65, f"voicing agreement {agree.mean():.2f}"


# --- peak picking and noise gate ----------------------------------------------------------------


def test_noise_gate_stft_matches_librosa_stft():
    """Within 1e-5 of the largest bin (float32 rounding)."""
    x = np.random.default_rng(0).standard_normal(8 * GATE_HOP + 512).astype(np.float32)
    ref = librosa.stft(x, n_fft=512, hop_length=GATE_HOP, window=GATE_WINDOW, center=False).T
    ours = _stft(x)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * np.abs(ref).max())


def test_noise_gate_overlap_add_matches_librosa_istft():
    """A randomly gated spectrum back to samples: within 1e-5 of the peak sample of
    librosa.istft (which divides by the window's summed square, 1 here) wherever two frames
    overlap; ungated, the round trip gives the input back to the same tolerance."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(20 * GATE_HOP).astype(np.float32)
    spec = _stft(x)
    gated = spec * rng.uniform(0.1, 1.0, spec.shape).astype(np.float32)
    inner = slice(GATE_HOP, len(spec) * GATE_HOP)
    ref = librosa.istft(gated.T, hop_length=GATE_HOP, window=GATE_WINDOW, center=False)
    ours = _istft(gated)
    np.testing.assert_allclose(ours[inner], ref[inner], rtol=0, atol=1e-5 * np.abs(ref).max())
    np.testing.assert_allclose(_istft(spec)[inner], x[inner], rtol=0, atol=1e-5 * np.abs(x).max())
