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

Variable lengths: a batch is padded (to few bucketed lengths, `affectrep.train.loop`) with
the real frames first. Both directions run in ONE `lax.scan` over time-major sequences
(T, batch, ...): the forward direction reads the block as it is, so padding comes after
every state that is used; the backward direction reads the block reversed and its state is
reset to zero at every padding step, so it starts afresh at each utterance's last real
frame, exactly as if it read that utterance alone, backwards. Masks keep padding out of the
loss and the pooled representation. Both directions' input projections are one 2-D matmul
over every frame, and the recurrence (`bilstm_recurrence`) has a hand-written gradient.

The functions at the end (`init_blstm`, `blstm_states`, `loss`, ...) do the same on the
plain parameter dicts that `blstm.npz` holds (`forward/W`, `forward/U`, `forward/b`,
`backward/...`, `readout/W`, `readout/b`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from affectrep.models.dense import Dense, glorot, param
from affectrep.models.masked import span_mask

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

    def _frame_states(self, x: jax.Array, lengths: jax.Array) -> jax.Array:
        """Hidden activations in frame order, time-major: (T, batch, hidden), forward half
        then backward. x: (T, batch, D), real frames first."""
        n_steps, batch, n_in = x.shape
        # Both directions' input projections in ONE 2-D matmul over every frame, in frame
        # order (the recurrence reads the backward half from the last frame).
        weights = jnp.concatenate([self.forward.W[...], self.backward.W[...]], axis=1)
        projected = (x.reshape(n_steps * batch, n_in) @ weights).reshape(n_steps, batch, -1)
        recurrent = jnp.stack([self.forward.U[...], self.backward.U[...]])
        bias = jnp.stack([self.forward.b[...], self.backward.b[...]])
        # Step t of the backward direction reads frame T-1-t; padding resets its state.
        real_reversed = frame_mask(lengths, n_steps).T[::-1, :, None]
        return bilstm_recurrence(projected, recurrent, bias, real_reversed)

    def states(self, x: jax.Array, lengths: jax.Array) -> jax.Array:
        """Hidden activations in frame order, (batch, T, hidden): forward half then backward.

        x: (batch, T, D) padded sequences, lengths: (batch,). Values at t >= length are
        meaningless (and the padding of `x` never influences positions t < length).
        """
        return jnp.swapaxes(self._frame_states(jnp.swapaxes(x, 0, 1), lengths), 0, 1)

    def reconstruct(self, states: jax.Array) -> jax.Array:
        """The linear read-out: (batch, T, hidden) -> (batch, T, D)."""
        return self.readout(states)

    def utterance_sse(
        self, x: jax.Array, lengths: jax.Array, target: jax.Array | None = None
    ) -> jax.Array:
        """Per-utterance SSE over real frames: (batch,), of the reconstruction of `target`
        (default: `x` itself; a denoising autoencoder reads a corrupted `x` and reconstructs
        the clean `target`). Time-major, the recurrence's layout, so that no
        (batch, T, ...) copy of the states is made."""
        x = jnp.swapaxes(x, 0, 1)  # (T, batch, D)
        target = x if target is None else jnp.swapaxes(target, 0, 1)
        error = jnp.sum((self.readout(self._frame_states(x, lengths)) - target) ** 2, axis=-1)
        return jnp.sum(error * frame_mask(lengths, x.shape[0]).T, axis=0)

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


@dataclass(frozen=True)
class MaskedSequenceLoss:
    """The denoising variant of `sequence_loss` (beyond the paper; the BLSTM's counterpart of
    the autoencoders' masking noise): spans of `span` frames, about `mask_ratio` of each
    utterance's real frames (`affectrep.models.masked.span_mask`, fresh at every step), are
    set to zero in the input, and the network reconstructs every real frame of the clean
    sequence. A plain autoencoder with enough units can copy each frame through its state;
    a masked span can only be filled in from the frames around it, so the states must carry
    the utterance's context. A value (frozen dataclass), so the compiled step is cached."""

    mask_ratio: float
    span: int

    def __call__(
        self, model: BlstmAutoencoder, batch: tuple[jax.Array, jax.Array], key: jax.Array
    ) -> jax.Array:
        x, lengths = batch
        masked = span_mask(key, lengths, x.shape[1], self.mask_ratio, self.span)
        corrupted = jnp.where(masked[..., None], 0.0, x)
        return jnp.mean(model.utterance_sse(corrupted, lengths, target=x))


def _bilstm_forward(projected: jax.Array, recurrent: jax.Array, bias: jax.Array, keep: jax.Array):
    """The recurrence of both directions in one loop over time. projected: (T, batch, 8h),
    each frame's input projection, forward gates then backward gates (order i, f, g, o), in
    frame order; recurrent: (2, h, 4h); bias: (2, 4h), added at each step (adding it to
    `projected` would be one more pass over the largest array of the step, and a fresh
    buffer: on a CPU that costs more than the additions); keep: (T, batch, 1), at loop step t
    1 where the backward direction's frame T-1-t is real, 0 where it is padding (its state
    is reset to zero after that step). Step t runs the forward direction on frame t and the
    backward direction on frame T-1-t, reading both straight from `projected` and writing
    both states into the frame-order result (T, batch, 2h): no reversed or stacked copy of
    the sequences is ever made. Residuals for the gradient, per step and direction: the
    previous cell, the cell before the reset and the four gate activations (separate
    arrays: concatenating them inside the loop costs XLA:CPU more than the arithmetic)."""
    n_steps, batch, _ = projected.shape
    half = recurrent.shape[1]
    last = n_steps - 1

    def step(carry, inputs):
        h, c, states = carry
        t, keep_t = inputs
        gates_in = jnp.stack(
            [
                jax.lax.dynamic_slice(projected, (t, 0, 0), (1, batch, 4 * half))[0],
                jax.lax.dynamic_slice(projected, (last - t, 0, 4 * half), (1, batch, 4 * half))[0],
            ]
        )
        gates = gates_in + bias[:, None, :] + jnp.einsum("kbh,khg->kbg", h, recurrent)
        i = jax.nn.sigmoid(gates[..., :half])
        f = jax.nn.sigmoid(gates[..., half : 2 * half])
        g = jnp.tanh(gates[..., 2 * half : 3 * half])
        o = jax.nn.sigmoid(gates[..., 3 * half :])
        cell_raw = f * c + i * g
        keep_both = jnp.stack([jnp.ones_like(keep_t), keep_t])  # (2, batch, 1)
        h_new = o * jnp.tanh(cell_raw) * keep_both
        states = jax.lax.dynamic_update_slice(states, h_new[0][None], (t, 0, 0))
        states = jax.lax.dynamic_update_slice(states, h_new[1][None], (last - t, 0, half))
        return (h_new, cell_raw * keep_both, states), (c, cell_raw, i, f, g, o)

    zeros = jnp.zeros((2, batch, half), projected.dtype)
    states = jnp.zeros((n_steps, batch, 2 * half), projected.dtype)
    (_, _, states), saved = jax.lax.scan(step, (zeros, zeros, states), (jnp.arange(n_steps), keep))
    return states, (states, saved, recurrent, keep)


@jax.custom_vjp
def bilstm_recurrence(
    projected: jax.Array, recurrent: jax.Array, bias: jax.Array, keep: jax.Array
) -> jax.Array:
    """Frame-order states (T, batch, 2h) of a bidirectional LSTM, zero initial states (see
    `_bilstm_forward` for the arguments).

    Its gradient is written out (`_bilstm_backward`) instead of left to autodiff of the
    scan: the backward loop carries only the state gradients and one small matmul per step,
    and the recurrent weights' gradient is one matmul per direction over all time steps
    after the loop, not an (h, 4h) outer product accumulated at every step. Measured with
    bench/blstm.py: README, Speed."""
    return _bilstm_forward(projected, recurrent, bias, keep)[0]


def _bilstm_backward(residuals, d_states: jax.Array):
    states, saved, recurrent, keep = residuals
    n_steps, batch, _ = d_states.shape
    half = recurrent.shape[1]
    last = n_steps - 1

    def step(carry, inputs):
        dh_later, dc_later, d_bias, d_projected = carry
        t, keep_t, (c_before, cell_raw, i, f, g, o) = inputs
        d_out = jnp.stack(
            [
                jax.lax.dynamic_slice(d_states, (t, 0, 0), (1, batch, half))[0],
                jax.lax.dynamic_slice(d_states, (last - t, 0, half), (1, batch, half))[0],
            ]
        )
        keep_both = jnp.stack([jnp.ones_like(keep_t), keep_t])
        dh = (d_out + dh_later) * keep_both
        tanh_c = jnp.tanh(cell_raw)
        dc = dc_later * keep_both + dh * o * (1.0 - tanh_c * tanh_c)
        d_gates = jnp.concatenate(
            [
                dc * g * i * (1.0 - i),
                dc * c_before * f * (1.0 - f),
                dc * i * (1.0 - g * g),
                dh * tanh_c * o * (1.0 - o),
            ],
            axis=-1,
        )  # (2, batch, 4h)
        d_projected = jax.lax.dynamic_update_slice(d_projected, d_gates[0][None], (t, 0, 0))
        d_projected = jax.lax.dynamic_update_slice(
            d_projected, d_gates[1][None], (last - t, 0, 4 * half)
        )
        dh_before = jnp.einsum("kbg,khg->kbh", d_gates, recurrent)
        return (dh_before, dc * f, d_bias + jnp.sum(d_gates, axis=1), d_projected), None

    zeros = jnp.zeros((2, batch, half), d_states.dtype)
    d_bias = jnp.zeros((2, 4 * half), d_states.dtype)
    d_projected = jnp.zeros((n_steps, batch, 8 * half), d_states.dtype)
    (_, _, d_bias, d_projected), _ = jax.lax.scan(
        step,
        (zeros, zeros, d_bias, d_projected),
        (jnp.arange(n_steps), keep, saved),
        reverse=True,
    )
    # The state each step started from: frame t-1's forward state, frame t+1's backward
    # state. Sum over frames and utterances of state^T d_gates: one matmul per direction.
    d_forward = jnp.einsum("tbh,tbg->hg", states[:-1, :, :half], d_projected[1:, :, : 4 * half])
    d_backward = jnp.einsum("tbh,tbg->hg", states[1:, :, half:], d_projected[:-1, :, 4 * half :])
    return d_projected, jnp.stack([d_forward, d_backward]), d_bias, jnp.zeros_like(keep)


bilstm_recurrence.defvjp(_bilstm_forward, _bilstm_backward)


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
