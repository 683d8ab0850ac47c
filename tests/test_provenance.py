"""Provenance: canonical rule params, where each output's record lives, stamping, stale mixes."""

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from affectrep.data.pytree_io import load_tree, save_tree
from affectrep.provenance import (
    PROVENANCE_KEY,
    JobProvenance,
    StaleInputsError,
    inputs_record,
    job_key,
    merge_records,
    plain,
    read_record,
    record_source,
    summarise_by_rule,
    write_record,
)

# --- plain --------------------------------------------------------------------------------


def test_plain_sorts_keys_at_every_depth():
    forward = {"b": 1, "a": {"y": [{"q": 1, "p": 2}], "x": 2}}
    reverse = {"a": {"x": 2, "y": [{"p": 2, "q": 1}]}, "b": 1}
    assert repr(forward) != repr(reverse)
    assert repr(plain(forward)) == repr(plain(reverse))
    assert list(plain(forward)) == ["a", "b"]
    assert list(plain(forward)["a"]) == ["x", "y"]
    assert list(plain(forward)["a"]["y"][0]) == ["p", "q"]


def test_plain_numbers_integral_floats_become_ints_others_stay():
    out = plain({"hop_ms": 10.0, "noise": 0.5, "n": 3, "neg": -2.0})
    assert out == {"hop_ms": 10, "n": 3, "neg": -2, "noise": 0.5}
    assert type(out["hop_ms"]) is int and type(out["neg"]) is int
    assert type(out["noise"]) is float
    assert repr(plain({"hop_ms": 10})) == repr(plain({"hop_ms": 10.0}))
    assert repr(plain({"x": 0.5})) != repr(plain({"x": 1}))


def test_plain_bool_stays_bool():
    assert plain(True) is True and plain(False) is False
    out = plain({"strict": True, "merge": False, "np": np.bool_(True)})
    assert type(out["strict"]) is bool and type(out["merge"]) is bool
    assert type(out["np"]) is bool and out["np"] is True
    # A bool is not the number 1: different settings must not compare equal.
    assert repr(plain({"x": True})) != repr(plain({"x": 1}))


def test_plain_tuples_and_sets_become_lists():
    assert plain((1, 2.0, "a")) == [1, 2, "a"]
    assert type(plain((1, 2))) is list
    assert plain({3, 1, 2}) == [1, 2, 3]
    assert plain(frozenset({"b", "a"})) == ["a", "b"]
    assert plain({"k": ((1, 2), (3,))}) == {"k": [[1, 2], [3]]}


@dataclass(frozen=True)
class _Inner:
    z: float = 2.0
    a: str = "x"


@dataclass(frozen=True)
class _Outer:
    name: str = "logmel40"
    inner: _Inner = field(default_factory=_Inner)
    widths: tuple = (4, 2)


def test_plain_dataclass_becomes_a_sorted_dict():
    out = plain(_Outer())
    assert out == {"inner": {"a": "x", "z": 2}, "name": "logmel40", "widths": [4, 2]}
    assert isinstance(out, dict) and list(out) == ["inner", "name", "widths"]
    assert list(out["inner"]) == ["a", "z"]
    # A dataclass's repr never goes into the param: only plain values.
    assert "_Outer" not in repr(out) and "_Inner" not in repr(out)


def test_plain_numpy_scalars_become_python():
    out = plain({"i": np.int64(5), "f": np.float32(0.5), "g": np.float64(3.0)})
    assert out == {"f": 0.5, "g": 3, "i": 5}
    assert type(out["i"]) is int and type(out["f"]) is float and type(out["g"]) is int


@pytest.mark.parametrize(
    "value", [object(), np.zeros(3), {"k": object()}, [1, object()], lambda: 1]
)
def test_plain_refuses_non_plain_objects(value):
    with pytest.raises(TypeError, match="not a plain setting"):
        plain(value)


def test_plain_a_class_is_not_taken_for_a_dataclass_instance():
    with pytest.raises(TypeError):
        plain(_Inner)


# --- job keys and record files ------------------------------------------------------------


def test_job_key_sorts_wildcards():
    assert job_key("features", {"spec": "fft128", "corpus": "demo"}) == (
        "features[corpus=demo,spec=fft128]"
    )
    assert job_key("features", {"corpus": "demo", "spec": "fft128"}) == (
        "features[corpus=demo,spec=fft128]"
    )
    assert job_key("report", {}) == "report"


