"""A BLSTM recurrent autoencoder over the bottleneck codes of an utterance (paper 3.3, 5.2).

One bidirectional LSTM layer reads the sequence of frame codes of one utterance; a linear
read-out from the concatenated forward and backward hidden states reconstructs the sequence.
The loss is the sum of squared errors over the real frames of each utterance, summed over
frames and dimensions and divided by the number of utterances in the batch (the paper's SSE,
per utterance, so that the learning rate does not depend on the batch size).

The utterance representation is the mean of the hidden activations (forward and backward,
`hidden` numbers) over the utterance's frames, as the paper chose, or the `last` states:
the forward state after the last frame with the backward state after the first (each
direction's summary of the whole utterance). The paper's "BLSTM cell activations" are taken
to be the LSTM outputs h (the layer's activations); the memory cells c stay internal.

Variable lengths: a batch is padded to a bucketed length (few shapes, few compilations).
Both directions run in ONE `lax.scan`: the backward direction reads each utterance reversed
WITHIN its own length (an index gather), so for both directions the real frames come first
and the padding after them. Padding therefore never enters a state that is used, and masks
keep it out of the loss and the pooled representation.

Parameters are plain dicts of arrays (as in `affectrep.dae`), saved with `affectrep.pytree_io`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from affectrep.featureset import FeatureIndex
from affectrep.progress import Progress
from affectrep.pytree_io import load_tree, save_tree
from affectrep.training import (
    TrainSettings,
    make_optimizer,
    resume_checkpoint,
    save_checkpoint,
)

Params = dict[str, dict[str, jax.Array]]
POOLINGS = ("mean", "last")
DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class BlstmSettings:
    """Training settings; the defaults are the paper's (section 5.2: learning rate 1e-6,
    45 epochs, 16-dimensional representation, mean pooling).

    `max_frames` > 0 crops longer utterances to a random window of that many frames during
    TRAINING only (a fresh window every epoch), bounding the cost of very long utterances;
    0 trains on whole utterances. Representations always use whole utterances.
    `bucket_frames` is the finest padding step (see `bucket_length`). With `sort_by_length`
    each batch holds utterances of similar length (less padding); the batches still change
    every epoch, and their order is shuffled. `pooling` is how `utterance_vectors` is called
    afterwards; it does not change training.
    """

    hidden: int = 16
    optimizer: str = "sgd"
    learning_rate: float = 1e-6
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    epochs: int = 45
    batch_size: int = 32
    max_frames: int = 0
    seed: int = 0
    pooling: str = "mean"
    bucket_frames: int = 32
    sort_by_length: bool = True

    def check(self) -> None:
        """Fail early, before data is loaded, on settings that cannot work."""
        _check_hidden(self.hidden)
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {self.pooling!r}")
        if self.batch_size < 1 or self.epochs < 0 or self.bucket_frames < 1:
            raise ValueError("batch_size and bucket_frames must be positive, epochs >= 0")
        if self.max_frames < 0:
            raise ValueError(f"max_frames must be 0 (no crop) or positive, not {self.max_frames}")

    def fingerprint(self, **extra: Any) -> str:
        """A short hash of everything that determines the trained parameters (pooling only
        matters afterwards, so it is left out)."""
        settings = {k: v for k, v in asdict(self).items() if k != "pooling"}
        text = json.dumps({**settings, **extra}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_hidden(hidden: int) -> None:
    if hidden < 2 or hidden % 2:
        raise ValueError(
            f"hidden must be an even number >= 2 (half per direction), not {hidden}"
        )


# --- the model -----------------------------------------------------------------------------


def _glorot(key: jax.Array, n_in: int, n_out: int) -> jax.Array:
    limit = float(np.sqrt(6.0 / (n_in + n_out)))
    return jax.random.uniform(key, (n_in, n_out), jnp.float32, -limit, limit)


def init_blstm(key: jax.Array, n_in: int, hidden: int) -> Params:
    """Glorot-uniform weights, zero biases except the forget gates' (1: remember by default).

    Gate order in the fused matrices is input, forget, cell, output; `hidden // 2` units per
    direction. Biases are 1-D so that `make_optimizer` never decays them.
    """
    _check_hidden(hidden)
    half = hidden // 2
    keys = jax.random.split(key, 5)
    params: Params = {}
    for number, name in enumerate(DIRECTIONS):
        bias = jnp.zeros((4 * half,), jnp.float32).at[half : 2 * half].set(1.0)
        params[name] = {
            "W": _glorot(keys[2 * number], n_in, 4 * half),
            "U": _glorot(keys[2 * number + 1], half, 4 * half),
            "b": bias,
        }
    params["readout"] = {
        "W": _glorot(keys[4], hidden, n_in),
        "b": jnp.zeros((n_in,), jnp.float32),
    }
    return params


def reverse_within_length(lengths: jax.Array, n_steps: int) -> jax.Array:
    """(batch, n_steps) time indices that reverse each sequence within its own length:
    t -> length-1-t for real frames, padding positions stay where they are. The map is its
    own inverse, so the same indices bring the backward states back to frame order."""
    steps = jnp.arange(n_steps)[None, :]
    lengths = lengths[:, None]
    return jnp.where(steps < lengths, lengths - 1 - steps, steps)


def _scan_both(params: Params, x_fwd: jax.Array, x_bwd: jax.Array) -> jax.Array:
    """Run both directions in one scan over time. x_*: (batch, T, D) with real frames first.
    Returns hidden states (T, 2, batch, half), direction 0 forward, 1 backward (in its own,
    reversed, time)."""
    weights = jnp.stack([params[d]["W"] for d in DIRECTIONS])  # (2, D, 4h)
    recurrent = jnp.stack([params[d]["U"] for d in DIRECTIONS])  # (2, h, 4h)
    bias = jnp.stack([params[d]["b"] for d in DIRECTIONS])  # (2, 4h)
    # All input projections at once: one large matmul instead of one per time step.
    projected = jnp.einsum("kbtd,kdg->tkbg", jnp.stack([x_fwd, x_bwd]), weights)
    projected = projected + bias[None, :, None, :]
    half = recurrent.shape[1]
    batch = x_fwd.shape[0]

    def step(carry, gates_in):
        h, c = carry
        gates = gates_in + jnp.einsum("kbh,khg->kbg", h, recurrent)
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((2, batch, half), jnp.float32)
    _, states = jax.lax.scan(step, (zeros, zeros), projected)
    return states


def blstm_states(params: Params, x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Hidden activations in frame order, (batch, T, hidden): forward half then backward.

    x: (batch, T, D) padded sequences, lengths: (batch,). Values at t >= length are
    meaningless (and the padding of `x` never influences positions t < length).
    """
    n_steps = x.shape[1]
    reverse = reverse_within_length(lengths, n_steps)
    x_bwd = jnp.take_along_axis(x, reverse[:, :, None], axis=1)
    states = _scan_both(params, x, x_bwd)
    forward = jnp.transpose(states[:, 0], (1, 0, 2))
    backward = jnp.take_along_axis(jnp.transpose(states[:, 1], (1, 0, 2)),
                                   reverse[:, :, None], axis=1)
    return jnp.concatenate([forward, backward], axis=-1)


