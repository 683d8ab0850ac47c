"""Leave-one-session-out folds (paper section 6, after Han et al. 2014) and their result format.

One fold per session: the classifier trains on every other session; of the held-out session one
speaker validates (early stopping, hyper-parameters) and the other is tested. The paper names
one assignment per session; we run both (validation and test swapped), so that every speaker
is tested exactly once and no result depends on which of a session's speakers happened to be
tested. Each assignment is a `Fold` run named after its session and test speaker
(`Ses01-Ses01F`, `Ses01-Ses01M`, ...; EmoDB's speaker groups `g1-03`, ...).

Sessions come from the manifest; corpora without sessions get them as speaker groups
(`affectrep.data.corpora.grouping`), e.g. EmoDB's ten speakers as five female/male pairs. A
session of more than two speakers tests each of them once, validated on the next speaker in
sorted order (cyclically); the session's other speakers sit that run out, so that the whole
held-out session stays unseen in training just as in the two-speaker case. A session with one
speaker cannot give a validation speaker, and is refused.

Every evaluation (the frame-level MLP, utterance-level classifiers) reports a fold through
`fold_result`, so that tables and figures read one format.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from affectrep.data.emotions import CLASSES
from affectrep.data.manifest import Utterance, read_manifest
from affectrep.protocol.metrics import (
    confusion,
    per_class_recall,
    unweighted_accuracy,
    weighted_accuracy,
)

ROLES = ("train", "validation", "test")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Fold:
    """One run of the protocol: a held-out session with one speaker validating, one tested."""

    number: int
    session: str
    train_speakers: tuple[str, ...]
    validation_speaker: str
    test_speaker: str

    @property
    def name(self) -> str:
        """`{session}-{test speaker}` (`Ses01-Ses01F`, EmoDB `g3-08`), each made safe as a
        file name and a Snakemake wildcard. Named by the session, not by `number`: a number
        follows the sorted order of the session names, so on groups g1..g12 the run of g10
        would be called `fold2-...`; the session says which run it is on any corpus."""
        return f"{_UNSAFE.sub('_', self.session)}-{_UNSAFE.sub('_', self.test_speaker)}"

    def role_of(self, speaker: str) -> str | None:
        """`train`, `validation`, `test`, or None for a speaker this run does not use."""
        if speaker == self.test_speaker:
            return "test"
        if speaker == self.validation_speaker:
            return "validation"
        return "train" if speaker in self.train_speakers else None

    def as_dict(self) -> dict:
        return {
            "fold": self.name,
            "fold_number": self.number,
            "session": self.session,
            "train_speakers": list(self.train_speakers),
            "validation_speaker": self.validation_speaker,
            "test_speaker": self.test_speaker,
        }


def _sessions_of(rows: Iterable[Utterance]) -> dict[str, list[str]]:
    """session -> sorted speakers with at least one labelled utterance."""
    session_of: dict[str, str] = {}
    for row in rows:
        if row.emotion not in CLASSES:
            continue
        if not row.session:
            raise ValueError(
                f"utterance {row.id} (speaker {row.speaker}) has no session; group speakers "
                "into sessions first (affectrep.data.corpora.grouping.assign_sessions)"
            )
        known = session_of.setdefault(row.speaker, row.session)
        if known != row.session:
            raise ValueError(
                f"speaker {row.speaker} appears in sessions {known} and {row.session}; a "
                "speaker must belong to one session, or it would be trained on and tested"
            )
    sessions: dict[str, list[str]] = defaultdict(list)
    for speaker, session in session_of.items():
        sessions[session].append(speaker)
    return {session: sorted(speakers) for session, speakers in sorted(sessions.items())}


def make_folds(manifest: Sequence[Utterance]) -> list[Fold]:
    """All runs of the protocol for the labelled utterances of `manifest` (see module doc).

    Sessions are numbered 1..n in sorted order; within a session the runs follow the sorted
    test speakers. Speakers without any labelled utterance take no part.
    """
    sessions = _sessions_of(manifest)
    if len(sessions) < 2:
        raise ValueError(
            f"leave-one-session-out needs at least 2 sessions with labelled utterances, "
            f"found {list(sessions)}"
        )
    folds = []
    for number, (session, speakers) in enumerate(sessions.items(), start=1):
        if len(speakers) < 2:
            raise ValueError(
                f"session {session} has a single labelled speaker ({speakers[0]}): it needs a "
                "second one for validation; merge it with another session (speaker_groups)"
            )
        train = tuple(s for other, members in sessions.items() if other != session for s in members)
        for position, test in enumerate(speakers):
            validation = speakers[(position + 1) % len(speakers)]
            folds.append(Fold(number, session, tuple(sorted(train)), validation, test))
    check_folds(folds, [s for members in sessions.values() for s in members])
    return folds


def check_folds(folds: Sequence[Fold], speakers: Iterable[str]) -> None:
    """Raise unless every fold's roles are disjoint and every speaker is tested exactly once."""
    for fold in folds:
        held = {fold.validation_speaker, fold.test_speaker}
        if len(held) != 2 or held & set(fold.train_speakers):
            raise ValueError(f"{fold.name}: a speaker has two roles ({fold})")
    tested: dict[str, int] = defaultdict(int)
    for fold in folds:
        tested[fold.test_speaker] += 1
    expected = set(speakers)
    wrong = sorted(s for s in expected | set(tested) if tested.get(s, 0) != 1)
    if wrong:
        raise ValueError(
            "every speaker must be tested exactly once; "
            + ", ".join(f"{s}: {tested.get(s, 0)} times" for s in wrong)
        )
    names = [fold.name for fold in folds]
    if len(set(names)) != len(names):
        raise ValueError(f"fold names are not unique: {names}")


