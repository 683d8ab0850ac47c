"""Denoising autoencoders as pure functions over parameter pytrees (paper sections 3.1-3.2).

A layer maps `x` to the code `y = tanh(x W + b)` and reconstructs `z = y W' + b'` with a
linear decoder; `W' = W^T` for tied weights (one matrix, so the two can never drift apart)
or a matrix of its own for untied weights. A greedy stack trains layer k on the codes of the
frozen layers below it; a deep autoencoder has the same encoder and a mirrored decoder and
trains all layers at once. Row-vector convention throughout: `x` is (batch, n_in).

Parameters are plain dicts of arrays, so that they save to `.npz` without any framework and
jit/grad see them as ordinary pytrees.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

Params = dict[str, jax.Array]

# Masking noise draws one byte per element and compares it with a threshold: a quarter of the
# cost of drawing floats, which dominated the step (see PERF.md). The rate is quantised to
# 1/256, so 20% becomes 51/256 = 19.9%.
_BYTE_LEVELS = 256


def init_layer(key: jax.Array, n_in: int, n_out: int, *, tied: bool) -> Params:
    """Glorot-uniform weights (suited to tanh), zero biases."""
    limit = float(np.sqrt(6.0 / (n_in + n_out)))
    key_encoder, key_decoder = jax.random.split(key)
    params = {
        "W": jax.random.uniform(key_encoder, (n_in, n_out), jnp.float32, -limit, limit),
        "b": jnp.zeros((n_out,), jnp.float32),
        "b_dec": jnp.zeros((n_in,), jnp.float32),
    }
    if not tied:
        params["W_dec"] = jax.random.uniform(
            key_decoder, (n_out, n_in), jnp.float32, -limit, limit
        )
    return params


def encode_layer(params: Params, x: jax.Array) -> jax.Array:
    """The code of one layer: (batch, n_in) -> (batch, n_out)."""
    return jnp.tanh(x @ params["W"] + params["b"])


def decode_layer(params: Params, y: jax.Array) -> jax.Array:
    """Linear reconstruction: tied layers use the transpose of the encoder's matrix."""
    weights = params["W_dec"] if "W_dec" in params else params["W"].T
    return y @ weights + params["b_dec"]


def encode_stack(layers: Sequence[Params], x: jax.Array) -> jax.Array:
    """The bottleneck code of a stack of layers (greedy or deep encoder)."""
    for params in layers:
        x = encode_layer(params, x)
    return x


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


def layer_loss(params: Params, x: jax.Array, key: jax.Array, threshold: int) -> jax.Array:
    """Denoising loss of one layer: reconstruct clean `x` from its masked copy."""
    return sse(decode_layer(params, encode_layer(params, mask(key, x, threshold))), x)


# --- deep autoencoder ----------------------------------------------------------------------


def init_deep(key: jax.Array, widths: Sequence[int]) -> dict[str, list[Params]]:
    """Encoder `widths[0] -> ... -> widths[-1]` and a mirrored, untied decoder."""
    keys = jax.random.split(key, 2 * (len(widths) - 1))
    encoder = []
    decoder = []
    for number, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layer = init_layer(keys[number], n_in, n_out, tied=True)
        encoder.append({"W": layer["W"], "b": layer["b"]})
    for number, (n_in, n_out) in enumerate(zip(widths[::-1][:-1], widths[::-1][1:], strict=True)):
        layer = init_layer(keys[len(widths) - 1 + number], n_in, n_out, tied=True)
        decoder.append({"W": layer["W"], "b": layer["b"]})
    return {"encoder": encoder, "decoder": decoder}


def deep_from_stack(layers: Sequence[Params]) -> dict[str, list[Params]]:
    """A deep autoencoder initialised from a greedy stack, for fine-tuning: the encoder as is,
    the decoder from each layer's decoder (the transpose for tied layers), in reverse."""
    encoder = [{"W": layer["W"], "b": layer["b"]} for layer in layers]
    decoder = [
        {"W": layer["W_dec"] if "W_dec" in layer else layer["W"].T, "b": layer["b_dec"]}
        for layer in reversed(layers)
    ]
    return {"encoder": encoder, "decoder": decoder}


def deep_reconstruct(params: dict[str, list[Params]], x: jax.Array) -> jax.Array:
    """tanh in every layer but the output one, which is linear like the stacked decoders."""
    y = encode_stack(params["encoder"], x)
    for number, layer in enumerate(params["decoder"]):
        y = y @ layer["W"] + layer["b"]
        if number < len(params["decoder"]) - 1:
            y = jnp.tanh(y)
    return y


def deep_loss(
    params: dict[str, list[Params]], x: jax.Array, key: jax.Array, threshold: int
) -> jax.Array:
    return sse(deep_reconstruct(params, mask(key, x, threshold)), x)