def _mask(lengths: jax.Array, n_steps: int) -> jax.Array:
    return (jnp.arange(n_steps)[None, :] < lengths[:, None]).astype(jnp.float32)


def reconstruct(params: Params, states: jax.Array) -> jax.Array:
    """The linear read-out: (batch, T, hidden) -> (batch, T, D)."""
    return states @ params["readout"]["W"] + params["readout"]["b"]


def utterance_sse(params: Params, x: jax.Array, lengths: jax.Array) -> jax.Array:
    """Per-utterance SSE over real frames: (batch,)."""
    error = (reconstruct(params, blstm_states(params, x, lengths)) - x) ** 2
    return jnp.sum(jnp.sum(error, axis=-1) * _mask(lengths, x.shape[1]), axis=1)


def loss(params: Params, x: jax.Array, lengths: jax.Array) -> jax.Array:
    """SSE summed over each utterance's real frames and dimensions, averaged over the batch."""
    return jnp.mean(utterance_sse(params, x, lengths))


def pool(states: jax.Array, lengths: jax.Array, pooling: str) -> jax.Array:
    """Utterance vectors (batch, hidden) from frame-order states (batch, T, hidden).

    `mean`: average over real frames (a zero-length row gives zeros). `last`: forward state
    at the last real frame and backward state at the first frame.
    """
    if pooling == "mean":
        mask = _mask(lengths, states.shape[1])[:, :, None]
        return jnp.sum(states * mask, axis=1) / jnp.maximum(lengths, 1)[:, None]
    if pooling == "last":
        half = states.shape[-1] // 2
        last = jnp.clip(lengths - 1, 0, states.shape[1] - 1)
        forward = jnp.take_along_axis(states[:, :, :half], last[:, None, None], axis=1)[:, 0]
        return jnp.concatenate([forward, states[:, 0, half:]], axis=-1)
    raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")


# --- batches -------------------------------------------------------------------------------


