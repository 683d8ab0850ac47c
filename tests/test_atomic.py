"""Atomic writes: a failed write leaves the target as it was; temporaries of killed writes go."""

import os

import numpy as np
import pytest

from affectrep.atomic import atomic_path, remove_stale_temporaries, temporary_name


def test_a_successful_write_replaces_the_target(tmp_path):
    target = tmp_path / "x.npy"
    np.save(target, np.zeros(2))
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npy" and tmp != target
        np.save(tmp, np.arange(3))
        assert tmp.exists()
        np.testing.assert_array_equal(np.load(target), np.zeros(2))  # not yet replaced
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npy"]


def test_a_failed_write_leaves_no_temporary_and_the_target_unchanged(tmp_path):
    target = tmp_path / "table.tsv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half written")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.tsv"]


def test_a_failed_first_write_creates_nothing(tmp_path):
    target = tmp_path / "sub" / "new.json"
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("{")
        raise ValueError
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_temporary_name_keeps_the_suffix():
    from pathlib import Path

    assert temporary_name(Path("d/x.npy"), 123) == Path("d/x.tmp-123.npy")
    assert temporary_name(Path("d/x.npy")) == Path(f"d/x.tmp-{os.getpid()}.npy")


def test_the_next_write_removes_temporaries_of_a_killed_write_of_the_same_target(tmp_path):
    stale = tmp_path / "x.tmp-123.npy"
    stale.write_bytes(b"\0" * 1000)
    other = tmp_path / "y.tmp-1.npy"
    other.write_bytes(b"keep")
    similar = tmp_path / "x.tmp-9.npz"  # another target (x.npz)
    similar.write_bytes(b"keep")
    with atomic_path(tmp_path / "x.npy") as tmp:
        np.save(tmp, np.ones(4))
    assert not stale.exists()
    assert other.read_bytes() == b"keep" and similar.read_bytes() == b"keep"
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.ones(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "x.tmp-9.npz", "y.tmp-1.npy"]


def test_remove_stale_temporaries_returns_what_it_removed(tmp_path):
    for name in ("x.tmp-1.npy", "x.tmp-22.npy", "x.npy", "y.tmp-1.npy", "xx.tmp-1.npy"):
        (tmp_path / name).write_text(name)
    removed = remove_stale_temporaries(tmp_path / "x.npy")
    assert sorted(p.name for p in removed) == ["x.tmp-1.npy", "x.tmp-22.npy"]
    assert all(not p.exists() for p in removed)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "xx.tmp-1.npy", "y.tmp-1.npy"]
    assert remove_stale_temporaries(tmp_path / "x.npy") == []
    assert remove_stale_temporaries(tmp_path / "missing" / "x.npy") == []
