"""Utterance-level read-outs of a learned representation: pooled codes, an emotion softmax and
activation/valence ridge regressions, as plain arrays.

An utterance is summarised by statistics of its frames' bottleneck codes (`pool_codes`,
`affectrep.data.pooling`: by default mean, standard deviation and percentiles of the codes
and of their frame-to-frame changes). The read-outs are scikit-learn models (imputer, scaler,
logistic regression or ridge) while they are fitted and selected; `head_arrays` then keeps
only their numbers, so that an exported bundle is loaded without pickles and predicts with a
few lines of NumPy (`predict_emotion`, `predict_dimension`) that give sklearn's outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from affectrep.data.featureset import FeatureIndex
from affectrep.data.pooling import PoolingSpec, pool_one, pool_sequences
from affectrep.protocol.folds import make_folds, utterance_labels
from affectrep.protocol.utterance import UtteranceSettings, evaluate_utterance_classifier

__all__ = [
    "fit_dimension",
    "fit_emotion",
    "head_arrays",
    "loso_emotion_runs",
    "median_choice",
    "pool_codes",
    "pool_one",
    "predict_dimension",
    "predict_emotion",
]


def pool_codes(
    codes: np.ndarray, index: FeatureIndex, spec: PoolingSpec | None = None
) -> np.ndarray:
    """(n_utterances, spec.n_out(dims)) float32: each utterance's frame codes pooled by `spec`
    (`affectrep.data.pooling`; None: mean and std). `codes` may be memory-mapped; one
    utterance is read at a time."""
    return pool_sequences(codes, index.offsets, index.lengths, spec)


def fit_emotion(
    x: np.ndarray,
    y: np.ndarray,
    c: float,
    *,
    balanced: bool = True,
    max_iter: int = 5000,
    seed: int = 0,
) -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(
            C=c, class_weight="balanced" if balanced else None, max_iter=max_iter, random_state=seed
        ),
    ).fit(x, y)


def fit_dimension(x: np.ndarray, y: np.ndarray, alpha: float) -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        StandardScaler(),
        Ridge(alpha=alpha),
    ).fit(x, y)


def head_arrays(model: Pipeline, prefix: str) -> dict[str, np.ndarray]:
    """The numbers of a fitted imputer-scaler-linear pipeline, keys prefixed `prefix/`."""
    imputer, scaler, linear = (step for _, step in model.steps)
    arrays = {
        "fill": imputer.statistics_,
        "mean": scaler.mean_,
        "scale": scaler.scale_,
        "coef": np.atleast_2d(linear.coef_),
        "intercept": np.atleast_1d(linear.intercept_),
    }
    if hasattr(linear, "classes_"):
        arrays["classes"] = np.asarray(linear.classes_)
    return {
        f"{prefix}/{k}": np.asarray(v, dtype=np.int64 if k == "classes" else np.float64)
        for k, v in arrays.items()
    }


def _linear(arrays: dict[str, np.ndarray], prefix: str, x: np.ndarray) -> np.ndarray:
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    x = np.where(np.isnan(x), arrays[f"{prefix}/fill"], x)
    x = (x - arrays[f"{prefix}/mean"]) / arrays[f"{prefix}/scale"]
    return x @ arrays[f"{prefix}/coef"].T + arrays[f"{prefix}/intercept"]


def predict_emotion(arrays: dict[str, np.ndarray], x: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, n_classes) posteriors of the softmax head `emotion` (zero for classes it never saw)."""
    scores = _linear(arrays, "emotion", x)
    classes = arrays["emotion/classes"]
    if scores.shape[1] == 1:  # binary logistic regression: one score for classes[1]
        scores = np.concatenate([-scores, scores], axis=1) / 2
    scores -= scores.max(axis=1, keepdims=True)
    probabilities = np.exp(scores)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    out = np.zeros((probabilities.shape[0], n_classes))
    out[:, classes] = probabilities
    return out


def predict_dimension(arrays: dict[str, np.ndarray], name: str, x: np.ndarray) -> np.ndarray:
    """(n,) predictions of the ridge head `name` (activation or valence)."""
    return _linear(arrays, name, x)[:, 0]


def loso_emotion_runs(
    x: np.ndarray,
    ids: Sequence[str],
    rows: Sequence,
    *,
    c_grid: Sequence[float],
    balanced: bool,
    seed: int,
    logger=None,
) -> list[dict]:
    """Every leave-one-session-out run (`affectrep.protocol.folds`) of the emotion softmax on the
    utterance vectors `x` (rows: the utterances `ids` of the manifest `rows`), C chosen on
    each run's validation speaker from `c_grid`."""
    speaker = {row.id: row.speaker for row in rows}
    labels = utterance_labels(list(ids), rows)
    settings = UtteranceSettings(grid=tuple(c_grid), balanced=balanced, seed=seed)
    return [
        evaluate_utterance_classifier(
            x,
            labels,
            [speaker[i] for i in ids],
            fold,
            ids=list(ids),
            settings=settings,
            method="pooled",
            logger=logger,
        )
        for fold in make_folds(rows)
    ]


def median_choice(values: Sequence[float]) -> float:
    """The median of the values chosen on the validation speakers of every fold (the lower
    one of the middle pair): how a deployed model's hyper-parameter is set without ever
    looking at a test speaker."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no fold chose a value")
    return float(ordered[(len(ordered) - 1) // 2])
