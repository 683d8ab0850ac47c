"""A user's own corpus (issue 15): emotion maps, the class check at the corpus step, balanced
validation speakers, the audio channel, and a report that shows only what applied."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from affectrep.config import SCHEMA, ConfigError, audio_policy, validate_config
from affectrep.data.audio import AudioPolicy, BadAudioError, audio_windows, load_audio, resample
from affectrep.data.corpora.build import READER_KEYS, build_manifest, read_corpus, reader_settings
from affectrep.data.corpora.discovery import CorpusError
from affectrep.data.emotions import ACCEPTED_NAMES, CLASSES, check_emotion_map, map_emotion
from affectrep.data.manifest import Utterance, write_manifest
from affectrep.protocol.folds import class_problems
from affectrep.protocol.validation import auto_held_out, held_out_speakers
from affectrep.provenance import plain
from affectrep.stages.corpus import check_classes
from affectrep.stages.report import (
    build_report,
    job_intervals,
    run_benchmark_folders,
    run_wall_time,
)
from affectrep.use.bundle import recorded_channel

# The corpus of the issue: 6 actors (3 female, 3 male), stereo 48 kHz, the corpus's own codes.
CODES = {"neu": "neutral", "rab": "anger", "tri": "sadness", "gio": "happiness"}
ACTORS = {"f1": "F", "f2": "F", "f3": "F", "m1": "M", "m2": "M", "m3": "M"}
ITALIAN_MAP = {"rab": "anger", "tri": "sadness", "gio": "happiness"}


def _stereo(path: Path, seconds: float = 0.5, rate: int = 48_000) -> np.ndarray:
    """A stereo file whose channels differ (220 Hz left, 330 Hz quieter right)."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.stack(
        [0.3 * np.sin(2 * np.pi * 220 * t), 0.1 * np.sin(2 * np.pi * 330 * t)], axis=1
    ).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal, rate, subtype="FLOAT")
    return signal


def _italian_table(tmp_path: Path, codes=CODES) -> Path:
    lines = ["path,speaker,emotion,gender"]
    for actor, gender in ACTORS.items():
        for code in codes:
            _stereo(tmp_path / "audio" / f"{actor}_{code}.wav")
            lines.append(f"audio/{actor}_{code}.wav,{actor},{code.upper()},{gender}")
    table = tmp_path / "corpus.csv"
    table.write_text("\n".join(lines) + "\n")
    return table


def _validated(corpus: dict, **top) -> dict:
    return validate_config({"corpora": {"mine": corpus}, **top})


# --- emotion maps and the class check ----------------------------------------------------------


def test_a_table_with_raw_codes_and_an_emotion_map_gives_the_four_classes(tmp_path):
    table = _italian_table(tmp_path)
    settings = {"reader": "table", "root": str(table), "emotion_map": ITALIAN_MAP}
    rows, rejected = build_manifest(settings, table, {})
    assert not rejected and len(rows) == 24
    assert {r.emotion for r in rows} == set(CLASSES)
    assert {(r.emotion_raw, r.emotion) for r in rows} == set(CODES.items())
    # Speakers without sessions are paired female/male into three folds; every class is
    # left to train on in each: the check passes.
    assert {r.session for r in rows} == {"g1", "g2", "g3"}
    check_classes(rows, "mine")


def test_without_the_map_the_corpus_step_stops_listing_the_raw_labels(tmp_path):
    table = _italian_table(tmp_path)
    rows, _ = build_manifest({"reader": "table", "root": str(table)}, table, {})
    with pytest.raises(CorpusError) as caught:
        check_classes(rows, "mine")
    message = str(caught.value)
    assert "corpus mine cannot be used for emotion classification" in message
    assert "1 of the four classes (neutral) has labelled utterances; at least 2" in message
    assert "gio 6 (other), neu 6 (neutral), rab 6 (other), tri 6 (other)" in message
    assert "corpora.mine.emotion_map" in message and "happiness: happiness, happy" in message


