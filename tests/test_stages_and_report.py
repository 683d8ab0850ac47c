"""File-to-file stages: strict per-fold pretraining data, utterance-vector folds, the report."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex, write_index
from affectrep.data.manifest import Utterance, write_manifest
from affectrep.data.vectors import read_vectors, write_ids
from affectrep.models.context import TrainingData
from affectrep.protocol.folds import fold_names, fold_result, fold_sessions, make_folds
from affectrep.protocol.table2 import paired_summary
from affectrep.stages.autoencoders import training_data, training_index
from affectrep.stages.classification import (
    fold_vectors,
    folds,
    mlp_runs,
    read_runs,
    table2,
    vector_runs,
)
from affectrep.stages.report import build_report, report, stage_of, wall_times
from affectrep.stages.representations import frame_points
from affectrep.stages.use import dimensional


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
    # Every run in one job: each as its own job makes it, the vectors read once.
    files = {"vectors": str(tmp_path / "v.npy"), "ids": str(tmp_path / "v.tsv")}
    runs = vector_runs(
        dict.fromkeys(names, files),
        tmp_path / "manifest.tsv",
        tmp_path / "runs.json",
        settings={"c_grid": [0.1, 1.0], "class_weights": True},
        method="egemaps",
    )
    assert [run["fold"] for run in read_runs(tmp_path / "runs.json")] == names
    assert read_runs(tmp_path / "out.json") == [saved]
    ses02m = runs[names.index("Ses02-Ses02M")]
    assert ses02m == result
    with pytest.raises(ValueError, match="no vectors given for the runs Ses03-Ses03F"):
        vector_runs(
            {name: files for name in names if name != "Ses03-Ses03F"},
            tmp_path / "manifest.tsv",
            tmp_path / "again.json",
            settings={"c_grid": [0.1, 1.0], "class_weights": True},
            method="egemaps",
        )


def test_mlp_runs_needs_an_encoder_for_every_run(tmp_path):
    rows = _manifest(per_speaker=2)
    write_manifest(rows, tmp_path / "manifest.tsv")
    with pytest.raises(ValueError, match="no encoder given for the runs Ses02-Ses02F, Ses02-"):
        mlp_runs(
            tmp_path / "frames.npy",
            tmp_path / "index.tsv",
            tmp_path / "manifest.tsv",
            tmp_path / "runs.json",
            context=1,
            hidden=[4],
            settings={},
            method="pretrained-mlp",
            encoders={"Ses01-Ses01F": "a.npz", "Ses01-Ses01M": "a.npz"},
        )
    assert not (tmp_path / "runs.json").exists()


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
    assert stage_of(bench / "folds" / "pretrained-mlp.tsv", bench) == "folds pretrained-mlp"
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


def test_the_folds_stage_writes_every_run_for_reuse(tmp_path):
    rows = _manifest(sessions=3, per_speaker=4)
    write_manifest(rows, tmp_path / "manifest.tsv")
    written = folds(tmp_path / "manifest.tsv", tmp_path / "folds.tsv")
    lines = (tmp_path / "folds.tsv").read_text().splitlines()
    assert lines[0] == "fold\tsession\ttrain_speakers\tvalidation_speaker\ttest_speaker"
    assert lines[4] == "Ses02-Ses02M\tSes02\tSes01F,Ses01M,Ses03F,Ses03M\tSes02F\tSes02M"
    assert [row["fold"] for row in written] == fold_names(tmp_path / "manifest.tsv")


def _fold_runs(tmp_path: Path, rows, methods: dict[str, float]) -> dict[str, list[Path]]:
    """Fold result files of each method, UA (and WA) = a method's level + a speaker's."""
    out: dict[str, list[Path]] = {}
    for method, level in methods.items():
        folder = tmp_path / "folds" / method
        folder.mkdir(parents=True)
        out[method] = []
        for number, fold in enumerate(make_folds(rows)):
            truth = np.array([0, 1, 2, 3])
            result = fold_result(fold, method, ["a", "b", "c", "d"], truth, np.eye(4), {})
            value = level + 0.01 * number
            result.update(unweighted_accuracy=value, weighted_accuracy=value)
            path = folder / f"{fold.name}.json"
            path.write_text(json.dumps(result))
            out[method].append(path)
    return out


def test_table2_writes_the_paired_comparison_files(tmp_path):
    rows = _manifest(sessions=3, per_speaker=4)
    runs = _fold_runs(tmp_path, rows, {"pretrained-mlp": 0.6, "egemaps": 0.5, "compare": 0.4})
    titles = {"pretrained-mlp": "Pretrained MLP", "egemaps": "eGeMAPS", "compare": "ComParE"}
    table2(
        runs,
        titles,
        "demo",
        tmp_path / "t2.tsv",
        tmp_path / "t2.md",
        {m: tmp_path / f"confusion_{m}.png" for m in runs},
        paired_tsv=tmp_path / "paired.tsv",
        paired_json=tmp_path / "paired.json",
        paired_settings={"resamples": 500, "confidence": 0.9, "seed": 4},
    )
    summary = json.loads((tmp_path / "paired.json").read_text())
    assert summary["reference"] == "egemaps" and summary["best_learned"] == "pretrained-mlp"
    assert summary["settings"] == {"resamples": 500, "confidence": 0.9, "seed": 4}
    lines = (tmp_path / "paired.tsv").read_text().splitlines()
    assert len(lines) == 5 and lines[1].startswith("pretrained-mlp\tPretrained MLP\tlearned\t")
    text = (tmp_path / "t2.md").read_text(encoding="utf-8")
    assert "| Pretrained MLP | learned | +10.00 [+10.00, +10.00], p = 0.031 |" in text
    assert "| ComParE | hand-crafted | −10.00 [−10.00, −10.00], p = 0.031 |" in text
    assert "90 % percentile bootstrap interval, 500 resamples" in text


def _report_inputs(tmp_path: Path, rows) -> dict:
    write_manifest(rows, tmp_path / "manifest.tsv")
    (tmp_path / "summary.txt").write_text("corpus\n")
    (tmp_path / "rejected.tsv").write_text("path\treason\tdetail\n")
    for name in ("t1", "t2", "sep", "dim"):
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\n| a |\n| --- |\n| 1 |\n")
    figures = tmp_path / "figures"
    figures.mkdir()
    return {
        "manifest": tmp_path / "manifest.tsv",
        "summary": tmp_path / "summary.txt",
        "rejected": tmp_path / "rejected.tsv",
        "table1": tmp_path / "t1.md",
        "table2": tmp_path / "t2.md",
        "separation": tmp_path / "sep.md",
        "dimensional": tmp_path / "dim.md",
        "cards": [],
        "figures": [figures / "figure1.png", figures / "dimensional.png"],
        "record": {},
        "output": tmp_path / "report.md",
    }


def _paired_file(tmp_path: Path, learned: float, handcrafted: float, spread: float) -> Path:
    runs = {
        "blstm": [
            {
                "test_speaker": f"s{k}",
                "unweighted_accuracy": learned + spread * (-1) ** k + 0.001 * k,
                "weighted_accuracy": learned,
            }
            for k in range(6)
        ],
        "egemaps": [
            {"test_speaker": f"s{k}", "unweighted_accuracy": handcrafted, "weighted_accuracy": 0.5}
            for k in range(6)
        ],
    }
    path = tmp_path / "paired.json"
    path.write_text(json.dumps(paired_summary(runs, {"blstm": "BLSTM", "egemaps": "eGeMAPS"})))
    return path


@pytest.mark.parametrize(
    "learned, spread, word",
    [(0.6, 0.0, "beats"), (0.4, 0.0, "is below"), (0.5, 0.1, "is not distinguishable from")],
)
def test_the_report_says_whether_learned_beats_handcrafted(tmp_path, learned, spread, word):
    inputs = _report_inputs(tmp_path, _manifest(sessions=2, per_speaker=2))
    text = report(
        "demo",
        cross_corpus=[],
        cross_corpora=["other", "third"],
        paired=_paired_file(tmp_path, learned, 0.5, spread),
        **inputs,
    )
    intro = text.split("\n## Corpus\n", 1)[0]
    assert "the best learned column, BLSTM (mean UA " in intro
    assert f"), {word} the best hand-crafted column, eGeMAPS (mean UA 50.00 %)" in intro
    # A corpus with ratings keeps its dimensional figure.
    assert "[dimensional.png](figures/dimensional.png)" in text
    assert "Corpus `demo` is not one of the cross-corpus matrix's corpora (other, third)" in text


def test_the_report_fits_a_corpus_without_ratings_and_a_single_corpus(tmp_path):
    rows = [replace(row, activation=None, valence=None) for row in _manifest(sessions=2)]
    inputs = _report_inputs(tmp_path, rows)
    no_handcrafted = tmp_path / "none.json"
    no_handcrafted.write_text(
        json.dumps(
            paired_summary(
                {
                    "mlp": [
                        {"test_speaker": "a", "unweighted_accuracy": 0.5, "weighted_accuracy": 0.5}
                    ]
                }
            )
        )
    )
    text = report(
        "emodb", cross_corpus=[], cross_corpora=["emodb"], paired=no_handcrafted, **inputs
    )
    assert "[figure1.png](figures/figure1.png)" in text
    assert "(figures/dimensional.png)" not in text
    assert (
        "`dimensional.png` is left out: corpus `emodb` has no activation and valence ratings"
        in text
    )
    cross = text.split("\n## Cross-corpus\n", 1)[1].split("\n## ", 1)[0].strip()
    assert cross.startswith("No cross-corpus matrix: it needs at least two corpora, and only")
    assert "`emodb` takes part" in cross and "\n" not in cross
    assert "No hand-crafted column (`egemaps`, `compare`) is configured" in text


def test_the_dimensional_stage_says_in_one_line_that_there_are_no_ratings(tmp_path):
    rows = [replace(row, activation=None, valence=None) for row in _manifest(sessions=2)]
    write_manifest(rows, tmp_path / "manifest.tsv")
    runs = dimensional(
        {},
        tmp_path / "manifest.tsv",
        titles={},
        corpus="emodb",
        tsv=tmp_path / "d.tsv",
        markdown=tmp_path / "d.md",
        runs_out=tmp_path / "runs.json",
        figure=tmp_path / "dimensional.png",
    )
    assert runs == {}
    text = (tmp_path / "d.md").read_text()
    assert text.count("\n") == 1 and text.startswith("Corpus emodb has no activation and valence")
    assert (tmp_path / "d.tsv").read_text().splitlines()[0] == "note"
    # The declared figure exists, but it is a 1 x 1 placeholder, not a picture of a sentence.
    from matplotlib.image import imread

    assert imread(tmp_path / "dimensional.png").shape[:2] == (1, 1)
    assert not (tmp_path / "dimensional.pdf").exists()
