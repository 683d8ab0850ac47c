"""Table 2: leave-one-session-out emotion classification, aggregated over runs, beside the paper.

Each method's runs (`affectrep.protocol.folds.fold_result` dicts: every fold, both validation/test
assignments) become one column; each cell is the mean +- sample standard deviation over runs,
in percent. Rows are the paper's: the per-emotion accuracies (= recall of that emotion on the
test speakers), then WA and UA. The paper's IEMOCAP figures stand beside them for reference;
they come from a different corpus, features and implementation, so they are labelled as such.
"""

from __future__ import annotations

import csv
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
from affectrep.protocol.paired import (
    MEASURES,
    PairedDifference,
    PairedSettings,
    best_method,
    format_difference,
    format_p,
    mean_of,
    paired_difference,
    signed,
    verdict,
)
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
    "blstm": "BLSTM ({codes}) softmax",
    "pooled": "Pooled {codes} codes softmax",
    "masked": "Masked spectrogram model softmax",
}
# The parts of a fused column (`pooled+egemaps`: the vectors side by side, one softmax).
PART_TITLES = {
    "egemaps": "eGeMAPS",
    "compare": "ComParE 2016",
    "blstm": "BLSTM ({codes})",
    "pooled": "pooled {codes} codes",
    "masked": "masked spectrogram model",
}
# What kind of representation each column is, for comparisons between kinds (a learnt
# representation is worth something only if it beats the best hand-crafted column): see
# `method_kind`. The hand-crafted ones are openSMILE's functionals (`affectrep.data.egemaps`);
# the learned ones are trained here, with or without the autoencoder. A column of vectors
# computed elsewhere (`classification.vectors`, any other name) is external: neither, since
# how it was made, and on which speakers, is not known here.
HANDCRAFTED_METHODS: tuple[str, ...] = tuple(FUNCTIONAL_SETS)  # ("egemaps", "compare")
LEARNED_METHODS: tuple[str, ...] = ("pretrained-mlp", "mlp", "blstm", "pooled", "masked")
EXTERNAL_TITLE = "{name} (external vectors) softmax"


def codes_title(encoder_title: str, code_layer: int = 0) -> str:
    """The name of the codes that the pooled and BLSTM columns read: the encoder's (its
    bottleneck), or `<encoder> layer k` (`representations.code_layer`)."""
    return f"{encoder_title} layer {code_layer}" if code_layer else encoder_title


def method_title(method: str, encoder_title: str, code_layer: int = 0) -> str:
    """The column title of a Table 2 method; a fused one (`a+b`) names its parts, and any
    name that is not a built-in method is a column of external vectors. The pooled and BLSTM
    columns name the encoder layer they read when it is not the bottleneck."""
    names = {"encoder": encoder_title, "codes": codes_title(encoder_title, code_layer)}
    if "+" in method:
        parts = [PART_TITLES[part].format(**names) for part in method.split("+")]
        return " + ".join(parts) + " softmax"
    if method not in METHOD_TITLES:
        return EXTERNAL_TITLE.format(name=method)
    return METHOD_TITLES[method].format(**names)


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
    sections: Sequence[str] = (),
) -> None:
    """Write the rows as TSV, as Markdown and as the Markdown's HTML twin (`html_twin`:
    `table2.html` beside `table2.md`); `header_lines` (the caller's caption: corpus, folds,
    seeds) go under the title, `sections` (Markdown lines, e.g. `paired_section`) after the
    table. Every file is written atomically."""
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
            *([*sections, ""] if sections else []),
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


# --- paired comparison with the best hand-crafted column ---------------------------------------

HANDCRAFTED, LEARNED, EXTERNAL = "hand-crafted", "learned", "external"

# The machine-readable paired rows (`table2_paired.tsv`), in this order.
PAIRED_COLUMNS = (
    "method",
    "title",
    "kind",
    "reference",
    "reference_title",
    "measure",
    "n_speakers",
    "method_mean_pct",
    "reference_mean_pct",
    "mean_difference_pp",
    "ci_low_pp",
    "ci_high_pp",
    "confidence",
    "wilcoxon_p",
    "note",
)


def method_kind(method: str, external: Sequence[str] = ()) -> str:
    """`hand-crafted` (`HANDCRAFTED_METHODS`, or a fused column of them only), `external`
    (named by the caller, or any name that is not a built-in method) or `learned` (a fused
    column with any learned part: a learned representation fused with hand-crafted
    features)."""
    parts = method.split("+")
    if all(part in HANDCRAFTED_METHODS for part in parts):
        return HANDCRAFTED
    if method in external or any(part not in METHOD_TITLES for part in parts):
        return EXTERNAL
    return LEARNED


