"""The on-disk feature set: layout, index, normalisation, and agreement with single spectrograms."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from affectrep.data.featureset import extract_feature_set, load_frames
from affectrep.data.manifest import Utterance
from affectrep.data.spectrogram import SpectrogramSpec, count_frames, spectrogram

MEL = SpectrogramSpec("logmel40", "mel", n_mels=40)


def _corpus(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for number, (speaker, seconds) in enumerate([("a", 0.5), ("a", 0.8), ("b", 0.6)]):
        path = tmp_path / f"u{number}.wav"
        gain = 0.1 if speaker == "a" else 0.5
        sf.write(path, (gain * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
        rows.append(Utterance(id=f"u{number}", path=str(path), speaker=speaker))
    return rows


def _files(folder: Path) -> tuple[Path, Path, Path]:
    """A feature set's frames.npy, index.tsv and stats.npz in `folder`."""
    return folder / "frames.npy", folder / "index.tsv", folder / "stats.npz"


def test_layout_index_and_global_normalisation(tmp_path):
    rows = _corpus(tmp_path)
    out = tmp_path / "features"
    index = extract_feature_set(rows, MEL, *_files(out), normalization="global")
    frames, read_back = load_frames(*_files(out)[:2])
    assert isinstance(frames, np.memmap) and frames.dtype == np.float32
    assert read_back.ids == ["u0", "u1", "u2"]
    expected = [count_frames(int(16000 * s), MEL) for s in (0.5, 0.8, 0.6)]
    assert list(read_back.lengths) == expected == list(index.lengths)
    assert list(read_back.offsets) == [0, expected[0], expected[0] + expected[1]]
    assert frames.shape == (sum(expected), 40)
    np.testing.assert_allclose(frames.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(frames.std(axis=0), 1.0, atol=1e-3)
    stats = np.load(out / "stats.npz")
    assert json.loads(str(stats["spec"]))["n_mels"] == 40
    # Undoing the normalisation gives the plain spectrogram of the utterance.
    raw = spectrogram(sf.read(rows[1].path, dtype="float32")[0], MEL)
    start, length = read_back.offsets[1], read_back.lengths[1]
    restored = frames[start : start + length] * stats["std"] + stats["mean"]
    np.testing.assert_allclose(restored, raw, rtol=1e-4, atol=1e-3)
    assert not list(out.glob("*.tmp*"))


def test_per_speaker_normalisation(tmp_path):
    rows = _corpus(tmp_path)
    extract_feature_set(rows, MEL, *_files(tmp_path / "f"), normalization="speaker")
    frames, index = load_frames(*_files(tmp_path / "f")[:2])
    for speaker in ("a", "b"):
        mine = np.concatenate(
            [
                frames[o : o + n]
                for s, o, n in zip(index.speakers, index.offsets, index.lengths, strict=True)
                if s == speaker
            ]
        )
        np.testing.assert_allclose(mine.mean(axis=0), 0.0, atol=1e-4)


def test_a_broken_file_names_itself_and_leaves_nothing(tmp_path):
    rows = _corpus(tmp_path)
    (tmp_path / "u1.wav").write_text("gone bad since the manifest was written")
    with pytest.raises(Exception, match="u1.wav"):
        extract_feature_set(rows, MEL, *_files(tmp_path / "f"))
    assert not (tmp_path / "f" / "frames.npy").exists()
    assert not list((tmp_path / "f").glob("*tmp*"))


def test_the_speech_selection_is_recorded_in_the_index_and_stats(tmp_path):
    from dataclasses import replace

    rng = np.random.default_rng(3)
    path = tmp_path / "pause.wav"
    quiet = 1e-5 * rng.standard_normal(8000)
    loud = 0.3 * rng.standard_normal(8000)
    sf.write(path, np.concatenate([quiet, loud, quiet]).astype(np.float32), 16000)
    rows = [Utterance(id="p", path=str(path), speaker="a")]
    spec = replace(MEL, speech_threshold_db=30.0)
    out = tmp_path / "features"
    extract_feature_set(rows, spec, *_files(out), normalization="global")
    frames, index = load_frames(*_files(out)[:2])
    total = count_frames(24000, spec)
    assert index.all_lengths is not None and index.all_lengths.tolist() == [total]
    assert total / 3 - 3 <= index.lengths[0] <= total / 3 + 3  # the loud half second
    assert frames.shape[0] == index.lengths[0]
    with np.load(out / "stats.npz") as stats:
        assert json.loads(str(stats["spec"]))["speech_threshold_db"] == 30.0
