"""File-to-file stages: strict per-fold pretraining data, utterance-vector folds, the report."""

import json
from pathlib import Path

import numpy as np
import pytest

from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex, write_index
from affectrep.data.manifest import Utterance, write_manifest
from affectrep.data.vectors import read_vectors, write_ids
from affectrep.models.context import TrainingData
from affectrep.protocol.folds import fold_names, fold_sessions
from affectrep.stages.autoencoders import training_data, training_index
from affectrep.stages.classification import fold_vectors
from affectrep.stages.report import build_report, stage_of, wall_times
from affectrep.stages.representations import frame_points


def _manifest(sessions=3, per_speaker=12, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, sessions + 1):
        for gender in "FM":
            speaker = f"Ses0{s}{gender}"
            for k in range(per_speaker):
                rows.append(
                    Utterance(
                        id=f"{speaker}_{k:03d}",
                        path="",
                        speaker=speaker,
                        session=f"Ses0{s}",
                        gender=gender,
                        emotion=CLASSES[k % 4],
                        activation=float(rng.uniform(1, 5)),
                        valence=float(rng.uniform(1, 5)),
                        duration_s=1.0,
                    )
                )
    return rows


def _features(tmp_path: Path, rows, dims=3):
    lengths = np.array([2 + i % 3 for i in range(len(rows))])
    offsets = np.cumsum(lengths) - lengths
    frames = np.arange(lengths.sum() * dims, dtype=np.float32).reshape(-1, dims)
    directory = tmp_path / "features"
    directory.mkdir()
    np.save(directory / "frames.npy", frames)
    index = FeatureIndex([r.id for r in rows], [r.speaker for r in rows], offsets, lengths)
    write_index(index, directory / "index.tsv")
    write_manifest(rows, tmp_path / "manifest.tsv")
    return directory, frames, index


def test_strict_pretraining_leaves_out_every_frame_of_the_session(tmp_path):
    rows = _manifest()
    directory, frames, index = _features(tmp_path, rows)
    subset = training_index(directory / "index.tsv", tmp_path / "manifest.tsv", "Ses02")
    data = TrainingData.from_file(directory / "frames.npy", subset, block_rows=4)
    kept = np.asarray(data.frames)
    assert not {s for s in subset.speakers} & {"Ses02F", "Ses02M"}
    assert kept.shape == (subset.n_frames, 3)
    # Each kept utterance brings exactly its own frames, in order.
    for position, uid in enumerate(subset.ids):
        source = index.ids.index(uid)
        original = frames[index.offsets[source] : index.offsets[source] + index.lengths[source]]
        start = subset.offsets[position]
        np.testing.assert_array_equal(kept[start : start + subset.lengths[position]], original)
    everything = training_data(directory / "frames.npy", directory / "index.tsv")
    np.testing.assert_array_equal(np.asarray(everything.frames), frames)
    assert training_index(directory / "index.tsv").ids == index.ids
    with pytest.raises(ValueError, match="Ses09"):
        training_index(directory / "index.tsv", tmp_path / "manifest.tsv", "Ses09")


def test_frame_points_repeat_each_utterance_label_over_its_frames(tmp_path):
    rows = _manifest(sessions=2, per_speaker=4)
    _, frames, index = _features(tmp_path, rows)
    points = frame_points(frames, index, rows)
    assert len(points.emotions) == frames.shape[0] == len(points.speakers)
    last = len(rows) - 1
    assert points.emotions[-1] == rows[last].emotion
    assert points.activation[-1] == pytest.approx(rows[last].activation)
    assert points.emotions[: index.lengths[0]] == [rows[0].emotion] * index.lengths[0]