@pytest.mark.parametrize(
    ("output", "source"),
    [
        ("results/demo/features/fft128/frames.npy", "results/demo/features/fft128/stats.npz"),
        ("results/demo/features/fft128/index.tsv", "results/demo/features/fft128/stats.npz"),
        ("results/demo/manifest.tsv", "results/demo/manifest.json"),
        ("results/demo/rejected.tsv", "results/demo/manifest.json"),
        ("results/demo/corpus_summary.txt", "results/demo/manifest.json"),
        ("results/demo/codes/x.npy", "results/demo/codes/x.json"),
        ("results/demo/tables/table1.md", "results/demo/tables/table1.json"),
        ("results/demo/tables/table1.tsv", "results/demo/tables/table1.json"),
        ("results/demo/a/meta.json", "results/demo/a/meta.json"),
        ("results/demo/models/encoder.npz", "results/demo/models/encoder.npz"),
        ("results/demo/export/m/MODEL_CARD.md", "results/demo/export/m/bundle.json"),
        ("results/demo/export/m/config.yaml", "results/demo/export/m/bundle.json"),
        # An HTML twin (affectrep.html) shares the record of its Markdown.
        ("results/demo/tables/table2.html", "results/demo/tables/table2.json"),
        ("results/demo/export/m/MODEL_CARD.html", "results/demo/export/m/bundle.json"),
        ("results/demo/report.html", "results/demo/report.json"),
        ("results/cross_corpus/m.html", "results/cross_corpus/m.json"),
    ],
)
def test_record_source(output, source):
    from pathlib import Path

    assert record_source(output) == Path(source)


@pytest.mark.parametrize(
    "output",
    [
        "results/demo/figures/fig1.png",
        "results/demo/fig.pdf",
        "results/demo/audio/a.wav",
        "results/demo/audio",
    ],
)
def test_outputs_without_a_record(output):
    assert record_source(output) is None


# --- stamping and reading -----------------------------------------------------------------

FEATURES = "features[corpus=demo,spec=fft128]"
FEATURE_PARAMS = {"spec": {"n_bins": 128, "hop_ms": 10.0, "window": "hamming"}, "policy": (1, 2)}


def _feature_job(tmp_path):
    """A features job's outputs, stamped: frames.npy, index.tsv and stats.npz."""
    folder = tmp_path / "features"
    folder.mkdir()
    np.save(folder / "frames.npy", np.arange(12, dtype=np.float32).reshape(4, 3))
    (folder / "index.tsv").write_text("utterance\tstart\n")
    np.savez(folder / "stats.npz", mean=np.ones(3), std=np.full(3, 2.0))
    job = JobProvenance(FEATURES, FEATURE_PARAMS, {})
    job.stamp([folder / "frames.npy", folder / "index.tsv", folder / "stats.npz"])
    return folder, job


def test_stamping_an_npz_keeps_its_arrays_and_adds_the_record(tmp_path):
    folder, job = _feature_job(tmp_path)
    expected = {
        FEATURES: {"policy": [1, 2], "spec": {"hop_ms": 10, "n_bins": 128, "window": "hamming"}}
    }
    assert job.record == expected
    with np.load(folder / "stats.npz") as archive:
        assert set(archive.files) == {"mean", "std", PROVENANCE_KEY}
        np.testing.assert_array_equal(archive["mean"], np.ones(3))
        np.testing.assert_array_equal(archive["std"], np.full(3, 2.0))
        assert json.loads(str(archive[PROVENANCE_KEY])) == expected
    # frames.npy and index.tsv are untouched and read their record from stats.npz.
    np.testing.assert_array_equal(
        np.load(folder / "frames.npy"), np.arange(12, dtype=np.float32).reshape(4, 3)
    )
    assert not (folder / "frames.json").exists() and not (folder / "index.json").exists()
    assert read_record(folder / "frames.npy") == expected
    assert read_record(folder / "index.tsv") == expected
    assert read_record(folder / "stats.npz") == expected
    assert sorted(p.name for p in folder.iterdir()) == ["frames.npy", "index.tsv", "stats.npz"]


