"""Rule `report` (`report.smk`): what was run, on what, how long it took, and what came out.

`results/{corpus}/report.md` is for people (and for the README's quoted numbers): the corpus
and its sizes, the settings and seeds, the software versions, wall time per stage (from the
rules' benchmark files), Tables 1 and 2, the separation table, the figures and the rejected
files. Every number is read from the workflow's own outputs; nothing is typed in here.

The run's real wall time comes from the benchmark files too: Snakemake writes a job's
benchmark file when the job ends and records in it the job's duration (`s`), so the file's
modification time is the job's end and that minus `s` its start (`job_intervals`). The run
took from the first job's start to the last job's end, over the jobs that made the report's
inputs: those of this corpus and of every other folder its record names (another corpus of
the cross-corpus matrix, `all-corpora`, `cross_corpus`). A long pause with no job running
(a run stopped and resumed later) is reported with it.
"""

from __future__ import annotations

import csv
import json
import os
import platform
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from affectrep.atomic import atomic_path
from affectrep.config import COMBINED_CORPUS
from affectrep.data.manifest import read_manifest
from affectrep.html import html_twin, write_html
from affectrep.protocol.dimensional import rated
from affectrep.protocol.table2 import learned_versus_handcrafted
from affectrep.protocol.tables import markdown_table
from affectrep.provenance import settings_yaml
from affectrep.version import describe

PACKAGES = (
    "affectrep",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "numpy",
    "scipy",
    "scikit-learn",
    "soundfile",
    "matplotlib",
    "opentsne",
    "opensmile",
    "snakemake",
)


def software_versions() -> dict[str, str]:
    """Python and the installed versions of the packages results depend on."""
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def stage_of(benchmark: Path, root: Path, rules: Sequence[str] = ()) -> str:
    """The stage a benchmark file belongs to: the longest rule name its name starts with
    (`demo_corpus.tsv` -> `demo_corpus`, `pretrain_layer_tied-fft128-c5_layer1.tsv` ->
    `pretrain_layer`), else the part before the first `_`; a sub-folder is kept as a prefix
    (`folds/mlp_Ses01-x.tsv` -> `folds mlp`)."""
    relative = benchmark.relative_to(root).with_suffix("")
    name = relative.name
    matching = [rule for rule in rules if name == rule or name.startswith(f"{rule}_")]
    stage = max(matching, key=len) if matching else name.split("_", 1)[0]
    if relative.parent != Path("."):
        return f"{relative.parent.as_posix()} {stage}"
    return stage


def wall_times(benchmarks: Path, rules: Sequence[str] = ()) -> list[dict[str, str]]:
    """Jobs, summed and longest wall time, and the largest peak resident memory (MB) of one
    job per stage, from Snakemake's benchmark files."""
    seconds: dict[str, list[float]] = defaultdict(list)
    memory: dict[str, list[float]] = defaultdict(list)
    for path in sorted(benchmarks.rglob("*.tsv")):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if rows and "s" in rows[-1]:
            stage = stage_of(path, benchmarks, rules)
            seconds[stage].append(float(rows[-1]["s"]))
            rss = rows[-1].get("max_rss", "")
            if rss not in ("", "-", "NA"):
                memory[stage].append(float(rss))
    return [
        {
            "stage": stage,
            "jobs": str(len(values)),
            "total_s": f"{sum(values):.1f}",
            "longest_s": f"{max(values):.1f}",
            "peak_rss_mb": f"{max(memory[stage]):.0f}" if memory[stage] else "",
        }
        for stage, values in sorted(seconds.items())
    ]


def run_benchmark_folders(benchmarks: Path, record: Mapping) -> list[Path]:
    """The benchmark folders of the jobs in `record` (a report's provenance): this corpus's
    (`results/{corpus}/benchmarks`), every corpus a job names (`corpus=...`), the combined
    corpus's for `combine_*` jobs and the cross-corpus matrix's; those that exist."""
    results = benchmarks.parent.parent
    folders = {benchmarks}
    for key in record:
        rule, _, inside = key.partition("[")
        for part in inside.rstrip("]").split(","):
            name, _, value = part.partition("=")
            if name == "corpus" and value:
                folders.add(results / value / "benchmarks")
        if rule.startswith("combine_"):
            folders.add(results / COMBINED_CORPUS / "benchmarks")
        if rule == "cross_corpus":
            folders.add(results / "cross_corpus" / "benchmarks")
    return sorted(folder for folder in folders if folder.is_dir())


