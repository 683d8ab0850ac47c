"""What each autoencoder rule does, from files to files (the scripts only pass paths in).

Parameter files (`layer{k}.npz`, `encoder.npz`) are plain NumPy archives written by
`affectrep.data.pytree_io.save_tree`: `W`, `b`, `b_dec` (and `W_dec` when untied) for a layer;
`encoder/0/W`, `encoder/0/b`, ... for an encoder; and `meta`, a JSON string with the model
id, widths, settings and loss history that produced them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from affectrep.data.featureset import FeatureIndex, excluding, read_index
from affectrep.data.manifest import read_manifest
from affectrep.data.npyio import NpyRowWriter
from affectrep.data.pytree_io import load_tree, save_tree
from affectrep.models.dae import deep_from_stack
from affectrep.train.autoencoders import (
    ModelId,
    TrainingData,
    TrainSettings,
    iter_codes,
    train_deep,
    train_stacked_layer,
)


def training_index(
    feature_dir: str | Path,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> FeatureIndex:
    """The utterances an autoencoder trains on: all of them (the paper: labels are never
    used), or, for strict per-fold pretraining, all but those of one session's speakers, so
    that no frame of a fold's held-out speakers shapes the encoder."""
    index = read_index(Path(feature_dir) / "index.tsv")
    if exclude_session is None:
        return index
    if manifest is None:
        raise ValueError("leaving a session out of pretraining needs the manifest")
    held = {row.speaker for row in read_manifest(manifest) if row.session == exclude_session}
    if not held:
        raise ValueError(f"session {exclude_session!r} is not in {manifest}")
    return excluding(index, held)


def training_data(
    feature_dir: str | Path,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> TrainingData:
    """The frames of `training_index`, on the device (moved there block by block)."""
    index = training_index(feature_dir, manifest, exclude_session)
    return TrainingData.from_file(Path(feature_dir) / "frames.npy", index)


def _checkpoint_of(output: Path) -> Path:
    return output.with_name(output.stem + ".checkpoint.npz")


def _finish(output: Path, tree: dict, meta: dict) -> None:
    save_tree(output, tree, meta)
    _checkpoint_of(output).unlink(missing_ok=True)


def pretrain_layer(
    feature_dir: str | Path,
    lower_files: Sequence[str | Path],
    output: str | Path,
    model: ModelId,
    widths: Sequence[int],
    settings: TrainSettings,
    logger: logging.Logger,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> dict:
    """Train layer len(lower_files)+1 of a greedy stack; widths = [n_in, hidden...]."""
    output = Path(output)
    lower = [load_tree(path)[0] for path in lower_files]
    number = len(lower) + 1
    data = training_data(feature_dir, manifest, exclude_session)
    result = train_stacked_layer(
        data, lower, widths[number], tied=model.kind == "tied", context=model.context,
        settings=settings, checkpoint=_checkpoint_of(output), logger=logger,
        label=f"{model} layer {number}",
    )
    meta = {
        "model": str(model), "layer": number, "widths": list(widths),
        "settings": asdict(settings), "history": result.history,
        "n_frames": data.n_frames, "excluded_session": exclude_session,
    }
    _finish(output, {k: np.asarray(v) for k, v in result.params.items()}, meta)
    return meta


def finetune_stack(
    feature_dir: str | Path,
    layer_files: Sequence[str | Path],
    output: str | Path,
    model: ModelId,
    widths: Sequence[int],
    settings: TrainSettings,
    logger: logging.Logger,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> dict:
    """The encoder of a greedy stack, fine-tuned as one deep autoencoder for
    `settings.epochs` epochs (0: the greedy layers as they are)."""
    output = Path(output)
    layers = [load_tree(path)[0] for path in layer_files]
    history: list[dict] = []
    encoder = [{"W": layer["W"], "b": layer["b"]} for layer in layers]
    if settings.epochs > 0:
        data = training_data(feature_dir, manifest, exclude_session)
        result = train_deep(
            data, widths, context=model.context, settings=settings, init=deep_from_stack(layers),
            checkpoint=_checkpoint_of(output), logger=logger, label=f"{model} fine-tuning",
        )
        encoder = result.params["encoder"]
        history = result.history
    else:
        logger.info("%s: no fine-tuning (epochs 0); the encoder is the greedy stack", model)
    meta = {"model": str(model), "widths": list(widths), "finetune": asdict(settings),
            "history": history, "excluded_session": exclude_session}
    _finish(output, {"encoder": [{k: np.asarray(v) for k, v in p.items()} for p in encoder]},
            meta)
    return meta


def train_deep_encoder(
    feature_dir: str | Path,
    output: str | Path,
    model: ModelId,
    widths: Sequence[int],
    settings: TrainSettings,
    logger: logging.Logger,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> dict:
    """A deep autoencoder trained jointly from random weights; its encoder is kept."""
    output = Path(output)
    data = training_data(feature_dir, manifest, exclude_session)
    result = train_deep(
        data, widths, context=model.context, settings=settings,
        checkpoint=_checkpoint_of(output), logger=logger, label=f"{model}",
    )
    encoder = [{k: np.asarray(v) for k, v in p.items()} for p in result.params["encoder"]]
    decoder = [{k: np.asarray(v) for k, v in p.items()} for p in result.params["decoder"]]
    meta = {"model": str(model), "widths": list(widths), "settings": asdict(settings),
            "history": result.history, "n_frames": data.n_frames,
            "excluded_session": exclude_session}
    _finish(output, {"encoder": encoder, "decoder": decoder}, meta)
    return meta


def encode(feature_dir: str | Path, encoder_file: str | Path, output: str | Path,
           model: ModelId) -> tuple[int, int]:
    """Bottleneck codes of every frame, written block by block as a float32 `.npy` in the
    features' order (the host never holds all codes). Returns the codes' shape."""
    data = training_data(feature_dir)
    tree, _ = load_tree(encoder_file)
    shape = (data.n_frames, int(np.shape(tree["encoder"][-1]["W"])[1]))
    with NpyRowWriter(output, shape) as out:
        for block in iter_codes(tree["encoder"], data, model.context):
            out.write(block)
    return shape
