"""Which versions of the packages behind a model trained it, and whether serving runs others.

The gate records them in the champion bundle; serving compares them with its own environment
when it loads the champion. A model pickled by one scikit-learn or torch may fail to load under
another, or load and answer differently; features computed by another librosa, soxr or VAD may
drift from the ones the model learnt. Serving still answers (the lock keeps the versions equal
where installs follow it), but the log says which packages differ.
"""

from __future__ import annotations

import logging
import platform
from importlib import metadata

logger = logging.getLogger("gra.versions")

# What a model's answers depend on: its file format and maths (sklearn, joblib, torch, numpy,
# scipy, pandas) and the features it is fed (audio decoding, resampling, VAD, feature sets).
MODEL_PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "joblib",
    "torch",
    "pandas",
    "librosa",
    "soxr",
    "silero-vad",
    "onnxruntime",
    "resemblyzer",
    "opensmile",
    "gra",
)


def package_versions() -> dict[str, str | None]:
    """{"python": "3.11.7", package: version or None when not installed} for this process."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in MODEL_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    if versions["gra"] is None:
        # A bento imports its copy of src/gra from PYTHONPATH, without installed metadata.
        from gra import __version__

        versions["gra"] = __version__
    return versions


def differences(recorded: dict[str, str | None], running: dict[str, str | None]) -> list[str]:
    """One line, `name: trained X, running Y`, per package the bundle recorded that differs
    now. Packages a bundle did not record (an older GRA recorded fewer, or none) are skipped."""
    return [
        f"{name}: trained {recorded[name] or 'absent'}, running {running.get(name) or 'absent'}"
        for name in recorded
        if recorded[name] != running.get(name)
    ]


def warn_if_different(recorded: dict | None, model: str) -> list[str]:
    """Log one warning listing every package whose version differs from the ones that trained
    `model`; returns those lines (empty when all agree or the bundle recorded none)."""
    found = differences(recorded or {}, package_versions())
    if found:
        logger.warning(
            "%s was trained with other package versions than this environment runs (%s); "
            "its answers may differ from the ones it was evaluated with: install from the lock "
            "(requirements/lock.txt) or retrain",
            model or "the champion",
            "; ".join(found),
        )
    return found
