"""Row blocks of large `.npy` arrays read and written with plain file I/O.

Why not `np.load(mmap_mode="r")` everywhere: every page of a memory map that a process has
touched counts in its resident memory until the map is closed, so a stage that walks over a
12-hour corpus's frames through a map ends with the whole file in its peak RSS (and a
scheduler that enforces `mem_mb` may kill it). Reading and writing row blocks through file
handles keeps a stage's memory at one block, whatever the corpus size; the operating system's
page cache still makes repeated reads fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from affectrep.atomic import atomic_path

DEFAULT_BLOCK_ROWS = 1 << 16


def npy_layout(path: str | Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and byte offset of the data of a C-ordered `.npy` file."""
    # Opening a map reads only the header; no data page is touched.
    mapped = np.load(path, mmap_mode="r")
    if not mapped.flags.c_contiguous:
        raise ValueError(f"{path}: only C-ordered arrays are supported")
    layout = (tuple(mapped.shape), mapped.dtype, int(mapped.offset))
    del mapped
    return layout


def read_rows(path: str | Path, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of a 2-D (or 1-D) `.npy` file, read into a fresh array."""
    layout = npy_layout(path)
    with open(path, "rb") as handle:
        return _read(handle, path, layout, start, stop)


def _read(
    handle, path: str | Path, layout: tuple[tuple[int, ...], np.dtype, int], start: int, stop: int
) -> np.ndarray:
    shape, dtype, offset = layout
    stop = min(stop, shape[0])
    row_items = int(np.prod(shape[1:], dtype=np.int64))
    count = max(stop - start, 0) * row_items
    handle.seek(offset + start * row_items * dtype.itemsize)
    values = np.fromfile(handle, dtype=dtype, count=count)
    if values.size != count:
        raise ValueError(f"{path}: file is shorter than its header says ({shape})")
    return values.reshape((max(stop - start, 0), *shape[1:]))


def iter_row_blocks(
    path: str | Path,
    segments: list[tuple[int, int]] | None = None,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> Iterator[np.ndarray]:
    """Blocks of at most `block_rows` rows, in order, from the (start, length) `segments`
    (default: the whole array); consecutive segments are merged into one read. The header
    is read and the file opened once."""
    layout = npy_layout(path)
    if segments is None:
        segments = [(0, layout[0][0])]
    pending: list[np.ndarray] = []
    pending_rows = 0
    with open(path, "rb") as handle:
        for start, length in _merged(segments):
            first, end = start, start + length
            while first < end:
                last = min(end, first + block_rows - pending_rows)
                pending.append(_read(handle, path, layout, first, last))
                pending_rows += last - first
                first = last
                if pending_rows == block_rows:
                    yield np.concatenate(pending)
                    pending, pending_rows = [], 0
    if pending:
        yield np.concatenate(pending)


def _merged(segments: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, length in segments:
        if merged and merged[-1][0] + merged[-1][1] == start:
            merged[-1] = (merged[-1][0], merged[-1][1] + length)
        elif length > 0:
            merged.append((int(start), int(length)))
    return merged


class NpyRowWriter:
    """Write a `.npy` of known shape block by block; it appears at `path` only when complete.

    with NpyRowWriter(path, (n, d)) as out:
        for block in blocks:
            out.write(block)
    """

    def __init__(self, path: str | Path, shape: tuple[int, ...], dtype=np.float32) -> None:
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.rows_written = 0
        self._atomic = atomic_path(self.path)

    def __enter__(self) -> NpyRowWriter:
        self._tmp = self._atomic.__enter__()
        self._handle = open(self._tmp, "wb")
        header = {
            "descr": np.lib.format.dtype_to_descr(self.dtype),
            "fortran_order": False,
            "shape": self.shape,
        }
        np.lib.format.write_array_header_2_0(self._handle, header)
        return self

    def write(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.shape[1:] != self.shape[1:]:
            raise ValueError(f"{self.path}: block rows {block.shape[1:]} != {self.shape[1:]}")
        if self.rows_written + block.shape[0] > self.shape[0]:
            raise ValueError(f"{self.path}: more than {self.shape[0]} rows written")
        self._handle.write(block.tobytes())
        self.rows_written += block.shape[0]

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._handle.close()
        if kind is None and self.rows_written != self.shape[0]:
            error = ValueError(
                f"{self.path}: {self.rows_written} of {self.shape[0]} rows were written"
            )
            self._atomic.__exit__(type(error), error, None)
            raise error
        self._atomic.__exit__(kind, error, trace)