def test_a_stamped_model_file_loads_as_the_same_tree(tmp_path):
    path = tmp_path / "encoder.npz"
    tree = {"encoder": [{"W": np.ones((2, 3)), "b": np.zeros(3)}]}
    save_tree(path, tree, {"model": "tied-fft128-c5"})
    JobProvenance("pretrain[m=tied-fft128-c5]", {"lr": 1e-4}, {}).stamp([path])
    loaded, meta = load_tree(path)
    assert meta == {"model": "tied-fft128-c5"}
    assert set(loaded) == {"encoder"} and PROVENANCE_KEY not in loaded
    np.testing.assert_array_equal(loaded["encoder"][0]["W"], np.ones((2, 3)))
    np.testing.assert_array_equal(loaded["encoder"][0]["b"], np.zeros(3))
    assert read_record(path) == {"pretrain[m=tied-fft128-c5]": {"lr": 0.0001}}


def test_stamping_a_json_keeps_its_keys(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "bundle.json").write_text(json.dumps({"model": "m", "dims": [1, 2]}))
    (folder / "MODEL_CARD.md").write_text("# card\n")
    (folder / "config.yaml").write_text("a: 1\n")
    job = JobProvenance("export[model=m]", {"k": 1}, {})
    job.stamp([folder / "bundle.json", folder / "MODEL_CARD.md", folder / "config.yaml"])
    content = json.loads((folder / "bundle.json").read_text())
    assert content["model"] == "m" and content["dims"] == [1, 2]
    assert content[PROVENANCE_KEY] == {"export[model=m]": {"k": 1}}
    assert (folder / "MODEL_CARD.md").read_text() == "# card\n"
    assert read_record(folder / "MODEL_CARD.md") == {"export[model=m]": {"k": 1}}
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL_CARD.md",
        "bundle.json",
        "config.yaml",
    ]