def test_a_class_that_one_fold_would_train_without_stops_the_run(tmp_path):
    rows = [
        Utterance(
            id=f"{s}-{e}",
            path="",
            speaker=s,
            session=f"S{s[-1]}",
            gender=g,
            emotion_raw=e,
            emotion=e,
        )
        for s, g in (("a1", "F"), ("b1", "M"), ("a2", "F"), ("b2", "M"))
        for e in ("neutral", "anger")
    ]
    assert class_problems(rows) == []
    rows += [
        Utterance(
            id="a1-sad",
            path="",
            speaker="a1",
            session="S1",
            gender="F",
            emotion_raw="tri",
            emotion="sadness",
        )
    ]
    (problem,) = class_problems(rows)
    assert problem == (
        "sadness is labelled only for speakers of session S1 (a1): the fold "
        "that holds out S1 has no sadness to train on"
    )
    with pytest.raises(CorpusError, match=r"tri 1 \(sadness\)"):
        check_classes(rows)
    # Folds that cannot be made at all are found here too, not after the corpus step.
    alone = [r for r in rows if r.speaker != "b1"]
    assert "single labelled speaker" in class_problems(alone)[0]


def test_emotion_maps_are_checked_and_looked_up_before_the_known_names(tmp_path):
    assert check_emotion_map({" Rab ": "ANGER", 1: "other"}) == {"rab": "anger", "1": "other"}
    with pytest.raises(ValueError, match="must map to one of neutral, anger"):
        check_emotion_map({"rab": "rage"})
    with pytest.raises(ValueError, match="mapped twice"):
        check_emotion_map({"rab": "anger", "RAB": "sadness"})
    emotion_map = check_emotion_map({"neutral": "other", "excited": "happiness"})
    assert map_emotion("Neutral", emotion_map, "neutral") == ""
    assert map_emotion("excited", emotion_map, "") == "happiness"
    assert map_emotion("sad", emotion_map, "sadness") == "sadness"
    assert ACCEPTED_NAMES["neutral"] == ("neutral", "neu", "n")
    # Every reader: EmoDB's boredom becomes neutral, its neutral is left out.
    root = tmp_path / "emodb"
    for name in ("03a01La.wav", "08a01Na.wav"):
        _stereo(root / name)
    rows, _ = read_corpus(
        {"reader": "emodb", "emotion_map": {"boredom": "neutral", "neutral": "other"}}, root
    )
    assert [(r.emotion_raw, r.emotion) for r in rows] == [("boredom", "neutral"), ("neutral", "")]
    with pytest.raises(CorpusError, match="emotion_map"):
        read_corpus({"reader": "emodb", "emotion_map": {"x": "rage"}}, root)


# --- which keys each reader reads ---------------------------------------------------------------


def test_each_reader_keeps_only_the_keys_it_reads():
    schema = yaml.safe_load(SCHEMA.read_text())
    keys = set(schema["properties"]["corpora"]["additionalProperties"]["properties"])
    assert set(READER_KEYS) == set(
        schema["properties"]["corpora"]["additionalProperties"]["properties"]["reader"]["enum"]
    )
    assert set().union(*READER_KEYS.values()) == keys  # every key is read by some reader
    table = _validated({"reader": "table", "root": "/data/it.csv"})["corpora"]["mine"]
    assert "dialogs" in table  # filled in by the schema's defaults ...
    assert reader_settings(table) == {
        "reader": "table",
        "root": "/data/it.csv",
        "speaker_groups": "auto",
    }  # ... but not read
    iemocap = _validated({"reader": "iemocap", "root": "/x"})["corpora"]["mine"]
    assert set(reader_settings(iemocap)) == {
        "reader",
        "root",
        "merge_excited",
        "dialogs",
        "min_agreement",
        "include_self_evaluation",
    }
    ravdess = _validated({"reader": "ravdess", "root": "/x"})["corpora"]["mine"]
    assert set(reader_settings(ravdess)) == {"reader", "root", "include_song", "speaker_groups"}


