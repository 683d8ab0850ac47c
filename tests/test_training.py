"""Training: the loss goes down, a killed run resumes to the same parameters, files round-trip."""

import logging

import numpy as np
import pytest

from affectrep.data.featureset import FeatureIndex
from affectrep.data.pytree_io import flatten, load_tree, save_tree, unflatten
from affectrep.model_id import ModelId, pyramid
from affectrep.models.context import TrainingData
from affectrep.train.autoencoders import (
    TrainSettings,
    encode_frames,
    train_deep,
    train_stacked_layer,
)

FAST = TrainSettings(learning_rate=1e-3, momentum=0.9, batch_size=50, epochs=3, steps_per_call=7)


def _data(n_utterances=12, length=50, dims=8, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_utterances * length, 3))
    frames = latent @ rng.standard_normal((3, dims)) + 0.1 * rng.standard_normal(
        (n_utterances * length, dims)
    )
    lengths = np.full(n_utterances, length)
    index = FeatureIndex(
        [f"u{i}" for i in range(n_utterances)],
        ["s"] * n_utterances,
        np.arange(n_utterances) * length,
        lengths,
    )
    return frames.astype(np.float32), index


@pytest.mark.parametrize("tied", [True, False])
def test_a_short_run_lowers_the_reconstruction_loss(tied):
    frames, index = _data()
    result = train_stacked_layer(
        TrainingData.from_features(frames, index), [], 6, tied=tied, context=3, settings=FAST
    )
    losses = [record["loss"] for record in result.history]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2] and losses[-1] < 0.8 * losses[0]
    assert result.params["W"].shape == (24, 6)


def test_greedy_second_layer_and_deep_training():
    frames, index = _data()
    data = TrainingData.from_features(frames, index)
    first = train_stacked_layer(data, [], 6, tied=True, context=1, settings=FAST)
    second = train_stacked_layer(data, [first.params], 3, tied=True, context=1, settings=FAST)
    assert second.params["W"].shape == (6, 3)
    assert second.history[-1]["loss"] < second.history[0]["loss"]
    deep = train_deep(data, [8, 6, 3], context=1, settings=FAST)
    assert deep.history[-1]["loss"] < deep.history[0]["loss"]
    codes = encode_frames(deep.params["encoder"], frames, index, context=1, chunk=64)
    assert codes.shape == (600, 3) and np.all(np.abs(codes) <= 1.0)


def test_resume_after_interruption_gives_the_same_parameters(tmp_path, caplog):
    frames, index = _data()
    data = TrainingData.from_features(frames, index)
    checkpoint = tmp_path / "layer1.checkpoint.npz"
    settings = FAST
    uninterrupted = train_stacked_layer(data, [], 6, tied=False, context=3, settings=settings)
    killed = train_stacked_layer(
        data,
        [],
        6,
        tied=False,
        context=3,
        settings=settings,
        checkpoint=checkpoint,
        stop_after_epochs=1,
    )
    assert len(killed.history) == 1 and checkpoint.exists()
    with caplog.at_level(logging.INFO):
        resumed = train_stacked_layer(
            data, [], 6, tied=False, context=3, settings=settings, checkpoint=checkpoint
        )
    assert resumed.resumed_from_epoch == 1
    assert "resuming after epoch 1" in caplog.text
    for name in uninterrupted.params:
        np.testing.assert_allclose(
            np.asarray(resumed.params[name]),
            np.asarray(uninterrupted.params[name]),
            rtol=1e-6,
            atol=1e-7,
        )
    assert [r["loss"] for r in resumed.history] == pytest.approx(
        [r["loss"] for r in uninterrupted.history], rel=1e-6
    )
    # A checkpoint made with other settings is not resumed from.
    other = train_stacked_layer(
        data,
        [],
        6,
        tied=False,
        context=3,
        settings=TrainSettings(**{**settings.__dict__, "seed": 1}),
        checkpoint=checkpoint,
    )
    assert other.resumed_from_epoch == 0


def test_too_few_examples_for_a_batch():
    frames, index = _data(n_utterances=1, length=10)
    with pytest.raises(ValueError, match="fewer than one batch"):
        train_stacked_layer(
            TrainingData.from_features(frames, index), [], 4, tied=True, context=1, settings=FAST
        )


def test_diverging_training_stops_with_advice():
    frames, index = _data()
    wild = TrainSettings(learning_rate=1e3, batch_size=50, epochs=1)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train_stacked_layer(
            TrainingData.from_features(frames * 100, index),
            [],
            6,
            tied=True,
            context=1,
            settings=wild,
        )


