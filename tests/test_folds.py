"""Leave-one-session-out folds: every speaker tested once, roles disjoint, clear refusals."""

import numpy as np
import pytest

from affectrep.data.corpora.emodb import GENDERS
from affectrep.data.corpora.grouping import assign_sessions
from affectrep.data.emotions import CLASSES
from affectrep.data.manifest import Utterance
from affectrep.protocol.folds import (
    FOLD_TABLE_COLUMNS,
    Fold,
    check_folds,
    fold_by_name,
    fold_result,
    fold_table,
    make_folds,
    role_positions,
    utterance_labels,
)


def _rows(speakers_by_session, per_speaker=4, emotion=None):
    rows = []
    for session, speakers in speakers_by_session.items():
        for speaker in speakers:
            for k in range(per_speaker):
                rows.append(
                    Utterance(
                        id=f"{speaker}_{k}",
                        path="",
                        speaker=speaker,
                        session=session,
                        emotion=emotion if emotion is not None else CLASSES[k % 4],
                    )
                )
    return rows


def _iemocap_like():
    return _rows({f"Ses0{s}": [f"Ses0{s}F", f"Ses0{s}M"] for s in range(5, 0, -1)})


def test_iemocap_sessions_give_ten_runs_each_speaker_tested_once():
    rows = _iemocap_like()
    folds = make_folds(rows)
    assert len(folds) == 10
    assert [f.number for f in folds] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert folds[0].name == "Ses01-Ses01F" and folds[1].name == "Ses01-Ses01M"
    speakers = sorted({r.speaker for r in rows})
    assert sorted(f.test_speaker for f in folds) == speakers
    for fold in folds:
        held = {fold.validation_speaker, fold.test_speaker}
        assert len(held) == 2 and not held & set(fold.train_speakers)
        assert {s[:5] for s in held} == {fold.session}
        assert all(not s.startswith(fold.session) for s in fold.train_speakers)
        assert len(fold.train_speakers) == 8
    # Both assignments of a session: validation and test swapped.
    assert (folds[0].validation_speaker, folds[0].test_speaker) == (
        folds[1].test_speaker,
        folds[1].validation_speaker,
    )
    assert fold_by_name(folds, "Ses03-Ses03M").test_speaker == "Ses03M"


def test_grouped_emodb_speakers_make_five_sessions():
    rows = [
        Utterance(id=f"{s}_{k}", path="", speaker=s, gender=g, emotion=CLASSES[k])
        for s, g in GENDERS.items()
        for k in range(4)
    ]
    folds = make_folds(assign_sessions(rows))
    assert len(folds) == 10 and len({f.session for f in folds}) == 5
    assert sorted(f.test_speaker for f in folds) == sorted(GENDERS)
    for fold in folds:
        assert sorted(GENDERS[s] for s in (fold.validation_speaker, fold.test_speaker)) == [
            "F",
            "M",
        ]


def test_a_session_of_three_speakers_rotates_validation():
    rows = _rows({"A": ["a1", "a2", "a3"], "B": ["b1", "b2"]})
    folds = make_folds(rows)
    trios = [(f.test_speaker, f.validation_speaker) for f in folds if f.session == "A"]
    assert trios == [("a1", "a2"), ("a2", "a3"), ("a3", "a1")]
    # The held-out session's third speaker sits the run out: not trained on.
    assert all(f.train_speakers == ("b1", "b2") for f in folds if f.session == "A")
    assert folds[0].role_of("a3") is None


def test_unlabelled_speakers_take_no_part():
    rows = _rows({"A": ["a1", "a2"], "B": ["b1", "b2"]}) + _rows({"B": ["b3"]}, emotion="")
    folds = make_folds(rows)
    assert "b3" not in {s for f in folds for s in (*f.train_speakers, f.test_speaker)}