def fold_by_name(folds: Sequence[Fold], name: str) -> Fold:
    """The fold called `name` (e.g. from a Snakemake wildcard)."""
    for fold in folds:
        if fold.name == name:
            return fold
    raise ValueError(f"no fold named {name!r}; the folds are {[f.name for f in folds]}")


def fold_names(manifest: str | Path) -> list[str]:
    """The runs of the protocol for this corpus (`Ses01-Ses01F`, ...)."""
    return [fold.name for fold in make_folds(read_manifest(manifest))]


def fold_sessions(manifest: str | Path) -> dict[str, str]:
    """Run name -> its held-out session (what a strict per-fold pretraining leaves out)."""
    return {fold.name: fold.session for fold in make_folds(read_manifest(manifest))}


FOLD_TABLE_COLUMNS = ("fold", "session", "train_speakers", "validation_speaker", "test_speaker")


def fold_table(folds: Sequence[Fold]) -> list[dict[str, str]]:
    """One row per run (`FOLD_TABLE_COLUMNS`; train speakers comma-separated), so that other
    tools can reuse the exact splits without this package."""
    return [
        {
            "fold": fold.name,
            "session": fold.session,
            "train_speakers": ",".join(fold.train_speakers),
            "validation_speaker": fold.validation_speaker,
            "test_speaker": fold.test_speaker,
        }
        for fold in folds
    ]


def class_problems(rows: list[Utterance]) -> list[str]:
    """Why the labelled utterances cannot be classified by the protocol, or [] if they can:
    fewer than two of the four classes; folds that cannot be made (`make_folds`); or a
    class whose labelled speakers all sit in one session, so that the fold holding out that
    session would train without it (a speaker of every class must be left to train on)."""
    present = [name for name in CLASSES if any(row.emotion == name for row in rows)]
    if len(present) < 2:
        found = ", ".join(present) if present else "none"
        return [
            f"{len(present)} of the four classes ({found}) has labelled utterances; "
            "at least 2 are needed"
        ]
    try:
        make_folds(rows)
    except ValueError as error:
        return [f"no leave-one-session-out folds: {error}"]
    speakers: dict[str, dict[str, set[str]]] = {name: defaultdict(set) for name in present}
    for row in rows:
        if row.emotion in speakers:
            speakers[row.emotion][row.session].add(row.speaker)
    problems = []
    for name in present:
        if len(speakers[name]) == 1:
            ((session, members),) = speakers[name].items()
            problems.append(
                f"{name} is labelled only for speakers of session {session} "
                f"({', '.join(sorted(members))}): the fold that holds out {session} has no "
                f"{name} to train on"
            )
    return problems