def test_parameter_files_round_trip(tmp_path):
    tree = {
        "encoder": [{"W": np.ones((2, 3)), "b": np.zeros(3)}, {"W": np.eye(3), "b": np.ones(3)}]
    }
    assert set(flatten(tree)) == {"encoder/0/W", "encoder/0/b", "encoder/1/W", "encoder/1/b"}
    save_tree(tmp_path / "encoder.npz", tree, {"model": "tied-fft128-c5"})
    loaded, meta = load_tree(tmp_path / "encoder.npz")
    assert meta == {"model": "tied-fft128-c5"}
    assert isinstance(loaded["encoder"], list) and len(loaded["encoder"]) == 2
    np.testing.assert_array_equal(loaded["encoder"][1]["W"], np.eye(3))
    assert unflatten(flatten(tree))["encoder"][0]["W"].shape == (2, 3)
    # Plain numpy opens it: the format needs no framework.
    with np.load(tmp_path / "encoder.npz") as archive:
        assert "encoder/0/W" in archive.files


def test_model_ids_and_pyramids():
    model = ModelId.parse("tied-fft128-c5")
    assert (model.kind, model.spec, model.context, model.input_key) == (
        "tied",
        "fft128",
        5,
        "fft128-c5",
    )
    assert str(model) == "tied-fft128-c5" and model.stacked
    assert not ModelId.parse("deep-logmel40-c5").stacked
    with pytest.raises(ValueError, match="tied-fft128-c5"):
        ModelId.parse("TIED_128_5")
    assert pyramid(640, 3) == [320, 160, 80]
    assert pyramid(513, 3) == [256, 128, 64]
    assert pyramid(200, 2) == [100, 50]


# --- Checkpoints that cannot be used are set aside (issue 11) -------------------------------


def _resume_state(shape=(2, 3)):
    """Initial params and optimiser state of a tiny model (momentum: the state has leaves)."""
    import jax.numpy as jnp

    from affectrep.train.loop import make_optimizer

    params = {"W": jnp.ones(shape), "b": jnp.zeros(shape[1])}
    opt_state = make_optimizer(FAST, 10).init(params)
    return params, opt_state


def _write_checkpoint(path, fingerprint="f1", shape=(2, 3), value=5.0):
    import jax.numpy as jnp

    from affectrep.train.loop import save_checkpoint

    params, opt_state = _resume_state(shape=shape)
    params = {"W": jnp.full(shape, value), "b": jnp.full(shape[1], value)}
    history = [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.25}]
    save_checkpoint(path, fingerprint, params, opt_state, history)
    return params, history


def _truncated(path):
    _write_checkpoint(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _other_fingerprint(path):
    _write_checkpoint(path, fingerprint="another-run")


def _other_shapes(path):
    _write_checkpoint(path, shape=(3, 2))


@pytest.mark.parametrize(
    "make_bad",
    [lambda p: p.write_bytes(b""), _truncated, _other_fingerprint, _other_shapes],
    ids=["zero-bytes", "truncated", "other-fingerprint", "other-shapes"],
)
def test_an_unusable_checkpoint_is_set_aside_and_training_starts_over(tmp_path, caplog, make_bad):
    from affectrep.train.loop import resume_checkpoint

    checkpoint = tmp_path / "layer1.checkpoint.npz"
    logger = logging.getLogger("test_resume")
    for number in (1, 2):
        make_bad(checkpoint)
        bad_bytes = checkpoint.read_bytes()
        params, opt_state = _resume_state()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="test_resume"):
            got_params, got_opt, history = resume_checkpoint(
                checkpoint, "f1", params, opt_state, logger, "layer 1"
            )
        assert got_params is params and got_opt is opt_state and history == []
        moved = tmp_path / f"layer1.checkpoint.npz.bad-{number}"
        assert not checkpoint.exists()
        assert moved.read_bytes() == bad_bytes  # kept for a look, not deleted
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert str(checkpoint) in warnings[0].getMessage()
        assert str(moved) in warnings[0].getMessage()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "layer1.checkpoint.npz.bad-1",
        "layer1.checkpoint.npz.bad-2",
    ]


def test_a_matching_checkpoint_is_resumed(tmp_path, caplog):
    from affectrep.train.loop import resume_checkpoint

    checkpoint = tmp_path / "c.npz"
    saved, history = _write_checkpoint(checkpoint)
    params, opt_state = _resume_state()
    logger = logging.getLogger("test_resume")
    with caplog.at_level(logging.INFO, logger="test_resume"):
        got_params, got_opt, got_history = resume_checkpoint(
            checkpoint, "f1", params, opt_state, logger, "layer 1"
        )
    assert got_history == history
    np.testing.assert_array_equal(np.asarray(got_params["W"]), np.asarray(saved["W"]))
    np.testing.assert_array_equal(np.asarray(got_params["b"]), np.asarray(saved["b"]))
    import jax

    assert jax.tree_util.tree_structure(got_opt) == jax.tree_util.tree_structure(opt_state)
    assert "resuming after epoch 2" in caplog.text
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    assert checkpoint.exists() and not list(tmp_path.glob("*.bad-*"))


