"""Context windows: frames t-K..t+K of the same utterance, edges repeated, never crossing."""

import jax.numpy as jnp
import numpy as np
import pytest

from affectrep.models.context import frame_bounds, gather_windows, half_width


def _frames():
    # Two utterances of 3 and 4 frames; each frame's value is its global index.
    lengths = np.array([3, 4])
    offsets = np.array([0, 3])
    frames = np.repeat(np.arange(7, dtype=np.float32)[:, None], 2, axis=1)
    frames[:, 1] *= 10
    return frames, offsets, lengths


def test_bounds_per_frame():
    _, offsets, lengths = _frames()
    starts, ends = frame_bounds(offsets, lengths)
    assert starts.tolist() == [0, 0, 0, 3, 3, 3, 3]
    assert ends.tolist() == [3, 3, 3, 7, 7, 7, 7]


def test_windows_repeat_edges_and_stay_in_their_utterance():
    frames, offsets, lengths = _frames()
    starts, ends = frame_bounds(offsets, lengths)
    rows = jnp.arange(7, dtype=jnp.int32)
    windows = np.asarray(
        gather_windows(jnp.asarray(frames), rows, jnp.asarray(starts), jnp.asarray(ends), 5)
    )
    assert windows.shape == (7, 10)
    first_dims = windows[:, ::2]  # dim 0 of each of the 5 frames, oldest first
    assert first_dims.tolist() == [
        [0, 0, 0, 1, 2],
        [0, 0, 1, 2, 2],
        [0, 1, 2, 2, 2],
        [3, 3, 3, 4, 5],
        [3, 3, 4, 5, 6],
        [3, 4, 5, 6, 6],
        [4, 5, 6, 6, 6],
    ]
    np.testing.assert_array_equal(windows[:, 1::2], 10 * windows[:, ::2])


def test_context_one_is_the_frame_itself():
    frames, offsets, lengths = _frames()
    starts, ends = frame_bounds(offsets, lengths)
    rows = jnp.array([4, 0], dtype=jnp.int32)
    out = gather_windows(jnp.asarray(frames), rows, jnp.asarray(starts), jnp.asarray(ends), 1)
    np.testing.assert_array_equal(np.asarray(out), frames[[4, 0]])


def test_context_must_be_odd():
    assert half_width(5) == 2
    with pytest.raises(ValueError, match="odd"):
        half_width(4)
