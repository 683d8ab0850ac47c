"""BLSTM recurrent autoencoder: padding never matters, the backward direction really runs
backwards within each utterance, training learns and resumes exactly, pooling shapes."""

from __future__ import annotations

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from affectrep.data.featureset import FeatureIndex
from affectrep.models import blstm as model
from affectrep.train import blstm
from affectrep.train.loop import bucket_length

DIMS = 6
HIDDEN = 8


@jax.jit
def _summary(params, x, lengths):
    """States, per-utterance SSE and both poolings, compiled once per shape (eager execution
    of a scan is slow)."""
    states = model.blstm_states(params, x, lengths)
    return (
        states,
        model.utterance_sse(params, x, lengths),
        model.pool(states, lengths, "mean"),
        model.pool(states, lengths, "last"),
        model.loss(params, x, lengths),
    )


def _params(seed: int = 0, hidden: int = HIDDEN, dims: int = DIMS) -> model.Params:
    params = model.init_blstm(jax.random.PRNGKey(seed), dims, hidden)
    # Non-zero biases everywhere, so that a test could notice a bias applied in the wrong place.
    rng = np.random.default_rng(seed)
    for group in params.values():
        group["b"] = group["b"] + jnp.asarray(
            rng.normal(size=group["b"].shape) * 0.3, dtype=jnp.float32
        )
    return params


def _padded(lengths: list[int], n_steps: int, seed: int = 0, pad_value: float = 0.0):
    rng = np.random.default_rng(seed)
    x = np.full((len(lengths), n_steps, DIMS), pad_value, dtype=np.float32)
    for row, length in enumerate(lengths):
        x[row, :length] = rng.normal(size=(length, DIMS))
    return x, np.asarray(lengths, dtype=np.int32)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _reference_direction(p: dict, frames: np.ndarray) -> np.ndarray:
    """A plain NumPy LSTM over `frames` in the given order (gate order i, f, g, o)."""
    weights, recurrent, bias = (np.asarray(p[k], dtype=np.float64) for k in ("W", "U", "b"))
    half = recurrent.shape[0]
    h = np.zeros(half)
    c = np.zeros(half)
    out = []
    for frame in frames:
        gates = frame @ weights + h @ recurrent + bias
        i, f, g, o = np.split(gates, 4)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.array(out)


