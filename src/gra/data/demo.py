"""Embedded demo corpus: synthetic, labelled speech-like clips in Common Voice release layout.

Every clip is made by a source-filter voice model (glottal pulses with jitter, shimmer, tremor
and aspiration noise, shaped by formant resonators scaled to the speaker's vocal-tract length)
whose parameters follow published trends of voice with sex and age, plus background noise,
mixed formats and mixed sample rates. The corpus exists only to prove the plumbing of the
pipeline (ingestion, label handling, validation, features, training, gating, serving) without
downloading anything. It is synthetic: scores measured on it say nothing about real voices and
must never be reported as real accuracy.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from gra.errors import UserError

__all__ = ["DemoSummary", "make_demo_corpus"]

TSV_HEADER = (
    "client_id",
    "path",
    "sentence",
    "up_votes",
    "down_votes",
    "age",
    "gender",
    "accents",
    "locale",
    "segment",
)
LOCALES = ("en", "de")
AGES = ("teens", "twenties", "thirties", "fourties", "fifties", "sixties")
GENDERS = ("female", "male")
NEW_SPELLING = {"female": "female_feminine", "male": "male_masculine"}
# (extension, soundfile keyword arguments); rotated over the global clip index.
FORMATS: tuple[tuple[str, dict[str, str]], ...] = (
    ("mp3", {"format": "MP3"}),
    ("wav", {"subtype": "PCM_16"}),
    ("flac", {"subtype": "PCM_16"}),
    ("ogg", {"format": "OGG", "subtype": "VORBIS"}),
)
SAMPLE_RATES = (48000, 44100, 32000, 22050, 16000)  # all valid MPEG-1/2 layer III rates

# Class means per (gender, age group). Keys include the ages Common Voice has above sixties.
# Mean speaking F0 in Hz. Males: Hollien & Shipp 1972 (~120 Hz in 20s-30s, a dip to ~110 in
# middle age, rising to 130-145 Hz in the 70s-80s); teens just past puberty sit higher and vary
# more. Females: Stoicheff 1981 (~215-225 Hz young, falling to ~180 Hz by the 60s).
F0_MEAN = {
    "male": {
        "teens": 140.0,
        "twenties": 120.0,
        "thirties": 116.0,
        "fourties": 111.0,
        "fifties": 114.0,
        "sixties": 128.0,
        "seventies": 136.0,
        "eighties": 145.0,
    },
    "female": {
        "teens": 218.0,
        "twenties": 214.0,
        "thirties": 205.0,
        "fourties": 197.0,
        "fifties": 188.0,
        "sixties": 180.0,
        "seventies": 178.0,
        "eighties": 182.0,
    },
}
# Vocal-tract length in cm: adult male ~17, adult female ~14.5, shorter in teens and lengthening
# slightly with age (Fitch & Giedd 1999, MRI; Xue & Hao 2003 for older adults).
VTL_ADULT = {"male": 17.0, "female": 14.5}
VTL_AGE_DELTA = {
    "teens": -0.8,
    "twenties": 0.0,
    "thirties": 0.1,
    "fourties": 0.2,
    "fifties": 0.3,
    "sixties": 0.4,
    "seventies": 0.5,
    "eighties": 0.5,
}
# Perturbation and rate by age: local jitter (%), local shimmer (%), tremor depth (% of F0),
# aspiration (relative), articulation rate (syllables/s). Jitter, shimmer, tremor and
# breathiness grow with age (Xue & Deliyski 2001; Ramig & Ringel 1983); rate falls from
# ~5.5 syl/s young to ~4.2 syl/s in the 60s+ (Jacewicz et al. 2009; Quene 2008).
AGE_VOICE = {  # jitter, shimmer, tremor, breath, rate
    "teens": (0.50, 3.2, 0.3, 0.06, 5.4),
    "twenties": (0.40, 3.0, 0.3, 0.05, 5.5),
    "thirties": (0.45, 3.3, 0.4, 0.06, 5.3),
    "fourties": (0.55, 3.8, 0.6, 0.07, 5.0),
    "fifties": (0.70, 4.5, 0.9, 0.09, 4.7),
    "sixties": (0.90, 5.5, 1.4, 0.12, 4.3),
    "seventies": (1.15, 6.3, 2.0, 0.14, 4.1),
    "eighties": (1.40, 7.0, 2.6, 0.16, 3.9),
}
# Mean vowel formants F1-F3 (Hz) of adult men, Hillenbrand et al. 1995; F4 from a uniform tube.
VOWELS = np.array(
    [
        [342, 2322, 3000],  # i
        [427, 2034, 2684],  # I
        [580, 1799, 2605],  # E
        [588, 1952, 2601],  # ae
        [768, 1333, 2522],  # a
        [652, 997, 2538],  # o
        [469, 1122, 2434],  # U
        [378, 997, 2343],  # u
        [623, 1200, 2550],  # V
        [474, 1379, 1710],  # er
    ],
    dtype=float,
)
VTL_REF = 17.0  # cm, the tract the vowel table belongs to
F4_REF = 3500.0
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0])
WORDS = {  # space-separated vocabulary for the pseudo-sentences
    "en": (
        "the river light over small green hills carries a quiet morning song "
        "people walk slowly home after rain and open every window wide"
    ),
    "de": (
        "der kleine hund läuft schnell durch den grünen wald am abend singen "
        "viele leute leise lieder und trinken warmen tee zu hause"
    ),
}


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`make_demo_corpus` wrote."""

    root: Path
    clips: int  # audio files written
    rows: int  # rows in all validated.tsv files
    speakers: int
    seconds: float  # wall time taken


