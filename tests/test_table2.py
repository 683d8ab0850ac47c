"""Table 2: mean and spread over runs, the paper's columns labelled, a confusion figure."""

import csv
import re

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score

from affectrep.config import BUILTIN_METHODS
from affectrep.data.emotions import CLASSES
from affectrep.defaults import default, schema
from affectrep.protocol.folds import Fold, fold_result
from affectrep.protocol.table2 import (
    HANDCRAFTED_METHODS,
    LEARNED_METHODS,
    METHOD_TITLES,
    PAPER_PREFIX,
    aggregate,
    method_kind,
    method_title,
    plot_confusion,
    pooled_confusion,
    write_table2,
)

# Hand-made runs: (truth, predicted) class indices (0 neutral, 1 anger, 2 sadness, 3 happiness).
RUNS = [
    ([0, 0, 1, 1, 2, 2, 3, 3, 3], [0, 1, 1, 1, 2, 0, 3, 0, 3]),
    ([0, 0, 0, 1, 2, 3, 3], [0, 0, 2, 3, 2, 3, 1]),
    ([0, 1, 1, 2, 2, 2], [0, 1, 0, 2, 2, 1]),  # no happiness: its recall is undefined here
]


def _results(runs):
    out = []
    for number, (truth, predicted) in enumerate(runs, start=1):
        fold = Fold(number, f"S{number}", ("x",), f"v{number}", f"t{number}")
        posteriors = np.eye(4)[predicted]
        out.append(
            fold_result(
                fold, "m", [f"u{i}" for i in range(len(truth))], np.array(truth), posteriors, {}
            )
        )
    return out


def _cell(values):
    values = 100 * np.asarray(values)
    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"


def test_cells_are_mean_and_sample_std_over_runs():
    rows = {row["measure"]: row for row in aggregate({"ours": _results(RUNS)})}
    assert list(rows) == ["Happy", "Angry", "Sad", "Neutral", "WA", "UA"]
    assert rows["WA"]["ours"] == _cell([accuracy_score(t, p) for t, p in RUNS])
    assert rows["UA"]["ours"] == _cell([balanced_accuracy_score(t, p) for t, p in RUNS])
    assert rows["Angry"]["ours"] == _cell(
        [recall_score(t, p, labels=[1], average=None)[0] for t, p in RUNS]
    )
    # Happiness is absent from the third run's test speaker: two runs only.
    assert rows["Happy"]["ours"] == _cell(
        [recall_score(t, p, labels=[3], average=None)[0] for t, p in RUNS[:2]]
    )


def test_a_single_run_has_no_spread_and_methods_keep_their_order():
    rows = aggregate({"b": _results(RUNS[:1]), "a": _results(RUNS)})
    wa = next(row for row in rows if row["measure"] == "WA")
    assert list(wa)[:3] == ["measure", "b", "a"]
    assert wa["b"] == f"{100 * accuracy_score(*RUNS[0]):.2f}"


def test_files_carry_the_paper_columns_labelled_as_iemocap(tmp_path):
    rows = aggregate({"tied-fft128-c5": _results(RUNS), "egemaps": _results(RUNS[1:])})
    write_table2(
        rows,
        tmp_path / "t.tsv",
        tmp_path / "t.md",
        ["Corpus demo, 10 runs (5 folds x 2 assignments), seed 0."],
    )
    with open(tmp_path / "t.tsv", newline="", encoding="utf-8") as handle:
        table = {row["measure"]: row for row in csv.DictReader(handle, delimiter="\t")}
    assert table["WA"][PAPER_PREFIX + "TIED-128-5"] == "48.10"
    assert table["UA"][PAPER_PREFIX + "MLP"] == "45.18"
    assert table["Neutral"][PAPER_PREFIX + "COVAREP"] == "61.48"
    assert table["UA"][PAPER_PREFIX + "DNN-ELM (Han et al.)"] == "52.13"
    assert table["Happy"][PAPER_PREFIX + "DNN-ELM (Han et al.)"] == ""
    assert table["Sad"]["egemaps"] == rows[2]["egemaps"]
    text = (tmp_path / "t.md").read_text(encoding="utf-8")
    assert "Corpus demo, 10 runs (5 folds x 2 assignments), seed 0." in text
    assert "paper IEMOCAP: TIED-128-5" in text and "on IEMOCAP" in text
    assert "| UA |" in text


def test_the_paper_columns_agree_with_their_own_ua():
    # The paper's UA is the mean of its per-emotion accuracies (to rounding).
    rows = {row["measure"]: row for row in aggregate({})}
    for column in ("TIED-128-5", "MLP", "COVAREP"):
        recalls = [
            float(rows[m][PAPER_PREFIX + column]) for m in ("Happy", "Angry", "Sad", "Neutral")
        ]
        assert np.mean(recalls) == pytest.approx(float(rows["UA"][PAPER_PREFIX + column]), abs=0.01)


def test_confusion_figure_is_written(tmp_path):
    matrix = pooled_confusion(_results(RUNS))
    assert matrix.sum() == sum(len(t) for t, _ in RUNS)
    assert matrix[1, 1] == sum(
        int(np.sum((np.array(t) == 1) & (np.array(p) == 1))) for t, p in RUNS
    )
    path = tmp_path / "figures" / "confusion.png"
    plot_confusion(matrix, CLASSES, "demo: tied-fft128-c5", path)
    empty_row = np.array([[3, 1, 0, 0], [0, 0, 0, 0], [0, 0, 2, 0], [1, 0, 0, 4]])
    plot_confusion(empty_row, CLASSES, "a class never seen", tmp_path / "empty.png")
    for written in (path, tmp_path / "empty.png"):
        assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and written.stat().st_size > 5000
    assert sorted(p.name for p in tmp_path.rglob("*.png")) == ["confusion.png", "empty.png"]


def test_every_method_has_a_title_and_a_kind():
    """The built-in methods are the schema's enum, each titled and either hand-crafted or
    learned (paired comparisons take the best hand-crafted column as the baseline); any other
    column is a representation brought from elsewhere, neither of the two."""
    pattern = schema()["properties"]["classification"]["properties"]["methods"]["items"]["pattern"]
    assert set(METHOD_TITLES) == {*HANDCRAFTED_METHODS, *LEARNED_METHODS}
    assert set(METHOD_TITLES) == set(BUILTIN_METHODS)
    for method in METHOD_TITLES:
        assert re.fullmatch(pattern, method), method
        assert method == "mlp" or method in pattern  # every built-in method is accepted
    assert re.fullmatch(pattern, "pooled+compare") and not re.fullmatch(pattern, "wav2vec2")
    assert HANDCRAFTED_METHODS == ("egemaps", "compare")
    assert default("classification.methods") == [
        "pretrained-mlp",
        "mlp",
        "egemaps",
        "compare",
        "pooled",
        "blstm",
    ]
    assert method_kind("compare") == method_kind("egemaps") == "hand-crafted"
    assert method_kind("egemaps+compare") == "hand-crafted"
    assert method_kind("pooled+egemaps") == method_kind("blstm") == "learned"
    assert method_kind("wav2vec2") == "external" == method_kind("pooled", external=["pooled"])
    assert method_title("pooled+compare", "TIED-128-5") == (
        "pooled TIED-128-5 codes + ComParE 2016 softmax"
    )
    assert method_title("compare", "TIED-128-5") == "ComParE 2016 softmax"
    assert method_title("blstm", "TIED-128-5") == "BLSTM (TIED-128-5) softmax"
    assert method_title("wav2vec2", "TIED-128-5") == "wav2vec2 (external vectors) softmax"
