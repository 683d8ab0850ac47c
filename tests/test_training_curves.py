"""Training curves: last-epoch notes from hand-made histories, the figure, and the stage that
reads the curves from parameter files' metadata (never from the config)."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from affectrep.data.pytree_io import save_tree
from affectrep.protocol.curves import (
    curve_of,
    plot_training_curves,
    settings_line,
    trend_note,
)
from affectrep.protocol.figures import save_figure
from affectrep.stages.representations import training_curves

SGD = {"optimizer": "sgd", "learning_rate": 1e-4, "momentum": 0, "epochs": 5}
BLSTM = {"optimizer": "sgd", "learning_rate": 1e-6, "momentum": 0, "epochs": 4}


def _history(losses):
    return [{"epoch": n, "loss": loss, "seconds": 1.0} for n, loss in enumerate(losses, start=1)]


FALLING = [1.0, 0.8, 0.7, 0.64, 0.62]  # the last epoch: 0.64 -> 0.62, -3.1 %
FLAT = [0.5, 0.49999, 0.49998, 0.49997]  # about -0.002 % per epoch


def _texts(figure) -> list[str]:
    return [text.get_text() for ax in figure.axes for text in ax.texts]


def _titles(figure) -> list[str]:
    return [ax.get_title() for ax in figure.axes if ax.get_visible()]


def test_a_falling_and_a_flat_curve_are_told_apart():
    assert trend_note(FALLING) == "last epoch -3.1 %: still falling (-38.0 % since epoch 1)"
    assert trend_note(FLAT) == "last epoch -0.002 %: flat (-0.006 % since epoch 1)"
    assert trend_note([1.0, 1.05]) == "last epoch +5.0 %: rising"
    assert trend_note([2.0, 2.0]) == "last epoch 0.0 %: flat"
    assert trend_note([1.0]) == "one epoch: no trend"
    assert trend_note([]) == "no epochs recorded"
    assert trend_note([1.0, float("nan")]) == "loss not finite"


def test_settings_line_names_optimizer_rate_and_epochs():
    assert settings_line(SGD) == "SGD, lr 0.0001, 5 epochs"
    assert settings_line(BLSTM) == "SGD, lr 1e-06, 4 epochs"
    adam = {"optimizer": "adam", "learning_rate": 1e-3, "momentum": 0.9, "epochs": 1}
    assert settings_line({**adam, "schedule": "cosine"}) == (
        "ADAM, lr 0.001, momentum 0.9, cosine schedule, 1 epoch"
    )
    assert settings_line({}) == "settings not recorded"


def test_the_figure_has_a_titled_annotated_panel_per_curve_and_is_written(tmp_path):
    layers = [
        curve_of(f"TIED-128-5 layer {k}", {"settings": SGD, "history": _history(FALLING)})
        for k in (1, 2)
    ]
    blstm = curve_of("BLSTM", {"settings": BLSTM, "history": _history(FLAT)})
    figure = plot_training_curves({"encoder": layers, "blstm": [blstm]}, "Training curves")
    assert _titles(figure) == [
        "TIED-128-5 layer 1\nSGD, lr 0.0001, 5 epochs",
        "TIED-128-5 layer 2\nSGD, lr 0.0001, 5 epochs",
        "BLSTM\nSGD, lr 1e-06, 4 epochs",
    ]
    assert _texts(figure) == [trend_note(FALLING)] * 2 + [trend_note(FLAT)]
    # A flat curve is drawn flat: its axis spans at least a tenth of the loss's level.
    low, high = figure.axes[-1].get_ylim()
    assert high - low >= 0.1 * 0.5
    assert all(ax.get_ylabel() == "training loss" for ax in figure.axes)
    written = save_figure(figure, tmp_path / "training_curves.png")
    assert [path.name for path in written] == ["training_curves.png", "training_curves.pdf"]
    assert (tmp_path / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "training_curves.png").stat().st_size > 10_000
    FigureCanvasAgg(figure).draw()  # lays out without error
    # One epoch: a point with whole-epoch ticks around it.
    one = curve_of("one", {"settings": SGD, "history": _history([0.4])})
    ax = plot_training_curves({"row": [one]}, "one epoch").axes[0]
    assert _texts(ax.figure) == ["one epoch: no trend"] and ax.get_xlim() == (0, 2)


def _save(path, meta):
    save_tree(path, {"W": np.zeros((2, 2), np.float32)}, meta)


def test_the_stage_reads_the_files_metadata(tmp_path):
    """Titles and notes come from each file: the layers' and the BLSTM's settings and
    histories; a greedy encoder without fine-tuning epochs adds no panel, one with adds one."""
    layer_files = []
    for k in (1, 2):
        layer_files.append(tmp_path / f"layer{k}.npz")
        meta = {"model": "tied-fft128-c5", "layer": k, "settings": SGD}
        _save(layer_files[-1], {**meta, "history": _history(FALLING)})
    encoder = tmp_path / "encoder.npz"
    _save(encoder, {"model": "tied-fft128-c5", "finetune": {**SGD, "epochs": 0}, "history": []})
    blstm = tmp_path / "blstm.npz"
    _save(blstm, {"model": "tied-fft128-c5", "settings": BLSTM, "history": _history(FLAT)})
    out = tmp_path / "figures" / "training_curves.png"
    notes = training_curves(
        layer_files, encoder, blstm, model="tied-fft128-c5", corpus="demo", figure_out=out
    )
    assert notes == {
        "TIED-128-5 layer 1": trend_note(FALLING),
        "TIED-128-5 layer 2": trend_note(FALLING),
        "BLSTM autoencoder on TIED-128-5 codes": trend_note(FLAT),
    }
    assert out.stat().st_size > 10_000 and out.with_suffix(".pdf").stat().st_size > 1_000
    # Fine-tuned for 2 epochs: one more panel, with the fine-tuning's own settings.
    finetune = {**SGD, "epochs": 2, "learning_rate": 1e-3}
    history = _history([0.3, 0.29])
    _save(encoder, {"model": "tied-fft128-c5", "finetune": finetune, "history": history})
    notes = training_curves(
        layer_files, encoder, blstm, model="tied-fft128-c5", corpus="demo", figure_out=out
    )
    assert notes["TIED-128-5 fine-tuning"] == "last epoch -3.3 %: still falling"
    # A deep model: its encoder file is the one curve of the encoder row.
    deep = {"model": "deep-logmel40-c5", "settings": SGD, "history": _history(FALLING)}
    _save(encoder, deep)
    notes = training_curves([], encoder, blstm, model="x", corpus="demo", figure_out=out)
    assert list(notes) == [
        "DEEP-MEL-5 (trained jointly)",
        "BLSTM autoencoder on DEEP-MEL-5 codes",
    ]