@dataclass(frozen=True)
class _Speaker:
    index: int
    locale: str
    gender: str  # true sex class used for the voice ("female", "male" or "other")
    age: str  # true age group used for the voice
    gender_label: str  # what the TSV says (may be empty or in the newer spelling)
    age_label: str
    client_id: str


@dataclass(frozen=True)
class _Voice:
    f0: float
    vtl: float
    jitter: float  # fraction
    shimmer: float  # fraction
    tremor: float  # fraction of F0
    tremor_hz: float
    breath: float
    rate: float  # syllables/s
    open_quotient: float
    f0_range: float  # intonation excursion, fraction of F0


def _roster(seed: int, speakers_per_class: int, clips_per_speaker: int) -> list[_Speaker]:
    """Speakers with their true classes and written labels, in a fixed order."""
    rng = np.random.default_rng([seed, 2])
    plan: list[tuple[str, str, str, str]] = []  # gender, age, gender_label, age_label
    for gender in GENDERS:
        for age in AGES:
            plan += [(gender, age, gender, age)] * speakers_per_class
    # Real Common Voice age groups above sixty; the pipeline merges them into sixties.
    for age in ("seventies", "eighties"):
        for gender in GENDERS:
            plan.append((gender, age, gender, age))
    plan += [("other", "twenties", "other", "twenties"), ("other", "thirties", "other", "thirties")]
    # Speakers who left age or gender blank (about 6 rows in all): audio present, row skipped.
    n_missing = max(2, round(6 / clips_per_speaker))
    for k in range(n_missing):
        gender = GENDERS[int(rng.integers(2))]
        age = AGES[int(rng.integers(1, len(AGES)))]
        plan.append((gender, age, gender, "") if k % 2 == 0 else (gender, age, "", age))

    speakers: list[_Speaker] = []
    de_count = 0
    for i, (gender, age, gender_label, age_label) in enumerate(plan):
        locale = LOCALES[i % len(LOCALES)]
        if locale == "de" and gender_label in NEW_SPELLING:
            if de_count % 2 == 1:  # newer Common Voice spelling for every other de speaker
                gender_label = NEW_SPELLING[gender_label]
            de_count += 1
        client_id = hashlib.sha512(f"demo-{seed}-{i}".encode()).hexdigest()
        speakers.append(_Speaker(i, locale, gender, age, gender_label, age_label, client_id))
    return speakers


