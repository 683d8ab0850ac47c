"""Table 2: leave-one-session-out emotion classification, aggregated over runs, beside the paper.

Each method's runs (`affectrep.protocol.folds.fold_result` dicts: every fold, both validation/test
assignments) become one column; each cell is the mean +- sample standard deviation over runs,
in percent. Rows are the paper's: the per-emotion accuracies (= recall of that emotion on the
test speakers), then WA and UA. The paper's IEMOCAP figures stand beside them for reference;
they come from a different corpus, features and implementation, so they are labelled as such.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from affectrep.atomic import atomic_path
from affectrep.data.egemaps import FUNCTIONAL_SETS
from affectrep.data.emotions import CLASSES
from affectrep.html import html_twin, write_html
from affectrep.protocol.tables import markdown_table, write_tsv

# Table 2's rows, in the paper's order, and where each one comes from in a fold result.
ROWS: tuple[tuple[str, str], ...] = (
    ("Happy", "happiness"),
    ("Angry", "anger"),
    ("Sad", "sadness"),
    ("Neutral", "neutral"),
    ("WA", "weighted_accuracy"),
    ("UA", "unweighted_accuracy"),
)

# The paper's Table 2 (IEMOCAP, %), and the DNN-ELM figures it quotes from Lee & Tashev (2015)
# for Han et al. (2014), which give only WA and UA.
PAPER_TABLE2: dict[str, dict[str, float]] = {
    "TIED-128-5": {
        "Happy": 36.04,
        "Angry": 44.95,
        "Sad": 73.80,
        "Neutral": 41.59,
        "WA": 48.10,
        "UA": 49.09,
    },
    "MLP": {
        "Happy": 41.56,
        "Angry": 24.03,
        "Sad": 66.55,
        "Neutral": 48.58,
        "WA": 46.75,
        "UA": 45.18,
    },
    "COVAREP": {
        "Happy": 31.03,
        "Angry": 32.31,
        "Sad": 50.17,
        "Neutral": 61.48,
        "WA": 44.67,
        "UA": 43.74,
    },
    "DNN-ELM (Han et al.)": {"WA": 57.91, "UA": 52.13},
}
PAPER_PREFIX = "paper IEMOCAP: "

# The column titles of our methods; the pretrained MLP and the BLSTM name their encoder.
METHOD_TITLES = {
    "pretrained-mlp": "Pretrained MLP ({encoder})",
    "mlp": "MLP (no pretraining)",
    "egemaps": "eGeMAPS softmax",
    "compare": "ComParE 2016 softmax",
    "blstm": "BLSTM ({encoder}) softmax",
}
# What kind of representation each column is, for comparisons between kinds (a learnt
# representation is worth something only if it beats the best hand-crafted column). The
# hand-crafted ones are openSMILE's functionals (`affectrep.data.egemaps`); the learned ones
# are trained here, with or without the autoencoder. A column of vectors computed elsewhere
# (`classification.vectors`, any other name) is `external`: neither, since how it was made,
# and on which speakers, is not known here.
HANDCRAFTED_METHODS: tuple[str, ...] = tuple(FUNCTIONAL_SETS)  # ("egemaps", "compare")
LEARNED_METHODS: tuple[str, ...] = ("pretrained-mlp", "mlp", "blstm")
EXTERNAL_TITLE = "{name} (external vectors) softmax"


def method_kind(method: str) -> str:
    """`handcrafted`, `learned` or `external` (a column of `classification.vectors`)."""
    if method in HANDCRAFTED_METHODS:
        return "handcrafted"
    if method in LEARNED_METHODS:
        return "learned"
    return "external"


def method_title(method: str, encoder_title: str) -> str:
    """The column title of a method; any name that is not a built-in method is a column of
    external vectors."""
    if method not in METHOD_TITLES:
        return EXTERNAL_TITLE.format(name=method)
    return METHOD_TITLES[method].format(encoder=encoder_title)


def run_values(results: Sequence[Mapping], row: str) -> list[float]:
    """The value of Table 2 row `row` in each run, in [0, 1]; runs whose test speaker has no
    utterance of that emotion (recall undefined) are left out."""
    source = dict(ROWS)[row]
    values = []
    for result in results:
        value = result["per_class_recall"].get(source) if source in CLASSES else result[source]
        if value is not None and not math.isnan(value):
            values.append(float(value))
    return values


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (0 for a single run) and count; NaNs when empty."""
    if not values:
        return math.nan, math.nan, 0
    array = np.asarray(values, dtype=np.float64)
    std = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), std, int(array.size)


