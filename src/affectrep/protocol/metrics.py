"""Accuracy as the emotion literature reports it, and the paper's utterance decision rule."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, recall_score


def weighted_accuracy(truth: ArrayLike, predicted: ArrayLike) -> float:
    """WA: the fraction of utterances classified correctly (overall accuracy)."""
    return float(accuracy_score(truth, predicted))


def unweighted_accuracy(truth: ArrayLike, predicted: ArrayLike) -> float:
    """UA: the mean of the per-class recalls, so that rare classes count as much as common."""
    return float(balanced_accuracy_score(truth, predicted))


def per_class_recall(truth: ArrayLike, predicted: ArrayLike, n_classes: int) -> list[float]:
    """Recall of each class 0..n_classes-1 (NaN for a class absent from `truth`)."""
    labels = list(range(n_classes))
    present = set(np.asarray(truth).tolist())
    recalls = recall_score(truth, predicted, labels=labels, average=None, zero_division=0)
    return [
        float(r) if c in present else float("nan") for c, r in zip(labels, recalls, strict=True)
    ]


def confusion(truth: ArrayLike, predicted: ArrayLike, n_classes: int) -> np.ndarray:
    """Counts: rows are the true class, columns the predicted one."""
    return confusion_matrix(truth, predicted, labels=list(range(n_classes)))


def utterance_decisions(frame_posteriors: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The paper's rule (section 6): an utterance's class is the argmax over classes of its
    frames' posteriors summed over time.

    frame_posteriors: (n_frames, n_classes), the utterances' frames one after another;
    lengths: (n_utterances,) frames per utterance, summing to n_frames.
    """
    lengths = np.asarray(lengths)
    if np.any(lengths <= 0) or lengths.sum() != frame_posteriors.shape[0]:
        raise ValueError("lengths must be positive and add up to the number of frames")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.argmax(np.add.reduceat(frame_posteriors, starts, axis=0), axis=1)
