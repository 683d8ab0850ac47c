"""Paired statistics over test speakers, and Table 2's comparison with the best hand-crafted
column: known values, refused pairings, and the learned-versus-hand-crafted sentence."""

import csv
import json
import math

import numpy as np
import pytest

from affectrep.protocol.paired import (
    PairedSettings,
    bootstrap_interval,
    format_difference,
    pair_runs,
    paired_difference,
    verdict,
    wilcoxon_p,
)
from affectrep.protocol.table2 import (
    PAIRED_COLUMNS,
    learned_versus_handcrafted,
    paired_section,
    paired_summary,
    write_paired_tsv,
)

SPEAKERS = [f"s{k:02d}" for k in range(10)]


def _runs(ua, wa=None, speakers=SPEAKERS):
    """Minimal fold results: test speaker, UA and WA."""
    wa = ua if wa is None else wa
    return [
        {"test_speaker": s, "unweighted_accuracy": float(u), "weighted_accuracy": float(w)}
        for s, u, w in zip(speakers, ua, wa, strict=True)
    ]


BASE = np.linspace(0.40, 0.58, 10)


def test_equal_differences_give_that_mean_and_a_point_interval():
    found = paired_difference(_runs(BASE + 0.05), _runs(BASE), "UA")
    assert found.n == 10 and found.speakers == tuple(SPEAKERS)
    assert found.mean_difference == pytest.approx(0.05)
    assert found.ci_low == pytest.approx(0.05) and found.ci_high == pytest.approx(0.05)
    # Ten equal positive differences: the exact two-sided p is 2 / 2**10.
    assert found.wilcoxon_p == pytest.approx(2 / 1024) and found.p_note == ""
    assert verdict(found.ci_low, found.ci_high) == "beats"


def test_wilcoxon_matches_a_hand_computed_case():
    # Differences 1, 2, -3, 4, 5: ranks 1..5, W- = 3 = min(W+, W-). Of the 2**5 sign patterns
    # 5 have a rank sum <= 3 ({}, {1}, {2}, {3}, {1,2}): two-sided p = 2 * 5 / 32.
    p, note = wilcoxon_p([0.01, 0.02, -0.03, 0.04, 0.05])
    assert p == pytest.approx(0.3125) and note == ""
    from scipy.stats import wilcoxon

    d = np.array([0.1, -0.2, 0.3, 0.25, -0.05, 0.4, 0.15, 0.22])
    assert wilcoxon_p(d)[0] == pytest.approx(wilcoxon(d).pvalue)


def test_wilcoxon_is_nan_with_a_reason_when_it_cannot_say_anything():
    p, note = wilcoxon_p([0.0, 0.0, 0.0])
    assert math.isnan(p) and note == "every paired difference is zero"
    p, note = wilcoxon_p([0.1])
    assert math.isnan(p) and "at least 2" in note
    same = paired_difference(_runs(BASE), _runs(BASE), "WA")
    assert same.mean_difference == 0 and (same.ci_low, same.ci_high) == (0, 0)
    assert math.isnan(same.wilcoxon_p)
    assert (
        format_difference(same) == "+0.00 [+0.00, +0.00], p n/a (every paired difference is zero)"
    )


def test_the_bootstrap_is_seeded_and_resamples_speakers():
    rng = np.random.default_rng(5)
    d = rng.normal(0.02, 0.05, size=10)
    first = bootstrap_interval(d, PairedSettings(resamples=10_000, seed=1))
    assert first == bootstrap_interval(d, PairedSettings(resamples=10_000, seed=1))
    assert first != bootstrap_interval(d, PairedSettings(resamples=10_000, seed=2))
    low, high = first
    assert d.min() < low < d.mean() < high < d.max()
    # The percentile interval of the resampled means, computed here the same way.
    picks = np.random.default_rng(1).integers(0, 10, size=(10_000, 10))
    expected = np.quantile(d[picks].mean(axis=1), [0.025, 0.975])
    np.testing.assert_allclose(first, expected)
    # A wider interval at a higher confidence.
    wide = bootstrap_interval(d, PairedSettings(confidence=0.99, seed=1))
    assert wide[0] < low and wide[1] > high


def test_runs_pair_by_test_speaker_whatever_their_order():
    pairs = pair_runs(_runs(BASE)[::-1], _runs(BASE + 0.1))
    assert [speaker for speaker, _, _ in pairs] == SPEAKERS
    assert all(
        b["unweighted_accuracy"] - a["unweighted_accuracy"] == pytest.approx(0.1)
        for _, a, b in pairs
    )


def test_unpaired_inputs_are_refused_naming_the_missing_speakers():
    with pytest.raises(ValueError, match=r"mlp has no run for test speakers s08, s09"):
        pair_runs(_runs(BASE[:8], speakers=SPEAKERS[:8]), _runs(BASE), "mlp", "egemaps")
    with pytest.raises(ValueError, match=r"egemaps has no run for test speakers x"):
        pair_runs(
            _runs([0.5, 0.5], speakers=["s00", "x"]),
            _runs([0.5], speakers=["s00"]),
            "mlp",
            "egemaps",
        )
    twice = _runs(BASE[:3], speakers=["s00", "s01", "s00"])
    with pytest.raises(ValueError, match=r"mlp: test speakers s00 are tested by more than one"):
        pair_runs(twice, _runs(BASE[:2], speakers=["s00", "s01"]), "mlp")


def test_the_verdict_follows_the_interval():
    assert verdict(0.001, 0.05) == "beats"
    assert verdict(-0.05, -0.001) == "is below"
    assert verdict(-0.01, 0.05) == "is not distinguishable from"
    assert verdict(0.0, 0.05) == "is not distinguishable from"
    assert verdict(math.nan, math.nan) == "is not distinguishable from"


