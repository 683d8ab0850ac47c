"""The one training loop: `fit` a Flax NNX model, epoch after epoch, resumably.

Every trainer (the autoencoders, the MLP, the BLSTM) is `fit(model, loss, source, settings)`
and differs only in what it passes:

- `loss(model, batch, key) -> scalar`, a pure function (or a hashable callable value: the
  compiled step is cached on it);
- a batch source: `FrameBatches` (a seeded permutation of frame numbers; the step gathers
  the context windows from the frames on the device) or `UtteranceBatches` (length-sorted
  batches of utterances, padded to a few bucketed lengths);
- one `OptimizerSettings` (SGD or Adam, weight decay on matrices, constant or cosine);
- hooks called after every epoch with an `EpochEnd` (logging by default; the MLP's early
  stopping on its validation speaker is one), which may end training.

The model is split once (`nnx.split`); its state and the optimiser state go through one
compiled function that runs a whole chunk of steps in a `lax.scan` with donated buffers (a
chunk of up to `steps_per_call` frame batches, or one padded utterance batch), so Python is
off the hot path and the log still shows progress within an epoch. The data stays on the
device and is an argument of the compiled function, never a constant folded into it.

After every epoch a checkpoint (when asked for) holds the parameters, the optimiser state
and the history, so a killed run resumes from its last completed epoch and ends with exactly
the parameters of an uninterrupted run: every random draw depends only on (seed, epoch,
step), never on how many calls came before. A checkpoint that cannot be used is set aside
(`<name>.bad-N`) with a warning and training starts over. A loss that stops being finite
ends training with advice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from affectrep.data.featureset import FeatureIndex
from affectrep.data.pytree_io import load_tree, save_tree
from affectrep.defaults import default
from affectrep.progress import Progress

# The random generator every draw uses (see `affectrep.models`): the noise keys of the
# steps are drawn here.
jax.config.update("jax_threefry_partitionable", False)

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")


# --- optimiser settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerSettings:
    """How parameters move: SGD (with `momentum` when > 0) or Adam at `learning_rate`, L2
    `weight_decay` on weight matrices only (never on biases), and a constant or cosine-decayed
    rate. The defaults are the paper's autoencoder training (section 4), the config schema's
    `autoencoders` section (`affectrep.defaults`: every settings type below takes its
    defaults from the schema's section of its config).

    Each trainer's settings extend this type with their own fields (batch size, epochs,
    seed...), flat, so that a config section is their keyword arguments as it stands.
    `RUN_ONLY` names the fields that do not change the trained parameters (left out of
    `fingerprint`).
    """

    optimizer: str = default("autoencoders.optimizer")
    learning_rate: float = default("autoencoders.learning_rate")
    momentum: float = default("autoencoders.momentum")
    weight_decay: float = default("autoencoders.weight_decay")
    schedule: str = default("autoencoders.schedule")

    RUN_ONLY: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        problems = self.optimizer_problems()
        if problems:
            raise ValueError("; ".join(problems))

    def optimizer_problems(self) -> list[str]:
        """What is wrong with the optimiser fields (empty when nothing)."""
        problems = []
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer {self.optimizer!r} is not sgd or adam")
        if self.schedule not in SCHEDULES:
            problems.append(f"schedule {self.schedule!r} is not constant or cosine")
        return problems

    def optimizer_settings(self) -> OptimizerSettings:
        """The optimiser fields alone (what the compiled step depends on)."""
        return OptimizerSettings(
            **{f.name: getattr(self, f.name) for f in fields(OptimizerSettings)}
        )

    def fingerprint(self, **extra: Any) -> str:
        """A short hash of everything that determines the trained parameters: these settings
        but `RUN_ONLY`, and `extra` (model, data)."""
        settings = {k: v for k, v in asdict(self).items() if k not in self.RUN_ONLY}
        text = json.dumps({**settings, **extra}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _decay_mask(params: Any) -> Any:
    """Weight decay on weight matrices only, never on biases."""
    return jax.tree_util.tree_map(lambda leaf: leaf.ndim >= 2, params)


def make_optimizer(settings: OptimizerSettings, total_steps: int) -> optax.GradientTransformation:
    """The optax transformation of `settings`; `total_steps` is the cosine schedule's length."""
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


