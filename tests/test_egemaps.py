"""openSMILE functionals (eGeMAPS, ComParE 2016) from our audio, and the utterance softmax that
never looks at the test."""

import importlib.util
import json
import logging

import numpy as np
import pytest
import soundfile as sf

from affectrep.data.audio import AudioPolicy
from affectrep.data.egemaps import (
    N_COMPARE,
    N_EGEMAPS,
    egemaps_features,
    functional_set,
    functionals_features,
)
from affectrep.data.emotions import CLASSES
from affectrep.data.manifest import Utterance, write_manifest
from affectrep.protocol.folds import make_folds
from affectrep.protocol.utterance import UtteranceSettings, evaluate_utterance_classifier

# openSMILE is an optional extra (`egemaps`); without it the extraction tests have nothing to
# run, and the rest of this file still does.
needs_opensmile = pytest.mark.skipif(
    importlib.util.find_spec("opensmile") is None,
    reason="openSMILE is not installed (pip install -e '.[egemaps]')",
)


def _voice(rate, seconds, f0, seed):
    """A harmonic tone with a little noise: enough voice for pitch, jitter, formants."""
    t = np.arange(int(rate * seconds)) / rate
    tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 8))
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.2 * tone + 0.01 * noise).astype(np.float32)


@needs_opensmile
def test_egemaps_of_a_tone_are_88_finite_functionals(tmp_path):
    rows = []
    for number, (rate, f0) in enumerate([(16_000, 140.0), (44_100, 220.0)]):
        path = tmp_path / f"u{number}.wav"
        sf.write(path, _voice(rate, 1.0, f0, number), rate)
        rows.append(Utterance(id=f"u{number}", path=str(path), speaker="s"))
    features, names = egemaps_features(rows)
    assert features.shape == (2, N_EGEMAPS) and features.dtype == np.float32
    assert len(names) == N_EGEMAPS and names[0].startswith("F0semitone")
    assert np.all(np.isfinite(features))
    # Mean F0 in semitones above 27.5 Hz: the 220 Hz voice is an octave (12) above 110 Hz,
    # and 220 / 140 is 7.8 semitones.
    f0 = features[:, names.index("F0semitoneFrom27.5Hz_sma3nz_amean")]
    assert f0[1] - f0[0] == pytest.approx(12 * np.log2(220 / 140), abs=1.0)


@needs_opensmile
def test_worker_processes_give_the_same_functionals_in_manifest_order(tmp_path, caplog):
    rows = []
    for number in range(20):  # two processes: one run of 16 utterances each, and the rest
        path = tmp_path / f"u{number}.wav"
        sf.write(path, _voice(16_000, 0.3, 100.0 + 10 * number, number), 16_000)
        rows.append(Utterance(id=f"u{number}", path=str(path), speaker="s"))
    alone, names = egemaps_features(rows)
    with caplog.at_level(logging.INFO):
        parallel, parallel_names = functionals_features(rows, "egemaps", workers=2)
    assert "2 worker processes" in caplog.text
    assert parallel_names == names
    np.testing.assert_array_equal(parallel, alone)
    f0 = alone[:, names.index("F0semitoneFrom27.5Hz_sma3nz_amean")]
    assert np.all(np.diff(f0) > 0)  # rising pitch: the rows are in manifest order