def job_intervals(benchmarks: Path | Sequence[Path]) -> list[tuple[float, float]]:
    """(start, end) in seconds since the epoch of every benchmarked job in the folder(s):
    the end is the time Snakemake wrote its benchmark file (when the job ended), the start
    that minus the job's recorded duration."""
    folders = [benchmarks] if isinstance(benchmarks, Path) else list(benchmarks)
    intervals = []
    for path in sorted(p for folder in folders for p in folder.rglob("*.tsv")):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if rows and "s" in rows[-1]:
            try:
                seconds = float(rows[-1]["s"])
            except ValueError:
                continue
            end = path.stat().st_mtime
            intervals.append((end - seconds, end))
    return intervals


def run_wall_time(intervals: Sequence[tuple[float, float]]) -> dict[str, float] | None:
    """`start`, `end` and `span` (first job's start to last job's end, s) of the jobs,
    `jobs_s` (their seconds summed), `busy` (the seconds in which at least one of them was
    running) and the longest `pause` with none running, from `pause_start`; None without
    jobs."""
    if not intervals:
        return None
    ordered = sorted(intervals)
    busy, pause, pause_start = 0.0, 0.0, ordered[0][0]
    current_start, current_end = ordered[0]
    for start, end in ordered[1:]:
        if start > current_end:
            busy += current_end - current_start
            if start - current_end > pause:
                pause, pause_start = start - current_end, current_end
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    busy += current_end - current_start
    start, end = ordered[0][0], max(end for _, end in ordered)
    return {
        "start": start,
        "end": end,
        "span": end - start,
        "busy": busy,
        "pause": pause,
        "pause_start": pause_start,
        "jobs_s": sum(e - s for s, e in ordered),
        "jobs": len(ordered),
    }


# A pause this long with no job running is not scheduling: the run was stopped and resumed.
_PAUSE_S = 300.0


def _time(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).astimezone().isoformat(sep=" ", timespec="seconds")


def _wall_time_line(folders: Sequence[Path], here: Path, job_seconds: float) -> str:
    wall = run_wall_time(job_intervals(folders))
    if wall is None:
        return "No benchmark files: no wall time to report."
    names = ", ".join(Path(os.path.relpath(folder, here)).as_posix() for folder in folders)
    line = (
        f"Wall time of the run: {wall['span']:.0f} s, from the first job's start "
        f"({_time(wall['start'])}) to the last job's end ({_time(wall['end'])}), over "
        f"the {wall['jobs']:.0f} benchmarked jobs that made this report's inputs ({names}),"
        f" which took {wall['jobs_s']:.0f} s of job time in all (they run in parallel); "
        f"this corpus's own jobs, per stage below, {job_seconds:.0f} s. A job's end is "
        "when Snakemake wrote its benchmark file, its start that minus its seconds (the "
        "report job itself is not counted)."
    )
    if wall["pause"] > max(_PAUSE_S, 0.1 * wall["span"]):
        line += (
            f" No job ran for {wall['pause']:.0f} s from {_time(wall['pause_start'])}: "
            f"the run was stopped and resumed later (or parts rebuilt); jobs were "
            f"running for {wall['busy']:.0f} s of the span."
        )
    return line


def _markdown(rows: Sequence[Mapping[str, str]]) -> str:
    return markdown_table([dict(row) for row in rows]) if rows else "(none)"