# --- batch sources ------------------------------------------------------------------------------


class BatchSource(Protocol):
    """Where the batches of an epoch come from.

    `data` (device arrays) is an argument of the compiled step; `batch(data, plan)` runs inside
    it and turns one step's slice of the plan into the loss's batch; `epoch(number)` yields
    the plan of each compiled call (arrays with a leading step axis), the number of its first
    step and the examples it holds. `sync_every` calls the loop waits for the device and
    reports progress.
    """

    data: Any
    batch_size: int
    unit: str
    rate_key: str
    sync_every: int
    advice: str

    @property
    def batch(self) -> Callable[[Any, Any], Any]: ...

    @property
    def n_examples(self) -> int: ...

    @property
    def steps_per_epoch(self) -> int: ...

    def describe(self) -> str: ...

    def epoch(self, number: int) -> Iterator[tuple[Any, int, int]]: ...


def epoch_shape(n_train: int, batch_size: int, steps_per_call: int) -> tuple[int, int, int]:
    """(batch, chunks, steps per chunk) of an epoch cut into equal chunks, so that the
    compiled scan is compiled once. The frames left over (fewer than one batch per chunk) are
    a different random few in every epoch."""
    batch = min(batch_size, n_train)
    steps = n_train // batch
    chunks = -(-steps // steps_per_call)
    return batch, chunks, steps // chunks


@dataclass(eq=False)
class FrameBatches:
    """Batches of `batch_size` examples (frame numbers, say) drawn without replacement from
    `n_examples`, in a fresh order every epoch: `default_rng([seed, epoch + first_draw])`.

    `batch(data, rows)` builds the loss's batch from `rows` (batch,) inside the compiled
    step (context windows gathered from the frames, see `affectrep.models.context`). The last
    incomplete batch of each epoch's order is left out (a different one every epoch). The
    epoch's steps run in chunks of `steps_per_call`, the last one shorter; with
    `equal_chunks` in chunks of one length (`epoch_shape`: one compilation, a few more
    steps left out).
    """

    data: Any
    batch: Callable[[Any, jax.Array], Any]
    n_examples: int
    batch_size: int
    seed: int
    steps_per_call: int = 200
    equal_chunks: bool = False
    first_draw: int = 0
    unit: str = "frames"
    rate_key: str = "examples_per_s"
    sync_every: int = 1
    advice: str = ""

    def _shape(self) -> tuple[int, int]:
        """(steps per epoch, steps per call)."""
        if self.equal_chunks:
            _, chunks, per_chunk = epoch_shape(
                self.n_examples, self.batch_size, self.steps_per_call
            )
            return chunks * per_chunk, per_chunk
        return self.n_examples // self.batch_size, self.steps_per_call

    @property
    def steps_per_epoch(self) -> int:
        return self._shape()[0]

    def describe(self) -> str:
        return (
            f"{self.n_examples} {self.unit}, {self.steps_per_epoch} steps/epoch of "
            f"{self.batch_size}"
        )

    def epoch(self, number: int) -> Iterator[tuple[jax.Array, int, int]]:
        steps, per_call = self._shape()
        batch = self.batch_size
        order = np.random.default_rng([self.seed, number + self.first_draw]).permutation(
            self.n_examples
        )
        rows = order[: steps * batch].reshape(steps, batch).astype(np.int32)
        for first in range(0, steps, per_call):
            chunk = rows[first : first + per_call]
            yield jnp.asarray(chunk), first, chunk.size


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


def whole_utterance_batches(
    index: FeatureIndex, batch_size: int, bucket_frames: int
) -> Iterator[tuple[np.ndarray, jax.Array, jax.Array]]:
    """Every utterance of `index`, whole, in batches of `batch_size` in length order (little
    padding): (the batch's utterance numbers, frame rows (batch_size, bucketed T), lengths
    (batch_size,)). The last batch is filled with zero-length rows, so that every batch has
    the compiled shape; for representations of trained models, not for training."""
    order = np.argsort(index.lengths, kind="stable")
    for first in range(0, len(index), batch_size):
        chosen = order[first : first + batch_size]
        starts = np.zeros(batch_size, dtype=np.int64)
        lengths = np.zeros(batch_size, dtype=np.int64)
        starts[: len(chosen)] = index.offsets[chosen]
        lengths[: len(chosen)] = index.lengths[chosen]
        rows = gather_rows(starts, lengths, bucket_length(int(lengths.max()), bucket_frames))
        yield chosen, jnp.asarray(rows), jnp.asarray(lengths, dtype=jnp.int32)


def padded_sequences(codes: jax.Array, plan: tuple[jax.Array, jax.Array]):
    """(x (batch, T, D), lengths (batch,)) of one step of an `UtteranceBatches` plan."""
    rows, lengths = plan
    return codes[rows], lengths


@dataclass(eq=False)
class UtteranceBatches:
    """Batches of `batch_size` whole utterances of `codes` ((n_frames, D), laid out by
    `index`), one compiled step per batch, padded to `bucket_length` (few shapes).

    Every epoch (`default_rng([seed, epoch])`) takes a random subset of whole batches (the
    leftover utterances differ every epoch); with `sort_by_length` each batch holds
    utterances of similar (jittered) length, less padding, and the batches are shuffled;
    with `max_frames` > 0 longer utterances are cropped to a random window of that many
    frames, a fresh one every epoch.
    """

    data: jax.Array
    index: FeatureIndex
    batch_size: int
    seed: int
    max_frames: int = 0
    bucket_frames: int = 32
    sort_by_length: bool = True
    batch: Callable = padded_sequences
    item: str = "codes"  # what a frame of `data` is, for the log
    unit: str = "utterances"
    rate_key: str = "utterances_per_s"
    sync_every: int = 20  # report what is computed, not what is queued, now and then
    advice: str = " (or crop long utterances with max_frames)"

    @property
    def n_examples(self) -> int:
        return len(self.index)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.index) // self.batch_size

    def describe(self) -> str:
        return (
            f"{len(self.index)} utterances of {self.data.shape[1]}-dim {self.item}, "
            f"{self.steps_per_epoch} batches/epoch of {self.batch_size}"
        )

    def batches(self, number: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(starts, lengths) of each batch of epoch `number`."""
        rng = np.random.default_rng([self.seed, number])
        n = len(self.index)
        batch = self.batch_size
        chosen = rng.permutation(n)[: (n // batch) * batch]
        starts = self.index.offsets[chosen].astype(np.int64)
        lengths = self.index.lengths[chosen].astype(np.int64)
        if self.max_frames:
            excess = np.maximum(lengths - self.max_frames, 0)
            starts = starts + np.floor(rng.random(len(chosen)) * (excess + 1)).astype(np.int64)
            lengths = np.minimum(lengths, self.max_frames)
        if self.sort_by_length:
            order = np.argsort(lengths * rng.uniform(0.8, 1.25, len(chosen)), kind="stable")
            starts, lengths = starts[order], lengths[order]
        groups = [
            (starts[i : i + batch], lengths[i : i + batch]) for i in range(0, len(chosen), batch)
        ]
        return [groups[i] for i in rng.permutation(len(groups))]

    def epoch(self, number: int) -> Iterator[tuple[tuple[jax.Array, jax.Array], int, int]]:
        for step, (starts, lengths) in enumerate(self.batches(number)):
            rows = gather_rows(
                starts, lengths, bucket_length(int(lengths.max()), self.bucket_frames)
            )
            plan = (jnp.asarray(rows[None]), jnp.asarray(lengths[None], dtype=jnp.int32))
            yield plan, step, len(lengths)


# --- the loop -----------------------------------------------------------------------------------

# The model class being trained: `fit` gives back (and its hooks see) the class it was given.
ModelT = TypeVar("ModelT", bound=nnx.Module)


@dataclass
class EpochEnd(Generic[ModelT]):
    """What a hook sees after each epoch. `model` holds the parameters after it (its arrays
    are reused by the next step: copy what you keep); `record` goes into the history, and a
    hook may replace it."""

    label: str
    epoch: int
    epochs: int
    loss: float
    examples: int
    seconds: float
    unit: str
    model: ModelT
    record: dict[str, Any]
    logger: logging.Logger


EpochHook = Callable[[EpochEnd[ModelT]], bool | None]


def log_epoch(end: EpochEnd[Any]) -> None:
    """The default hook: one log line per epoch (loss, speed, time)."""
    end.logger.info(
        "%s epoch %d/%d: loss %.4f, %.0f %s/s, %.1f s",
        end.label,
        end.epoch,
        end.epochs,
        end.loss,
        end.examples / end.seconds,
        end.unit,
        end.seconds,
    )


@dataclass
class Fit(Generic[ModelT]):
    """The trained model, one record per epoch (those of a resumed run's first part too), the
    number of epochs that came from a checkpoint, and whether a hook ended training."""

    model: ModelT
    history: list[dict[str, Any]]
    resumed_from_epoch: int
    stopped_early: bool = False


def fit(
    model: ModelT,
    loss: Callable[[ModelT, Any, jax.Array], jax.Array],
    source: BatchSource,
    settings: OptimizerSettings,
    *,
    epochs: int,
    seed: int,
    hooks: Sequence[EpochHook[ModelT]] = (log_epoch,),
    checkpoint: str | Path | None = None,
    fingerprint: str = "",
    logger: logging.Logger | None = None,
    label: str = "training",
    stop_after_epochs: int | None = None,
) -> Fit[ModelT]:
    """Train (a copy of) `model` to minimise `loss(model, source.batch(data, plan), key)` for
    `epochs` epochs; the noise key of step s of epoch e is fold_in(fold_in(key(seed), e), s).

    After each epoch every hook is called; one returning True ends training (after the
    epoch's record and checkpoint are written). `stop_after_epochs` ends early as if killed
    (for tests of resumption). A checkpoint whose `fingerprint` differs is not resumed from.
    """
    logger = logger or logging.getLogger(__name__)
    if source.steps_per_epoch == 0:
        raise ValueError(
            f"{label}: {source.n_examples} {source.unit} are fewer than one batch "
            f"of {source.batch_size}"
        )
    graphdef, params = nnx.split(model)
    # A copy of our own: the compiled step donates (reuses) the buffers it is given.
    params = jax.tree_util.tree_map(lambda leaf: jnp.array(leaf, copy=True), params)
    total_steps = source.steps_per_epoch * epochs
    optimizer = settings.optimizer_settings()
    opt_state = make_optimizer(optimizer, total_steps).init(params)
    params, opt_state, history = resume_checkpoint(
        checkpoint, fingerprint, params, opt_state, logger, label
    )
    start = len(history)
    last = epochs if stop_after_epochs is None else min(epochs, start + stop_after_epochs)
    run_chunk = compiled_steps(graphdef, loss, source.batch, optimizer, total_steps)
    base_key = jax.random.PRNGKey(seed)
    logger.info(
        "%s: %s, epochs %d..%d, device %s",
        label,
        source.describe(),
        start + 1,
        epochs,
        jax.devices()[0].device_kind,
    )
    stopped = False
    for epoch in range(start, last):
        params, opt_state, mean_loss, examples, seconds = _run_epoch(
            run_chunk,
            params,
            opt_state,
            source,
            epoch,
            jax.random.fold_in(base_key, epoch),
            logger,
            label,
        )
        end = EpochEnd(
            label,
            epoch + 1,
            epochs,
            mean_loss,
            examples,
            seconds,
            source.unit,
            nnx.merge(graphdef, params),
            {
                "epoch": epoch + 1,
                "loss": mean_loss,
                source.rate_key: examples / seconds,
                "seconds": seconds,
            },
            logger,
        )
        stopped = any([bool(hook(end)) for hook in hooks])
        history.append(end.record)
        if checkpoint is not None:
            save_checkpoint(checkpoint, fingerprint, params, opt_state, history)
        if stopped:
            break
    return Fit(nnx.merge(graphdef, params), history, start, stopped)


@functools.lru_cache(maxsize=16)
def compiled_steps(graphdef, loss, batch, optimizer: OptimizerSettings, total_steps: int):
    """The compiled function `fit` runs: `(params, opt_state, data, plan, epoch_key,
    first_step) -> (params, opt_state, losses)`, one step per entry of the plan's leading
    axis. One per model structure, loss, batch builder and optimiser (cached: repeated or
    resumed runs in one process reuse it; benchmarks time it directly)."""
    transform = make_optimizer(optimizer, total_steps)

    def run_chunk(params, opt_state, data, plan, epoch_key, first_step):
        def step(carry, inputs):
            params, opt_state = carry
            step_plan, number = inputs
            key = jax.random.fold_in(epoch_key, number)
            examples = batch(data, step_plan)
            value, grads = jax.value_and_grad(
                lambda p: loss(nnx.merge(graphdef, p), examples, key)
            )(params)
            updates, opt_state = transform.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), value

        n_steps = jax.tree_util.tree_leaves(plan)[0].shape[0]
        numbers = first_step + jnp.arange(n_steps)
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (plan, numbers))
        return params, opt_state, losses

    return jax.jit(run_chunk, donate_argnums=(0, 1))


def _run_epoch(run_chunk, params, opt_state, source, epoch, epoch_key, logger, label):
    progress = Progress(
        source.steps_per_epoch, f"{label} epoch {epoch + 1}", logger, unit="steps", every_s=10
    )
    started = time.perf_counter()
    losses = []
    examples = 0
    steps = 0
    for number, (plan, first, size) in enumerate(source.epoch(epoch)):
        params, opt_state, chunk_losses = run_chunk(
            params, opt_state, source.data, plan, epoch_key, jnp.int32(first)
        )
        losses.append(chunk_losses)
        examples += size
        steps += int(jax.tree_util.tree_leaves(plan)[0].shape[0])
        if (number + 1) % source.sync_every == 0:
            chunk_losses.block_until_ready()
            progress.update(steps)
    values = np.concatenate([np.asarray(value) for value in losses])
    seconds = time.perf_counter() - started
    progress.update(steps)
    if not np.all(np.isfinite(values)):
        raise FloatingPointError(
            f"{label}: loss became {values[~np.isfinite(values)][0]} in epoch {epoch + 1}; "
            f"lower the learning rate{source.advice}"
        )
    return params, opt_state, float(values.mean()), examples, seconds


# --- checkpoints --------------------------------------------------------------------------------


def _plain(tree: Any) -> Any:
    return nnx.to_pure_dict(tree) if isinstance(tree, nnx.State) else tree


def save_checkpoint(
    checkpoint: str | Path, fingerprint: str, params: Any, opt_state: Any, history: list[dict]
) -> None:
    """Parameters, optimiser state and the per-epoch records so far (one per epoch done)."""
    save_tree(
        checkpoint,
        {"params": _plain(params), "opt_state": jax.tree_util.tree_leaves(opt_state)},
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
    """The state saved by `save_checkpoint` when it was made with the same `fingerprint`
    (in the structure of `params` and `opt_state`), else the given initial state and an empty
    history. A checkpoint from other settings or data, or one that cannot be read (a crash
    mid-write on a file system that lost the rename's data, a truncated copy) or does not fit
    the model, is never half-used: it is moved aside (`set_aside`) with a log line naming it,
    and training starts over."""
    if checkpoint is None or not Path(checkpoint).exists():
        return params, opt_state, []
    try:
        state, meta = load_tree(checkpoint)
        if meta.get("fingerprint") != fingerprint:
            raise _CheckpointMismatchError("made with other settings or data")
        new = [jnp.asarray(leaf) for leaf in jax.tree_util.tree_leaves(state["params"])]
        old = jax.tree_util.tree_leaves(params)
        if len(new) != len(old) or any(a.shape != b.shape for a, b in zip(new, old, strict=True)):
            raise _CheckpointMismatchError("its parameters do not fit this model")
        restored = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params), new)
        leaves = [jnp.asarray(leaf) for leaf in state.get("opt_state", [])]
        structure = jax.tree_util.tree_structure(opt_state)
        if len(leaves) != len(jax.tree_util.tree_leaves(opt_state)):
            raise _CheckpointMismatchError("its optimiser state does not fit this optimiser")
        restored_opt = jax.tree_util.tree_unflatten(structure, leaves)
        history = list(meta["history"])
    except Exception as error:  # noqa: BLE001 - any unreadable checkpoint is set aside
        reason = (
            str(error)
            if isinstance(error, _CheckpointMismatchError)
            else (f"unreadable: {type(error).__name__}: {error}")
        )
        moved = set_aside(checkpoint)
        logger.warning(
            "%s: checkpoint %s %s; moved to %s, training starts over",
            label,
            checkpoint,
            reason,
            moved,
        )
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
