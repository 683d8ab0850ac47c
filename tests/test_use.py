"""Pooled codes, the exported heads, dimensional metrics, audio windows, cross-corpus, CLI."""

import numpy as np
import pytest
import soundfile as sf

from affectrep.data.audio import BadAudioError, audio_windows, load_audio
from affectrep.data.featureset import FeatureIndex
from affectrep.protocol.crosscorpus import shared_classes, transfer
from affectrep.protocol.dimensional import ccc, pearson, regression_fold
from affectrep.protocol.folds import Fold
from affectrep.protocol.heads import (
    fit_dimension,
    fit_emotion,
    head_arrays,
    median_choice,
    pool_codes,
    predict_dimension,
    predict_emotion,
)


def test_pooled_codes_are_each_utterances_mean_and_std():
    codes = np.arange(12, dtype=np.float32).reshape(6, 2)
    index = FeatureIndex(["a", "b"], ["s", "s"], np.array([0, 2]), np.array([2, 4]))
    pooled = pool_codes(codes, index)
    np.testing.assert_allclose(pooled[0], [1, 2, 1, 1])
    np.testing.assert_allclose(pooled[1], [7, 8, np.std([4, 6, 8, 10]), np.std([5, 7, 9, 11])])


@pytest.mark.parametrize("n_classes", [2, 4])
def test_exported_heads_predict_what_sklearn_predicts(n_classes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5))
    x[3, 2] = np.nan  # the imputer's fill value travels too
    y = rng.integers(0, n_classes, 120) * (4 // n_classes)  # binary: classes 0 and 2
    model = fit_emotion(x, y, 1.0)
    arrays = head_arrays(model, "emotion")
    expected = np.zeros((120, 4))
    expected[:, model.classes_] = model.predict_proba(x)
    np.testing.assert_allclose(predict_emotion(arrays, x, 4), expected, atol=1e-10)
    ridge = fit_dimension(x, x[:, 0] * 2 + 1, 10.0)
    np.testing.assert_allclose(
        predict_dimension(head_arrays(ridge, "activation"), "activation", x),
        ridge.predict(x),
        atol=1e-10,
    )


def test_median_choice_takes_the_lower_middle():
    assert median_choice([10, 0.1, 1, 100]) == 1
    assert median_choice([3.0]) == 3.0
    with pytest.raises(ValueError):
        median_choice([])


def test_ccc_punishes_offset_and_scale_that_pearson_forgives():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ccc(y, y) == pytest.approx(1.0)
    assert pearson(y, 2 * y + 3) == pytest.approx(1.0)
    # Lin's formula by hand: 2 cov / (var y + var p + (mean diff)^2) with p = y + 1.
    assert ccc(y, y + 1) == pytest.approx(2 * 2.0 / (2.0 + 2.0 + 1.0))
    assert ccc(y, 6 - y) == pytest.approx(-1.0)  # same mean, reversed
    assert ccc(y, -y) == pytest.approx(-4 / (2 + 2 + 36))  # and far off: near zero
    assert np.isnan(pearson(y, np.ones(5)))


def test_regression_fold_uses_the_validation_speaker_and_tests_the_other():
    rng = np.random.default_rng(1)
    speakers = [s for s in ("A", "B", "C", "D") for _ in range(30)]
    x = rng.normal(size=(120, 3))
    targets = np.stack([x[:, 0] + 0.1 * rng.normal(size=120), rng.normal(size=120)], axis=1)
    fold = Fold(1, "S2", ("A", "B"), "C", "D")
    result = regression_fold(x, targets, speakers, fold)
    assert result["n_train"] == 60 and result["n_validation"] == 30 and result["n_test"] == 30
    assert result["activation"]["ccc"] > 0.9  # activation follows x[:, 0]
    assert abs(result["valence"]["pearson"]) < 0.5  # valence is noise
    assert len(result["activation"]["predicted"]) == 30


def test_long_files_are_cut_into_windows_and_short_ones_read_whole(tmp_path):
    rate = 22_050
    t = np.arange(int(rate * 7.0)) / rate
    stereo = np.stack([0.2 * np.sin(2 * np.pi * 200 * t)] * 2, axis=1)
    sf.write(tmp_path / "long.wav", stereo, rate)
    windows = audio_windows(tmp_path / "long.wav", window_s=2.0)
    assert len(windows) == 4  # 7 s / 2 s, rounded: four equal parts of 1.75 s
    assert all(w.ndim == 1 for w in windows)
    assert sum(len(w) for w in windows) == pytest.approx(7.0 * 16_000, abs=8)
    (whole,) = audio_windows(tmp_path / "long.wav", window_s=10.0)
    np.testing.assert_array_equal(whole, load_audio(tmp_path / "long.wav"))
    (tmp_path / "bad.wav").write_text("no")
    with pytest.raises(BadAudioError, match="not_audio"):
        audio_windows(tmp_path / "bad.wav", 2.0)
    sf.write(tmp_path / "quiet.wav", np.zeros(rate * 5), rate)
    with pytest.raises(BadAudioError, match="silent"):
        audio_windows(tmp_path / "quiet.wav", 2.0)


def test_cross_corpus_uses_only_the_shared_classes():
    a = np.array([0, 1, 2, 3, -1])
    b = np.array([0, 2, 2, -1])
    assert shared_classes([a, b]) == [0, 2]
    rng = np.random.default_rng(2)
    x_train = rng.normal(size=(80, 2))
    y_train = np.where(x_train[:, 0] > 0, 2, 0)
    y_train[:5] = 1  # a class the test corpus lacks: left out of training
    x_test = rng.normal(size=(40, 2))
    y_test = np.where(x_test[:, 0] > 0, 2, 0)
    cell = transfer(
        x_train, y_train, x_test, y_test, [0, 2], 1.0, {"class_weights": True, "seed": 0}
    )
    assert cell["n_train"] == 75 and cell["n_test"] == 40
    assert cell["weighted_accuracy"] > 0.85


def test_cli_refuses_a_folder_that_is_not_a_bundle(tmp_path, capsys):
    from affectrep.use.cli import main

    assert main(["predict", str(tmp_path), str(tmp_path / "x.wav")]) == 2
    assert "not a model bundle" in capsys.readouterr().err
