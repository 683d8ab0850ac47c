"""Minibatch training compiled with JAX: many steps per call inside `lax.scan`, resumable.

The data (frames and index arrays) are moved to the device once. Each epoch draws a fresh
permutation of the examples on the host; chunks of `steps_per_call` steps run as one compiled
`lax.scan` (Python is off the hot path, and the log still shows progress within an epoch).
After every epoch a checkpoint holds the parameters, the optimiser state and the loss
history, so a killed run resumes from its last completed epoch and ends with exactly the
parameters an uninterrupted run would have: every random draw depends only on
(seed, epoch, step), never on how many calls came before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from affectrep.progress import Progress
from affectrep.pytree_io import load_tree, save_tree

# Cheap masking noise needs the non-partitionable threefry generator (PERF.md: 3x faster
# 8-bit draws); it also keeps random streams identical on CPU and GPU.
jax.config.update("jax_threefry_partitionable", False)

LossFn = Callable[[Any, jax.Array, jax.Array], jax.Array]
BatchFn = Callable[[Any, jax.Array], jax.Array]


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings; the defaults are the paper's (section 4)."""

    optimizer: str = "sgd"
    learning_rate: float = 1e-4
    momentum: float = 0.0
    weight_decay: float = 1e-4
    schedule: str = "constant"
    batch_size: int = 500
    epochs: int = 5
    noise: float = 0.2
    seed: int = 0
    steps_per_call: int = 200

    def fingerprint(self, **extra: Any) -> str:
        """A short hash of everything that determines the result (not `steps_per_call`)."""
        settings = {k: v for k, v in asdict(self).items() if k != "steps_per_call"}
        text = json.dumps({**settings, **extra}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _decay_mask(params: Any) -> Any:
    """Weight decay on weight matrices only, never on biases."""
    return jax.tree_util.tree_map(lambda leaf: leaf.ndim >= 2, params)


def make_optimizer(settings: TrainSettings, total_steps: int) -> optax.GradientTransformation:
    """SGD (optionally with momentum) or Adam, L2 weight decay, constant or cosine schedule."""
    if settings.schedule == "constant":
        rate: float | optax.Schedule = settings.learning_rate
    elif settings.schedule == "cosine":
        rate = optax.cosine_decay_schedule(settings.learning_rate, max(total_steps, 1))
    else:
        raise ValueError(f"unknown schedule {settings.schedule!r} (constant or cosine)")
    if settings.optimizer == "sgd":
        step = optax.sgd(rate, momentum=settings.momentum or None)
    elif settings.optimizer == "adam":
        step = optax.adam(rate)
    else:
        raise ValueError(f"unknown optimizer {settings.optimizer!r} (sgd or adam)")
    decay = optax.add_decayed_weights(settings.weight_decay, mask=_decay_mask)
    return optax.chain(decay, step) if settings.weight_decay else step


def make_chunk_runner(loss_fn: LossFn, batch_fn: BatchFn, optimizer: optax.GradientTransformation):
    def run_chunk(params, opt_state, data, rows, epoch_key, first_step):
        def step(carry, inputs):
            params, opt_state = carry
            batch_rows, number = inputs
            key = jax.random.fold_in(epoch_key, number)
            loss, grads = jax.value_and_grad(loss_fn)(params, batch_fn(data, batch_rows), key)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        numbers = first_step + jnp.arange(rows.shape[0])
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (rows, numbers))
        return params, opt_state, losses

    return jax.jit(run_chunk, donate_argnums=(0, 1))


@dataclass
class TrainResult:
    params: Any
    history: list[dict[str, float]]
    resumed_from_epoch: int


def train(
    params: Any,
    loss_fn: LossFn,
    batch_fn: BatchFn,
    data: Any,
    n_examples: int,
    settings: TrainSettings,
    *,
    checkpoint: str | Path | None = None,
    fingerprint: str = "",
    logger: logging.Logger | None = None,
    label: str = "training",
    stop_after_epochs: int | None = None,
) -> TrainResult:
    """Train `params` to minimise `loss_fn(params, batch_fn(data, rows), key)`.

    `rows` are `batch_size` example indices in [0, n_examples); the last incomplete batch of
    each epoch's permutation is left out (a different one every epoch). `stop_after_epochs`
    ends early as if killed (for tests of resumption).
    """
    logger = logger or logging.getLogger(__name__)
    batch = settings.batch_size
    steps_per_epoch = n_examples // batch
    if steps_per_epoch == 0:
        raise ValueError(f"{label}: {n_examples} examples are fewer than one batch of {batch}")
    optimizer = make_optimizer(settings, steps_per_epoch * settings.epochs)
    opt_state = optimizer.init(params)
    params, opt_state, history = resume_checkpoint(
        checkpoint, fingerprint, params, opt_state, logger, label
    )
    start_epoch = len(history)
    run_chunk = make_chunk_runner(loss_fn, batch_fn, optimizer)
    base_key = jax.random.PRNGKey(settings.seed)
    last_epoch = settings.epochs if stop_after_epochs is None else min(
        settings.epochs, start_epoch + stop_after_epochs
    )
    logger.info(
        "%s: %d examples, %d steps/epoch of %d, epochs %d..%d, device %s",
        label, n_examples, steps_per_epoch, batch, start_epoch + 1, settings.epochs,
        jax.devices()[0].device_kind,
    )
    for epoch in range(start_epoch, last_epoch):
        params, opt_state, record = _run_epoch(
            run_chunk, params, opt_state, data, n_examples, settings, epoch, base_key,
            logger, label,
        )
        history.append(record)
        if checkpoint is not None:
            save_checkpoint(checkpoint, fingerprint, params, opt_state, history)
    return TrainResult(params, history, start_epoch)


