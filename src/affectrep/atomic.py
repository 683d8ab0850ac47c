"""Atomic file writing: a failed or killed step never leaves a half-written output behind.

A write goes to a temporary file beside the target, is flushed to disk (fsync) and only then
renamed onto the target, and the directory entry is synced too: after a crash or power loss
the target is either the old file or the whole new one. The temporary name is derived from
the target, so a job killed before its rename leaves a file that the next write of the same
target recognises and removes (Snakemake never runs two jobs for one output at a time).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

TEMP_MARK = ".tmp-"


def temporary_name(target: Path, tag: str | int | None = None) -> Path:
    """``x.tmp-<tag>.npy`` beside ``x.npy`` (tag: this process's id by default). The final
    suffix is kept so that libraries which add or check suffixes (numpy, matplotlib) write
    exactly where we expect."""
    tag = os.getpid() if tag is None else tag
    return target.with_name(f"{target.stem}{TEMP_MARK}{tag}{target.suffix}")


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporary files that an earlier, killed write of `target` left behind."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    pattern = f"{target.stem}{TEMP_MARK}*{target.suffix}"
    removed = []
    for stale in target.parent.glob(pattern):
        if stale.is_file():
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def fsync_file(path: str | Path) -> None:
    """Flush a written file's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: str | Path) -> None:
    """Flush a directory entry (a rename) to the disk, where the platform allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def replace_durably(source: str | Path, target: str | Path) -> None:
    """fsync `source`, rename it onto `target`, fsync the directory."""
    fsync_file(source)
    os.replace(source, target)
    fsync_directory(Path(target).parent)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` (durably) only if the block
    succeeds. Temporaries of an earlier killed write of the same target are removed first."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    tmp = temporary_name(target)
    try:
        yield tmp
        replace_durably(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
