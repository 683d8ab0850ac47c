"""Statistics pooling: one fixed-length vector from a variable-length sequence of frames.

The paper decides an utterance's emotion by summing frame posteriors, and summarises it for
the BLSTM by a mean of states. Hand-crafted baselines such as eGeMAPS instead describe an
utterance by functionals of its frame descriptors (means, spreads, percentiles, and the same
of their changes over time), and a linear classifier on such functionals is hard to beat.
To compare fairly, learned codes (and BLSTM states) get the same kind of summary: for each
dimension, the chosen statistics of the frames, and optionally of their first differences
(`deltas`), computed over the frames that are there (after speech selection, see
`affectrep.data.spectrogram`).

`PoolingSpec` is a plain value (statistics names and the delta switch) so that it can be a
rule param, recorded in provenance and stored in an exported bundle, which pools new audio
the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from affectrep.defaults import default

# Each statistic by name; percentiles are `p<q>` with 0 < q < 100 (linear interpolation).
_NAMED = ("mean", "std", "min", "max")


def _check_statistic(name: str) -> None:
    if name in _NAMED:
        return
    if name.startswith("p") and name[1:].isdigit() and 0 < int(name[1:]) < 100:
        return
    raise ValueError(
        f"unknown pooling statistic {name!r}: use {', '.join(_NAMED)} or a percentile p1..p99"
    )


@dataclass(frozen=True)
class PoolingSpec:
    """Which statistics summarise each dimension, and whether its first differences over time
    are summarised too. The defaults are the config schema's `representations.pooling`."""

    statistics: tuple[str, ...] = tuple(default("representations.pooling.statistics"))
    deltas: bool = default("representations.pooling.deltas")

    def __post_init__(self) -> None:
        object.__setattr__(self, "statistics", tuple(self.statistics))
        if not self.statistics:
            raise ValueError("pooling needs at least one statistic")
        for name in self.statistics:
            _check_statistic(name)
        if len(set(self.statistics)) != len(self.statistics):
            raise ValueError(f"pooling statistics repeat: {list(self.statistics)}")

    @classmethod
    def of(cls, value: PoolingSpec | Mapping[str, Any] | None) -> PoolingSpec:
        """A spec from itself, a plain mapping (a rule param, a bundle's record) or None (the
        summary of bundles made before statistics pooling: mean and std, no deltas)."""
        if isinstance(value, PoolingSpec):
            return value
        if value is None:
            return cls(("mean", "std"), False)
        return cls(tuple(value["statistics"]), bool(value["deltas"]))

    def as_dict(self) -> dict[str, Any]:
        return {"statistics": list(self.statistics), "deltas": self.deltas}

    def n_out(self, dims: int) -> int:
        """Length of a pooled vector of `dims`-dimensional frames."""
        return dims * len(self.statistics) * (2 if self.deltas else 1)

    def names(self, dims: int, prefix: str = "d") -> list[str]:
        """A name per pooled value, in order: `mean(d3)`, `p90(delta d3)`, ..."""
        sources = [f"{prefix}{i}" for i in range(dims)]
        if self.deltas:
            sources += [f"delta {prefix}{i}" for i in range(dims)]
        return [f"{name}({source})" for name in self.statistics for source in sources]


def _statistic(values: np.ndarray, name: str) -> np.ndarray:
    if name == "mean":
        return values.mean(axis=0)
    if name == "std":
        return values.std(axis=0)
    if name == "min":
        return values.min(axis=0)
    if name == "max":
        return values.max(axis=0)
    return np.percentile(values, float(name[1:]), axis=0)


def pool_one(frames: np.ndarray, spec: PoolingSpec | None = None) -> np.ndarray:
    """(spec.n_out(dims),) float32 summary of one sequence (n_frames, dims), n_frames >= 1,
    in float64 arithmetic. Statistics come first, then sources: every statistic of the
    frames, and of their first differences when `spec.deltas` (zero for a single frame)."""
    spec = spec or PoolingSpec.of(None)
    values = np.asarray(frames, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError(f"pooling needs (n_frames >= 1, dims) frames, got shape {values.shape}")
    if spec.deltas:
        changes = np.diff(values, axis=0) if values.shape[0] > 1 else np.zeros_like(values)
        sources = [values, changes]
    else:
        sources = [values]
    parts = [_statistic(source, name) for name in spec.statistics for source in sources]
    return np.concatenate(parts).astype(np.float32)


def pool_sequences(
    frames: np.ndarray,
    offsets: Sequence[int] | np.ndarray,
    lengths: Sequence[int] | np.ndarray,
    spec: PoolingSpec | None = None,
) -> np.ndarray:
    """(n_sequences, spec.n_out(dims)) float32: `pool_one` of `frames[offset:offset+length]`
    for each sequence. `frames` may be memory-mapped: one sequence is read at a time."""
    spec = spec or PoolingSpec.of(None)
    dims = int(frames.shape[1])
    out = np.zeros((len(offsets), spec.n_out(dims)), dtype=np.float32)
    for position, (offset, length) in enumerate(zip(offsets, lengths, strict=True)):
        out[position] = pool_one(np.asarray(frames[int(offset) : int(offset) + int(length)]), spec)
    return out