def _number(value: float) -> float | None:
    """JSON has no NaN: None stands for a value that does not exist."""
    return None if math.isnan(value) else float(value)


def paired_summary(
    runs_by_method: Mapping[str, Sequence[Mapping]],
    titles: Mapping[str, str] | None = None,
    *,
    external: Sequence[str] = (),
    settings: PairedSettings | None = None,
) -> dict:
    """Every column against the best hand-crafted column (highest mean UA), paired by test
    speaker (`affectrep.protocol.paired`), as plain JSON: `reference` (None when no
    hand-crafted column has runs), `handcrafted` (the hand-crafted columns that have runs),
    `best_learned` (the learned column with the highest mean UA, or None), `methods` (kind,
    title, mean UA and WA, runs of each column, in the given order), `comparisons` (UA then
    WA of each other column) and the bootstrap `settings`."""
    settings = settings or PairedSettings()
    titles = titles or {}
    kinds = {method: method_kind(method, external) for method in runs_by_method}
    handcrafted = [m for m in runs_by_method if kinds[m] == HANDCRAFTED and runs_by_method[m]]
    learned = [m for m in runs_by_method if kinds[m] == LEARNED and runs_by_method[m]]
    reference = best_method(runs_by_method, handcrafted) if handcrafted else None
    comparisons = []
    if reference is not None:
        for method in runs_by_method:
            if method == reference:
                continue
            for measure in MEASURES:
                found = paired_difference(
                    runs_by_method[method],
                    runs_by_method[reference],
                    measure,
                    method=method,
                    reference=reference,
                    settings=settings,
                )
                comparisons.append(
                    {
                        "method": method,
                        "reference": reference,
                        "measure": measure,
                        "n_speakers": found.n,
                        "mean_difference": _number(found.mean_difference),
                        "ci_low": _number(found.ci_low),
                        "ci_high": _number(found.ci_high),
                        "wilcoxon_p": _number(found.wilcoxon_p),
                        "p_note": found.p_note,
                        "speakers": list(found.speakers),
                        "differences": list(found.differences),
                    }
                )
    return {
        "reference": reference,
        "best_learned": best_method(runs_by_method, learned) if learned else None,
        "handcrafted_methods": list(HANDCRAFTED_METHODS),
        "handcrafted": handcrafted,
        "methods": {
            method: {
                "title": titles.get(method, method),
                "kind": kinds[method],
                "mean_ua": _number(mean_of(runs, "UA")),
                "mean_wa": _number(mean_of(runs, "WA")),
                "runs": len(runs),
            }
            for method, runs in runs_by_method.items()
        },
        "comparisons": comparisons,
        "settings": {
            "resamples": settings.resamples,
            "confidence": settings.confidence,
            "seed": settings.seed,
        },
    }


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _difference_of(entry: Mapping, settings: Mapping) -> PairedDifference:
    """A `paired_summary` comparison back as a `PairedDifference` (for formatting)."""
    return PairedDifference(
        measure=entry["measure"],
        method=entry["method"],
        reference=entry["reference"],
        speakers=tuple(entry["speakers"]),
        differences=tuple(entry["differences"]),
        mean_difference=_nan(entry["mean_difference"]),
        ci_low=_nan(entry["ci_low"]),
        ci_high=_nan(entry["ci_high"]),
        wilcoxon_p=_nan(entry["wilcoxon_p"]),
        p_note=entry["p_note"],
        settings=PairedSettings(**settings),
    )


def _fixed(value: float | None, scale: float = 100.0, digits: int = 4) -> str:
    return "" if value is None else f"{scale * value:.{digits}f}"


def paired_rows(summary: Mapping) -> list[dict[str, str]]:
    """The rows of `table2_paired.tsv` (`PAIRED_COLUMNS`): one per column and measure, in
    percent and percentage points (column minus reference); none without a reference."""
    methods = summary["methods"]
    rows = []
    for entry in summary["comparisons"]:
        method, reference = entry["method"], entry["reference"]
        mean_key = "mean_ua" if entry["measure"] == "UA" else "mean_wa"
        p = entry["wilcoxon_p"]
        rows.append(
            {
                "method": method,
                "title": methods[method]["title"],
                "kind": methods[method]["kind"],
                "reference": reference,
                "reference_title": methods[reference]["title"],
                "measure": entry["measure"],
                "n_speakers": str(entry["n_speakers"]),
                "method_mean_pct": _fixed(methods[method][mean_key]),
                "reference_mean_pct": _fixed(methods[reference][mean_key]),
                "mean_difference_pp": _fixed(entry["mean_difference"]),
                "ci_low_pp": _fixed(entry["ci_low"]),
                "ci_high_pp": _fixed(entry["ci_high"]),
                "confidence": str(summary["settings"]["confidence"]),
                "wilcoxon_p": "" if p is None else f"{p:.10g}",
                "note": entry["p_note"],
            }
        )
    return rows


