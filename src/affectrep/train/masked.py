"""Training the masked spectrogram model, and one vector per utterance with it.

The network and its loss are `affectrep.models.masked`; training is
`affectrep.train.loop.fit` over batches of random crops (`UtteranceBatches` with
`max_frames` = `crop_frames` and one padding length, so the step is compiled once): every
epoch takes one fresh crop of `crop_frames` frames of each utterance (shorter ones whole,
padded and left out of the loss), and each step masks fresh spans (the mask is drawn inside
the compiled step from the step's key). Parameters are a plain `.npz` (`input/W`, `mask`,
`blocks/0/conv/W`, ...) with the settings, the dilations and the loss per epoch in `meta`.

The representation (`utterance_vectors`) is the encoder's output on each whole, unmasked
utterance, in batches of similar lengths padded to a few bucketed lengths, pooled over the
utterance's frames by `affectrep.data.pooling`.
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
from affectrep.models.masked import (
    MaskedEncoder,
    MaskedPredictionLoss,
    check_architecture,
    check_masking,
    dilations,
    receptive_field,
)
from affectrep.progress import Progress
from affectrep.train.loop import (
    OptimizerSettings,
    UtteranceBatches,
    fit,
    whole_utterance_batches,
)


@dataclass(frozen=True)
class MaskedSettings(OptimizerSettings):
    """The config schema's `representations.masked` section (its defaults): the spectrogram
    the model reads, the encoder's size, the masking and the training (Adam at 1e-3 with a
    cosine schedule; not from the paper, which has no such model). `pooling` statistics
    come from `representations.pooling`, like the `pooled` column's."""

    optimizer: str = default("representations.masked.optimizer")
    learning_rate: float = default("representations.masked.learning_rate")
    momentum: float = default("representations.masked.momentum")
    weight_decay: float = default("representations.masked.weight_decay")
    schedule: str = default("representations.masked.schedule")
    spectrogram: str = default("representations.masked.spectrogram")
    width: int = default("representations.masked.width")
    layers: int = default("representations.masked.layers")
    kernel: int = default("representations.masked.kernel")
    dilated: bool = default("representations.masked.dilated")
    crop_frames: int = default("representations.masked.crop_frames")
    mask_ratio: float = default("representations.masked.mask_ratio")
    span: int = default("representations.masked.span")
    epochs: int = default("representations.masked.epochs")
    batch_size: int = default("representations.masked.batch_size")
    seed: int = default("representations.masked.seed")

    RUN_ONLY: ClassVar[tuple[str, ...]] = ()

    def check(self) -> None:
        """Fail early, before data is loaded, on settings that cannot work."""
        check_architecture(self.width, self.layers, self.kernel)
        check_masking(self.mask_ratio, self.span)
        if self.crop_frames < self.span:
            raise ValueError(
                f"crop_frames ({self.crop_frames}) must hold at least one span ({self.span})"
            )
        if self.batch_size < 1 or self.epochs < 0:
            raise ValueError("batch_size must be positive and epochs >= 0")

    @property
    def dilations(self) -> list[int]:
        return dilations(self.layers, self.dilated)


@dataclass
class MaskedHistory:
    """Per-epoch records (epoch, loss, utterances_per_s, seconds) and where training began."""

    records: list[dict[str, float]]
    resumed_from_epoch: int


def crop_batches(frames: jax.Array, index: FeatureIndex, settings: MaskedSettings):
    """A fresh random crop of each utterance every epoch, in random batches, all padded to
    `crop_frames` (one compiled shape)."""
    return UtteranceBatches(
        frames,
        index,
        settings.batch_size,
        settings.seed,
        max_frames=settings.crop_frames,
        bucket_frames=settings.crop_frames,
        sort_by_length=False,
        item="frames",
        advice=" (or use fewer crop_frames)",
    )


