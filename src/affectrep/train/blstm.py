"""Training the BLSTM autoencoder over frame codes, and one vector per utterance with it.

The network (one bidirectional LSTM layer and a linear read-out, both directions in one
scan) is `affectrep.models.blstm`; training is `affectrep.train.loop.fit` over bucketed batches
of whole utterances (`UtteranceBatches`), with the per-utterance SSE as the loss. Parameters
are saved as a plain `.npz` (`forward/W`, ..., `readout/b`) with `affectrep.data.pytree_io`.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from affectrep.data.featureset import FeatureIndex
from affectrep.data.pooling import PoolingSpec, pool_one
from affectrep.data.pytree_io import load_tree, save_tree
from affectrep.defaults import default
from affectrep.models.blstm import (
    POOLINGS,
    BlstmAutoencoder,
    MaskedSequenceLoss,
    Params,
    check_hidden,
    sequence_loss,
)
from affectrep.progress import Progress
from affectrep.train.loop import (
    OptimizerSettings,
    UtteranceBatches,
    fit,
    whole_utterance_batches,
)

# How the states of an utterance become its vector: the model's own poolings (`mean`, `last`,
# compiled with the network) and `statistics` (`affectrep.data.pooling` over the states of
# the real frames, the summary that pooled codes get, so that the two are compared fairly).
VECTOR_POOLINGS = (*POOLINGS, "statistics")


@dataclass(frozen=True)
class BlstmSettings(OptimizerSettings):
    """Training settings; the defaults are the paper's (section 5.2: learning rate 1e-6,
    45 epochs, 16-dimensional representation, mean pooling), written in the config schema's
    `representations.blstm` section.

    `max_frames` > 0 crops longer utterances to a random window of that many frames during
    TRAINING only (a fresh window every epoch), bounding the cost of very long utterances;
    0 trains on whole utterances. Representations always use whole utterances.
    `bucket_frames` is the finest padding step (see `bucket_length`). With `sort_by_length`
    each batch holds utterances of similar length (less padding); the batches still change
    every epoch, and their order is shuffled. `pooling` is how `utterance_vectors` is called
    afterwards; it does not change training. `mask_ratio` > 0 trains a denoising
    autoencoder (`MaskedSequenceLoss`: spans of `span` frames zeroed in the input, every
    frame reconstructed); 0 is the paper's plain autoencoder.
    """

    optimizer: str = default("representations.blstm.optimizer")
    learning_rate: float = default("representations.blstm.learning_rate")
    momentum: float = default("representations.blstm.momentum")
    weight_decay: float = default("representations.blstm.weight_decay")
    schedule: str = default("representations.blstm.schedule")
    hidden: int = default("representations.blstm.hidden")
    epochs: int = default("representations.blstm.epochs")
    batch_size: int = default("representations.blstm.batch_size")
    max_frames: int = default("representations.blstm.max_frames")
    seed: int = default("representations.blstm.seed")
    pooling: str = default("representations.blstm.pooling")
    mask_ratio: float = default("representations.blstm.mask_ratio")
    span: int = default("representations.blstm.span")
    bucket_frames: int = 32
    sort_by_length: bool = True

    RUN_ONLY: ClassVar[tuple[str, ...]] = ("pooling",)

    def check(self) -> None:
        """Fail early, before data is loaded, on settings that cannot work."""
        check_hidden(self.hidden)
        if self.pooling not in VECTOR_POOLINGS:
            raise ValueError(f"pooling must be one of {VECTOR_POOLINGS}, not {self.pooling!r}")
        if self.batch_size < 1 or self.epochs < 0 or self.bucket_frames < 1:
            raise ValueError("batch_size and bucket_frames must be positive, epochs >= 0")
        if self.max_frames < 0:
            raise ValueError(f"max_frames must be 0 (no crop) or positive, not {self.max_frames}")
        if not 0 <= self.mask_ratio < 1:
            raise ValueError(f"mask_ratio must be 0 (no masking) or below 1, not {self.mask_ratio}")
        if self.span < 1:
            raise ValueError(f"span must be at least 1 frame, not {self.span}")

    def loss(self):
        """The training loss: the paper's SSE, or its denoising variant with masking."""
        if self.mask_ratio == 0:
            return sequence_loss
        return MaskedSequenceLoss(self.mask_ratio, self.span)


@dataclass
class BlstmHistory:
    """Per-epoch records (epoch, loss, utterances_per_s, seconds) and where training began."""

    records: list[dict[str, float]]
    resumed_from_epoch: int


