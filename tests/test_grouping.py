"""Speaker groups for corpora without sessions."""

import pytest

from affectrep.data.corpora.emodb import GENDERS
from affectrep.data.corpora.grouping import assign_sessions, group_speakers
from affectrep.data.manifest import Utterance


def test_emodb_speakers_become_five_female_male_pairs():
    groups = group_speakers(GENDERS)
    assert sorted(set(groups.values())) == ["g1", "g2", "g3", "g4", "g5"]
    for group in set(groups.values()):
        members = [s for s, g in groups.items() if g == group]
        assert sorted(GENDERS[s] for s in members) == ["F", "M"]
    assert group_speakers(dict(reversed(list(GENDERS.items())))) == groups


def test_round_robin_when_genders_do_not_pair():
    speakers = {"a": "F", "b": "F", "c": "F", "d": "M", "e": ""}
    groups = group_speakers(speakers)
    assert groups == {"a": "g1", "b": "g2", "c": "g1", "d": "g2", "e": "g1"}
    assert len(set(group_speakers(speakers, 5).values())) == 5
    with pytest.raises(ValueError, match="cannot make 6 groups of 5"):
        group_speakers(speakers, 6)
    with pytest.raises(ValueError, match="at least 2 speakers"):
        group_speakers({"a": "F"})


def _rows(*speakers, session=""):
    return [
        Utterance(id=f"{s}{i}", path="", speaker=s, session=session, gender=g)
        for i, (s, g) in enumerate(speakers)
    ]


def test_assign_sessions_from_a_mapping_or_automatically():
    rows = _rows(("03", "M"), ("08", "F"), ("09", "F"), ("10", "M"))
    automatic = assign_sessions(rows)
    assert [r.session for r in automatic] == ["g1", "g1", "g2", "g2"]
    by_hand = assign_sessions(rows, {"A": ["03", "09"], "B": ["08", "10"]})
    assert [r.session for r in by_hand] == ["A", "B", "A", "B"]
    with pytest.raises(ValueError, match=r"speakers \['10'\] are in no group"):
        assign_sessions(rows, {"A": ["03", "09"], "B": ["08"]})
    with pytest.raises(ValueError, match=r"\['99'\] are not speakers"):
        assign_sessions(rows, {"A": ["03", "09", "99"], "B": ["08", "10"]})
    with pytest.raises(ValueError, match="speaker 03 is in both A and B"):
        assign_sessions(rows, {"A": ["03", "09"], "B": ["03", "08", "10"]})
    kept = _rows(("x", "F"), ("y", "M"), session="Ses01")
    assert assign_sessions(kept, 2) is kept
