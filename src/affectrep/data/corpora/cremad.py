"""CREMA-D: `1001_DFA_ANG_XX.wav` = actor, sentence, emotion, level (LO/MD/HI/XX).

Genders come from the release's `VideoDemographics.csv` (ActorID, Age, Sex, ...) when it is
anywhere under the root.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from affectrep.data.corpora.discovery import find_audio, parse_error
from affectrep.data.emotions import four_class
from affectrep.data.manifest import Utterance

EMOTIONS = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happiness",
    "NEU": "neutral",
    "SAD": "sadness",
}
_NAME = re.compile(
    r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_"
    r"(?P<level>LO|MD|HI|XX|X)$"
)
PATTERN = "<actor>_<sentence>_<ANG|DIS|FEA|HAP|NEU|SAD>_<LO|MD|HI|XX>, e.g. 1001_DFA_ANG_XX.wav"


def _genders(root: Path) -> dict[str, str]:
    tables = sorted(root.glob("**/VideoDemographics.csv"))
    if not tables:
        return {}
    with open(tables[0], newline="") as handle:
        return {
            row["ActorID"].strip(): row["Sex"].strip()[:1].upper() for row in csv.DictReader(handle)
        }


def read_cremad(root: Path) -> list[Utterance]:
    genders = _genders(Path(root))
    rows = []
    for path in find_audio(root, "**/*.wav", expected=f"CREMA-D files named {PATTERN}"):
        match = _NAME.match(path.stem)
        if match is None or match["emotion"] not in EMOTIONS:
            raise parse_error(path, PATTERN)
        emotion = EMOTIONS[match["emotion"]]
        rows.append(
            Utterance(
                id=path.stem,
                path=str(path.resolve()),
                speaker=match["actor"],
                gender=genders.get(match["actor"], ""),
                emotion_raw=emotion,
                emotion=four_class(emotion),
            )
        )
    return sorted(rows, key=lambda row: row.id)
