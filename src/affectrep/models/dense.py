"""The affine layer `x W + b` that every model is made of, and Glorot initialisation.

Row-vector convention: `x` is (batch, n_in), `W` is (n_in, n_out), as in the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

Tree = dict[str, jax.Array]


def glorot(key: jax.Array, n_in: int, n_out: int) -> jax.Array:
    """Glorot-uniform weights (suited to tanh): (n_in, n_out) float32."""
    limit = float(np.sqrt(6.0 / (n_in + n_out)))
    return jax.random.uniform(key, (n_in, n_out), jnp.float32, -limit, limit)


def param(value) -> nnx.Param:
    """A float32 parameter (NumPy arrays from files, device arrays and tracers alike)."""
    return nnx.Param(jnp.asarray(value, jnp.float32))


class Dense(nnx.Module):
    """`x W + b`: (batch, n_in) -> (batch, n_out)."""

    def __init__(self, W: jax.Array, b: jax.Array) -> None:  # noqa: N803 - the file's names
        self.W = param(W)
        self.b = param(b)

    @classmethod
    def init(cls, key: jax.Array, n_in: int, n_out: int) -> Dense:
        """Glorot-uniform weights from the first of two keys split from `key` (the draw of a
        DAE layer's encoder, so a `Dense` and a `DaeLayer` from one key start alike), zero
        bias."""
        key_weights, _ = jax.random.split(key)
        return cls(glorot(key_weights, n_in, n_out), jnp.zeros((n_out,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.W[...] + self.b[...]

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.W.shape)  # type: ignore[return-value]

    def tree(self) -> Tree:
        return {"W": self.W[...], "b": self.b[...]}

    @classmethod
    def from_tree(cls, tree: Mapping) -> Dense:
        return cls(tree["W"], tree["b"])


def tanh_stack(layers: Sequence[Dense], x: jax.Array) -> jax.Array:
    """`tanh(x W + b)` layer after layer: an encoder's code, an MLP's last hidden layer."""
    for layer in layers:
        x = jnp.tanh(layer(x))
    return x
