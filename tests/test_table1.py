"""Table 1's best configuration: every row that ties the best printed accuracy is marked."""

import csv

from affectrep.protocol.tables import best_models, best_sentence, table1_rows, write_table1


def _result(accuracy, architecture=(40, 20, 4)):
    return {"accuracy": accuracy, "unweighted_accuracy": 0.3, "architecture": list(architecture)}


def test_a_single_best_row_is_marked_and_named():
    results = {"tied-fft128-c5": _result(0.5), "softmax-logmel40-c1": _result(0.25)}
    assert best_models(results) == ["tied-fft128-c5"]
    assert best_sentence(results) == "Best configuration: tied-fft128-c5 (WA 50.00 %)."
    assert [row["accuracy"] for row in table1_rows(results)] == ["50.00 *", "25.00"]


def test_rows_that_tie_at_the_printed_precision_are_all_best(tmp_path):
    # 0.437501 and 0.43749 both print as 43.75: the reader cannot tell them apart.
    results = {
        "tied-fft128-c5": _result(0.437501),
        "deep-logmel40-c5": _result(0.25),
        "untied-logmel40-c1": _result(0.43749),
        "softmax-logmel40-c1": _result(0.4374),
    }
    assert best_models(results) == ["tied-fft128-c5", "untied-logmel40-c1"]
    assert [row["accuracy"] for row in table1_rows(results)] == [
        "43.75 *",
        "25.00",
        "43.75 *",
        "43.74",
    ]
    sentence = best_sentence(results)
    assert sentence == (
        "Best configuration: a tie at WA 43.75 % between tied-fft128-c5, untied-logmel40-c1."
    )
    write_table1(results, tmp_path / "t1.tsv", tmp_path / "t1.md", "Corpus `demo`.")
    text = (tmp_path / "t1.md").read_text()
    assert sentence in text and text.count(" * |") == 2
    with open(tmp_path / "t1.tsv", newline="", encoding="utf-8") as handle:
        marked = [
            r["model"] for r in csv.DictReader(handle, delimiter="\t") if "*" in r["accuracy"]
        ]
    assert marked == ["tied-fft128-c5", "untied-logmel40-c1"]