def write_paired_tsv(summary: Mapping, path: str | Path) -> None:
    """`paired_rows` as TSV, with its header even when there is no row (no reference)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(PAIRED_COLUMNS), delimiter="\t", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(paired_rows(summary))


def paired_section(summary: Mapping) -> list[str]:
    """Table 2's paired section (Markdown lines): for each other column "ΔUA vs <best
    hand-crafted>: mean [95 % CI], Wilcoxon p" and the same for WA; or one line saying
    why there is none."""
    methods = summary["methods"]
    reference = summary["reference"]
    settings = summary["settings"]
    if reference is None:
        names = ", ".join(f"`{m}`" for m in summary["handcrafted_methods"])
        return [
            "## Paired comparison with the best hand-crafted column",
            "",
            f"No hand-crafted column ({names}) is configured: no paired comparison.",
        ]
    title = methods[reference]["title"]
    entries = list(summary["comparisons"])
    n = max((e["n_speakers"] for e in entries), default=0)
    level = f"{100 * settings['confidence']:g} %"
    handcrafted = [methods[m]["title"] for m in summary["handcrafted"]]
    why = (
        f"has the highest mean UA of the hand-crafted columns ({', '.join(handcrafted)})"
        if len(handcrafted) > 1
        else "is the only hand-crafted column"
    )
    lines = [
        f"## Paired comparison with {title}, the best hand-crafted column",
        "",
        f"{title} {why}. Each other column minus "
        f"{title}, paired by test speaker ({n} speakers): mean difference in percentage "
        f"points [{level} percentile bootstrap interval, {settings['resamples']:,} resamples "
        f"of the test speakers, seed {settings['seed']}], and the two-sided Wilcoxon "
        "signed-rank p.",
        "",
    ]
    if not entries:
        return [*lines, "No other column to compare."]
    rows = []
    for method in methods:
        if method == reference:
            continue
        row = {"column": methods[method]["title"], "kind": methods[method]["kind"]}
        for entry in entries:
            if entry["method"] == method:
                row[f"Δ{entry['measure']} vs {title}"] = format_difference(
                    _difference_of(entry, settings)
                )
        rows.append(row)
    return [*lines, markdown_table(rows)]


def learned_versus_handcrafted(summary: Mapping, corpus: str) -> str:
    """One sentence: does the best learned column beat the best hand-crafted one here? It
    `beats` only if the bootstrap interval of its UA difference lies above zero, `is below`
    if it lies below, else `is not distinguishable from` (`affectrep.protocol.paired.verdict`).
    Without a hand-crafted or a learned column, the sentence says that instead."""
    methods = summary["methods"]
    reference, best = summary["reference"], summary["best_learned"]
    if reference is None:
        names = ", ".join(f"`{m}`" for m in summary["handcrafted_methods"])
        return (
            f"No hand-crafted column ({names}) is configured in Table 2, so corpus `{corpus}` "
            "does not say whether learned representations beat hand-crafted features."
        )
    if best is None:
        return (
            f"No learned column is configured in Table 2, so corpus `{corpus}` does not say "
            "whether learned representations beat hand-crafted features."
        )
    entry = next(e for e in summary["comparisons"] if e["method"] == best and e["measure"] == "UA")
    found = _difference_of(entry, summary["settings"])
    level = f"{100 * summary['settings']['confidence']:g} %"
    return (
        f"On corpus `{corpus}` the best learned column, {methods[best]['title']} (mean UA "
        f"{percent_of(methods[best]['mean_ua'])} %), {verdict(found.ci_low, found.ci_high)} "
        f"the best hand-crafted column, {methods[reference]['title']} (mean UA "
        f"{percent_of(methods[reference]['mean_ua'])} %): ΔUA {signed(found.mean_difference)} "
        f"percentage points, {level} bootstrap interval [{signed(found.ci_low)}, "
        f"{signed(found.ci_high)}] over {found.n} paired test speakers "
        f"(Wilcoxon {format_p(found.wilcoxon_p, found.p_note)})."
    )


def percent_of(value: float | None) -> str:
    """`52.10` for 0.521; `n/a` for a value that does not exist."""
    return "n/a" if value is None else f"{100 * value:.2f}"
