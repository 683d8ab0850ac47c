"""The rules of `autoencoders.smk`, from files to files: greedy layers, fine-tuning, deep
autoencoders and their codes (paper sections 3-4).

Parameter files (`layer{k}.npz`, `encoder.npz`) are plain NumPy archives written by
`affectrep.data.pytree_io.save_tree`: `W`, `b`, `b_dec` (and `W_dec` when untied) for a layer;
`encoder/0/W`, `encoder/0/b`, ... for an encoder; and `meta`, a JSON string with the model
id, widths, settings and loss history that produced them.

Every rule here trains or runs a network, so each function imports the trainers
(`affectrep.train.autoencoders`, and with them JAX) when it is called: a script imports this
module, then configures JAX (`affectrep.device.configure_jax`), then calls the rule.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from affectrep.data.featureset import FeatureIndex, excluding, read_index
from affectrep.data.manifest import read_manifest
from affectrep.data.npyio import NpyRowWriter
from affectrep.data.pytree_io import load_tree, save_tree
from affectrep.model_id import ModelId, code_layers

if TYPE_CHECKING:
    from affectrep.models.context import TrainingData
    from affectrep.train.autoencoders import TrainSettings


def training_index(
    index: str | Path,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> FeatureIndex:
    """The utterances of the feature index `index` that an autoencoder trains on: all of them
    (the paper: labels are never used), or, for strict per-fold pretraining, all but those of
    one session's speakers, so that no frame of a fold's held-out speakers shapes the
    encoder."""
    feature_index = read_index(index)
    if exclude_session is None:
        return feature_index
    if manifest is None:
        raise ValueError("leaving a session out of pretraining needs the manifest")
    held = {row.speaker for row in read_manifest(manifest) if row.session == exclude_session}
    if not held:
        raise ValueError(f"session {exclude_session!r} is not in {manifest}")
    return excluding(feature_index, held)


def training_data(
    frames: str | Path,
    index: str | Path,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> TrainingData:
    """The frames (of `frames.npy`) of `training_index`, on the device (moved there block
    by block)."""
    from affectrep.models.context import TrainingData

    return TrainingData.from_file(frames, training_index(index, manifest, exclude_session))


def _settings(settings: TrainSettings | Mapping) -> TrainSettings:
    """The rule's `settings` param (a plain mapping) as `TrainSettings`."""
    from affectrep.train.autoencoders import TrainSettings

    return settings if isinstance(settings, TrainSettings) else TrainSettings(**settings)


def _checkpoint_of(output: Path) -> Path:
    return output.with_name(output.stem + ".checkpoint.npz")


def _finish(output: Path, tree: dict, meta: dict) -> None:
    save_tree(output, tree, meta)
    _checkpoint_of(output).unlink(missing_ok=True)