def test_a_key_the_reader_does_not_read_is_named_unless_left_at_its_default():
    with pytest.raises(
        ConfigError,
        match=r"corpora.mine.merge_excited: reader table does not "
        r"read it.*emotion_map: \{excited: happiness\}",
    ):
        _validated({"reader": "table", "root": "/t.csv", "merge_excited": True})
    with pytest.raises(ConfigError, match="corpora.mine.include_song: reader iemocap"):
        _validated({"reader": "iemocap", "root": "/x", "include_song": True})
    with pytest.raises(ConfigError, match="corpora.mine.emotion_map.rab"):
        _validated({"reader": "table", "root": "/t.csv", "emotion_map": {"rab": "rage"}})
    _validated({"reader": "table", "root": "/t.csv", "dialogs": "all"})  # the default: fine


# --- validation speakers -------------------------------------------------------------------------


def test_auto_holds_out_a_mixed_set_of_six_speakers():
    # Three female/male pairs (the sessions speaker_groups makes of them).
    speakers = {
        "f1": ("F", "g1"),
        "m1": ("M", "g1"),
        "f2": ("F", "g2"),
        "m2": ("M", "g2"),
        "f3": ("F", "g3"),
        "m3": ("M", "g3"),
    }
    held, why = auto_held_out(speakers, 3)
    assert held == ["f1", "f3", "m2"]  # the old rule took m1, m2, m3: all men
    assert "2 female, 1 male" in why and "one from each of sessions g1, g2, g3" in why
    assert "training keeps 3 speakers (1 female, 2 male)" in why
    assert auto_held_out(speakers, 3) == (held, why)  # deterministic
    held, _ = auto_held_out(speakers, 2)
    assert sorted(speakers[s][0] for s in held) == ["F", "M"]
    assert len({speakers[s][1] for s in held}) == 2
    # All six in one session: still one of each gender at least.
    one_session = {name: (gender, "s") for name, (gender, _) in speakers.items()}
    held, why = auto_held_out(one_session, 3)
    assert sorted(one_session[s][0] for s in held) == ["F", "F", "M"]
    assert "spread over sessions s" in why


def test_auto_on_iemocap_sessions_and_without_genders():
    iemocap = {f"Ses0{s}{g}": (g, f"Ses0{s}") for s in range(1, 6) for g in "FM"}
    held, _ = auto_held_out(iemocap, 3)
    assert held == ["Ses03F", "Ses04M", "Ses05F"]
    unknown = {f"s{k}": ("", f"g{k % 3}") for k in range(6)}
    held, why = auto_held_out(unknown, 3)
    assert sorted(unknown[s][1] for s in held) == ["g0", "g1", "g2"]
    assert "not by gender (the corpus gives none)" in why
    with pytest.raises(ValueError, match="cannot hold out 6 of 6"):
        auto_held_out(unknown, 6)


def test_held_out_speakers_from_the_manifest_or_the_config():
    rows = [
        Utterance(
            id=f"{s}{k}",
            path="",
            speaker=s,
            session=f"S{s[-1]}",
            gender=s[0].upper(),
            emotion="anger" if k or s != "m3" else "",
        )
        for s in ACTORS
        for k in range(2)
    ]
    rows.append(Utterance(id="x", path="", speaker="x9", session="S9", gender="F"))
    held, why = held_out_speakers(rows, "auto", 3)
    assert "x9" not in held and why.startswith("chosen by `auto`")  # x9 has no labels
    held, why = held_out_speakers(rows, ["m1", 3], 2, speakers=[*ACTORS, "3"])
    assert held == ["3", "m1"] and "as configured" in why
    with pytest.raises(ValueError, match="not in the corpus"):
        held_out_speakers(rows, ["nobody"], 1)


# --- the audio channel -----------------------------------------------------------------------