def bucket_length(n: int, base: int = 32) -> int:
    """Pad length for a batch whose longest utterance has `n` frames.

    Quarter-octave steps (n in [2^k, 2^(k+1)) rounds up to a multiple of 2^(k-2)), but never
    finer than `base`: padding wastes < 25% beyond 4*base frames, and a corpus needs only
    ~4 compiled shapes per doubling of length.
    """
    n = max(int(n), 1)
    step = max(base, 1 << max(n.bit_length() - 3, 0))
    return -(-n // step) * step


def gather_rows(starts: np.ndarray, lengths: np.ndarray, n_steps: int) -> np.ndarray:
    """(batch, n_steps) frame rows of each utterance; padding repeats the last real frame
    (any value would do, it is never used), zero-length rows point at `starts`."""
    steps = np.arange(n_steps)[None, :]
    last = np.maximum(lengths[:, None] - 1, 0)
    return (starts[:, None] + np.minimum(steps, last)).astype(np.int32)


def _epoch_batches(
    index: FeatureIndex, settings: BlstmSettings, epoch: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(starts, lengths) of each batch of one epoch; depends only on (seed, epoch).

    A random subset of whole batches (the leftover utterances differ every epoch); with
    `sort_by_length`, utterances are batched in order of jittered length, then batches are
    shuffled; with `max_frames`, long utterances are cropped to a random window.
    """
    rng = np.random.default_rng([settings.seed, epoch])
    n = len(index)
    batch = settings.batch_size
    chosen = rng.permutation(n)[: (n // batch) * batch]
    starts = index.offsets[chosen].astype(np.int64)
    lengths = index.lengths[chosen].astype(np.int64)
    if settings.max_frames:
        excess = np.maximum(lengths - settings.max_frames, 0)
        starts = starts + np.floor(rng.random(len(chosen)) * (excess + 1)).astype(np.int64)
        lengths = np.minimum(lengths, settings.max_frames)
    if settings.sort_by_length:
        order = np.argsort(lengths * rng.uniform(0.8, 1.25, len(chosen)), kind="stable")
        starts, lengths = starts[order], lengths[order]
    groups = [(starts[i : i + batch], lengths[i : i + batch])
              for i in range(0, len(chosen), batch)]
    return [groups[i] for i in rng.permutation(len(groups))]


# --- training ------------------------------------------------------------------------------


@dataclass
class BlstmHistory:
    """Per-epoch records (epoch, loss, utterances_per_s, seconds) and where training began."""

    records: list[dict[str, float]]
    resumed_from_epoch: int


@functools.lru_cache(maxsize=8)
def _make_step(optimizer_key: tuple, total_steps: int):
    """One jitted training step per optimiser (cached: repeated or resumed runs in one process
    reuse the compiled code)."""
    optimizer = _optimizer(optimizer_key, total_steps)

    def step(params, opt_state, codes, rows, lengths):
        x = codes[rows]
        value, grads = jax.value_and_grad(loss)(params, x, lengths)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return jax.jit(step, donate_argnums=(0, 1))


def _optimizer_key(settings: BlstmSettings) -> tuple:
    """What `make_optimizer` depends on (and nothing else, so that the cache hits)."""
    return (settings.optimizer, settings.learning_rate, settings.momentum,
            settings.weight_decay, settings.schedule)


def _optimizer(key: tuple, total_steps: int) -> optax.GradientTransformation:
    optimizer, learning_rate, momentum, weight_decay, schedule = key
    return make_optimizer(
        TrainSettings(optimizer=optimizer, learning_rate=learning_rate, momentum=momentum,
                      weight_decay=weight_decay, schedule=schedule), total_steps)


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
    n_batches = len(index) // settings.batch_size
    if n_batches == 0:
        raise ValueError(f"{label}: {len(index)} utterances are fewer than one batch of "
                         f"{settings.batch_size}")
    total_steps = n_batches * settings.epochs if settings.schedule == "cosine" else 0
    optimizer = _optimizer(_optimizer_key(settings), total_steps)
    params = init_blstm(jax.random.PRNGKey(settings.seed), codes.shape[1], settings.hidden)
    opt_state = optimizer.init(params)
    fingerprint = settings.fingerprint(**data_fingerprint(codes, index))
    params, opt_state, records = resume_checkpoint(checkpoint, fingerprint, params, opt_state,
                                                   logger, label)
    start = len(records)
    last = settings.epochs if stop_after_epochs is None else min(
        settings.epochs, start + stop_after_epochs)
    step = _make_step(_optimizer_key(settings), total_steps)
    data = jnp.asarray(codes, dtype=jnp.float32)
    logger.info("%s: %d utterances of %d-dim codes, %d batches/epoch of %d, hidden %d, "
                "epochs %d..%d, device %s", label, len(index), codes.shape[1], n_batches,
                settings.batch_size, settings.hidden, start + 1, settings.epochs,
                jax.devices()[0].device_kind)
    for epoch in range(start, last):
        params, opt_state, record = _run_epoch(step, params, opt_state, data, index, settings,
                                               epoch, logger, label)
        records.append(record)
        if checkpoint is not None:
            save_checkpoint(checkpoint, fingerprint, params, opt_state, records)
    return params, BlstmHistory(records, start)


def _run_epoch(step, params, opt_state, data, index, settings, epoch, logger, label):
    batches = _epoch_batches(index, settings, epoch)
    n_utts = len(batches) * settings.batch_size
    progress = Progress(n_utts, f"{label} epoch {epoch + 1}", logger, unit="utterances",
                        every_s=10)
    started = time.perf_counter()
    losses = []
    for number, (starts, lengths) in enumerate(batches):
        n_steps = bucket_length(int(lengths.max()), settings.bucket_frames)
        rows = gather_rows(starts, lengths, n_steps)
        params, opt_state, value = step(params, opt_state, data, jnp.asarray(rows),
                                        jnp.asarray(lengths, dtype=jnp.int32))
        losses.append(value)
        if number % 20 == 19 or number == len(batches) - 1:
            value.block_until_ready()  # report what is computed, not what is queued
            progress.update((number + 1) * settings.batch_size)
    values = np.asarray(jnp.stack(losses))
    elapsed = time.perf_counter() - started
    if not np.all(np.isfinite(values)):
        raise FloatingPointError(
            f"{label}: loss became {values[~np.isfinite(values)][0]} in epoch {epoch + 1}; "
            "lower the learning rate (or crop long utterances with max_frames)"
        )
    record = {"epoch": epoch + 1, "loss": float(values.mean()),
              "utterances_per_s": n_utts / elapsed, "seconds": elapsed}
    logger.info("%s epoch %d/%d: loss %.4f per utterance, %.0f utterances/s, %.1f s",
                label, epoch + 1, settings.epochs, record["loss"], record["utterances_per_s"],
                elapsed)
    return params, opt_state, record


# --- representations -----------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames="pooling")
def _vectors(params, data, rows, lengths, pooling):
    return pool(blstm_states(params, data[rows], lengths), lengths, pooling)


def utterance_vectors(
    params: Params,
    codes: np.ndarray,
    index: FeatureIndex,
    pooling: str = "mean",
    *,
    batch_size: int = 64,
    bucket_frames: int = 32,
    logger: logging.Logger | None = None,
) -> np.ndarray:
    """One vector per utterance, (n_utterances, hidden) float32, in index order, from whole
    (uncropped) utterances. Utterances are batched in length order to waste little padding."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
    params = jax.tree_util.tree_map(jnp.asarray, params)
    hidden = int(params["readout"]["W"].shape[0])
    data = jnp.asarray(codes, dtype=jnp.float32)
    n = len(index)
    out = np.zeros((n, hidden), dtype=np.float32)
    order = np.argsort(index.lengths, kind="stable")
    progress = Progress(n, "blstm representations", logger or logging.getLogger(__name__),
                        unit="utterances", every_s=10)
    for first in range(0, n, batch_size):
        chosen = order[first : first + batch_size]
        starts = np.zeros(batch_size, dtype=np.int64)
        lengths = np.zeros(batch_size, dtype=np.int64)  # zero-length rows fill the last batch
        starts[: len(chosen)] = index.offsets[chosen]
        lengths[: len(chosen)] = index.lengths[chosen]
        rows = gather_rows(starts, lengths, bucket_length(int(lengths.max()), bucket_frames))
        result = _vectors(params, data, jnp.asarray(rows),
                          jnp.asarray(lengths, dtype=jnp.int32), pooling)
        out[chosen] = np.asarray(result)[: len(chosen)]
        progress.update(first + len(chosen))
    return out


def save_blstm(path: str | Path, params: Params, meta: dict | None = None) -> None:
    """Write parameters (plain `.npz`, see `affectrep.pytree_io`) and `meta` atomically."""
    save_tree(path, jax.tree_util.tree_map(np.asarray, params), meta)


def load_blstm(path: str | Path) -> tuple[Params, dict]:
    """Parameters and metadata written by `save_blstm`."""
    tree, meta = load_tree(path)
    return tree, meta
