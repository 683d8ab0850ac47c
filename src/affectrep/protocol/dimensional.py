"""Activation and valence regression from utterance representations, leave one session out.

The same runs as Table 2 (`affectrep.protocol.folds`): per held-out session one speaker
validates and the other is tested, then the other way round. Here every utterance with
annotator ratings counts, not only the four classes. A ridge regression (imputer, scaler,
ridge) is fitted per dimension on the training speakers; its strength alpha is the one of
the grid with the best concordance correlation coefficient (CCC) on the validation speaker;
the test speaker gives CCC and Pearson's r. Each cell of the table is a mean ± sample standard
deviation (n - 1 in the denominator) over the runs.

CCC (Lin 1989) = 2 cov(y, p) / (var(y) + var(p) + (mean(y) - mean(p))^2): it is 1 only when
the predictions equal the ratings, so it punishes a regression that correlates but is off in
scale or offset (which Pearson's r forgives); it is the usual measure of dimensional affect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import pearsonr

from affectrep.atomic import atomic_path
from affectrep.data.manifest import Utterance
from affectrep.defaults import default
from affectrep.protocol.folds import Fold
from affectrep.protocol.heads import fit_dimension
from affectrep.protocol.tables import spread

DIMENSIONS = ("activation", "valence")


def ccc(truth: ArrayLike, predicted: ArrayLike) -> float:
    """Concordance correlation coefficient of two equally long sequences."""
    y = np.asarray(truth, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.size < 2:
        return math.nan
    covariance = np.mean((y - y.mean()) * (p - p.mean()))
    denominator = y.var() + p.var() + (y.mean() - p.mean()) ** 2
    return float(2 * covariance / denominator) if denominator > 0 else math.nan


def pearson(truth: ArrayLike, predicted: ArrayLike) -> float:
    """Pearson's r (nan when either side is constant or too short)."""
    y = np.asarray(truth, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if y.size < 2 or np.ptp(y) == 0 or np.ptp(p) == 0:
        return math.nan
    return float(pearsonr(y, p).statistic)


@dataclass(frozen=True)
class RegressionSettings:
    """The ridge strengths tried on the validation speaker (default: the config schema's
    `use.regression_alphas`)."""

    alphas: tuple[float, ...] = tuple(default("use.regression_alphas"))


def rated(rows: Sequence[Utterance]) -> dict[str, np.ndarray]:
    """id -> (activation, valence) for every utterance rated on both."""
    out = {}
    for row in rows:
        values = (row.activation, row.valence)
        if all(v is not None and math.isfinite(v) for v in values):
            out[row.id] = np.array(values, dtype=np.float64)
    return out


def regression_fold(
    x: np.ndarray,
    targets: np.ndarray,
    speakers: Sequence[str],
    fold: Fold,
    settings: RegressionSettings = RegressionSettings(),  # noqa: B008 - frozen
) -> dict:
    """One run: per dimension the chosen alpha, validation CCC, test CCC and r, and the test
    predictions. x: (n, dims); targets: (n, 2) activation, valence; speakers: per row."""
    roles = np.array([fold.role_of(s) or "" for s in speakers])
    train, validation, test = (np.flatnonzero(roles == r) for r in ("train", "validation", "test"))
    if min(train.size, validation.size, test.size) < 2:
        raise ValueError(
            f"{fold.name}: too few rated utterances for regression "
            f"(train {train.size}, validation {validation.size}, test {test.size})"
        )
    result: dict = {
        **fold.as_dict(),
        "n_train": int(train.size),
        "n_validation": int(validation.size),
        "n_test": int(test.size),
    }
    for column, dimension in enumerate(DIMENSIONS):
        y = targets[:, column]
        best = None
        for alpha in sorted(settings.alphas):
            model = fit_dimension(x[train], y[train], alpha)
            value = ccc(y[validation], model.predict(x[validation]))
            if best is None or value > best[0]:
                best = (value, alpha, model)
        assert best is not None
        predicted = best[2].predict(x[test])
        result[dimension] = {
            "alpha": best[1],
            "validation_ccc": best[0],
            "ccc": ccc(y[test], predicted),
            "pearson": pearson(y[test], predicted),
            "truth": y[test].tolist(),
            "predicted": predicted.tolist(),
        }
    return result


def evaluate_source(
    x: np.ndarray,
    ids: Sequence[str],
    rows: Sequence[Utterance],
    folds: Sequence[Fold],
    settings: RegressionSettings = RegressionSettings(),  # noqa: B008 - frozen
) -> list[dict]:
    """Every fold's run of one representation (rows of `x` are the utterances `ids`)."""
    ratings = rated(rows)
    speaker = {row.id: row.speaker for row in rows}
    keep = [i for i, uid in enumerate(ids) if uid in ratings]
    targets = np.array([ratings[ids[i]] for i in keep]).reshape(-1, 2)
    speakers = [speaker[ids[i]] for i in keep]
    return [
        regression_fold(np.asarray(x, dtype=np.float64)[keep], targets, speakers, fold, settings)
        for fold in folds
    ]


def table_rows(runs: Mapping[str, list[dict]], titles: Mapping[str, str]) -> list[dict]:
    rows = []
    for source, source_runs in runs.items():
        row = {"representation": titles.get(source, source)}
        for dimension in DIMENSIONS:
            row[f"{dimension} CCC"] = spread([r[dimension]["ccc"] for r in source_runs])
            row[f"{dimension} r"] = spread([r[dimension]["pearson"] for r in source_runs])
        row["runs"] = str(len(source_runs))
        rows.append(row)
    return rows


def plot_predictions(
    runs: Mapping[str, list[dict]], titles: Mapping[str, str], path: str | Path
) -> None:
    """Predicted against rated activation and valence, every test utterance of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from affectrep.protocol.figures import save_figure

    figure, axes = plt.subplots(
        len(DIMENSIONS), len(runs), squeeze=False, figsize=(3.2 * len(runs), 6.0)
    )
    for column, (source, source_runs) in enumerate(runs.items()):
        for row, dimension in enumerate(DIMENSIONS):
            truth = np.concatenate([r[dimension]["truth"] for r in source_runs])
            predicted = np.concatenate([r[dimension]["predicted"] for r in source_runs])
            axis = axes[row, column]
            axis.scatter(truth, predicted, s=5, alpha=0.4)
            low, high = float(np.min(truth)), float(np.max(truth))
            axis.plot([low, high], [low, high], color="grey", linewidth=0.8)
            axis.set_title(
                f"{titles.get(source, source)}\n{dimension}: CCC {ccc(truth, predicted):.2f}",
                fontsize=8,
            )
            axis.set_xlabel("rated", fontsize=8)
            axis.set_ylabel("predicted", fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


def placeholder_figure(path: str | Path, message: str) -> None:
    """A 1 x 1 white PNG at `path` with `message` in its `Description` text chunk: the rule
    declares the figure, so a corpus without ratings must still write a file, but a picture
    of a sentence would pass for a result. The report leaves it out and says why."""
    from matplotlib.image import imsave

    with atomic_path(path) as tmp:
        imsave(tmp, np.ones((1, 1, 3)), format="png", metadata={"Description": message.strip()})
