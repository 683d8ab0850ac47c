"""Paired comparison of two methods over the same test speakers (Table 2's runs).

A Table 2 cell is a mean ± std over runs, and two columns' spreads overlap on every corpus of
this size: whether one method beats another is a question about the *differences* on the
same test speakers, not about two means side by side. Every method is run on the same folds
(`affectrep.protocol.folds`: one run per test speaker), so the runs pair up by test speaker,
and the speaker-to-speaker variation that both methods share drops out of the difference.

For WA and UA this gives, per pair of methods:

- the mean difference (method minus reference) over the paired test speakers;
- a 95 % percentile bootstrap interval of that mean: the test speakers resampled with
  replacement (they are the unit that varies; utterances of one speaker are not
  independent), seeded, so that a rerun gives the same interval;
- the two-sided Wilcoxon signed-rank p (`scipy.stats.wilcoxon`), which assumes no normality
  of 10 differences. It is NaN, with the reason, when it cannot say anything: fewer than 2
  pairs, or every difference zero.

With 10 test speakers the interval is wide and the smallest possible two-sided Wilcoxon p is
2/1024: that is what the protocol can resolve, and the table says so by showing both.
Inputs that do not pair (a speaker tested by one method but not the other, a speaker tested
twice) are refused, naming the speakers: silently comparing different speaker sets would mix
speaker difficulty into the difference.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

# Measure name (as in Table 2) -> key of a fold result (`affectrep.protocol.folds.score`).
MEASURES: dict[str, str] = {"UA": "unweighted_accuracy", "WA": "weighted_accuracy"}


@dataclass(frozen=True)
class PairedSettings:
    """How the bootstrap interval is drawn; recorded with the table so that a changed setting
    reruns it (`plain()` of this is the `table2` rule's param)."""

    resamples: int = 10_000
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True)
class PairedDifference:
    """One measure of `method` against `reference`, paired by test speaker. Differences are
    method minus reference, as fractions (0.01 = one percentage point)."""

    measure: str
    method: str
    reference: str
    speakers: tuple[str, ...]
    differences: tuple[float, ...]
    mean_difference: float
    ci_low: float
    ci_high: float
    wilcoxon_p: float
    p_note: str = ""
    settings: PairedSettings = field(default_factory=PairedSettings)

    @property
    def n(self) -> int:
        return len(self.speakers)


def _by_speaker(runs: Sequence[Mapping], name: str) -> dict[str, Mapping]:
    """test speaker -> run; a speaker tested twice is refused (which run would count?)."""
    found: dict[str, Mapping] = {}
    twice = set()
    for run in runs:
        speaker = str(run["test_speaker"])
        if speaker in found:
            twice.add(speaker)
        found[speaker] = run
    if twice:
        raise ValueError(
            f"{name}: test speakers {', '.join(sorted(twice))} are tested by more than one run; "
            "paired statistics need exactly one run per test speaker"
        )
    return found


def pair_runs(
    method_runs: Sequence[Mapping],
    reference_runs: Sequence[Mapping],
    method: str = "method",
    reference: str = "reference",
) -> list[tuple[str, Mapping, Mapping]]:
    """(test speaker, method's run, reference's run) for every test speaker, sorted by
    speaker. Both methods must have tested exactly the same speakers, once each; otherwise a
    ValueError names the speakers one of them lacks."""
    mine = _by_speaker(method_runs, method)
    theirs = _by_speaker(reference_runs, reference)
    only_mine = sorted(set(mine) - set(theirs))
    only_theirs = sorted(set(theirs) - set(mine))
    if only_mine or only_theirs:
        missing = []
        if only_theirs:
            missing.append(f"{method} has no run for test speakers {', '.join(only_theirs)}")
        if only_mine:
            missing.append(f"{reference} has no run for test speakers {', '.join(only_mine)}")
        raise ValueError(
            f"cannot pair {method} with {reference} by test speaker: " + "; ".join(missing)
        )
    return [(speaker, mine[speaker], theirs[speaker]) for speaker in sorted(mine)]


