"""Any corpus described by a CSV or TSV table: the reader for everything without one of its own.

Required columns: `path`, `speaker`, `emotion`. Optional: `id` (default the file stem),
`session`, `gender`, `activation`, `valence`, `dominance`. Other columns are ignored.
"""

from __future__ import annotations

import csv
from pathlib import Path

from affectrep.data.corpora.discovery import CorpusError
from affectrep.data.emotions import four_class
from affectrep.data.manifest import Utterance

REQUIRED = ("path", "speaker", "emotion")
_NUMBERS = ("activation", "valence", "dominance")


def _delimiter(table: Path, sample: str) -> str:
    if table.suffix.lower() == ".tsv":
        return "\t"
    if table.suffix.lower() == ".csv":
        return ","
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        return ","


def _number(text: str, table: Path, line: int, column: str) -> float | None:
    if text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise CorpusError(
            f"{table}, line {line}: column {column} must be a number, not {text!r}"
        ) from None


def read_table(table: Path, *, audio_root: Path | None = None) -> list[Utterance]:
    """One row per table line; relative paths start at `audio_root` or the table's folder.

    `emotion_raw` is the table's label (lower-cased), `emotion` the class of the names every
    reader knows (`affectrep.data.emotions.ACCEPTED_NAMES`); other names are mapped by the
    corpus's `emotion_map` (`affectrep.data.corpora.build.read_corpus`)."""
    table = Path(table).expanduser()
    if not table.is_file():
        raise CorpusError(
            f"corpus table {table} does not exist; expected a CSV/TSV file with columns "
            f"{', '.join(REQUIRED)}"
        )
    text = table.read_text()
    base = Path(audio_root).expanduser() if audio_root else table.parent
    reader = csv.DictReader(text.splitlines(), delimiter=_delimiter(table, text[:4096]))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise CorpusError(
            f"{table}: missing column(s) {', '.join(missing)}; found {', '.join(columns)}"
        )
    rows: list[Utterance] = []
    seen: dict[str, int] = {}
    for line, record in enumerate(reader, start=2):
        record = {k.strip(): (v or "").strip() for k, v in record.items() if k is not None}
        path = Path(record["path"])
        path = path if path.is_absolute() else base / path
        uid = record.get("id") or path.stem
        if uid in seen:
            raise CorpusError(f"{table}, line {line}: id {uid} already used on line {seen[uid]}")
        seen[uid] = line
        numbers = {c: _number(record.get(c, ""), table, line, c) for c in _NUMBERS}
        label = record["emotion"].lower()
        rows.append(
            Utterance(
                id=uid,
                path=str(path.resolve()),
                speaker=record["speaker"],
                session=record.get("session", ""),
                gender=record.get("gender", "")[:1].upper(),
                emotion_raw=label,
                emotion=four_class(label),
                activation=numbers["activation"],
                valence=numbers["valence"],
                dominance=numbers["dominance"],
            )
        )
    if not rows:
        raise CorpusError(f"{table}: the table has no rows")
    return sorted(rows, key=lambda row: row.id)