@pytest.mark.parametrize(
    "sessions, message",
    [
        ({"A": ["a1", "a2"], "B": ["b1"]}, "session B has a single labelled speaker .b1."),
        ({"A": ["a1", "a2"]}, "at least 2 sessions"),
        ({"": ["a1", "a2"], "B": ["b1", "b2"]}, "has no session; group speakers"),
    ],
)
def test_bad_sessions_are_refused_with_the_reason(sessions, message):
    with pytest.raises(ValueError, match=message):
        make_folds(_rows(sessions))


def test_a_speaker_in_two_sessions_is_refused():
    rows = _rows({"A": ["a1", "a2"], "B": ["b1", "b2"]}) + _rows({"B": ["a1"]})
    with pytest.raises(ValueError, match="speaker a1 appears in sessions A and B"):
        make_folds(rows)


def test_check_folds_and_lookup_messages():
    good = Fold(1, "A", ("b1",), "a2", "a1")
    with pytest.raises(ValueError, match="two roles"):
        check_folds([Fold(1, "A", ("a2", "b1"), "a2", "a1")], ["a1"])
    with pytest.raises(ValueError, match="a2: 0 times"):
        check_folds([good], ["a1", "a2"])
    with pytest.raises(ValueError, match="no fold named 'B-x'"):
        fold_by_name([good], "B-x")
    assert Fold(2, "g 1", (), "x", "03 a/b").name == "g_1-03_a_b"


def test_runs_are_named_by_their_group_not_by_its_position():
    """Groups g1..g12 sort as g1, g10, g11, g12, g2, ...: the run of g10 is called after g10
    (its number, 2, is only its place in that order)."""
    rows = _rows({f"g{k}": [f"{k:02d}a", f"{k:02d}b"] for k in range(1, 13)})
    folds = make_folds(rows)
    g10 = [f for f in folds if f.session == "g10"]
    assert [f.name for f in g10] == ["g10-10a", "g10-10b"] and g10[0].number == 2
    assert fold_by_name(folds, "g2-02b").test_speaker == "02b"


def test_the_fold_table_lists_every_run_with_its_speakers():
    rows = _rows({"A": ["a1", "a2"], "B": ["b1", "b2", "b3"]})
    table = fold_table(make_folds(rows))
    assert list(table[0]) == list(FOLD_TABLE_COLUMNS)
    assert table[0] == {
        "fold": "A-a1",
        "session": "A",
        "train_speakers": "b1,b2,b3",
        "validation_speaker": "a2",
        "test_speaker": "a1",
    }
    assert [row["fold"] for row in table] == ["A-a1", "A-a2", "B-b1", "B-b2", "B-b3"]
    assert sorted(row["test_speaker"] for row in table) == ["a1", "a2", "b1", "b2", "b3"]


def test_labels_positions_and_result_format():
    rows = _rows({"A": ["a1", "a2"], "B": ["b1", "b2"]}, per_speaker=4)
    ids = [r.id for r in rows] + ["unknown"]
    labels = utterance_labels(ids, rows)
    assert labels.tolist() == [0, 1, 2, 3] * 4 + [-1]
    fold = make_folds(rows)[0]
    positions = role_positions([r.speaker for r in rows] + ["a1"], labels, fold)
    assert positions["test"].tolist() == [0, 1, 2, 3]  # the unlabelled a1 utterance is left out
    assert positions["validation"].tolist() == [4, 5, 6, 7]
    assert positions["train"].tolist() == list(range(8, 16))
    truth = np.array([0, 1, 2, 2])
    posteriors = np.eye(4)[[0, 1, 2, 0]]
    result = fold_result(fold, "m", ["u0", "u1", "u2", "u3"], truth, posteriors, {})
    assert result["weighted_accuracy"] == pytest.approx(0.75)
    assert result["unweighted_accuracy"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert result["per_class_recall"] == {
        "neutral": 1.0,
        "anger": 1.0,
        "sadness": 0.5,
        "happiness": None,
    }
    assert result["predictions"][3] == {
        "id": "u3",
        "truth": "sadness",
        "predicted": "neutral",
        "posteriors": [1.0, 0.0, 0.0, 0.0],
    }
    assert result["fold"] == fold.name and result["test_speaker"] == "a1"
