"""Frame-level MLP emotion classifier with utterance decisions (paper section 6, Table 2).

The network reads the same input as the autoencoder it may start from: a context window of
spectrogram frames (TIED-128-5: 5 frames of fft128 = 640 dims), gathered inside the compiled
step from the frame array and per-frame utterance bounds (`affectrep.models.context`), never stored.
Hidden layers are tanh (320-160-80 by default, the TIED-128-5 encoder), topped by a 4-way
softmax. Initialised from a pretrained encoder it is the paper's "Pretrained MLP"; from Glorot
random weights it is the "MLP without pre-training" baseline; either way every layer is
fine-tuned.

Every frame of a training utterance is an example labelled with the utterance's emotion. An
utterance is classified by the argmax of its frames' summed posteriors (the paper's rule,
`affectrep.protocol.metrics.utterance_decisions`). After every epoch the validation speaker's
utterances are classified and the epoch with the best unweighted accuracy is kept (early
stopping with patience); the test speaker is classified once, by that epoch's parameters, and
no choice ever depends on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex
from affectrep.data.pytree_io import load_tree
from affectrep.defaults import default
from affectrep.models.context import TrainingData, gather_windows
from affectrep.models.dae import mask_threshold
from affectrep.models.mlp import Mlp, NoisyCrossEntropy, mlp_widths
from affectrep.protocol.folds import Fold, fold_result, role_positions, score
from affectrep.protocol.metrics import utterance_decisions
from affectrep.train.loop import EpochEnd, FrameBatches, OptimizerSettings, fit

__all__ = [
    "DEFAULT_HIDDEN",
    "MlpSettings",
    "MlpTrainResult",
    "class_weights",
    "evaluate_fold",
    "frame_posteriors",
    "frame_rows",
    "init_mlp",
    "load_encoder",
    "predict_utterances",
    "train_mlp",
]

MlpParams = dict[str, Any]

# The TIED-128-5 encoder's widths: the paper's 640-320-160-80-4 network.
DEFAULT_HIDDEN: tuple[int, ...] = (320, 160, 80)


@dataclass(frozen=True)
class MlpSettings(OptimizerSettings):
    """Fine-tuning settings, the same for the pretrained and the randomly initialised MLP.

    The paper gives none for this stage. SGD with momentum 0.9 at 1e-2 is the classic setting
    for fine-tuning pretrained tanh networks: steps small enough that the first epochs do not
    wash out what pretraining learnt (which Adam's per-weight normalised steps tend to do), and
    it continues the autoencoders' own SGD. Weight decay 1e-4 and batches of 500 frames are the
    paper's pretraining values. `class_weights` weights each frame by the inverse frequency of
    its class among the training frames: the examples are frames, so long utterances (sadness)
    and the commonest class (neutral) would otherwise dominate, while the selection criterion
    and Table 2's headline are per-class (UA). `max_epochs` and `patience` bound the early
    stopping on the validation speaker's UA. `max_train_frames` keeps a seeded random subset of
    the training frames (fast demo runs; None keeps all). The defaults are the config schema's
    `classification.mlp` (and `classification.seed`). `input_noise` > 0 trains on inputs
    under masking noise (`affectrep.models.mlp.NoisyCrossEntropy`); validation and test
    frames are always clean.
    """

    optimizer: str = default("classification.mlp.optimizer")
    learning_rate: float = default("classification.mlp.learning_rate")
    momentum: float = default("classification.mlp.momentum")
    weight_decay: float = default("classification.mlp.weight_decay")
    batch_size: int = default("classification.mlp.batch_size")
    max_epochs: int = default("classification.mlp.max_epochs")
    patience: int = default("classification.mlp.patience")
    class_weights: bool = default("classification.mlp.class_weights")
    max_train_frames: int | None = default("classification.mlp.max_train_frames")
    input_noise: float = default("classification.mlp.input_noise")
    seed: int = default("classification.seed")
    steps_per_call: int = 200
    eval_chunk: int = 8192

    RUN_ONLY: ClassVar[tuple[str, ...]] = ("steps_per_call", "eval_chunk")

    def __post_init__(self) -> None:
        problems = self.optimizer_problems()
        if self.batch_size < 1 or self.steps_per_call < 1 or self.eval_chunk < 1:
            problems.append("batch_size, steps_per_call and eval_chunk must be positive")
        if self.max_epochs < 0 or self.patience < 1:
            problems.append(
                f"max_epochs {self.max_epochs} must be >= 0 and patience {self.patience} >= 1"
            )
        if not 0.0 <= self.input_noise < 1.0:
            problems.append(f"input_noise {self.input_noise} must be in [0, 1)")
        if self.max_train_frames is not None and self.max_train_frames < 1:
            problems.append(f"max_train_frames {self.max_train_frames} must be None or >= 1")
        if problems:
            raise ValueError("MLP settings: " + "; ".join(problems))


@dataclass
class MlpTrainResult:
    params: MlpParams
    best_epoch: int
    history: list[dict]
    n_train_frames: int


# --- the network ----------------------------------------------------------------------------


def init_mlp(
    key: jax.Array,
    widths: Sequence[int],
    n_classes: int = len(CLASSES),
    pretrained_layers: Sequence[dict] | None = None,
) -> MlpParams:
    """An MLP `widths[0] -> ... -> widths[-1] -> n_classes`: {"hidden": [{W, b}...], "output"}.

    Hidden layers are copies of `pretrained_layers` (an encoder's {W, b} list, shapes checked)
    or Glorot-uniform with zero biases; the softmax layer is always Glorot-uniform.
    """
    return Mlp.init(key, widths, n_classes, pretrained_layers).tree()


def load_encoder(path: str | Path) -> list[dict]:
    """The {W, b} layers of an `encoder.npz` written by `affectrep.stages.autoencoders`."""
    tree, _ = load_tree(path)
    if not isinstance(tree, dict) or "encoder" not in tree:
        raise ValueError(f"{path}: not an encoder file (no encoder/0/W, encoder/0/b, ...)")
    return [{"W": layer["W"], "b": layer["b"]} for layer in tree["encoder"]]


# --- frames of utterances ---------------------------------------------------------------------


def frame_rows(index: FeatureIndex, positions: np.ndarray) -> np.ndarray:
    """The frame numbers of the utterances `positions`, utterance after utterance (int32)."""
    offsets = index.offsets[positions]
    lengths = index.lengths[positions]
    firsts = np.cumsum(lengths) - lengths
    within = np.arange(int(lengths.sum())) - np.repeat(firsts, lengths)
    return (np.repeat(offsets, lengths) + within).astype(np.int32)


@partial(jax.jit, static_argnames=("context",))
def _posteriors(params: MlpParams, frames, starts, ends, rows, context: int) -> jax.Array:
    x = gather_windows(frames, rows, starts, ends, context)
    return jax.nn.softmax(Mlp.from_tree(params)(x), axis=-1)


def frame_posteriors(
    params: MlpParams, data: TrainingData, rows: np.ndarray, context: int, chunk: int = 8192
) -> np.ndarray:
    """Softmax output for the frames `rows`: (len(rows), n_classes), in chunks of `chunk` frames
    (the last one padded) so that one compiled function serves every chunk and every set."""
    size = chunk
    out = []
    for first in range(0, len(rows), size):
        part = rows[first : first + size]
        padded = np.pad(part, (0, size - len(part)), mode="edge")
        result = _posteriors(
            params, data.frames, data.starts, data.ends, jnp.asarray(padded), context
        )
        out.append(np.asarray(result)[: len(part)])
    return np.concatenate(out).astype(np.float64)


def predict_utterances(
    params: MlpParams,
    data: TrainingData,
    index: FeatureIndex,
    positions: np.ndarray,
    *,
    context: int,
    chunk: int = 8192,
) -> tuple[np.ndarray, np.ndarray]:
    """Each utterance's frame posteriors summed over time, (n, n_classes), and its decision,
    the argmax of that sum (the paper's rule)."""
    lengths = index.lengths[positions]
    posteriors = frame_posteriors(params, data, frame_rows(index, positions), context, chunk)
    firsts = np.cumsum(lengths) - lengths
    summed = np.add.reduceat(posteriors, firsts, axis=0)
    return summed, utterance_decisions(posteriors, lengths)


# --- training with early stopping -------------------------------------------------------------


def class_weights(labels: np.ndarray, n_classes: int, balanced: bool) -> np.ndarray:
    """Per-class loss weights: inverse class frequency scaled to a mean of 1 over the frames
    (absent classes 0), or all ones."""
    if not balanced:
        return np.ones(n_classes, dtype=np.float32)
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = labels.size / (present.sum() * counts[present])
    return weights.astype(np.float32)


def _training_frames(
    index: FeatureIndex, labels: np.ndarray, positions: np.ndarray, settings: MlpSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Frame numbers and frame labels of the training utterances, optionally subsampled once
    per fold (seeded), so that every epoch sees the same frames in a new order."""
    rows = frame_rows(index, positions)
    frame_labels = np.repeat(labels[positions], index.lengths[positions]).astype(np.int32)
    limit = settings.max_train_frames
    if limit is not None and rows.size > limit:
        keep = np.sort(
            np.random.default_rng([settings.seed, 1]).choice(rows.size, limit, replace=False)
        )
        rows, frame_labels = rows[keep], frame_labels[keep]
    return rows, frame_labels


def _validation_scores(params, data, index, labels, positions, context, chunk):
    _, decisions = predict_utterances(params, data, index, positions, context=context, chunk=chunk)
    scores = score(labels[positions], decisions)
    return scores["unweighted_accuracy"], scores["weighted_accuracy"]


def _host_copy(params: MlpParams) -> MlpParams:
    """A NumPy copy that owns its memory: the trainer donates (reuses) the device buffers, so a
    kept best epoch must not alias them."""
    return jax.tree_util.tree_map(lambda leaf: np.array(leaf, copy=True), params)


@dataclass(frozen=True)
class LabelledWindows:
    """The batch builder of the MLP's `FrameBatches`: (windows, labels, weights) of training
    frames `batch_rows`; data = (frames, starts, ends, training frame rows, their labels,
    class weights)."""

    context: int

    def __call__(self, data: tuple, batch_rows: jax.Array) -> tuple:
        frames, starts, ends, train_rows, train_labels, class_weight = data
        rows_now = train_rows[batch_rows]
        y = train_labels[batch_rows]
        x = gather_windows(frames, rows_now, starts, ends, self.context)
        return x, y, class_weight[y]


def train_mlp(
    params: MlpParams,
    data: TrainingData,
    index: FeatureIndex,
    labels: np.ndarray,
    train_positions: np.ndarray,
    validation_positions: np.ndarray,
    *,
    context: int,
    settings: MlpSettings,
    logger: logging.Logger | None = None,
    label: str = "mlp",
) -> MlpTrainResult:
    """Fine-tune all layers on the training utterances' frames; keep the epoch whose
    parameters give the validation utterances the best UA (ties: the earlier epoch), stopping
    after `patience` epochs without improvement. With `max_epochs` 0 the initial parameters
    are returned (best epoch 0).

    Only `train_positions` and `validation_positions` are read; other utterances of `data`
    (the test speaker's) never enter a batch or a score.
    """
    logger = logger or logging.getLogger(__name__)
    if np.any(labels[train_positions] < 0) or np.any(labels[validation_positions] < 0):
        raise ValueError(f"{label}: training and validation utterances must all be labelled")
    model = Mlp.from_tree(params)
    rows, frame_labels = _training_frames(index, labels, train_positions, settings)
    n_train = int(rows.size)
    weights = class_weights(frame_labels, int(model.output.W.shape[1]), settings.class_weights)
    best = MlpTrainResult(_host_copy(model.tree()), 0, [], n_train)
    if settings.max_epochs == 0:
        return best
    if n_train < settings.batch_size:
        logger.info(
            "%s: %d training frames, fewer than a batch of %d: one batch per epoch",
            label,
            n_train,
            settings.batch_size,
        )
    packed = (
        data.frames,
        data.starts,
        data.ends,
        jnp.asarray(rows),
        jnp.asarray(frame_labels),
        jnp.asarray(weights),
    )
    # Epochs in equal chunks (one compilation); the MLP's orders are drawn from epoch 1 on.
    source = FrameBatches(
        packed,
        LabelledWindows(context),
        n_train,
        min(settings.batch_size, n_train),
        settings.seed,
        settings.steps_per_call,
        equal_chunks=True,
        first_draw=1,
    )
    logger.info(
        "%s: %d training frames (%d utterances), %d validation utterances, widths %s",
        label,
        n_train,
        len(train_positions),
        len(validation_positions),
        model.widths,
    )
    best_ua = -np.inf

    def early_stopping(end: EpochEnd) -> bool:
        """Score the validation speaker; keep the best epoch; stop after `patience` more."""
        nonlocal best_ua
        started = time.perf_counter()
        ua, wa = _validation_scores(
            end.model.tree(),
            data,
            index,
            labels,
            validation_positions,
            context,
            settings.eval_chunk,
        )
        end.record = {
            "epoch": end.epoch,
            "train_loss": end.loss,
            "validation_ua": ua,
            "validation_wa": wa,
            "train_frames_per_s": end.examples / end.seconds,
            "seconds": end.seconds + time.perf_counter() - started,
        }
        best.history.append(end.record)
        improved = ua > best_ua
        if improved:
            best_ua, best.best_epoch, best.params = ua, end.epoch, _host_copy(end.model.tree())
        logger.info(
            "%s epoch %d: loss %.4f, validation UA %.2f%% WA %.2f%%%s, %.0f frames/s",
            label,
            end.epoch,
            end.loss,
            100 * ua,
            100 * wa,
            " (best)" if improved else "",
            end.record["train_frames_per_s"],
        )
        if end.epoch - best.best_epoch >= settings.patience:
            logger.info(
                "%s: no better validation UA for %d epochs; best epoch %d",
                label,
                settings.patience,
                best.best_epoch,
            )
            return True
        return False

    fit(
        model,
        # With no noise (threshold 0) the mask is the identity: the plain weighted loss.
        NoisyCrossEntropy(mask_threshold(settings.input_noise)),
        source,
        settings,
        epochs=settings.max_epochs,
        seed=settings.seed,
        hooks=[early_stopping],
        logger=logger,
        label=label,
    )
    return best


# --- one fold ---------------------------------------------------------------------------------


def _counts(index: FeatureIndex, positions: dict[str, np.ndarray]) -> dict[str, dict[str, int]]:
    return {
        role: {"utterances": int(p.size), "frames": int(index.lengths[p].sum())}
        for role, p in positions.items()
    }


def evaluate_fold(
    frames: np.ndarray,
    index: FeatureIndex,
    labels: np.ndarray,
    fold: Fold,
    *,
    context: int,
    hidden: Sequence[int] | None = None,
    pretrained: Sequence[dict] | None = None,
    settings: MlpSettings | None = None,
    method: str = "mlp",
    logger: logging.Logger | None = None,
    data: TrainingData | None = None,
) -> dict:
    """Train on the fold's training speakers, stop early on its validation speaker, and
    report its test speaker (`affectrep.protocol.folds.fold_result` format, plus `best_epoch`,
    `history`, `architecture`, `pretrained` and `settings`).

    frames: (n_frames, n_dims) normalised spectrogram frames in `index` order; labels: class
    index per utterance of `index` (-1 unlabelled; `affectrep.protocol.folds.utterance_labels`).
    hidden: hidden widths (default: the pretrained encoder's, else 320-160-80).
    data: `frames` already on the device (`TrainingData.from_file`); then `frames` may be a
    memory map that is never read.
    """
    logger = logger or logging.getLogger(__name__)
    settings = settings or MlpSettings()
    started = time.perf_counter()
    if hidden is None:
        hidden = (
            [int(np.shape(p["W"])[1]) for p in pretrained]
            if pretrained is not None
            else DEFAULT_HIDDEN
        )
    widths = [int(frames.shape[1]) * context, *hidden]
    key = jax.random.fold_in(jax.random.PRNGKey(settings.seed), fold.number)
    params = init_mlp(key, widths, len(CLASSES), pretrained)
    positions = role_positions(index.speakers, labels, fold)
    if data is None:
        data = TrainingData.from_features(np.asarray(frames, dtype=np.float32), index)
    label = f"{method} {fold.name}"
    trained = train_mlp(
        params,
        data,
        index,
        labels,
        positions["train"],
        positions["validation"],
        context=context,
        settings=settings,
        logger=logger,
        label=label,
    )
    test = positions["test"]
    summed, _ = predict_utterances(
        trained.params, data, index, test, context=context, chunk=settings.eval_chunk
    )
    counts = _counts(index, positions)
    counts["train"]["frames_used"] = trained.n_train_frames
    result = fold_result(
        fold,
        method,
        [index.ids[p] for p in test],
        labels[test],
        summed / index.lengths[test][:, None],
        counts,
        best_epoch=trained.best_epoch,
        history=trained.history,
        architecture=mlp_widths(trained.params),
        context=context,
        pretrained=pretrained is not None,
        settings=asdict(settings),
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "%s: test speaker %s, WA %.2f%%, UA %.2f%% (best epoch %d)",
        label,
        fold.test_speaker,
        100 * result["weighted_accuracy"],
        100 * result["unweighted_accuracy"],
        trained.best_epoch,
    )
    return result
