"""The manifest: one row per utterance, the same columns for every corpus.

Every reader (IEMOCAP, EmoDB, RAVDESS, CREMA-D, a plain table) produces `Utterance` rows, so
that everything downstream (features, training, folds, figures) never asks which corpus it is.
Unknown values are empty strings in the TSV and `None`/`""` in Python.
"""

from __future__ import annotations

import csv
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from affectrep.atomic import atomic_path


@dataclass
class Utterance:
    """One utterance of a corpus.

    `emotion_raw` is the corpus's own category (e.g. ``frustration``); `emotion` is the
    4-class label (neutral/anger/sadness/happiness) or ``""`` when the utterance is not used
    for classification. Activation, valence and dominance are on the corpus's scale
    (IEMOCAP: mean of annotators' 1-5 ratings). `agreement` is the number of annotators who
    chose the majority category (0 when the corpus has one label per file and no annotators).
    """

    id: str
    path: str
    speaker: str
    session: str = ""
    gender: str = ""
    emotion_raw: str = ""
    emotion: str = ""
    activation: float | None = None
    valence: float | None = None
    dominance: float | None = None
    agreement: int = 0
    n_annotators: int = 0
    duration_s: float | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Utterance))
_FLOAT_COLUMNS = {"activation", "valence", "dominance", "duration_s"}
_INT_COLUMNS = {"agreement", "n_annotators"}


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def write_manifest(rows: list[Utterance], path: str | Path) -> None:
    """Write rows as a tab-separated file with a header, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_format(v) for v in asdict(row).values()])


def read_manifest(path: str | Path) -> list[Utterance]:
    """Read a manifest written by `write_manifest`."""
    rows: list[Utterance] = []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: manifest lacks columns {sorted(missing)}")
        for record in reader:
            values: dict[str, object] = {}
            for name in COLUMNS:
                text = record[name]
                if name in _FLOAT_COLUMNS:
                    values[name] = float(text) if text != "" else None
                elif name in _INT_COLUMNS:
                    values[name] = int(text) if text != "" else 0
                else:
                    values[name] = text
            rows.append(Utterance(**values))  # type: ignore[arg-type]
    return rows


def combine_manifests(manifests: dict[str, str | Path], path: str | Path) -> list[Utterance]:
    """The rows of several corpora's manifests as one, with ids, speakers and sessions
    prefixed `name/` (matching `affectrep.data.featureset.combine_feature_sets`)."""
    rows = [
        replace(
            row,
            id=f"{name}/{row.id}",
            speaker=f"{name}/{row.speaker}",
            session=f"{name}/{row.session}" if row.session else "",
        )
        for name, manifest in manifests.items()
        for row in read_manifest(manifest)
    ]
    write_manifest(rows, path)
    return rows


@dataclass
class Rejection:
    """An audio file left out of the manifest, and why (one of `affectrep.data.audio.REASONS`)."""

    path: str
    reason: str
    detail: str = ""


def write_rejections(rejections: list[Rejection], path: str | Path) -> None:
    """Write `rejected.tsv` (path, reason, detail); a header-only file when nothing was rejected."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["path", "reason", "detail"])
        for item in rejections:
            writer.writerow([item.path, item.reason, item.detail])
