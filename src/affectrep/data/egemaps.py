"""The hand-crafted acoustic baselines: openSMILE functionals of every utterance.

The paper compares its learnt representation with a softmax classifier on COVAREP features
(MFCCs, pitch, peak slope, NAQ, H1-H2, ...). COVAREP is MATLAB; its open, standard
counterparts are openSMILE's functionals, one vector per utterance, computed here from the
audio exactly as the rest of the pipeline reads it (`affectrep.data.audio.load_audio`: mono,
16 kHz). Two sets, so that a learnt representation is measured against a small, interpretable
set and against a large, brute-force one (a representation that only beats the small one has
not yet beaten hand-crafted features):

- `egemaps`: the extended Geneva Minimalistic Acoustic Parameter Set (eGeMAPS v02), 88
  functionals of pitch, jitter, shimmer, loudness, spectral slope, formants, H1-H2, H1-A3,
  MFCC 1-4, ... chosen for affect by Eyben et al. (2016);
- `compare`: the ComParE 2016 set of the Interspeech Computational Paralinguistics
  Challenges, 6,373 functionals of 65 low-level descriptors and their deltas (Schuller et
  al.), the usual strong hand-crafted baseline.

The softmax on them is `affectrep.protocol.utterance`, the same for both.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from affectrep.data.audio import DEFAULT_POLICY, AudioPolicy, load_audio
from affectrep.data.manifest import Utterance
from affectrep.progress import Progress


@dataclass(frozen=True)
class FunctionalSet:
    """One openSMILE feature set at its Functionals level: `opensmile` names the member of
    `opensmile.FeatureSet`, `n_features` is what it gives per utterance (checked: a different
    openSMILE release that changed the set would otherwise pass unnoticed), `title` is how
    logs and tables name it."""

    key: str
    opensmile: str
    n_features: int
    title: str


FUNCTIONAL_SETS: dict[str, FunctionalSet] = {
    "egemaps": FunctionalSet("egemaps", "eGeMAPSv02", 88, "eGeMAPS"),
    "compare": FunctionalSet("compare", "ComParE_2016", 6373, "ComParE 2016"),
}
N_EGEMAPS = FUNCTIONAL_SETS["egemaps"].n_features
N_COMPARE = FUNCTIONAL_SETS["compare"].n_features


def functional_set(key: str) -> FunctionalSet:
    """The set named `key` (`egemaps` or `compare`); a ValueError names the known ones."""
    try:
        return FUNCTIONAL_SETS[key]
    except KeyError:
        raise ValueError(
            f"unknown openSMILE functionals {key!r}; known are {', '.join(FUNCTIONAL_SETS)}"
        ) from None


def make_smile(feature_set: str = "egemaps") -> Any:
    """openSMILE configured for the Functionals of `feature_set` (one vector per signal)."""
    import opensmile  # imported here: only these baselines need the native library

    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, functional_set(feature_set).opensmile),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def signal_features(smile: Any, signal: np.ndarray, rate: int) -> np.ndarray:
    """The functionals of one mono signal: (n_features,) float32."""
    frame = smile.process_signal(np.asarray(signal, dtype=np.float32), rate)
    return frame.to_numpy(dtype=np.float32).reshape(-1)


@dataclass
class _Chunk:
    """The functionals of a run of consecutive utterances, and what the log reports."""

    features: np.ndarray
    audio_s: float = 0.0  # seconds of audio
    smile_s: float = 0.0  # seconds in openSMILE (the rest is reading and resampling audio)
    too_short: int = 0  # utterances shorter than openSMILE's windows


_WORKER_SMILE: Any = None  # each worker process's own openSMILE (`_start_worker`)


def _chunk_features(
    smile: Any, paths: Sequence[str], n_features: int, policy: AudioPolicy
) -> _Chunk:
    chunk = _Chunk(np.zeros((len(paths), n_features), dtype=np.float32))
    for number, path in enumerate(paths):
        signal = load_audio(path, policy)
        chunk.audio_s += signal.size / policy.target_rate
        with warnings.catch_warnings(record=True) as caught:
            # openSMILE warns "Segment too short, filling with NaN" once per such signal;
            # counted here and reported once, rather than once per utterance.
            warnings.simplefilter("always")
            start = time.perf_counter()
            chunk.features[number] = signal_features(smile, signal, policy.target_rate)
            chunk.smile_s += time.perf_counter() - start
        chunk.too_short += any("too short" in str(w.message) for w in caught)
    return chunk


def _start_worker(feature_set: str) -> None:
    global _WORKER_SMILE
    _WORKER_SMILE = make_smile(feature_set)


def _worker_chunk(paths: Sequence[str], n_features: int, policy: AudioPolicy) -> _Chunk:
    return _chunk_features(_WORKER_SMILE, paths, n_features, policy)


def functionals_features(
    rows: Sequence[Utterance],
    feature_set: str = "egemaps",
    logger: logging.Logger | None = None,
    policy: AudioPolicy = DEFAULT_POLICY,
    workers: int = 1,
) -> tuple[np.ndarray, list[str]]:
    """The `feature_set` functionals of every utterance, in `rows` order: ((n, n_features)
    float32, the names openSMILE gives them).

    `workers` > 1 computes them in that many processes, each with its own openSMILE, on
    runs of consecutive utterances (openSMILE is single-threaded; each utterance's
    functionals are its own, so the result is the same for any number of workers).

    Non-finite values (an utterance without voiced frames has no pitch statistics; a signal
    shorter than a ComParE window gets NaN throughout) are kept as NaN and counted in the log;
    the classifier fills them with the training speakers' mean, so that no statistic of a
    held-out speaker leaks into the features. Columns that are constant (or all NaN) on a
    corpus are left in: the classifier's scaler and imputer make them inert.
    """
    logger = logger or logging.getLogger(__name__)
    spec = functional_set(feature_set)
    smile = make_smile(feature_set)
    names = list(smile.feature_names)
    if len(names) != spec.n_features:
        raise RuntimeError(
            f"openSMILE's {spec.opensmile} functionals have {len(names)} features, not the "
            f"{spec.n_features} of the published set: a different openSMILE release?"
        )
    paths = [row.path for row in rows]
    workers = max(1, min(workers, len(paths) // 8))  # a process is worth 8 utterances
    size = 16 if workers > 1 else 64  # utterances per chunk: progress, and load balance
    runs = [paths[start : start + size] for start in range(0, len(paths), size)]
    progress = Progress(len(rows), spec.title, logger, unit="utterances")
    chunks: list[_Chunk] = []

    def collect(chunk: _Chunk) -> None:
        chunks.append(chunk)
        progress.update(progress.done + len(chunk.features))

    if workers == 1:
        for run in runs:
            collect(_chunk_features(smile, run, len(names), policy))
    else:
        from concurrent.futures import ProcessPoolExecutor

        logger.info("%s: %d worker processes", spec.title, workers)
        with ProcessPoolExecutor(
            workers, initializer=_start_worker, initargs=(feature_set,)
        ) as pool:
            for chunk in pool.map(
                _worker_chunk, runs, [len(names)] * len(runs), [policy] * len(runs)
            ):
                collect(chunk)
    features = (
        np.concatenate([chunk.features for chunk in chunks])
        if chunks
        else np.zeros((0, len(names)), dtype=np.float32)
    )
    seconds = sum(chunk.audio_s for chunk in chunks)
    smile_s = sum(chunk.smile_s for chunk in chunks)
    too_short = sum(chunk.too_short for chunk in chunks)
    if too_short:
        logger.warning(
            "%s: %d utterances too short for openSMILE's windows (their features are NaN)",
            spec.title,
            too_short,
        )
    bad = ~np.isfinite(features)
    if bad.any():
        logger.warning(
            "%s: %d non-finite values in %d utterances (left as NaN)",
            spec.title,
            int(bad.sum()),
            int(bad.any(axis=1).sum()),
        )
        features[bad] = np.nan
    logger.info(
        "%s: %d utterances x %d features in %.1f s with %d process(es), %.1f s of them in "
        "openSMILE (%.1f s of audio: %.1f ms of openSMILE per second of audio)",
        spec.title,
        len(rows),
        len(names),
        progress.elapsed_s,
        workers,
        smile_s,
        seconds,
        1000 * smile_s / seconds if seconds > 0 else float("nan"),
    )
    return features, names


def egemaps_features(
    rows: Sequence[Utterance],
    logger: logging.Logger | None = None,
    policy: AudioPolicy = DEFAULT_POLICY,
) -> tuple[np.ndarray, list[str]]:
    """eGeMAPS functionals of every utterance, in `rows` order: ((n, 88) float32, names);
    `functionals_features` with the `egemaps` set."""
    return functionals_features(rows, "egemaps", logger, policy)
