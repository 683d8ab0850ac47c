"""The masked spectrogram model (Table 2's `masked` column): masking, loss, shapes, training
through the one fit loop, resumption, utterance vectors and the stage functions."""

import logging

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from affectrep.data.featureset import FeatureIndex, write_index
from affectrep.data.manifest import Utterance, write_manifest
from affectrep.data.pooling import PoolingSpec, pool_one
from affectrep.models.masked import (
    MaskedEncoder,
    MaskedPredictionLoss,
    dilations,
    masked_mse,
    receptive_field,
    span_mask,
)
from affectrep.train import masked

DIMS = 6
WIDTH = 8


def _corpus(n_utterances: int = 12, seed: int = 0) -> tuple[np.ndarray, FeatureIndex]:
    """Smooth multi-sine 'spectrograms' (predictable from their context) with a little noise,
    utterances of 10 to 60 frames."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, 61, n_utterances)
    offsets = np.cumsum(lengths) - lengths
    t = np.arange(int(lengths.sum()))[:, None]
    frames = np.sin(t * np.linspace(0.1, 0.6, DIMS)[None] + rng.uniform(0, 6, DIMS))
    frames = frames + 0.05 * rng.normal(size=frames.shape)
    index = FeatureIndex(
        ids=[f"u{i:02d}" for i in range(n_utterances)],
        speakers=[f"s{i % 3}" for i in range(n_utterances)],
        offsets=offsets,
        lengths=lengths,
    )
    return frames.astype(np.float32), index


# Small and quick: one padded shape (crops of 32 frames) for every training test.
FAST = masked.MaskedSettings(
    width=WIDTH,
    layers=2,
    kernel=3,
    crop_frames=32,
    span=4,
    batch_size=4,
    epochs=6,
    learning_rate=1e-2,
)


def _runs(row: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D bool array."""
    runs, start = [], None
    for t, value in enumerate([*row.tolist(), False]):
        if value and start is None:
            start = t
        elif not value and start is not None:
            runs.append((start, t - start))
            start = None
    return runs


# --- masking -----------------------------------------------------------------------------------


def test_the_mask_covers_about_the_ratio_of_real_frames_in_spans_and_never_padding():
    n_steps, span, ratio = 96, 8, 0.4
    lengths = jnp.asarray([96, 80, 50, 17, 3, 0] * 50, dtype=jnp.int32)
    mask = np.asarray(span_mask(jax.random.PRNGKey(0), lengths, n_steps, ratio, span))
    lengths = np.asarray(lengths)
    assert mask.shape == (len(lengths), n_steps) and mask.dtype == bool
    real = np.arange(n_steps)[None, :] < lengths[:, None]
    assert not mask[~real].any()  # padding is never masked
    assert not mask[lengths == 0].any()
    assert mask[lengths > 0].any(axis=1).all()  # every real sequence has a masked frame
    # The expected fraction of real frames is the ratio (stochastic rounding): over many
    # sequences of a length the mean is close to it.
    for length in (96, 80, 50):
        fraction = mask[lengths == length].sum(axis=1) / length
        assert abs(fraction.mean() - ratio) < 0.03, (length, fraction.mean())
    # Spans: a run of masked frames that touches neither end of the sequence is a whole
    # number of spans; at the ends a span may be cut.
    for row, length in zip(mask, lengths, strict=True):
        for start, size in _runs(row):
            if start > 0 and start + size < length:
                assert size % span == 0, (start, size, length)
    # Fresh keys draw other masks; the same key draws the same one.
    again = np.asarray(span_mask(jax.random.PRNGKey(0), jnp.asarray(lengths), n_steps, ratio, span))
    other = np.asarray(span_mask(jax.random.PRNGKey(1), jnp.asarray(lengths), n_steps, ratio, span))
    np.testing.assert_array_equal(mask, again)
    assert (mask != other).any()


@pytest.mark.parametrize("ratio", [0.15, 0.5, 0.8])
def test_the_ratio_is_the_setting(ratio):
    lengths = jnp.full((400,), 128, dtype=jnp.int32)
    mask = np.asarray(span_mask(jax.random.PRNGKey(3), lengths, 128, ratio, 10))
    assert abs(mask.mean() - ratio) < 0.02


def test_the_loss_counts_only_masked_real_frames():
    rng = np.random.default_rng(0)
    target = jnp.asarray(rng.normal(size=(2, 10, DIMS)), dtype=jnp.float32)
    prediction = jnp.asarray(rng.normal(size=(2, 10, DIMS)), dtype=jnp.float32)
    lengths = jnp.asarray([10, 6], dtype=jnp.int32)
    chosen = np.zeros((2, 10), dtype=bool)
    chosen[0, 2:5] = True
    chosen[1, 4:8] = True  # frames 6 and 7 are padding: they must not count
    loss = float(masked_mse(prediction, target, jnp.asarray(chosen), lengths))
    used = [(0, 2), (0, 3), (0, 4), (1, 4), (1, 5)]
    expected = np.mean([np.mean((prediction[b, t] - target[b, t]) ** 2) for b, t in used])
    assert loss == pytest.approx(expected, rel=1e-5)
    # Predictions at unmasked or padded frames change nothing; at a masked real frame they do.
    moved = prediction.at[0, 0].add(5.0).at[1, 7].add(5.0).at[1, 9].add(5.0)
    assert float(masked_mse(moved, target, jnp.asarray(chosen), lengths)) == pytest.approx(loss)
    moved = prediction.at[1, 5].add(5.0)
    assert float(masked_mse(moved, target, jnp.asarray(chosen), lengths)) != pytest.approx(loss)
    # Nothing masked: zero, not NaN.
    nothing = jnp.zeros((2, 10), dtype=bool)
    assert float(masked_mse(prediction, target, nothing, lengths)) == 0.0


