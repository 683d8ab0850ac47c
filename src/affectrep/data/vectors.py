"""One vector per utterance on disk: a `.npy` of rows and a TSV naming each row's utterance.

The eGeMAPS functionals, the BLSTM vectors and the pooled codes are stored this way
(`vectors.npy`: (n_utterances, dims); `ids.tsv`: id, speaker, one line per row, in order).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.manifest import Utterance


def read_vectors(vectors: str | Path, ids_file: str | Path) -> tuple[np.ndarray, list[str]]:
    """Utterance vectors (n, dims) and their ids from a `.npy` and a TSV with an `id` column."""
    x = np.load(vectors)
    with open(ids_file, newline="") as handle:
        ids = [row["id"] for row in csv.DictReader(handle, delimiter="\t")]
    if len(ids) != x.shape[0]:
        raise ValueError(f"{vectors} has {x.shape[0]} rows but {ids_file} lists {len(ids)} ids")
    return x, ids


def write_ids(rows: Sequence[Utterance], path: str | Path) -> None:
    """The id and speaker of each row of an utterance-vector file, in order."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "speaker"])
        writer.writerows([row.id, row.speaker] for row in rows)
