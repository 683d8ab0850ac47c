"""The off-the-shelf acoustic baseline: eGeMAPS functionals of every utterance.

The paper compares its learnt representation with a softmax classifier on COVAREP features
(MFCCs, pitch, peak slope, NAQ, H1-H2, ...). COVAREP is MATLAB; its open, standard
counterpart is the extended Geneva Minimalistic Acoustic Parameter Set (eGeMAPS v02: 88
functionals of pitch, jitter, shimmer, loudness, spectral slope, formants, H1-H2, H1-A3,
MFCC 1-4, ... per utterance), computed here by openSMILE from the audio exactly as the rest of
the pipeline reads it (`affectrep.data.audio.load_audio`: mono, 16 kHz). The softmax on them
is `affectrep.protocol.utterance`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from affectrep.data.audio import DEFAULT_POLICY, AudioPolicy, load_audio
from affectrep.data.manifest import Utterance
from affectrep.progress import Progress

N_EGEMAPS = 88


def make_smile():
    """openSMILE configured for eGeMAPS v02 functionals (one 88-dim vector per signal)."""
    import opensmile  # imported here: only this baseline needs the native library

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet.eGeMAPSv02,
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def signal_features(smile, signal: np.ndarray, rate: int) -> np.ndarray:
    """The functionals of one mono signal: (n_features,) float32."""
    frame = smile.process_signal(np.asarray(signal, dtype=np.float32), rate)
    return frame.to_numpy(dtype=np.float32).reshape(-1)


def egemaps_features(
    rows: Sequence[Utterance],
    logger: logging.Logger | None = None,
    policy: AudioPolicy = DEFAULT_POLICY,
) -> tuple[np.ndarray, list[str]]:
    """eGeMAPS functionals of every utterance, in `rows` order: ((n, 88) float32, names).

    Non-finite values (possible for an utterance without voiced frames) are kept as NaN and
    counted in the log; the classifier fills them with the training speakers' mean, so that
    no statistic of a held-out speaker leaks into the features.
    """
    logger = logger or logging.getLogger(__name__)
    smile = make_smile()
    names = list(smile.feature_names)
    features = np.zeros((len(rows), len(names)), dtype=np.float32)
    progress = Progress(len(rows), "eGeMAPS", logger, unit="utterances")
    for number, row in enumerate(rows):
        features[number] = signal_features(smile, load_audio(row.path, policy), policy.target_rate)
        progress.update(number + 1)
    bad = ~np.isfinite(features)
    if bad.any():
        logger.warning(
            "eGeMAPS: %d non-finite values in %d utterances (left as NaN)",
            int(bad.sum()),
            int(bad.any(axis=1).sum()),
        )
        features[bad] = np.nan
    logger.info(
        "eGeMAPS: %d utterances x %d features in %.1f s", len(rows), len(names), progress.elapsed_s
    )
    return features, names