def test_a_stereo_file_with_channel_1_gives_that_channels_samples(tmp_path):
    path = tmp_path / "stereo.wav"
    signal = _stereo(path)
    right = load_audio(path, AudioPolicy(channel=1))
    expected = resample(signal[:, 1], 48_000, 16_000).astype(np.float32)
    np.testing.assert_array_equal(right, expected)
    left = load_audio(path, {"channel": 0})
    np.testing.assert_array_equal(left, resample(signal[:, 0], 48_000, 16_000))
    mixed = load_audio(path, AudioPolicy())
    np.testing.assert_allclose(mixed, resample(signal.mean(axis=1), 48_000, 16_000), atol=1e-6)
    # Windowed reads (the CLI's long files) take the same channel.
    windows = audio_windows(path, 0.1, AudioPolicy(channel=1))
    assert len(windows) == 5
    np.testing.assert_allclose(np.concatenate(windows), expected, atol=0.02)
    assert abs(np.max(np.abs(np.concatenate(windows))) - 0.1) < 0.01  # the quiet channel


def test_a_channel_the_file_lacks_is_bad_audio_naming_the_file(tmp_path):
    path = tmp_path / "stereo.wav"
    _stereo(path)
    for read in (
        lambda: load_audio(path, AudioPolicy(channel=2)),
        lambda: audio_windows(path, 30, AudioPolicy(channel=2)),
    ):
        with pytest.raises(BadAudioError) as caught:
            read()
        assert caught.value.reason == "channel" and str(path) in str(caught.value)
        assert "audio.channel is 2 (0 = the first), but the file has 2 channels" in str(
            caught.value
        )
    mono = tmp_path / "mono.wav"
    sf.write(mono, 0.3 * np.ones(8000), 16000)
    assert load_audio(mono, AudioPolicy(channel=0)).shape == (8000,)
    with pytest.raises(BadAudioError, match="has 1 channel$"):
        load_audio(mono, AudioPolicy(channel=1))
    with pytest.raises(ValueError, match="'mix' or an index"):
        AudioPolicy(channel=-1)
    # At the corpus step: listed in rejected.tsv with its reason (or a strict run stops).
    table = tmp_path / "corpus.csv"
    table.write_text(
        "id,path,speaker,emotion\ns1,stereo.wav,a,angry\nm,mono.wav,b,sad\ns2,stereo.wav,c,sad\n"
    )
    kept, rejected = build_manifest({"reader": "table"}, table, {"channel": 1})
    assert [r.id for r in kept] == ["s1", "s2"]
    assert [(Path(r.path).name, r.reason) for r in rejected] == [("mono.wav", "channel")]


def test_the_channel_is_a_setting_recorded_with_the_policy():
    config = _validated({"reader": "table", "root": "/t.csv"}, audio={"channel": 1})
    assert audio_policy(config).channel == 1
    assert plain(audio_policy(config))["channel"] == 1
    assert audio_policy(_validated({"reader": "emodb", "root": "/e"})).channel == "mix"
    with pytest.raises(ConfigError, match="audio.channel"):
        _validated({"reader": "emodb", "root": "/e"}, audio={"channel": "left"})
    record = {
        "corpus[corpus=x]": {"policy": plain(AudioPolicy(channel=1))},
        "features[corpus=x,spec=a]": {"policy": plain(AudioPolicy(channel=1))},
        "pretrain_layer[corpus=x]": {"settings": {}},
    }
    assert recorded_channel(record) == 1
    assert recorded_channel({}) == "mix"
    record["features[corpus=x,spec=b]"] = {"policy": plain(AudioPolicy())}
    with pytest.raises(ValueError, match="different audio channels"):
        recorded_channel(record)


# --- the report ---------------------------------------------------------------------------------


def _benchmark(folder: Path, name: str, seconds: float, end: float) -> None:
    path = folder / f"{name}.tsv"
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:00\t10\n")
    os.utime(path, (end, end))


