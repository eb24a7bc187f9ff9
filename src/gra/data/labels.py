"""Label normalisation across Common Voice releases.

Releases spell the same answer differently (CV 1-16: ``male``/``female``, ``fourties``; CV 17+:
``male_masculine``, ``female_feminine``, ``intersex``...; Kaggle's 2017 dump: ``forties``).
Everything is mapped onto one vocabulary here; anything unknown becomes ``None`` and is counted.
"""

from __future__ import annotations

GENDERS = ("female", "male", "other")
AGE_GROUPS = (
    "teens",
    "twenties",
    "thirties",
    "fourties",
    "fifties",
    "sixties",
    "seventies",
    "eighties",
    "nineties",
)

_GENDER_ALIASES = {
    "male": "male",
    "male_masculine": "male",
    "masculine": "male",
    "m": "male",
    "man": "male",
    "female": "female",
    "female_feminine": "female",
    "feminine": "female",
    "f": "female",
    "woman": "female",
    "other": "other",
    "intersex": "other",
    "transgender": "other",
    "non-binary": "other",
    "non_binary": "other",
    "nonbinary": "other",
}
# Answers that mean "no label" rather than a label we do not know.
_NO_ANSWER = {"", "nan", "none", "null", "do_not_wish_to_say", "prefer_not_to_say", "unknown"}

_AGE_ALIASES = {group: group for group in AGE_GROUPS} | {"forties": "fourties"}


def normalise_gender(value: object) -> str | None:
    """Return female/male/other, or None for a missing or unrecognised answer."""
    text = _clean(value)
    if text in _NO_ANSWER:
        return None
    return _GENDER_ALIASES.get(text)


def normalise_age(value: object) -> str | None:
    """Return a Common Voice age group (``fourties`` spelling), or None."""
    text = _clean(value)
    if text in _NO_ANSWER:
        return None
    return _AGE_ALIASES.get(text)


def is_missing(value: object) -> bool:
    """True when the raw answer is empty or declined, as opposed to an unknown spelling."""
    return _clean(value) in _NO_ANSWER


def _clean(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    return str(value).strip().lower().replace(" ", "_")
