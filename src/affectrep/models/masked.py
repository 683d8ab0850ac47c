"""Masked spectrogram prediction: a self-supervised encoder of spectrogram frames.

Beyond the paper (issue 13): a modern self-supervised representation trained from scratch on
the same audio, as a column of its own in Table 2. Spans of consecutive frames of a
spectrogram crop are replaced by a learned mask vector; the encoder reads the masked
sequence and a linear head predicts the original frames at the masked positions (the loss is
the mean squared error over masked real frames only). The representation of an utterance is
the encoder's output for every frame of the whole, UNMASKED utterance, summarised by
statistics pooling (`affectrep.data.pooling`), like the `pooled` column's codes.

The encoder is a stack of residual 1-D temporal convolutions, not a transformer, because:

- it is cheap and has no quadratic cost: an IEMOCAP utterance of 30 s (3,000 frames) is one
  pass, and a 4-layer, 128-wide stack trains at about 14 steps of 32 x 128 frames per second
  on one core of a busy 2-core machine (the machines this workflow runs on), and on a GPU;
- it is translation-equivariant and needs no positional encoding, so a model trained on
  crops of 128 frames applies unchanged to an utterance of any length;
- with dilations 1, 2, 4, 8 (`dilated`) four layers of kernel 5 see 61 frames (0.6 s), more
  than a masked span and its neighbours: the model must use context on both sides, which is
  what makes masked prediction learn more than local smoothness.

Each block is pre-norm and residual: `h + mix(gelu(conv(layer_norm(h))))`, the convolution
(kernel `kernel`, dilation d) followed by a pointwise (1x1) mixing layer; a final layer norm
gives the frame representation. Padding: every block's input and output is zeroed beyond an
utterance's length, so that a padded utterance gives exactly the frames it gives alone (the
convolutions' own zero padding at the edges), and padding never leaks into real frames.

Masking (`span_mask`): the frames are cut into blocks of `span` consecutive frames at a
random phase per sequence; round(mask_ratio x blocks) of the blocks that hold real frames
are chosen at random (the count rounded stochastically, so the expected fraction of masked
real frames is `mask_ratio`), and padding is never masked. Adjacent chosen blocks make longer
spans.

The functions at the end work on the plain parameter trees that `model.npz` holds
(`input/W`, `mask`, `blocks/0/conv/W`, ..., `norm/scale`, `head/W`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from affectrep.models.dense import Dense, glorot, param

Tree = dict


def frame_mask(lengths: jax.Array, n_steps: int) -> jax.Array:
    """(batch, n_steps) bool: True at real frames, False at padding."""
    return jnp.arange(n_steps)[None, :] < lengths[:, None]


def dilations(layers: int, dilated: bool) -> list[int]:
    """The dilation of each block: 1, 2, 4, 8, 1, 2, ... when `dilated`, else all 1."""
    return [2 ** (number % 4) if dilated else 1 for number in range(layers)]


def receptive_field(kernel: int, layer_dilations: Sequence[int]) -> int:
    """Frames one output frame sees."""
    return 1 + (kernel - 1) * int(sum(layer_dilations))


class LayerNorm(nnx.Module):
    """Per-frame layer normalisation with a learned scale and bias (1-D: no weight decay)."""

    def __init__(self, scale, bias) -> None:
        self.scale = param(scale)
        self.bias = param(bias)

    @classmethod
    def init(cls, width: int) -> LayerNorm:
        return cls(jnp.ones((width,), jnp.float32), jnp.zeros((width,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        mean = jnp.mean(x, axis=-1, keepdims=True)
        variance = jnp.var(x, axis=-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(variance + 1e-5) * self.scale[...] + self.bias[...]

    def tree(self) -> Tree:
        return {"scale": self.scale[...], "bias": self.bias[...]}

    @classmethod
    def from_tree(cls, tree: Mapping) -> LayerNorm:
        return cls(tree["scale"], tree["bias"])


class Conv1d(nnx.Module):
    """A 'same'-padded 1-D convolution over time: W (kernel, n_in, n_out), b (n_out,);
    (batch, T, n_in) -> (batch, T, n_out). `dilation` is static (part of the structure)."""

    def __init__(self, W, b, dilation: int = 1) -> None:  # noqa: N803 - the file's names
        self.W = param(W)
        self.b = param(b)
        self.dilation = int(dilation)

    @classmethod
    def init(cls, key: jax.Array, kernel: int, n_in: int, n_out: int, dilation: int) -> Conv1d:
        limit = float(np.sqrt(6.0 / (kernel * n_in + n_out)))
        weights = jax.random.uniform(key, (kernel, n_in, n_out), jnp.float32, -limit, limit)
        return cls(weights, jnp.zeros((n_out,), jnp.float32), dilation)

    def __call__(self, x: jax.Array) -> jax.Array:
        """The `kernel` shifted copies of x side by side, times W as one matrix: XLA's CPU
        convolution is about 40x slower inside the training loop's `lax.scan` than outside
        it (measured: 0.41 s against 0.01 s a step), while one matmul is fast in both and on
        a GPU."""
        kernel, n_in, n_out = self.W.shape
        n_steps = x.shape[1]
        reach = self.dilation * (kernel - 1) // 2
        padded = jnp.pad(x, ((0, 0), (reach, self.dilation * (kernel - 1) - reach), (0, 0)))
        shifted = jnp.concatenate(
            [padded[:, k * self.dilation : k * self.dilation + n_steps] for k in range(kernel)],
            axis=-1,
        )
        return shifted @ self.W[...].reshape(kernel * n_in, n_out) + self.b[...]

    def tree(self) -> Tree:
        return {"W": self.W[...], "b": self.b[...]}

    @classmethod
    def from_tree(cls, tree: Mapping, dilation: int) -> Conv1d:
        return cls(tree["W"], tree["b"], dilation)


class ConvBlock(nnx.Module):
    """`h + mix(gelu(conv(norm(h))))`, zero beyond each utterance's length."""

    def __init__(self, norm: LayerNorm, conv: Conv1d, mix: Dense) -> None:
        self.norm = norm
        self.conv = conv
        self.mix = mix

    @classmethod
    def init(cls, key: jax.Array, width: int, kernel: int, dilation: int) -> ConvBlock:
        key_conv, key_mix = jax.random.split(key)
        return cls(
            LayerNorm.init(width),
            Conv1d.init(key_conv, kernel, width, width, dilation),
            Dense(glorot(key_mix, width, width), jnp.zeros((width,), jnp.float32)),
        )

    def __call__(self, h: jax.Array, real: jax.Array) -> jax.Array:
        """h (batch, T, width), real (batch, T, 1) float: 1 at real frames."""
        update = self.mix(jax.nn.gelu(self.conv(self.norm(h) * real)))
        return (h + update) * real

    def tree(self) -> Tree:
        return {"norm": self.norm.tree(), "conv": self.conv.tree(), "mix": self.mix.tree()}

    @classmethod
    def from_tree(cls, tree: Mapping, dilation: int) -> ConvBlock:
        return cls(
            LayerNorm.from_tree(tree["norm"]),
            Conv1d.from_tree(tree["conv"], dilation),
            Dense.from_tree(tree["mix"]),
        )