def _methods(learned_shift, noise=0.0):
    """Four Table 2 columns: eGeMAPS, a weaker ComParE, and two learned columns."""
    rng = np.random.default_rng(0)
    jitter = rng.normal(0, noise, size=10) if noise else np.zeros(10)
    return {
        "pretrained-mlp": _runs(BASE + learned_shift + jitter),
        "mlp": _runs(BASE + learned_shift - 0.02 + jitter),
        "egemaps": _runs(BASE),
        "compare": _runs(BASE - 0.03),
    }


TITLES = {"pretrained-mlp": "Pretrained MLP", "mlp": "MLP", "egemaps": "eGeMAPS", "compare": "C"}


def test_every_column_is_compared_with_the_best_handcrafted_one():
    summary = paired_summary(_methods(0.05), TITLES)
    assert summary["reference"] == "egemaps" and summary["best_learned"] == "pretrained-mlp"
    assert {m: e["kind"] for m, e in summary["methods"].items()} == {
        "pretrained-mlp": "learned",
        "mlp": "learned",
        "egemaps": "hand-crafted",
        "compare": "hand-crafted",
    }
    compared = [(e["method"], e["measure"]) for e in summary["comparisons"]]
    assert compared == [
        (m, measure) for m in ("pretrained-mlp", "mlp", "compare") for measure in ("UA", "WA")
    ]
    compare_ua = summary["comparisons"][4]
    assert compare_ua["mean_difference"] == pytest.approx(-0.03)
    assert compare_ua["ci_high"] == pytest.approx(-0.03)
    json.dumps(summary, allow_nan=False)  # plain JSON: no NaN
    section = "\n".join(paired_section(summary))
    assert "## Paired comparison with eGeMAPS, the best hand-crafted column" in section
    assert "| column | kind | ΔUA vs eGeMAPS | ΔWA vs eGeMAPS |" in section
    assert "| Pretrained MLP | learned | +5.00 [+5.00, +5.00], p = 0.0020 |" in section
    assert "| C | hand-crafted | −3.00 [−3.00, −3.00], p = 0.0020 |" in section
    assert "10,000 resamples" in section


def test_external_columns_are_neither_learned_nor_handcrafted():
    runs = {**_methods(0.05), "wav2vec": _runs(BASE + 0.2)}
    summary = paired_summary(runs, external=["wav2vec"])
    assert summary["methods"]["wav2vec"]["kind"] == "external"
    assert summary["best_learned"] == "pretrained-mlp"  # not the better external column
    assert ("wav2vec", "UA") in [(e["method"], e["measure"]) for e in summary["comparisons"]]


def test_the_paired_tsv_is_machine_readable(tmp_path):
    summary = paired_summary(_methods(0.05), TITLES)
    write_paired_tsv(summary, tmp_path / "p.tsv")
    with open(tmp_path / "p.tsv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert list(rows[0]) == list(PAIRED_COLUMNS) and len(rows) == 6
    first = rows[0]
    assert (first["method"], first["reference"], first["measure"]) == (
        "pretrained-mlp",
        "egemaps",
        "UA",
    )
    assert float(first["mean_difference_pp"]) == pytest.approx(5.0)
    assert float(first["ci_low_pp"]) == pytest.approx(5.0)
    assert float(first["wilcoxon_p"]) == pytest.approx(2 / 1024)
    assert float(first["reference_mean_pct"]) == pytest.approx(100 * BASE.mean())
    # Without a hand-crafted column: the header alone.
    none = paired_summary({"mlp": _runs(BASE)})
    write_paired_tsv(none, tmp_path / "none.tsv")
    assert (tmp_path / "none.tsv").read_text().splitlines() == ["\t".join(PAIRED_COLUMNS)]


@pytest.mark.parametrize(
    "shift, noise, word",
    [
        (0.05, 0.0, "beats"),
        (-0.05, 0.0, "is below"),
        (0.0, 0.05, "is not distinguishable from"),
    ],
)
def test_the_sentence_says_beats_is_below_or_not_distinguishable(shift, noise, word):
    summary = paired_summary(_methods(shift, noise), TITLES)
    sentence = learned_versus_handcrafted(summary, "demo")
    assert sentence.startswith("On corpus `demo` the best learned column, ")
    assert f"), {word} the best hand-crafted column, eGeMAPS (mean UA " in sentence
    entry = summary["comparisons"][0 if summary["best_learned"] == "pretrained-mlp" else 2]
    assert entry["measure"] == "UA"
    assert (entry["ci_low"] > 0, entry["ci_high"] < 0) == (word == "beats", word == "is below")
    assert "95 % bootstrap interval [" in sentence and "over 10 paired test speakers" in sentence


def test_without_a_handcrafted_or_a_learned_column_the_sentence_says_so():
    summary = paired_summary({"pretrained-mlp": _runs(BASE), "mlp": _runs(BASE)})
    assert summary["reference"] is None and summary["comparisons"] == []
    sentence = learned_versus_handcrafted(summary, "emodb")
    assert sentence.startswith("No hand-crafted column (`egemaps`, `compare`) is configured")
    assert "No hand-crafted column" in "\n".join(paired_section(summary))
    only = paired_summary({"egemaps": _runs(BASE), "compare": _runs(BASE - 0.01)})
    assert only["reference"] == "egemaps" and only["best_learned"] is None
    assert learned_versus_handcrafted(only, "emodb").startswith("No learned column")
