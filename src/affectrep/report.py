"""The run report: what was run, on what, how long it took, and what came out, in one file.

`results/{corpus}/report.md` is for people (and for the README's quoted numbers): the corpus
and its sizes, the settings and seeds, the software versions, wall time per stage (from the
rules' benchmark files), Tables 1 and 2, the separation table, the figures and the rejected
files. Every number is read from the workflow's own outputs; nothing is typed in here.
"""

from __future__ import annotations

import csv
import os
import platform
from collections import defaultdict
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

from affectrep.atomic import atomic_path
from affectrep.manifest import read_manifest
from affectrep.provenance import settings_yaml
from affectrep.tables import markdown_table

PACKAGES = ("affectrep", "jax", "jaxlib", "flax", "optax", "numpy", "scipy", "scikit-learn",
            "soundfile", "matplotlib", "opentsne", "opensmile", "snakemake")


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
    (`folds/mlp_fold1-x.tsv` -> `folds mlp`)."""
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
        {"stage": stage, "jobs": str(len(values)), "total_s": f"{sum(values):.1f}",
         "longest_s": f"{max(values):.1f}",
         "peak_rss_mb": f"{max(memory[stage]):.0f}" if memory[stage] else ""}
        for stage, values in sorted(seconds.items())
    ]


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


def _rejections(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def build_report(
    corpus: str,
    *,
    manifest: Path,
    summary: Path,
    rejected: Path,
    tables: Mapping[str, Path],
    figures: Sequence[Path],
    benchmarks: Path,
    record: Mapping,
    output: Path,
    rules: Sequence[str] = (),
) -> str:
    """Write `output` (Markdown) and return its text. `tables`: title -> a table's .md file;
    figure paths are linked relative to the report."""
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
        "",
        "## Corpus",
        "",
        "```",
        summary.read_text().strip(),
        "```",
    ]
    for title, path in tables.items():
        parts += ["", f"## {title}", "", _body(path)]
    parts += ["", "## Figures", ""]
    parts += [f"- [{path.name}]({Path(os.path.relpath(path, here)).as_posix()})"
              for path in figures]
    times = wall_times(benchmarks, rules)
    total = sum(float(row["total_s"]) for row in times)
    parts += ["", "## Wall time and memory per stage", "",
              f"From the rules' benchmark files: {total:.0f} s of jobs in all (jobs run in "
              "parallel, so the run itself took less).", "", _markdown(times)]
    parts += ["", "## Rejected files", "", _markdown(rejections)]
    parts += ["", "## Settings", "",
              "Read from the outputs above, not from the config: per workflow rule, the "
              "settings all its jobs shared (each output's own record, in its `.npz`, its "
              "`.json` or the `.json` beside it, has every job's).", "",
              "```yaml", settings_yaml(record), "```"]
    parts += ["", "## Software", "",
              _markdown([{"package": k, "version": v} for k, v in software_versions().items()]),
              ""]
    text = "\n".join(parts)
    with atomic_path(output) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return text
