"""Result tables as TSV (for programs) and Markdown (for people, with an HTML twin for the
Snakemake report: `affectrep.html`), beside the paper's figures."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.html import html_twin, write_html

# Paper, Table 1: held-out validation accuracy on IEMOCAP (%), by our model ids.
PAPER_TABLE1: dict[str, float] = {
    "tied-fft513-c1": 46.23,
    "untied-fft513-c1": 45.76,
    "deep-fft513-c1": 46.35,
    "tied-fft128-c1": 44.14,
    "untied-fft128-c1": 43.45,
    "deep-fft128-c1": 43.25,
    "tied-fft128-c5": 50.39,
    "untied-fft128-c5": 49.081,
    "deep-fft128-c5": 48.76,
    "softmax-logmel40-c1": 44.45,
    "tied-logmel40-c5": 43.69,
    "untied-logmel40-c5": 43.76,
    "deep-logmel40-c5": 44.07,
}


def write_tsv(rows: Sequence[Mapping[str, object]], path: str | Path) -> None:
    """Rows as a tab-separated file with a header, UTF-8 whatever the locale (cells hold ±)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """`mean ± std` of the finite values times `scale`, the std being the sample standard
    deviation (ddof=1), as in Table 2; a single value has no spread to show and is given
    alone; `n/a` if none."""
    finite = [v * scale for v in values if math.isfinite(v)]
    if not finite:
        return "n/a"
    if len(finite) == 1:
        return f"{finite[0]:.{digits}f}"
    return f"{np.mean(finite):.{digits}f} ± {np.std(finite, ddof=1):.{digits}f}"


def markdown_table(rows: Sequence[dict]) -> str:
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(row[k]) for k in header) + " |" for row in rows]
    return "\n".join(lines)


def percent(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{100 * value:.2f}"


def best_models(results: Mapping[str, Mapping]) -> list[str]:
    """The model ids with the best accuracy (WA, as in the paper) at the table's printed
    precision (`percent`), in the order given: rows that read the same are the same to the
    reader, so all of them are best, not whichever happened to be listed first."""
    printed = {model: percent(result["accuracy"]) for model, result in results.items()}
    values = [float(value) for value in printed.values() if value]
    if not values:
        return []
    top = max(values)
    return [model for model, value in printed.items() if value and float(value) == top]


def best_sentence(results: Mapping[str, Mapping]) -> str:
    """Which configuration is best, saying `tie` when several share the best accuracy."""
    best = best_models(results)
    if not best:
        return "No configuration has an accuracy."
    value = percent(results[best[0]]["accuracy"])
    if len(best) == 1:
        return f"Best configuration: {best[0]} (WA {value} %)."
    return f"Best configuration: a tie at WA {value} % between {', '.join(best)}."


def table1_rows(results: dict[str, dict]) -> list[dict]:
    """One row per model id (or `softmax-<spec>-c1` baseline), in the order given; the best
    accuracy (WA, as in the paper) marked with `*` on every row that ties it
    (`best_models`)."""
    best = set(best_models(results))
    rows = []
    for model, result in results.items():
        kind, spec, context = model.rsplit("-", 2)
        paper = PAPER_TABLE1.get(model)
        rows.append(
            {
                "spectrogram": spec,
                "autoencoder": kind,
                "context": context.removeprefix("c"),
                "architecture": "-".join(str(w) for w in result["architecture"]),
                "model": model,
                "accuracy": percent(result["accuracy"]) + (" *" if model in best else ""),
                "unweighted_accuracy": percent(result["unweighted_accuracy"]),
                "paper_iemocap": "" if paper is None else f"{paper:.2f}",
            }
        )
    return rows


def write_table1(
    results: dict[str, dict], tsv: str | Path, markdown: str | Path, description: str
) -> None:
    """Table 1: `description` says which corpus, split and seed produced the numbers. The
    Markdown's HTML twin (`html_twin`) is written beside it."""
    rows = table1_rows(results)
    write_tsv(rows, tsv)
    text = (
        "# Table 1: held-out validation accuracy by spectrogram and autoencoder\n\n"
        f"{description}\n\n"
        "accuracy = utterance-level weighted accuracy (WA, %), unweighted_accuracy = mean "
        "per-class recall (UA, %); `*` marks the best configuration (every one, on a tie). "
        "paper_iemocap = the paper's own Table 1 figures, on IEMOCAP, for reference only. "
        f"{best_sentence(results)}\n\n" + markdown_table(rows) + "\n"
    )
    with atomic_path(markdown) as tmp:
        Path(tmp).write_text(text)
    write_html(text, html_twin(markdown))
