"""Spectrogram frames: tones land in the right bin and band, frame counts follow the hop."""

import numpy as np
import pytest

from affectrep.data.spectrogram import (
    SpectrogramSpec,
    band_pooling,
    count_frames,
    mel_band_centres,
    mel_filterbank,
    spectrogram,
)

FFT513 = SpectrogramSpec("fft513", "fft", n_fft=1024, n_bins=513)
FFT128 = SpectrogramSpec("fft128", "fft", n_fft=1024, n_bins=128)
MEL40 = SpectrogramSpec("logmel40", "mel", n_fft=1024, n_mels=40, fmin=0, fmax=8000)


def _tone(hz: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    return np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate).astype(np.float32)


@pytest.mark.parametrize("hz", [250.0, 1000.0, 3125.0, 6000.0])
def test_a_tone_lands_in_its_fft_bin(hz):
    frames = spectrogram(_tone(hz), FFT513)
    assert frames.shape[1] == 513
    expected_bin = round(hz * 1024 / 16000)
    assert np.all(np.argmax(frames, axis=1) == expected_bin)


def test_a_tone_lands_in_its_128_band():
    frames = spectrogram(_tone(1000.0), FFT128)
    assert frames.shape[1] == 128
    # 1000 Hz is bin 64 of 513; bands are about 4 bins wide.
    edges = np.round(np.linspace(0, 513, 129)).astype(int)
    expected = np.searchsorted(edges, 64, side="right") - 1
    assert np.all(np.argmax(frames, axis=1) == expected)


@pytest.mark.parametrize("hz", [300.0, 1000.0, 4000.0])
def test_a_tone_lands_in_the_nearest_mel_band(hz):
    frames = spectrogram(_tone(hz), MEL40)
    assert frames.shape[1] == 40
    centres = mel_band_centres(40, 16000, 0, 8000)
    nearest = int(np.argmin(np.abs(np.log(centres) - np.log(hz))))
    assert abs(int(np.median(np.argmax(frames, axis=1))) - nearest) <= 1


def test_frame_count_follows_the_10ms_hop():
    # 20 ms window = 320 samples, 10 ms hop = 160 samples.
    assert FFT513.window_length == 320 and FFT513.hop_length == 160
    assert count_frames(16000, FFT513) == 1 + (16000 - 320) // 160 == 99
    assert count_frames(319, FFT513) == 0
    for n in (320, 479, 480, 16000, 16161):
        assert spectrogram(np.ones(n, dtype=np.float32), MEL40).shape[0] == count_frames(n, MEL40)


def test_log_floor_keeps_silence_finite():
    frames = spectrogram(np.zeros(1600, dtype=np.float32), FFT513)
    assert np.all(frames == np.float32(np.log(1e-10)))


def test_filterbank_and_pooling_shapes():
    bank = mel_filterbank(40, 1024, 16000)
    assert bank.shape == (513, 40) and np.all(bank.max(axis=0) > 0.5)
    pooling = band_pooling(513, 128)
    np.testing.assert_allclose(pooling.sum(axis=0), 1.0)
    assert np.all((pooling > 0).sum(axis=1) == 1)


def test_impossible_settings_are_refused():
    with pytest.raises(ValueError, match="more than n_fft"):
        SpectrogramSpec("x", "fft", n_fft=256, n_bins=129).check()
    with pytest.raises(ValueError, match="n_bins must be"):
        SpectrogramSpec("x", "fft", n_fft=1024, n_bins=600).check()


def _silence_tone_silence(rate: int = 16000) -> np.ndarray:
    """0.3 s of near-silence, 0.4 s of a 500 Hz tone, 0.3 s of near-silence."""
    rng = np.random.default_rng(0)
    quiet = lambda: 1e-4 * rng.standard_normal(int(0.3 * rate))  # noqa: E731
    return np.concatenate([quiet(), 0.5 * _tone(500.0, 0.4), quiet()]).astype(np.float32)


def test_speech_selection_keeps_the_loud_frames_of_every_spectrogram_alike():
    from dataclasses import replace

    from affectrep.data.spectrogram import power_spectrum, selected_spectrogram, speech_frames

    signal = _silence_tone_silence()
    total = count_frames(signal.size, FFT128)
    keep = speech_frames(power_spectrum(signal, FFT513), 40.0)
    # The tone's frames (and the two that straddle its edges) are kept, the silence is not.
    assert 38 <= keep.sum() <= 42 and not keep[:25].any() and not keep[-25:].any()
    for spec in (FFT513, FFT128, MEL40):
        selected, before = selected_spectrogram(signal, replace(spec, speech_threshold_db=40.0))
        assert before == total and selected.shape == (int(keep.sum()), spec.n_dims)
        np.testing.assert_allclose(selected, spectrogram(signal, spec)[keep], rtol=1e-5, atol=1e-5)
    # A looser threshold keeps more, none keeps every frame, and the loudest always stays.
    assert speech_frames(power_spectrum(signal, FFT513), 100.0).all()
    assert speech_frames(power_spectrum(signal, FFT513), None).all()
    assert speech_frames(np.array([[1.0], [1e-9]]), 1e-3).tolist() == [True, False]


def test_a_bad_speech_threshold_names_the_spectrogram():
    from dataclasses import replace

    for bad in (0.0, -10.0, float("nan")):
        with pytest.raises(ValueError, match="fft128: speech_threshold_db"):
            replace(FFT128, speech_threshold_db=bad).check()
