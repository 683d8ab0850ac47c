"""The softmax on utterance vectors, one leave-one-session-out run at a time.

`evaluate_utterance_classifier` works on any utterance vectors (eGeMAPS functionals, BLSTM
vectors, pooled codes): standardised on the training speakers, multinomial logistic
regression whose regularisation strength C is chosen by the validation speaker's UA; the test
speaker is scored once, by the chosen model, and influences nothing. Missing values are
imputed with the training speakers' means.

With `normalization: speaker` every speaker's vectors are first standardised with that
speaker's own mean and standard deviation over all of its utterances (labels unused, so the
test speaker's own unlabelled statistics are legitimate, as is standard in this field): it
removes much of what differs between speakers and not between emotions. The same option is
offered to every column, learned or hand-crafted (`features.normalization: speaker` does the
same for the frames the MLPs and autoencoders see).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from affectrep.data.emotions import CLASSES
from affectrep.defaults import default
from affectrep.protocol.folds import Fold, fold_result, role_positions, score


@dataclass(frozen=True)
class UtteranceSettings:
    """The grid of inverse regularisation strengths C tried on the validation speaker, and
    whether classes are weighted by inverse frequency (as the MLP's frames are, so that the
    methods of Table 2 are compared on equal terms). The defaults are the config schema's
    `classification.utterance` (`c_grid`, `class_weights`) and `classification.seed`."""

    grid: tuple[float, ...] = tuple(default("classification.utterance.c_grid"))
    balanced: bool = default("classification.utterance.class_weights")
    max_iter: int = 5000
    seed: int = default("classification.seed")
    normalization: str = default("classification.utterance.normalization")

    def __post_init__(self) -> None:
        if self.normalization not in VECTOR_NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {VECTOR_NORMALIZATIONS}, not {self.normalization!r}"
            )


VECTOR_NORMALIZATIONS = ("global", "speaker")
_STD_FLOOR = 1e-8


def normalise_per_speaker(x: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
    """Each speaker's rows standardised by that speaker's own mean and standard deviation
    per dimension (non-finite values ignored and kept as NaN; a constant dimension becomes
    0)."""
    x = np.asarray(x, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    out = np.empty_like(x)
    owner = np.asarray(list(speakers))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a dimension missing for a speaker
        for speaker in np.unique(owner):
            rows = owner == speaker
            block = x[rows]
            mean, std = np.nanmean(block, axis=0), np.nanstd(block, axis=0)
            scaled = (block - mean) / np.maximum(std, _STD_FLOOR)
            out[rows] = np.where(std > _STD_FLOOR, scaled, np.where(np.isnan(block), np.nan, 0.0))
    return out


def _fit(x: np.ndarray, y: np.ndarray, c: float, settings: UtteranceSettings) -> Pipeline:
    model = make_pipeline(
        SimpleImputer(strategy="mean", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(
            C=c,
            class_weight="balanced" if settings.balanced else None,
            max_iter=settings.max_iter,
            random_state=settings.seed,
        ),
    )
    return model.fit(x, y)


def _posteriors(model: Pipeline, x: np.ndarray) -> np.ndarray:
    """(n, len(CLASSES)) posteriors, zero for classes the training speakers never showed."""
    out = np.zeros((x.shape[0], len(CLASSES)))
    out[:, model.classes_] = model.predict_proba(x)
    return out


def select_c(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_validation: np.ndarray,
    y_validation: np.ndarray,
    settings: UtteranceSettings,
) -> tuple[Pipeline, float, list[dict]]:
    """The model with the best validation UA over the grid (ties: the smaller C, i.e. the
    simpler model), its C, and every grid point's validation scores."""
    best: tuple[float, Pipeline, float] | None = None
    trials = []
    for c in sorted(settings.grid):
        model = _fit(x_train, y_train, c, settings)
        predicted = np.argmax(_posteriors(model, x_validation), axis=1)
        scores = score(y_validation, predicted)
        trials.append(
            {
                "C": c,
                "validation_ua": scores["unweighted_accuracy"],
                "validation_wa": scores["weighted_accuracy"],
            }
        )
        if best is None or scores["unweighted_accuracy"] > best[0]:
            best = (scores["unweighted_accuracy"], model, c)
    if best is None:
        raise ValueError("the grid of C values is empty")
    return best[1], best[2], trials


def evaluate_utterance_classifier(
    x: np.ndarray,
    labels: np.ndarray,
    speakers: Sequence[str],
    fold: Fold,
    *,
    ids: Sequence[str] | None = None,
    settings: UtteranceSettings | None = None,
    method: str = "egemaps",
    logger: logging.Logger | None = None,
) -> dict:
    """Softmax on utterance vectors for one fold, in `affectrep.protocol.folds.fold_result`
    format plus `chosen_C`, `selection` (validation scores per C) and `settings`.

    x: (n_utterances, n_dims); labels: class index per utterance (-1 unlabelled); speakers:
    per utterance; ids: utterance ids for the predictions (default: positions).
    """
    logger = logger or logging.getLogger(__name__)
    settings = settings or UtteranceSettings()
    x = np.asarray(x, dtype=np.float64)
    if settings.normalization == "speaker":
        x = normalise_per_speaker(x, speakers)
    labels = np.asarray(labels)
    ids = list(ids) if ids is not None else [str(i) for i in range(len(labels))]
    positions = role_positions(speakers, labels, fold)
    train, validation, test = (positions[r] for r in ("train", "validation", "test"))
    model, chosen, trials = select_c(
        x[train], labels[train], x[validation], labels[validation], settings
    )
    counts = {role: {"utterances": int(p.size)} for role, p in positions.items()}
    result = fold_result(
        fold,
        method,
        [ids[p] for p in test],
        labels[test],
        _posteriors(model, x[test]),
        counts,
        chosen_C=chosen,
        selection=trials,
        feature_dims=int(x.shape[1]),
        settings={
            "grid": list(settings.grid),
            "balanced": settings.balanced,
            "max_iter": settings.max_iter,
            "seed": settings.seed,
            "normalization": settings.normalization,
        },
    )
    logger.info(
        "%s %s: C %g, test speaker %s, WA %.2f%%, UA %.2f%%",
        method,
        fold.name,
        chosen,
        fold.test_speaker,
        100 * result["weighted_accuracy"],
        100 * result["unweighted_accuracy"],
    )
    return result
