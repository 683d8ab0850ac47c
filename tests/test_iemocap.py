"""The IEMOCAP reader on text in the real EmoEvaluation format and on the real layout."""

import codecs
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from affectrep.data.audio import BadAudioError
from affectrep.data.corpora.build import build_manifest, summarise
from affectrep.data.corpora.discovery import CorpusError
from affectrep.data.corpora.iemocap import (
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
        "Ses01F_impro01_F000",
        "Ses01F_impro01_M000",
        "Ses01F_impro01_F001",
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


def _write_release(
    root: Path, text: str = EMO_EVALUATION, dialog: str = "Ses01F_impro01", bom: bool = False
) -> Path:
    """One dialog of the release layout: its label file and a WAV per record. Returns the
    WAV folder."""
    wav_dir = root / "Session1" / "sentences" / "wav" / dialog
    wav_dir.mkdir(parents=True)
    labels = root / "Session1" / "dialog" / "EmoEvaluation"
    labels.mkdir(parents=True, exist_ok=True)
    (labels / f"{dialog}.txt").write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode())
    for record in parse_emo_evaluation(text):
        tone = 0.1 * np.sin(np.arange(8000) * 0.1).astype(np.float32)
        sf.write(wav_dir / f"{record.utterance_id}.wav", tone, 16000)
    (wav_dir / f"._{dialog}_F000.wav").write_bytes(b"resource fork")
    return wav_dir


def _read(root: Path, **options):
    rows, rejected = read_iemocap(root, **options)
    assert rejected == []
    return rows


def test_reads_the_release_layout(tmp_path):
    _write_release(tmp_path)
    rows = _read(tmp_path)
    by_id = {row.id: row for row in rows}
    assert sorted(by_id) == sorted(r.utterance_id for r in parse_emo_evaluation(EMO_EVALUATION))
    neutral = by_id["Ses01F_impro01_F000"]
    assert (neutral.speaker, neutral.session, neutral.gender) == ("Ses01F", "Ses01", "F")
    assert neutral.emotion == "neutral" and neutral.agreement == 3
    assert neutral.activation == 2.5 and neutral.valence == 2.5
    assert Path(neutral.path).is_absolute() and Path(neutral.path).exists()
    frustrated = by_id["Ses01F_impro01_M000"]
    assert (frustrated.speaker, frustrated.emotion_raw, frustrated.emotion) == (
        "Ses01M",
        "frustration",
        "",
    )
    assert by_id["Ses01F_impro01_F001"].emotion == ""


def test_merge_excited_and_agreement_threshold(tmp_path):
    excited = EMO_EVALUATION.replace("Neutral;", "Excited;")
    _write_release(tmp_path, excited)
    plain = {r.id: r for r in _read(tmp_path)}
    merged = {r.id: r for r in _read(tmp_path, merge_excited=True)}
    assert plain["Ses01F_impro01_F000"].emotion == ""
    assert merged["Ses01F_impro01_F000"].emotion == "happiness"
    strict = {r.id: r for r in _read(tmp_path, merge_excited=True, min_agreement=4)}
    assert strict["Ses01F_impro01_F000"].emotion == ""


def test_improvised_only(tmp_path):
    _write_release(tmp_path)
    assert len(_read(tmp_path, dialogs="improvised")) == 4
    assert _read(tmp_path, dialogs="scripted") == []


