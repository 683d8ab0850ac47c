"""Numbers that say whether a representation separates affect, beside the t-SNE pictures.

A t-SNE picture can suggest clusters that are not there (or hide ones that are), so each
picture gets measurements on the representation itself, not on its 2-D embedding:

- silhouette of the four emotion classes (-1..1; 0 = no cluster structure by emotion);
- k-nearest-neighbour emotion accuracy where every point's neighbours come from OTHER
  speakers only, so that speaker similarity cannot pass for emotion (WA and UA);
- Spearman correlation between activation (valence) and its best linear prediction from the
  representation, predicted for each speaker by a ridge model fitted on the other speakers.

Higher is better for every number. Frame-level sets are large, so every measure subsamples
(deterministically, from a seed) to a bounded number of points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score, balanced_accuracy_score, silhouette_score
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from affectrep.atomic import atomic_path
from affectrep.data.emotions import CLASSES
from affectrep.html import html_twin, write_html
from affectrep.protocol.tables import markdown_table

# One activation (or valence) rating per point, None or NaN where there is none.
Ratings = Sequence[float | None] | np.ndarray

COLUMNS = (
    "level",
    "model",
    "n_points",
    "silhouette",
    "knn_wa",
    "knn_ua",
    "spearman_activation",
    "spearman_valence",
)

COLUMN_MEANINGS = {
    "level": "frames (autoencoder bottleneck codes) or utterances (BLSTM representations)",
    "model": "autoencoder configuration (paper's naming)",
    "n_points": "labelled points measured (after subsampling)",
    "silhouette": "silhouette of the four emotion classes in the representation (-1..1, "
    "0 = no structure)",
    "knn_wa": "k-NN emotion accuracy with neighbours from other speakers only (WA)",
    "knn_ua": "the same, mean per-class recall (UA); chance is 0.25",
    "spearman_activation": "Spearman correlation of activation with its ridge prediction, "
    "each speaker predicted from the others",
    "spearman_valence": "the same for valence",
}


def _labels(emotions: Sequence[str]) -> np.ndarray:
    """Class index per point, -1 for points outside the four classes."""
    lookup = {name: number for number, name in enumerate(CLASSES)}
    return np.array([lookup.get(e, -1) for e in emotions], dtype=np.int64)


def _subsample(n: int, max_points: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most `max_points` of `n` points, drawn uniformly from `seed`."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))


def _labelled(
    points: np.ndarray, emotions: Sequence[str], max_points: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows with one of the four emotions (subsampled) and their class indices."""
    labels = _labels(emotions)
    rows = np.flatnonzero(labels >= 0)
    rows = rows[_subsample(len(rows), max_points, seed)]
    return rows, labels[rows]


def silhouette_emotion(
    points: np.ndarray, emotions: Sequence[str], *, max_points: int = 10000, seed: int = 0
) -> float:
    """Silhouette (Euclidean) of the emotion classes over labelled points; NaN with fewer
    than two classes. Subsampled because the score costs O(n^2)."""
    rows, labels = _labelled(np.asarray(points), emotions, max_points, seed)
    if len(np.unique(labels)) < 2 or len(rows) <= len(np.unique(labels)):
        return math.nan
    return float(silhouette_score(np.asarray(points)[rows], labels))


def knn_accuracy_across_speakers(
    points: np.ndarray,
    emotions: Sequence[str],
    speakers: Sequence[str],
    *,
    k: int = 10,
    max_points: int | None = 20000,
    seed: int = 0,
) -> dict[str, float]:
    """{'wa', 'ua'} of k-NN emotion predictions, leave-one-speaker-out.

    For each speaker, the classifier is fitted on the other speakers' points (standardised
    with their statistics), so a point's neighbours never include its own speaker.
    """
    points = np.asarray(points)
    rows, labels = _labelled(points, emotions, max_points, seed)
    groups = np.asarray(speakers)[rows]
    if len(np.unique(groups)) < 2:
        return {"wa": math.nan, "ua": math.nan}
    predicted = np.empty_like(labels)
    for speaker in np.unique(groups):
        test = groups == speaker
        scaler = StandardScaler().fit(points[rows[~test]])
        neighbours = KNeighborsClassifier(n_neighbors=min(k, int((~test).sum())))
        neighbours.fit(scaler.transform(points[rows[~test]]), labels[~test])
        predicted[test] = neighbours.predict(scaler.transform(points[rows[test]]))
    return {
        "wa": float(accuracy_score(labels, predicted)),
        "ua": float(balanced_accuracy_score(labels, predicted)),
    }


