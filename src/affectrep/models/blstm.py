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

Variable lengths: a batch is padded (to few bucketed lengths, `affectrep.train.loop`). Both
directions run in ONE `lax.scan`: the backward direction reads each utterance reversed
WITHIN its own length (an index gather), so for both directions the real frames come first
and the padding after them. Padding therefore never enters a state that is used, and masks
keep it out of the loss and the pooled representation.

The functions at the end (`init_blstm`, `blstm_states`, `loss`, ...) do the same on the
plain parameter dicts that `blstm.npz` holds (`forward/W`, `forward/U`, `forward/b`,
`backward/...`, `readout/W`, `readout/b`).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import nnx

from affectrep.models.dense import Dense, glorot, param

Params = dict[str, dict[str, jax.Array]]
POOLINGS = ("mean", "last")
DIRECTIONS = ("forward", "backward")


def check_hidden(hidden: int) -> None:
    if hidden < 2 or hidden % 2:
        raise ValueError(f"hidden must be an even number >= 2 (half per direction), not {hidden}")


class LstmDirection(nnx.Module):
    """The weights of one direction; gate order input, forget, cell, output in the fused
    matrices: W (n_in, 4h), U (h, 4h), b (4h,)."""

    def __init__(self, W, U, b) -> None:  # noqa: N803 - the file's names
        self.W = param(W)
        self.U = param(U)
        self.b = param(b)

    def tree(self) -> dict[str, jax.Array]:
        return {"W": self.W[...], "U": self.U[...], "b": self.b[...]}


class BlstmAutoencoder(nnx.Module):
    """forward, backward (`LstmDirection`, `hidden // 2` units each) and a linear read-out
    from the `hidden` states back to the `n_in`-dimensional codes."""

    def __init__(self, forward: LstmDirection, backward: LstmDirection, readout: Dense) -> None:
        self.forward = forward
        self.backward = backward
        self.readout = readout

    @classmethod
    def init(cls, key: jax.Array, n_in: int, hidden: int) -> BlstmAutoencoder:
        """Glorot-uniform weights, zero biases except the forget gates' (1: remember by
        default). Biases are 1-D so that weight decay never reaches them."""
        check_hidden(hidden)
        half = hidden // 2
        keys = jax.random.split(key, 5)
        directions = []
        for number in range(2):
            bias = jnp.zeros((4 * half,), jnp.float32).at[half : 2 * half].set(1.0)
            directions.append(
                LstmDirection(
                    glorot(keys[2 * number], n_in, 4 * half),
                    glorot(keys[2 * number + 1], half, 4 * half),
                    bias,
                )
            )
        readout = Dense(glorot(keys[4], hidden, n_in), jnp.zeros((n_in,), jnp.float32))
        forward, backward = directions
        return cls(forward, backward, readout)

    @property
    def hidden(self) -> int:
        return int(self.readout.W.shape[0])

    def _scan_both(self, x_fwd: jax.Array, x_bwd: jax.Array) -> jax.Array:
        """Both directions in one scan over time. x_*: (batch, T, D) with real frames first.
        Returns hidden states (T, 2, batch, half), direction 0 forward, 1 backward (in its
        own, reversed, time)."""
        weights = jnp.stack([self.forward.W[...], self.backward.W[...]])  # (2, D, 4h)
        recurrent = jnp.stack([self.forward.U[...], self.backward.U[...]])  # (2, h, 4h)
        bias = jnp.stack([self.forward.b[...], self.backward.b[...]])  # (2, 4h)
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

    def states(self, x: jax.Array, lengths: jax.Array) -> jax.Array:
        """Hidden activations in frame order, (batch, T, hidden): forward half then backward.

        x: (batch, T, D) padded sequences, lengths: (batch,). Values at t >= length are
        meaningless (and the padding of `x` never influences positions t < length).
        """
        n_steps = x.shape[1]
        reverse = reverse_within_length(lengths, n_steps)
        x_bwd = jnp.take_along_axis(x, reverse[:, :, None], axis=1)
        states = self._scan_both(x, x_bwd)
        forward = jnp.transpose(states[:, 0], (1, 0, 2))
        backward = jnp.take_along_axis(
            jnp.transpose(states[:, 1], (1, 0, 2)), reverse[:, :, None], axis=1
        )
        return jnp.concatenate([forward, backward], axis=-1)

    def reconstruct(self, states: jax.Array) -> jax.Array:
        """The linear read-out: (batch, T, hidden) -> (batch, T, D)."""
        return self.readout(states)

    def utterance_sse(self, x: jax.Array, lengths: jax.Array) -> jax.Array:
        """Per-utterance SSE over real frames: (batch,)."""
        error = (self.reconstruct(self.states(x, lengths)) - x) ** 2
        return jnp.sum(jnp.sum(error, axis=-1) * frame_mask(lengths, x.shape[1]), axis=1)

    def vectors(self, x: jax.Array, lengths: jax.Array, pooling: str) -> jax.Array:
        """Utterance vectors (batch, hidden) of padded sequences (see `pool`)."""
        return pool(self.states(x, lengths), lengths, pooling)

    def tree(self) -> Params:
        return {
            "forward": self.forward.tree(),
            "backward": self.backward.tree(),
            "readout": self.readout.tree(),
        }

    @classmethod
    def from_tree(cls, tree: Mapping) -> BlstmAutoencoder:
        return cls(
            LstmDirection(**tree["forward"]),
            LstmDirection(**tree["backward"]),
            Dense.from_tree(tree["readout"]),
        )


