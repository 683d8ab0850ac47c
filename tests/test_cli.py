"""The `affectrep` command on a tiny hand-made bundle: where `--out` may write, and every
failure as one line on stderr with exit status 2 (no workflow run)."""

import json
import shlex
import subprocess
import sys
import zipfile
from dataclasses import asdict
from pathlib import Path

import jax
import numpy as np
import pytest
import soundfile as sf

from affectrep.data.pytree_io import save_tree
from affectrep.data.spectrogram import SpectrogramSpec
from affectrep.models.blstm import init_blstm
from affectrep.protocol.heads import fit_dimension, fit_emotion, head_arrays
from affectrep.use.cli import PREDICT_COLUMNS, main

MODEL = "tied-fft16-c3"
N_BINS, CONTEXT, CODES = 16, 3, 4
PREDICT_HEADER = ",".join(PREDICT_COLUMNS)


def _write_bundle(
    folder: Path,
    *,
    encoder_in: int = N_BINS * CONTEXT,
    coef_width: int = 2 * CODES,
    normalization: str = "global",
) -> Path:
    """The files `write_bundle` writes, with random weights of the right (or given) shapes."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    spec = SpectrogramSpec(name="fft16", kind="fft", n_fft=512, n_bins=N_BINS)
    np.savez(
        folder / "features.npz",
        mean=np.zeros(N_BINS, np.float32),
        std=np.ones(N_BINS, np.float32),
        normalization=np.array(normalization),
        spec=np.array(json.dumps(asdict(spec))),
    )
    encoder = [
        {"W": rng.normal(0, 0.1, (encoder_in, 8)).astype(np.float32), "b": np.zeros(8, np.float32)},
        {"W": rng.normal(0, 0.1, (8, CODES)).astype(np.float32), "b": np.zeros(CODES, np.float32)},
    ]
    save_tree(folder / "encoder.npz", {"encoder": encoder}, {"model": MODEL})
    blstm = jax.tree_util.tree_map(np.asarray, init_blstm(jax.random.PRNGKey(0), CODES, 4))
    save_tree(folder / "blstm.npz", blstm, {"settings": {"pooling": "mean"}})
    x = rng.normal(size=(60, coef_width))
    heads = head_arrays(fit_emotion(x, np.arange(60) % 4, 1.0), "emotion")
    heads |= head_arrays(fit_dimension(x, x[:, 0], 1.0), "activation")
    heads |= head_arrays(fit_dimension(x, x[:, 1], 1.0), "valence")
    np.savez(folder / "heads.npz", **heads)
    info = {
        "format": 1,
        "model": MODEL,
        "context": CONTEXT,
        "classes": ["neutral", "anger", "sadness", "happiness"],
        "blstm": True,
        "dimensions": ["activation", "valence"],
        "window_s": 30.0,
    }
    (folder / "bundle.json").write_text(json.dumps(info))
    return folder


def _voice(
    path: Path, seconds: float = 1.0, rate: int = 16_000, pitch: float = 180.0, **kwargs
) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, 0.3 * np.sin(2 * np.pi * pitch * t) * (1 + 0.5 * np.sin(6 * t)), rate, **kwargs)
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return _write_bundle(tmp_path_factory.mktemp("bundle") / "tied-fft16-c3")


@pytest.fixture
def wav(tmp_path) -> Path:
    return _voice(tmp_path / "a.wav")


def _run(capsys, *argv) -> tuple[int, str, list[str]]:
    """main()'s exit status (argparse's too), stdout and the lines of stderr."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as stop:
        status = stop.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err.splitlines()


def test_a_tiny_bundle_predicts_and_embeds(bundle, wav, tmp_path, capsys):
    status, out, err = _run(capsys, "predict", bundle, wav, "--out", tmp_path / "p.csv")
    assert status == 0, err
    header, row = out.splitlines()
    assert header.split("\t") == list(PREDICT_COLUMNS) and row.startswith(str(wav))
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == PREDICT_HEADER
    status, _, err = _run(
        capsys, "embed", bundle, wav, "--level", "blstm", "--out", tmp_path / "v.npy"
    )
    assert status == 0, err
    assert np.load(tmp_path / "v.npy").shape == (1, 4)


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_out_never_replaces_an_input(bundle, wav, tmp_path, capsys, force):
    before = wav.read_bytes()
    status, out, err = _run(capsys, "predict", bundle, wav, "--out", wav, *force)
    assert status == 2 and len(err) == 1 and wav.read_bytes() == before
    # An input whose name has the output's suffix (or is reached through a link) as well.
    disguised = _voice(tmp_path / "clip.csv", format="WAV")
    link = tmp_path / "link.csv"
    link.symlink_to(disguised)
    before = disguised.read_bytes()
    for target in (disguised, link):
        status, out, err = _run(capsys, "predict", bundle, disguised, "--out", target, *force)
        assert status == 2 and len(err) == 1 and "input" in err[0], err
        assert disguised.read_bytes() == before and link.is_symlink()
    # The bundle's own files are inputs too.
    heads = (bundle / "heads.npz").read_bytes()
    status, _, err = _run(
        capsys, "embed", bundle, wav, "--level", "frames", "--out", bundle / "heads.npz", *force
    )
    assert status == 2 and len(err) == 1 and (bundle / "heads.npz").read_bytes() == heads


