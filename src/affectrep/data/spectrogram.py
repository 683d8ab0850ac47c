"""Spectrogram frames as in the paper: 20 ms windows every 10 ms, log-compressed.

Three kinds of frame, all from one power spectrum of an `n_fft`-point FFT of the windowed
frame (a 20 ms window is 320 samples at 16 kHz, so 1024 points is the smallest power of two
that holds it, and gives the paper's 513 bins):

- ``fft`` with ``n_bins = n_fft // 2 + 1``: the full-resolution spectrum (paper: 513 bins);
- ``fft`` with fewer bins: the power spectrum averaged over `n_bins` equal-width linear
  frequency bands (paper: 128 bins). This keeps the whole 20 ms window; a 256-point FFT would
  have to truncate it.
- ``mel``: `n_mels` triangular filters equally spaced on the (HTK) mel scale (paper: 40).

Everything is vectorised over frames: one `rfft` call per utterance, one matrix product.

Frame selection (`speech_threshold_db`, beyond the paper): acted corpora carry leading and
trailing silence and pauses, and every silent frame carries its utterance's emotion label in
training, votes in the frame-level decision and weighs in pooled statistics, while eGeMAPS's
functionals weight voiced speech. With a threshold, only the frames whose energy (the whole
power spectrum, before any band projection, so that every spectrogram type keeps the same
frames) lies within `speech_threshold_db` dB of the utterance's loudest frame are kept, in
order; the loudest frame is always kept. Because the selection is part of the spectrogram's
settings, the frames on disk, the autoencoders' training, the codes, the MLPs' votes, the
pooled statistics, the BLSTM's sequences and an exported bundle all see the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal

from affectrep.defaults import default


@dataclass(frozen=True)
class SpectrogramSpec:
    """Settings of one spectrogram type. Times in milliseconds, frequencies in hertz. The
    defaults are the config schema's (`features`, and `features.spectrograms.*` for the FFT
    size and fmin); n_bins (the full spectrum of 1024 points) and n_mels (the paper's 40) have
    none there: a config entry of kind fft or mel must give them."""

    name: str
    kind: Literal["fft", "mel"]
    n_fft: int = default("features.spectrograms.*.n_fft")
    n_bins: int = 513
    n_mels: int = 40
    fmin: float = float(default("features.spectrograms.*.fmin"))
    fmax: float | None = None
    window_ms: float = float(default("features.window_ms"))
    hop_ms: float = float(default("features.hop_ms"))
    window: str = default("features.window")
    log_floor: float = default("features.log_floor")
    sample_rate: int = 16_000
    # None: every frame (the paper); a number: keep the frames within this many dB of the
    # utterance's loudest one (speech activity relative to the peak, see the module doc).
    speech_threshold_db: float | None = default("features.speech_threshold_db")

    @property
    def window_length(self) -> int:
        return round(self.sample_rate * self.window_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def n_dims(self) -> int:
        """Dimensions of one output frame."""
        return self.n_mels if self.kind == "mel" else self.n_bins

    def check(self) -> None:
        """Raise ValueError for settings that cannot work, naming the spectrogram."""
        full = self.n_fft // 2 + 1
        if self.window_length > self.n_fft:
            raise ValueError(
                f"spectrogram {self.name}: a {self.window_ms} ms window is {self.window_length} "
                f"samples, more than n_fft={self.n_fft}"
            )
        if self.hop_length < 1:
            raise ValueError(f"spectrogram {self.name}: hop of {self.hop_ms} ms is < 1 sample")
        if self.kind == "fft" and not 1 <= self.n_bins <= full:
            raise ValueError(
                f"spectrogram {self.name}: n_bins must be 1..{full} for n_fft={self.n_fft}"
            )
        threshold = self.speech_threshold_db
        if threshold is not None and not (np.isfinite(threshold) and threshold > 0):
            raise ValueError(
                f"spectrogram {self.name}: speech_threshold_db must be a number > 0 dB (or "
                f"null for every frame), not {threshold!r}"
            )
        nyquist = self.sample_rate / 2
        if self.kind == "mel" and not 0 <= self.fmin < (self.fmax or nyquist) <= nyquist:
            raise ValueError(f"spectrogram {self.name}: need 0 <= fmin < fmax <= {nyquist} Hz")


def count_frames(n_samples: int, spec: SpectrogramSpec) -> int:
    """Frames in a signal of `n_samples`: only whole windows, one every hop."""
    if n_samples < spec.window_length:
        return 0
    return 1 + (n_samples - spec.window_length) // spec.hop_length


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Triangular filters, peak 1 at each band centre: (n_fft // 2 + 1, n_mels)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    bin_hz = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    rising = (bin_hz[:, None] - lower) / (centre - lower)
    falling = (upper - bin_hz[:, None]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def mel_band_centres(n_mels: int, sample_rate: int, fmin: float = 0.0, fmax: float | None = None):
    """Centre frequency of each mel band, in hertz: (n_mels,)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))[1:-1]