class MaskedEncoder(nnx.Module):
    """input projection (n_in -> width), residual convolution blocks, a final layer norm
    (the frame representation, `width` numbers), a learned mask vector (n_in,) that stands
    in for masked input frames, and the linear prediction head (width -> n_in)."""

    def __init__(
        self,
        input: Dense,  # noqa: A002 - the file's name
        mask: jax.Array,
        blocks: Sequence[ConvBlock],
        norm: LayerNorm,
        head: Dense,
    ) -> None:
        self.input = input
        self.mask = param(mask)
        self.blocks = nnx.List(blocks)
        self.norm = norm
        self.head = head

    @classmethod
    def init(
        cls,
        key: jax.Array,
        n_in: int,
        *,
        width: int,
        layers: int,
        kernel: int,
        dilated: bool = True,
    ) -> MaskedEncoder:
        check_architecture(width, layers, kernel)
        keys = jax.random.split(key, layers + 2)
        blocks = [
            ConvBlock.init(keys[1 + number], width, kernel, dilation)
            for number, dilation in enumerate(dilations(layers, dilated))
        ]
        return cls(
            Dense(glorot(keys[0], n_in, width), jnp.zeros((width,), jnp.float32)),
            jnp.zeros((n_in,), jnp.float32),
            blocks,
            LayerNorm.init(width),
            Dense(glorot(keys[-1], width, n_in), jnp.zeros((n_in,), jnp.float32)),
        )

    @property
    def width(self) -> int:
        return int(self.input.W.shape[1])

    @property
    def dilations(self) -> list[int]:
        return [block.conv.dilation for block in self.blocks]

    def encode(self, x: jax.Array, lengths: jax.Array) -> jax.Array:
        """Frame representations (batch, T, width) of padded sequences x (batch, T, n_in);
        zero at padding, and independent of it."""
        real = frame_mask(lengths, x.shape[1])[..., None].astype(jnp.float32)
        h = self.input(x * real) * real
        for block in self.blocks:
            h = block(h, real)
        return self.norm(h) * real

    def masked_input(self, x: jax.Array, masked: jax.Array) -> jax.Array:
        """x with the learned mask vector at the masked positions (masked: (batch, T) bool)."""
        return jnp.where(masked[..., None], self.mask[...], x)

    def predict(self, x: jax.Array, lengths: jax.Array, masked: jax.Array) -> jax.Array:
        """The head's prediction of every frame (batch, T, n_in) from the masked input."""
        return self.head(self.encode(self.masked_input(x, masked), lengths))

    def tree(self) -> Tree:
        return {
            "input": self.input.tree(),
            "mask": self.mask[...],
            "blocks": [block.tree() for block in self.blocks],
            "norm": self.norm.tree(),
            "head": self.head.tree(),
        }

    @classmethod
    def from_tree(cls, tree: Mapping, layer_dilations: Sequence[int]) -> MaskedEncoder:
        """The model of a parameter tree; the dilations are structure, not arrays (the
        file's metadata records them)."""
        blocks = list(tree["blocks"])
        if len(blocks) != len(layer_dilations):
            raise ValueError(
                f"{len(blocks)} blocks in the parameters but {len(layer_dilations)} dilations"
            )
        return cls(
            Dense.from_tree(tree["input"]),
            tree["mask"],
            [
                ConvBlock.from_tree(block, dilation)
                for block, dilation in zip(blocks, layer_dilations, strict=True)
            ],
            LayerNorm.from_tree(tree["norm"]),
            Dense.from_tree(tree["head"]),
        )


