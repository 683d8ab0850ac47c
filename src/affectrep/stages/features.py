"""The rule of `features.smk`, from files to files: one spectrogram type of every utterance of
the manifest (the feature set's layout is `affectrep.data.featureset`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from affectrep.data.audio import AudioPolicy
from affectrep.data.featureset import FeatureIndex, extract_feature_set
from affectrep.data.manifest import read_manifest
from affectrep.data.spectrogram import SpectrogramSpec


def features(
    manifest: str | Path,
    *,
    spec: SpectrogramSpec | Mapping,
    normalization: str,
    policy: AudioPolicy | Mapping,
    frames_out: str | Path,
    index_out: str | Path,
    stats_out: str | Path,
    logger: logging.Logger | None = None,
) -> FeatureIndex:
    """Rule `features`: the frames (`spec`: a `SpectrogramSpec` or its fields) of every
    utterance, read as `policy` says and normalised (`global`, `speaker` or `none`), as
    `frames.npy`, `index.tsv` and `stats.npz`."""
    if not isinstance(spec, SpectrogramSpec):
        spec = SpectrogramSpec(**spec)
    if not isinstance(policy, AudioPolicy):
        policy = AudioPolicy(**policy)
    return extract_feature_set(
        read_manifest(manifest),
        spec,
        frames_out,
        index_out,
        stats_out,
        normalization=normalization,
        policy=policy,
        logger=logger,
    )
