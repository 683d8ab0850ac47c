"""The validation grid (paper section 4, Table 1): how well a softmax reads emotion from codes.

A speaker-independent split (IEMOCAP in the paper: 7 speakers train, 3 held out). A softmax
classifier (multinomial logistic regression, trained to convergence) learns from the frames of
the training speakers, every frame labelled with its utterance's emotion; each held-out
utterance is classified by the argmax of its frames' summed posteriors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from affectrep.emotions import CLASSES
from affectrep.featureset import FeatureIndex
from affectrep.manifest import Utterance
from affectrep.metrics import (
    confusion,
    per_class_recall,
    unweighted_accuracy,
    utterance_decisions,
    weighted_accuracy,
)


def held_out_speakers(
    speakers: Sequence[str], setting: str | list[str], n_held_out: int
) -> list[str]:
    """The validation speakers: a list from config, or `auto`: the last `n_held_out` speakers
    in sorted order (IEMOCAP: Ses04M, Ses05F, Ses05M)."""
    known = sorted(set(speakers))
    if setting == "auto":
        if not 0 < n_held_out < len(known):
            raise ValueError(
                f"cannot hold out {n_held_out} of {len(known)} speakers for validation"
            )
        return known[-n_held_out:]
    unknown = sorted(set(setting) - set(known))
    if unknown:
        raise ValueError(f"validation speakers {unknown} are not in the corpus ({known})")
    if set(setting) == set(known):
        raise ValueError("validation speakers must leave some speakers for training")
    return sorted(setting)


def _frames_of(features: np.ndarray, index: FeatureIndex, positions: Sequence[int]) -> np.ndarray:
    return np.concatenate(
        [np.asarray(features[index.offsets[i] : index.offsets[i] + index.lengths[i]])
         for i in positions]
    )


def softmax_validation(
    features: np.ndarray,
    index: FeatureIndex,
    manifest: Sequence[Utterance],
    held_out: Sequence[str],
    *,
    max_train_frames: int | None = 500_000,
    seed: int = 0,
    logger: logging.Logger | None = None,
) -> dict:
    """Train on the labelled frames of the other speakers, score the held-out utterances.

    features: (n_frames, n_dims) in the order of `index` (codes or spectrogram frames).
    Returns WA (the paper's accuracy), UA, per-class recall, the confusion matrix and counts.
    """
    logger = logger or logging.getLogger(__name__)
    emotion = {row.id: row.emotion for row in manifest}
    held = set(held_out)
    train_pos, test_pos = [], []
    for position, (uid, speaker) in enumerate(zip(index.ids, index.speakers, strict=True)):
        if emotion.get(uid, "") not in CLASSES:
            continue
        (test_pos if speaker in held else train_pos).append(position)
    if not train_pos or not test_pos:
        raise ValueError(
            f"need labelled utterances on both sides of the split; training {len(train_pos)}, "
            f"held out {len(test_pos)}"
        )
    labels = np.array([CLASSES.index(emotion[uid]) if emotion.get(uid, "") in CLASSES else -1
                       for uid in index.ids])
    x_train = _frames_of(features, index, train_pos)
    y_train = np.repeat(labels[train_pos], index.lengths[train_pos])
    if max_train_frames is not None and x_train.shape[0] > max_train_frames:
        keep = np.sort(np.random.default_rng(seed).choice(
            x_train.shape[0], max_train_frames, replace=False))
        x_train, y_train = x_train[keep], y_train[keep]
    present = sorted(set(y_train.tolist()))
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)
    )
    classifier.fit(x_train, y_train)
    x_test = _frames_of(features, index, test_pos)
    posteriors = np.zeros((x_test.shape[0], len(CLASSES)))
    posteriors[:, present] = classifier.predict_proba(x_test)
    predicted = utterance_decisions(posteriors, index.lengths[test_pos])
    truth = labels[test_pos]
    result = {
        "accuracy": weighted_accuracy(truth, predicted),
        "unweighted_accuracy": unweighted_accuracy(truth, predicted),
        "per_class_recall": dict(zip(CLASSES, per_class_recall(truth, predicted, len(CLASSES)),
                                     strict=True)),
        "confusion": confusion(truth, predicted, len(CLASSES)).tolist(),
        "classes": list(CLASSES),
        "held_out_speakers": sorted(held),
        "n_train_utterances": len(train_pos),
        "n_train_frames": int(x_train.shape[0]),
        "n_test_utterances": len(test_pos),
        "feature_dims": int(features.shape[1]),
        "seed": seed,
    }
    logger.info(
        "validation: WA %.2f%%, UA %.2f%% on %d held-out utterances (%s)",
        100 * result["accuracy"], 100 * result["unweighted_accuracy"], len(test_pos),
        ", ".join(sorted(held)),
    )
    return result