def utterance_labels(ids: Sequence[str], manifest: Sequence[Utterance]) -> np.ndarray:
    """Class index (into `CLASSES`) of each id, -1 for unlabelled or unknown utterances.

    Feature files list utterances in their own order (`FeatureIndex.ids`); this puts the
    manifest's labels in that order.
    """
    emotion = {row.id: row.emotion for row in manifest}
    return np.array(
        [CLASSES.index(emotion[i]) if emotion.get(i, "") in CLASSES else -1 for i in ids],
        dtype=np.int64,
    )


def role_positions(
    speakers: Sequence[str], labels: np.ndarray, fold: Fold
) -> dict[str, np.ndarray]:
    """Positions of the labelled utterances of each role (`ROLES`); raise if a role is empty.

    speakers, labels: one entry per utterance, in the same order (e.g. a feature index's).
    """
    positions: dict[str, list[int]] = {role: [] for role in ROLES}
    for position, (speaker, label) in enumerate(zip(speakers, labels, strict=True)):
        role = fold.role_of(speaker)
        if role is not None and label >= 0:
            positions[role].append(position)
    empty = [role for role in ROLES if not positions[role]]
    if empty:
        raise ValueError(f"{fold.name}: no labelled utterances for {', '.join(empty)}")
    return {role: np.array(found, dtype=np.int64) for role, found in positions.items()}


def _nan_to_none(values: Sequence[float]) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def score(truth: ArrayLike, predicted: ArrayLike) -> dict:
    """WA, UA (mean recall of the classes present in `truth`), per-class recall (None for an
    absent class, so that the result is plain JSON) and the confusion matrix."""
    with warnings.catch_warnings():
        # A prediction of a class the speaker never shows is an error, not a problem to warn of.
        warnings.simplefilter("ignore", UserWarning)
        ua = unweighted_accuracy(truth, predicted)
    recalls = per_class_recall(truth, predicted, len(CLASSES))
    return {
        "weighted_accuracy": weighted_accuracy(truth, predicted),
        "unweighted_accuracy": ua,
        "per_class_recall": dict(zip(CLASSES, _nan_to_none(recalls), strict=True)),
        "confusion": confusion(truth, predicted, len(CLASSES)).tolist(),
    }


def fold_result(
    fold: Fold,
    method: str,
    ids: Sequence[str],
    truth: np.ndarray,
    posteriors: np.ndarray,
    counts: dict[str, dict[str, int]],
    **extra: object,
) -> dict:
    """The JSON-serialisable result of one run on its test speaker.

    posteriors: (n_test_utterances, n_classes), each row summing to 1 (an utterance's mean
    frame posterior, or a classifier's utterance posterior); the decision is their argmax.
    """
    truth = np.asarray(truth)
    predicted = np.argmax(posteriors, axis=1)
    predictions = [
        {
            "id": uid,
            "truth": CLASSES[t],
            "predicted": CLASSES[p],
            "posteriors": [round(float(v), 6) for v in row],
        }
        for uid, t, p, row in zip(ids, truth, predicted, posteriors, strict=True)
    ]
    return {
        **fold.as_dict(),
        "method": method,
        "classes": list(CLASSES),
        **score(truth, predicted),
        "counts": counts,
        **extra,
        "predictions": predictions,
    }
