"""Statistics pooling of frames (codes, BLSTM states), per-speaker standardisation of utterance
vectors and fused vector columns: known values, shapes and the errors a user can meet."""

import numpy as np
import pytest

from affectrep.data.featureset import FeatureIndex
from affectrep.data.pooling import PoolingSpec, pool_one, pool_sequences
from affectrep.protocol.heads import pool_codes
from affectrep.protocol.utterance import UtteranceSettings, normalise_per_speaker


def test_pool_one_gives_each_statistic_of_frames_and_of_their_changes():
    frames = np.array([[0.0, 10.0], [1.0, 10.0], [3.0, 10.0], [6.0, 10.0], [10.0, 10.0]])
    spec = PoolingSpec(("mean", "std", "p50", "min", "max"), deltas=True)
    pooled = pool_one(frames, spec)
    assert pooled.shape == (spec.n_out(2),) == (20,)
    changes = np.diff(frames, axis=0)  # [1, 2, 3, 4] and zeros
    expected = np.concatenate(
        [
            frames.mean(0),
            changes.mean(0),
            frames.std(0),
            changes.std(0),
            np.median(frames, 0),
            np.median(changes, 0),
            frames.min(0),
            changes.min(0),
            frames.max(0),
            changes.max(0),
        ]
    )
    np.testing.assert_allclose(pooled, expected, rtol=1e-6)
    assert spec.names(2)[:4] == ["mean(d0)", "mean(d1)", "mean(delta d0)", "mean(delta d1)"]


def test_percentiles_interpolate_and_a_single_frame_has_zero_change():
    frames = np.arange(11, dtype=np.float64)[:, None]  # 0..10
    np.testing.assert_allclose(pool_one(frames, PoolingSpec(("p10", "p90"), False)), [1.0, 9.0])
    single = pool_one(np.array([[2.0, -1.0]]), PoolingSpec(("mean", "std"), True))
    np.testing.assert_allclose(single, [2.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])


def test_the_old_summary_is_mean_and_std_and_bad_specs_are_refused():
    old = PoolingSpec.of(None)
    assert old.statistics == ("mean", "std") and not old.deltas
    assert PoolingSpec.of(old.as_dict()) == old
    for bad in [(), ("median",), ("p0",), ("p100",), ("mean", "mean")]:
        with pytest.raises(ValueError):
            PoolingSpec(bad, False)
    with pytest.raises(ValueError, match="n_frames >= 1"):
        pool_one(np.zeros((0, 3)), old)


def test_pool_codes_pools_each_utterance_of_the_index_alone():
    rng = np.random.default_rng(0)
    codes = rng.standard_normal((9, 3)).astype(np.float32)
    index = FeatureIndex(["a", "b", "c"], ["s", "s", "t"], np.array([0, 4, 5]), np.array([4, 1, 4]))
    spec = PoolingSpec(("mean", "p90"), True)
    pooled = pool_codes(codes, index, spec)
    assert pooled.shape == (3, 12) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled[2], pool_one(codes[5:9], spec), rtol=1e-6)
    np.testing.assert_allclose(pooled, pool_sequences(codes, [0, 4, 5], [4, 1, 4], spec))


def test_blstm_states_pooled_by_statistics_are_those_of_the_real_frames():
    import jax

    from affectrep.models.blstm import init_blstm
    from affectrep.train.blstm import utterance_vectors

    params = init_blstm(jax.random.PRNGKey(0), 3, 4)
    rng = np.random.default_rng(1)
    codes = rng.standard_normal((12, 3)).astype(np.float32)
    index = FeatureIndex(["a", "b"], ["s", "s"], np.array([0, 5]), np.array([5, 7]))
    spec = PoolingSpec(("mean", "std", "p50"), True)
    pooled = utterance_vectors(params, codes, index, "statistics", statistics=spec)
    assert pooled.shape == (2, spec.n_out(4))
    # Alone, in a batch of one, the second utterance gets the same vector: padding and the
    # other utterance play no part.
    alone = utterance_vectors(
        params,
        codes[5:],
        FeatureIndex(["b"], ["s"], np.array([0]), np.array([7])),
        "statistics",
        statistics=spec,
        batch_size=1,
    )
    np.testing.assert_allclose(pooled[1], alone[0], rtol=1e-5, atol=1e-6)
    mean = utterance_vectors(params, codes, index, "mean")
    np.testing.assert_allclose(pooled[:, :4], mean, rtol=1e-5, atol=1e-6)


def test_per_speaker_standardisation_uses_each_speakers_own_statistics():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [10.0, np.nan], [20.0, 1.0], [30.0, 3.0]])
    speakers = ["a", "a", "b", "b", "b"]
    out = normalise_per_speaker(x, speakers)
    np.testing.assert_allclose(out[:2, 0], [-1.0, 1.0])
    np.testing.assert_allclose(out[:2, 1], [0.0, 0.0])  # constant for speaker a
    np.testing.assert_allclose(out[2:, 0], (x[2:, 0] - 20.0) / np.std([10.0, 20.0, 30.0]))
    assert np.isnan(out[2, 1])  # missing stays missing (the imputer fills it per fold)
    np.testing.assert_allclose(out[3:, 1], [-1.0, 1.0])
    with pytest.raises(ValueError, match="normalization"):
        UtteranceSettings(normalization="corpus")


def test_a_fused_column_puts_the_vectors_side_by_side_in_the_first_files_order(tmp_path):
    from affectrep.stages.classification import fused_vectors

    def write(name, ids, x):
        np.save(tmp_path / f"{name}.npy", np.asarray(x, dtype=np.float32))
        (tmp_path / f"{name}.tsv").write_text("id\tspeaker\n" + "".join(f"{i}\ts\n" for i in ids))
        return tmp_path / f"{name}.npy", tmp_path / f"{name}.tsv"

    a = write("a", ["u1", "u2"], [[1.0], [2.0]])
    b = write("b", ["u2", "u1", "u3"], [[20.0, 21.0], [10.0, 11.0], [0.0, 0.0]])
    x, ids = fused_vectors([a[0], b[0]], [a[1], b[1]])
    assert ids == ["u1", "u2"]
    np.testing.assert_allclose(x, [[1.0, 10.0, 11.0], [2.0, 20.0, 21.0]])
    short = write("c", ["u1"], [[5.0]])
    with pytest.raises(ValueError, match=r"c\.npy has no vector for 1 utterances .*u2"):
        fused_vectors([a[0], short[0]], [a[1], short[1]])
