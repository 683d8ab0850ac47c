"""Separation measures: high for a separable representation, near chance for a random one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from affectrep.data.emotions import CLASSES
from affectrep.protocol.separation import (
    COLUMNS,
    dimension_correlation,
    knn_accuracy_across_speakers,
    separation_row,
    silhouette_emotion,
    write_separation_table,
)

N_SPEAKERS = 6
PER_CLASS_PER_SPEAKER = 15


def _points(seed: int = 0) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """Balanced labels over several speakers, a speaker offset, and a coordinate `t` that a
    linear target can follow."""
    rng = np.random.default_rng(seed)
    emotions, speakers = [], []
    for speaker in range(N_SPEAKERS):
        for emotion in CLASSES:
            emotions += [emotion] * PER_CLASS_PER_SPEAKER
            speakers += [f"spk{speaker}"] * PER_CLASS_PER_SPEAKER
    return rng, emotions, speakers, np.array([CLASSES.index(e) for e in emotions])


def _separable(seed: int = 0):
    rng, emotions, speakers, labels = _points(seed)
    centres = 10.0 * np.eye(len(CLASSES), 6)
    points = centres[labels] + rng.normal(size=(len(labels), 6))
    return points, emotions, speakers


def _random(seed: int = 0):
    rng, emotions, speakers, labels = _points(seed)
    return rng.normal(size=(len(labels), 6)), emotions, speakers


def test_separable_blobs_score_high():
    points, emotions, speakers = _separable()
    assert silhouette_emotion(points, emotions) > 0.5
    knn = knn_accuracy_across_speakers(points, emotions, speakers, k=5)
    assert knn["wa"] > 0.97 and knn["ua"] > 0.97
    target = points @ np.array([1.0, -2.0, 0.5, 0.0, 3.0, 1.0])
    assert dimension_correlation(points, target, speakers) > 0.98


def test_labels_independent_of_the_representation_score_near_chance():
    points, emotions, speakers = _random(1)
    assert silhouette_emotion(points, emotions) < 0.05
    knn = knn_accuracy_across_speakers(points, emotions, speakers, k=5)
    assert knn["wa"] < 0.4 and knn["ua"] < 0.4
    target = np.random.default_rng(2).normal(size=len(emotions))
    assert abs(dimension_correlation(points, target, speakers)) < 0.2


def test_neighbours_never_come_from_the_same_speaker():
    # Emotion is recognisable only through a speaker-specific offset: each speaker sits in
    # its own region and has one emotion. Same-speaker neighbours would give accuracy 1;
    # other speakers' neighbours carry no information about it.
    rng = np.random.default_rng(3)
    speakers = [f"s{i}" for i in range(8) for _ in range(20)]
    emotions = [CLASSES[i % 4] for i in range(8) for _ in range(20)]
    points = np.repeat(rng.normal(size=(8, 5)) * 50, 20, axis=0) + rng.normal(size=(160, 5))
    assert knn_accuracy_across_speakers(points, emotions, speakers, k=3)["wa"] < 0.5


def test_missing_labels_and_targets_are_skipped():
    points, emotions, speakers = _separable()
    emotions = ["" if i % 5 == 0 else e for i, e in enumerate(emotions)]
    target = [None if i % 7 == 0 else float(x) for i, x in enumerate(points[:, 0] - points[:, 1])]
    assert silhouette_emotion(points, emotions) > 0.5
    assert dimension_correlation(points, target, speakers) > 0.9
    assert math.isnan(dimension_correlation(points, target, ["one"] * len(target)))


def test_row_and_table(tmp_path):
    points, emotions, speakers = _separable()
    activation = list(points[:, 0] + points[:, 2])
    valence = [None] * len(points)
    row = separation_row(
        points,
        emotions,
        activation,
        valence,
        speakers,
        level="utterances",
        model="TIED-128-5",
        k=5,
        max_points=200,
    )
    assert tuple(row) == COLUMNS
    assert row["n_points"] == 200 and row["knn_ua"] > 0.9
    assert row["spearman_activation"] > 0.9 and math.isnan(row["spearman_valence"])
    write_separation_table(
        [row, {**row, "level": "frames"}], tmp_path / "sep.tsv", tmp_path / "sep.md"
    )
    lines = (tmp_path / "sep.tsv").read_text().splitlines()
    assert lines[0].split("\t") == list(COLUMNS) and len(lines) == 3
    assert lines[1].split("\t")[-1] == ""  # NaN is an empty cell
    assert float(lines[1].split("\t")[5]) == pytest.approx(row["knn_ua"], abs=1e-3)
    markdown = (tmp_path / "sep.md").read_text()
    assert "higher is better" in markdown and "| TIED-128-5 |" in markdown
