"""One vector per utterance on disk: a `.npy` of rows and a file naming each row's utterance.

The eGeMAPS and ComParE functionals, the BLSTM vectors and the pooled codes are stored this
way (`vectors.npy`: (n_utterances, dims); `ids.tsv`: id, speaker, one line per row, in
order). Vectors computed elsewhere (`classification.vectors` in the config: a
representation brought by the user, evaluated as one more column) come the same way, and
their ids file may also be a plain list, one id per line; `load_external_vectors` checks
them against the manifest before anything is fitted on them, so that a mismatch stops the
run with a message that names the file, rather than quietly evaluating fewer utterances than
the other columns do.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.manifest import Utterance

# Ids (or rows) named in full in an error message; the count is always given.
_SHOWN = 5


class ExternalVectorsError(ValueError):
    """External utterance vectors that cannot be evaluated; the one-line message names the
    file and the problem."""


def read_ids(ids_file: str | Path) -> list[str]:
    """The utterance ids of an ids file, in order: a TSV whose header has an `id` column (as
    `write_ids` writes it), or a plain list, one id per line (a first line that is exactly
    `id` is a header). Blank lines at the end are ignored; a blank line between ids, or a
    header with tabs but no `id` column, is refused (it would shift every row that follows)."""
    with open(ids_file, newline="", encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return []
    header = lines[0].split("\t")
    if "id" in header:
        reader = csv.DictReader(lines, delimiter="\t")
        return [row["id"] for row in reader]
    if len(header) > 1:
        raise ValueError(
            f"{ids_file}: the first line has tab-separated columns but none is called `id` "
            "(give a TSV with an `id` column, or one id per line)"
        )
    ids = [line.strip() for line in lines]
    if "" in ids:
        raise ValueError(f"{ids_file}: line {ids.index('') + 1} is blank (one id per line)")
    return ids


def read_vectors(vectors: str | Path, ids_file: str | Path) -> tuple[np.ndarray, list[str]]:
    """Utterance vectors (n, dims) and their ids from a `.npy` and an ids file (`read_ids`)."""
    x = np.load(vectors)
    ids = read_ids(ids_file)
    if len(ids) != x.shape[0]:
        raise ValueError(f"{vectors} has {x.shape[0]} rows but {ids_file} lists {len(ids)} ids")
    return x, ids


def write_ids(rows: Sequence[Utterance], path: str | Path) -> None:
    """The id and speaker of each row of an utterance-vector file, in order."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "speaker"])
        writer.writerows([row.id, row.speaker] for row in rows)


def _some(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return f"{shown}, ..." if len(items) > _SHOWN else shown


def load_external_vectors(
    vectors: str | Path,
    ids_file: str | Path,
    manifest_ids: Collection[str],
    required: Collection[str] | None = None,
    logger: logging.Logger | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Vectors computed outside the workflow, checked, as (x, ids): the rows of the
    utterances in `manifest_ids`, in the file's order (float64).

    `required`: the utterances the evaluation uses (default: every id of `manifest_ids`);
    each must have a vector, because a column scored on fewer utterances than the others is
    not comparable with them. Ids outside the manifest (vectors of a larger corpus, say) are
    ignored, with a log line. Anything else that is wrong raises `ExternalVectorsError` with
    one line naming the file: a missing or unreadable file, an array that is not 2-D or not
    numeric, rows that do not match the ids, duplicate ids, required ids without a vector
    (the first few and the count), non-finite values (which rows).
    """
    logger = logger or logging.getLogger(__name__)
    for path in (vectors, ids_file):
        if not Path(path).is_file():
            raise ExternalVectorsError(f"external vectors: {path}: no such file")
    try:
        x = np.load(vectors, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ExternalVectorsError(
            f"external vectors: {vectors}: not a NumPy .npy array ({error})"
        ) from None
    if x.ndim != 2 or x.shape[1] == 0:
        raise ExternalVectorsError(
            f"external vectors: {vectors}: expected a 2-D array (utterances x dimensions), "
            f"got shape {x.shape}"
        )
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ExternalVectorsError(
            f"external vectors: {vectors}: expected numbers, got dtype {x.dtype}"
        )
    try:
        ids = read_ids(ids_file)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ExternalVectorsError(f"external vectors: {error}") from None
    duplicated = sorted(uid for uid, count in Counter(ids).items() if count > 1)
    if duplicated:
        raise ExternalVectorsError(
            f"external vectors: {ids_file}: {len(duplicated)} ids are listed more than once: "
            f"{_some(duplicated)}"
        )
    if len(ids) != x.shape[0]:
        raise ExternalVectorsError(
            f"external vectors: {vectors} has {x.shape[0]} rows but {ids_file} lists {len(ids)} ids"
        )
    known = set(manifest_ids)
    keep = [row for row, uid in enumerate(ids) if uid in known]
    extra = len(ids) - len(keep)
    if extra:
        logger.info(
            "external vectors %s: %d of its %d ids are not in the manifest and are ignored: %s",
            ids_file,
            extra,
            len(ids),
            _some([uid for uid in ids if uid not in known]),
        )
    present = {ids[row] for row in keep}
    needed = known if required is None else set(required)
    missing = sorted(needed - present)
    if missing:
        raise ExternalVectorsError(
            f"external vectors: {ids_file}: {len(missing)} of the {len(needed)} utterances "
            f"evaluated have no vector: {_some(missing)}"
        )
    kept = np.asarray(x[keep], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(kept).all(axis=1))
    if bad.size:
        rows = [f"{keep[i]} ({ids[keep[i]]})" for i in bad]
        raise ExternalVectorsError(
            f"external vectors: {vectors}: NaN or infinite values in {bad.size} rows "
            f"(0-based row, id): {_some(rows)}"
        )
    return kept, [ids[row] for row in keep]


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of a file's bytes: which external vectors a result was computed from
    (the workflow has no provenance record of a file it did not make)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