def pretrain_layer(
    frames: str | Path,
    index: str | Path,
    lower_files: Sequence[str | Path],
    output: str | Path,
    model: ModelId | str,
    widths: Sequence[int],
    settings: TrainSettings | Mapping,
    logger: logging.Logger,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> dict:
    """Rule `pretrain_layer`: train layer len(lower_files)+1 of a greedy stack on the codes
    of the frozen layers `lower_files`; widths = [n_in, hidden...]."""
    from affectrep.train.autoencoders import train_stacked_layer

    model, settings, output = ModelId.parse(str(model)), _settings(settings), Path(output)
    lower = [load_tree(path)[0] for path in lower_files]
    number = len(lower) + 1
    data = training_data(frames, index, manifest, exclude_session)
    result = train_stacked_layer(
        data,
        lower,
        widths[number],
        tied=model.kind == "tied",
        context=model.context,
        settings=settings,
        checkpoint=_checkpoint_of(output),
        logger=logger,
        label=f"{model} layer {number}",
    )
    meta = {
        "model": str(model),
        "layer": number,
        "widths": list(widths),
        "settings": asdict(settings),
        "history": result.history,
        "n_frames": data.n_frames,
        "excluded_session": exclude_session,
    }
    _finish(output, {k: np.asarray(v) for k, v in result.params.items()}, meta)
    return meta


def finetune_deep(
    frames: str | Path,
    index: str | Path,
    layer_files: Sequence[str | Path],
    output: str | Path,
    model: ModelId | str,
    widths: Sequence[int],
    settings: TrainSettings | Mapping,
    logger: logging.Logger,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> dict:
    """Rule `finetune_deep`: the encoder of a greedy stack, fine-tuned as one deep
    autoencoder for `settings.epochs` epochs (0: the greedy layers as they are)."""
    from affectrep.models.dae import deep_from_stack
    from affectrep.train.autoencoders import train_deep as train

    model, settings, output = ModelId.parse(str(model)), _settings(settings), Path(output)
    layers = [load_tree(path)[0] for path in layer_files]
    history: list[dict] = []
    encoder = [{"W": layer["W"], "b": layer["b"]} for layer in layers]
    if settings.epochs > 0:
        data = training_data(frames, index, manifest, exclude_session)
        result = train(
            data,
            widths,
            context=model.context,
            settings=settings,
            init=deep_from_stack(layers),
            checkpoint=_checkpoint_of(output),
            logger=logger,
            label=f"{model} fine-tuning",
        )
        encoder = result.params["encoder"]
        history = result.history
    else:
        logger.info("%s: no fine-tuning (epochs 0); the encoder is the greedy stack", model)
    meta = {
        "model": str(model),
        "widths": list(widths),
        "finetune": asdict(settings),
        "history": history,
        "excluded_session": exclude_session,
    }
    _finish(output, {"encoder": [{k: np.asarray(v) for k, v in p.items()} for p in encoder]}, meta)
    return meta


def train_deep(
    frames: str | Path,
    index: str | Path,
    output: str | Path,
    model: ModelId | str,
    widths: Sequence[int],
    settings: TrainSettings | Mapping,
    logger: logging.Logger,
    manifest: str | Path | None = None,
    exclude_session: str | None = None,
) -> dict:
    """Rule `train_deep`: a deep autoencoder trained jointly from random weights; its
    encoder is kept."""
    from affectrep.train.autoencoders import train_deep as train

    model, settings, output = ModelId.parse(str(model)), _settings(settings), Path(output)
    data = training_data(frames, index, manifest, exclude_session)
    result = train(
        data,
        widths,
        context=model.context,
        settings=settings,
        checkpoint=_checkpoint_of(output),
        logger=logger,
        label=f"{model}",
    )
    encoder = [{k: np.asarray(v) for k, v in p.items()} for p in result.params["encoder"]]
    decoder = [{k: np.asarray(v) for k, v in p.items()} for p in result.params["decoder"]]
    meta = {
        "model": str(model),
        "widths": list(widths),
        "settings": asdict(settings),
        "history": result.history,
        "n_frames": data.n_frames,
        "excluded_session": exclude_session,
    }
    _finish(output, {"encoder": encoder, "decoder": decoder}, meta)
    return meta


def encode(
    frames: str | Path,
    index: str | Path,
    encoder_file: str | Path,
    output: str | Path,
    model: ModelId | str,
    code_layer: int = 0,
) -> tuple[int, int]:
    """Rules `encode` and `encode_from`: the codes of every frame (the bottleneck, or the
    output of encoder layer `code_layer`: `code_layers`), written block by block as a
    float32 `.npy` in the features' order (the host never holds all codes). Returns the
    codes' shape."""
    from affectrep.train.autoencoders import iter_codes

    model = ModelId.parse(str(model))
    tree, _ = load_tree(encoder_file)
    layers = code_layers(tree["encoder"], code_layer, f"{model} ({encoder_file})")
    data = training_data(frames, index)
    shape = (data.n_frames, int(np.shape(layers[-1]["W"])[1]))
    with NpyRowWriter(output, shape) as out:
        for block in iter_codes(layers, data, model.context):
            out.write(block)
    return shape