@pytest.mark.parametrize(
    ("command", "name"),
    [
        ("predict", "notes.csv"),
        ("embed", "codes.csv"),
        ("embed", "vectors.npy"),
        ("embed", "frames.npz"),
    ],
)
def test_out_refuses_an_unrelated_existing_file_unless_forced(
    bundle, wav, tmp_path, capsys, command, name
):
    target = tmp_path / name
    target.write_text("file,something else\nmine,1\n")
    level = ["--level", "frames"] if name.endswith(".npz") else []
    status, out, err = _run(capsys, command, bundle, wav, "--out", target, *level)
    assert status == 2 and len(err) == 1 and "--force" in err[0] and out == ""
    assert target.read_text() == "file,something else\nmine,1\n"
    status, _, err = _run(capsys, command, bundle, wav, "--out", target, *level, "--force")
    assert status == 0, err
    assert target.read_bytes() != b"file,something else\nmine,1\n"


def test_out_replaces_an_earlier_output_of_the_same_kind(bundle, wav, tmp_path, capsys):
    other = _voice(tmp_path / "b.wav", seconds=1.5)
    predictions, codes, frames = tmp_path / "p.csv", tmp_path / "c.csv", tmp_path / "f.npz"
    for audio in (wav, other):  # the second run replaces the first one's files
        assert _run(capsys, "predict", bundle, audio, "--out", predictions)[0] == 0
        assert _run(capsys, "embed", bundle, audio, "--out", codes)[0] == 0
        assert _run(capsys, "embed", bundle, audio, "--level", "frames", "--out", frames)[0] == 0
    assert str(other) in predictions.read_text() and str(wav) not in predictions.read_text()
    assert codes.read_text().startswith("file,pooled_0,pooled_1,")
    assert str(other) in codes.read_text()
    assert _run(capsys, "embed", bundle, wav, "--level", "blstm", "--out", codes)[0] == 0
    with zipfile.ZipFile(frames) as archive:
        assert archive.comment == b"affectrep embed"
    (name,) = np.load(frames).files  # the mark is no array
    assert name.endswith("b.wav")
    # Another command's (or format's) output is not an earlier output of this one.
    status, _, err = _run(capsys, "predict", bundle, wav, "--out", codes)
    assert status == 2 and len(err) == 1 and "--force" in err[0]
    status, _, err = _run(capsys, "embed", bundle, wav, "--out", predictions)
    assert status == 2 and len(err) == 1 and "--force" in err[0]


@pytest.mark.parametrize("name", ["p.xlsx", "p.tsv", "p"])
def test_predict_out_accepts_only_csv(bundle, wav, tmp_path, capsys, name):
    status, out, err = _run(capsys, "predict", bundle, wav, "--out", tmp_path / name)
    assert status == 2 and len(err) == 1 and ".csv" in err[0] and out == ""
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "-0", "abc"])
def test_window_s_must_be_finite_and_positive(bundle, wav, capsys, value):
    status, out, err = _run(capsys, "predict", bundle, wav, f"--window-s={value}")
    assert status == 2 and len(err) == 1 and "--window-s" in err[0], err
    assert err[0].startswith("affectrep: ") and out == ""


def test_window_s_shorter_than_a_spectrogram_window_is_refused(bundle, wav, capsys):
    status, _, err = _run(capsys, "predict", bundle, wav, "--window-s", "0.001")
    assert status == 2 and len(err) == 1 and "spectrogram window" in err[0]


@pytest.mark.parametrize(
    "name", ["encoder.npz", "heads.npz", "blstm.npz", "features.npz", "bundle.json"]
)
@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_a_truncated_bundle_file_is_one_line_and_exit_2(tmp_path, wav, capsys, name, keep):
    bundle = _write_bundle(tmp_path / "bundle")
    data = (bundle / name).read_bytes()
    (bundle / name).write_bytes(data[: int(len(data) * keep)])
    out = tmp_path / "p.csv"
    status, stdout, err = _run(capsys, "predict", bundle, wav, "--out", out)
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith("affectrep: cannot load bundle") and name in err[0]
    assert stdout == "" and not out.exists()


