"""From a corpus entry of the config to a checked manifest and the list of rejected files."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path

from affectrep.audio import AudioPolicy, BadAudioError, load_audio
from affectrep.corpora.cremad import read_cremad
from affectrep.corpora.discovery import CorpusError
from affectrep.corpora.emodb import read_emodb
from affectrep.corpora.grouping import assign_sessions
from affectrep.corpora.iemocap import read_iemocap
from affectrep.corpora.ravdess import read_ravdess
from affectrep.corpora.table import read_table
from affectrep.manifest import Rejection, Utterance
from affectrep.progress import Progress


def read_corpus(settings: dict, root: Path) -> list[Utterance]:
    """Run the reader named in a corpus's settings (a validated `corpora.<name>` entry)."""
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
        return read_emodb(root)
    if reader == "ravdess":
        return read_ravdess(root, include_song=settings.get("include_song", False))
    if reader == "cremad":
        return read_cremad(root)
    if reader == "table":
        audio_root = settings.get("audio_root")
        return read_table(
            root,
            audio_root=Path(audio_root) if audio_root else None,
            merge_excited=settings.get("merge_excited", False),
        )
    raise CorpusError(f"unknown reader {reader!r}")


def check_audio(
    rows: list[Utterance],
    policy: AudioPolicy,
    *,
    strict: bool = False,
    logger: logging.Logger | None = None,
) -> tuple[list[Utterance], list[Rejection]]:
    """Open every file; keep the usable ones (with their duration), list the others and why.

    With `strict`, the first bad file raises `BadAudioError`, which names it.
    """
    logger = logger or logging.getLogger(__name__)
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


def _speaker_groups(settings: dict) -> dict[str, list[str]] | int | None:
    groups = settings.get("speaker_groups", "auto")
    if groups == "auto":
        return None
    if isinstance(groups, dict):
        return {name: [str(s) for s in members] for name, members in groups.items()}
    return groups


def build_manifest(
    settings: dict,
    root: Path,
    policy: AudioPolicy,
    *,
    strict: bool = False,
    logger: logging.Logger | None = None,
) -> tuple[list[Utterance], list[Rejection]]:
    """Read, check and group a corpus: the manifest rows and the rejected files."""
    logger = logger or logging.getLogger(__name__)
    rows = read_corpus(settings, root)
    duplicates = [uid for uid, count in Counter(r.id for r in rows).items() if count > 1]
    if duplicates:
        raise CorpusError(f"{root}: utterance ids occur more than once: {duplicates[:10]}")
    logger.info("%s: %d utterances found by reader %s", root, len(rows), settings["reader"])
    kept, rejected = check_audio(rows, policy, strict=strict, logger=logger)
    if not kept:
        raise CorpusError(f"{root}: none of the {len(rows)} audio files is usable")
    kept = assign_sessions(kept, _speaker_groups(settings))
    logger.info("%d utterances kept, %d rejected", len(kept), len(rejected))
    for reason, count in sorted(Counter(r.reason for r in rejected).items()):
        logger.info("  rejected as %s: %d", reason, count)
    return kept, rejected


def summarise(rows: list[Utterance]) -> str:
    """A short text table of the manifest: hours, utterances, and emotions per speaker."""
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
    return "\n".join(lines)