def _speaker_voice(spk: _Speaker, rng: np.random.Generator) -> _Voice:
    """Draw one speaker's voice around the class means (speaker variation)."""
    if spk.gender == "other":  # between the two means
        f0_mean = 0.5 * (F0_MEAN["male"][spk.age] + F0_MEAN["female"][spk.age])
        vtl_mean = 0.5 * (VTL_ADULT["male"] + VTL_ADULT["female"]) + VTL_AGE_DELTA[spk.age]
    else:
        f0_mean = F0_MEAN[spk.gender][spk.age]
        vtl_mean = VTL_ADULT[spk.gender] + VTL_AGE_DELTA[spk.age]
        if spk.gender == "female" and spk.age == "teens":
            vtl_mean += 0.5  # female tract growth ends earlier than male
    f0_sd = 0.13 if (spk.gender == "male" and spk.age == "teens") else 0.08
    jit, shim, trem, breath, rate = AGE_VOICE[spk.age]
    female = spk.gender == "female"
    return _Voice(
        f0=f0_mean * float(np.exp(rng.normal(0.0, f0_sd))),
        vtl=vtl_mean + float(rng.normal(0.0, 0.5)),
        jitter=jit / 100.0 * float(np.exp(rng.normal(0.0, 0.25))),
        shimmer=shim / 100.0 * float(np.exp(rng.normal(0.0, 0.25))),
        tremor=trem / 100.0 * float(np.exp(rng.normal(0.0, 0.3))),
        tremor_hz=float(rng.uniform(4.0, 7.0)),
        breath=(breath + (0.03 if female else 0.0)) * float(np.exp(rng.normal(0.0, 0.3))),
        rate=rate * float(np.exp(rng.normal(0.0, 0.08))),
        open_quotient=float(np.clip(rng.normal(0.65 if female else 0.55, 0.04), 0.4, 0.8)),
        f0_range=float(np.clip(rng.normal(0.12 if female else 0.10, 0.03), 0.03, 0.25)),
    )


def speech_like(f0: float, seconds: float = 2.0, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """One synthetic utterance at mean pitch `f0` (float32, peak 0.5): test audio that a
    voice activity detector accepts as speech, unlike a plain tone."""
    rng = np.random.default_rng(seed)
    voice = _Voice(
        f0=f0,
        vtl=16.0 if f0 < 165 else 14.0,
        jitter=0.005,
        shimmer=0.03,
        tremor=0.0,
        tremor_hz=5.0,
        breath=0.02,
        rate=4.0,
        open_quotient=0.6,
        f0_range=0.05,
    )
    audio, _ = _synth_clip(voice, sr, rng, seconds)
    return (0.5 * audio / (np.abs(audio).max() + 1e-9)).astype(np.float32)


def _resonate(x: np.ndarray, freqs: np.ndarray, sr: int, bw: np.ndarray, zi: np.ndarray) -> None:
    """Cascade of 2nd-order formant resonators (Klatt 1980, unity DC gain), in place."""
    for j in range(len(freqs)):
        f = min(float(freqs[j]), 0.45 * sr)
        r = np.exp(-np.pi * bw[j] / sr)
        a1 = -2.0 * r * np.cos(2.0 * np.pi * f / sr)
        a2 = r * r
        x[:], zi[j] = signal.lfilter([1.0 + a1 + a2], [1.0, a1, a2], x, zi=zi[j])


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f) noise from white noise through P. Kellet's 3-pole approximation filter."""
    b = [0.049922035, -0.095993537, 0.050612699, -0.004408786]
    a = [1.0, -2.494956002, 2.017265875, -0.522189400]
    return signal.lfilter(b, a, rng.standard_normal(n))


