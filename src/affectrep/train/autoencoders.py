"""How the paper's autoencoders are trained: greedy layers, deep models, and their codes.

A model id names the configuration the way the paper does: `tied-fft128-c5` is TIED-128-5
(greedy stack with tied weights, 128-bin FFT frames, a context of 5 frames), `deep-logmel40-c5`
is DEEP-MEL-5. The same id is used in config keys, file names and tables. The networks are
in `affectrep.models.dae`; each trainer here is `affectrep.train.loop.fit` with the denoising loss
and batches of context windows gathered from the frames inside the compiled step (passed
through the frozen layers below, for a greedy layer).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from affectrep.data.featureset import FeatureIndex
from affectrep.defaults import default
from affectrep.models.context import TrainingData, gather_windows
from affectrep.models.dae import (
    DaeLayer,
    DeepAutoencoder,
    DenoisingLoss,
    encode_stack,
    mask_threshold,
)
from affectrep.train.loop import FrameBatches, OptimizerSettings, fit

__all__ = [
    "EncodedWindows",
    "TrainResult",
    "TrainSettings",
    "encode_frames",
    "iter_codes",
    "train_deep",
    "train_stacked_layer",
]


@dataclass(frozen=True)
class TrainSettings(OptimizerSettings):
    """The autoencoders' training; the defaults are the paper's (section 4), written in the
    config schema's `autoencoders` section: SGD at 1e-4, weight decay 1e-4, batches of 500
    frames, 20% masking noise. `steps_per_call` steps run in one compiled call (it does not
    change the result)."""

    batch_size: int = default("autoencoders.batch_size")
    epochs: int = default("autoencoders.epochs")
    noise: float = default("autoencoders.noise")
    seed: int = default("autoencoders.seed")
    steps_per_call: int = 200

    RUN_ONLY: ClassVar[tuple[str, ...]] = ("steps_per_call",)


@dataclass
class TrainResult:
    """The trained parameters as a plain tree (the file's keys), one record per epoch
    (epoch, loss, examples_per_s, seconds) and the epochs that came from a checkpoint."""

    params: Any
    history: list[dict[str, float]]
    resumed_from_epoch: int


def encoded_windows(data: tuple, rows: jax.Array, context: int) -> jax.Array:
    """The inputs of a layer for frames `rows`: their context windows, through the frozen
    layers below it. data = (frames, starts, ends, frozen {W, b} layers)."""
    frames, starts, ends, frozen = data
    return encode_stack(frozen, gather_windows(frames, rows, starts, ends, context))


@dataclass(frozen=True)
class EncodedWindows:
    """`encoded_windows` as the batch builder of `FrameBatches` (a value: the compiled step
    is reused for every layer and run with the same context)."""

    context: int

    def __call__(self, data: tuple, rows: jax.Array) -> jax.Array:
        return encoded_windows(data, rows, self.context)


def _fit(
    model,
    data: TrainingData,
    frozen: list,
    context: int,
    settings: TrainSettings,
    fingerprint: str,
    checkpoint,
    logger,
    label,
    stop_after_epochs,
) -> TrainResult:
    source = FrameBatches(
        (data.frames, data.starts, data.ends, frozen),
        EncodedWindows(context),
        data.n_frames,
        settings.batch_size,
        settings.seed,
        settings.steps_per_call,
    )
    result = fit(
        model,
        DenoisingLoss(mask_threshold(settings.noise)),
        source,
        settings,
        epochs=settings.epochs,
        seed=settings.seed,
        checkpoint=checkpoint,
        fingerprint=fingerprint,
        logger=logger,
        label=label,
        stop_after_epochs=stop_after_epochs,
    )
    return TrainResult(result.model.tree(), result.history, result.resumed_from_epoch)


def train_stacked_layer(
    data: TrainingData,
    lower: Sequence[dict],
    n_out: int,
    *,
    tied: bool,
    context: int,
    settings: TrainSettings,
    checkpoint: str | Path | None = None,
    logger: logging.Logger | None = None,
    label: str = "layer",
    stop_after_epochs: int | None = None,
) -> TrainResult:
    """Greedy training of one layer on the (clean) codes of the frozen layers `lower`."""
    n_in = int(lower[-1]["W"].shape[1]) if lower else data.frames.shape[1] * context
    key = jax.random.fold_in(jax.random.PRNGKey(settings.seed), len(lower) + 1)
    model = DaeLayer.init(key, n_in, n_out, tied=tied)
    frozen = [{"W": jnp.asarray(p["W"]), "b": jnp.asarray(p["b"])} for p in lower]
    fingerprint = settings.fingerprint(
        model="stacked",
        tied=tied,
        context=context,
        n_in=n_in,
        n_out=n_out,
        lower=[float(jnp.sum(p["W"])) for p in frozen],
        n_frames=data.n_frames,
    )
    return _fit(
        model,
        data,
        frozen,
        context,
        settings,
        fingerprint,
        checkpoint,
        logger,
        label,
        stop_after_epochs,
    )


def train_deep(
    data: TrainingData,
    widths: Sequence[int],
    *,
    context: int,
    settings: TrainSettings,
    init: dict | None = None,
    checkpoint: str | Path | None = None,
    logger: logging.Logger | None = None,
    label: str = "deep",
    stop_after_epochs: int | None = None,
) -> TrainResult:
    """Joint training of all layers of a deep autoencoder (from `init`, a tree with encoder
    and decoder layers: fine-tuning)."""
    if init is None:
        model = DeepAutoencoder.init(jax.random.PRNGKey(settings.seed), widths)
    else:
        model = DeepAutoencoder.from_tree(init)
    fingerprint = settings.fingerprint(
        model="deep",
        widths=list(widths),
        context=context,
        n_frames=data.n_frames,
        init=None if init is None else float(sum(np.sum(p["W"]) for p in init["encoder"])),
    )
    return _fit(
        model,
        data,
        [],
        context,
        settings,
        fingerprint,
        checkpoint,
        logger,
        label,
        stop_after_epochs,
    )


def encode_frames(
    encoder: Sequence[dict],
    frames: np.ndarray,
    index: FeatureIndex,
    context: int,
    chunk: int = 8192,
) -> np.ndarray:
    """The bottleneck code of every frame (clean input): (n_frames, bottleneck) float32."""
    data = TrainingData.from_features(frames, index)
    return np.concatenate(list(iter_codes(encoder, data, context, chunk)))


# The arrays are arguments, not closed-over constants: XLA would otherwise fold the whole frame
# array into the compiled program (slow to compile, and a second copy in memory).
_encode_rows = jax.jit(encoded_windows, static_argnums=2)


def iter_codes(
    encoder: Sequence[dict], data: TrainingData, context: int, chunk: int = 8192
) -> Iterator[np.ndarray]:
    """The codes of `data`'s frames in order, `chunk` frames at a time (float32 blocks)."""
    layers = [{"W": jnp.asarray(p["W"]), "b": jnp.asarray(p["b"])} for p in encoder]
    packed = (data.frames, data.starts, data.ends, layers)
    n = data.n_frames
    for first in range(0, n, chunk):
        rows = np.arange(first, first + chunk, dtype=np.int32)
        codes = np.asarray(_encode_rows(packed, jnp.asarray(np.minimum(rows, n - 1)), context))
        yield codes[: min(chunk, n - first)].astype(np.float32)
