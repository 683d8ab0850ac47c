"""From a corpus entry of the config to a checked manifest and the list of rejected files.

`rejected.tsv` lists every file left out and why: what the reader could not pair (IEMOCAP:
a label without its WAV, `missing`; a WAV without a label, `unlabelled`) and the audio that
failed `affectrep.data.audio`'s checks. In strict mode the first of them stops the run instead.

Each reader reads only some of a corpus entry's keys (`READER_KEYS`); `reader_settings` keeps
those, so that the corpus rule's params, its outputs' records and the report carry only the
settings that applied. A corpus's `emotion_map` is applied to every reader's own names
(`affectrep.data.emotions`); the corpus step (`affectrep.stages.corpus.check_classes`) then
stops a corpus that cannot be classified (fewer than two classes, or a class that some fold
would train without), listing the raw labels.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from affectrep.data.audio import AudioPolicy, BadAudioError, as_policy, load_audio
from affectrep.data.corpora.cremad import read_cremad
from affectrep.data.corpora.discovery import CorpusError
from affectrep.data.corpora.emodb import read_emodb
from affectrep.data.corpora.grouping import assign_sessions
from affectrep.data.corpora.iemocap import read_iemocap
from affectrep.data.corpora.ravdess import read_ravdess
from affectrep.data.corpora.table import read_table
from affectrep.data.emotions import check_emotion_map, map_emotion
from affectrep.data.manifest import Rejection, Utterance
from affectrep.progress import Progress

# The keys of a `corpora.<name>` entry that each reader reads (`root` is where the corpus
# is; `demo` says it is generated; IEMOCAP has sessions of its own, so no speaker groups).
_COMMON_KEYS = ("reader", "root", "emotion_map")
READER_KEYS: dict[str, tuple[str, ...]] = {
    "iemocap": (
        *_COMMON_KEYS,
        "demo",
        "merge_excited",
        "dialogs",
        "min_agreement",
        "include_self_evaluation",
    ),
    "emodb": (*_COMMON_KEYS, "speaker_groups"),
    "ravdess": (*_COMMON_KEYS, "include_song", "speaker_groups"),
    "cremad": (*_COMMON_KEYS, "speaker_groups"),
    "table": (*_COMMON_KEYS, "audio_root", "speaker_groups"),
}


def reader_settings(settings: Mapping) -> dict:
    """The keys of a corpus entry that its reader reads (`READER_KEYS`), in their order."""
    reader = settings["reader"]
    if reader not in READER_KEYS:
        raise CorpusError(f"unknown reader {reader!r}")
    return {key: settings[key] for key in READER_KEYS[reader] if key in settings}


def _read(settings: Mapping, root: Path) -> tuple[list[Utterance], list[Rejection]]:
    reader = settings["reader"]
    if reader == "iemocap":
        return read_iemocap(
            root,
            merge_excited=settings.get("merge_excited", False),
            min_agreement=settings.get("min_agreement", 2),
            dialogs=settings.get("dialogs", "all"),
            include_self_evaluation=settings.get("include_self_evaluation", False),
        )
    if reader == "emodb":
        return read_emodb(root), []
    if reader == "ravdess":
        return read_ravdess(root, include_song=settings.get("include_song", False)), []
    if reader == "cremad":
        return read_cremad(root), []
    if reader == "table":
        audio_root = settings.get("audio_root")
        return read_table(root, audio_root=Path(audio_root) if audio_root else None), []
    raise CorpusError(f"unknown reader {reader!r}")


def read_corpus(settings: Mapping, root: Path) -> tuple[list[Utterance], list[Rejection]]:
    """Run the reader named in a corpus's settings (a validated `corpora.<name>` entry) and
    apply its `emotion_map`: the rows, and the files the reader itself left out (only
    IEMOCAP pairs labels with audio)."""
    try:
        emotion_map = check_emotion_map(settings.get("emotion_map"))
    except ValueError as error:
        raise CorpusError(str(error)) from None
    rows, unpaired = _read(settings, root)
    if emotion_map:
        rows = [
            replace(row, emotion=map_emotion(row.emotion_raw, emotion_map, row.emotion))
            for row in rows
        ]
    return rows, unpaired


def check_audio(
    rows: list[Utterance],
    policy: AudioPolicy | Mapping,
    *,
    strict: bool = False,
    logger: logging.Logger | None = None,
) -> tuple[list[Utterance], list[Rejection]]:
    """Open every file; keep the usable ones (with their duration), list the others and why.

    With `strict`, the first bad file raises `BadAudioError`, which names it.
    """
    logger = logger or logging.getLogger(__name__)
    policy = as_policy(policy)
    kept: list[Utterance] = []
    rejected: list[Rejection] = []
    progress = Progress(len(rows), "checking audio", logger, unit="files")
    for number, row in enumerate(rows):
        try:
            signal = load_audio(row.path, policy)
        except BadAudioError as error:
            if strict:
                raise
            rejected.append(Rejection(row.path, error.reason, error.detail))
            logger.warning("rejected %s", error)
        else:
            kept.append(replace(row, duration_s=signal.shape[0] / policy.target_rate))
        progress.update(number + 1)
    return kept, rejected


def _speaker_groups(settings: Mapping) -> dict[str, list[str]] | int | None:
    groups = settings.get("speaker_groups", "auto")
    if groups == "auto":
        return None
    if isinstance(groups, dict):
        return {name: [str(s) for s in members] for name, members in groups.items()}
    return groups


def build_manifest(
    settings: Mapping,
    root: Path,
    policy: AudioPolicy | Mapping,
    *,
    strict: bool = False,
    logger: logging.Logger | None = None,
) -> tuple[list[Utterance], list[Rejection]]:
    """Read, check and group a corpus: the manifest rows and the rejected files (first those
    the reader could not pair, then those whose audio failed its checks).

    `policy` is an `AudioPolicy` or a plain mapping of its fields. With `strict`, the first
    rejected file raises `BadAudioError`, which names it and the reason.
    """
    logger = logger or logging.getLogger(__name__)
    rows, unpaired = read_corpus(settings, root)
    duplicates = [uid for uid, count in Counter(r.id for r in rows).items() if count > 1]
    if duplicates:
        raise CorpusError(f"{root}: utterance ids occur more than once: {duplicates[:10]}")
    logger.info("%s: %d utterances found by reader %s", root, len(rows), settings["reader"])
    for item in unpaired:
        error = BadAudioError(item.path, item.reason, item.detail)
        if strict:
            raise error
        logger.warning("rejected %s", error)
    kept, rejected = check_audio(rows, policy, strict=strict, logger=logger)
    rejected = [*unpaired, *rejected]
    if not kept:
        raise CorpusError(f"{root}: no usable utterance; {_rejected_line(rejected)}")
    kept = assign_sessions(kept, _speaker_groups(settings))
    logger.info("%d utterances kept, %d rejected", len(kept), len(rejected))
    for reason, count in sorted(Counter(r.reason for r in rejected).items()):
        logger.info("  rejected as %s: %d", reason, count)
    return kept, rejected


# What a count of rejected files means where the reason code alone does not say it.
_COUNTED_AS = {"missing": "labels without audio", "unlabelled": "audio without a label"}


def _rejected_line(rejected: Iterable[Rejection]) -> str:
    counts = Counter(r.reason for r in rejected)
    if not counts:
        return "no files rejected"
    parts = [
        f"{reason} {count}" + (f" ({_COUNTED_AS[reason]})" if reason in _COUNTED_AS else "")
        for reason, count in sorted(counts.items())
    ]
    total = sum(counts.values())
    return f"{total} file{'s' if total > 1 else ''} rejected (rejected.tsv): {', '.join(parts)}"


def summarise(rows: list[Utterance], rejected: Iterable[Rejection] = ()) -> str:
    """A short text table of the manifest: hours, utterances, and emotions per speaker, then
    the rejected files counted by reason (labels without audio are `missing`)."""
    hours = sum(r.duration_s or 0.0 for r in rows) / 3600
    speakers = sorted({r.speaker for r in rows})
    emotions = sorted({r.emotion for r in rows if r.emotion})
    lines = [f"{len(rows)} utterances, {hours:.2f} h, {len(speakers)} speakers"]
    header = ["speaker", "session", *emotions, "other", "total"]
    lines.append("\t".join(header))
    for speaker in speakers:
        mine = [r for r in rows if r.speaker == speaker]
        counts = Counter(r.emotion or "other" for r in mine)
        cells = [speaker, mine[0].session, *(str(counts[e]) for e in emotions)]
        lines.append("\t".join([*cells, str(counts["other"]), str(len(mine))]))
    lines.append(_rejected_line(rejected))
    return "\n".join(lines)


def raw_label_counts(rows: Iterable[Utterance]) -> str:
    """`rab 84 (other), neu 14 (neutral), ...`: each raw label (the manifest's `emotion_raw`)
    with its number of utterances and the class it became, most frequent first."""
    counts: Counter[tuple[str, str]] = Counter(
        (row.emotion_raw or "(none)", row.emotion or "other") for row in rows
    )
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{raw} {count} ({emotion})" for (raw, emotion), count in ranked)
