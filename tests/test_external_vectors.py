"""Bring your own representation: vectors computed elsewhere (`classification.vectors`) are
checked against the manifest before a column is scored on them, and every problem stops the
run with one line that names the file and the problem."""

import json
import logging
import re

import numpy as np
import pytest

from affectrep.data.emotions import CLASSES
from affectrep.data.manifest import Utterance, write_manifest
from affectrep.data.vectors import (
    ExternalVectorsError,
    load_external_vectors,
    read_ids,
    read_vectors,
    sha256_of,
)
from affectrep.stages.classification import fold_vectors
from affectrep.stages.use import dimensional

IDS = [f"u{k}" for k in range(8)]


def _write(tmp_path, x, ids, *, tsv=False):
    """x as vectors.npy, ids one per line (or as a TSV with an `id` column)."""
    np.save(tmp_path / "v.npy", np.asarray(x))
    text = "id\tnote\n" + "".join(f"{i}\tx\n" for i in ids) if tsv else "\n".join(ids) + "\n"
    (tmp_path / "v.txt").write_text(text)
    return tmp_path / "v.npy", tmp_path / "v.txt"


def _load(paths, manifest_ids=IDS, required=None, logger=None):
    return load_external_vectors(*paths, manifest_ids, required=required, logger=logger)


def _refused(paths, pattern, **kwargs):
    with pytest.raises(ExternalVectorsError, match=pattern) as caught:
        _load(paths, **kwargs)
    message = caught.value.args[0]
    assert "\n" not in message and message.startswith("external vectors: ")
    return message


@pytest.mark.parametrize("tsv", [False, True])
def test_vectors_in_either_ids_format_load_in_file_order(tmp_path, tsv):
    x = np.arange(16, dtype=np.float32).reshape(8, 2)
    order = IDS[::-1]
    loaded, ids = _load(_write(tmp_path, x, order, tsv=tsv))
    assert ids == order and loaded.dtype == np.float64
    np.testing.assert_array_equal(loaded, x)


def test_ids_outside_the_manifest_are_ignored_with_a_log_line(tmp_path, caplog):
    x = np.random.default_rng(0).normal(size=(10, 3))
    paths = _write(tmp_path, x, [*IDS[:4], "stranger", *IDS[4:], "other"])
    with caplog.at_level(logging.INFO):
        loaded, ids = _load(paths, logger=logging.getLogger("t"))
    assert ids == IDS and loaded.shape == (8, 3)
    np.testing.assert_array_equal(loaded[4], x[5])
    assert "2 of its 10 ids are not in the manifest and are ignored: stranger, other" in (
        caplog.text
    )
    # Non-finite values in an ignored row do not matter.
    x[4] = np.nan
    assert _load(_write(tmp_path, x, [*IDS[:4], "stranger", *IDS[4:], "other"]))[1] == IDS


@pytest.mark.parametrize("which", ["v.npy", "v.txt"])
def test_a_missing_file_is_named(tmp_path, which):
    paths = _write(tmp_path, np.zeros((8, 2)), IDS)
    (tmp_path / which).unlink()
    _refused(paths, re.escape(f"{tmp_path / which}: no such file"))


def test_required_utterances_without_a_vector_are_listed_and_counted(tmp_path):
    paths = _write(tmp_path, np.zeros((2, 2)), ["u0", "u1"])
    message = _refused(paths, "6 of the 8 utterances evaluated have no vector")
    assert message.endswith("no vector: u2, u3, u4, u5, u6, ...") and str(paths[1]) in message
    # Only the utterances the evaluation uses (e.g. the labelled ones) need a vector.
    assert _load(paths, required=["u1", "u0"])[1] == ["u0", "u1"]


def test_rows_that_do_not_match_the_ids_are_refused(tmp_path):
    paths = _write(tmp_path, np.zeros((7, 2)), IDS)
    _refused(paths, "v.npy has 7 rows but .*v.txt lists 8 ids")


@pytest.mark.parametrize("shape", [(8,), (8, 2, 2), (8, 0)])
def test_an_array_that_is_not_2d_is_refused(tmp_path, shape):
    paths = _write(tmp_path, np.zeros(shape), IDS)
    _refused(paths, re.escape(f"expected a 2-D array (utterances x dimensions), got shape {shape}"))


def test_non_finite_values_name_their_rows(tmp_path):
    x = np.zeros((8, 3))
    x[2, 1] = np.nan
    x[6, 0] = -np.inf
    message = _refused(_write(tmp_path, x, IDS), "NaN or infinite values in 2 rows")
    assert message.endswith("(0-based row, id): 2 (u2), 6 (u6)")


def test_duplicate_ids_are_refused(tmp_path):
    paths = _write(tmp_path, np.zeros((9, 2)), [*IDS, "u3"])
    _refused(paths, r"v.txt: 1 ids are listed more than once: u3$")