def data_fingerprint(frames: np.ndarray, index: FeatureIndex) -> dict[str, Any]:
    """Shape and a cheap checksum of the frames: a checkpoint from other data is not resumed."""
    sample = np.asarray(frames[:: max(1, frames.shape[0] // 4096)], dtype=np.float64)
    return {
        "shape": list(frames.shape),
        "n_utterances": len(index),
        "lengths": int(np.sum(index.lengths * np.arange(1, len(index) + 1))),
        "checksum": round(float(sample.sum()), 3),
    }


def init_model(n_in: int, settings: MaskedSettings) -> MaskedEncoder:
    return MaskedEncoder.init(
        jax.random.PRNGKey(settings.seed),
        n_in,
        width=settings.width,
        layers=settings.layers,
        kernel=settings.kernel,
        dilated=settings.dilated,
    )


def train_masked(
    frames: np.ndarray,
    index: FeatureIndex,
    settings: MaskedSettings,
    *,
    checkpoint: str | Path | None = None,
    logger: logging.Logger | None = None,
    label: str = "masked",
    stop_after_epochs: int | None = None,
) -> tuple[dict, MaskedHistory]:
    """Train the masked-prediction model on `frames` ((n_frames, D), utterances laid out by
    `index`). A checkpoint after every epoch lets a killed run resume to exactly the
    parameters of an uninterrupted one; `stop_after_epochs` ends early as if killed."""
    settings.check()
    logger = logger or logging.getLogger(__name__)
    model = init_model(int(frames.shape[1]), settings)
    fingerprint = settings.fingerprint(**data_fingerprint(frames, index))
    source = crop_batches(jnp.asarray(frames, dtype=jnp.float32), index, settings)
    logger.info(
        "%s: %d conv layers of width %d, kernel %d, dilations %s (receptive field %d frames); "
        "crops of %d frames, %.0f %% masked in spans of %d",
        label,
        settings.layers,
        settings.width,
        settings.kernel,
        settings.dilations,
        receptive_field(settings.kernel, settings.dilations),
        settings.crop_frames,
        100 * settings.mask_ratio,
        settings.span,
    )
    result = fit(
        model,
        MaskedPredictionLoss(settings.mask_ratio, settings.span),
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
    return result.model.tree(), MaskedHistory(result.history, result.resumed_from_epoch)


# --- representations -----------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames="layer_dilations")
def _encode(params, data, rows, lengths, layer_dilations):
    return MaskedEncoder.from_tree(params, layer_dilations).encode(data[rows], lengths)


def frame_representations(
    params: dict,
    layer_dilations: list[int] | tuple[int, ...],
    frames: np.ndarray,
    index: FeatureIndex,
    *,
    batch_size: int = 32,
    bucket_frames: int = 32,
    logger: logging.Logger | None = None,
):
    """(utterance number, its frames' representations (n_frames, width)) of every utterance
    of `index`, whole and unmasked, in order of length."""
    params = jax.tree_util.tree_map(jnp.asarray, params)
    data = jnp.asarray(frames, dtype=jnp.float32)
    progress = Progress(
        len(index),
        "masked representations",
        logger or logging.getLogger(__name__),
        unit="utterances",
    )
    done = 0
    for chosen, rows, lengths in whole_utterance_batches(index, batch_size, bucket_frames):
        encoded = np.asarray(_encode(params, data, rows, lengths, tuple(layer_dilations)))
        for slot, utterance in enumerate(chosen):
            yield int(utterance), encoded[slot, : int(lengths[slot])]
        done += len(chosen)
        progress.update(done)


def utterance_vectors(
    params: dict,
    layer_dilations: list[int] | tuple[int, ...],
    frames: np.ndarray,
    index: FeatureIndex,
    statistics: PoolingSpec | dict | None = None,
    *,
    logger: logging.Logger | None = None,
) -> np.ndarray:
    """(n_utterances, spec.n_out(width)) float32 in index order: the statistics (`statistics`,
    a `PoolingSpec` or its fields) of each utterance's frame representations."""
    spec = PoolingSpec.of(statistics)
    width = int(np.asarray(params["input"]["W"]).shape[1])
    out = np.zeros((len(index), spec.n_out(width)), dtype=np.float32)
    for utterance, encoded in frame_representations(
        params, layer_dilations, frames, index, logger=logger
    ):
        out[utterance] = pool_one(encoded, spec)
    return out


def save_masked(path: str | Path, params: dict, meta: dict | None = None) -> None:
    """Write parameters (plain `.npz`, see `affectrep.data.pytree_io`) and `meta` atomically."""
    save_tree(path, jax.tree_util.tree_map(np.asarray, params), meta)


def load_masked(path: str | Path) -> tuple[dict, dict]:
    """Parameters and metadata written by `save_masked` (`meta["dilations"]`: the blocks')."""
    tree, meta = load_tree(path)
    return tree, meta
