"""Emotion categories: the four classes of the paper and the names corpora use for them.

Every reader keeps a corpus's own category in the manifest's `emotion_raw` column (EmoDB's
`boredom`, IEMOCAP's `frustration`, a table's own codes) and maps it to one of `CLASSES` or to
nothing ("other": not used for classification). The names it knows are `ACCEPTED_NAMES`; a
corpus's `emotion_map` (`{rab: anger, tri: sadness}`) maps its other names, and is looked up
first, so that it can also move a name the reader knows (`{excited: happiness}`,
`{neutral: other}`).
"""

from __future__ import annotations

from collections.abc import Mapping

# The paper's four classes, in the order used for class indices everywhere.
CLASSES: tuple[str, ...] = ("neutral", "anger", "sadness", "happiness")
# What `emotion_map` may map a name to: a class, or `other` (not used for classification).
OTHER = "other"
MAP_TARGETS: tuple[str, ...] = (*CLASSES, OTHER)

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

# The names every reader accepts for each class (any case), for the README and messages.
ACCEPTED_NAMES: dict[str, tuple[str, ...]] = {
    name: tuple(raw for raw, target in _SYNONYMS.items() if target == name) for name in CLASSES
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


def check_emotion_map(emotion_map: Mapping | None) -> dict[str, str]:
    """`emotion_map` with its names lower-cased and stripped (a YAML key `1` becomes `"1"`);
    raise ValueError for a target that is not a class or `other`, or for two spellings of
    one name that disagree."""
    checked: dict[str, str] = {}
    for raw, target in (emotion_map or {}).items():
        key = str(raw).strip().lower()
        value = str(target).strip().lower()
        if value not in MAP_TARGETS:
            raise ValueError(
                f"emotion_map: {raw!r} -> {target!r}; a name must map to one of "
                f"{', '.join(MAP_TARGETS)}"
            )
        if checked.get(key, value) != value:
            raise ValueError(f"emotion_map: {raw!r} is mapped twice ({checked[key]}, {value})")
        checked[key] = value
    return checked


def map_emotion(raw: str, emotion_map: Mapping[str, str], default: str) -> str:
    """The class of raw label `raw` under a checked `emotion_map` (``""`` for `other`), or
    `default` (what the reader made of it) when the map does not name it."""
    target = emotion_map.get(raw.strip().lower())
    if target is None:
        return default
    return "" if target == OTHER else target