def test_a_file_that_is_not_a_numeric_npy_is_refused(tmp_path):
    paths = _write(tmp_path, np.zeros((8, 2)), IDS)
    paths[0].write_text("0.1 0.2\n")
    _refused(paths, "not a NumPy .npy array")
    np.save(paths[0], np.array([["a", "b"]] * 8))
    _refused(paths, "expected numbers, got dtype <U1")


def test_ids_files_that_would_shift_rows_are_refused(tmp_path):
    (tmp_path / "a.txt").write_text("u0\n\nu1\n")
    with pytest.raises(ValueError, match="line 2 is blank"):
        read_ids(tmp_path / "a.txt")
    (tmp_path / "b.tsv").write_text("utt\tspeaker\nu0\ts\n")
    with pytest.raises(ValueError, match="none is called `id`"):
        read_ids(tmp_path / "b.tsv")
    # A header line that is only `id`, a byte order mark and trailing blank lines are fine.
    (tmp_path / "c.txt").write_bytes("\ufeffid\r\nu0\r\nu1\r\n\r\n".encode())
    assert read_ids(tmp_path / "c.txt") == ["u0", "u1"]
    paths = _write(tmp_path, np.zeros((8, 2)), IDS)
    (tmp_path / "v.txt").write_text("utt\tspeaker\nu0\ts\n")
    _refused(paths, "v.txt: the first line has tab-separated columns")
    # The workflow's own vectors read the same way (TSV, `id` column).
    assert read_vectors(*_write(tmp_path, np.zeros((8, 2)), IDS, tsv=True))[1] == IDS


def _manifest(tmp_path, per_speaker=8):
    rows = []
    rng = np.random.default_rng(0)
    for s in (1, 2, 3):
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
                        # One utterance per speaker is of another class: not classified.
                        emotion="" if k % 5 == 4 else CLASSES[k % 4],
                        activation=float(rng.uniform(1, 5)),
                        valence=float(rng.uniform(1, 5)),
                    )
                )
    write_manifest(rows, tmp_path / "manifest.tsv")
    return rows


def test_an_external_fold_is_scored_like_the_others_and_records_its_files(tmp_path):
    rows = _manifest(tmp_path)
    rng = np.random.default_rng(1)
    centres = 4 * rng.normal(size=(5, 6))
    x = np.array([centres[CLASSES.index(r.emotion) if r.emotion else 4] for r in rows])
    x += rng.normal(size=x.shape)
    paths = _write(tmp_path, x.astype(np.float32), [r.id for r in rows])
    entry = {"path": str(paths[0]), "ids": str(paths[1])}
    result = fold_vectors(
        *paths,
        tmp_path / "manifest.tsv",
        "Ses02-Ses02M",
        tmp_path / "out.json",
        settings={"c_grid": [0.1, 1.0], "class_weights": True},
        method="mine",
        pretraining="external",
        external=entry,
    )
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["method"] == "mine" and saved["pretraining"] == "external"
    assert saved["unweighted_accuracy"] == result["unweighted_accuracy"] > 0.9
    assert saved["external_vectors"]["sha256"]["path"] == sha256_of(paths[0])
    assert saved["external_vectors"]["utterances"] == len(rows)
    # The unclassified utterances need no vector for Table 2 ...
    keep = [k for k, r in enumerate(rows) if r.emotion]
    (tmp_path / "labelled").mkdir()
    labelled = _write(tmp_path / "labelled", x[keep], [rows[k].id for k in keep])
    fold_vectors(
        *labelled,
        tmp_path / "manifest.tsv",
        "Ses02-Ses02M",
        tmp_path / "out.json",
        settings={"c_grid": [1.0], "class_weights": True},
        method="mine",
        external=entry,
    )
    # ... but the activation/valence table scores every rated utterance, so there they do.
    common = {
        "titles": {"mine": "mine (external vectors)"},
        "corpus": "c",
        "tsv": tmp_path / "d.tsv",
        "markdown": tmp_path / "d.md",
        "runs_out": tmp_path / "d.json",
        "figure": tmp_path / "d.png",
        "external": ["mine"],
    }
    folds = [f"Ses0{s}-Ses0{s}{g}" for s in (1, 2, 3) for g in "FM"]
    with pytest.raises(ExternalVectorsError, match="6 of the 48 utterances evaluated"):
        dimensional({"mine": dict.fromkeys(folds, labelled)}, tmp_path / "manifest.tsv", **common)
    runs = dimensional({"mine": dict.fromkeys(folds, paths)}, tmp_path / "manifest.tsv", **common)
    assert len(runs["mine"]) == 6
    assert "mine (external vectors)" in (tmp_path / "d.md").read_text()
