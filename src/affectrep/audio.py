"""Reading speech audio: mono, 16 kHz, float32, and checked before anything uses it.

Corpora in the wild hold broken files: truncated downloads, zero-length takes, digital
silence, floating-point files with NaNs, text files named `.wav`. Each is caught here and
turned into an `BadAudioError` with one of the documented `REASONS`, so that the corpus stage
can list it in `rejected.tsv` (or stop, in strict mode) instead of training on garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

TARGET_RATE = 16_000

# Reason codes written to rejected.tsv, with what each one means.
REASONS: dict[str, str] = {
    "missing": "the file does not exist",
    "not_audio": "the file is not in an audio format soundfile can read",
    "unreadable": "the file is an audio file but could not be decoded (truncated or corrupt)",
    "empty": "the file holds no samples",
    "non_finite": "the signal contains NaN or infinite samples",
    "too_short": "shorter than the configured minimum duration",
    "silent": "the peak amplitude is below the configured silence threshold",
}


class BadAudioError(Exception):
    """Raised for audio that must not be used; `reason` is a key of `REASONS`."""

    def __init__(self, path: str | Path, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        message = f"{path}: {reason} ({REASONS[reason]})"
        super().__init__(f"{message}: {detail}" if detail else message)


@dataclass(frozen=True)
class AudioPolicy:
    """What counts as usable audio. Durations in seconds, amplitudes on the [-1, 1] scale."""

    min_duration_s: float = 0.25
    silence_peak: float = 1e-4
    target_rate: int = TARGET_RATE


DEFAULT_POLICY = AudioPolicy()


def to_mono(signal: np.ndarray) -> np.ndarray:
    """Mix a (n_samples, n_channels) signal down to (n_samples,) by averaging the channels."""
    if signal.ndim == 1:
        return signal
    return signal.mean(axis=1)


def resample(signal: np.ndarray, rate: int, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Resample with a polyphase filter (`scipy.signal.resample_poly`), exact for any integer
    rate pair: 44.1 kHz -> 16 kHz is up 160, down 441."""
    if rate == target_rate:
        return signal
    divisor = gcd(rate, target_rate)
    return resample_poly(signal, target_rate // divisor, rate // divisor).astype(signal.dtype)


def _info(path: Path):
    """soundfile's description of a file that exists, is audio and is not empty."""
    if not path.exists():
        raise BadAudioError(path, "missing")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise BadAudioError(path, "not_audio", str(error)) from error
    if info.frames == 0:
        raise BadAudioError(path, "empty")
    return info


def _read(path: Path) -> tuple[np.ndarray, int]:
    _info(path)
    try:
        signal, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError) as error:
        raise BadAudioError(path, "unreadable", str(error)) from error
    if signal.size == 0:
        raise BadAudioError(path, "empty")
    return signal, rate


def load_audio(path: str | Path, policy: AudioPolicy = DEFAULT_POLICY) -> np.ndarray:
    """Read `path` as mono float32 at `policy.target_rate`, or raise `BadAudioError`.

    Returns: (n_samples,) float32.
    """
    path = Path(path)
    signal, rate = _read(path)
    if not np.all(np.isfinite(signal)):
        raise BadAudioError(path, "non_finite", f"{int(np.sum(~np.isfinite(signal)))} samples")
    duration = signal.shape[0] / rate
    if duration < policy.min_duration_s:
        raise BadAudioError(
            path, "too_short", f"{duration:.3f} s < {policy.min_duration_s} s"
        )
    signal = resample(to_mono(signal), rate, policy.target_rate)
    peak = float(np.max(np.abs(signal)))
    if peak < policy.silence_peak:
        raise BadAudioError(path, "silent", f"peak {peak:.2e} < {policy.silence_peak:.0e}")
    return signal.astype(np.float32, copy=False)


def audio_windows(
    path: str | Path, window_s: float, policy: AudioPolicy = DEFAULT_POLICY
) -> list[np.ndarray]:
    """`path` as mono float32 at `policy.target_rate`, cut into windows of about `window_s`
    seconds (equal parts, so that no window is much shorter than the others), each read,
    mixed down and resampled on its own: memory stays at one window however long the file.
    A file of at most `window_s` is one window, read exactly as `load_audio` reads it.
    Raises `BadAudioError` as `load_audio` does.
    """
    path = Path(path)
    info = _info(path)
    if info.frames <= window_s * info.samplerate:
        return [load_audio(path, policy)]
    duration = info.frames / info.samplerate
    n_windows = max(1, round(duration / window_s))
    bounds = np.linspace(0, info.frames, n_windows + 1).astype(np.int64)
    windows = []
    peak = 0.0
    try:
        with sf.SoundFile(str(path)) as handle:
            for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
                handle.seek(int(start))
                signal = handle.read(int(stop - start), dtype="float32", always_2d=False)
                if not np.all(np.isfinite(signal)):
                    raise BadAudioError(path, "non_finite",
                                        f"{int(np.sum(~np.isfinite(signal)))} samples")
                signal = resample(to_mono(signal), info.samplerate, policy.target_rate)
                peak = max(peak, float(np.max(np.abs(signal))))
                windows.append(signal.astype(np.float32, copy=False))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise BadAudioError(path, "unreadable", str(error)) from error
    if peak < policy.silence_peak:
        raise BadAudioError(path, "silent", f"peak {peak:.2e} < {policy.silence_peak:.0e}")
    return windows