def _body(path: Path) -> str:
    """A table's Markdown without its own `# title` line (the report gives a heading)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    # Its own sections go one level down, under the report's heading for it.
    lines = [f"#{line}" if line.startswith("## ") else line for line in lines]
    return "\n".join(lines).strip()


@dataclass(frozen=True)
class Note:
    """A report section that has no table, only a line saying why (e.g. no cross-corpus
    matrix with one corpus): the reader learns that it was left out on purpose."""

    text: str


def _rejections(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def build_report(
    corpus: str,
    *,
    manifest: Path,
    summary: Path,
    rejected: Path,
    tables: Mapping[str, Path | Note],
    figures: Sequence[Path],
    benchmarks: Path,
    record: Mapping,
    output: Path,
    rules: Sequence[str] = (),
    findings: Sequence[str] = (),
    figure_notes: Sequence[str] = (),
) -> str:
    """Write `output` (Markdown) and its HTML twin (`output` with `.html`), and return the
    Markdown. `tables`: title -> a table's .md file, or a `Note` for a section that has
    none; figure paths are linked relative to the report, `figure_notes` (figures left out,
    and why) listed after them; `findings`: sentences under the opening summary."""
    rows = read_manifest(manifest)
    hours = sum(row.duration_s or 0.0 for row in rows) / 3600
    labelled = sum(1 for row in rows if row.emotion)
    rejections = _rejections(rejected)
    here = output.parent
    parts = [
        f"# Run report: corpus `{corpus}`",
        "",
        f"{len(rows)} utterances ({hours:.2f} h of audio, {labelled} with one of the four "
        f"classes), {len({row.speaker for row in rows})} speakers, "
        f"{len({row.session for row in rows})} sessions; {len(rejections)} files rejected.",
        *(line for finding in findings for line in ("", finding)),
        "",
        "## Corpus",
        "",
        "```",
        summary.read_text().strip(),
        "```",
    ]
    for title, path in tables.items():
        parts += ["", f"## {title}", "", path.text if isinstance(path, Note) else _body(path)]
    parts += ["", "## Figures", ""]
    parts += [
        f"- [{path.name}]({Path(os.path.relpath(path, here)).as_posix()})" for path in figures
    ]
    if figure_notes:
        parts += ["", *figure_notes]
    times = wall_times(benchmarks, rules)
    total = sum(float(row["total_s"]) for row in times)
    parts += [
        "",
        "## Wall time and memory per stage",
        "",
        _wall_time_line(run_benchmark_folders(benchmarks, record), here, total),
        "",
        "Per stage, from the rules' benchmark files:",
        "",
        _markdown(times),
    ]
    parts += ["", "## Rejected files", "", _markdown(rejections)]
    parts += [
        "",
        "## Settings",
        "",
        "Read from the outputs above, not from the config: per workflow rule, the "
        "settings all its jobs shared (each output's own record, in its `.npz`, its "
        "`.json` or the `.json` beside it, has every job's).",
        "",
        "```yaml",
        settings_yaml(record),
        "```",
    ]
    parts += [
        "",
        "## Software",
        "",
        f"Written by affectrep {describe()}.",
        "",
        _markdown([{"package": k, "version": v} for k, v in software_versions().items()]),
        "",
    ]
    text = "\n".join(parts)
    with atomic_path(output) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    # The same report as a page that the Snakemake report shows inline (`affectrep.html`).
    write_html(text, html_twin(output))
    return text


def report(
    corpus: str,
    *,
    manifest: str | Path,
    summary: str | Path,
    rejected: str | Path,
    table1: str | Path,
    table2: str | Path,
    separation: str | Path,
    dimensional: str | Path,
    cross_corpus: Sequence[str | Path],
    cards: Sequence[str | Path],
    figures: Sequence[str | Path],
    record: Mapping,
    output: str | Path,
    rules: Sequence[str] = (),
    paired: str | Path | None = None,
    cross_corpora: Sequence[str] = (),
) -> str:
    """Rule `report`: `build_report` of the run's tables (the cross-corpus matrix when this
    corpus is in it; each exported bundle's model card), with the wall times of the benchmark
    files beside the report (`benchmarks/`, where every job of the corpus writes its own).

    `paired`: Table 2's paired comparison (`table2_paired.json`), from which one sentence
    says whether the best learned column beats the best hand-crafted one on this corpus.
    `cross_corpora`: the corpora of the cross-corpus matrix; with fewer than two there is no
    matrix, and a line says so. The figures fit the corpus: without activation and valence
    ratings `dimensional.png` is only a placeholder, so it is left out, saying why."""
    output = Path(output)
    rows = read_manifest(manifest)
    cross: dict[str, Path | Note] = {}
    if cross_corpus:
        cross["Cross-corpus"] = Path(cross_corpus[0])
    elif len(cross_corpora) < 2:
        names = ", ".join(f"`{c}`" for c in cross_corpora) or "none"
        cross["Cross-corpus"] = Note(
            f"No cross-corpus matrix: it needs at least two corpora, and only {names} takes "
            "part (`use.cross_corpus`, or the corpora in `run` when that is empty)."
        )
    elif corpus not in cross_corpora:
        cross["Cross-corpus"] = Note(
            f"Corpus `{corpus}` is not one of the cross-corpus matrix's corpora "
            f"({', '.join(cross_corpora)})."
        )
    tables: dict[str, Path | Note] = {
        "Table 1: validation grid": Path(table1),
        "Table 2: leave-one-session-out classification": Path(table2),
        "Separation of affect in the representations": Path(separation),
        "Activation and valence": Path(dimensional),
        **cross,
        **{f"Model bundle {Path(card).parent.name}": Path(card) for card in cards},
    }
    shown = [Path(p) for p in figures]
    figure_notes = []
    if not rated(rows):
        left_out = [p for p in shown if p.name == "dimensional.png"]
        shown = [p for p in shown if p not in left_out]
        if left_out:
            figure_notes.append(
                f"`{left_out[0].name}` is left out: corpus `{corpus}` has no activation and "
                "valence ratings, so there is nothing to plot."
            )
    findings = []
    if paired is not None:
        comparison = json.loads(Path(paired).read_text(encoding="utf-8"))
        findings.append(learned_versus_handcrafted(comparison, corpus))
    return build_report(
        corpus,
        manifest=Path(manifest),
        summary=Path(summary),
        rejected=Path(rejected),
        tables=tables,
        figures=shown,
        benchmarks=output.parent / "benchmarks",
        record=record,
        output=output,
        rules=rules,
        findings=findings,
        figure_notes=figure_notes,
    )