def save_checkpoint(
    checkpoint: str | Path, fingerprint: str, params: Any, opt_state: Any, history: list[dict]
) -> None:
    """Parameters, optimiser state and the per-epoch records so far (one per epoch done)."""
    save_tree(
        checkpoint,
        {"params": params, "opt_state": jax.tree_util.tree_leaves(opt_state)},
        {"fingerprint": fingerprint, "epoch": len(history), "history": history},
    )


def resume_checkpoint(
    checkpoint: str | Path | None,
    fingerprint: str,
    params: Any,
    opt_state: Any,
    logger: logging.Logger,
    label: str,
) -> tuple[Any, Any, list[dict]]:
    """The state saved by `save_checkpoint` when it was made with the same `fingerprint`,
    else the given initial state and an empty history. A checkpoint from other settings or
    data, or one that cannot be read (a crash mid-write on a file system that lost the
    rename's data, a truncated copy) or does not fit the model, is never half-used: it is
    moved aside (`set_aside`) with a log line naming it, and training starts over."""
    if checkpoint is None or not Path(checkpoint).exists():
        return params, opt_state, []
    try:
        state, meta = load_tree(checkpoint)
        if meta.get("fingerprint") != fingerprint:
            raise _CheckpointMismatchError("made with other settings or data")
        restored = jax.tree_util.tree_map(jnp.asarray, state["params"])
        new, old = jax.tree_util.tree_leaves(restored), jax.tree_util.tree_leaves(params)
        if len(new) != len(old) or any(a.shape != b.shape for a, b in zip(new, old, strict=True)):
            raise _CheckpointMismatchError("its parameters do not fit this model")
        leaves = [jnp.asarray(leaf) for leaf in state.get("opt_state", [])]
        structure = jax.tree_util.tree_structure(opt_state)
        if len(leaves) != structure.num_leaves:
            raise _CheckpointMismatchError("its optimiser state does not fit this optimiser")
        restored_opt = jax.tree_util.tree_unflatten(structure, leaves)
        history = list(meta["history"])
    except Exception as error:  # noqa: BLE001 - any unreadable checkpoint is set aside
        reason = str(error) if isinstance(error, _CheckpointMismatchError) else (
            f"unreadable: {type(error).__name__}: {error}")
        moved = set_aside(checkpoint)
        logger.warning("%s: checkpoint %s %s; moved to %s, training starts over",
                       label, checkpoint, reason, moved)
        return params, opt_state, []
    logger.info("%s: resuming after epoch %d from %s", label, meta["epoch"], checkpoint)
    return restored, restored_opt, history


class _CheckpointMismatchError(Exception):
    """A readable checkpoint that is not one of this run."""


def set_aside(path: str | Path) -> Path:
    """Rename a file that cannot be used to `<name>.bad-<n>` beside it (nothing is deleted:
    a user can still look at it) and return the new path."""
    path = Path(path)
    number = 1
    while (moved := path.with_name(f"{path.name}.bad-{number}")).exists():
        number += 1
    os.replace(path, moved)
    return moved


def _run_epoch(run_chunk, params, opt_state, data, n_examples, settings, epoch, base_key,
               logger, label):
    batch = settings.batch_size
    steps = n_examples // batch
    order = np.random.default_rng([settings.seed, epoch]).permutation(n_examples)
    rows = order[: steps * batch].reshape(steps, batch).astype(np.int32)
    epoch_key = jax.random.fold_in(base_key, epoch)
    progress = Progress(steps, f"{label} epoch {epoch + 1}", logger, unit="steps", every_s=10)
    started = time.perf_counter()
    losses = []
    for first in range(0, steps, settings.steps_per_call):
        chunk = jnp.asarray(rows[first : first + settings.steps_per_call])
        params, opt_state, chunk_losses = run_chunk(
            params, opt_state, data, chunk, epoch_key, jnp.int32(first)
        )
        losses.append(np.asarray(chunk_losses))
        progress.update(first + chunk.shape[0])
    elapsed = time.perf_counter() - started
    losses_all = np.concatenate(losses)
    if not np.all(np.isfinite(losses_all)):
        raise FloatingPointError(
            f"{label}: loss became {losses_all[~np.isfinite(losses_all)][0]} in epoch "
            f"{epoch + 1}; lower the learning rate"
        )
    record = {
        "epoch": epoch + 1,
        "loss": float(losses_all.mean()),
        "examples_per_s": steps * batch / elapsed,
        "seconds": elapsed,
    }
    logger.info(
        "%s epoch %d/%d: loss %.4f, %.0f frames/s, %.1f s",
        label, epoch + 1, settings.epochs, record["loss"], record["examples_per_s"], elapsed,
    )
    return params, opt_state, record
