"""Cross-corpus transfer: pretrain and train on one corpus, test on another.

Cell (A, B) of the matrix: the autoencoder is pretrained (without labels) on corpus A's
audio, the emotion softmax on pooled codes is trained on A's labelled utterances, and both
are applied to corpus B's utterances. Only the classes both corpora have count: the softmax
is trained on A's utterances of those classes and B's are scored among them. The diagonal
(A = B) is the leave-one-session-out estimate inside A (the same heads as the exported
bundle's model card); off the diagonal, the softmax is trained on all of A with the median
strength C that A's folds chose on their validation speakers, and B is never used to choose
anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from affectrep.data.manifest import Utterance
from affectrep.protocol.folds import score
from affectrep.protocol.heads import fit_emotion, loso_emotion_runs, median_choice


def shared_classes(label_sets: Sequence[np.ndarray]) -> list[int]:
    """Class indices labelled in every corpus."""
    present = [set(labels[labels >= 0].tolist()) for labels in label_sets]
    return sorted(set.intersection(*present)) if present else []


def within_corpus(
    x: np.ndarray,
    ids: Sequence[str],
    rows: Sequence[Utterance],
    settings: Mapping,
    logger: logging.Logger | None = None,
) -> dict:
    """Leave-one-session-out WA/UA of the pooled-code softmax, and the median chosen C."""
    runs = loso_emotion_runs(
        x,
        ids,
        rows,
        c_grid=settings["c_grid"],
        balanced=settings["class_weights"],
        seed=settings["seed"],
        logger=logger,
    )
    return {
        "C": median_choice([r["chosen_C"] for r in runs]),
        "weighted_accuracy": float(np.mean([r["weighted_accuracy"] for r in runs])),
        "unweighted_accuracy": float(np.mean([r["unweighted_accuracy"] for r in runs])),
        "runs": len(runs),
    }


def transfer(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: Sequence[int],
    c: float,
    settings: Mapping,
) -> dict:
    """Train on one corpus, score the other, both restricted to `classes`."""
    keep_train = np.isin(y_train, classes)
    keep_test = np.isin(y_test, classes)
    model = fit_emotion(
        x_train[keep_train],
        y_train[keep_train],
        c,
        balanced=settings["class_weights"],
        seed=settings["seed"],
    )
    predicted = model.predict(x_test[keep_test])
    scores = score(y_test[keep_test], predicted)
    return {
        "weighted_accuracy": scores["weighted_accuracy"],
        "unweighted_accuracy": scores["unweighted_accuracy"],
        "n_train": int(keep_train.sum()),
        "n_test": int(keep_test.sum()),
        "confusion": scores["confusion"],
        "C": c,
    }


def matrix_cells(
    data: Mapping[tuple[str, str], tuple[np.ndarray, Sequence[str], np.ndarray]],
    rows: Mapping[str, Sequence[Utterance]],
    corpora: Sequence[str],
    settings: Mapping,
    combined: str | None = None,
    logger: logging.Logger | None = None,
) -> tuple[list[int], list[dict]]:
    """The shared classes and every cell of the matrix. data[(A, B)]: B's pooled codes under
    A's encoder, their ids and labels; rows[B]: B's manifest rows. With `combined` (the name
    of the encoder pretrained on all corpora at once), one more row: pretrained on all of
    them, softmax trained and tested within each column's corpus (leave one session out), to
    compare with the diagonal."""
    logger = logger or logging.getLogger(__name__)
    classes = shared_classes([data[(c, c)][2] for c in corpora])
    if len(classes) < 2:
        raise ValueError(f"corpora {list(corpora)} share fewer than two emotion classes")
    cells = []
    for a in corpora:
        x_a, ids_a, y_a = data[(a, a)]
        inside = within_corpus(x_a, ids_a, rows[a], settings, logger)
        for b in corpora:
            if a == b:
                labelled = int((y_a >= 0).sum())
                cell = {**inside, "n_train": labelled, "n_test": labelled, "protocol": "LOSO"}
            else:
                x_b, _, y_b = data[(a, b)]
                cell = {
                    **transfer(x_a, y_a, x_b, y_b, classes, inside["C"], settings),
                    "protocol": "train all of A, test all of B",
                }
            cell.update({"train": a, "test": b})
            cells.append(cell)
            logger.info(
                "%s -> %s: WA %.2f%%, UA %.2f%%",
                a,
                b,
                100 * cell["weighted_accuracy"],
                100 * cell["unweighted_accuracy"],
            )
    if combined is not None:
        for b in corpora:
            x_b, ids_b, y_b = data[(combined, b)]
            cell = within_corpus(x_b, ids_b, rows[b], settings, logger)
            labelled = int((y_b >= 0).sum())
            cell.update(
                {
                    "n_train": labelled,
                    "n_test": labelled,
                    "train": combined,
                    "test": b,
                    "protocol": "pretrained on all, LOSO within B",
                }
            )
            cells.append(cell)
            logger.info(
                "pretrained on all, LOSO in %s: WA %.2f%%, UA %.2f%%",
                b,
                100 * cell["weighted_accuracy"],
                100 * cell["unweighted_accuracy"],
            )
    return classes, cells


def cell_text(cells: Sequence[dict], a: str, b: str) -> str:
    """Cell (A, B) as the table shows it: `UA (WA)` in percent."""
    found = next(c for c in cells if c["train"] == a and c["test"] == b)
    return f"{100 * found['unweighted_accuracy']:.1f} ({100 * found['weighted_accuracy']:.1f})"


def plot_matrix(
    cells: Sequence[dict],
    trained: Sequence[str],
    corpora: Sequence[str],
    title: str,
    path: str | Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from affectrep.protocol.figures import save_figure

    values = (
        np.array(
            [
                [
                    next(
                        c["unweighted_accuracy"]
                        for c in cells
                        if c["train"] == a and c["test"] == b
                    )
                    for b in corpora
                ]
                for a in trained
            ]
        )
        * 100
    )
    size = 1.4 + 1.1 * len(corpora)
    figure, axis = plt.subplots(figsize=(size + 1.2, size))
    image = axis.imshow(values, cmap="viridis", vmin=0, vmax=100)
    for i in range(len(trained)):
        for j in range(len(corpora)):
            axis.text(
                j,
                i,
                f"{values[i, j]:.1f}",
                ha="center",
                va="center",
                color="white" if values[i, j] < 60 else "black",
            )
    axis.set_xticks(range(len(corpora)), [f"test {c}" for c in corpora])
    axis.set_yticks(range(len(trained)), [f"train {c}" for c in trained])
    axis.set_title(f"Cross-corpus UA %, {title}", fontsize=9)
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
