"""The real workflow, end to end, on a tiny demo corpus (snakemake in a subprocess)."""

import base64
import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from affectrep.data.featureset import load_frames
from affectrep.data.manifest import read_manifest
from affectrep.provenance import read_record
from affectrep.stages.classification import read_runs

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "run": ["demo"],
    "corpora": {
        "demo": {
            "reader": "iemocap",
            "demo": {"seed": 3, "sessions": 3, "utterances_per_speaker": 8},
        },
        # A second corpus only for the cross-corpus matrix (it is not in `run`).
        "other": {
            "reader": "iemocap",
            "demo": {"seed": 4, "sessions": 2, "utterances_per_speaker": 8},
        },
    },
    "autoencoders": {
        "models": ["tied-fft128-c5", "untied-logmel40-c1", "deep-logmel40-c5"],
        "hidden": {"fft128-c5": [32, 16], "logmel40-c5": [40, 20]},
        "default_layers": 2,
        "epochs": 2,
        "finetune_epochs": 1,
        "batch_size": 100,
        "learning_rate": 1.0e-3,
        "momentum": 0.9,
    },
    "validation": {"n_held_out": 2, "max_train_frames": 20000},
    "representations": {
        "models": ["tied-fft128-c5", "deep-logmel40-c5"],
        "blstm": {"epochs": 2, "batch_size": 4, "optimizer": "adam", "learning_rate": 1.0e-3},
        "masked": {"width": 16, "layers": 2, "epochs": 2, "batch_size": 8},
        "tsne": {"frames": 300, "utterances": 40},
        "separation": {"max_points": 2000},
    },
    "classification": {
        # The default run's columns, the masked spectrogram model, alone and fused.
        "methods": [
            "pretrained-mlp",
            "mlp",
            "egemaps",
            "compare",
            "pooled",
            "blstm",
            "masked",
            "masked+compare",
        ],
        "mlp": {"max_epochs": 2, "patience": 1, "batch_size": 100, "max_train_frames": 3000},
        "utterance": {"c_grid": [0.1, 1.0]},
        # A representation brought from elsewhere (written by `tiny_run` once the manifest
        # exists; a relative path starts at the working directory).
        "vectors": {"ext": {"path": "external/ext.npy", "ids": "external/ext.txt"}},
    },
    "use": {"cross_corpus": ["demo", "other"], "window_s": 2.0},
}


def _load_frames(folder: Path):
    """The frames (memory-mapped) and index of the feature set in `folder`."""
    return load_frames(folder / "frames.npy", folder / "index.tsv")


def snakemake(workdir: Path, *args: str, config: dict = TINY) -> subprocess.CompletedProcess:
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / "tiny.yaml"),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def _external_vectors(workdir: Path) -> None:
    """TINY's external vectors: 8-d, around one centre per class (and one for the other
    utterances), for every utterance of the manifest plus one the manifest does not have;
    ids one per line."""
    from affectrep.data.emotions import CLASSES

    rows = read_manifest(workdir / "results" / "demo" / "manifest.tsv")
    rng = np.random.default_rng(0)
    centres = 2 * rng.normal(size=(len(CLASSES) + 1, 8))
    label = [CLASSES.index(r.emotion) if r.emotion in CLASSES else len(CLASSES) for r in rows]
    x = np.vstack([centres[label] + rng.normal(size=(len(rows), 8)), rng.normal(size=(1, 8))])
    (workdir / "external").mkdir()
    np.save(workdir / "external" / "ext.npy", x.astype(np.float32))
    ids = [r.id for r in rows] + ["not-in-the-manifest"]
    (workdir / "external" / "ext.txt").write_text("\n".join(ids) + "\n")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    # The external vectors need the manifest's ids: the corpus first, then everything.
    process = snakemake(workdir, "results/demo/manifest.tsv")
    assert process.returncode == 0, process.stderr[-5000:]
    _external_vectors(workdir)
    process = snakemake(workdir, "all")
    assert process.returncode == 0, process.stderr[-5000:]
    return workdir


@pytest.mark.workflow
def test_manifest_and_features(tiny_run):
    results = tiny_run / "results" / "demo"
    rows = read_manifest(results / "manifest.tsv")
    assert len(rows) == 3 * 2 * 8
    assert {r.speaker for r in rows} == {f"Ses0{s}{g}" for s in (1, 2, 3) for g in "FM"}
    assert {r.session for r in rows} == {"Ses01", "Ses02", "Ses03"}
    assert {r.emotion for r in rows} >= {"neutral", "anger", "sadness", "happiness"}
    assert all(r.duration_s and r.duration_s > 0.5 for r in rows)
    assert (results / "rejected.tsv").read_text().splitlines() == ["path\treason\tdetail"]
    for spec, dims in (("fft513", 513), ("fft128", 128), ("logmel40", 40)):
        frames, index = _load_frames(results / "features" / spec)
        assert frames.shape == (index.n_frames, dims) and index.ids == [r.id for r in rows]
        assert np.all(np.isfinite(frames))
        # 10 ms hop: about 100 frames per second of audio.
        seconds = sum(r.duration_s for r in rows)
        assert abs(index.n_frames - 100 * seconds) < 0.03 * 100 * seconds
    assert "utterances" in (results / "corpus_summary.txt").read_text()


