"""RAVDESS: seven numeric fields in the file name.

`03-01-05-01-02-01-12.wav`: modality (01 audio-video, 02 video, 03 audio) - vocal channel
(01 speech, 02 song) - emotion - intensity (01 normal, 02 strong) - statement - repetition -
actor (01-24; odd numbers male, even female). Speakers are named `Actor_12`, as the
release's folders are.
"""

from __future__ import annotations

import re
from pathlib import Path

from affectrep.data.corpora.discovery import find_audio, parse_error
from affectrep.data.emotions import four_class
from affectrep.data.manifest import Utterance

EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
_NAME = re.compile(
    r"^(?P<modality>0[123])-(?P<channel>0[12])-(?P<emotion>0[1-8])-(?P<intensity>0[12])-"
    r"(?P<statement>0[12])-(?P<repetition>0[12])-(?P<actor>\d\d)$"
)
PATTERN = (
    "modality-channel-emotion-intensity-statement-repetition-actor, e.g. 03-01-05-01-02-01-12.wav"
)


def read_ravdess(root: Path, *, include_song: bool = False) -> list[Utterance]:
    """Audio-only files (modality 03) of speech, and of song if `include_song`."""
    rows = []
    for path in find_audio(root, "**/*.wav", expected=f"RAVDESS files named {PATTERN}"):
        match = _NAME.match(path.stem)
        if match is None:
            raise parse_error(path, PATTERN)
        if match["modality"] != "03" or (match["channel"] == "02" and not include_song):
            continue
        actor = int(match["actor"])
        emotion = EMOTIONS[match["emotion"]]
        rows.append(
            Utterance(
                id=path.stem,
                path=str(path.resolve()),
                speaker=f"Actor_{actor:02d}",
                gender="M" if actor % 2 else "F",
                emotion_raw=emotion,
                emotion=four_class(emotion),
            )
        )
    return sorted(rows, key=lambda row: row.id)
