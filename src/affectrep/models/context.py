"""Temporal context windows, gathered on the fly inside compiled code (paper section 3.6).

The input at frame t is frames t-K .. t+K of the same utterance (context 2K+1). At an
utterance's edges the first or last frame is repeated, so a window never reaches into the
neighbouring utterance. Windows are built from the frame array and two small per-frame index
arrays, never written out: 5x the frames on disk or on the device would be wasted memory.
`TrainingData` holds the three on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from affectrep.data.featureset import FeatureIndex
from affectrep.data.npyio import DEFAULT_BLOCK_ROWS, iter_row_blocks, npy_layout


def frame_bounds(offsets: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every frame: the index of its utterance's first frame, and one past its last.

    offsets, lengths: (n_utterances,) from the feature index. Returns two (n_frames,) int32.
    """
    starts = np.repeat(offsets, lengths).astype(np.int32)
    ends = np.repeat(offsets + lengths, lengths).astype(np.int32)
    return starts, ends


def half_width(context: int) -> int:
    """K for a context of 2K+1 frames."""
    if context < 1 or context % 2 == 0:
        raise ValueError(f"context must be an odd number of frames (1, 3, 5, ...), not {context}")
    return context // 2


def gather_windows(
    frames: jax.Array,
    rows: jax.Array,
    starts: jax.Array,
    ends: jax.Array,
    context: int,
) -> jax.Array:
    """Context windows of the frames `rows`: (batch,) -> (batch, context * n_dims).

    frames: (n_frames, n_dims); starts/ends from `frame_bounds`. The window's frames are laid
    out oldest first, so that dims [k * n_dims, (k + 1) * n_dims) hold frame t - K + k.
    """
    k = half_width(context)
    if k == 0:
        return frames[rows]
    offsets = jnp.arange(-k, k + 1, dtype=rows.dtype)
    neighbours = jnp.clip(rows[:, None] + offsets, starts[rows][:, None], ends[rows][:, None] - 1)
    return frames[neighbours].reshape(rows.shape[0], -1)


@dataclass
class TrainingData:
    """Frames and per-frame utterance bounds, on the device: what `gather_windows` reads."""

    frames: jax.Array
    starts: jax.Array
    ends: jax.Array

    @classmethod
    def from_features(cls, frames: np.ndarray, index: FeatureIndex) -> TrainingData:
        starts, ends = frame_bounds(index.offsets, index.lengths)
        return cls(jnp.asarray(frames), jnp.asarray(starts), jnp.asarray(ends))

    @classmethod
    def from_file(
        cls, frames_file: str | Path, index: FeatureIndex, block_rows: int = DEFAULT_BLOCK_ROWS
    ) -> TrainingData:
        """The frames of the utterances in `index` (a subset of the file's, with its own
        offsets, or all of them), moved to the device block by block: the host holds one
        block at a time, so peak memory is the device copy plus a block."""
        shape, _, _ = npy_layout(frames_file)
        frames = jnp.zeros((index.n_frames, shape[1]), jnp.float32)
        row = 0
        for block in iter_row_blocks(frames_file, index.file_segments(), block_rows):
            frames = _put_rows(frames, jnp.asarray(block, jnp.float32), row)
            row += block.shape[0]
        starts, ends = frame_bounds(index.offsets, index.lengths)
        return cls(frames, jnp.asarray(starts), jnp.asarray(ends))

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])


@partial(jax.jit, donate_argnums=0)
def _put_rows(frames: jax.Array, block: jax.Array, row: int) -> jax.Array:
    return jax.lax.dynamic_update_slice_in_dim(frames, block, row, axis=0)