def sequence_loss(
    model: BlstmAutoencoder, batch: tuple[jax.Array, jax.Array], key: jax.Array | None
) -> jax.Array:
    """SSE summed over each utterance's real frames and dimensions, averaged over the batch;
    batch = (x (batch, T, D), lengths (batch,)). No noise: `key` is unused (None outside
    `fit`)."""
    del key
    x, lengths = batch
    return jnp.mean(model.utterance_sse(x, lengths))


def reverse_within_length(lengths: jax.Array, n_steps: int) -> jax.Array:
    """(batch, n_steps) time indices that reverse each sequence within its own length:
    t -> length-1-t for real frames, padding positions stay where they are. The map is its
    own inverse, so the same indices bring the backward states back to frame order."""
    steps = jnp.arange(n_steps)[None, :]
    lengths = lengths[:, None]
    return jnp.where(steps < lengths, lengths - 1 - steps, steps)


def frame_mask(lengths: jax.Array, n_steps: int) -> jax.Array:
    """(batch, n_steps): 1.0 at real frames, 0.0 at padding."""
    return (jnp.arange(n_steps)[None, :] < lengths[:, None]).astype(jnp.float32)


def pool(states: jax.Array, lengths: jax.Array, pooling: str) -> jax.Array:
    """Utterance vectors (batch, hidden) from frame-order states (batch, T, hidden).

    `mean`: average over real frames (a zero-length row gives zeros). `last`: forward state
    at the last real frame and backward state at the first frame.
    """
    if pooling == "mean":
        mask = frame_mask(lengths, states.shape[1])[:, :, None]
        return jnp.sum(states * mask, axis=1) / jnp.maximum(lengths, 1)[:, None]
    if pooling == "last":
        half = states.shape[-1] // 2
        last = jnp.clip(lengths - 1, 0, states.shape[1] - 1)
        forward = jnp.take_along_axis(states[:, :, :half], last[:, None, None], axis=1)[:, 0]
        return jnp.concatenate([forward, states[:, 0, half:]], axis=-1)
    raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")


# --- the same on plain parameter trees ---------------------------------------------------------


def init_blstm(key: jax.Array, n_in: int, hidden: int) -> Params:
    return BlstmAutoencoder.init(key, n_in, hidden).tree()


def blstm_states(params: Mapping, x: jax.Array, lengths: jax.Array) -> jax.Array:
    return BlstmAutoencoder.from_tree(params).states(x, lengths)


def reconstruct(params: Mapping, states: jax.Array) -> jax.Array:
    return BlstmAutoencoder.from_tree(params).reconstruct(states)


def utterance_sse(params: Mapping, x: jax.Array, lengths: jax.Array) -> jax.Array:
    return BlstmAutoencoder.from_tree(params).utterance_sse(x, lengths)


def loss(params: Mapping, x: jax.Array, lengths: jax.Array) -> jax.Array:
    return sequence_loss(BlstmAutoencoder.from_tree(params), (x, lengths), None)