def test_fold_vectors_reads_vectors_and_writes_a_result(tmp_path):
    rows = _manifest(per_speaker=16)
    write_manifest(rows, tmp_path / "manifest.tsv")
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 6)) * 4
    labels = np.array([CLASSES.index(r.emotion) for r in rows])
    vectors = centres[labels] + rng.normal(size=(len(rows), 6))
    np.save(tmp_path / "v.npy", vectors)
    write_ids(rows, tmp_path / "v.tsv")
    x, ids = read_vectors(tmp_path / "v.npy", tmp_path / "v.tsv")
    assert x.shape == (len(rows), 6) and ids == [r.id for r in rows]
    names = fold_names(tmp_path / "manifest.tsv")
    assert names == [
        "Ses01-Ses01F",
        "Ses01-Ses01M",
        "Ses02-Ses02F",
        "Ses02-Ses02M",
        "Ses03-Ses03F",
        "Ses03-Ses03M",
    ]
    assert fold_sessions(tmp_path / "manifest.tsv")["Ses02-Ses02M"] == "Ses02"
    result = fold_vectors(
        tmp_path / "v.npy",
        tmp_path / "v.tsv",
        tmp_path / "manifest.tsv",
        "Ses02-Ses02M",
        tmp_path / "out.json",
        settings={"c_grid": [0.1, 1.0], "class_weights": True},
        method="egemaps",
    )
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["test_speaker"] == "Ses02M" and saved["validation_speaker"] == "Ses02F"
    assert saved["unweighted_accuracy"] == result["unweighted_accuracy"] > 0.9
    assert {p["id"].split("_")[0] for p in saved["predictions"]} == {"Ses02M"}


def test_mismatched_vectors_and_ids_are_refused(tmp_path):
    rows = _manifest(sessions=1, per_speaker=2)
    np.save(tmp_path / "v.npy", np.zeros((3, 2)))
    write_ids(rows, tmp_path / "v.tsv")
    with pytest.raises(ValueError, match="3 rows but .* lists 4 ids"):
        read_vectors(tmp_path / "v.npy", tmp_path / "v.tsv")


def test_wall_times_group_benchmarks_by_stage(tmp_path):
    bench = tmp_path / "benchmarks"
    (bench / "folds").mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\n"
    (bench / "pretrain_layer_tied-fft128-c5_layer1.tsv").write_text(header + "10.0\t0:00:10\t5\n")
    (bench / "pretrain_layer_tied-fft128-c5_layer2.tsv").write_text(header + "4.5\t0:00:04\t3\n")
    (bench / "folds" / "mlp_Ses01-a.tsv").write_text(header + "2.0\t0:00:02\t5\n")
    (bench / "demo_corpus.tsv").write_text(header + "1.0\t0:00:01\t5\n")
    assert stage_of(bench / "folds" / "mlp_Ses01-a.tsv", bench) == "folds mlp"
    rules = ["demo", "demo_corpus", "pretrain", "pretrain_layer"]
    assert stage_of(bench / "demo_corpus.tsv", bench, rules) == "demo_corpus"
    times = {row["stage"]: row for row in wall_times(bench, rules)}
    assert times["pretrain_layer"] == {
        "stage": "pretrain_layer",
        "jobs": "2",
        "total_s": "14.5",
        "longest_s": "10.0",
        "peak_rss_mb": "5",
    }
    assert times["demo_corpus"]["jobs"] == "1"
    assert times["folds mlp"]["jobs"] == "1"


def test_report_holds_tables_sizes_figures_and_rejections(tmp_path):
    rows = _manifest(sessions=1, per_speaker=3)
    write_manifest(rows, tmp_path / "manifest.tsv")
    (tmp_path / "summary.txt").write_text("6 utterances\n")
    (tmp_path / "rejected.tsv").write_text("path\treason\tdetail\nx.wav\tsilent\tpeak 0\n")
    (tmp_path / "t1.md").write_text("# Table 1\n\n| a |\n| --- |\n| 1 |\n")
    (tmp_path / "figures").mkdir()
    (tmp_path / "benchmarks").mkdir()
    text = build_report(
        "demo",
        manifest=tmp_path / "manifest.tsv",
        summary=tmp_path / "summary.txt",
        rejected=tmp_path / "rejected.tsv",
        tables={"Table 1: grid": tmp_path / "t1.md"},
        figures=[tmp_path / "figures" / "figure1.png"],
        benchmarks=tmp_path / "benchmarks",
        record={"fold_vectors[corpus=demo]": {"settings": {"seed": 3}}},
        output=tmp_path / "report.md",
    )
    assert text == (tmp_path / "report.md").read_text()
    assert "6 utterances (0.00 h of audio" in text
    assert "## Table 1: grid" in text and "| 1 |" in text and "# Table 1\n" not in text
    assert "[figure1.png](figures/figure1.png)" in text
    assert "| x.wav | silent | peak 0 |" in text
    assert "seed: 3" in text and "| jax |" in text
