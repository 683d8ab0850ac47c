"""Emotion categories: the four classes of the paper and the names corpora use for them."""

from __future__ import annotations

# The paper's four classes, in the order used for class indices everywhere.
CLASSES: tuple[str, ...] = ("neutral", "anger", "sadness", "happiness")

_SYNONYMS: dict[str, str] = {
    "neutral": "neutral",
    "neu": "neutral",
    "n": "neutral",
    "anger": "anger",
    "angry": "anger",
    "ang": "anger",
    "sadness": "sadness",
    "sad": "sadness",
    "happiness": "happiness",
    "happy": "happiness",
    "hap": "happiness",
    "joy": "happiness",
}

# Categories that become "happiness" when a corpus config asks for excited to be merged
# (a common IEMOCAP practice; the paper keeps the four classes without it).
EXCITED = ("excited", "excitement", "exc")


def four_class(label: str, *, merge_excited: bool = False) -> str:
    """Map a corpus label (any case, full name or common abbreviation) to one of `CLASSES`.

    Returns ``""`` for labels outside the four classes (frustration, boredom, ...).
    """
    key = label.strip().lower()
    if merge_excited and key in EXCITED:
        return "happiness"
    return _SYNONYMS.get(key, "")
