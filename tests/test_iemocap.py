"""The IEMOCAP reader on text in the real EmoEvaluation format and on the real layout."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from affectrep.corpora.discovery import CorpusError
from affectrep.corpora.iemocap import (
    majority_category,
    mean_ratings,
    parse_emo_evaluation,
    read_iemocap,
    speaker_of,
)

# Copied in form from the release: TAB-separated, a header, blank lines between records,
# self-evaluations (C-F1, C-M1) beside the external evaluators (C-E*), multi-label lines.
EMO_EVALUATION = (
    "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n"
    "\n"
    "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
    "C-E2:\tNeutral;\t()\n"
    "C-E3:\tNeutral;\t()\n"
    "C-E4:\tNeutral;\t()\n"
    "C-F1:\tNeutral;\t(curious)\n"
    "A-E3:\tval 3; act 2; dom  2;\t()\n"
    "A-E4:\tval 2; act 3; dom  3;\t(mildly aggreived)\n"
    "A-F1:\tval 3; act 2; dom  1;\t()\n"
    "\n"
    "[10.0100 - 11.3925]\tSes01F_impro01_M000\tfru\t[2.0000, 3.5000, 3.5000]\n"
    "C-E1:\tFrustration; Anger;\t()\n"
    "C-E2:\tFrustration;\t()\n"
    "C-E3:\tSadness;\t()\n"
    "C-M1:\tAnger;\t()\n"
    "A-E1:\tval 2; act 4; dom  4;\t()\n"
    "A-E2:\tval 2; act 3; dom  3;\t()\n"
    "\n"
    "[14.8872 - 18.0175]\tSes01F_impro01_F001\txxx\t[2.5000, 3.0000, 3.0000]\n"
    "C-E1:\tAnger;\t()\n"
    "C-E2:\tSadness;\t()\n"
    "C-E3:\tOther:concerned;\t()\n"
    "A-E1:\tval 2; act 3; dom  3;\t()\n"
    "A-E2:\tval 3; act 3; dom  3;\t()\n"
    "\n"
    "[19.2000 - 21.0000]\tSes01F_impro01_M001\tang\t[1.5000, 4.0000, 4.0000]\n"
    "C-E1:\tAnger; Frustration;\t()\n"
    "C-E2:\tAnger;\t()\n"
    "C-E3:\tFrustration;\t()\n"
    "A-E1:\tval 1; act 4; dom  4;\t()\n"
    "A-E2:\tval 2; act 4; dom  4;\t()\n"
)


def test_parses_summary_and_annotator_lines():
    records = parse_emo_evaluation(EMO_EVALUATION)
    assert [r.utterance_id for r in records] == [
        "Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses01F_impro01_F001",
        "Ses01F_impro01_M001",
    ]
    first = records[0]
    assert (first.start_s, first.end_s) == (6.2901, 8.2357)
    assert first.summary_label == "neu"
    assert first.summary_vad == (2.5, 2.5, 2.5)
    assert first.categories["F1"] == ["neutral"]
    assert first.ratings["E4"] == {"val": 2.0, "act": 3.0, "dom": 3.0}
    assert records[1].categories["E1"] == ["frustration", "anger"]
    assert records[2].categories["E3"] == ["other"]


def test_majority_counts_external_annotators_and_multi_labels():
    records = parse_emo_evaluation(EMO_EVALUATION)
    assert majority_category(records[0]) == ("neutral", 3, 3)
    # E1 says frustration and anger, E2 frustration: frustration has two votes.
    assert majority_category(records[1]) == ("frustration", 2, 3)
    # Everybody disagrees: no majority.
    assert majority_category(records[2]) == ("", 1, 3)
    # Anger 2, frustration 2: a tie is no majority.
    assert majority_category(records[3])[0] == ""
    # Counting the actor's own judgement (C-M1: Anger) adds a voter, and anger then ties
    # frustration at two votes each: no majority.
    assert majority_category(records[1], include_self=True) == ("", 2, 4)


def test_ratings_are_the_mean_of_external_annotators():
    records = parse_emo_evaluation(EMO_EVALUATION)
    assert mean_ratings(records[0]) == {"val": 2.5, "act": 2.5, "dom": 2.5}
    assert mean_ratings(records[1]) == {"val": 2.0, "act": 3.5, "dom": 3.5}
    assert mean_ratings(records[0], include_self=True)["dom"] == pytest.approx(2.0)


def test_malformed_lines_name_file_and_line():
    broken = "[6.29 - 8.23]\tSes01F_impro01_F000\tneu\n"
    with pytest.raises(CorpusError, match=r"Ses01F_impro01\.txt, line 1"):
        parse_emo_evaluation(broken, "Ses01F_impro01.txt")
    with pytest.raises(CorpusError, match="unknown IEMOCAP category 'Boredom'"):
        parse_emo_evaluation(EMO_EVALUATION.replace("C-E3:\tSadness;", "C-E3:\tBoredom;"))


def test_speaker_comes_from_the_last_part_of_the_id():
    assert speaker_of("Ses01F_impro01_M003") == "Ses01M"
    assert speaker_of("Ses05M_script02_2_F011") == "Ses05F"
    with pytest.raises(CorpusError, match="not in IEMOCAP's form"):
        speaker_of("speaker1_utt3")


def _write_release(root: Path, text: str = EMO_EVALUATION) -> None:
    wav_dir = root / "Session1" / "sentences" / "wav" / "Ses01F_impro01"
    wav_dir.mkdir(parents=True)
    labels = root / "Session1" / "dialog" / "EmoEvaluation"
    labels.mkdir(parents=True)
    (labels / "Ses01F_impro01.txt").write_text(text)
    for record in parse_emo_evaluation(text):
        tone = 0.1 * np.sin(np.arange(8000) * 0.1).astype(np.float32)
        sf.write(wav_dir / f"{record.utterance_id}.wav", tone, 16000)
    (wav_dir / "._Ses01F_impro01_F000.wav").write_bytes(b"resource fork")


def test_reads_the_release_layout(tmp_path):
    _write_release(tmp_path)
    rows = read_iemocap(tmp_path)
    by_id = {row.id: row for row in rows}
    assert sorted(by_id) == sorted(r.utterance_id for r in parse_emo_evaluation(EMO_EVALUATION))
    neutral = by_id["Ses01F_impro01_F000"]
    assert (neutral.speaker, neutral.session, neutral.gender) == ("Ses01F", "Ses01", "F")
    assert neutral.emotion == "neutral" and neutral.agreement == 3
    assert neutral.activation == 2.5 and neutral.valence == 2.5
    assert Path(neutral.path).is_absolute() and Path(neutral.path).exists()
    frustrated = by_id["Ses01F_impro01_M000"]
    assert (frustrated.speaker, frustrated.emotion_raw, frustrated.emotion) == (
        "Ses01M", "frustration", "",
    )
    assert by_id["Ses01F_impro01_F001"].emotion == ""


def test_merge_excited_and_agreement_threshold(tmp_path):
    excited = EMO_EVALUATION.replace("Neutral;", "Excited;")
    _write_release(tmp_path, excited)
    plain = {r.id: r for r in read_iemocap(tmp_path)}
    merged = {r.id: r for r in read_iemocap(tmp_path, merge_excited=True)}
    assert plain["Ses01F_impro01_F000"].emotion == ""
    assert merged["Ses01F_impro01_F000"].emotion == "happiness"
    strict = {r.id: r for r in read_iemocap(tmp_path, merge_excited=True, min_agreement=4)}
    assert strict["Ses01F_impro01_F000"].emotion == ""


def test_improvised_only(tmp_path):
    _write_release(tmp_path)
    assert len(read_iemocap(tmp_path, dialogs="improvised")) == 4
    assert read_iemocap(tmp_path, dialogs="scripted") == []


def test_missing_labels_and_missing_root(tmp_path):
    _write_release(tmp_path)
    extra = tmp_path / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F009.wav"
    sf.write(extra, np.ones(8000, dtype=np.float32) * 0.1, 16000)
    with pytest.raises(CorpusError, match="no record for Ses01F_impro01_F009"):
        read_iemocap(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        read_iemocap(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="Session"):
        read_iemocap(empty)
