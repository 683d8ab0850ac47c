"""Denoising autoencoders (paper sections 3.1-3.2) as Flax NNX modules.

A layer maps `x` to the code `y = tanh(x W + b)` and reconstructs `z = y W' + b'` with a
linear decoder; `W' = W^T` for tied weights (one matrix, so the two can never drift apart)
or a matrix of its own (`W_dec`) for untied weights. A greedy stack trains layer k on the
codes of the frozen layers below it; a deep autoencoder has the same encoder and a mirrored
decoder and trains all layers at once. Row-vector convention throughout: `x` is
(batch, n_in).

The functions at the end (`init_layer`, `encode_layer`, `encode_stack`, ...) do the same on
the plain parameter dicts that the files hold, for code that has a tree and no module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from affectrep.models.dense import Dense, Tree, glorot, param, tanh_stack

# Masking noise draws one byte per element and compares it with a threshold: a third of the
# cost of drawing floats, which dominated the step (measured on 2 CPU cores: 0.4 instead of
# 1.2 ms of a 5 ms step at 500x640). The rate is quantised to 1/256, so 20% becomes
# 51/256 = 19.9%.
_BYTE_LEVELS = 256


class DaeLayer(nnx.Module):
    """One denoising autoencoder layer, n_in -> n_out -> n_in; tied when it has no `W_dec`."""

    def __init__(self, W, b, b_dec, W_dec=None) -> None:  # noqa: N803 - the file's names
        self.W = param(W)
        self.b = param(b)
        self.b_dec = param(b_dec)
        self.tied = W_dec is None
        if W_dec is not None:
            self.W_dec = param(W_dec)

    @classmethod
    def init(cls, key: jax.Array, n_in: int, n_out: int, *, tied: bool) -> DaeLayer:
        """Glorot-uniform weights (suited to tanh), zero biases."""
        key_encoder, key_decoder = jax.random.split(key)
        weights = glorot(key_encoder, n_in, n_out)
        decoder = None if tied else glorot(key_decoder, n_out, n_in)
        return cls(
            weights, jnp.zeros((n_out,), jnp.float32), jnp.zeros((n_in,), jnp.float32), decoder
        )

    def encode(self, x: jax.Array) -> jax.Array:
        """The code: (batch, n_in) -> (batch, n_out)."""
        return jnp.tanh(x @ self.W[...] + self.b[...])

    def decode(self, y: jax.Array) -> jax.Array:
        """Linear reconstruction: tied layers use the transpose of the encoder's matrix."""
        weights = self.W[...].T if self.tied else self.W_dec[...]
        return y @ weights + self.b_dec[...]

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.decode(self.encode(x))

    def encoder(self) -> Dense:
        """The encoding half as a layer of its own (a copy of W and b)."""
        return Dense(self.W[...], self.b[...])

    def tree(self) -> Tree:
        """`W`, `b`, `b_dec` and, untied, `W_dec`: the keys of a `layer{k}.npz`."""
        tree = {"W": self.W[...], "b": self.b[...], "b_dec": self.b_dec[...]}
        if not self.tied:
            tree["W_dec"] = self.W_dec[...]
        return tree

    @classmethod
    def from_tree(cls, tree: Mapping) -> DaeLayer:
        return cls(tree["W"], tree["b"], tree["b_dec"], tree.get("W_dec"))