def test_a_tables_html_twin_shares_the_record_of_its_markdown(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    outputs = {name: tables / name for name in ("table2.tsv", "table2.md", "table2.html")}
    for name, path in outputs.items():
        path.write_text(f"{name}\n")
    JobProvenance("table2[corpus=demo]", {"methods": ["mlp"]}, {}).stamp(
        [*outputs.values(), tables / "table2.json"]
    )
    assert sorted(p.name for p in tables.iterdir()) == [
        "table2.html",
        "table2.json",
        "table2.md",
        "table2.tsv",
    ]
    for name, path in outputs.items():
        assert path.read_text() == f"{name}\n"
        assert read_record(path) == {"table2[corpus=demo]": {"methods": ["mlp"]}}


def test_a_sidecar_json_is_written_for_npy_and_tsv_outputs(tmp_path):
    (tmp_path / "codes").mkdir()
    np.save(tmp_path / "codes" / "x.npy", np.zeros(2))
    (tmp_path / "table1.tsv").write_text("a\tb\n")
    job = JobProvenance("encode[m=x]", {"chunk": 64}, {})
    job.stamp([tmp_path / "codes" / "x.npy", tmp_path / "table1.tsv"])
    for sidecar in (tmp_path / "codes" / "x.json", tmp_path / "table1.json"):
        assert json.loads(sidecar.read_text()) == {PROVENANCE_KEY: {"encode[m=x]": {"chunk": 64}}}
    assert read_record(tmp_path / "codes" / "x.npy") == {"encode[m=x]": {"chunk": 64}}
    assert (tmp_path / "table1.tsv").read_text() == "a\tb\n"


def test_read_record_of_outputs_without_one(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.zeros(1))
    (tmp_path / "plain.json").write_text("[1, 2]")
    assert read_record(tmp_path / "plain.npz") is None
    assert read_record(tmp_path / "plain.json") is None
    assert read_record(tmp_path / "missing.npy") is None
    assert read_record(tmp_path / "fig.png") is None


def test_a_jobs_record_is_its_inputs_records_plus_its_own(tmp_path):
    folder, _ = _feature_job(tmp_path)
    (tmp_path / "codes").mkdir()
    np.save(tmp_path / "codes" / "x.npy", np.zeros(2))
    upstream = inputs_record([folder / "frames.npy", folder / "index.tsv"])
    encode = JobProvenance("encode[corpus=demo,m=x]", {"chunk": 64.0}, upstream)
    encode.stamp([tmp_path / "codes" / "x.npy"])
    assert encode.record == {
        **read_record(folder / "stats.npz"),
        "encode[corpus=demo,m=x]": {"chunk": 64},
    }
    assert read_record(tmp_path / "codes" / "x.npy") == encode.record
    # A third job sees both upstream jobs.
    downstream = JobProvenance(
        "table1", {"t": 1}, inputs_record([tmp_path / "codes" / "x.npy", folder / "frames.npy"])
    )
    assert set(downstream.record) == {FEATURES, "encode[corpus=demo,m=x]", "table1"}
    assert list(downstream.record) == sorted(downstream.record)


def test_inputs_made_by_different_runs_of_a_job_are_refused_naming_both(tmp_path):
    write_record(tmp_path / "a.json", {FEATURES: {"n_mels": 40}})
    write_record(tmp_path / "b.json", {FEATURES: {"n_mels": 24}, "other": {}})
    with pytest.raises(StaleInputsError) as caught:
        inputs_record([tmp_path / "a.json", tmp_path / "b.json"])
    message = str(caught.value)
    assert str(tmp_path / "a.json") in message and str(tmp_path / "b.json") in message
    assert FEATURES in message
    with pytest.raises(StaleInputsError, match="a.npy.*b.npy|b.npy.*a.npy"):
        merge_records([("a.npy", {"j": {"x": 1}}), ("b.npy", {"j": {"x": 2}})])


def test_identical_records_merge(tmp_path):
    write_record(tmp_path / "a.json", {FEATURES: {"n_mels": 40}, "x": {"k": 1}})
    write_record(tmp_path / "b.json", {FEATURES: {"n_mels": 40}, "y": {"k": 2}})
    merged = inputs_record([tmp_path / "a.json", tmp_path / "b.json"])
    assert merged == {FEATURES: {"n_mels": 40}, "x": {"k": 1}, "y": {"k": 2}}
    assert merge_records([("a", {"j": {"x": 1}}), ("b", {"j": {"x": 1}})]) == {"j": {"x": 1}}


def test_a_job_whose_inputs_already_record_it_differently_is_refused():
    with pytest.raises(StaleInputsError):
        JobProvenance("j", {"x": 2}, {"j": {"x": 1}})


# --- summaries ----------------------------------------------------------------------------


def test_summarise_by_rule_shared_settings_and_per_job_values():
    record = {
        "features[corpus=demo,spec=fft128]": {"hop_ms": 10, "n_bins": 128},
        "features[corpus=demo,spec=fft513]": {"hop_ms": 10, "n_bins": 513},
        "pretrain_layer[corpus=demo,layer=1,stacked=tied-fft128-c5,without=]": {
            "lr": 0.0001,
            "width": 320,
        },
        "pretrain_layer[corpus=demo,layer=2,stacked=tied-fft128-c5,without=]": {
            "lr": 0.0001,
            "width": 160,
        },
        "report": {"title": "t"},
    }
    summary = summarise_by_rule(record)
    assert list(summary) == ["features", "pretrain_layer", "report"]
    assert summary["features"]["jobs"] == 2
    assert summary["features"]["settings"] == {"hop_ms": 10}
    assert summary["features"]["per job"] == {"n_bins": {"spec=fft128": 128, "spec=fft513": 513}}
    layers = summary["pretrain_layer"]
    assert layers["settings"] == {"lr": 0.0001}
    assert layers["per job"]["width"] == {
        "layer=1,stacked=tied-fft128-c5": 320,
        "layer=2,stacked=tied-fft128-c5": 160,
    }
    assert summary["report"] == {"jobs": 1, "settings": {"title": "t"}}


def test_summarise_by_rule_caps_the_listed_values():
    record = {f"train[m=m{i}]": {"seed": i, "lr": 1} for i in range(5)}
    capped = summarise_by_rule(record, max_listed=3)["train"]
    assert capped["settings"] == {"lr": 1}
    assert isinstance(capped["per job"]["seed"], str) and capped["per job"]["seed"].startswith(
        "5 values"
    )
    listed = summarise_by_rule(record, max_listed=5)["train"]
    assert listed["per job"]["seed"] == {f"m=m{i}": i for i in range(5)}


def test_summarise_by_rule_a_setting_missing_in_one_job_differs():
    record = {"r[a=1]": {"x": 1, "y": 2}, "r[a=2]": {"x": 1}}
    summary = summarise_by_rule(record)["r"]
    assert summary["settings"] == {"x": 1}
    assert summary["per job"]["y"] == {"a=1": 2, "a=2": None}
