"""The rules of `corpus.smk`, from files to files: the demo corpus, and the manifest of a
corpus with its rejected files and a readable summary.

The corpus step is where a corpus that cannot be classified stops (`check_classes`): with the
raw labels it saw and how to map them, not in a classifier much later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from affectrep.data.audio import AudioPolicy
from affectrep.data.corpora.build import build_manifest, raw_label_counts, summarise
from affectrep.data.corpora.discovery import CorpusError
from affectrep.data.demo import DemoSpec, DemoSummary, write_demo_corpus
from affectrep.data.emotions import ACCEPTED_NAMES
from affectrep.data.manifest import Utterance, write_manifest, write_rejections
from affectrep.progress import Progress
from affectrep.protocol.folds import class_problems


def demo_corpus(
    audio_out: str | Path,
    settings: Mapping,
    *,
    workers: int = 1,
    logger: logging.Logger | None = None,
) -> DemoSummary:
    """Rule `demo_corpus`: the synthetic corpus of the config entry's `demo` settings, in
    IEMOCAP's release layout under `audio_out`, written by `workers` processes."""
    logger = logger or logging.getLogger(__name__)
    spec = DemoSpec.from_config(settings)
    progress = Progress(
        spec.sessions * 2 * spec.utterances_per_speaker, "demo corpus", logger, unit="utterances"
    )
    summary = write_demo_corpus(
        audio_out, spec, progress=lambda done, total: progress.update(done), workers=workers
    )
    logger.info(
        "demo corpus: %d utterances, %.1f min, categories %s",
        summary.n_utterances,
        summary.total_seconds / 60,
        summary.counts,
    )
    return summary


def corpus(
    settings: Mapping,
    root: str | Path,
    policy: AudioPolicy | Mapping,
    *,
    strict: bool,
    name: str,
    manifest_out: str | Path,
    rejected_out: str | Path,
    summary_out: str | Path,
    logger: logging.Logger | None = None,
) -> list[Utterance]:
    """Checkpoint `corpus`: read corpus `name` (its config entry `settings`, audio under
    `root`), check every audio file (`policy`: an `AudioPolicy` or its fields), and write
    the manifest, the rejected files and a summary, unless the labels cannot be classified."""
    logger = logger or logging.getLogger(__name__)
    rows, rejected = build_manifest(settings, Path(root), policy, strict=strict, logger=logger)
    summary = summarise(rows, rejected)
    logger.info("manifest:\n%s", summary)
    check_classes(rows, name)
    write_rejections(rejected, rejected_out)
    write_manifest(rows, manifest_out)
    Path(summary_out).write_text(summary + "\n")
    return rows


def check_classes(rows: list[Utterance], corpus: str = "") -> None:
    """Raise `CorpusError` when `class_problems` finds any, with the raw labels seen and their
    counts, so that the run stops at the corpus step and not in a classifier much later."""
    problems = class_problems(rows)
    if not problems:
        return
    key = f"corpora.{corpus}.emotion_map" if corpus else "the corpus's emotion_map"
    known = "; ".join(f"{name}: {', '.join(names)}" for name, names in ACCEPTED_NAMES.items())
    where = f"corpus {corpus}" if corpus else "the corpus"
    raise CorpusError(
        f"{where} cannot be used for emotion classification: {'; '.join(problems)}. "
        f"Raw labels seen (utterances, class): {raw_label_counts(rows)}. "
        f"Map the corpus's own names with {key} (e.g. {{rab: anger, tri: sadness}}); "
        f"names known without a map (any case): {known}"
    )