@needs_opensmile
def test_compare_of_a_tone_are_6373_functionals_named_as_opensmile_names_them(tmp_path, caplog):
    import opensmile

    rows = []
    for number, seconds in enumerate([1.0, 0.05]):  # the second is shorter than a window
        path = tmp_path / f"u{number}.wav"
        sf.write(path, _voice(16_000, seconds, 150.0, number), 16_000)
        rows.append(Utterance(id=f"u{number}", path=str(path), speaker="s"))
    with caplog.at_level(logging.INFO):
        # The workflow rejects audio under 0.25 s (`audio.min_duration_s`); here it may pass.
        policy = AudioPolicy(min_duration_s=0.01)
        features, names = functionals_features(rows, "compare", policy=policy)
    assert features.shape == (2, N_COMPARE) == (2, 6373) and features.dtype == np.float32
    reference = opensmile.Smile(
        feature_set=opensmile.FeatureSet.ComParE_2016,
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    assert names == list(reference.feature_names) and len(set(names)) == N_COMPARE
    # Finite or NaN, never infinite: the 1 s voice has (nearly) every value, the 50 ms one
    # none, and both are counted in the log rather than warned about per utterance.
    assert not np.isinf(features).any()
    assert np.isfinite(features[0]).mean() > 0.99 and np.isnan(features[1]).all()
    assert "1 utterances too short for openSMILE's windows" in caplog.text
    assert "ms of openSMILE per second of audio" in caplog.text


@needs_opensmile
def test_the_functionals_stage_writes_vectors_ids_and_names(tmp_path):
    from affectrep.stages.classification import functionals

    path = tmp_path / "u.wav"
    sf.write(path, _voice(16_000, 1.0, 150.0, 0), 16_000)
    rows = [Utterance(id=f"u{k}", path=str(path), speaker=f"s{k}") for k in range(2)]
    write_manifest(rows, tmp_path / "manifest.tsv")
    out = {name: tmp_path / name for name in ("f.npy", "f.tsv", "names.txt")}
    x = functionals(tmp_path / "manifest.tsv", *out.values(), {}, "compare")
    assert np.load(out["f.npy"]).shape == x.shape == (2, N_COMPARE)
    assert out["f.tsv"].read_text() == "id\tspeaker\nu0\ts0\nu1\ts1\n"
    assert len(out["names.txt"].read_text().splitlines()) == N_COMPARE


def test_the_functional_sets_are_known_by_name():
    assert functional_set("egemaps").opensmile == "eGeMAPSv02" and N_EGEMAPS == 88
    assert functional_set("compare").opensmile == "ComParE_2016"
    with pytest.raises(ValueError, match="known are egemaps, compare"):
        functional_set("gemaps")


def _vectors(seed=0, per_speaker=12, dims=10, spread=2.0):
    rng = np.random.default_rng(seed)
    centres = spread * rng.standard_normal((4, dims))
    rows, x = [], []
    for s in range(1, 4):
        for g in "FM":
            for k in range(per_speaker):
                rows.append(
                    Utterance(
                        id=f"S{s}{g}_{k}",
                        path="",
                        speaker=f"S{s}{g}",
                        session=f"S{s}",
                        emotion=CLASSES[k % 4],
                    )
                )
                x.append(centres[k % 4] + rng.standard_normal(dims))
    labels = np.array([CLASSES.index(r.emotion) for r in rows])
    return np.array(x), labels, [r.speaker for r in rows], [r.id for r in rows], rows


def test_the_utterance_softmax_separates_classes_and_reports_a_fold():
    x, labels, speakers, ids, rows = _vectors()
    fold = make_folds(rows)[0]
    result = evaluate_utterance_classifier(x, labels, speakers, fold, ids=ids)
    assert result["unweighted_accuracy"] >= 0.9 and result["weighted_accuracy"] >= 0.9
    assert result["test_speaker"] == "S1F" and result["counts"]["test"] == {"utterances": 12}
    assert [p["id"] for p in result["predictions"]] == ids[:12]
    trials = result["selection"]
    assert [t["C"] for t in trials] == [0.01, 0.1, 1.0, 10.0]
    best = max(t["validation_ua"] for t in trials)
    assert result["chosen_C"] == next(t["C"] for t in trials if t["validation_ua"] == best)
    assert json.loads(json.dumps(result, allow_nan=False)) == result


def test_the_choice_of_c_never_depends_on_the_test_speaker():
    # Classes barely apart in many dimensions: the grid points score differently.
    x, labels, speakers, ids, rows = _vectors(seed=0, dims=40, per_speaker=8, spread=0.3)
    fold = make_folds(rows)[0]
    test = np.array([s == fold.test_speaker for s in speakers])
    settings = UtteranceSettings(grid=(0.001, 0.01, 1.0, 100.0))
    first = evaluate_utterance_classifier(x, labels, speakers, fold, settings=settings)
    changed_x = x.copy()
    changed_x[test] = np.random.default_rng(3).standard_normal((test.sum(), x.shape[1])) * 50
    changed_x[np.flatnonzero(test)[0], 0] = np.nan  # missing values: imputed from training
    changed_labels = labels.copy()
    changed_labels[test] = (labels[test] + 2) % 4
    second = evaluate_utterance_classifier(
        changed_x, changed_labels, speakers, fold, settings=settings
    )
    assert second["chosen_C"] == first["chosen_C"]
    assert second["selection"] == first["selection"]
    assert second["predictions"] != first["predictions"]
    assert len({t["validation_ua"] for t in first["selection"]}) > 1


def test_an_empty_role_is_refused():
    x, labels, speakers, ids, rows = _vectors(per_speaker=4)
    fold = make_folds(rows)[0]
    labels = labels.copy()
    labels[[s == fold.validation_speaker for s in speakers]] = -1
    with pytest.raises(ValueError, match="no labelled utterances for validation"):
        evaluate_utterance_classifier(x, labels, speakers, fold)


def test_constant_empty_and_huge_columns_leave_the_softmax_working():
    """ComParE on short or quiet signals: columns constant on a corpus, all NaN on the
    training speakers, or of magnitude 1e11 (energies). The imputer makes an all-NaN column
    zero, the scaler leaves a constant one at zero, so neither moves a prediction; the others
    still separate the classes, with no warning from scikit-learn."""
    import warnings

    x, labels, speakers, ids, rows = _vectors(dims=6)
    fold = make_folds(rows)[0]
    train = np.array([fold.role_of(s) == "train" for s in speakers])
    extra = np.zeros((len(x), 3))
    extra[:, 0] = 7.0  # constant
    extra[train, 1] = np.nan  # empty on the training speakers, values elsewhere
    extra[~train, 1] = 1e11
    extra[:, 2] = 1e11 * (1 + np.random.default_rng(0).random(len(x)))  # huge
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate_utterance_classifier(np.hstack([x, extra]), labels, speakers, fold)
    assert result["unweighted_accuracy"] >= 0.9 and result["feature_dims"] == 9
