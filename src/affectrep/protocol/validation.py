"""The validation grid (paper section 4, Table 1): how well a softmax reads emotion from codes.

A speaker-independent split (IEMOCAP in the paper: 7 speakers train, 3 held out; `auto`
picks them balanced by gender and spread over sessions, `auto_held_out`). A softmax
classifier (multinomial logistic regression, trained to convergence) learns from the frames of
the training speakers, every frame labelled with its utterance's emotion; each held-out
utterance is classified by the argmax of its frames' summed posteriors.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex
from affectrep.data.manifest import Utterance
from affectrep.protocol.metrics import (
    confusion,
    per_class_recall,
    unweighted_accuracy,
    utterance_decisions,
    weighted_accuracy,
)

_GENDER_NAMES = {"F": "female", "M": "male", "": "of unknown gender"}


def _gender(value: str) -> str:
    value = (value or "").strip().upper()[:1]
    return value if value in ("F", "M") else ""


def _count_genders(genders: Sequence[str]) -> str:
    counts = Counter(genders)
    return ", ".join(f"{counts[g]} {_GENDER_NAMES[g]}" for g in ("F", "M", "") if counts[g])


def _gender_quotas(genders: Mapping[str, str], n_held_out: int) -> dict[str, int]:
    """How many speakers of each gender to hold out: one at a time to each gender in turn
    (the larger group first, then F before M before unknown) while it has speakers left."""
    sizes = Counter(genders.values())
    order = sorted(sizes, key=lambda g: (-sizes[g], ("F", "M", "").index(g)))
    quotas = dict.fromkeys(order, 0)
    while sum(quotas.values()) < n_held_out:
        for gender in order:
            if sum(quotas.values()) < n_held_out and quotas[gender] < sizes[gender]:
                quotas[gender] += 1
    return quotas


def auto_held_out(
    speakers: Mapping[str, tuple[str, str]], n_held_out: int
) -> tuple[list[str], str]:
    """`validation.held_out_speakers: auto`: `n_held_out` speakers balanced by gender and
    spread over sessions, and why (a sentence for Table 1). speakers: name -> (gender,
    session).

    The genders get equal shares (an odd one to the larger group, else female); then the
    sessions are visited from the last in sorted order backwards, taking one speaker from
    each (of the gender with the most still to pick, alternating on ties) and starting again
    at the last session while speakers are missing. Deterministic: no random draw.
    """
    names = sorted(speakers)
    if not 0 < n_held_out < len(names):
        raise ValueError(f"cannot hold out {n_held_out} of {len(names)} speakers for validation")
    genders = {name: _gender(speakers[name][0]) for name in names}
    sessions: dict[str, list[str]] = {}
    for name in names:
        sessions.setdefault(speakers[name][1], []).append(name)
    quotas = _gender_quotas(genders, n_held_out)
    taken: list[str] = []
    picked: Counter[str] = Counter()
    while len(taken) < n_held_out:
        before = len(taken)
        for session in sorted(sessions, reverse=True):
            left = {g: quotas[g] - picked[g] for g in quotas}
            free = [s for s in sessions[session] if s not in taken and left[genders[s]] > 0]
            if not free or len(taken) == n_held_out:
                continue
            gender = min(
                {genders[s] for s in free},
                key=lambda g: (-left[g], picked[g], ("F", "M", "").index(g)),
            )
            choice = next(s for s in free if genders[s] == gender)
            taken.append(choice)
            picked[gender] += 1
        if len(taken) == before:  # cannot happen: quotas never exceed the speakers there are
            raise ValueError(f"cannot pick {n_held_out} validation speakers from {names}")
    held = sorted(taken)
    held_sessions = sorted({speakers[s][1] for s in held})
    trained = [genders[s] for s in names if s not in taken]
    if set(genders.values()) == {""}:
        balance = "not by gender (the corpus gives none)"
    else:
        balance = f"balanced by gender ({_count_genders([genders[s] for s in held])})"
    spread = "one from each of" if len(held_sessions) == len(held) else "spread over"
    reason = (
        f"chosen by `auto`: {balance}, and {spread} sessions "
        f"{', '.join(held_sessions)}, so that neither side of the split is one gender "
        f"or one session; training keeps {len(trained)} speakers ({_count_genders(trained)})"
    )
    return held, reason


def held_out_speakers(
    manifest: Sequence[Utterance],
    setting: str | list[str],
    n_held_out: int,
    speakers: Sequence[str] | None = None,
) -> tuple[list[str], str]:
    """The validation speakers and why: a list from config, or `auto` (`auto_held_out`,
    among the speakers with labelled utterances). `speakers`: those the features hold (the
    manifest's, by default)."""
    known = sorted(set(speakers if speakers is not None else (r.speaker for r in manifest)))
    if setting == "auto":
        info: dict[str, tuple[str, str]] = {}
        for row in manifest:
            if row.speaker in known and row.emotion in CLASSES:
                info.setdefault(row.speaker, (row.gender, row.session))
        return auto_held_out(info, n_held_out)
    setting = [str(s) for s in setting]
    unknown = sorted(set(setting) - set(known))
    if unknown:
        raise ValueError(f"validation speakers {unknown} are not in the corpus ({known})")
    if set(setting) == set(known):
        raise ValueError("validation speakers must leave some speakers for training")
    return sorted(set(setting)), "as configured (`validation.held_out_speakers`)"


def _frames_of(features: np.ndarray, index: FeatureIndex, positions: Sequence[int]) -> np.ndarray:
    return np.concatenate(
        [
            np.asarray(features[index.offsets[i] : index.offsets[i] + index.lengths[i]])
            for i in positions
        ]
    )


def softmax_validation(
    features: np.ndarray,
    index: FeatureIndex,
    manifest: Sequence[Utterance],
    held_out: Sequence[str],
    *,
    max_train_frames: int | None = 500_000,
    seed: int = 0,
    logger: logging.Logger | None = None,
) -> dict:
    """Train on the labelled frames of the other speakers, score the held-out utterances.

    features: (n_frames, n_dims) in the order of `index` (codes or spectrogram frames).
    Returns WA (the paper's accuracy), UA, per-class recall, the confusion matrix and counts.
    """
    logger = logger or logging.getLogger(__name__)
    emotion = {row.id: row.emotion for row in manifest}
    held = set(held_out)
    train_pos: list[int] = []
    test_pos: list[int] = []
    for position, (uid, speaker) in enumerate(zip(index.ids, index.speakers, strict=True)):
        if emotion.get(uid, "") not in CLASSES:
            continue
        (test_pos if speaker in held else train_pos).append(position)
    if not train_pos or not test_pos:
        raise ValueError(
            f"need labelled utterances on both sides of the split; training {len(train_pos)}, "
            f"held out {len(test_pos)}"
        )
    labels = np.array(
        [
            CLASSES.index(emotion[uid]) if emotion.get(uid, "") in CLASSES else -1
            for uid in index.ids
        ]
    )
    x_train = _frames_of(features, index, train_pos)
    y_train = np.repeat(labels[train_pos], index.lengths[train_pos])
    if max_train_frames is not None and x_train.shape[0] > max_train_frames:
        keep = np.sort(
            np.random.default_rng(seed).choice(x_train.shape[0], max_train_frames, replace=False)
        )
        x_train, y_train = x_train[keep], y_train[keep]
    present = sorted(set(y_train.tolist()))
    classifier = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)
    )
    classifier.fit(x_train, y_train)
    x_test = _frames_of(features, index, test_pos)
    posteriors = np.zeros((x_test.shape[0], len(CLASSES)))
    posteriors[:, present] = classifier.predict_proba(x_test)
    predicted = utterance_decisions(posteriors, index.lengths[test_pos])
    truth = labels[test_pos]
    result = {
        "accuracy": weighted_accuracy(truth, predicted),
        "unweighted_accuracy": unweighted_accuracy(truth, predicted),
        "per_class_recall": dict(
            zip(CLASSES, per_class_recall(truth, predicted, len(CLASSES)), strict=True)
        ),
        "confusion": confusion(truth, predicted, len(CLASSES)).tolist(),
        "classes": list(CLASSES),
        "held_out_speakers": sorted(held),
        "n_train_utterances": len(train_pos),
        "n_train_frames": int(x_train.shape[0]),
        "n_test_utterances": len(test_pos),
        "feature_dims": int(features.shape[1]),
        "seed": seed,
    }
    logger.info(
        "validation: WA %.2f%%, UA %.2f%% on %d held-out utterances (%s)",
        100 * result["accuracy"],
        100 * result["unweighted_accuracy"],
        len(test_pos),
        ", ".join(sorted(held)),
    )
    return result