def test_missing_root(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        read_iemocap(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="Session"):
        read_iemocap(empty)


def test_a_byte_order_mark_is_accepted(tmp_path):
    records = parse_emo_evaluation("\ufeff" + EMO_EVALUATION, "bom.txt")
    assert [r.utterance_id for r in records] == [
        r.utterance_id for r in parse_emo_evaluation(EMO_EVALUATION)
    ]
    # Also when the BOM stands right before the first record (no % header).
    first_record = EMO_EVALUATION[EMO_EVALUATION.index("[6.2901") :]
    assert len(parse_emo_evaluation("\ufeff" + first_record)) == 4
    _write_release(tmp_path, bom=True)
    assert len(_read(tmp_path)) == 4


def test_a_duplicate_utterance_id_names_both_label_files(tmp_path):
    _write_release(tmp_path)
    # A second dialog whose label file repeats Ses01F_impro01_M000's record.
    other = EMO_EVALUATION.replace("Ses01F_impro01", "Ses01F_impro02").replace(
        "Ses01F_impro02_M000", "Ses01F_impro01_M000"
    )
    _write_release(tmp_path, other, dialog="Ses01F_impro02")
    labels = tmp_path / "Session1" / "dialog" / "EmoEvaluation"
    with pytest.raises(CorpusError) as caught:
        read_iemocap(tmp_path)
    message = str(caught.value)
    assert "Ses01F_impro01_M000 is labelled twice" in message
    assert f"{labels / 'Ses01F_impro01.txt'}, line 12" in message
    assert f"{labels / 'Ses01F_impro02.txt'}, line 12" in message


def test_a_duplicate_utterance_id_in_one_file_names_both_lines():
    record = EMO_EVALUATION[EMO_EVALUATION.index("[6.2901") : EMO_EVALUATION.index("[10.0100")]
    with pytest.raises(
        CorpusError,
        match=r"a\.txt, line 34: utterance Ses01F_impro01_F000 "
        r"is labelled again \(first on line 3\)",
    ):
        parse_emo_evaluation(EMO_EVALUATION + "\n" + record, "a.txt")


@pytest.mark.parametrize(
    ("good", "garbled"),
    [
        ("A-E3:\tval 3; act 2; dom  2;", "A-E3:\tval x; act 2; dom  2;"),
        ("A-E3:\tval 3; act 2; dom  2;", "A-E3:\tvla 3; act 2; dom  2;"),
        ("A-E3:\tval 3; act 2; dom  2;", "A-E3:\tval 3 act 2 dom 2"),
        ("A-E3:\tval 3; act 2; dom  2;", "A -E3:\tval 3; act 2; dom  2;"),
        ("A-E3:\tval 3; act 2; dom  2;", "E3:\tval 3; act 2; dom  2;"),
        ("A-E3:\tval 3; act 2; dom  2;", "val 3; act 2; dom  2;"),
        ("C-E3:\tNeutral;", "c-E3:\tNeutral;"),
        ("C-E3:\tNeutral;", "C-E3\tNeutral;"),
    ],
)
def test_a_garbled_rating_line_names_file_and_line(tmp_path, good, garbled):
    assert good in EMO_EVALUATION
    text = EMO_EVALUATION.replace(good, garbled, 1)
    line = (
        EMO_EVALUATION.splitlines().index(
            next(raw for raw in EMO_EVALUATION.splitlines() if raw.startswith(good))
        )
        + 1
    )
    with pytest.raises(CorpusError, match=rf"Ses01F_impro01\.txt, line {line}: malformed"):
        parse_emo_evaluation(text, "Ses01F_impro01.txt")
    _write_release(tmp_path, EMO_EVALUATION)
    (tmp_path / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt").write_text(text)
    with pytest.raises(CorpusError, match=rf"EmoEvaluation/Ses01F_impro01\.txt, line {line}: "):
        read_iemocap(tmp_path)


def test_a_rating_left_out_is_not_garbled():
    text = EMO_EVALUATION.replace("A-E3:\tval 3; act 2; dom  2;", "A-E3:\tval 3; act 2; dom ;")
    records = parse_emo_evaluation(text)
    assert records[0].ratings["E3"] == {"val": 3.0, "act": 2.0}
    assert mean_ratings(records[0])["dom"] == 3.0  # E4 alone


IEMOCAP = {"reader": "iemocap"}


def test_a_label_without_audio_is_listed_as_missing_and_counted(tmp_path):
    wav_dir = _write_release(tmp_path)
    (wav_dir / "Ses01F_impro01_M001.wav").unlink()
    rows, rejected = read_iemocap(tmp_path)
    assert [r.id for r in rows] == [
        "Ses01F_impro01_F000",
        "Ses01F_impro01_F001",
        "Ses01F_impro01_M000",
    ]
    (missing,) = rejected
    assert (missing.path, missing.reason) == (
        str((wav_dir / "Ses01F_impro01_M001.wav").resolve()),
        "missing",
    )
    assert "Ses01F_impro01.txt, line 27" in missing.detail
    # Not asked for: a scripted-only read does not list improvised labels.
    assert read_iemocap(tmp_path, dialogs="scripted") == ([], [])

    kept, rejected = build_manifest(IEMOCAP, tmp_path, {"min_duration_s": 0.25})
    assert len(kept) == 3
    assert [(r.reason, Path(r.path).name) for r in rejected] == [
        ("missing", "Ses01F_impro01_M001.wav")
    ]
    summary = summarise(kept, rejected)
    assert "1 file rejected (rejected.tsv): missing 1 (labels without audio)" in summary
    assert summarise(kept).splitlines()[-1] == "no files rejected"
    with pytest.raises(BadAudioError, match="Ses01F_impro01_M001.wav: missing"):
        build_manifest(IEMOCAP, tmp_path, {}, strict=True)


def test_audio_without_a_label_is_listed_or_stops_a_strict_run(tmp_path):
    wav_dir = _write_release(tmp_path)
    extra = wav_dir / "Ses01F_impro01_F009.wav"
    sf.write(extra, np.ones(8000, dtype=np.float32) * 0.1, 16000)
    rows, rejected = read_iemocap(tmp_path)
    assert len(rows) == 4
    assert [(r.path, r.reason) for r in rejected] == [(str(extra.resolve()), "unlabelled")]
    assert "no record for Ses01F_impro01_F009 in" in rejected[0].detail

    kept, rejected = build_manifest(IEMOCAP, tmp_path, {})
    assert len(kept) == 4 and [r.reason for r in rejected] == ["unlabelled"]
    assert "unlabelled 1 (audio without a label)" in summarise(kept, rejected)
    with pytest.raises(BadAudioError) as caught:
        build_manifest(IEMOCAP, tmp_path, {}, strict=True)
    assert caught.value.reason == "unlabelled"
    assert str(extra.resolve()) in str(caught.value)


def test_bad_audio_and_unpaired_files_share_rejected(tmp_path):
    wav_dir = _write_release(tmp_path)
    good = wav_dir / "Ses01F_impro01_F000.wav"
    data = good.read_bytes()
    good.write_bytes(data[: len(data) - 2000])
    (wav_dir / "Ses01F_impro01_M000.wav").write_bytes(b"")
    (wav_dir / "Ses01F_impro01_M001.wav").unlink()
    kept, rejected = build_manifest(IEMOCAP, tmp_path, {})
    assert [r.id for r in kept] == ["Ses01F_impro01_F001"]
    assert {Path(r.path).stem: r.reason for r in rejected} == {
        "Ses01F_impro01_M001": "missing",
        "Ses01F_impro01_F000": "truncated",
        "Ses01F_impro01_M000": "empty",
    }
    truncated = next(r for r in rejected if r.reason == "truncated")
    assert truncated.detail == "header says 8000 frames, 7000 readable"
    (wav_dir / "Ses01F_impro01_F001.wav").write_bytes(b"")
    with pytest.raises(CorpusError, match="no usable utterance; 4 files rejected"):
        build_manifest(IEMOCAP, tmp_path, {})