def band_pooling(n_full: int, n_bins: int) -> np.ndarray:
    """Averaging matrix (n_full, n_bins): band j averages bins edges[j]..edges[j+1]-1."""
    edges = np.round(np.linspace(0, n_full, n_bins + 1)).astype(int)
    pooling = np.zeros((n_full, n_bins))
    for band in range(n_bins):
        pooling[edges[band] : edges[band + 1], band] = 1.0 / (edges[band + 1] - edges[band])
    return pooling


@cache
def _projection(spec: SpectrogramSpec) -> np.ndarray | None:
    full = spec.n_fft // 2 + 1
    if spec.kind == "mel":
        bank = mel_filterbank(spec.n_mels, spec.n_fft, spec.sample_rate, spec.fmin, spec.fmax)
        return bank.astype(np.float32)
    if spec.n_bins == full:
        return None
    return band_pooling(full, spec.n_bins).astype(np.float32)


@cache
def _window(spec: SpectrogramSpec) -> np.ndarray:
    return scipy.signal.get_window(spec.window, spec.window_length, fftbins=True).astype(np.float32)


def power_spectrum(signal: np.ndarray, spec: SpectrogramSpec) -> np.ndarray:
    """|FFT|^2 of each windowed frame: (n_frames, n_fft // 2 + 1) float32."""
    n_frames = count_frames(signal.shape[0], spec)
    if n_frames == 0:
        return np.zeros((0, spec.n_fft // 2 + 1), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(signal, spec.window_length)
    frames = frames[:: spec.hop_length][:n_frames] * _window(spec)
    spectrum = scipy.fft.rfft(frames, n=spec.n_fft, axis=1)
    return (spectrum.real**2 + spectrum.imag**2).astype(np.float32)


def speech_frames(power: np.ndarray, threshold_db: float | None) -> np.ndarray:
    """(n_frames,) bool: the frames whose energy (sum of the full power spectrum `power`) is
    within `threshold_db` dB of the loudest frame's (all of them for None). The loudest frame
    is always kept, so an utterance never loses every frame."""
    keep = np.ones(power.shape[0], dtype=bool)
    if threshold_db is None or power.shape[0] == 0:
        return keep
    level = 10.0 * np.log10(power.astype(np.float64).sum(axis=1) + 1e-20)
    return level >= level.max() - float(threshold_db)


def selected_spectrogram(signal: np.ndarray, spec: SpectrogramSpec) -> tuple[np.ndarray, int]:
    """The frames of `spectrogram` and how many frames the signal had before the speech
    selection (`spec.speech_threshold_db`) left some out."""
    power = power_spectrum(np.asarray(signal, dtype=np.float32), spec)
    total = power.shape[0]
    power = power[speech_frames(power, spec.speech_threshold_db)]
    projection = _projection(spec)
    if projection is not None:
        power = power @ projection
    return np.log(np.maximum(power, spec.log_floor)).astype(np.float32), total


def spectrogram(signal: np.ndarray, spec: SpectrogramSpec) -> np.ndarray:
    """Log-compressed frames of a mono signal at `spec.sample_rate`: (n_frames, n_dims) float32,
    only the speech frames when `spec.speech_threshold_db` is set (see the module doc)."""
    return selected_spectrogram(signal, spec)[0]