def test_no_checkpoint_starts_fresh_without_a_warning(tmp_path, caplog):
    from affectrep.train.loop import resume_checkpoint

    params, opt_state = _resume_state()
    with caplog.at_level(logging.WARNING):
        for checkpoint in (None, tmp_path / "absent.npz"):
            got = resume_checkpoint(
                checkpoint, "f1", params, opt_state, logging.getLogger("test_resume"), "x"
            )
            assert got == (params, opt_state, [])
    assert caplog.records == [] and list(tmp_path.iterdir()) == []


def test_training_completes_after_a_zero_byte_checkpoint(tmp_path, caplog):
    frames, index = _data()
    data = TrainingData.from_features(frames, index)
    checkpoint = tmp_path / "layer1.checkpoint.npz"
    checkpoint.write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        result = train_stacked_layer(
            data, [], 6, tied=True, context=1, settings=FAST, checkpoint=checkpoint
        )
    assert result.resumed_from_epoch == 0 and len(result.history) == FAST.epochs
    assert (tmp_path / "layer1.checkpoint.npz.bad-1").read_bytes() == b""
    assert "layer1.checkpoint.npz" in caplog.text and "training starts over" in caplog.text
    # The new checkpoint is whole and is resumed from (nothing left to train).
    again = train_stacked_layer(
        data, [], 6, tied=True, context=1, settings=FAST, checkpoint=checkpoint
    )
    assert again.resumed_from_epoch == FAST.epochs


# --- The one loop and the one optimiser-settings type (issue 12) ----------------------------


def test_fit_calls_every_hook_after_every_epoch_and_a_hook_can_stop_it(tmp_path):
    import jax

    from affectrep.models.dae import DaeLayer, DenoisingLoss
    from affectrep.train.autoencoders import EncodedWindows
    from affectrep.train.loop import FrameBatches, fit

    frames, index = _data()
    data = TrainingData.from_features(frames, index)
    source = FrameBatches(
        (data.frames, data.starts, data.ends, []),
        EncodedWindows(1),
        data.n_frames,
        50,
        seed=0,
        steps_per_call=5,
    )
    seen = []

    def watch(end):
        seen.append((end.epoch, end.epochs, end.examples, end.model.W.shape))
        end.record = {"epoch": end.epoch, "mine": end.loss}

    def stop_after_two(end):
        return end.epoch == 2

    model = DaeLayer.init(jax.random.PRNGKey(0), 8, 4, tied=True)
    before = np.asarray(model.W[...]).copy()
    checkpoint = tmp_path / "c.npz"
    result = fit(
        model,
        DenoisingLoss(51),
        source,
        FAST,
        epochs=5,
        seed=0,
        hooks=[watch, stop_after_two],
        checkpoint=checkpoint,
        fingerprint="x",
    )
    assert seen == [(1, 5, 600, (8, 4)), (2, 5, 600, (8, 4))]
    assert [set(r) for r in result.history] == [{"epoch", "mine"}] * 2
    assert result.stopped_early and result.resumed_from_epoch == 0
    assert load_tree(checkpoint)[1]["history"] == result.history
    # fit trains a copy: the model it was given is untouched.
    np.testing.assert_array_equal(np.asarray(model.W[...]), before)
    assert not np.array_equal(np.asarray(result.model.W[...]), before)


def test_one_optimiser_settings_type_and_one_fingerprint():
    from affectrep.protocol.mlp import MlpSettings
    from affectrep.train.blstm import BlstmSettings
    from affectrep.train.loop import OptimizerSettings

    for settings in (TrainSettings(), MlpSettings(), BlstmSettings()):
        assert isinstance(settings, OptimizerSettings)
        assert settings.optimizer_settings() == OptimizerSettings(
            settings.optimizer,
            settings.learning_rate,
            settings.momentum,
            settings.weight_decay,
            settings.schedule,
        )
    # Settings that do not change the trained parameters do not change the fingerprint.
    assert TrainSettings(steps_per_call=7).fingerprint(a=1) == TrainSettings().fingerprint(a=1)
    assert TrainSettings(seed=1).fingerprint(a=1) != TrainSettings().fingerprint(a=1)
    assert TrainSettings().fingerprint(a=1) != TrainSettings().fingerprint(a=2)
    assert BlstmSettings(pooling="last").fingerprint() == BlstmSettings().fingerprint()
    with pytest.raises(ValueError, match="optimizer 'rmsprop' is not sgd or adam"):
        TrainSettings(optimizer="rmsprop")
    with pytest.raises(ValueError, match="schedule 'linear' is not constant or cosine"):
        BlstmSettings(schedule="linear")