# --- the model -------------------------------------------------------------------------------


def test_shapes_dilations_and_a_file_round_trip():
    model = MaskedEncoder.init(jax.random.PRNGKey(0), DIMS, width=WIDTH, layers=5, kernel=5)
    assert model.dilations == [1, 2, 4, 8, 1] == dilations(5, True)
    assert dilations(3, False) == [1, 1, 1]
    assert receptive_field(5, [1, 2, 4, 8]) == 61 and receptive_field(5, [1] * 4) == 17
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 20, DIMS)), dtype=jnp.float32)
    lengths = jnp.asarray([20, 12, 1], dtype=jnp.int32)
    encoded = model.encode(x, lengths)
    assert encoded.shape == (3, 20, WIDTH)
    assert np.all(np.asarray(encoded)[1, 12:] == 0) and np.all(np.asarray(encoded)[2, 1:] == 0)
    chosen = span_mask(jax.random.PRNGKey(1), lengths, 20, 0.4, 4)
    assert model.predict(x, lengths, chosen).shape == (3, 20, DIMS)
    tree = model.tree()
    assert tree["blocks"][0]["conv"]["W"].shape == (5, WIDTH, WIDTH)
    assert tree["input"]["W"].shape == (DIMS, WIDTH) and tree["head"]["W"].shape == (WIDTH, DIMS)
    assert tree["mask"].shape == (DIMS,)
    again = MaskedEncoder.from_tree(tree, model.dilations)
    np.testing.assert_array_equal(np.asarray(again.encode(x, lengths)), np.asarray(encoded))
    with pytest.raises(ValueError, match="dilations"):
        MaskedEncoder.from_tree(tree, [1, 2])
    with pytest.raises(ValueError, match="odd"):
        MaskedEncoder.init(jax.random.PRNGKey(0), DIMS, width=WIDTH, layers=1, kernel=4)


def test_padding_never_changes_a_real_frames_representation():
    """An utterance gives the same frames alone and padded in a batch (the convolutions see
    zeros beyond its length either way), whatever the padding holds."""
    model = MaskedEncoder.init(jax.random.PRNGKey(2), DIMS, width=WIDTH, layers=4, kernel=5)
    rng = np.random.default_rng(1)
    utterance = rng.normal(size=(1, 13, DIMS)).astype(np.float32)
    alone = np.asarray(model.encode(jnp.asarray(utterance), jnp.asarray([13])))
    padded = np.concatenate([utterance, 100 * rng.normal(size=(1, 27, DIMS))], axis=1)
    batch = np.concatenate([padded, rng.normal(size=(1, 40, DIMS))]).astype(np.float32)
    inside = np.asarray(model.encode(jnp.asarray(batch), jnp.asarray([13, 40])))
    np.testing.assert_allclose(inside[0, :13], alone[0], atol=1e-5)


def test_the_masked_frames_are_replaced_by_the_mask_vector():
    model = MaskedEncoder.init(jax.random.PRNGKey(0), DIMS, width=WIDTH, layers=1, kernel=3)
    x = jnp.ones((1, 5, DIMS))
    chosen = jnp.asarray([[False, True, True, False, False]])
    replaced = np.asarray(model.masked_input(x, chosen))
    np.testing.assert_array_equal(replaced[0, 1:3], 0.0)  # the mask vector starts at zero
    np.testing.assert_array_equal(replaced[0, [0, 3, 4]], 1.0)


# --- training through the one fit loop --------------------------------------------------------


def test_a_few_epochs_lower_the_loss():
    frames, index = _corpus()
    params, history = masked.train_masked(frames, index, FAST)
    losses = [record["loss"] for record in history.records]
    assert len(losses) == 6 and losses[-1] < 0.6 * losses[0], losses
    assert all(record["utterances_per_s"] > 0 for record in history.records)
    assert params["blocks"][1]["conv"]["W"].shape == (3, WIDTH, WIDTH)


