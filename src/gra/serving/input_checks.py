"""Warnings for input outside what the models were trained on: the answer still comes, with a
`warnings` list saying why it may be worse than usual (each {"code", "message"})."""

from __future__ import annotations

from scipy.signal import welch

from gra.audio import Speech

NARROWBAND_HZ = 3800  # telephone audio carries nothing above ~3.4-4 kHz
NARROWBAND_ENERGY = 1e-3  # share of the speech's energy above NARROWBAND_HZ
LITTLE_SPEECH_SECONDS = 1.0
CLIPPED_SHARE = 0.001  # samples at full scale
CHANNELS_AGREE = 0.5  # correlation between channels below this: different signals


def input_warnings(speech: Speech) -> list[dict]:
    out = []
    if speech.input_rate and speech.input_rate < 16000:
        out.append(
            _warning(
                "narrowband",
                f"the recording is sampled at {speech.input_rate / 1000:g} kHz; the models "
                "were trained on wideband (16 kHz and up) audio: expect lower accuracy",
            )
        )
    elif speech.has_speech and _band_limited(speech):
        out.append(
            _warning(
                "narrowband",
                f"the recording carries almost nothing above {NARROWBAND_HZ / 1000:g} kHz "
                "(telephone band or low-bit-rate audio); the models were trained on wideband "
                "audio: expect lower accuracy",
            )
        )
    if speech.has_speech and speech.speech_seconds < LITTLE_SPEECH_SECONDS:
        out.append(
            _warning(
                "little_speech",
                f"only {speech.speech_seconds:.1f} s of speech was found; answers from under "
                f"{LITTLE_SPEECH_SECONDS:g} s are less reliable",
            )
        )
    if speech.clipped_fraction > CLIPPED_SHARE:
        out.append(
            _warning(
                "clipping",
                f"{speech.clipped_fraction:.1%} of the samples are at full scale (the "
                "recording is clipped): lower the input gain",
            )
        )
    if speech.channel_correlation is not None and speech.channel_correlation < CHANNELS_AGREE:
        out.append(
            _warning(
                "channels_disagree",
                f"the {speech.channels} channels hold different signals (correlation "
                f"{speech.channel_correlation:.2f}); they were averaged, which may mix voices",
            )
        )
    return out


def windows_warning(agreement: dict[str, float], count: int) -> dict | None:
    """A long recording's windows that disagree (several speakers, or a changing voice)."""
    low = {task: a for task, a in agreement.items() if a < 0.5}
    if not low:
        return None
    tasks = ", ".join(f"{task} ({a:.0%} of windows agree)" for task, a in low.items())
    return _warning(
        "windows_disagree",
        f"the {count} windows of this recording disagree on {tasks}: it may hold several "
        "speakers; the answer is their average",
    )


def _band_limited(speech: Speech) -> bool:
    freqs, power = welch(speech.samples, speech.sample_rate, nperseg=512)
    total = power.sum()
    return bool(total > 0 and power[freqs >= NARROWBAND_HZ].sum() / total < NARROWBAND_ENERGY)


def _warning(code: str, message: str) -> dict:
    return {"code": code, "message": message}


__all__ = ["input_warnings", "windows_warning"]
