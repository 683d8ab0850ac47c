"""The frame-level MLP: learns, starts from pretrained weights, stops early on validation only."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex
from affectrep.data.manifest import Utterance
from affectrep.data.pytree_io import save_tree
from affectrep.models.context import TrainingData
from affectrep.protocol.folds import make_folds, role_positions, utterance_labels
from affectrep.protocol.metrics import unweighted_accuracy
from affectrep.protocol.mlp import (
    MlpSettings,
    class_weights,
    evaluate_fold,
    frame_rows,
    init_mlp,
    load_encoder,
    predict_utterances,
    train_mlp,
)

FAST = MlpSettings(batch_size=64, max_epochs=6, patience=3, steps_per_call=16, eval_chunk=512)
DIMS = 6


def _corpus(seed=0, sessions=3, per_speaker=16, noise=1.5):
    """Frames whose class shows in the mean over an utterance, blurred frame by frame."""
    rng = np.random.default_rng(seed)
    means = 1.5 * np.eye(4, DIMS)
    rows, blocks = [], []
    for s in range(1, sessions + 1):
        for g in "FM":
            speaker = f"S{s}{g}"
            shift = 0.2 * rng.standard_normal(DIMS)
            for k in range(per_speaker):
                n = int(rng.integers(15, 40))
                blocks.append(means[k % 4] + shift + noise * rng.standard_normal((n, DIMS)))
                rows.append(
                    Utterance(
                        id=f"{speaker}_{k}",
                        path="",
                        speaker=speaker,
                        session=f"S{s}",
                        emotion=CLASSES[k % 4],
                    )
                )
    lengths = np.array([b.shape[0] for b in blocks])
    index = FeatureIndex(
        [r.id for r in rows], [r.speaker for r in rows], np.cumsum(lengths) - lengths, lengths
    )
    return np.concatenate(blocks).astype(np.float32), index, rows


def test_the_mlp_learns_separable_classes_and_reports_a_fold():
    frames, index, rows = _corpus()
    fold = make_folds(rows)[0]
    result = evaluate_fold(
        frames,
        index,
        utterance_labels(index.ids, rows),
        fold,
        context=3,
        hidden=(12, 8),
        settings=FAST,
    )
    assert result["unweighted_accuracy"] >= 0.9
    assert result["test_speaker"] == fold.test_speaker == "S1F"
    assert result["architecture"] == [18, 12, 8, 4] and result["pretrained"] is False
    assert result["counts"]["test"] == {"utterances": 16, "frames": int(index.lengths[:16].sum())}
    assert {p["id"] for p in result["predictions"]} == set(index.ids[:16])
    for prediction in result["predictions"]:
        assert sum(prediction["posteriors"]) == pytest.approx(1.0, abs=1e-4)
    history = result["history"]
    assert 1 <= result["best_epoch"] <= len(history) <= FAST.max_epochs
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_pretrained_layers_initialise_the_hidden_layers_and_are_fine_tuned(tmp_path):
    frames, index, rows = _corpus(per_speaker=8)
    rng = np.random.default_rng(1)
    encoder = [
        {
            "W": rng.standard_normal((18, 12)).astype(np.float32) * 0.3,
            "b": rng.standard_normal(12).astype(np.float32) * 0.1,
        },
        {"W": rng.standard_normal((12, 8)).astype(np.float32) * 0.3, "b": np.zeros(8, np.float32)},
    ]
    save_tree(tmp_path / "encoder.npz", {"encoder": encoder}, {"model": "test"})
    loaded = load_encoder(tmp_path / "encoder.npz")
    labels = utterance_labels(index.ids, rows)
    fold = make_folds(rows)[0]
    untrained = evaluate_fold(
        frames,
        index,
        labels,
        fold,
        context=3,
        pretrained=loaded,
        settings=MlpSettings(max_epochs=0),
    )
    assert untrained["best_epoch"] == 0 and untrained["history"] == []
    assert untrained["architecture"] == [18, 12, 8, 4] and untrained["pretrained"] is True

    params = init_mlp(jax.random.PRNGKey(0), [18, 12, 8], 4, loaded)
    positions = role_positions(index.speakers, labels, fold)
    data = TrainingData.from_features(frames, index)
    kept = train_mlp(
        params,
        data,
        index,
        labels,
        positions["train"],
        positions["validation"],
        context=3,
        settings=MlpSettings(max_epochs=0),
    )
    np.testing.assert_array_equal(kept.params["hidden"][0]["W"], encoder[0]["W"])
    np.testing.assert_array_equal(kept.params["hidden"][1]["b"], encoder[1]["b"])
    tuned = train_mlp(
        params,
        data,
        index,
        labels,
        positions["train"],
        positions["validation"],
        context=3,
        settings=FAST,
    )
    assert not np.allclose(tuned.params["hidden"][0]["W"], encoder[0]["W"])
    # The caller's arrays are untouched by training (the trainer works on copies).
    np.testing.assert_array_equal(loaded[0]["W"], encoder[0]["W"])
    random = init_mlp(jax.random.PRNGKey(0), [18, 12, 8], 4)
    assert not np.allclose(random["hidden"][0]["W"], encoder[0]["W"])


def test_wrong_shapes_and_settings_are_refused_with_the_reason():
    key = jax.random.PRNGKey(0)
    layer = {"W": np.zeros((10, 5), np.float32), "b": np.zeros(5, np.float32)}
    with pytest.raises(ValueError, match="pretrained encoder has 1 layers, the MLP 2 hidden"):
        init_mlp(key, [10, 5, 3], 4, [layer])
    with pytest.raises(ValueError, match=r"layer 1 has W \(10, 5\).*needs W \(18, 5\)"):
        init_mlp(key, [18, 5], 4, [layer])
    frames, index, rows = _corpus(sessions=2, per_speaker=4)
    with pytest.raises(ValueError, match=r"needs W \(18, 5\)"):  # 6 dims x context 3 = 18
        evaluate_fold(
            frames,
            index,
            utterance_labels(index.ids, rows),
            make_folds(rows)[0],
            context=3,
            pretrained=[layer],
            settings=MlpSettings(max_epochs=0),
        )
    with pytest.raises(ValueError, match="optimizer 'rmsprop' is not sgd or adam"):
        MlpSettings(optimizer="rmsprop")
    with pytest.raises(ValueError, match="max_train_frames 0 must be None or >= 1"):
        MlpSettings(max_train_frames=0)


def test_early_stopping_keeps_the_best_validation_epoch():
    frames, index, rows = _corpus(per_speaker=8)
    labels = utterance_labels(index.ids, rows)
    fold = make_folds(rows)[0]
    positions = role_positions(index.speakers, labels, fold)
    # A validation speaker labelled against the grain: training on the others makes it worse.
    labels[positions["validation"]] = (labels[positions["validation"]] + 1) % 4
    data = TrainingData.from_features(frames, index)
    params = init_mlp(jax.random.PRNGKey(3), [18, 12], 4)
    settings = MlpSettings(
        batch_size=32, max_epochs=12, patience=2, steps_per_call=8, learning_rate=3e-2
    )
    result = train_mlp(
        params,
        data,
        index,
        labels,
        positions["train"],
        positions["validation"],
        context=3,
        settings=settings,
    )
    scores = [h["validation_ua"] for h in result.history]
    assert result.best_epoch == int(np.argmax(scores)) + 1
    assert len(scores) < settings.max_epochs and len(scores) - result.best_epoch == 2
    _, decisions = predict_utterances(
        result.params, data, index, positions["validation"], context=3
    )
    assert unweighted_accuracy(labels[positions["validation"]], decisions) == pytest.approx(
        scores[result.best_epoch - 1]
    )


def test_the_test_speaker_is_never_read():
    frames, index, rows = _corpus(per_speaker=8)
    labels = utterance_labels(index.ids, rows)
    fold = make_folds(rows)[0]
    test_rows = frame_rows(index, role_positions(index.speakers, labels, fold)["test"])
    spoilt = frames.copy()
    spoilt[test_rows] = np.nan
    settings = MlpSettings(batch_size=32, max_epochs=3, patience=3, steps_per_call=8)
    clean = evaluate_fold(frames, index, labels, fold, context=3, hidden=(8,), settings=settings)
    dirty = evaluate_fold(spoilt, index, labels, fold, context=3, hidden=(8,), settings=settings)
    assert dirty["history"] == [
        {**h, "train_frames_per_s": d["train_frames_per_s"], "seconds": d["seconds"]}
        for h, d in zip(clean["history"], dirty["history"], strict=True)
    ]
    assert dirty["best_epoch"] == clean["best_epoch"]


def test_an_utterance_is_decided_by_summed_posteriors_not_by_votes():
    # No hidden layer, identity softmax layer: each frame's posterior is softmax(frame).
    params = {
        "hidden": [],
        "output": {"W": np.eye(4, dtype=np.float32), "b": np.zeros(4, np.float32)},
    }
    posteriors = np.array(
        [[0.4, 0.6, 0.0, 0.0]] * 2 + [[1.0, 0.0, 0.0, 0.0]] + [[0.1, 0.1, 0.7, 0.1]] * 2
    )
    frames = np.log(np.maximum(posteriors, 1e-12)).astype(np.float32)
    index = FeatureIndex(["a", "b"], ["s", "s"], np.array([0, 3]), np.array([3, 2]))
    data = TrainingData.from_features(frames, index)
    summed, decisions = predict_utterances(params, data, index, np.array([0, 1]), context=1)
    np.testing.assert_allclose(summed, [[1.8, 1.2, 0, 0], [0.2, 0.2, 1.4, 0.2]], atol=1e-5)
    assert decisions.tolist() == [0, 2]  # utterance a: 2 of 3 frames vote 1, the sum says 0


def test_frame_rows_class_weights_and_subsampling():
    index = FeatureIndex(["a", "b", "c"], ["s"] * 3, np.array([0, 4, 6]), np.array([4, 2, 3]))
    assert frame_rows(index, np.array([2, 0])).tolist() == [6, 7, 8, 0, 1, 2, 3]
    labels = np.array([0, 0, 0, 1, 2, 2])
    weights = class_weights(labels, 4, balanced=True)
    assert weights[3] == 0 and np.mean(weights[labels]) == pytest.approx(1.0)
    assert weights[0] * 3 == pytest.approx(weights[1] * 1) == pytest.approx(weights[2] * 2)
    assert class_weights(labels, 4, balanced=False).tolist() == [1, 1, 1, 1]
    frames, index, rows = _corpus(sessions=2, per_speaker=8)
    result = evaluate_fold(
        frames,
        index,
        utterance_labels(index.ids, rows),
        make_folds(rows)[0],
        context=1,
        hidden=(4,),
        settings=MlpSettings(max_train_frames=100, batch_size=50, max_epochs=1),
    )
    assert result["counts"]["train"]["frames_used"] == 100
    assert result["counts"]["train"]["frames"] > 100


def test_epochs_are_cut_into_equal_chunks():
    from affectrep.train.loop import epoch_shape

    assert epoch_shape(4000 * 500, 500, 200) == (500, 20, 200)
    batch, chunks, per_chunk = epoch_shape(4100 * 500 + 77, 500, 200)
    assert (batch, chunks) == (500, 21) and 4100 - 21 <= chunks * per_chunk <= 4100
    assert epoch_shape(30, 500, 200) == (30, 1, 1)


def test_input_noise_masks_training_inputs_only_and_still_learns():
    from affectrep.models.dae import mask, mask_threshold
    from affectrep.models.mlp import Mlp, NoisyCrossEntropy, weighted_cross_entropy

    model = Mlp.init(jax.random.PRNGKey(0), [18, 12], 4)
    rng = np.random.default_rng(0)
    batch = (
        jax.numpy.asarray(rng.standard_normal((64, 18)), dtype=jax.numpy.float32),
        jax.numpy.asarray(rng.integers(0, 4, 64)),
        jax.numpy.ones(64),
    )
    key = jax.random.PRNGKey(3)
    noisy = NoisyCrossEntropy(mask_threshold(0.2))
    masked_batch = (mask(key, batch[0], mask_threshold(0.2)), *batch[1:])
    # The loss of the noisy objective is the plain loss of the masked inputs, with fresh noise
    # per key, and differs from the clean loss.
    assert float(noisy(model, batch, key)) == pytest.approx(
        float(weighted_cross_entropy(model, masked_batch, None))
    )
    assert float(noisy(model, batch, key)) != pytest.approx(
        float(weighted_cross_entropy(model, batch, None))
    )
    assert float(noisy(model, batch, key)) != float(noisy(model, batch, jax.random.PRNGKey(4)))
    assert np.mean(np.asarray(masked_batch[0]) == 0) == pytest.approx(0.2, abs=0.03)
    with pytest.raises(ValueError, match=r"input_noise 1.0 must be in \[0, 1\)"):
        MlpSettings(input_noise=1.0)

    frames, index, rows = _corpus()
    labels = utterance_labels(index.ids, rows)
    fold = make_folds(rows)[0]
    runs = {
        noise: evaluate_fold(
            frames,
            index,
            labels,
            fold,
            context=3,
            hidden=(12, 8),
            settings=dataclasses.replace(FAST, input_noise=noise),
        )
        for noise in (0.0, 0.2)
    }
    assert runs[0.2]["settings"]["input_noise"] == 0.2
    assert runs[0.2]["unweighted_accuracy"] >= 0.9
    # Same seed and batches: only the noise differs, so the training losses do.
    assert runs[0.2]["history"][0]["train_loss"] != runs[0.0]["history"][0]["train_loss"]
