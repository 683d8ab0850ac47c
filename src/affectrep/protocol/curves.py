"""Training curves: the loss per epoch that a parameter file's metadata recorded, drawn so that
under-training shows at a glance.

Every trained file (`layer{k}.npz`, `encoder.npz`, `blstm.npz`; `affectrep.data.pytree_io`)
carries in its `meta` the settings it was trained with and its `history`, one record per
epoch (`epoch`, `loss`, ...). A curve is read from that metadata alone, never from the
config, so its title says how the curve was actually made. Each panel is annotated with the
relative change of the loss over the last epoch ("last epoch -3.2 %: still falling"): the
paper's SGD at 1e-4 for 5 epochs leaves the autoencoders' loss still falling, and its BLSTM
at 1e-6 hardly moves.

Each panel has its own loss axis, spanning at least `MIN_SPAN` of the loss's level, so that a
flat curve looks flat instead of being stretched over the whole panel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Below this relative change per epoch (in %) a curve counts as flat.
FLAT_PERCENT = 0.1
# The smallest loss range a panel shows, as a fraction of the loss's level.
MIN_SPAN = 0.1


@dataclass(frozen=True)
class Curve:
    """One trained part: `title` (`TIED-128-5 layer 1`), the loss per epoch and the settings
    of the file that recorded them."""

    title: str
    epochs: list[int]
    losses: list[float]
    settings: Mapping[str, Any] = field(default_factory=dict)


def curve_of(title: str, meta: Mapping[str, Any], settings_key: str = "settings") -> Curve:
    """The curve in a parameter file's metadata: its `history` records and `meta[settings_key]`
    (`finetune` for a fine-tuned encoder)."""
    history = meta.get("history") or []
    epochs = [int(record.get("epoch", number + 1)) for number, record in enumerate(history)]
    losses = [float(record["loss"]) for record in history]
    settings = meta.get(settings_key) or {}
    return Curve(title, epochs, losses, dict(settings))


def _number(value: Any) -> str:
    """1e-4 as `0.0001`, 1e-6 as `1e-06`, 0.9 as `0.9`."""
    return f"{float(value):g}"


def settings_line(settings: Mapping[str, Any]) -> str:
    """`SGD, lr 0.0001, 5 epochs` (momentum and a non-constant schedule when set)."""
    parts = []
    if "optimizer" in settings:
        parts.append(str(settings["optimizer"]).upper() if settings["optimizer"] else "?")
    if "learning_rate" in settings:
        parts.append(f"lr {_number(settings['learning_rate'])}")
    if settings.get("momentum"):
        parts.append(f"momentum {_number(settings['momentum'])}")
    if settings.get("schedule") not in (None, "constant"):
        parts.append(f"{settings['schedule']} schedule")
    if "epochs" in settings:
        epochs = int(settings["epochs"])
        parts.append(f"{epochs} epoch{'s' if epochs != 1 else ''}")
    return ", ".join(parts) or "settings not recorded"


def relative_change(losses: Sequence[float], start: int = -2) -> float | None:
    """The change of the last loss relative to `losses[start]`, in percent (-3.2: 3.2 % lower);
    None with fewer than two epochs, or a loss that is not finite or is zero there."""
    if len(losses) < 2:
        return None
    before, last = float(losses[start]), float(losses[-1])
    if not (math.isfinite(before) and math.isfinite(last)) or before == 0:
        return None
    return 100.0 * (last - before) / abs(before)


def _percent(value: float) -> str:
    """-3.2 as `-3.2 %`, -0.0041 as `-0.0041 %`, 0 as `0.0 %`."""
    if value == 0:
        return "0.0 %"
    return f"{value:+.1f} %" if abs(value) >= 0.1 else f"{value:+.2g} %"


def trend_note(losses: Sequence[float], flat_percent: float = FLAT_PERCENT) -> str:
    """One line on the last epoch: `last epoch -3.2 %: still falling`, `... : flat` (less than
    `flat_percent` either way) or `... : rising`; with the change since the first epoch when
    there were more than two."""
    if not losses:
        return "no epochs recorded"
    if not all(math.isfinite(float(loss)) for loss in losses):
        return "loss not finite"
    change = relative_change(losses)
    if change is None:
        return "one epoch: no trend" if len(losses) == 1 else "loss 0: no trend"
    if change <= -flat_percent:
        verdict = "still falling"
    elif change >= flat_percent:
        verdict = "rising"
    else:
        verdict = "flat"
    note = f"last epoch {_percent(change)}: {verdict}"
    overall = relative_change(losses, start=0)
    if len(losses) > 2 and overall is not None:
        note += f" ({_percent(overall)} since epoch 1)"
    return note


def _loss_limits(losses: Sequence[float]) -> tuple[float, float] | None:
    """The panel's loss range: the data's, widened to `MIN_SPAN` of the loss's level, with
    room above it for the note."""
    finite = [float(loss) for loss in losses if math.isfinite(float(loss))]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    span = max(high - low, MIN_SPAN * max(abs(low), abs(high)), 1e-12)
    middle = (low + high) / 2
    return middle - 0.6 * span, middle + 0.9 * span


def _panel(ax: Axes, curve: Curve, colour: str) -> str:
    note = trend_note(curve.losses)
    ax.plot(curve.epochs, curve.losses, marker="o", markersize=3.5, color=colour, linewidth=1.5)
    limits = _loss_limits(curve.losses)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.ticklabel_format(axis="y", useOffset=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(set(curve.epochs)) == 1:  # one epoch: whole-epoch ticks around it
        ax.set_xlim(curve.epochs[0] - 1, curve.epochs[0] + 1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(f"{curve.title}\n{settings_line(curve.settings)}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.text(
        0.5,
        0.96,
        note,
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=8.5,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.9},
    )
    return note


def plot_training_curves(
    rows: Mapping[str, Sequence[Curve]], title: str, max_columns: int = 4
) -> Figure:
    """A figure with one row of panels per entry of `rows` (row title -> its curves, each its
    own panel with its own loss axis and last-epoch annotation; more than `max_columns`
    curves wrap onto further rows). A row of one curve spans the figure's width."""
    rows = {name: list(curves) for name, curves in rows.items() if curves}
    if not rows:
        raise ValueError("no training curves to draw")
    columns = [min(len(curves), max_columns) for curves in rows.values()]
    heights = [math.ceil(len(curves) / n) for curves, n in zip(rows.values(), columns, strict=True)]
    fig = Figure(figsize=(4.4 * max(columns), 3.6 * sum(heights) + 0.8), layout="constrained")
    subfigures = fig.subfigures(len(rows), 1, height_ratios=heights, squeeze=False)[:, 0]
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#d62728")
    for subfigure, (name, curves), height, width in zip(
        subfigures, rows.items(), heights, columns, strict=True
    ):
        axes = subfigure.subplots(height, width, squeeze=False).ravel()
        for number, (ax, curve) in enumerate(zip(axes, curves, strict=False)):
            _panel(ax, curve, colours[number % len(colours)])
        for ax in axes[len(curves) :]:
            ax.set_visible(False)
        subfigure.suptitle(name, fontsize=12)
    fig.suptitle(title, fontsize=13)
    return fig