def test_a_missing_bundle_file_is_named(tmp_path, wav, capsys):
    bundle = _write_bundle(tmp_path / "bundle")
    (bundle / "heads.npz").unlink()
    status, _, err = _run(capsys, "predict", bundle, wav)
    assert status == 2 and err == [f"affectrep: cannot load bundle {bundle}: heads.npz is missing"]


def _reshaped(folder: Path, name: str, key: str, shape: tuple) -> None:
    with np.load(folder / name) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays[key] = np.zeros(shape, arrays[key].dtype)
    np.savez(folder / name, **arrays)


@pytest.mark.parametrize(
    ("name", "key", "shape"),
    [
        ("encoder.npz", "encoder/0/W", (N_BINS * CONTEXT + 1, 8)),  # another spectrogram's
        ("encoder.npz", "encoder/1/W", (7, CODES)),  # does not take layer 0's width
        ("encoder.npz", "encoder/1/b", (CODES + 1,)),
        ("blstm.npz", "forward/W", (CODES + 1, 8)),
        ("blstm.npz", "readout/b", (3,)),
        ("heads.npz", "emotion/coef", (4, 2 * CODES + 2)),
        ("heads.npz", "valence/mean", (3,)),
        ("features.npz", "mean", (N_BINS + 1,)),
    ],
)
def test_arrays_of_the_wrong_shape_are_one_line_and_exit_2(tmp_path, wav, capsys, name, key, shape):
    bundle = _write_bundle(tmp_path / "bundle")
    _reshaped(bundle, name, key, shape)
    status, stdout, err = _run(capsys, "embed", bundle, wav, "--out", tmp_path / "c.csv")
    assert status == 2 and len(err) == 1, err
    assert name in err[0] and key in err[0] and "shape" in err[0]
    assert not (tmp_path / "c.csv").exists()


def test_an_encoder_for_other_frames_fails_at_load(tmp_path, wav, capsys):
    # The whole bundle fits together except that the encoder reads 5 frames, not 3.
    bundle = _write_bundle(tmp_path / "bundle", encoder_in=N_BINS * 5)
    status, _, err = _run(capsys, "predict", bundle, wav)
    assert status == 2 and len(err) == 1
    assert "encoder.npz: encoder/0/W has shape (80, 8)" in err[0] and "(48, n)" in err[0]


def test_bundle_json_that_disagrees_with_the_files_is_refused(tmp_path, wav, capsys):
    bundle = _write_bundle(tmp_path / "bundle")
    info = json.loads((bundle / "bundle.json").read_text())
    (bundle / "bundle.json").write_text(json.dumps(info | {"model": "tied-fft16-c5"}))
    status, _, err = _run(capsys, "predict", bundle, wav)
    assert status == 2 and len(err) == 1 and "bundle.json" in err[0]


def test_bad_audio_is_named_and_skipped_and_the_rest_written(bundle, wav, tmp_path, capsys):
    (tmp_path / "broken.wav").write_text("not audio")
    status, out, err = _run(
        capsys, "predict", bundle, tmp_path / "broken.wav", wav, "--out", tmp_path / "p.csv"
    )
    assert status == 1 and len(err) == 1 and "broken.wav: not_audio" in err[0]
    assert len(out.splitlines()) == 2 and len((tmp_path / "p.csv").read_text().splitlines()) == 2


def test_an_unexpected_error_keeps_the_results_so_far(bundle, wav, tmp_path, capsys, monkeypatch):
    from affectrep.use.bundle import Bundle

    real = Bundle.predict

    def predict(self, path, window_s, statistics=None):
        if Path(path).name == "b.wav":
            raise RuntimeError("out of device memory")
        return real(self, path, window_s, statistics)

    monkeypatch.setattr(Bundle, "predict", predict)
    other = _voice(tmp_path / "b.wav")
    status, out, err = _run(capsys, "predict", bundle, wav, other, wav, "--out", tmp_path / "p.csv")
    assert status == 2 and len(err) == 1
    assert "b.wav" in err[0] and "out of device memory" in err[0] and "1 file(s) not" in err[0]
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 2