@pytest.mark.workflow
def test_models_codes_and_table1(tiny_run):
    results = tiny_run / "results" / "demo"
    assert sorted(p.name for p in (results / "models" / "tied-fft128-c5").iterdir()) == [
        "blstm.npz",
        "encoder.npz",
        "layer1.npz",
        "layer2.npz",
    ]
    codes = np.load(results / "codes" / "tied-fft128-c5.npy")
    _, index = _load_frames(results / "features" / "fft128")
    assert codes.shape == (index.n_frames, 16)
    assert np.load(results / "codes" / "deep-logmel40-c5.npy").shape == (index.n_frames, 20)
    assert np.load(results / "codes" / "untied-logmel40-c1.npy").shape[1] == 10
    result = json.loads((results / "validation" / "tied-fft128-c5.json").read_text())
    assert 0.0 <= result["accuracy"] <= 1.0
    # auto: one female, one male, from two sessions.
    assert result["held_out_speakers"] == ["Ses02M", "Ses03F"]
    table = (results / "tables" / "table1.md").read_text()
    assert "held-out speakers Ses02M, Ses03F (chosen by `auto`: balanced by gender" in table
    for model in (
        "tied-fft128-c5",
        "untied-logmel40-c1",
        "deep-logmel40-c5",
        "softmax-logmel40-c1",
    ):
        assert model in table
    # Every row that ties the best printed accuracy is marked, and only those.
    with open(results / "tables" / "table1.tsv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    best = max(float(row["accuracy"].removesuffix(" *")) for row in rows)
    marked = [row["model"] for row in rows if row["accuracy"].endswith(" *")]
    assert marked == [r["model"] for r in rows if float(r["accuracy"].removesuffix(" *")) == best]
    assert table.count(" * |") == len(marked) and ("a tie at WA" in table) == (len(marked) > 1)
    assert "640-32-16-4" in table
    log = (results / "logs" / "pretrain_tied-fft128-c5_layer1.log").read_text()
    assert "epoch 2/2" in log and "frames/s" in log and "JAX device: cpu" in log


@pytest.mark.workflow
def test_blstm_vectors_figures_and_separation(tiny_run):
    results = tiny_run / "results" / "demo"
    vectors = np.load(results / "utterances" / "tied-fft128-c5.npy")
    assert vectors.shape == (48, 16) and np.all(np.isfinite(vectors))
    ids = (results / "utterances" / "tied-fft128-c5.tsv").read_text().splitlines()
    assert ids[0] == "id\tspeaker" and len(ids) == 49
    for number in (1, 2):
        for suffix in ("png", "pdf"):
            assert (results / "figures" / f"figure{number}.{suffix}").stat().st_size > 10_000
    assert (results / "figures" / "frames_deep-logmel40-c5.png").exists()
    # The training curves of the Table 2 encoder (2 layers, 1 epoch of fine-tuning) and its
    # BLSTM, each panel noted from its file's history; listed in the report.
    assert (results / "figures" / "training_curves.png").stat().st_size > 10_000
    assert (results / "figures" / "training_curves.pdf").exists()
    log = (results / "logs" / "training_curves.log").read_text()
    panels = (
        "TIED-128-5 layer 1",
        "TIED-128-5 layer 2",
        "BLSTM autoencoder on TIED-128-5 codes",
        "Masked spectrogram model, logmel40, 2 x 16",
    )
    for panel in panels:
        assert f"{panel}: last epoch " in log, log
    assert "TIED-128-5 fine-tuning: one epoch: no trend" in log
    assert "figures/training_curves.png" in (results / "report.md").read_text()
    separation = (results / "tables" / "separation.tsv").read_text().splitlines()
    assert separation[0].split("\t")[:3] == ["level", "model", "n_points"]
    assert [line.split("\t")[:2] for line in separation[1:]] == [
        ["frames", "tied-fft128-c5"],
        ["frames", "deep-logmel40-c5"],
        ["utterances", "tied-fft128-c5"],
        ["utterances", "deep-logmel40-c5"],
    ]


@pytest.mark.workflow
def test_folds_table2_and_report(tiny_run):
    results = tiny_run / "results" / "demo"
    speakers = {f"Ses0{s}{g}" for s in (1, 2, 3) for g in "FM"}
    for method in ("pretrained-mlp", "mlp", "egemaps", "compare", "blstm", "masked", "ext"):
        # One job per column (`classification.fold_jobs: method`), its runs in one file.
        runs = read_runs(results / "folds" / method / "runs.json")
        assert [run["fold"] for run in runs] == [f"{s[:5]}-{s}" for s in sorted(speakers)]
        assert {run["test_speaker"] for run in runs} == speakers
        for run in runs:
            assert run["validation_speaker"] != run["test_speaker"]
            assert run["validation_speaker"][:5] == run["test_speaker"][:5]
            assert not {run["test_speaker"], run["validation_speaker"]} & set(run["train_speakers"])
            assert 0.0 <= run["unweighted_accuracy"] <= 1.0
        assert (results / "figures" / f"confusion_{method}.png").exists()
    with open(results / "folds" / "folds.tsv", newline="", encoding="utf-8") as handle:
        folds = list(csv.DictReader(handle, delimiter="\t"))
    assert [row["fold"] for row in folds] == [f"{s[:5]}-{s}" for s in sorted(speakers)]
    assert folds[0]["train_speakers"] == "Ses02F,Ses02M,Ses03F,Ses03M"
    assert folds[0]["validation_speaker"] == "Ses01M" and folds[0]["session"] == "Ses01"
    # Every other column against the better hand-crafted one, UA and WA, paired.
    with open(results / "tables" / "table2_paired.tsv", newline="", encoding="utf-8") as handle:
        paired = list(csv.DictReader(handle, delimiter="\t"))
    (reference,) = {row["reference"] for row in paired}
    assert reference in ("egemaps", "compare")
    columns = TINY["classification"]["methods"] + ["ext"]
    assert [(row["method"], row["measure"]) for row in paired] == [
        (m, measure) for m in columns if m != reference for measure in ("UA", "WA")
    ]
    assert {row["kind"] for row in paired if row["method"] == "ext"} == {"external"}
    assert {row["n_speakers"] for row in paired} == {"6"}
    assert read_record(results / "tables" / "table2_paired.tsv")
    title = {"egemaps": "eGeMAPS softmax", "compare": "ComParE 2016 softmax"}[reference]
    assert f"## Paired comparison with {title}" in (results / "tables" / "table2.md").read_text(
        encoding="utf-8"
    )
    table = (results / "tables" / "table2.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in table[1:]] == [
        "Happy",
        "Angry",
        "Sad",
        "Neutral",
        "WA",
        "UA",
    ]
    assert "Pretrained MLP (TIED-128-5)" in table[0] and "paper IEMOCAP: TIED-128-5" in table[0]
    # The hand-crafted columns, then the external vectors after the configured methods.
    columns = table[0].split("\t")
    assert columns.index("eGeMAPS softmax") + 1 == columns.index("ComParE 2016 softmax")
    assert columns.index("ext (external vectors) softmax") == 9  # after the eight methods
    # The masked spectrogram model: a learned column, alone and fused with ComParE.
    assert columns[7:9] == [
        "Masked spectrogram model softmax",
        "masked spectrogram model + ComParE 2016 softmax",
    ]
    assert {row["kind"] for row in paired if row["method"].startswith("masked")} == {"learned"}
    masked = np.load(results / "masked" / "vectors.npy")
    assert masked.shape == (48, 16 * 10) and np.all(np.isfinite(masked))  # 5 statistics, deltas
    ids = (results / "masked" / "vectors.tsv").read_text().splitlines()
    assert ids[0] == "id\tspeaker" and len(ids) == 49
    meta = json.loads(str(np.load(results / "masked" / "model.npz")["meta"]))
    assert meta["dilations"] == [1, 2] and len(meta["history"]) == 2
    assert meta["settings"]["width"] == 16 and meta["settings"]["spectrogram"] == "logmel40"
    record = read_record(results / "masked" / "vectors.npy")
    assert record["masked_pretrain[corpus=demo,without=]"]["settings"]["epochs"] == 2
    assert record["masked_embed[corpus=demo,scope=]"]["pooling"]["deltas"] is True
    assert "features[corpus=demo,spec=logmel40]" in record
    log = (results / "logs" / "masked_pretrain.log").read_text()
    assert "epoch 2/2" in log and "utterances/s" in log and "JAX device: cpu" in log
    fused = read_runs(results / "folds" / "masked+compare" / "runs.json")
    assert {run["pretraining"] for run in fused} == {"all"}
    compare = np.load(results / "compare" / "functionals.npy")
    assert compare.shape == (48, 6373) and not np.isinf(compare).any()
    names = (results / "compare" / "feature_names.txt").read_text().splitlines()
    assert len(names) == 6373 and names[0] == "audspec_lengthL1norm_sma_range"
    assert "functionals[corpus=demo,functionals=compare]" in read_record(
        results / "compare" / "functionals.npy"
    )
    assert np.load(results / "egemaps" / "functionals.npy").shape == (48, 88)
    assert "ms of openSMILE per second of audio" in (results / "logs" / "compare.log").read_text()
    # The external column: checked, its extra id ignored, its files recorded.
    run = read_runs(results / "folds" / "ext" / "runs.json")[0]
    assert run["pretraining"] == "external" and run["external_vectors"]["utterances"] == 48
    assert read_record(results / "folds" / "ext" / "runs.json")[
        "vector_runs[corpus=demo,vector_method=ext]"
    ]["external"] == {"ids": "external/ext.txt", "path": "external/ext.npy"}
    log = (results / "logs" / "folds" / "ext.log").read_text()
    assert "1 of its 49 ids are not in the manifest and are ignored: not-in-the-manifest" in log
    # The HTML twin that the Snakemake report shows, with the Markdown's provenance record.
    page = (results / "tables" / "table2.html").read_text(encoding="utf-8")
    assert "<table>" in page and "<td>WA</td>" in page and '<meta charset="utf-8">' in page
    record = read_record(results / "tables" / "table2.md")
    assert record and read_record(results / "tables" / "table2.html") == record
    page = (results / "report.html").read_text(encoding="utf-8")
    assert "<h2>Table 2: leave-one-session-out classification</h2>" in page
    report = (results / "report.md").read_text()
    for heading in (
        "## Table 1",
        "## Table 2",
        "## Separation",
        "## Wall time and memory per stage",
        "## Rejected files",
        "## Software",
    ):
        assert heading in report
    assert "figures/figure1.png" in report
    assert re.search(
        r"the best learned column, .* (beats|is below|is not distinguishable from) the best "
        r"hand-crafted column, (eGeMAPS|ComParE 2016) softmax",
        report,
    )
    assert "Wall time of the run: " in report and "s of job time in all" in report
    # Settings come from the outputs' records: the spectrograms the tables were made of.
    settings = report.split("\n## Settings\n", 1)[1]
    assert "pretrain_layer:" in settings and "n_bins: 128" in settings


@pytest.mark.workflow
def test_the_exported_bundle_gives_the_workflows_numbers_without_snakemake(tiny_run):
    from affectrep.use.bundle import Bundle

    results = tiny_run / "results" / "demo"
    bundle = Bundle.load(results / "export" / "tied-fft128-c5")
    codes = np.load(results / "codes" / "tied-fft128-c5.npy")
    pooled = np.load(results / "pooled" / "tied-fft128-c5.npy")
    vectors = np.load(results / "utterances" / "tied-fft128-c5.npy")
    _, index = _load_frames(results / "features" / "fft128")
    path_of = {row.id: row.path for row in read_manifest(results / "manifest.tsv")}
    for position in (0, 17, 40):
        path = path_of[index.ids[position]]
        start, length = index.offsets[position], index.lengths[position]
        # Windows longer than any utterance: each file is read whole, as the workflow reads it.
        np.testing.assert_allclose(
            bundle.embed(path, "frames", window_s=60), codes[start : start + length], atol=2e-5
        )
        np.testing.assert_allclose(
            bundle.embed(path, "pooled", window_s=60), pooled[position], atol=2e-5
        )
        np.testing.assert_allclose(
            bundle.embed(path, "blstm", window_s=60), vectors[position], atol=2e-5
        )
    # A speaker's files give the statistics the workflow normalises that speaker with
    # (`features.normalization: speaker`; `affectrep embed --one-speaker`).
    with np.load(results / "features" / "fft128" / "stats.npz") as stats:
        speaker = str(stats["speakers"][1])
        files = [path_of[i] for i, s in zip(index.ids, index.speakers, strict=True) if s == speaker]
        mean, std = bundle.speaker_statistics(files, window_s=60)
        np.testing.assert_allclose(mean, stats["speaker_mean"][1], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(std, stats["speaker_std"][1], rtol=1e-5, atol=1e-5)
    card = (results / "export" / "tied-fft128-c5" / "MODEL_CARD.md").read_text()
    assert "trained on corpus demo" in card and "emotion UA %" in card
    assert "activation CCC" in card
    assert "### Settings" not in card and "## Settings" in card and "widths:" in card
    config = yaml.safe_load((results / "export" / "tied-fft128-c5" / "config.yaml").read_text())
    assert config["features[corpus=demo,spec=fft128]"]["spec"]["n_bins"] == 128
    assert (
        config["pretrain_layer[corpus=demo,layer=1,stacked=tied-fft128-c5,without=]"]["settings"][
            "epochs"
        ]
        == 2
    )


@pytest.mark.workflow
def test_the_cli_predicts_new_audio_and_names_the_files_it_cannot_read(tiny_run, tmp_path):
    import soundfile as sf

    bundle = tiny_run / "results" / "demo" / "export" / "tied-fft128-c5"
    t = np.arange(int(44_100 * 5.3)) / 44_100  # 5.3 s, stereo, 44.1 kHz: not a corpus file
    voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    sf.write(tmp_path / "new.wav", np.stack([voice, 0.5 * voice], axis=1), 44_100)
    (tmp_path / "broken.wav").write_text("not audio")
    command = [sys.executable, "-m", "affectrep.use.cli"]
    process = subprocess.run(
        [
            *command,
            "predict",
            str(bundle),
            str(tmp_path / "broken.wav"),
            str(tmp_path / "new.wav"),
            "--out",
            str(tmp_path / "p.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 1  # one file failed, the other was still processed
    assert "broken.wav: not_audio" in process.stderr
    header, row = process.stdout.splitlines()
    assert header.split("\t") == [
        "file",
        "emotion",
        "neutral",
        "anger",
        "sadness",
        "happiness",
        "activation",
        "valence",
    ]
    values = row.split("\t")
    assert values[0].endswith("new.wav")
    assert sum(float(v) for v in values[2:6]) == pytest.approx(1.0, abs=1e-3)
    assert np.isfinite(float(values[6])) and np.isfinite(float(values[7]))
    # Windows of 2 s (the config's window_s is only the CLI default; here the option).
    process = subprocess.run(
        [
            *command,
            "embed",
            str(bundle),
            str(tmp_path / "new.wav"),
            "--level",
            "frames",
            "--window-s",
            "2",
            "--out",
            str(tmp_path / "f.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr
    frames = np.load(tmp_path / "f.npz")
    (name,) = frames.files
    assert frames[name].shape[1] == 16 and 520 <= frames[name].shape[0] <= 530


@pytest.mark.workflow
def test_the_dag_process_never_loads_jax(tiny_run):
    """A dry run of the finished run evaluates every input function and param (the corpus
    checkpoint is done) in the one process that builds the DAG: JAX is never imported there
    (it would be configured before any script could configure it)."""
    watch = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('loaded:', [m for m in ('jax', 'jaxlib', 'flax', "
        "'optax') if m in sys.modules]))\n"
        "sys.argv[0] = 'snakemake'\n"
        "runpy.run_module('snakemake', run_name='__main__')\n"
    )
    (tiny_run / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    process = subprocess.run(
        [
            sys.executable,
            "-c",
            watch,
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tiny_run),
            "--configfile",
            str(tiny_run / "tiny.yaml"),
            "--cores",
            "2",
            "-n",
            "all",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Nothing to be done" in process.stdout + process.stderr
    assert process.stdout.strip().splitlines()[-1] == "loaded: []"


@pytest.mark.workflow
def test_scripts_import_the_library_from_src_without_an_install(tmp_path):
    """With a Python that has the dependencies but not affectrep (no editable install), the
    Snakefile puts src/ on its own sys.path and Snakemake hands that path to every script:
    the corpus rules run, and no script needs a path of its own."""
    site = next(
        path
        for path in sys.path
        if path.endswith("site-packages") and (Path(path) / "snakemake").is_dir()
    )
    bare = tmp_path / "bare"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=120
    )
    python = bare / "bin" / "python"
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    own_site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies as plain path entries: the `.pth` files there (the editable install of
    # affectrep among them) are not read.
    (Path(own_site) / "dependencies.pth").write_text(site + "\n")
    probe = subprocess.run(
        [str(python), "-c", "import snakemake, numpy; import affectrep"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert "No module named 'affectrep'" in probe.stderr  # affectrep is not installed there
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    process = subprocess.run(
        [
            str(python),
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(workdir),
            "--configfile",
            str(workdir / "tiny.yaml"),
            "--cores",
            "2",
            "results/demo/manifest.tsv",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert process.returncode == 0, process.stderr[-5000:]
    assert len(read_manifest(workdir / "results" / "demo" / "manifest.tsv")) == 48


@pytest.mark.workflow
def test_the_html_report_shows_every_table_inline(tiny_run, tmp_path):
    """`snakemake --report` shows HTML inline and only offers other files for download: every
    table, the model card and the run report are in it as HTML pages holding their tables
    (the run report: at least Tables 1 and 2, separation, dimensional, cross-corpus, card)."""
    process = snakemake(tiny_run, "all", "--report", str(tmp_path / "report.html"))
    assert process.returncode == 0, process.stderr[-3000:]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    results = json.loads(re.search(r"var results = (\{.*?\});\n", page, re.S).group(1))
    tables = {
        "results/demo/tables/table1.html": 1,
        "results/demo/tables/table2.html": 1,
        "results/demo/tables/separation.html": 1,
        "results/demo/tables/dimensional.html": 1,
        "results/demo/export/tied-fft128-c5/MODEL_CARD.html": 1,
        "results/cross_corpus/tied-fft128-c5.html": 1,
        "results/demo/report.html": 6,
    }
    assert set(tables) <= set(results)
    for path, count in tables.items():
        assert results[path]["mime_type"] == "text/html", path
        head, _, data = results[path]["data_uri"].partition(",")
        assert head.startswith("data:text/html") and head.endswith(";base64"), path
        assert base64.b64decode(data).decode("utf-8").count("<table>") >= count, path
    # Nothing is only a download: every entry is a page or a picture.
    assert {entry["mime_type"] for entry in results.values()} == {"text/html", "image/png"}


@pytest.mark.workflow
def test_dimensional_table_and_cross_corpus_matrix(tiny_run):
    results = tiny_run / "results"
    dimensional = (results / "demo" / "tables" / "dimensional.tsv").read_text().splitlines()
    assert dimensional[0].split("\t") == [
        "representation",
        "activation CCC",
        "activation r",
        "valence CCC",
        "valence r",
        "runs",
    ]
    assert len(dimensional) == 7 and all(line.endswith("\t6") for line in dimensional[1:])
    assert {line.split("\t")[0] for line in dimensional[1:]} >= {
        "masked spectrogram model, pooled statistics",
        "eGeMAPS functionals",
        "ComParE 2016 functionals",
        "ext (external vectors)",
    }
    cells = json.loads((results / "cross_corpus" / "tied-fft128-c5.json").read_text())["cells"]
    assert {(c["train"], c["test"]) for c in cells} == {
        (a, b) for a in ("demo", "other", "all-corpora") for b in ("demo", "other")
    }
    assert all(0.0 <= c["unweighted_accuracy"] <= 1.0 for c in cells)
    assert (results / "other" / "codes-from-demo" / "tied-fft128-c5.npy").exists()
    # Pretrained on both corpora at once: every frame of both, ids prefixed with the corpus.
    combined = (results / "all-corpora" / "features" / "fft128" / "index.tsv").read_text()
    demo_frames = np.load(results / "demo" / "features" / "fft128" / "frames.npy", mmap_mode="r")
    other = np.load(results / "other" / "features" / "fft128" / "frames.npy", mmap_mode="r")
    both = np.load(results / "all-corpora" / "features" / "fft128" / "frames.npy", mmap_mode="r")
    assert both.shape[0] == demo_frames.shape[0] + other.shape[0]
    np.testing.assert_array_equal(both[-5:], other[-5:])
    assert "\ndemo/Ses01F" in combined and "\nother/Ses01F" in combined
    report = (results / "demo" / "report.md").read_text()
    for heading in (
        "## Activation and valence",
        "## Cross-corpus",
        "## Model bundle tied-fft128-c5",
    ):
        assert heading in report


def _changed(path: str, value) -> dict:
    """TINY with one setting (dotted path) changed."""
    config = copy.deepcopy(TINY)
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return config


def _reversed_keys(value):
    if isinstance(value, dict):
        return {key: _reversed_keys(value[key]) for key in reversed(list(value))}
    return value


def _planned(workdir: Path, config: dict, *extra: str) -> dict[str, int]:
    """Jobs per rule that a dry run of `all` plans (empty: nothing to be done)."""
    process = snakemake(workdir, "all", "-n", "--quiet", "rules", *extra, config=config)
    assert process.returncode == 0, process.stderr[-3000:]
    lines = (process.stdout + process.stderr).splitlines()
    if not any(line.startswith("job ") for line in lines):
        assert "Nothing to be done" in process.stdout + process.stderr
        return {}
    start = next(i for i, line in enumerate(lines) if line.startswith("job "))
    counts = {}
    for line in lines[start + 2 :]:
        name, count = line.split()
        if name == "total":
            return counts
        counts[name] = int(count)
    raise AssertionError("no job total in the dry run")


@pytest.fixture(scope="module")
def settled_copy(tiny_run, tmp_path_factory):
    """The finished tiny run copied (modification times and Snakemake's metadata kept), for
    tests that change settings and rebuild without disturbing the other tests."""
    target = tmp_path_factory.mktemp("settled") / "run"
    shutil.copytree(tiny_run, target, symlinks=True)
    return target


@pytest.mark.workflow
def test_each_setting_reruns_exactly_its_dependents(settled_copy):
    # Keys in another order and equal values spelt otherwise (10.0 for 10) change nothing.
    same = _reversed_keys(copy.deepcopy(TINY))
    same["features"] = {"hop_ms": 10.0, "window_ms": 20}
    same["autoencoders"]["learning_rate"] = 0.001
    assert _planned(settled_copy, same) == {}
    # A spectrogram: that spectrogram's features and what is made of them, nothing else.
    mel = {"kind": "mel", "n_fft": 1024, "n_mels": 24, "fmin": 0, "fmax": 8000}
    planned = _planned(settled_copy, _changed("features.spectrograms", {"logmel40": mel}))
    assert planned["features"] == 1 and planned["validate_baseline"] == 1
    assert planned["pretrain_layer"] == 2 and planned["train_deep"] == 1  # the two mel models
    # ... and the masked model, which reads log-mel frames: its two columns' runs.
    assert planned["masked_pretrain"] == 1 and planned["masked_embed"] == 1
    assert planned["vector_runs"] == 2
    assert not {"corpus", "functionals", "mlp_runs", "export", "pool_codes"} & set(planned)
    # The audio policy: the corpus (a checkpoint: what follows it is planned once it ran).
    planned = _planned(settled_copy, _changed("audio.min_duration_s", 2.0))
    assert planned["corpus"] == 1 and planned["features"] == 3
    # Autoencoder training: every model and what uses it, not the features or eGeMAPS.
    planned = _planned(settled_copy, _changed("autoencoders.epochs", 3))
    assert planned["pretrain_layer"] == 8 and planned["mlp_runs"] == 1  # pretrained MLP only
    assert not {"corpus", "features", "functionals", "validate_baseline"} & set(planned)
    # The BLSTM: its vectors and their uses.
    planned = _planned(settled_copy, _changed("representations.blstm.epochs", 3))
    assert planned == {
        "blstm_ae": 2,
        "tsne": 2,
        "figure": 1,
        "training_curves": 1,
        "separation": 1,
        "vector_runs": 1,
        "table2": 1,
        "dimensional": 1,
        "export": 1,
        "report": 1,
        "all": 1,
    }
    # The code layer: every model's codes (the demo's three models, and the cross-corpus
    # corpus's encoder) and what reads them; no autoencoder is trained again.
    planned = _planned(settled_copy, _changed("representations.code_layer", 1))
    assert planned["encode"] == 4 and planned["blstm_ae"] == 2 and planned["pool_codes"] >= 1, (
        planned
    )
    assert {"validate", "tsne", "separation", "export", "dimensional", "table2"} <= set(planned)
    assert not {
        "corpus",
        "features",
        "functionals",
        "pretrain_layer",
        "train_deep",
        "mlp_runs",
        "masked_pretrain",
        "validate_baseline",
    } & set(planned)
    # The masked model: its vectors, its two columns, the dimensional row and its curve.
    planned = _planned(settled_copy, _changed("representations.masked.mask_ratio", 0.3))
    assert planned == {
        "masked_pretrain": 1,
        "masked_embed": 1,
        "vector_runs": 2,
        "table2": 1,
        "dimensional": 1,
        "training_curves": 1,
        "report": 1,
        "all": 1,
    }
    # The MLPs: their runs and Table 2.
    planned = _planned(settled_copy, _changed("classification.mlp.max_epochs", 3))
    assert planned == {"mlp_runs": 2, "table2": 1, "report": 1, "all": 1}
    # Use: the bundle (and the report that shows its card).
    planned = _planned(settled_copy, _changed("use.window_s", 3.0))
    assert planned == {"export": 1, "report": 1, "all": 1}
    # An openSMILE set that no Table 2 column uses is computed for no other output (the
    # dimensional table's rows follow the columns): with its files gone and the dimensional
    # table to be made again, only the config that lists ComParE plans it.
    compare = settled_copy / "results" / "demo" / "compare"
    aside = settled_copy / "compare-aside"
    shutil.move(compare, aside)
    methods = [m for m in TINY["classification"]["methods"] if "compare" not in m.split("+")]
    again = ("--forcerun", "dimensional")
    planned = _planned(settled_copy, _changed("classification.methods", methods), *again)
    assert "functionals" not in planned and planned["dimensional"] == 1
    assert _planned(settled_copy, TINY, *again)["functionals"] == 1
    shutil.move(aside, compare)
    # New external vectors (the files are inputs; Snakemake compares their checksums, so
    # new content, not a new modification time): their column and row, nothing else.
    vectors = settled_copy / "external" / "ext.npy"
    np.save(vectors, 2 * np.load(vectors))
    planned = _planned(settled_copy, TINY)
    assert planned == {"vector_runs": 1, "table2": 1, "dimensional": 1, "report": 1, "all": 1}


def _untimed(value):
    """A run's record without its timings (seconds, frames per second), which vary."""
    if isinstance(value, dict):
        return {
            key: _untimed(item)
            for key, item in value.items()
            if key != "seconds" and not key.endswith("_per_s")
        }
    if isinstance(value, list):
        return [_untimed(item) for item in value]
    return value


@pytest.mark.workflow
def test_a_job_per_fold_makes_the_same_runs(settled_copy):
    """`classification.fold_jobs: fold` (a cluster spreads the folds over its nodes) gives
    each run its own job and file; they are the runs of one job per column, to the digit."""
    results = settled_copy / "results" / "demo"
    config = _changed("classification.fold_jobs", "fold")
    config["classification"]["methods"] = ["pretrained-mlp", "masked+compare"]
    process = snakemake(settled_copy, "results/demo/tables/table2.md", config=config)
    assert process.returncode == 0, process.stderr[-3000:]
    for method in ("pretrained-mlp", "masked+compare"):  # (an earlier test changed `ext`)
        together = read_runs(results / "folds" / method / "runs.json")
        for run in together:
            alone = json.loads((results / "folds" / method / f"{run['fold']}.json").read_text())
            assert alone.pop("provenance")
            assert _untimed(alone) == _untimed(run), (method, run["fold"])
    record = read_record(results / "tables" / "table2.md")
    assert "fold_mlp[corpus=demo,fold=Ses01-Ses01F,mlp_method=pretrained-mlp]" in record
    assert not any(job.startswith(("mlp_runs", "vector_runs")) for job in record)
    assert (results / "benchmarks" / "folds" / "pretrained-mlp_Ses01-Ses01F.tsv").is_file()


@pytest.mark.workflow
def test_rebuilt_outputs_reflect_the_changed_settings(settled_copy):
    results = settled_copy / "results" / "demo"
    # A killed feature job's temporaries are removed by the next run of the rule.
    mel_dir = results / "features" / "logmel40"
    (mel_dir / "frames-raw.tmp-4242.f32").write_bytes(b"x" * 100)
    (mel_dir / "frames.tmp-4242.npy").write_bytes(b"x" * 100)
    mel = {"kind": "mel", "n_fft": 1024, "n_mels": 24, "fmin": 0, "fmax": 8000}
    target = "results/demo/validation/softmax-logmel40-c1.json"
    process = snakemake(
        settled_copy, target, config=_changed("features.spectrograms", {"logmel40": mel})
    )
    assert process.returncode == 0, process.stderr[-3000:]
    frames, _ = _load_frames(mel_dir)
    assert frames.shape[1] == 24
    assert sorted(p.name for p in mel_dir.iterdir()) == ["frames.npy", "index.tsv", "stats.npz"]
    result = json.loads((settled_copy / target).read_text())
    assert result["architecture"] == [24, 4]
    record = result["provenance"]["features[corpus=demo,spec=logmel40]"]
    assert record["spec"]["n_mels"] == 24
    # The hop: half as many frames, recorded in the feature set.
    _, before = _load_frames(results / "features" / "fft128")
    process = snakemake(
        settled_copy,
        "results/demo/features/fft128/frames.npy",
        config=_changed("features.hop_ms", 20),
    )
    assert process.returncode == 0, process.stderr[-3000:]
    _, after = _load_frames(results / "features" / "fft128")
    assert abs(after.n_frames - before.n_frames / 2) < 0.02 * before.n_frames
    stats = np.load(results / "features" / "fft128" / "stats.npz")
    assert (
        json.loads(str(stats["provenance"]))["features[corpus=demo,spec=fft128]"]["spec"]["hop_ms"]
        == 20
    )
    # The audio policy: shorter files are rejected now.
    process = snakemake(
        settled_copy, "results/demo/manifest.tsv", config=_changed("audio.min_duration_s", 2.0)
    )
    assert process.returncode == 0, process.stderr[-3000:]
    rows = read_manifest(results / "manifest.tsv")
    assert rows and all(row.duration_s >= 2.0 for row in rows) and len(rows) < 48
    record = json.loads((results / "manifest.json").read_text())["provenance"]
    assert record["corpus[corpus=demo]"]["policy"]["min_duration_s"] == 2


@pytest.mark.workflow
def test_rerun_does_nothing_and_one_target_can_be_rebuilt(tiny_run):
    dry = snakemake(tiny_run, "-n", "all")
    assert dry.returncode == 0
    assert "Nothing to be done" in dry.stdout + dry.stderr
    target = "results/demo/validation/softmax-logmel40-c1.json"
    forced = snakemake(tiny_run, "--forcerun", "validate_baseline", target)
    assert forced.returncode == 0, forced.stderr[-3000:]


@pytest.mark.workflow
def test_strict_pretraining_trains_an_encoder_without_the_held_out_session(tiny_run):
    strict = {**TINY, "classification": {**TINY["classification"], "pretraining": "train"}}
    target = "results/demo/folds/pretrained-mlp/Ses02-Ses02M.json"
    masked = "results/demo/folds/masked/Ses02-Ses02M.json"
    # ... and the column's runs in one job, each from its own fold's encoder.
    column = "results/demo/folds/pretrained-mlp/runs.json"
    process = snakemake(
        tiny_run, "--forcerun", "fold_mlp", "fold_vectors", target, masked, column, config=strict
    )
    assert process.returncode == 0, process.stderr[-3000:]
    alone = json.loads((tiny_run / target).read_text())
    (together,) = [r for r in read_runs(tiny_run / column) if r["fold"] == "Ses02-Ses02M"]
    assert _untimed(together) == _untimed({k: v for k, v in alone.items() if k != "provenance"})
    encoders = read_record(tiny_run / column)["mlp_runs[corpus=demo,mlp_method=pretrained-mlp]"]
    assert encoders["encoders"]["Ses02-Ses02M"].endswith(
        "models-without-Ses02/tied-fft128-c5/encoder.npz"
    )
    assert encoders["encoders"]["Ses01-Ses01F"].endswith(
        "models-without-Ses01/tied-fft128-c5/encoder.npz"
    )
    model = tiny_run / "results" / "demo" / "masked-without-Ses02" / "model.npz"
    assert json.loads(str(np.load(model)["meta"]))["excluded_session"] == "Ses02"
    assert json.loads((tiny_run / masked).read_text())["pretraining"] == "train"
    encoder = tiny_run / "results" / "demo" / "models-without-Ses02" / "tied-fft128-c5"
    meta = json.loads(str(np.load(encoder / "encoder.npz")["meta"]))
    layer1 = json.loads(str(np.load(encoder / "layer1.npz")["meta"]))
    assert layer1["excluded_session"] == "Ses02"
    assert meta["excluded_session"] == "Ses02"
    result = json.loads((tiny_run / target).read_text())
    assert result["pretraining"] == "train"


def test_pretraining_on_every_corpus_feeds_every_learned_column(tiny_run):
    joint = {**TINY, "classification": {**TINY["classification"], "pretraining": "corpora"}}
    targets = [
        "results/demo/folds/pretrained-mlp/Ses02-Ses02M.json",
        "results/demo/folds/pooled/Ses02-Ses02M.json",
        "results/demo/folds/blstm/Ses02-Ses02M.json",
        "results/demo/folds/masked/Ses02-Ses02M.json",
    ]
    process = snakemake(tiny_run, "--forcerun", "fold_mlp", "fold_vectors", *targets, config=joint)
    assert process.returncode == 0, process.stderr[-3000:]
    for target in targets:
        result = json.loads((tiny_run / target).read_text())
        assert result["pretraining"] == "corpora", target
    record = read_record(tiny_run / targets[0])
    assert any(job.startswith("pretrain_layer") and "all-corpora" in job for job in record)
    assert (tiny_run / "results/demo/utterances-from-all-corpora/tied-fft128-c5.npy").exists()
    assert (tiny_run / "results/demo/pooled-from-all-corpora/tied-fft128-c5.npy").exists()
    assert (tiny_run / "results/all-corpora/masked/model.npz").exists()
    assert (tiny_run / "results/demo/masked-from-all-corpora/vectors.npy").exists()


@pytest.mark.workflow
def test_a_bad_config_key_stops_the_run_naming_it(tmp_path):
    bad = {**TINY, "features": {"hop_ms": 10, "windw": "hann"}}
    process = snakemake(tmp_path, "-n", "all", config=bad)
    assert process.returncode != 0
    output = process.stdout + process.stderr
    assert "config key features: Additional properties" in output
    assert "'windw' was unexpected" in output


def _table_corpus(tmp_path: Path) -> Path:
    """A CSV corpus: two good files (each read for two speakers, so that both classes have
    speakers in both speaker groups), one silent and one that is not audio at all."""
    import soundfile as sf

    audio = tmp_path / "audio"
    audio.mkdir()
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)
    sf.write(audio / "good.wav", tone, 16000)
    sf.write(audio / "good2.wav", np.stack([tone, 0.5 * tone], axis=1), 44100)
    sf.write(audio / "silent.wav", np.zeros(16000), 16000)
    (audio / "broken.wav").write_bytes(b"RIFF but not really a wave file")
    table = tmp_path / "corpus.csv"
    table.write_text(
        "id,path,speaker,emotion\n"
        "good,audio/good.wav,s1,angry\n"
        "good2,audio/good2.wav,s4,happy\n"
        "good3,audio/good.wav,s2,angry\n"
        "good4,audio/good2.wav,s3,happy\n"
        "silent,audio/silent.wav,s2,sad\n"
        "broken,audio/broken.wav,s3,neutral\n"
    )
    return table


@pytest.mark.workflow
def test_bad_audio_is_listed_with_its_reason_or_stops_a_strict_run(tmp_path):
    table = _table_corpus(tmp_path)
    config = {"run": ["mine"], "corpora": {"mine": {"reader": "table", "root": str(table)}}}
    process = snakemake(tmp_path, "results/mine/manifest.tsv", config=config)
    assert process.returncode == 0, process.stderr[-3000:]
    rows = read_manifest(tmp_path / "results" / "mine" / "manifest.tsv")
    assert [r.id for r in rows] == ["good", "good2", "good3", "good4"]
    rejected = (tmp_path / "results" / "mine" / "rejected.tsv").read_text().splitlines()[1:]
    reasons = {Path(line.split("\t")[0]).name: line.split("\t")[1] for line in rejected}
    assert reasons == {"silent.wav": "silent", "broken.wav": "not_audio"}

    strict = {**config, "audio": {"strict": True}}
    process = snakemake(tmp_path, "--forceall", "results/mine/manifest.tsv", config=strict)
    assert process.returncode != 0
    log = (tmp_path / "results" / "mine" / "logs" / "corpus.log").read_text()
    assert "silent.wav" in log or "broken.wav" in log


@pytest.mark.workflow
def test_a_table_corpus_with_its_own_codes_needs_an_emotion_map(tmp_path):
    """The corpus step of a table corpus with raw codes: without `emotion_map` it stops,
    listing the raw labels; with it the manifest has the four classes, read from channel 1
    of the stereo files, and its record carries no IEMOCAP keys."""
    import soundfile as sf

    codes = {"neu": "neutral", "rab": "anger", "tri": "sadness", "gio": "happiness"}
    lines = ["path,speaker,emotion,gender"]
    t = np.arange(24000) / 48000
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.1 * np.sin(2 * np.pi * 330 * t)], 1)
    for actor, gender in (("f1", "F"), ("f2", "F"), ("m1", "M"), ("m2", "M")):
        for code in codes:
            sf.write(tmp_path / f"{actor}_{code}.wav", stereo, 48000)
            lines.append(f"{actor}_{code}.wav,{actor},{code},{gender}")
    (tmp_path / "it.csv").write_text("\n".join(lines) + "\n")
    corpus = {"reader": "table", "root": str(tmp_path / "it.csv")}
    config = {"run": ["it"], "corpora": {"it": corpus}, "audio": {"channel": 1}}
    process = snakemake(tmp_path, "results/it/manifest.tsv", config=config)
    assert process.returncode != 0
    log = (tmp_path / "results" / "it" / "logs" / "corpus.log").read_text()
    assert "1 of the four classes (neutral) has labelled utterances" in log
    assert "gio 4 (other), neu 4 (neutral), rab 4 (other), tri 4 (other)" in log
    assert not (tmp_path / "results" / "it" / "manifest.tsv").exists()

    corpus["emotion_map"] = {"rab": "anger", "tri": "sadness", "gio": "happiness"}
    process = snakemake(tmp_path, "results/it/manifest.tsv", config=config)
    assert process.returncode == 0, process.stderr[-3000:]
    rows = read_manifest(tmp_path / "results" / "it" / "manifest.tsv")
    assert sorted({r.emotion for r in rows}) == sorted(codes.values())
    record = json.loads((tmp_path / "results" / "it" / "manifest.json").read_text())
    job = record["provenance"]["corpus[corpus=it]"]
    assert job["policy"]["channel"] == 1
    assert sorted(job["settings"]) == ["emotion_map", "reader", "root", "speaker_groups"]
