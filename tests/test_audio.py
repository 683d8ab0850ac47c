"""Audio loading: mono mixdown, resampling to 16 kHz, and every documented rejection."""

import numpy as np
import pytest
import soundfile as sf

from affectrep.data.audio import (
    DEFAULT_POLICY,
    REASONS,
    AudioPolicy,
    BadAudioError,
    as_policy,
    audio_windows,
    header_frames,
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
    cut_in_header = tmp_path / "cut_in_header.wav"
    cut_in_header.write_bytes(good.read_bytes()[:30])
    assert _reason(cut_in_header) == "truncated"
    assert set(REASONS) >= {
        "missing",
        "not_audio",
        "empty",
        "too_short",
        "silent",
        "non_finite",
        "truncated",
        "unlabelled",
    }


@pytest.mark.parametrize(
    ("name", "fmt", "subtype"),
    [
        ("t.wav", "WAV", "PCM_16"),
        ("t.wav", "WAV", "FLOAT"),
        ("t.wav", "WAVEX", "PCM_24"),
        ("t.wav", "RF64", "PCM_16"),
        ("t.aiff", "AIFF", "PCM_16"),
    ],
)
def test_a_truncated_file_is_rejected_as_truncated(tmp_path, name, fmt, subtype):
    whole = tmp_path / f"whole-{name}"
    stereo = np.stack([_tone(16000, seconds=1.0)] * 2, axis=1)
    sf.write(whole, stereo, 16000, format=fmt, subtype=subtype)
    assert load_audio(whole).shape == (16000,)
    data = whole.read_bytes()
    cut = tmp_path / name
    frame_bytes = (
        2 * sf.info(str(whole)).channels * {"PCM_16": 1, "PCM_24": 1.5, "FLOAT": 2}[subtype]
    )
    cut.write_bytes(data[: len(data) - int(1000 * frame_bytes)])
    with pytest.raises(BadAudioError) as caught:
        load_audio(cut)
    assert caught.value.reason == "truncated"
    assert caught.value.detail == "header says 16000 frames, 15000 readable"
    assert str(cut) in str(caught.value)
    # Windowed reads check the same way.
    with pytest.raises(BadAudioError, match="truncated"):
        audio_windows(cut, window_s=0.3)


def test_truncation_is_seen_in_the_header_without_decoding(tmp_path, monkeypatch):
    sf.write(tmp_path / "a.wav", _tone(16000, seconds=1.0), 16000)
    data = (tmp_path / "a.wav").read_bytes()
    (tmp_path / "a.wav").write_bytes(data[:-200])
    assert header_frames(tmp_path / "a.wav") == 16000
    decoded = []
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: decoded.append(1))
    with pytest.raises(BadAudioError, match="truncated"):
        load_audio(tmp_path / "a.wav")
    assert decoded == []


def test_whole_files_are_not_called_truncated(tmp_path):
    # A streaming writer's placeholder size and chunks after the data are not truncation.
    sf.write(tmp_path / "a.wav", _tone(16000, seconds=1.0), 16000)
    data = bytearray((tmp_path / "a.wav").read_bytes())
    data += b"LIST\x04\x00\x00\x00INFO"
    (tmp_path / "list.wav").write_bytes(bytes(data))
    assert load_audio(tmp_path / "list.wav").shape == (16000,)
    data[40:44] = b"\xff\xff\xff\xff"
    (tmp_path / "open.wav").write_bytes(bytes(data))
    assert header_frames(tmp_path / "open.wav") is None
    sf.write(tmp_path / "a.flac", _tone(16000, seconds=1.0), 16000)
    assert header_frames(tmp_path / "a.flac") is None
    assert load_audio(tmp_path / "a.flac").shape == (16000,)


def test_a_zero_byte_file_is_empty(tmp_path):
    (tmp_path / "zero.wav").write_bytes(b"")
    assert _reason(tmp_path / "zero.wav") == "empty"
    with pytest.raises(BadAudioError, match="empty"):
        audio_windows(tmp_path / "zero.wav", window_s=2.0)
    # A header that declares no samples is empty too.
    sf.write(tmp_path / "header_only.wav", np.zeros(0, dtype=np.float32), 16000)
    assert _reason(tmp_path / "header_only.wav") == "empty"


def test_a_policy_can_be_a_plain_mapping(tmp_path):
    sf.write(tmp_path / "quiet.wav", _tone(16000, amplitude=1e-3), 16000, subtype="FLOAT")
    assert as_policy({"min_duration_s": 0.1, "silence_peak": 1e-2, "strict": True}) == AudioPolicy(
        min_duration_s=0.1, silence_peak=1e-2
    )
    assert as_policy(None) is DEFAULT_POLICY
    assert _reason(tmp_path / "quiet.wav", {"silence_peak": 1e-2}) == "silent"


def test_policy_thresholds_are_respected(tmp_path):
    sf.write(tmp_path / "quiet.wav", _tone(16000, amplitude=1e-3), 16000, subtype="FLOAT")
    assert load_audio(tmp_path / "quiet.wav").shape == (8000,)
    assert _reason(tmp_path / "quiet.wav", AudioPolicy(silence_peak=1e-2)) == "silent"
    assert _reason(tmp_path / "quiet.wav", AudioPolicy(min_duration_s=1.0)) == "too_short"