def check_architecture(width: int, layers: int, kernel: int) -> None:
    if width < 1 or layers < 1:
        raise ValueError(f"width and layers must be positive, not {width} and {layers}")
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"kernel must be odd (centred on its frame), not {kernel}")


def check_masking(mask_ratio: float, span: int) -> None:
    if not 0 < mask_ratio < 1:
        raise ValueError(f"mask_ratio must lie between 0 and 1, not {mask_ratio}")
    if span < 1:
        raise ValueError(f"span must be at least 1 frame, not {span}")


# --- masking and the loss ------------------------------------------------------------------


def span_mask(
    key: jax.Array, lengths: jax.Array, n_steps: int, mask_ratio: float, span: int
) -> jax.Array:
    """(batch, n_steps) bool: the frames to mask, in spans of `span` frames, about
    `mask_ratio` of each sequence's real frames (expected value), never padding.

    Each sequence is cut into blocks of `span` frames at a random phase (the first block may
    be shorter); of the n blocks holding real frames, floor(mask_ratio * n + u) (u uniform
    in [0, 1): stochastic rounding) are chosen at random, at least one."""
    batch = lengths.shape[0]
    key_phase, key_round, key_blocks = jax.random.split(key, 3)
    n_blocks = n_steps // span + 2
    phase = jax.random.randint(key_phase, (batch,), 0, span)
    steps = jnp.arange(n_steps)[None, :]
    block_of = (steps + phase[:, None]) // span  # (batch, T)
    n_real = jnp.where(lengths > 0, (lengths - 1 + phase) // span + 1, 0)
    wanted = jnp.floor(mask_ratio * n_real + jax.random.uniform(key_round, (batch,)))
    wanted = jnp.clip(wanted, jnp.minimum(n_real, 1), n_real).astype(jnp.int32)
    scores = jax.random.uniform(key_blocks, (batch, n_blocks))
    scores = jnp.where(jnp.arange(n_blocks)[None, :] < n_real[:, None], scores, 2.0)
    ranks = jnp.argsort(jnp.argsort(scores, axis=1), axis=1)
    chosen = ranks < wanted[:, None]
    masked = jnp.take_along_axis(chosen, block_of, axis=1)
    return masked & frame_mask(lengths, n_steps)


def masked_mse(
    prediction: jax.Array, target: jax.Array, masked: jax.Array, lengths: jax.Array
) -> jax.Array:
    """Mean squared error per number over the masked real frames of the batch (padding
    never counts, even where `masked` says so)."""
    weight = (masked & frame_mask(lengths, target.shape[1])).astype(jnp.float32)
    error = jnp.mean((prediction - target) ** 2, axis=-1)
    return jnp.sum(error * weight) / jnp.maximum(jnp.sum(weight), 1.0)


@dataclass(frozen=True)
class MaskedPredictionLoss:
    """The training loss as a value (the compiled step is cached on it): mask spans of the
    batch's sequences with the step's key, predict them, MSE over masked real frames."""

    mask_ratio: float
    span: int

    def __call__(
        self, model: MaskedEncoder, batch: tuple[jax.Array, jax.Array], key: jax.Array
    ) -> jax.Array:
        x, lengths = batch
        masked = span_mask(key, lengths, x.shape[1], self.mask_ratio, self.span)
        return masked_mse(model.predict(x, lengths, masked), x, masked, lengths)


# --- the same on plain parameter trees ---------------------------------------------------------


def encode(
    params: Mapping, layer_dilations: Sequence[int], x: jax.Array, lengths: jax.Array
) -> jax.Array:
    return MaskedEncoder.from_tree(params, layer_dilations).encode(x, lengths)
