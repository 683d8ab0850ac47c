"""Audio loading: mono mixdown, resampling to 16 kHz, and every documented rejection."""

import numpy as np
import pytest
import soundfile as sf

from affectrep.audio import (
    DEFAULT_POLICY,
    REASONS,
    AudioPolicy,
    BadAudioError,
    load_audio,
    resample,
    to_mono,
)


def _tone(rate: int, seconds: float = 0.5, hz: float = 440.0, amplitude: float = 0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_stereo_is_mixed_to_mono(tmp_path):
    left = _tone(16000)
    stereo = np.stack([left, -left * 0.5], axis=1)
    sf.write(tmp_path / "s.wav", stereo, 16000)
    mono = load_audio(tmp_path / "s.wav")
    assert mono.ndim == 1
    np.testing.assert_allclose(mono, 0.25 * left, atol=1e-4)
    np.testing.assert_allclose(to_mono(stereo), stereo.mean(axis=1))


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_rate_becomes_16k_and_keeps_the_pitch(tmp_path, rate):
    sf.write(tmp_path / "t.wav", _tone(rate, seconds=1.0, hz=440.0), rate, subtype="FLOAT")
    signal = load_audio(tmp_path / "t.wav")
    assert abs(signal.shape[0] - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(signal.shape[0])))
    peak_hz = np.argmax(spectrum) * 16000 / signal.shape[0]
    assert abs(peak_hz - 440.0) < 2.0


def test_resample_is_identity_at_the_target_rate():
    tone = _tone(16000)
    assert resample(tone, 16000) is tone


def _reason(path, policy=DEFAULT_POLICY):
    with pytest.raises(BadAudioError) as caught:
        load_audio(path, policy)
    assert str(path) in str(caught.value)
    return caught.value.reason


def test_each_bad_case_has_its_reason(tmp_path):
    assert _reason(tmp_path / "absent.wav") == "missing"
    (tmp_path / "text.wav").write_text("this is not audio")
    assert _reason(tmp_path / "text.wav") == "not_audio"
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    assert _reason(tmp_path / "empty.wav") == "empty"
    sf.write(tmp_path / "short.wav", _tone(16000, seconds=0.05), 16000)
    assert _reason(tmp_path / "short.wav") == "too_short"
    sf.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    assert _reason(tmp_path / "silent.wav") == "silent"
    nan = _tone(16000)
    nan[100] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 16000, subtype="FLOAT")
    assert _reason(tmp_path / "nan.wav") == "non_finite"
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000, seconds=1.0), 16000)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[:30])
    assert _reason(truncated) in ("unreadable", "not_audio", "empty")
    assert set(REASONS) >= {"missing", "not_audio", "empty", "too_short", "silent", "non_finite"}


def test_policy_thresholds_are_respected(tmp_path):
    sf.write(tmp_path / "quiet.wav", _tone(16000, amplitude=1e-3), 16000, subtype="FLOAT")
    assert load_audio(tmp_path / "quiet.wav").shape == (8000,)
    assert _reason(tmp_path / "quiet.wav", AudioPolicy(silence_peak=1e-2)) == "silent"
    assert _reason(tmp_path / "quiet.wav", AudioPolicy(min_duration_s=1.0)) == "too_short"