def test_an_unwritable_out_is_one_line_and_the_table_still_printed(bundle, wav, tmp_path, capsys):
    (tmp_path / "plain").write_text("a file, not a folder")
    status, out, err = _run(capsys, "predict", bundle, wav, "--out", tmp_path / "plain" / "p.csv")
    assert status == 2 and len(err) == 1 and "cannot write" in err[0]
    assert len(out.splitlines()) == 2


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize("redirect", [">&-", ">/dev/full"])
def test_the_csv_is_written_when_stdout_is_closed_or_full(bundle, wav, tmp_path, redirect):
    if redirect == ">/dev/full" and not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    cli = f"{sys.executable} -m affectrep.use.cli"
    result = _shell(
        f"{cli} predict {shlex.quote(str(bundle))} {shlex.quote(str(wav))} --out p.csv {redirect}",
        tmp_path,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("affectrep: cannot print the table") and "stdout" in line
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == PREDICT_HEADER and lines[1].startswith(str(wav))


def test_the_csv_is_written_when_stdout_is_closed_while_running(bundle, wav, tmp_path):
    code = (
        "import os, sys; os.close(1); from affectrep.use.cli import main; "
        f"sys.exit(main(['predict', {str(bundle)!r}, {str(wav)!r}, '--out', 'p.csv']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert "cannot print the table" in line
    assert (tmp_path / "p.csv").read_text().startswith(PREDICT_HEADER)


def test_one_speaker_normalises_the_files_with_their_own_statistics(bundle, tmp_path, capsys):
    from affectrep.data.spectrogram import spectrogram
    from affectrep.use.bundle import Bundle

    per_speaker = _write_bundle(tmp_path / "speaker" / MODEL, normalization="speaker")
    files = [
        _voice(tmp_path / f"{k}.wav", seconds=0.5 + 0.25 * k, pitch=120.0 + 60 * k)
        for k in range(3)
    ]
    (tmp_path / "bad.wav").write_text("not audio")
    loaded = Bundle.load(per_speaker)
    raw = [spectrogram(sf.read(f, dtype="float32")[0], loaded.spec) for f in files]
    every = np.concatenate(raw).astype(np.float64)
    mean, std = every.mean(axis=0), every.std(axis=0)
    expected = [loaded.codes(((r - mean) / std).astype(np.float32)) for r in raw]

    # A file that cannot be read is named, skipped and left out of the statistics.
    out = tmp_path / "codes.npz"
    argv = ("embed", per_speaker, *files, tmp_path / "bad.wav", "--level", "frames")
    status, _, err = _run(capsys, *argv, "--one-speaker", "--out", out)
    assert status == 1 and any("bad.wav" in line for line in err)
    with np.load(out) as saved:
        codes = [saved[key] for key in sorted(saved.files)]
    assert len(codes) == 3
    for got, want in zip(codes, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

    # Without it: the corpus's global statistics, and a note that says so.
    status, _, err = _run(capsys, *argv, "--out", tmp_path / "global.npz")
    assert status == 1 and any("normalised per speaker" in line for line in err)
    with np.load(tmp_path / "global.npz") as saved:
        assert not np.allclose(saved[sorted(saved.files)[0]], expected[0], atol=1e-3)

    # A corpus normalised globally takes no speaker statistics.
    status, _, err = _run(capsys, "predict", bundle, files[0], "--one-speaker")
    assert status == 2
    assert err == [
        f"affectrep: --one-speaker: {bundle}'s corpus was normalised 'global', not per speaker, "
        "so its codes take no speaker statistics: leave the option out"
    ]


def test_channel_chooses_how_multichannel_files_become_mono(bundle, tmp_path, capsys):
    rate = 16_000
    t = np.arange(rate) / rate
    left, right = 0.3 * np.sin(2 * np.pi * 150 * t), 0.2 * np.sin(2 * np.pi * 400 * t)
    sf.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), rate, subtype="FLOAT")
    sf.write(tmp_path / "right.wav", right, rate, subtype="FLOAT")
    sf.write(tmp_path / "mix.wav", (left + right) / 2, rate, subtype="FLOAT")

    def codes(name, *options):
        out = tmp_path / f"{name}-{len(options)}.npy"
        status, _, err = _run(capsys, "embed", bundle, tmp_path / name, "--out", out, *options)
        assert status == 0, err
        return np.load(out)

    np.testing.assert_allclose(codes("stereo.wav", "--channel", "1"), codes("right.wav"), atol=1e-5)
    np.testing.assert_allclose(codes("stereo.wav"), codes("mix.wav"), atol=1e-5)  # the bundle's
    status, _, err = _run(
        capsys,
        "embed",
        bundle,
        tmp_path / "right.wav",
        "--channel",
        "1",
        "--out",
        tmp_path / "x.npy",
    )
    assert status == 1 and "channel" in err[0] and "right.wav" in err[0]
    status, _, err = _run(capsys, "predict", bundle, tmp_path / "right.wav", "--channel", "left")
    assert status == 2 and "--channel: must be 'mix' or a channel index >= 0, not 'left'" in err[0]