class DeepAutoencoder(nnx.Module):
    """Encoder `widths[0] -> ... -> widths[-1]` (tanh) and a mirrored decoder: tanh in every
    decoder layer but the output one, which is linear like a stacked layer's decoder."""

    def __init__(self, encoder: Sequence[Dense], decoder: Sequence[Dense]) -> None:
        self.encoder = nnx.List(encoder)
        self.decoder = nnx.List(decoder)

    @classmethod
    def init(cls, key: jax.Array, widths: Sequence[int]) -> DeepAutoencoder:
        """Glorot-uniform weights, zero biases; every layer from a key of its own."""
        keys = jax.random.split(key, 2 * (len(widths) - 1))
        forward = list(zip(widths[:-1], widths[1:], strict=True))
        backward = list(zip(widths[::-1][:-1], widths[::-1][1:], strict=True))
        encoder = [
            Dense.init(keys[number], n_in, n_out) for number, (n_in, n_out) in enumerate(forward)
        ]
        decoder = [
            Dense.init(keys[len(forward) + number], n_in, n_out)
            for number, (n_in, n_out) in enumerate(backward)
        ]
        return cls(encoder, decoder)

    @classmethod
    def from_stack(cls, layers: Sequence[DaeLayer]) -> DeepAutoencoder:
        """A deep autoencoder initialised from a greedy stack, for fine-tuning: the encoder
        as is, the decoder from each layer's decoder (the transpose for tied layers), in
        reverse."""
        encoder = [layer.encoder() for layer in layers]
        decoder = [
            Dense(layer.W[...].T if layer.tied else layer.W_dec[...], layer.b_dec[...])
            for layer in reversed(layers)
        ]
        return cls(encoder, decoder)

    def encode(self, x: jax.Array) -> jax.Array:
        return tanh_stack(self.encoder, x)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.encode(x)
        for number, layer in enumerate(self.decoder):
            y = layer(y)
            if number < len(self.decoder) - 1:
                y = jnp.tanh(y)
        return y

    def tree(self) -> dict[str, list[Tree]]:
        """`encoder/0/W`, `encoder/0/b`, ..., `decoder/0/W`, ...: an `encoder.npz`'s keys."""
        return {
            "encoder": [layer.tree() for layer in self.encoder],
            "decoder": [layer.tree() for layer in self.decoder],
        }

    @classmethod
    def from_tree(cls, tree: Mapping) -> DeepAutoencoder:
        return cls(
            [Dense.from_tree(p) for p in tree["encoder"]],
            [Dense.from_tree(p) for p in tree["decoder"]],
        )


# --- the denoising objective ---------------------------------------------------------------


def mask_threshold(rate: float) -> int:
    """The byte threshold below which an element is masked, for a masking rate in [0, 1)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"masking rate must be in [0, 1), not {rate}")
    return int(round(rate * _BYTE_LEVELS))


def mask(key: jax.Array, x: jax.Array, threshold: int) -> jax.Array:
    """Masking noise: each element set to zero with probability threshold / 256."""
    if threshold == 0:
        return x
    keep = jax.random.bits(key, x.shape, jnp.uint8) >= threshold
    return jnp.where(keep, x, jnp.zeros_like(x))


def sse(reconstruction: jax.Array, clean: jax.Array) -> jax.Array:
    """Sum of squared errors per example, averaged over the batch (so that the learning rate
    does not depend on the batch size)."""
    return jnp.sum((reconstruction - clean) ** 2) / clean.shape[0]


@dataclass(frozen=True)
class DenoisingLoss:
    """Reconstruct clean `x` from its masked copy: `loss(model, x, key)` for a `DaeLayer` or
    a `DeepAutoencoder`. A value (hashable), so that the compiled step is reused."""

    threshold: int

    def __call__(
        self, model: DaeLayer | DeepAutoencoder, x: jax.Array, key: jax.Array
    ) -> jax.Array:
        return sse(model(mask(key, x, self.threshold)), x)


# --- the same on plain parameter trees ---------------------------------------------------------


def init_layer(key: jax.Array, n_in: int, n_out: int, *, tied: bool) -> Tree:
    return DaeLayer.init(key, n_in, n_out, tied=tied).tree()


def encode_layer(params: Mapping, x: jax.Array) -> jax.Array:
    return DaeLayer.from_tree(params).encode(x)


def decode_layer(params: Mapping, y: jax.Array) -> jax.Array:
    return DaeLayer.from_tree(params).decode(y)


def layer_loss(params: Mapping, x: jax.Array, key: jax.Array, threshold: int) -> jax.Array:
    return DenoisingLoss(threshold)(DaeLayer.from_tree(params), x, key)


def encode_stack(layers: Sequence[Mapping], x: jax.Array) -> jax.Array:
    """The bottleneck code of a stack of layers ({W, b, ...} each; greedy or deep encoder)."""
    return tanh_stack([Dense.from_tree(layer) for layer in layers], x)


def init_deep(key: jax.Array, widths: Sequence[int]) -> dict[str, list[Tree]]:
    return DeepAutoencoder.init(key, widths).tree()


def deep_from_stack(layers: Sequence[Mapping]) -> dict[str, list[Tree]]:
    return DeepAutoencoder.from_stack([DaeLayer.from_tree(layer) for layer in layers]).tree()


def deep_reconstruct(params: Mapping, x: jax.Array) -> jax.Array:
    return DeepAutoencoder.from_tree(params)(x)


def deep_loss(params: Mapping, x: jax.Array, key: jax.Array, threshold: int) -> jax.Array:
    return DenoisingLoss(threshold)(DeepAutoencoder.from_tree(params), x, key)