def format_cell(mean: float, std: float, n: int) -> str:
    """`48.10 ± 2.31` in percent; a single run has no spread to show, no run gives ``""``."""
    if n == 0:
        return ""
    if n == 1:
        return f"{100 * mean:.2f}"
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def aggregate(
    results_by_method: Mapping[str, Sequence[Mapping]],
    paper: Mapping[str, Mapping[str, float]] = PAPER_TABLE2,
) -> list[dict[str, str]]:
    """One row per Table 2 row: `measure`, then a `mean ± std` cell per method (in the order
    given), then the paper's figures (`paper IEMOCAP: <column>`; empty where the paper gives
    none)."""
    rows = []
    for name, _ in ROWS:
        row = {"measure": name}
        for method, results in results_by_method.items():
            row[method] = format_cell(*mean_std(run_values(results, name)))
        for column, figures in paper.items():
            value = figures.get(name)
            row[PAPER_PREFIX + column] = "" if value is None else f"{value:.2f}"
        rows.append(row)
    return rows


def write_table2(
    rows: Sequence[Mapping[str, str]],
    tsv: str | Path,
    markdown: str | Path,
    header_lines: Sequence[str],
) -> None:
    """Write the rows as TSV, as Markdown and as the Markdown's HTML twin (`html_twin`:
    `table2.html` beside `table2.md`); `header_lines` (the caller's caption: corpus, folds,
    seeds) go under the title. Every file is written atomically."""
    write_tsv(rows, tsv)
    text = "\n".join(
        [
            "# Table 2: emotion classification accuracy (utterance level, leave-one-session-out)",
            "",
            *header_lines,
            "",
            "Happy/Angry/Sad/Neutral = recall of that emotion on the test speakers; WA = weighted "
            "accuracy (fraction of utterances correct), UA = unweighted accuracy (mean per-class "
            "recall); each cell is the mean ± sample standard deviation over runs (every fold, "
            "both validation/test speaker assignments), in %. Columns `" + PAPER_PREFIX + "...` "
            "are the paper's own Table 2 figures on IEMOCAP (DNN-ELM: as quoted by the paper from "
            "Lee & Tashev 2015, WA and UA only), for reference only.",
            "",
            markdown_table([dict(row) for row in rows]),
            "",
        ]
    )
    with atomic_path(markdown) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    write_html(text, html_twin(markdown))


def pooled_confusion(results: Sequence[Mapping]) -> np.ndarray:
    """The confusion counts of all runs added up (every test utterance once)."""
    return np.sum([np.asarray(r["confusion"], dtype=np.int64) for r in results], axis=0)


def plot_confusion(
    matrix: np.ndarray, classes: Sequence[str], title: str, path: str | Path
) -> None:
    """A PNG of the confusion matrix: colour = recall (each row divided by its total), each
    cell annotated with that percentage and the count."""
    counts = np.asarray(matrix, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    figure = Figure(figsize=(1.3 * len(classes) + 2, 1.2 * len(classes) + 1.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(recall, vmin=0.0, vmax=1.0, cmap="Blues")
    figure.colorbar(image, ax=axes, label="recall (row-normalised)")
    ticks = np.arange(len(classes))
    axes.set_xticks(ticks, labels=list(classes), rotation=30, ha="right")
    axes.set_yticks(ticks, labels=list(classes))
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if recall[i, j] > 0.6 else "black"
            axes.text(
                j,
                i,
                f"{100 * recall[i, j]:.0f}%\n({int(counts[i, j])})",
                ha="center",
                va="center",
                color=colour,
                fontsize=9,
            )
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, format="png")