def test_states_match_a_reference_blstm_run_on_each_utterance_alone():
    params = _params()
    x, lengths = _padded([5, 12, 1], n_steps=16)
    states = np.asarray(_summary(params, jnp.asarray(x), jnp.asarray(lengths))[0])
    assert states.shape == (3, 16, HIDDEN)
    for row, length in enumerate(lengths):
        frames = x[row, :length].astype(np.float64)
        forward = _reference_direction(params["forward"], frames)
        backward = _reference_direction(params["backward"], frames[::-1])[::-1]
        np.testing.assert_allclose(states[row, :length, : HIDDEN // 2], forward, atol=1e-5)
        # The backward state at frame 0 has read the whole utterance, last frame first.
        np.testing.assert_allclose(states[row, :length, HIDDEN // 2 :], backward, atol=1e-5)


def test_padding_values_and_padded_length_change_nothing():
    params = _params(1)
    x, lengths = _padded([7, 3, 10], n_steps=16, seed=2)
    garbage, _ = _padded([7, 3, 10], n_steps=32, seed=2, pad_value=1e3)
    clean = _summary(params, jnp.asarray(x), jnp.asarray(lengths))
    noisy = _summary(params, jnp.asarray(garbage), jnp.asarray(lengths))
    for row, length in enumerate(lengths):
        np.testing.assert_allclose(clean[0][row, :length], noisy[0][row, :length], atol=1e-6)
    for ours, theirs in zip(clean[1:], noisy[1:], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_padded_batch_equals_each_utterance_alone():
    params = _params(2)
    lengths = [9, 4, 13]
    x, lens = _padded(lengths, n_steps=16, seed=3)
    _, batch_sse, batch_mean, batch_last, batch_loss = _summary(
        params, jnp.asarray(x), jnp.asarray(lens)
    )
    for row in (1, 2):  # shorter and longer than the others
        length = lengths[row]
        alone = jnp.asarray(x[row : row + 1, :length])
        states, sse, mean, last, _ = _summary(params, alone, jnp.asarray([length]))
        np.testing.assert_allclose(batch_sse[row], sse[0], rtol=1e-5)
        np.testing.assert_allclose(batch_mean[row], mean[0], atol=1e-5)
        np.testing.assert_allclose(batch_last[row], last[0], atol=1e-5)
        np.testing.assert_allclose(batch_mean[row], np.asarray(states[0]).mean(axis=0), atol=1e-5)
    # The batch loss is the per-utterance SSE averaged over utterances.
    assert float(batch_loss) == pytest.approx(float(np.mean(batch_sse)), rel=1e-5)


def _reverse_within_length(lengths: jax.Array, n_steps: int) -> jax.Array:
    """(batch, n_steps) time indices that reverse each sequence within its own length (for
    the reference): t -> length-1-t for real frames, padding positions stay where they are.
    The map is its own inverse."""
    steps = jnp.arange(n_steps)[None, :]
    lengths = lengths[:, None]
    return jnp.where(steps < lengths, lengths - 1 - steps, steps)


def _autodiff_loss(params: model.Params, x: jax.Array, lengths: jax.Array) -> jax.Array:
    """The loss written plainly, each direction its own scan over each utterance reversed
    within its length, differentiated by JAX itself: the reference for the hand-written
    gradient of `model.lstm_recurrence`."""

    def direction(p, frames):
        half = p["U"].shape[0]

        def step(carry, frame):
            h, c = carry
            i, f, g, o = jnp.split(frame @ p["W"] + h @ p["U"] + p["b"], 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        zeros = jnp.zeros((frames.shape[0], half))
        return jnp.swapaxes(jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(frames, 0, 1))[1], 0, 1)

    reverse = _reverse_within_length(lengths, x.shape[1])[:, :, None]
    forward = direction(params["forward"], x)
    backward = direction(params["backward"], jnp.take_along_axis(x, reverse, axis=1))
    states = jnp.concatenate([forward, jnp.take_along_axis(backward, reverse, axis=1)], -1)
    error = jnp.sum((states @ params["readout"]["W"] + params["readout"]["b"] - x) ** 2, -1)
    return jnp.mean(jnp.sum(error * model.frame_mask(lengths, x.shape[1]), axis=1))


def test_the_hand_written_gradient_equals_autodiff_of_a_plain_lstm():
    params = _params(4)
    x, lengths = _padded([11, 4, 16, 1], n_steps=16, seed=5, pad_value=3.0)
    x, lengths = jnp.asarray(x), jnp.asarray(lengths)
    value, grads = jax.jit(jax.value_and_grad(model.loss))(params, x, lengths)
    ref_value, ref_grads = jax.jit(jax.value_and_grad(_autodiff_loss))(params, x, lengths)
    assert float(value) == pytest.approx(float(ref_value), rel=1e-5)
    for name in ("forward", "backward", "readout"):
        for key, reference in ref_grads[name].items():
            scale = float(jnp.max(jnp.abs(reference)))
            assert scale > 0, f"{name}/{key} has no gradient to compare"
            np.testing.assert_allclose(grads[name][key], reference, atol=1e-5 * scale)


def _corpus(n_utterances: int = 16, seed: int = 0) -> tuple[np.ndarray, FeatureIndex]:
    """Smooth, low-rank sequences: something an autoencoder can learn to reconstruct."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(12, 40, n_utterances)
    mixing = rng.normal(size=(2, DIMS))
    chunks = []
    for length in lengths:
        t = np.arange(length)[:, None]
        phase, speed = rng.uniform(0, 6.3), rng.uniform(0.1, 0.4)
        latent = np.concatenate([np.sin(speed * t + phase), np.cos(0.5 * speed * t)], axis=1)
        chunks.append(np.tanh(latent @ mixing + 0.05 * rng.normal(size=(length, DIMS))))
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    index = FeatureIndex(
        [f"u{i}" for i in range(n_utterances)],
        [f"s{i % 3}" for i in range(n_utterances)],
        offsets,
        lengths,
    )
    return np.concatenate(chunks).astype(np.float32), index


# One padded shape (bucket 64 >= every length): one compilation for all training tests.
FAST = blstm.BlstmSettings(
    hidden=HIDDEN, optimizer="adam", learning_rate=1e-2, epochs=4, batch_size=4, bucket_frames=64
)


def test_a_short_run_lowers_the_loss():
    codes, index = _corpus()
    params, history = blstm.train_blstm(codes, index, FAST)
    losses = [record["loss"] for record in history.records]
    assert len(losses) == 4 and losses[-1] < 0.7 * losses[0]
    assert all(record["utterances_per_s"] > 0 for record in history.records)
    assert params["readout"]["W"].shape == (HIDDEN, DIMS)


def test_the_denoising_loss_reconstructs_clean_frames_from_masked_spans():
    x, lengths = _padded([9, 4, 12], 12, seed=5, pad_value=3.0)
    params = _params(4)
    network = model.BlstmAutoencoder.from_tree(params)
    loss = model.MaskedSequenceLoss(mask_ratio=0.5, span=3)
    key = jax.random.PRNGKey(7)
    masked = model.span_mask(key, jnp.asarray(lengths), 12, 0.5, 3)
    assert bool(jnp.any(masked)) and not bool(
        jnp.any(masked & ~model.frame_mask(lengths, 12).astype(bool))
    )
    # The same as the plain SSE of the clean target, computed from the corrupted input.
    corrupted = jnp.where(masked[..., None], 0.0, x)
    expected = jnp.mean(network.utterance_sse(corrupted, jnp.asarray(lengths), target=x))
    got = loss(network, (jnp.asarray(x), jnp.asarray(lengths)), key)
    np.testing.assert_allclose(float(got), float(expected), rtol=1e-6)
    # ... which differs from the plain autoencoder's loss (the input really is corrupted) and
    # from reconstructing the corrupted input (the target really is clean).
    plain = model.sequence_loss(network, (jnp.asarray(x), jnp.asarray(lengths)), None)
    of_corrupted = jnp.mean(network.utterance_sse(corrupted, jnp.asarray(lengths)))
    assert abs(float(got) - float(plain)) > 1e-3 and abs(float(got) - float(of_corrupted)) > 1e-3


def test_denoising_training_learns_and_is_chosen_by_mask_ratio():
    codes, index = _corpus()
    assert blstm.BlstmSettings().loss() is model.sequence_loss
    settings = blstm.BlstmSettings(**{**FAST.__dict__, "mask_ratio": 0.3, "span": 2})
    assert settings.loss() == model.MaskedSequenceLoss(0.3, 2)
    _, history = blstm.train_blstm(codes, index, settings)
    losses = [record["loss"] for record in history.records]
    assert losses[-1] < 0.8 * losses[0]
    for bad, message in (({"mask_ratio": 1.0}, "mask_ratio"), ({"span": 0}, "span")):
        with pytest.raises(ValueError, match=message):
            blstm.BlstmSettings(**bad).check()


def test_resume_after_interruption_gives_the_same_parameters(tmp_path, caplog):
    codes, index = _corpus(seed=1)
    settings = blstm.BlstmSettings(**{**FAST.__dict__, "epochs": 3, "max_frames": 20})
    checkpoint = tmp_path / "blstm.checkpoint.npz"
    uninterrupted, full = blstm.train_blstm(codes, index, settings)
    _, killed = blstm.train_blstm(
        codes, index, settings, checkpoint=checkpoint, stop_after_epochs=1
    )
    assert len(killed.records) == 1 and checkpoint.exists()
    with caplog.at_level(logging.INFO):
        resumed, history = blstm.train_blstm(codes, index, settings, checkpoint=checkpoint)
    assert history.resumed_from_epoch == 1 and "resuming after epoch 1" in caplog.text
    for name in ("forward", "backward", "readout"):
        for key in uninterrupted[name]:
            np.testing.assert_array_equal(
                np.asarray(resumed[name][key]), np.asarray(uninterrupted[name][key])
            )
    assert [r["loss"] for r in history.records] == [r["loss"] for r in full.records]
    # Other data: the checkpoint is ignored, training starts afresh.
    _, other = blstm.train_blstm(
        codes * 2, index, settings, checkpoint=checkpoint, stop_after_epochs=1
    )
    assert other.resumed_from_epoch == 0


def test_representations_pooling_and_file_round_trip(tmp_path):
    codes, index = _corpus(n_utterances=7, seed=2)
    params = _params(3)
    means = blstm.utterance_vectors(params, codes, index, "mean", batch_size=4, bucket_frames=64)
    lasts = blstm.utterance_vectors(params, codes, index, "last", batch_size=4, bucket_frames=64)
    assert means.shape == lasts.shape == (7, HIDDEN) and means.dtype == np.float32
    assert not np.allclose(means, lasts)
    # Index order is kept although batches are formed in length order.
    row = int(np.argmax(index.lengths))  # in the last batch of length order
    start, length = index.offsets[row], index.lengths[row]
    alone = jnp.asarray(codes[None, start : start + length])
    states = np.asarray(_summary(params, alone, jnp.asarray([length]))[0][0])
    np.testing.assert_allclose(means[row], states.mean(axis=0), atol=1e-5)
    half = HIDDEN // 2
    np.testing.assert_allclose(lasts[row, :half], states[-1, :half], atol=1e-5)
    np.testing.assert_allclose(lasts[row, half:], states[0, half:], atol=1e-5)
    blstm.save_blstm(tmp_path / "blstm.npz", params, {"hidden": HIDDEN})
    loaded, meta = blstm.load_blstm(tmp_path / "blstm.npz")
    assert meta == {"hidden": HIDDEN}
    np.testing.assert_allclose(
        blstm.utterance_vectors(loaded, codes, index, batch_size=4, bucket_frames=64),
        means,
        atol=1e-6,
    )


def test_settings_are_checked():
    with pytest.raises(ValueError, match="even"):
        model.init_blstm(jax.random.PRNGKey(0), DIMS, 5)
    with pytest.raises(ValueError, match="even"):
        blstm.BlstmSettings(hidden=15).check()
    with pytest.raises(ValueError, match="pooling"):
        blstm.BlstmSettings(pooling="max").check()
    codes, index = _corpus(n_utterances=3)
    with pytest.raises(ValueError, match="fewer than one batch"):
        blstm.train_blstm(codes, index, FAST)
    defaults = blstm.BlstmSettings()
    assert (defaults.hidden, defaults.learning_rate, defaults.epochs, defaults.pooling) == (
        16,
        1e-6,
        45,
        "mean",
    )


def test_a_non_finite_loss_stops_training_with_advice():
    codes, index = _corpus()
    # Squared errors of codes this large overflow float32, as a diverging run's would.
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        blstm.train_blstm(
            codes * 1e25, index, blstm.BlstmSettings(**{**FAST.__dict__, "epochs": 1})
        )


def test_bucket_lengths_are_few_and_waste_little():
    lengths = np.arange(1, 5000)
    buckets = np.array([bucket_length(n, 32) for n in lengths])
    assert np.all(buckets >= lengths) and np.all(buckets % 32 == 0)
    assert np.all(buckets[lengths >= 128] < 1.25 * lengths[lengths >= 128] + 1)
    assert len(set(buckets.tolist())) <= 4 + 4 * 6  # ~4 shapes per doubling
    reverse = np.asarray(_reverse_within_length(jnp.asarray([3, 0]), 5))
    np.testing.assert_array_equal(reverse, [[2, 1, 0, 3, 4], [0, 1, 2, 3, 4]])
