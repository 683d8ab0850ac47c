"""Shared fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex, write_index
from affectrep.data.manifest import Utterance, write_manifest
from affectrep.data.spectrogram import SpectrogramSpec
from affectrep.data.vectors import write_ids


@pytest.fixture
def bundle_inputs(tmp_path) -> Callable[[int], dict]:
    """A factory of the inputs `write_bundle` reads besides the encoder (a manifest of three
    sessions of two speakers with every emotion, random pooled codes and their ids, an index
    and the features' stats of an `fft<n_bins>` spectrogram), written under `tmp_path`:
    the keyword arguments of `write_bundle` except `model`, `encoder_file` and the folder."""

    def make(n_bins: int = 16) -> dict:
        folder: Path = tmp_path
        rng = np.random.default_rng(0)
        rows = [
            Utterance(
                id=f"Ses0{s}{g}_{k:02d}",
                path="",
                speaker=f"Ses0{s}{g}",
                session=f"Ses0{s}",
                gender=g,
                emotion=CLASSES[k % 4],
                duration_s=1.0,
            )
            for s in (1, 2, 3)
            for g in "FM"
            for k in range(8)
        ]
        write_manifest(rows, folder / "manifest.tsv")
        np.save(folder / "pooled.npy", rng.standard_normal((len(rows), 4)).astype(np.float32))
        write_ids(rows, folder / "pooled.tsv")
        lengths = np.full(len(rows), 3)
        write_index(
            FeatureIndex(
                [r.id for r in rows],
                [r.speaker for r in rows],
                np.cumsum(lengths) - lengths,
                lengths,
            ),
            folder / "index.tsv",
        )
        spec = SpectrogramSpec(name=f"fft{n_bins}", kind="fft", n_bins=n_bins)
        np.savez(
            folder / "stats.npz",
            spec=np.array(json.dumps(asdict(spec))),
            normalization=np.array("global"),
        )
        return {
            "corpus": "demo",
            "blstm_file": None,
            "stats_file": folder / "stats.npz",
            "pooled_file": folder / "pooled.npy",
            "ids_file": folder / "pooled.tsv",
            "index_file": folder / "index.tsv",
            "manifest": folder / "manifest.tsv",
            "record": {},
            "window_s": 30.0,
            "utterance": {"c_grid": [1.0], "class_weights": True},
            "seed": 0,
        }

    return make