def dimension_correlation(
    points: np.ndarray,
    target: Ratings,
    speakers: Sequence[str],
    *,
    alpha: float = 1.0,
    max_folds: int = 10,
    max_points: int | None = 20000,
    seed: int = 0,
) -> float:
    """Spearman correlation between a continuous attribute (activation or valence) and its
    ridge prediction from `points`, each speaker's points predicted by a model fitted without that
    speaker (GroupKFold by speaker). Missing targets (None/NaN) are skipped; NaN when fewer
    than two speakers remain or the prediction is constant."""
    points = np.asarray(points)
    values = np.array([math.nan if t is None else float(t) for t in target])
    rows = np.flatnonzero(np.isfinite(values))
    rows = rows[_subsample(len(rows), max_points, seed)]
    groups = np.asarray(speakers)[rows]
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return math.nan
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha))
    predicted = cross_val_predict(
        model,
        points[rows],
        values[rows],
        groups=groups,
        cv=GroupKFold(n_splits=min(n_groups, max_folds)),
    )
    if np.ptp(predicted) == 0 or np.ptp(values[rows]) == 0:
        return math.nan
    return float(spearmanr(predicted, values[rows]).statistic)


def separation_row(
    points: np.ndarray,
    emotions: Sequence[str],
    activations: Ratings,
    valences: Ratings,
    speakers: Sequence[str],
    *,
    level: str,
    model: str,
    k: int = 10,
    max_points: int = 10000,
    seed: int = 0,
) -> dict:
    """One table row: every measure on the same representation (see `COLUMNS`).

    All measures use at most `max_points` points (the same seed), so frame-level rows of
    millions of frames cost about as much as utterance-level ones.
    """
    points = np.asarray(points)  # no copy: every measure subsamples before it computes
    rows, _ = _labelled(points, emotions, max_points, seed)
    knn = knn_accuracy_across_speakers(
        points, emotions, speakers, k=k, max_points=max_points, seed=seed
    )
    return {
        "level": level,
        "model": model,
        "n_points": int(len(rows)),
        "silhouette": silhouette_emotion(points, emotions, max_points=max_points, seed=seed),
        "knn_wa": knn["wa"],
        "knn_ua": knn["ua"],
        "spearman_activation": dimension_correlation(
            points, activations, speakers, max_points=max_points, seed=seed
        ),
        "spearman_valence": dimension_correlation(
            points, valences, speakers, max_points=max_points, seed=seed
        ),
    }


def _format(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def write_separation_table(rows: Sequence[dict], tsv_path: str | Path, md_path: str | Path) -> None:
    """TSV (one header line, for programs) and Markdown with what each column means, and the
    Markdown's HTML twin (`html_twin`: `separation.html` beside `separation.md`)."""
    formatted = [{column: _format(row[column]) for column in COLUMNS} for row in rows]
    with atomic_path(tsv_path) as tmp:
        lines = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in formatted]
        Path(tmp).write_text("\n".join(lines) + "\n")
    legend = "\n".join(f"- `{name}`: {text}" for name, text in COLUMN_MEANINGS.items())
    text = (
        "# Separation of affect in the learnt representations\n\n"
        "Measured on the representations themselves (not on their t-SNE embeddings); "
        "higher is better in every numeric column.\n\n"
        f"{legend}\n\n" + (markdown_table(formatted) if formatted else "(no rows)") + "\n"
    )
    with atomic_path(md_path) as tmp:
        Path(tmp).write_text(text)
    write_html(text, html_twin(md_path))
