import numpy as np
import pytest

from affectrep.data.npyio import NpyRowWriter, iter_row_blocks, npy_layout, read_rows


def test_writer_then_reader_round_trip_in_blocks(tmp_path):
    values = np.arange(70 * 3, dtype=np.float32).reshape(70, 3)
    path = tmp_path / "a.npy"
    with NpyRowWriter(path, values.shape) as out:
        for first in range(0, 70, 16):
            out.write(values[first : first + 16])
    np.testing.assert_array_equal(np.load(path), values)
    assert npy_layout(path)[:2] == ((70, 3), np.dtype(np.float32))
    np.testing.assert_array_equal(read_rows(path, 10, 13), values[10:13])
    blocks = list(iter_row_blocks(path, block_rows=32))
    assert [len(b) for b in blocks] == [32, 32, 6]
    np.testing.assert_array_equal(np.concatenate(blocks), values)


def test_segments_are_read_in_order_and_adjacent_ones_merged(tmp_path):
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    path = tmp_path / "a.npy"
    np.save(path, values)
    got = np.concatenate(list(iter_row_blocks(path, [(0, 2), (2, 1), (6, 3)], block_rows=2)))
    np.testing.assert_array_equal(got, values[[0, 1, 2, 6, 7, 8]])


def test_an_incomplete_array_never_appears(tmp_path):
    path = tmp_path / "a.npy"
    with pytest.raises(ValueError, match="3 of 5 rows"), NpyRowWriter(path, (5, 2)) as out:
        out.write(np.zeros((3, 2)))
    with pytest.raises(RuntimeError), NpyRowWriter(path, (5, 2)) as out:
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
