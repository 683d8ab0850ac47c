"""Readers of EmoDB, RAVDESS, CREMA-D and plain tables: names parsed, bad names refused."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from affectrep.data.corpora.build import build_manifest, read_corpus, summarise
from affectrep.data.corpora.cremad import read_cremad
from affectrep.data.corpora.discovery import CorpusError, find_audio
from affectrep.data.corpora.emodb import read_emodb
from affectrep.data.corpora.ravdess import read_ravdess
from affectrep.data.corpora.table import read_table


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def test_emodb_names(tmp_path):
    _touch(tmp_path / "wav", "03a01Fa.wav", "08b02Tc.wav", "16a05Lb.wav")
    rows = {r.id: r for r in read_emodb(tmp_path)}
    assert (rows["03a01Fa"].speaker, rows["03a01Fa"].gender, rows["03a01Fa"].emotion) == (
        "03",
        "M",
        "happiness",
    )
    assert (rows["08b02Tc"].gender, rows["08b02Tc"].emotion_raw, rows["08b02Tc"].emotion) == (
        "F",
        "sadness",
        "sadness",
    )
    assert (rows["16a05Lb"].emotion_raw, rows["16a05Lb"].emotion) == ("boredom", "")
    assert all(r.session == "" for r in rows.values())
    _touch(tmp_path / "wav", "03a01Xa.wav")
    with pytest.raises(CorpusError, match=r"03a01Xa.wav: file name does not follow"):
        read_emodb(tmp_path)


def test_ravdess_names_and_skipping(tmp_path):
    _touch(
        tmp_path / "Actor_12",
        "03-01-05-01-02-01-12.wav",
        "03-02-03-02-01-01-12.wav",
        "01-01-04-01-01-01-12.wav",
    )
    _touch(tmp_path / "Actor_01", "03-01-01-01-01-01-01.wav")
    rows = {r.id: r for r in read_ravdess(tmp_path)}
    assert sorted(rows) == ["03-01-01-01-01-01-01", "03-01-05-01-02-01-12"]
    angry = rows["03-01-05-01-02-01-12"]
    assert (angry.speaker, angry.gender, angry.emotion) == ("Actor_12", "F", "anger")
    assert rows["03-01-01-01-01-01-01"].gender == "M"
    sung = {r.id: r for r in read_ravdess(tmp_path, include_song=True)}
    assert sung["03-02-03-02-01-01-12"].emotion == "happiness"
    _touch(tmp_path / "Actor_01", "03-01-09-01-01-01-01.wav")
    with pytest.raises(CorpusError, match="03-01-09-01-01-01-01.wav"):
        read_ravdess(tmp_path)


def test_cremad_names_and_demographics(tmp_path):
    _touch(
        tmp_path / "AudioWAV", "1001_DFA_ANG_XX.wav", "1002_IEO_HAP_HI.wav", "1002_IEO_DIS_LO.wav"
    )
    no_table = {r.id: r for r in read_cremad(tmp_path)}
    assert no_table["1001_DFA_ANG_XX"].gender == ""
    (tmp_path / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n"
    )
    rows = {r.id: r for r in read_cremad(tmp_path)}
    assert (rows["1001_DFA_ANG_XX"].speaker, rows["1001_DFA_ANG_XX"].gender) == ("1001", "M")
    assert (rows["1002_IEO_HAP_HI"].gender, rows["1002_IEO_HAP_HI"].emotion) == ("F", "happiness")
    assert (rows["1002_IEO_DIS_LO"].emotion_raw, rows["1002_IEO_DIS_LO"].emotion) == ("disgust", "")
    _touch(tmp_path / "AudioWAV", "1001_DFA_XYZ_XX.wav")
    with pytest.raises(CorpusError, match="1001_DFA_XYZ_XX.wav"):
        read_cremad(tmp_path)


def test_missing_and_empty_roots_say_what_was_expected(tmp_path):
    with pytest.raises(CorpusError, match=r"does not exist; expected EmoDB files named"):
        read_emodb(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=r"no files matching \*\*/\*.wav under .*empty"):
        read_ravdess(tmp_path / "empty")
    _touch(tmp_path / "forks", "._03a01Fa.wav")
    with pytest.raises(CorpusError, match="no files matching"):
        find_audio(tmp_path / "forks")


def test_table_reader(tmp_path):
    _touch(tmp_path / "audio", "a.wav", "b.wav")
    table = tmp_path / "corpus.tsv"
    table.write_text(
        "path\tspeaker\temotion\tactivation\tvalence\tsession\textra\n"
        "audio/a.wav\tspk1\tAngry\t4.5\t1.5\ts1\tx\n"
        "audio/b.wav\tspk2\texcited\t\t\ts2\ty\n"
    )
    rows = {r.id: r for r in read_table(table)}
    assert rows["a"].path == str((tmp_path / "audio" / "a.wav").resolve())
    assert (rows["a"].emotion, rows["a"].activation, rows["a"].valence) == ("anger", 4.5, 1.5)
    assert (rows["b"].emotion_raw, rows["b"].emotion, rows["b"].activation) == ("excited", "", None)
    # IEMOCAP's merge_excited, for a table: an emotion_map (names in any case).
    mapped, _ = read_corpus({"reader": "table", "emotion_map": {"Excited": "happiness"}}, table)
    assert [(r.emotion_raw, r.emotion) for r in mapped] == [
        ("angry", "anger"),
        ("excited", "happiness"),
    ]
    assert rows["a"].session == "s1"
    other_root = read_table(table, audio_root=tmp_path / "elsewhere")
    assert other_root[0].path.startswith(str((tmp_path / "elsewhere").resolve()))


def test_emodb_style_csv_with_extra_columns(tmp_path):
    table = tmp_path / "manifest.csv"
    table.write_text(
        "path,speaker,emotion,duration_s,sample_rate\nwav/03a01Fa.wav,03,happiness,1.8982,16000\n"
    )
    (row,) = read_table(table)
    assert (row.id, row.speaker, row.emotion) == ("03a01Fa", "03", "happiness")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("file,speaker\nx.wav,s\n", r"missing column\(s\) path, emotion; found file, speaker"),
        (
            "path,speaker,emotion,valence\nx.wav,s,sad,high\n",
            r"line 2: column valence must be a number, not 'high'",
        ),
        ("path,speaker,emotion\nx.wav,s,sad\nx.wav,t,sad\n", "line 3: id x already used on line 2"),
        ("path,speaker,emotion\n", "has no rows"),
    ],
)
def test_table_errors_name_table_line_and_column(tmp_path, content, message):
    table = tmp_path / "bad.csv"
    table.write_text(content)
    with pytest.raises(CorpusError, match=message) as caught:
        read_table(table)
    assert str(table) in str(caught.value)
    with pytest.raises(CorpusError, match="does not exist"):
        read_table(tmp_path / "absent.csv")


def _tone(path: Path, seconds: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.3 * np.sin(np.arange(int(16000 * seconds)) * 0.05), 16000)


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"reader": "emodb"}, ["03a01Fa.wav", "08a01Ta.wav", "03a02Wa.wav", "08a02Na.wav"]),
        (
            {"reader": "ravdess"},
            [
                "Actor_01/03-01-05-01-01-01-01.wav",
                "Actor_02/03-01-04-01-01-01-02.wav",
                "Actor_01/03-01-03-01-01-01-01.wav",
                "Actor_02/03-01-01-01-01-01-02.wav",
            ],
        ),
        (
            {"reader": "cremad"},
            [
                "1001_DFA_ANG_XX.wav",
                "1002_DFA_SAD_XX.wav",
                "1001_IEO_HAP_HI.wav",
                "1002_IEO_NEU_XX.wav",
            ],
        ),
    ],
)
def test_every_reader_rejects_truncated_and_empty_files(tmp_path, settings, names):
    root = tmp_path / "corpus"
    for name in names:
        _tone(root / name)
    truncated, empty = root / names[2], root / names[3]
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) - 2 * 4000])  # 4000 16-bit frames short
    empty.write_bytes(b"")
    kept, rejected = build_manifest(settings, root, {"min_duration_s": 0.25})
    assert sorted(Path(r.path).name for r in kept) == sorted(Path(n).name for n in names[:2])
    assert sorted((Path(r.path).name, r.reason, r.detail) for r in rejected) == sorted(
        [
            (Path(names[2]).name, "truncated", "header says 16000 frames, 12000 readable"),
            (Path(names[3]).name, "empty", "0 bytes"),
        ]
    )
    assert summarise(kept, rejected).splitlines()[-1] == (
        "2 files rejected (rejected.tsv): empty 1, truncated 1"
    )


def test_a_table_corpus_lists_missing_truncated_and_empty_files(tmp_path):
    for name in ("a.wav", "b.wav", "c.wav", "e.wav"):
        _tone(tmp_path / "audio" / name)
    (tmp_path / "audio" / "b.wav").write_bytes((tmp_path / "audio" / "b.wav").read_bytes()[:-100])
    (tmp_path / "audio" / "c.wav").write_bytes(b"")
    table = tmp_path / "corpus.csv"
    table.write_text(
        "path,speaker,emotion\naudio/a.wav,s1,angry\naudio/b.wav,s2,sad\n"
        "audio/c.wav,s2,sad\naudio/d.wav,s1,sad\naudio/e.wav,s2,neutral\n"
    )
    kept, rejected = build_manifest({"reader": "table"}, table, {})
    assert [r.id for r in kept] == ["a", "e"]
    assert {Path(r.path).name: r.reason for r in rejected} == {
        "b.wav": "truncated",
        "c.wav": "empty",
        "d.wav": "missing",
    }
