"""t-SNE pictures of learnt representations, laid out like the paper's Figures 1 and 2.

Each configuration gets three panels of the same 2-D embedding: points coloured by emotion
(the paper's colours: sadness yellow, neutral red, happiness blue, anger green), by
activation and by valence (blue = lowest, red = highest). The composite is a 3 x 3 grid:
rows emotion/activation/valence, columns DEEP-MEL-5, TIED-128-5, TIED-513-1, panels lettered
(a)..(i) row by row as in the paper. A corpus without activation or valence ratings (EmoDB)
gets no panels for them: a grey row with a colour bar would show nothing but look like data.

Figures are built with `matplotlib.figure.Figure` directly (no pyplot): no global state, no
display needed, nothing kept alive after saving. Pictures alone are not evidence of
separation; `affectrep.protocol.separation` gives the numbers that go with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from affectrep.atomic import atomic_path
from affectrep.data.emotions import CLASSES
from affectrep.model_id import ModelId

# The paper's figure captions: "Yellow - Sadness; Red - Neutral; Blue - Happiness; Green -
# Angry". A dark yellow stays visible on white paper.
EMOTION_COLOURS: dict[str, str] = {
    "sadness": "#e8c400",
    "neutral": "#d62728",
    "happiness": "#1f5fbf",
    "anger": "#2ca02c",
}
# Blue for the lowest, red for the highest value, as the captions say; a rainbow rather than
# a diverging map with a white middle, so that middling values stay visible as small dots.
INTENSITY_CMAP = "turbo"
MISSING_COLOUR = "#d0d0d0"
ROWS = ("Emotion", "Activation", "Valence")
DPI = 150

# One activation (or valence) rating per point, None or NaN where there is none.
Ratings = Sequence[float | None] | np.ndarray
# (embedding, emotions, activation, valence) of one configuration.
EmbeddingSet = tuple[np.ndarray, Sequence[str], Ratings, Ratings]


def model_title(model_id: str) -> str:
    """The paper's name of a configuration: `tied-fft128-c5` -> `TIED-128-5`,
    `deep-logmel40-c5` -> `DEEP-MEL-5`. Anything else is returned unchanged."""
    try:
        return ModelId.parse(model_id).title
    except ValueError:
        return model_id


# --- points and embedding ------------------------------------------------------------------


def stratified_subsample(labels: Sequence[str], n: int, seed: int) -> np.ndarray:
    """Sorted indices of at most `n` points with one of the four emotions, as balanced as the
    class sizes allow (a small class gives all it has, the others share the rest);
    deterministic for a given `seed`. A t-SNE of a few thousand points shows the classes
    without the majority class drowning the others."""
    rng = np.random.default_rng(seed)
    names = np.asarray(labels)
    members = [np.flatnonzero(names == name) for name in CLASSES]
    quotas = _balanced_quotas([len(m) for m in members], n, rng)
    chosen = [rng.choice(m, q, replace=False) for m, q in zip(members, quotas, strict=True)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _balanced_quotas(sizes: Sequence[int], n: int, rng: np.random.Generator) -> list[int]:
    """Water-filling: small classes give all they have, the rest share equally, and the
    remainder goes one point each to randomly chosen classes that have points to spare."""
    quotas = [0] * len(sizes)
    remaining = min(max(n, 0), sum(sizes))
    order = sorted(range(len(sizes)), key=lambda k: sizes[k])
    for position, k in enumerate(order):
        open_classes = order[position:]
        if sizes[k] * len(open_classes) <= remaining:
            quotas[k] = sizes[k]
            remaining -= sizes[k]
            continue
        share, extra = divmod(remaining, len(open_classes))
        for j in open_classes:
            quotas[j] = share
        for j in rng.permutation(open_classes)[:extra]:
            quotas[j] += 1
        break
    return quotas


def tsne_embedding(
    points: np.ndarray, seed: int, perplexity: float = 30.0, *, n_jobs: int = 1
) -> np.ndarray:
    """2-D openTSNE embedding, (n, 2) float64; the same input and seed give the same output.

    The perplexity is lowered to (n - 1) / 3 for small inputs (t-SNE needs 3 * perplexity
    neighbours); fewer than 4 points are placed on a line, as t-SNE cannot run.
    """
    from openTSNE import TSNE  # imported here: it is slow to import and only needed here

    points = np.asarray(points, dtype=np.float64)
    n = points.shape[0]
    if n < 4:
        return np.column_stack([np.arange(n, dtype=np.float64), np.zeros(n)])
    perplexity = min(perplexity, (n - 1) / 3.0)
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        random_state=seed,
        n_jobs=n_jobs,
        negative_gradient_method="bh" if n < 10000 else "fft",
        verbose=False,
    )
    return np.asarray(tsne.fit(points), dtype=np.float64)


# --- panels --------------------------------------------------------------------------------


def _marker_size(n: int) -> float:
    """Big dots for a few hundred utterances, fine ones for tens of thousands of frames."""
    return float(np.clip(6000.0 / max(n, 1), 0.5, 25.0))


def _draw_order(n: int) -> np.ndarray:
    """A fixed random drawing order, so that no class is always painted on top."""
    return np.random.default_rng(0).permutation(n)


def _bare(ax: Axes, title: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=11)


def _emotion_panel(ax: Axes, embedding: np.ndarray, emotions: Sequence[str], title: str) -> None:
    order = _draw_order(len(emotions))
    labels = np.asarray(emotions)[order]
    colours = [EMOTION_COLOURS.get(e, MISSING_COLOUR) for e in labels]
    ax.scatter(
        embedding[order, 0],
        embedding[order, 1],
        c=colours,
        s=_marker_size(len(order)),
        linewidths=0,
        alpha=0.8,
        rasterized=True,
    )
    _bare(ax, title)


def _values(values: Ratings) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _intensity_panel(
    ax: Axes, embedding: np.ndarray, ratings: Ratings, title: str, limits: tuple[float, float]
) -> PathCollection:
    """Points without a value in grey underneath; returns the mappable for a colour bar."""
    values = _values(ratings)
    known = np.isfinite(values)
    size = _marker_size(len(values))
    ax.scatter(
        embedding[~known, 0],
        embedding[~known, 1],
        c=MISSING_COLOUR,
        s=size,
        linewidths=0,
        rasterized=True,
    )
    order = _draw_order(len(values))
    order = order[known[order]]
    mappable = ax.scatter(
        embedding[order, 0],
        embedding[order, 1],
        c=values[order],
        cmap=INTENSITY_CMAP,
        vmin=limits[0],
        vmax=limits[1],
        s=size,
        linewidths=0,
        alpha=0.8,
        rasterized=True,
    )
    _bare(ax, title)
    return mappable


def _limits(*series: Ratings) -> tuple[float, float]:
    """One colour scale for a whole row, so that colours compare across configurations."""
    values = np.concatenate([_values(s) for s in series]) if series else np.array([])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return (low, high) if high > low else (low - 0.5, high + 0.5)


def _emotion_legend(ax: Axes) -> None:
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=7,
            markerfacecolor=EMOTION_COLOURS[name],
            markeredgewidth=0,
            label=name.capitalize(),
        )
        for name in CLASSES
    ]
    ax.legend(
        handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False, fontsize=10
    )


def has_values(*series: Ratings) -> bool:
    """Whether any point of any series has a rating. A corpus without activation or valence
    ratings (EmoDB) would otherwise get a row of grey panels with a meaningless colour bar."""
    return any(bool(np.isfinite(_values(s)).any()) for s in series)


def _missing_note(names: Sequence[str]) -> str:
    """` (no activation or valence ratings in this corpus)`, or `` when nothing is missing."""
    if not names:
        return ""
    return f" (no {' or '.join(name.lower() for name in names)} ratings in this corpus)"


def plot_panels(
    embedding: np.ndarray,
    emotions: Sequence[str],
    activation: Ratings,
    valence: Ratings,
    title: str,
) -> Figure:
    """One configuration: emotion, activation and valence panels side by side; a dimension
    without any rating gets no panel (the title says which are missing)."""
    embedding = np.asarray(embedding)
    rated = [
        (name, values)
        for name, values in (("Activation", activation), ("Valence", valence))
        if has_values(values)
    ]
    fig = Figure(figsize=(13 * (1 + len(rated)) / 3, 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, 1 + len(rated)))
    _emotion_panel(axes[0], embedding, emotions, f"Emotion : {title}")
    _emotion_legend(axes[0])
    for ax, (name, values) in zip(axes[1:], rated, strict=True):
        mappable = _intensity_panel(ax, embedding, values, f"{name} : {title}", _limits(values))
        fig.colorbar(mappable, ax=ax, shrink=0.8, label=name.lower())
    missing = [name for name in ROWS[1:] if name not in dict(rated)]
    fig.suptitle(title + _missing_note(missing), fontsize=13)
    return fig


def plot_composite(embeddings: Mapping[str, EmbeddingSet], level_title: str) -> Figure:
    """The paper's 3 x N grid: rows emotion/activation/valence, one column per configuration
    (keys: model ids or titles), panels lettered row by row, one colour bar per row. A
    dimension that no configuration has a rating for gets no row (on EmoDB: the emotion row
    alone), and the title says which are missing."""
    titles = [model_title(key) for key in embeddings]
    sets = list(embeddings.values())
    n_cols = len(sets)
    dimensions: list[tuple[str, list[Ratings]]] = []
    for name, series in (
        ("Activation", [activation for _, _, activation, _ in sets]),
        ("Valence", [valence for _, _, _, valence in sets]),
    ):
        if has_values(*series):
            dimensions.append((name, series))
    n_rows = 1 + len(dimensions)
    fig = Figure(figsize=(4.2 * n_cols + 1.6, 4 * n_rows), layout="constrained")
    axes = np.asarray(fig.subplots(n_rows, n_cols, squeeze=False))
    letters = "abcdefghijklmnopqrstuvwxyz"
    for col, (title, (emb, emotions, _, _)) in enumerate(zip(titles, sets, strict=True)):
        _emotion_panel(
            axes[0, col], np.asarray(emb), emotions, f"({letters[col]}) Emotion : {title}"
        )
    _emotion_legend(axes[0, -1])
    for row, (name, series) in enumerate(dimensions, start=1):
        limits = _limits(*series)
        mappables = [
            _intensity_panel(
                axes[row, col],
                np.asarray(sets[col][0]),
                values,
                f"({letters[row * n_cols + col]}) {name} : {title}",
                limits,
            )
            for col, (title, values) in enumerate(zip(titles, series, strict=True))
        ]
        fig.colorbar(mappables[-1], ax=list(axes[row]), shrink=0.8, label=name.lower())
    missing = [name for name in ROWS[1:] if name not in dict(dimensions)]
    fig.suptitle(level_title + _missing_note(missing), fontsize=14)
    return fig


def save_figure(
    fig: Figure, path: str | Path, formats: Sequence[str] = ("png", "pdf"), dpi: int = DPI
) -> list[Path]:
    """Write `fig` once per format beside `path` (its suffix, if one of `formats`, is
    replaced), each file atomically; returns the paths written."""
    base = Path(path)
    if base.suffix.lstrip(".").lower() in formats:
        base = base.with_suffix("")
    written = []
    for fmt in formats:
        target = base.with_name(f"{base.name}.{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        written.append(target)
    return written
