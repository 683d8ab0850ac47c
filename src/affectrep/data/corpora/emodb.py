"""EmoDB (Berlin Database of Emotional Speech): everything is in the file name.

`03a01Fa.wav`: speaker 03, text a01, emotion letter F (happiness), version a.
"""

from __future__ import annotations

import re
from pathlib import Path

from affectrep.data.corpora.discovery import find_audio, parse_error
from affectrep.data.emotions import four_class
from affectrep.data.manifest import Utterance

EMOTIONS = {
    "W": "anger",
    "L": "boredom",
    "E": "disgust",
    "A": "fear",
    "F": "happiness",
    "T": "sadness",
    "N": "neutral",
}
# From the corpus documentation.
GENDERS = {
    "03": "M",
    "08": "F",
    "09": "F",
    "10": "M",
    "11": "M",
    "12": "M",
    "13": "F",
    "14": "F",
    "15": "M",
    "16": "F",
}
_NAME = re.compile(
    r"^(?P<speaker>\d\d)(?P<text>[a-z]\d\d)(?P<emotion>[WLEAFTN])(?P<version>[a-z])$"
)
PATTERN = "<speaker 2 digits><text a01><emotion W|L|E|A|F|T|N><version>.wav, e.g. 03a01Fa.wav"


def read_emodb(root: Path) -> list[Utterance]:
    """One row per `*.wav` found anywhere under `root`."""
    rows = []
    for path in find_audio(root, "**/*.wav", expected=f"EmoDB files named {PATTERN}"):
        match = _NAME.match(path.stem)
        if match is None:
            raise parse_error(path, PATTERN)
        emotion = EMOTIONS[match["emotion"]]
        rows.append(
            Utterance(
                id=path.stem,
                path=str(path.resolve()),
                speaker=match["speaker"],
                gender=GENDERS.get(match["speaker"], ""),
                emotion_raw=emotion,
                emotion=four_class(emotion),
            )
        )
    return sorted(rows, key=lambda row: row.id)
