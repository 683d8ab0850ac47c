"""Saving nested parameter dicts/lists to `.npz` and back, with no framework in between.

A parameter file is a plain NumPy archive: array names are paths such as `encoder/0/W`
(lists become numbered levels), and `meta` holds a JSON string with the configuration that
produced the arrays. Anyone can open it with `numpy.load`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from affectrep.atomic import atomic_path

META_KEY = "meta"


def flatten(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """{'encoder': [{'W': a}]} -> {'encoder/0/W': a}."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list | tuple):
        items = ((str(i), v) for i, v in enumerate(tree))
    else:
        return {prefix: np.asarray(tree)}
    flat: dict[str, np.ndarray] = {}
    for key, value in items:
        if "/" in str(key):
            raise ValueError(f"key {key!r} must not contain '/'")
        flat.update(flatten(value, f"{prefix}/{key}" if prefix else str(key)))
    return flat


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[str(i)] for i in range(len(converted))]
    return converted


def unflatten(flat: dict[str, np.ndarray]) -> Any:
    """The inverse of `flatten`: numbered levels become lists again."""
    root: dict[str, Any] = {}
    for path, value in flat.items():
        node = root
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return _listify(root)


def save_tree(path: str | Path, tree: Any, meta: dict | None = None) -> None:
    """Write `tree` (and `meta` as JSON) to `path` atomically."""
    arrays = flatten(tree)
    if META_KEY in arrays or "provenance" in arrays:
        raise ValueError(f"'{META_KEY}' and 'provenance' are reserved for the metadata")
    # Values typed Any: mypy matches a spread dict[str, ndarray] against savez's own
    # `allow_pickle: bool` keyword as well.
    contents: dict[str, Any] = {**arrays, META_KEY: np.array(json.dumps(meta or {}))}
    with atomic_path(path) as tmp:
        np.savez(tmp, **contents)


def load_tree(path: str | Path) -> tuple[Any, dict]:
    """The tree and the metadata saved by `save_tree`."""
    with np.load(path) as archive:
        # `provenance` (affectrep.provenance) is the workflow's record, not a parameter.
        flat = {
            name: archive[name] for name in archive.files if name not in (META_KEY, "provenance")
        }
        meta = json.loads(str(archive[META_KEY])) if META_KEY in archive.files else {}
    return unflatten(flat), meta