def batches(codes: jax.Array, index: FeatureIndex, settings: BlstmSettings) -> UtteranceBatches:
    """The training batches of `settings` over `codes` (on the device) laid out by `index`."""
    return UtteranceBatches(
        codes,
        index,
        settings.batch_size,
        settings.seed,
        max_frames=settings.max_frames,
        bucket_frames=settings.bucket_frames,
        sort_by_length=settings.sort_by_length,
    )


def data_fingerprint(codes: np.ndarray, index: FeatureIndex) -> dict[str, Any]:
    """Shape and a cheap checksum of the codes: a checkpoint from other data is not resumed."""
    sample = np.asarray(codes[:: max(1, codes.shape[0] // 4096)], dtype=np.float64)
    return {
        "shape": list(codes.shape),
        "n_utterances": len(index),
        "lengths": int(np.sum(index.lengths * np.arange(1, len(index) + 1))),
        "checksum": round(float(sample.sum()), 3),
    }


def train_blstm(
    codes: np.ndarray,
    index: FeatureIndex,
    settings: BlstmSettings,
    *,
    checkpoint: str | Path | None = None,
    logger: logging.Logger | None = None,
    label: str = "blstm",
    stop_after_epochs: int | None = None,
) -> tuple[Params, BlstmHistory]:
    """Train the recurrent autoencoder on `codes` ((n_frames, D), utterances laid out by
    `index`). A checkpoint after every epoch lets a killed run resume to exactly the
    parameters of an uninterrupted one; `stop_after_epochs` ends early as if killed."""
    settings.check()
    logger = logger or logging.getLogger(__name__)
    model = BlstmAutoencoder.init(
        jax.random.PRNGKey(settings.seed), codes.shape[1], settings.hidden
    )
    fingerprint = settings.fingerprint(**data_fingerprint(codes, index))
    source = batches(jnp.asarray(codes, dtype=jnp.float32), index, settings)
    logger.info(
        "%s: hidden %d (%d per direction)%s",
        label,
        settings.hidden,
        settings.hidden // 2,
        f", {settings.mask_ratio:.0%} of frames masked in spans of {settings.span}"
        if settings.mask_ratio
        else "",
    )
    result = fit(
        model,
        settings.loss(),
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
    return result.model.tree(), BlstmHistory(result.history, result.resumed_from_epoch)


# --- representations -----------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames="pooling")
def _vectors(params, data, rows, lengths, pooling):
    return BlstmAutoencoder.from_tree(params).vectors(data[rows], lengths, pooling)


@jax.jit
def _states(params, data, rows, lengths):
    return BlstmAutoencoder.from_tree(params).states(data[rows], lengths)


def utterance_vectors(
    params: Params,
    codes: np.ndarray,
    index: FeatureIndex,
    pooling: str = "mean",
    *,
    statistics: PoolingSpec | None = None,
    batch_size: int = 64,
    bucket_frames: int = 32,
    logger: logging.Logger | None = None,
) -> np.ndarray:
    """One vector per utterance, (n_utterances, width) float32, in index order, from whole
    (uncropped) utterances: width = hidden for `mean` and `last`, `statistics.n_out(hidden)`
    for `statistics` (the states of its real frames pooled by `statistics`). Utterances are
    batched in length order to waste little padding."""
    if pooling not in VECTOR_POOLINGS:
        raise ValueError(f"pooling must be one of {VECTOR_POOLINGS}, not {pooling!r}")
    params = jax.tree_util.tree_map(jnp.asarray, params)
    hidden = int(params["readout"]["W"].shape[0])
    spec = PoolingSpec.of(statistics) if pooling == "statistics" else None
    width = spec.n_out(hidden) if spec is not None else hidden
    data = jnp.asarray(codes, dtype=jnp.float32)
    out = np.zeros((len(index), width), dtype=np.float32)
    progress = Progress(
        len(index),
        "blstm representations",
        logger or logging.getLogger(__name__),
        unit="utterances",
        every_s=10,
    )
    done = 0
    for chosen, rows, lengths in whole_utterance_batches(index, batch_size, bucket_frames):
        if spec is not None:
            states = np.asarray(_states(params, data, rows, lengths))
            for slot, utterance in enumerate(chosen):
                out[utterance] = pool_one(states[slot, : int(lengths[slot])], spec)
        else:
            out[chosen] = np.asarray(_vectors(params, data, rows, lengths, pooling))[: len(chosen)]
        done += len(chosen)
        progress.update(done)
    return out


def save_blstm(path: str | Path, params: Params, meta: dict | None = None) -> None:
    """Write parameters (plain `.npz`, see `affectrep.data.pytree_io`) and `meta` atomically."""
    save_tree(path, jax.tree_util.tree_map(np.asarray, params), meta)


def load_blstm(path: str | Path) -> tuple[Params, dict]:
    """Parameters and metadata written by `save_blstm`."""
    tree, meta = load_tree(path)
    return tree, meta