def bootstrap_interval(
    differences: Sequence[float] | np.ndarray, settings: PairedSettings | None = None
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `differences`: resample them (the test
    speakers) with replacement `settings.resamples` times, seeded, and take the central
    `settings.confidence` of the resampled means. NaNs for no differences."""
    settings = settings or PairedSettings()
    values = np.asarray(differences, dtype=np.float64)
    if values.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(settings.seed)
    picks = rng.integers(0, values.size, size=(settings.resamples, values.size))
    means = values[picks].mean(axis=1)
    tail = (1.0 - settings.confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def wilcoxon_p(differences: Sequence[float] | np.ndarray) -> tuple[float, str]:
    """Two-sided Wilcoxon signed-rank p of the paired differences, and "" or why it is NaN
    (fewer than 2 pairs; every difference zero: there is no sign to test)."""
    values = np.asarray(differences, dtype=np.float64)
    if values.size < 2:
        return math.nan, f"{values.size} paired test speaker(s): at least 2 are needed"
    if np.all(values == 0):
        return math.nan, "every paired difference is zero"
    from scipy.stats import wilcoxon  # only here: the DAG imports this module for its settings

    with warnings.catch_warnings():
        # Zeros and ties make scipy fall back to the normal approximation, and say so.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = wilcoxon(values, alternative="two-sided")
    return float(result.pvalue), ""


def paired_difference(
    method_runs: Sequence[Mapping],
    reference_runs: Sequence[Mapping],
    measure: str = "UA",
    *,
    method: str = "method",
    reference: str = "reference",
    settings: PairedSettings | None = None,
) -> PairedDifference:
    """`measure` (`UA` or `WA`) of `method` minus `reference`, paired by test speaker: mean,
    bootstrap interval (`bootstrap_interval`) and Wilcoxon p (`wilcoxon_p`)."""
    settings = settings or PairedSettings()
    key = MEASURES[measure]
    pairs = pair_runs(method_runs, reference_runs, method, reference)
    differences = []
    for speaker, mine, theirs in pairs:
        a, b = mine[key], theirs[key]
        if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"{measure} of test speaker {speaker} is not a number ({a}, {b})")
        differences.append(float(a) - float(b))
    low, high = bootstrap_interval(differences, settings)
    p, note = wilcoxon_p(differences)
    return PairedDifference(
        measure=measure,
        method=method,
        reference=reference,
        speakers=tuple(speaker for speaker, _, _ in pairs),
        differences=tuple(differences),
        mean_difference=float(np.mean(differences)) if differences else math.nan,
        ci_low=low,
        ci_high=high,
        wilcoxon_p=p,
        p_note=note,
        settings=settings,
    )


def mean_of(runs: Sequence[Mapping], measure: str = "UA") -> float:
    """The mean of `measure` over a method's runs (what Table 2's cell shows); NaN for none."""
    values = [float(run[MEASURES[measure]]) for run in runs]
    return float(np.mean(values)) if values else math.nan


def best_method(runs_by_method: Mapping[str, Sequence[Mapping]], candidates: Sequence[str]) -> str:
    """Of the `candidates` that have runs, the one with the highest mean UA (the first in
    `candidates` order on a tie); a ValueError when none has runs."""
    present = [m for m in candidates if runs_by_method.get(m)]
    if not present:
        raise ValueError(f"none of {list(candidates)} has runs")
    return max(present, key=lambda m: (mean_of(runs_by_method[m]), -present.index(m)))


def signed(value: float, digits: int = 2) -> str:
    """`+3.21` / `−0.50` (a true minus sign), in percentage points of a fraction."""
    if math.isnan(value):
        return "n/a"
    points = 100 * value
    if round(points, digits) == 0:
        points = 0.0
    return f"{'−' if points < 0 else '+'}{abs(points):.{digits}f}"


def format_p(p: float, note: str = "") -> str:
    """`p = 0.084`, `p = 0.0020`, or `p n/a (why)`."""
    if math.isnan(p):
        return f"p n/a ({note})" if note else "p n/a"
    return f"p = {p:.3f}" if p >= 0.01 else f"p = {p:.4f}"


def format_difference(difference: PairedDifference) -> str:
    """`+3.21 [−0.50, +6.90], p = 0.084`: mean difference and interval in percentage points,
    then the Wilcoxon p."""
    return (
        f"{signed(difference.mean_difference)} "
        f"[{signed(difference.ci_low)}, {signed(difference.ci_high)}], "
        f"{format_p(difference.wilcoxon_p, difference.p_note)}"
    )


def verdict(ci_low: float, ci_high: float) -> str:
    """`beats` when the interval of the difference lies above zero, `is below` when it lies
    below, otherwise (or when there is no interval) `is not distinguishable from`: the
    interval, not the p, decides, so that a sentence and the numbers beside it never
    disagree."""
    if ci_low > 0:
        return "beats"
    if ci_high < 0:
        return "is below"
    return "is not distinguishable from"
