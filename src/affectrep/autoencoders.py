"""The paper's autoencoder configurations, by model id, and how each one is trained.

A model id names the configuration the way the paper does: `tied-fft128-c5` is TIED-128-5
(greedy stack with tied weights, 128-bin FFT frames, a context of 5 frames), `deep-logmel40-c5`
is DEEP-MEL-5. The same id is used in config keys, file names and tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from affectrep import dae
from affectrep.context import frame_bounds, gather_windows
from affectrep.featureset import FeatureIndex
from affectrep.model_id import ModelId  # noqa: F401 (re-exported: scripts import it from here)
from affectrep.npyio import DEFAULT_BLOCK_ROWS, iter_row_blocks, npy_layout
from affectrep.training import TrainResult, TrainSettings, train


@dataclass
class TrainingData:
    """Frames and per-frame utterance bounds, on the device."""

    frames: jax.Array
    starts: jax.Array
    ends: jax.Array

    @classmethod
    def from_features(cls, frames: np.ndarray, index: FeatureIndex) -> TrainingData:
        starts, ends = frame_bounds(index.offsets, index.lengths)
        return cls(jnp.asarray(frames), jnp.asarray(starts), jnp.asarray(ends))

    @classmethod
    def from_file(cls, frames_file: str | Path, index: FeatureIndex,
                  block_rows: int = DEFAULT_BLOCK_ROWS) -> TrainingData:
        """The frames of the utterances in `index` (a subset of the file's, with its own
        offsets, or all of them), moved to the device block by block: the host holds one
        block at a time, so peak memory is the device copy plus a block."""
        shape, _, _ = npy_layout(frames_file)
        frames = jnp.zeros((index.n_frames, shape[1]), jnp.float32)
        row = 0
        for block in iter_row_blocks(frames_file, index.file_segments(), block_rows):
            frames = _put_rows(frames, jnp.asarray(block, jnp.float32), row)
            row += block.shape[0]
        starts, ends = frame_bounds(index.offsets, index.lengths)
        return cls(frames, jnp.asarray(starts), jnp.asarray(ends))

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


@partial(jax.jit, donate_argnums=0)
def _put_rows(frames: jax.Array, block: jax.Array, row: int) -> jax.Array:
    return jax.lax.dynamic_update_slice_in_dim(frames, block, row, axis=0)


def _inputs(data: tuple, rows: jax.Array, context: int) -> jax.Array:
    frames, starts, ends, frozen = data
    return dae.encode_stack(frozen, gather_windows(frames, rows, starts, ends, context))


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
    n_in = (int(lower[-1]["W"].shape[1]) if lower else data.frames.shape[1] * context)
    key = jax.random.fold_in(jax.random.PRNGKey(settings.seed), len(lower) + 1)
    params = dae.init_layer(key, n_in, n_out, tied=tied)
    frozen = [{"W": jnp.asarray(p["W"]), "b": jnp.asarray(p["b"])} for p in lower]
    threshold = dae.mask_threshold(settings.noise)

    def loss_fn(params, x, key):
        return dae.layer_loss(params, x, key, threshold)

    def batch_fn(packed, rows):
        return _inputs(packed, rows, context)

    fingerprint = settings.fingerprint(
        model="stacked", tied=tied, context=context, n_in=n_in, n_out=n_out,
        lower=[float(jnp.sum(p["W"])) for p in frozen], n_frames=data.n_frames,
    )
    return train(
        params, loss_fn, batch_fn, (data.frames, data.starts, data.ends, frozen),
        data.n_frames, settings, checkpoint=checkpoint, fingerprint=fingerprint,
        logger=logger, label=label, stop_after_epochs=stop_after_epochs,
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
    """Joint training of all layers of a deep autoencoder (from `init`: fine-tuning)."""
    if init is None:
        params = dae.init_deep(jax.random.PRNGKey(settings.seed), widths)
    else:
        params = jax.tree_util.tree_map(jnp.asarray, init)
    threshold = dae.mask_threshold(settings.noise)

    def loss_fn(params, x, key):
        return dae.deep_loss(params, x, key, threshold)

    def batch_fn(packed, rows):
        return _inputs(packed, rows, context)

    fingerprint = settings.fingerprint(
        model="deep", widths=list(widths), context=context, n_frames=data.n_frames,
        init=None if init is None else float(sum(np.sum(p["W"]) for p in init["encoder"])),
    )
    return train(
        params, loss_fn, batch_fn, (data.frames, data.starts, data.ends, []),
        data.n_frames, settings, checkpoint=checkpoint, fingerprint=fingerprint,
        logger=logger, label=label, stop_after_epochs=stop_after_epochs,
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


def iter_codes(
    encoder: Sequence[dict], data: TrainingData, context: int, chunk: int = 8192
) -> Iterator[np.ndarray]:
    """The codes of `data`'s frames in order, `chunk` frames at a time (float32 blocks)."""
    layers = [{"W": jnp.asarray(p["W"]), "b": jnp.asarray(p["b"])} for p in encoder]

    # The arrays are arguments, not closed-over constants: XLA would otherwise fold the whole
    # frame array into the compiled program (slow to compile, and a second copy in memory).
    code = jax.jit(_inputs, static_argnums=2)
    packed = (data.frames, data.starts, data.ends, layers)

    n = data.n_frames
    for first in range(0, n, chunk):
        rows = np.arange(first, first + chunk, dtype=np.int32)
        codes = np.asarray(code(packed, jnp.asarray(np.minimum(rows, n - 1)), context))
        yield codes[: min(chunk, n - first)].astype(np.float32)
