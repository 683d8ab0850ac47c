"""Reading speech audio: mono, 16 kHz, float32, and checked before anything uses it.

A multi-channel file becomes mono as `AudioPolicy.channel` says: `mix` averages the channels,
an index (0 = the first) takes that channel alone; a file without that channel is bad audio
(`channel`), named like every other.

Corpora in the wild hold broken files: truncated downloads, zero-length takes, digital
silence, floating-point files with NaNs, text files named `.wav`. Each is caught here and
turned into an `BadAudioError` with one of the documented `REASONS`, so that the corpus stage
can list it in `rejected.tsv` (or stop, in strict mode) instead of training on garbage.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, fields
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from affectrep.defaults import default

TARGET_RATE = 16_000

# Reason codes written to rejected.tsv, with what each one means.
REASONS: dict[str, str] = {
    "missing": "the file does not exist; for a labelled corpus, a label without its audio",
    "unlabelled": "the corpus has no label for this audio file",
    "not_audio": "the file is not in an audio format soundfile can read",
    "truncated": "the file is shorter than its header says, as after an interrupted copy",
    "unreadable": "the file is an audio file but could not be decoded (corrupt)",
    "empty": "the file holds no samples: 0 bytes, or a header without audio",
    "non_finite": "the signal contains NaN or infinite samples",
    "too_short": "shorter than the configured minimum duration",
    "silent": "the peak amplitude is below the configured silence threshold",
    "channel": "the file has no channel of the configured index (audio.channel)",
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
    """What counts as usable audio, and how it is read. Durations in seconds, amplitudes on
    the [-1, 1] scale; `channel`: `mix` (the mean of the channels) or a channel index, 0 the
    first. The defaults are the config schema's `audio` section."""

    min_duration_s: float = default("audio.min_duration_s")
    silence_peak: float = default("audio.silence_peak")
    target_rate: int = TARGET_RATE
    channel: str | int = default("audio.channel")

    def __post_init__(self) -> None:
        channel = self.channel
        if channel != "mix" and (
            isinstance(channel, bool) or not isinstance(channel, int) or channel < 0
        ):
            raise ValueError(f"audio channel must be 'mix' or an index >= 0, not {channel!r}")


DEFAULT_POLICY = AudioPolicy()


def as_policy(policy: AudioPolicy | Mapping | None) -> AudioPolicy:
    """An `AudioPolicy` from itself, from a plain mapping of its fields (other keys, such as
    the config's `strict`, are ignored) or from None (the default policy)."""
    if policy is None:
        return DEFAULT_POLICY
    if isinstance(policy, AudioPolicy):
        return policy
    names = {f.name for f in fields(AudioPolicy)}
    return AudioPolicy(**{k: v for k, v in policy.items() if k in names})


def to_mono(signal: np.ndarray) -> np.ndarray:
    """Mix a (n_samples, n_channels) signal down to (n_samples,) by averaging the channels."""
    if signal.ndim == 1:
        return signal
    return signal.mean(axis=1)


def _check_channel(path: Path, n_channels: int, channel: str | int) -> None:
    if isinstance(channel, int) and channel >= n_channels:
        raise BadAudioError(
            path,
            "channel",
            f"audio.channel is {channel} (0 = the first), but the file has "
            f"{n_channels} channel{'s' if n_channels != 1 else ''}",
        )


def select_channel(signal: np.ndarray, channel: str | int) -> np.ndarray:
    """(n_samples,) from a (n_samples,) or (n_samples, n_channels) signal: the mean of the
    channels (`mix`) or channel `channel` (0 = the first; a mono signal is channel 0)."""
    if channel == "mix":
        return to_mono(signal)
    if isinstance(channel, str):
        raise ValueError(f"channel must be 'mix' or an index >= 0, not {channel!r}")
    if signal.ndim == 1:
        if channel != 0:
            raise IndexError(f"channel {channel} of a mono signal")
        return signal
    return signal[:, channel]