def _synth_clip(
    voice: _Voice, sr: int, rng: np.random.Generator, seconds: float
) -> tuple[np.ndarray, int]:
    """One utterance of about ``seconds``: (float64 mono at ``sr`` before noise, word count)."""
    # Per-clip variation around the speaker.
    f0 = voice.f0 * float(np.exp(rng.normal(0.0, 0.04)))
    rate = voice.rate * float(np.exp(rng.normal(0.0, 0.05)))
    vt_scale = VTL_REF / (voice.vtl * float(np.exp(rng.normal(0.0, 0.01))))

    # Timeline: leading silence, words of 1-3 syllables with pauses between, trailing silence.
    # Each syllable: optional consonant onset (fricative noise or closure + burst), then vowel.
    lead, tail = rng.uniform(0.15, 0.6, size=2)
    syllables: list[tuple[float, float, int, bool, int, float]] = []
    words: list[float] = []  # stressed-syllable centre times (pitch accents)
    t = float(lead)
    n_words = 0
    while n_words == 0 or t + float(tail) + 0.6 / rate < seconds:
        if n_words:
            t += float(rng.uniform(0.05, 0.25))  # pause between words
        n_words += 1
        n_syl = int(rng.integers(1, 4))
        stress = int(rng.integers(n_syl))
        for s in range(n_syl):
            dur = float(rng.uniform(0.75, 1.3)) / rate
            draw = rng.random()
            cons = 0 if draw < 0.4 else (1 if draw < 0.7 else 2)  # none, fricative, plosive
            cons_dur = (0.0, 0.3, 0.2)[cons] * dur * float(rng.uniform(0.8, 1.2))
            syllables.append((t, dur, int(rng.integers(len(VOWELS))), s == stress, cons, cons_dur))
            if s == stress:
                words.append(t + 0.5 * (cons_dur + dur))
            t += dur
    total = t + float(tail)
    n = int(total * sr)
    times = np.arange(n) / sr

    # F0 contour: declination, word accents, final fall or question rise, tremor, slow drift.
    contour = 1.06 - 0.14 * times / total
    for c in words:
        i0, i1 = max(0, int((c - 0.4) * sr)), min(n, int((c + 0.4) * sr))
        bump = np.exp(-0.5 * ((times[i0:i1] - c) / 0.08) ** 2)
        contour[i0:i1] += voice.f0_range * float(rng.uniform(0.4, 1.0)) * bump
    end_shape = 0.15 if rng.random() < 0.2 else -0.08
    contour *= 1.0 + end_shape * np.clip((times - (total - tail - 0.4)) / 0.4, 0.0, 1.0)
    contour *= 1.0 + voice.tremor * np.sin(2 * np.pi * voice.tremor_hz * times + rng.uniform(0, 6))
    knots = rng.normal(0.0, 0.02, size=int(total * 4) + 2)
    contour *= 1.0 + np.interp(times, np.linspace(0, total, knots.size), knots)
    f0_t = f0 * contour

    # Glottal cycles from the phase of the smooth contour, then jitter on each period.
    phase = np.cumsum(f0_t) / sr
    k = np.arange(1, int(phase[-1]) + 1)
    edges = np.concatenate([[0.0], np.interp(k, phase, times)])
    periods = np.diff(edges) * (1.0 + voice.jitter / 1.128 * rng.standard_normal(k.size))
    edges = np.concatenate([[0.0], np.cumsum(periods)])
    amps = np.exp(voice.shimmer / 1.128 * rng.standard_normal(periods.size))  # shimmer
    idx = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, periods.size - 1)
    u = np.clip((times - edges[idx]) / periods[idx], 0.0, 1.0)
    # Rosenberg (1971) pulse: opening 0.7 and closing 0.3 of the open phase.
    tp, tn = 0.7 * voice.open_quotient, 0.3 * voice.open_quotient
    flow = np.where(
        u < tp,
        0.5 * (1.0 - np.cos(np.pi * u / tp)),
        np.where(u < tp + tn, np.cos(0.5 * np.pi * np.clip(u - tp, 0.0, tn) / tn), 0.0),
    )
    flow *= amps[idx]
    # Aspiration: noise, stronger while the glottis is open.
    breath = voice.breath * rng.standard_normal(n) * (0.3 + flow)
    source = np.diff(flow, prepend=0.0) * (sr / (np.pi * f0)) + np.diff(breath, prepend=0.0)

    # Syllable envelope (voicing on in the nucleus, stress louder) and vowel formants.
    env = np.zeros(n)
    for start, dur, _, stressed, _, cons_dur in syllables:
        i0, i1 = int((start + cons_dur) * sr), min(n, int((start + 0.9 * dur) * sr))
        if i1 <= i0:
            continue
        x = np.linspace(0.0, 1.0, i1 - i0)
        env[i0:i1] = np.sin(np.pi * x) ** 0.6 * (1.0 if stressed else 0.7)
    source *= env

    out = np.empty(n)
    zi = np.zeros((4, 2))
    bw = BANDWIDTHS * (1.0 + 2.0 * voice.breath)
    prev = VOWELS[syllables[0][2]]
    bounds = [int(s[0] * sr) for s in syllables] + [n]
    bounds[0] = 0
    for j, (start, dur, vowel, _, _, cons_dur) in enumerate(syllables):
        cur = VOWELS[vowel]
        mid = min(bounds[j + 1], int((start + cons_dur + 0.15 * dur) * sr))
        for seg0, seg1, fm in ((bounds[j], mid, 0.5 * (prev + cur)), (mid, bounds[j + 1], cur)):
            if seg1 > seg0:
                seg = source[seg0:seg1].copy()
                freqs = np.append(fm, F4_REF) * vt_scale
                _resonate(seg, freqs, sr, bw, zi)
                out[seg0:seg1] = seg
        prev = cur

    # Consonant onsets: fricatives (band-passed noise) and plosives (closure, then a burst).
    level = float(np.sqrt(np.mean(out[env > 0.1] ** 2))) if np.any(env > 0.1) else 1.0
    for start, _, _, _, cons, cons_dur in syllables:
        if cons == 0:
            continue
        i1 = min(n, int((start + cons_dur) * sr))
        if cons == 1:
            i0, lo, hi, gain = int(start * sr), float(rng.uniform(1800, 4500)), 7500.0, 0.3
        else:
            i0, lo, hi, gain = i1 - int(float(rng.uniform(0.008, 0.02)) * sr), 500.0, 5000.0, 0.3
        if i1 - i0 < 16:
            continue
        sos = signal.butter(2, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos")
        burst = signal.sosfilt(sos, rng.standard_normal(i1 - i0))
        burst *= np.hanning(i1 - i0) * gain * level / (np.std(burst) + 1e-12)
        out[i0:i1] += burst
    return out, n_words


def _add_noise(speech: np.ndarray, sr: int, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """Background noise (white, pink or mains hum) at ``snr_db`` against the active speech."""
    n = speech.size
    kind = int(rng.integers(3))
    if kind == 0:
        noise = rng.standard_normal(n)
    elif kind == 1:
        noise = _pink(n, rng)
    else:
        mains = 50.0 if rng.random() < 0.5 else 60.0
        tt = np.arange(n) / sr
        noise = sum(
            a * np.sin(2 * np.pi * h * mains * tt + rng.uniform(0, 6))
            for h, a in ((1, 1.0), (2, 0.5), (3, 0.35), (5, 0.15))
        )
        noise = noise + 0.2 * rng.standard_normal(n)
    frame = max(1, sr // 50)
    usable = n // frame * frame
    rms_frames = np.sqrt(np.mean(speech[:usable].reshape(-1, frame) ** 2, axis=1))
    active = rms_frames[rms_frames > 0.1 * rms_frames.max()]
    p_speech = float(np.mean(active**2))
    p_noise = float(np.mean(noise**2)) + 1e-20
    return speech + noise * np.sqrt(p_speech / p_noise / 10 ** (snr_db / 10))


def _sentence(rng: np.random.Generator, locale: str, n_words: int) -> str:
    words = WORDS[locale].split()
    picked = [words[int(i)] for i in rng.integers(len(words), size=n_words)]
    return (" ".join(picked)).capitalize() + "."


# A corpus folder holding this file is synthetic: champions trained on it say so in every
# answer (registry.trained_on).
SYNTHETIC_MARKER = "SYNTHETIC.txt"


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
        table.append(crc)
    return table


_OGG_CRC = _crc_table()


def _ogg_crc(page: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, not reflected, no final xor."""
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def _fix_ogg_serial(path: Path, serial: int) -> None:
    """libsndfile gives each Ogg stream a serial number seeded from the clock: set a fixed one
    (same seed, same bytes, so DVC's hash of the corpus is reproducible; the audio is
    untouched)."""
    data = bytearray(path.read_bytes())
    at = 0
    while at + 27 <= len(data) and data[at : at + 4] == b"OggS":
        segments = data[at + 26]
        size = 27 + segments + sum(data[at + 27 : at + 27 + segments])
        data[at + 14 : at + 18] = serial.to_bytes(4, "little")
        data[at + 22 : at + 26] = bytes(4)
        data[at + 22 : at + 26] = _ogg_crc(bytes(data[at : at + size])).to_bytes(4, "little")
        at += size
    path.write_bytes(bytes(data))


def make_demo_corpus(
    out: Path,
    seed: int = 0,
    speakers_per_class: int = 12,
    clips_per_speaker: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Write the synthetic demo corpus to ``out`` in Common Voice release layout.

    ``out/<locale>/validated.tsv`` and ``out/<locale>/clips/*`` for locales en and de. Refuses a
    folder that already has files. Same ``seed`` gives identical TSVs and decoded audio.
    """
    t_start = time.perf_counter()
    out = Path(out)
    if speakers_per_class < 1 or clips_per_speaker < 1:
        raise UserError("speakers_per_class and clips_per_speaker must be at least 1.")
    if seed < 0:
        raise UserError(f"seed must be a non-negative integer, got {seed}.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(
            f"Demo corpus folder {out} is not empty; pass an empty or new folder "
            "(nothing was deleted)."
        )

    speakers = _roster(seed, speakers_per_class, clips_per_speaker)
    total = len(speakers) * clips_per_speaker
    out.mkdir(parents=True, exist_ok=True)
    (out / SYNTHETIC_MARKER).write_text(
        f"Synthetic speech made by `gra demo-data --seed {seed}`. A model trained on it proves "
        "the pipeline runs; its scores say nothing about real voices.\n"
    )
    rows: dict[str, list[str]] = {loc: [] for loc in LOCALES}
    for loc in LOCALES:
        (out / loc / "clips").mkdir(parents=True, exist_ok=True)

    done = 0
    for spk in speakers:
        voice = _speaker_voice(spk, np.random.default_rng([seed, 0, spk.index]))
        for c in range(clips_per_speaker):
            g = spk.index * clips_per_speaker + c  # global clip index
            rng = np.random.default_rng([seed, 1, spk.index, c])
            ext, kwargs = FORMATS[g % len(FORMATS)]
            sr = SAMPLE_RATES[g % len(SAMPLE_RATES)]
            speech, n_words = _synth_clip(voice, sr, rng, float(rng.uniform(2.2, 5.5)))
            sentence = _sentence(rng, spk.locale, n_words)
            snr = float(rng.uniform(10.0, 35.0))
            audio = _add_noise(speech, sr, rng, snr)
            if g % 10 == 7:  # some stereo clips: a second, slightly delayed and quieter mic
                delay = int(0.0004 * sr)
                right = np.concatenate([np.zeros(delay), speech[: speech.size - delay]]) * 0.9
                audio = np.stack([audio, _add_noise(right, sr, rng, snr)], axis=1)
            audio *= rng.uniform(0.3, 0.9) / (np.max(np.abs(audio)) + 1e-12)
            name = f"common_voice_{spk.locale}_demo_{g:06d}.{ext}"
            sf.write(out / spk.locale / "clips" / name, audio.astype(np.float32), sr, **kwargs)
            if ext == "ogg":
                _fix_ogg_serial(out / spk.locale / "clips" / name, serial=g + 1)
            up, down = int(rng.integers(2, 6)), int(rng.integers(0, 2))
            fields = (spk.client_id, name, sentence, str(up), str(down), spk.age_label)
            fields += (spk.gender_label, "", spk.locale, "")
            rows[spk.locale].append("\t".join(fields))
            done += 1
            if progress is not None:
                progress(done, total)

    for loc in LOCALES:
        text = "\t".join(TSV_HEADER) + "\n" + "".join(r + "\n" for r in rows[loc])
        (out / loc / "validated.tsv").write_text(text, encoding="utf-8", newline="\n")
    return DemoSummary(
        root=out,
        clips=done,
        rows=sum(len(r) for r in rows.values()),
        speakers=len(speakers),
        seconds=time.perf_counter() - t_start,
    )
