"""Temporal context windows, gathered on the fly inside compiled code (paper section 3.6).

The input at frame t is frames t-K .. t+K of the same utterance (context 2K+1). At an
utterance's edges the first or last frame is repeated, so a window never reaches into the
neighbouring utterance. Windows are built from the frame array and two small per-frame index
arrays, never written out: 5x the frames on disk or on the device would be wasted memory.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


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