def resample(signal: np.ndarray, rate: int, target_rate: int = TARGET_RATE) -> np.ndarray:
    """Resample with a polyphase filter (`scipy.signal.resample_poly`), exact for any integer
    rate pair: 44.1 kHz -> 16 kHz is up 160, down 441."""
    if rate == target_rate:
        return signal
    divisor = gcd(rate, target_rate)
    return resample_poly(signal, target_rate // divisor, rate // divisor).astype(signal.dtype)


# WAVE format tags whose frames are exactly block_align bytes: PCM, IEEE float, A-law,
# mu-law and WAVE_FORMAT_EXTENSIBLE (in practice PCM or float).
_FIXED_FRAME_TAGS = (0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE)
_MAX_CHUNKS = 256


def _chunks(handle, order: str, limit: int):
    """(chunk id, size, body offset) of the chunks of a RIFF/AIFF file, from the current
    position; stops at the end of the file or at a chunk header cut short."""
    for _ in range(_MAX_CHUNKS):
        head = handle.read(8)
        if len(head) < 8:
            return
        size = struct.unpack(order + "I", head[4:])[0]
        start = handle.tell()
        yield head[:4], size, start
        if start + size > limit:
            return
        handle.seek(start + size + (size & 1))


def _wave_frames(handle, order: str, rf64: bool, limit: int) -> int | None:
    tag = block_align = None
    ds64_data = None
    for chunk, size, start in _chunks(handle, order, limit):
        handle.seek(start)
        if chunk == b"fmt " and size >= 16:
            body = handle.read(16)
            if len(body) < 16:
                return None
            tag, _, _, _, block_align, _ = struct.unpack(order + "HHIIHH", body)
        elif chunk == b"ds64" and size >= 16:
            body = handle.read(16)
            if len(body) < 16:
                return None
            ds64_data = struct.unpack("<Q", body[8:16])[0]
        elif chunk == b"data":
            if rf64 and size == 0xFFFFFFFF:
                size = ds64_data
            # 0 and 0xFFFFFFFF are what streaming writers leave before they know the size.
            if not size or size == 0xFFFFFFFF or tag not in _FIXED_FRAME_TAGS or not block_align:
                return None
            return size // block_align
    return None


def _aiff_frames(handle, limit: int) -> int | None:
    for chunk, size, start in _chunks(handle, ">", limit):
        if chunk == b"COMM" and size >= 6:
            handle.seek(start)
            body = handle.read(6)
            return struct.unpack(">HI", body)[1] if len(body) == 6 else None
    return None


def header_frames(path: str | Path) -> int | None:
    """The number of frames a WAV (RIFF, RIFX, RF64) or AIFF header declares, read from the
    header alone (no decoding); None for other formats, compressed WAV and streaming headers
    that leave the size open."""
    path = Path(path)
    try:
        limit = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12:
                return None
            kind, form = head[:4], head[8:]
            if kind in (b"RIFF", b"RIFX", b"RF64") and form == b"WAVE":
                order = ">" if kind == b"RIFX" else "<"
                return _wave_frames(handle, order, kind == b"RF64", limit)
            if kind == b"FORM" and form in (b"AIFF", b"AIFC"):
                return _aiff_frames(handle, limit)
    except OSError:
        return None
    return None


def _cut_in_header(path: Path) -> str:
    """Why a WAV/AIFF file that soundfile cannot open looks cut short, or "" if it does not:
    its first chunk (RF64: its ds64 chunk) says the file is longer than it is."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(28)
    except OSError:
        return ""
    kind, form = head[:4], head[8:12]
    if len(head) < 12 or form not in (b"WAVE", b"AIFF", b"AIFC"):
        return ""
    if kind == b"RF64":
        if len(head) < 28 or head[12:16] != b"ds64":
            return ""
        declared = struct.unpack("<Q", head[20:28])[0] + 8
    elif kind in (b"RIFF", b"RIFX", b"FORM"):
        declared = struct.unpack("<I" if kind == b"RIFF" else ">I", head[4:8])[0] + 8
    else:
        return ""
    if declared <= size:
        return ""
    return f"the file ends after {size} bytes, inside its header (which says {declared} bytes)"


def _truncated(path: Path, declared: int, readable: int) -> BadAudioError:
    return BadAudioError(path, "truncated", f"header says {declared} frames, {readable} readable")


def _open(path: Path) -> sf.SoundFile:
    """`path` opened by soundfile, once it is known to exist, be audio, be whole and not be
    empty; the caller closes it.

    Truncation is found from the header alone: libsndfile shortens a WAV/AIFF whose data
    chunk runs past the end of the file to what is there, so `frames` is the readable length
    and the header's own count is compared with it (a few bytes read, no decoding).
    """
    if not path.exists():
        raise BadAudioError(path, "missing")
    if path.is_file() and path.stat().st_size == 0:
        raise BadAudioError(path, "empty", "0 bytes")
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        cut = _cut_in_header(path)
        if cut:
            raise BadAudioError(path, "truncated", cut) from error
        raise BadAudioError(path, "not_audio", str(error)) from error
    try:
        declared = header_frames(path)
        if declared is not None and declared > handle.frames:
            raise _truncated(path, declared, handle.frames)
        if handle.frames == 0:
            raise BadAudioError(path, "empty")
    except BaseException:
        handle.close()
        raise
    return handle


def _short_read(handle: sf.SoundFile, path: Path, read: int) -> None:
    """Raise `truncated` when decoding gave fewer frames than the header announced (FLAC,
    Ogg, ...; WAV and AIFF are caught from the header before). MP3 lengths are estimates."""
    if read < handle.frames and handle.format != "MPEG":
        raise _truncated(path, handle.frames, read)


def _read(path: Path) -> tuple[np.ndarray, int]:
    """The whole signal, (n_samples,) or (n_samples, n_channels), and its rate; one decode."""
    with _open(path) as handle:
        try:
            signal = handle.read(dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise BadAudioError(path, "unreadable", str(error)) from error
        if signal.size == 0:
            raise BadAudioError(path, "empty")
        _short_read(handle, path, signal.shape[0])
        return signal, handle.samplerate


def load_audio(path: str | Path, policy: AudioPolicy | Mapping = DEFAULT_POLICY) -> np.ndarray:
    """Read `path` as mono float32 at `policy.target_rate` (the channels mixed, or one of
    them: `policy.channel`), or raise `BadAudioError`. The file is decoded once.

    Returns: (n_samples,) float32.
    """
    path = Path(path)
    policy = as_policy(policy)
    signal, rate = _read(path)
    _check_channel(path, 1 if signal.ndim == 1 else signal.shape[1], policy.channel)
    signal = select_channel(signal, policy.channel)
    if not np.all(np.isfinite(signal)):
        raise BadAudioError(path, "non_finite", f"{int(np.sum(~np.isfinite(signal)))} samples")
    duration = signal.shape[0] / rate
    if duration < policy.min_duration_s:
        raise BadAudioError(path, "too_short", f"{duration:.3f} s < {policy.min_duration_s} s")
    signal = resample(signal, rate, policy.target_rate)
    peak = float(np.max(np.abs(signal)))
    if peak < policy.silence_peak:
        raise BadAudioError(path, "silent", f"peak {peak:.2e} < {policy.silence_peak:.0e}")
    return signal.astype(np.float32, copy=False)


def audio_windows(
    path: str | Path, window_s: float, policy: AudioPolicy | Mapping = DEFAULT_POLICY
) -> list[np.ndarray]:
    """`path` as mono float32 at `policy.target_rate`, cut into windows of about `window_s`
    seconds (equal parts, so that no window is much shorter than the others), each read,
    made mono (`policy.channel`) and resampled on its own: memory stays at one window
    however long the file.
    A file of at most `window_s` is one window, read exactly as `load_audio` reads it.
    Raises `BadAudioError` as `load_audio` does.
    """
    path = Path(path)
    policy = as_policy(policy)
    with _open(path) as handle:
        frames, rate = handle.frames, handle.samplerate
        _check_channel(path, handle.channels, policy.channel)
        if frames > window_s * rate:
            return _windows(handle, path, window_s, policy)
    return [load_audio(path, policy)]


def _windows(
    handle: sf.SoundFile, path: Path, window_s: float, policy: AudioPolicy
) -> list[np.ndarray]:
    rate = handle.samplerate
    n_windows = max(1, round(handle.frames / rate / window_s))
    bounds = np.linspace(0, handle.frames, n_windows + 1).astype(np.int64)
    windows = []
    peak = 0.0
    try:
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            handle.seek(int(start))
            signal = handle.read(int(stop - start), dtype="float32", always_2d=False)
            if signal.shape[0] < stop - start:
                _short_read(handle, path, int(start) + signal.shape[0])
            signal = select_channel(signal, policy.channel)
            if not np.all(np.isfinite(signal)):
                raise BadAudioError(
                    path, "non_finite", f"{int(np.sum(~np.isfinite(signal)))} samples"
                )
            signal = resample(signal, rate, policy.target_rate)
            peak = max(peak, float(np.max(np.abs(signal))))
            windows.append(signal.astype(np.float32, copy=False))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise BadAudioError(path, "unreadable", str(error)) from error
    if peak < policy.silence_peak:
        raise BadAudioError(path, "silent", f"peak {peak:.2e} < {policy.silence_peak:.0e}")
    return windows