def test_resume_after_interruption_gives_the_same_parameters(tmp_path, caplog):
    frames, index = _corpus(seed=1)
    settings = masked.MaskedSettings(**{**FAST.__dict__, "epochs": 3})
    checkpoint = tmp_path / "model.checkpoint.npz"
    uninterrupted, full = masked.train_masked(frames, index, settings)
    _, killed = masked.train_masked(
        frames, index, settings, checkpoint=checkpoint, stop_after_epochs=1
    )
    assert len(killed.records) == 1 and checkpoint.exists()
    with caplog.at_level(logging.INFO):
        resumed, history = masked.train_masked(frames, index, settings, checkpoint=checkpoint)
    assert history.resumed_from_epoch == 1 and "resuming after epoch 1" in caplog.text
    for a, b in zip(
        jax.tree_util.tree_leaves(resumed), jax.tree_util.tree_leaves(uninterrupted), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert [r["loss"] for r in history.records] == [r["loss"] for r in full.records]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kernel": 4}, "odd"),
        ({"mask_ratio": 1.0}, "mask_ratio"),
        ({"span": 0}, "span"),
        ({"crop_frames": 3}, "crop_frames"),
    ],
)
def test_settings_that_cannot_work_stop_before_training(change, message):
    with pytest.raises(ValueError, match=message):
        masked.MaskedSettings(**{**FAST.__dict__, **change}).check()


# --- utterance vectors and the stages -------------------------------------------------------


def test_vectors_are_the_pooled_frames_of_each_whole_utterance():
    frames, index = _corpus(n_utterances=37, seed=2)
    model = masked.init_model(DIMS, FAST)
    params = jax.tree_util.tree_map(np.asarray, model.tree())
    spec = PoolingSpec(("mean", "std", "p50"), True)
    vectors = masked.utterance_vectors(params, FAST.dilations, frames, index, spec)
    assert vectors.shape == (37, spec.n_out(WIDTH)) == (37, 6 * WIDTH)
    assert vectors.dtype == np.float32 and np.all(np.isfinite(vectors))
    # Index order is kept although batches are formed in length order; unmasked, uncropped.
    for row in (int(np.argmax(index.lengths)), int(np.argmin(index.lengths)), 5):
        start, length = index.offsets[row], index.lengths[row]
        alone = model.encode(
            jnp.asarray(frames[None, start : start + length]), jnp.asarray([length])
        )
        np.testing.assert_allclose(vectors[row], pool_one(np.asarray(alone[0]), spec), atol=1e-4)


def _write_corpus(folder, frames, index, sessions):
    """frames.npy, index.tsv and a manifest of `index` (speaker s<k> in session `sessions[k]`)."""
    np.save(folder / "frames.npy", frames)
    write_index(index, folder / "index.tsv")
    rows = [
        Utterance(uid, f"{uid}.wav", speaker, sessions[int(speaker[1:])], emotion="anger")
        for uid, speaker in zip(index.ids, index.speakers, strict=True)
    ]
    write_manifest(rows, folder / "manifest.tsv")


def test_the_stages_train_without_the_held_out_session_and_embed_every_utterance(tmp_path):
    from affectrep.stages.representations import masked_embed, masked_pretrain, masked_title

    frames, index = _corpus(n_utterances=9, seed=3)
    _write_corpus(tmp_path, frames, index, ["A", "A", "B"])
    settings = {**FAST.__dict__, "epochs": 2}
    meta = masked_pretrain(
        tmp_path / "frames.npy",
        tmp_path / "index.tsv",
        tmp_path / "manifest.tsv",
        settings=settings,
        model_out=tmp_path / "model.npz",
        exclude_session="B",
    )
    assert meta["excluded_session"] == "B" and meta["dilations"] == [1, 2]
    assert len(meta["history"]) == 2 and not (tmp_path / "model.checkpoint.npz").exists()
    assert masked_title(meta) == "Masked spectrogram model, logmel40, 2 x 8"
    vectors = masked_embed(
        tmp_path / "frames.npy",
        tmp_path / "index.tsv",
        tmp_path / "manifest.tsv",
        tmp_path / "model.npz",
        pooling={"statistics": ["mean", "std"], "deltas": False},
        vectors_out=tmp_path / "vectors.npy",
        ids_out=tmp_path / "vectors.tsv",
    )
    assert vectors.shape == (9, 2 * WIDTH)
    np.testing.assert_array_equal(np.load(tmp_path / "vectors.npy"), vectors)
    ids = (tmp_path / "vectors.tsv").read_text().splitlines()
    assert ids[0] == "id\tspeaker" and [line.split("\t")[0] for line in ids[1:]] == index.ids
    # Frames of another spectrogram: one line naming both files.
    np.save(tmp_path / "other.npy", np.zeros((int(index.lengths.sum()), DIMS + 1), np.float32))
    with pytest.raises(ValueError, match=r"model\.npz reads 6-dimensional frames but .*other"):
        masked_embed(
            tmp_path / "other.npy",
            tmp_path / "index.tsv",
            tmp_path / "manifest.tsv",
            tmp_path / "model.npz",
            pooling=None,
            vectors_out=tmp_path / "x.npy",
            ids_out=tmp_path / "x.tsv",
        )


def test_the_loss_is_a_hashable_value():
    """The fit loop caches its compiled step on the loss: equal settings, one compilation."""
    assert MaskedPredictionLoss(0.4, 8) == MaskedPredictionLoss(0.4, 8)
    assert hash(MaskedPredictionLoss(0.4, 8)) == hash(MaskedPredictionLoss(0.4, 8))