def test_the_wall_time_runs_from_the_first_jobs_start_to_the_last_jobs_end(tmp_path):
    _benchmark(tmp_path, "corpus", 10.0, 1000.0)  # 990 .. 1000
    _benchmark(tmp_path, "features_a", 30.0, 1040.0)  # 1010 .. 1040 (in parallel with b)
    _benchmark(tmp_path, "features_b", 20.0, 1030.0)  # 1010 .. 1030
    intervals = sorted(job_intervals(tmp_path))
    assert intervals[0] == pytest.approx((990.0, 1000.0))
    wall = run_wall_time(intervals)
    assert wall["span"] == pytest.approx(50.0) and wall["busy"] == pytest.approx(40.0)
    assert wall["pause"] == pytest.approx(10.0) and wall["pause_start"] == pytest.approx(1000)
    assert wall["jobs_s"] == pytest.approx(60.0) and wall["jobs"] == 3
    assert run_wall_time([]) is None


def test_the_run_covers_the_folders_of_every_job_upstream(tmp_path):
    results = tmp_path / "results"
    for name in ("demo", "other", "all-corpora", "cross_corpus", "unrelated"):
        (results / name / "benchmarks").mkdir(parents=True)
    record = {
        "corpus[corpus=demo]": {},
        "pretrain_layer[corpus=other,layer=1]": {},
        "combine_features[spec=fft128]": {},
        "cross_corpus[model=m]": {},
    }
    assert [
        f.parent.name for f in run_benchmark_folders(results / "demo" / "benchmarks", record)
    ] == ["all-corpora", "cross_corpus", "demo", "other"]


def test_the_report_of_a_table_corpus_has_no_iemocap_keys_and_a_wall_time(tmp_path):
    table = _italian_table(tmp_path)
    config = _validated({"reader": "table", "root": str(table), "emotion_map": ITALIAN_MAP})
    settings = plain(reader_settings(config["corpora"]["mine"]))  # the corpus rule's param
    rows, rejected = build_manifest(settings, table, plain(audio_policy(config)))
    write_manifest(rows, tmp_path / "manifest.tsv")
    (tmp_path / "summary.txt").write_text("24 utterances\n")
    (tmp_path / "rejected.tsv").write_text("path\treason\tdetail\n")
    benchmarks = tmp_path / "benchmarks"
    benchmarks.mkdir()
    _benchmark(benchmarks, "corpus", 4.0, 2_000_000_000.0)
    _benchmark(benchmarks, "features_fft128", 6.0, 2_000_000_010.0)
    record = {"corpus[corpus=mine]": {"settings": settings, "policy": plain(audio_policy(config))}}
    text = build_report(
        "mine",
        manifest=tmp_path / "manifest.tsv",
        summary=tmp_path / "summary.txt",
        rejected=tmp_path / "rejected.tsv",
        tables={},
        figures=[],
        benchmarks=benchmarks,
        record=record,
        output=tmp_path / "report.md",
    )
    settings_block = text[text.index("## Settings") : text.index("## Software")]
    for key in (
        "dialogs",
        "merge_excited",
        "include_song",
        "min_agreement",
        "include_self_evaluation",
        "demo",
    ):
        assert key not in settings_block
    assert "emotion_map" in settings_block and "channel: mix" in settings_block
    assert "Wall time of the run: 14 s, from the first job's start" in text
    assert "over the 2 benchmarked jobs that made this report's inputs (benchmarks)" in text
    assert "which took 10 s of job time in all" in text and "stopped and resumed" not in text
    # Resumed an hour later: said so.
    _benchmark(benchmarks, "table1", 5.0, 2_000_003_600.0)
    text = build_report(
        "mine",
        manifest=tmp_path / "manifest.tsv",
        summary=tmp_path / "summary.txt",
        rejected=tmp_path / "rejected.tsv",
        tables={},
        figures=[],
        benchmarks=benchmarks,
        record=record,
        output=tmp_path / "report.md",
    )
    assert "No job ran for 3585 s from" in text and "jobs were running for 15 s" in text
