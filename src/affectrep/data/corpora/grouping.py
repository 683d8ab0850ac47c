"""Speaker groups for corpora without sessions, so that folds hold out whole groups.

IEMOCAP's sessions are pairs of one female and one male speaker; for EmoDB's 10 speakers the
natural equivalent is 5 such pairs. `group_speakers` builds them deterministically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from affectrep.data.manifest import Utterance


def group_speakers(speakers: Mapping[str, str], n_groups: int | None = None) -> dict[str, str]:
    """speaker -> group name (`g1`, `g2`, ...).

    Without `n_groups`, when there are as many female as male speakers, the k-th female (in
    sorted order) is paired with the k-th male. Otherwise the sorted speakers are dealt
    round-robin into `n_groups` groups (default: half the speakers, at least 2, at most 5).
    """
    names = sorted(speakers)
    if len(names) < 2:
        raise ValueError(f"need at least 2 speakers to make folds, found {names}")
    females = [s for s in names if speakers[s] == "F"]
    males = [s for s in names if speakers[s] == "M"]
    if n_groups is None and females and len(females) == len(males) == len(names) / 2:
        return {
            speaker: f"g{number + 1}"
            for number, pair in enumerate(zip(females, males, strict=True))
            for speaker in pair
        }
    if n_groups is None:
        n_groups = max(2, min(5, len(names) // 2))
    if not 2 <= n_groups <= len(names):
        raise ValueError(f"cannot make {n_groups} groups of {len(names)} speakers")
    return {speaker: f"g{number % n_groups + 1}" for number, speaker in enumerate(names)}


def assign_sessions(
    rows: list[Utterance], groups: Mapping[str, list[str]] | int | None = None
) -> list[Utterance]:
    """Rows with `session` set to the speaker's group, unless every row has a session already.

    `groups`: a mapping group -> speakers (each speaker exactly once), a number of groups, or
    None for the automatic grouping of `group_speakers`.
    """
    if rows and all(row.session for row in rows):
        return rows
    genders = {row.speaker: row.gender for row in rows}
    if isinstance(groups, Mapping):
        assignment: dict[str, str] = {}
        for group, members in groups.items():
            for speaker in members:
                if speaker in assignment:
                    raise ValueError(
                        f"speaker_groups: speaker {speaker} is in both {assignment[speaker]} "
                        f"and {group}"
                    )
                assignment[speaker] = str(group)
        unknown = sorted(set(assignment) - set(genders))
        missing = sorted(set(genders) - set(assignment))
        if unknown:
            raise ValueError(f"speaker_groups: {unknown} are not speakers of the corpus")
        if missing:
            raise ValueError(f"speaker_groups: speakers {missing} are in no group")
    else:
        assignment = group_speakers(genders, groups)
    return [replace(row, session=row.session or assignment[row.speaker]) for row in rows]
