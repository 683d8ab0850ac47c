"""Which settings made an output: canonical rule params and the record every output carries.

The cache is the truth only if (1) every setting that shapes an output is a rule param that
Snakemake can compare, and (2) whoever describes an output (the report, a model bundle, its
card) reads the settings from the output, never from today's config.

(1) Snakemake compares params by `repr`; a dataclass is "unrepresentable" and silently left
out of the check, and a dict's `repr` depends on its key order. `plain()` turns a param into
plain, canonical values: dicts with sorted keys, lists, and numbers where an integral float is
an int, so that equal settings always compare equal and different ones never do.

(2) Every job records `{job key: its params}` merged with the records of its inputs: the
provenance of an output is the settings of every job upstream of it. The record lives in the
output itself where it can (`provenance` in a `.npz`, a key of a `.json`), else in a JSON file
beside it that the rule declares as an output (`codes/{m}.json` beside `codes/{m}.npy`,
`tables/table1.json` beside `table1.md`). Two inputs that disagree about the same job were
made by different runs of it: that is a stale mix, and `job_provenance` refuses it.

JAX-free: the report and the DAG import it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from affectrep.atomic import atomic_path

PROVENANCE_KEY = "provenance"

# Outputs whose record lives in a sibling file of the same job.
_SIBLING_RECORDS = {
    "frames.npy": "stats.npz",
    "index.tsv": "stats.npz",
    "manifest.tsv": "manifest.json",
    "rejected.tsv": "manifest.json",
    "corpus_summary.txt": "manifest.json",
    "MODEL_CARD.md": "bundle.json",
    "config.yaml": "bundle.json",
}
# Files that describe nothing further (pictures, name lists, directories of audio).
_NO_RECORD = {".png", ".pdf", ".txt", ".log", ".wav", ".flac"}


class StaleInputsError(RuntimeError):
    """Inputs of one job were made by different runs of an upstream job."""


def plain(value: Any) -> Any:
    """`value` as plain, canonical Python: sorted-key dicts, lists, str/int/float/bool/None;
    dataclasses become dicts, tuples and sets lists, integral floats ints, numpy scalars
    Python numbers. Equal settings give equal `repr`s whatever their key order or spelling
    (`10` and `10.0`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (set, frozenset)):
        return sorted(plain(item) for item in value)
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not a plain setting: {value!r} ({type(value).__name__})")


def job_key(rule: str, wildcards: Mapping[str, Any]) -> str:
    """`features[corpus=demo,spec=fft128]`: one job of a rule."""
    inside = ",".join(f"{name}={wildcards[name]}" for name in sorted(wildcards))
    return f"{rule}[{inside}]" if inside else rule


def record_source(path: str | Path) -> Path | None:
    """The file that holds the provenance of output `path` (itself, a sibling, or the JSON of
    the same stem), or None for outputs that carry none (pictures, audio folders). An `.html`
    page is the HTML twin of the `.md` of the same stem (`affectrep.html`) and shares its
    record: `tables/table2.html` -> `tables/table2.json`, `MODEL_CARD.html` -> `bundle.json`."""
    path = Path(path)
    if path.suffix == ".html":
        return record_source(path.with_suffix(".md"))
    if path.name in _SIBLING_RECORDS:
        return path.parent / _SIBLING_RECORDS[path.name]
    if path.suffix in (".json", ".npz"):
        return path
    if path.suffix in _NO_RECORD or path.suffix == "" or path.is_dir():
        return None
    return path.with_suffix(".json")


def read_record(path: str | Path) -> dict | None:
    """The provenance recorded in (or for) output `path`; None if it has none."""
    source = record_source(path)
    if source is None or not source.is_file():
        return None
    if source.suffix == ".npz":
        with np.load(source) as archive:
            if PROVENANCE_KEY not in archive.files:
                return None
            return json.loads(str(archive[PROVENANCE_KEY]))
    try:
        loaded = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = loaded.get(PROVENANCE_KEY) if isinstance(loaded, dict) else None
    return found if isinstance(found, dict) else None


def merge_records(sources: Iterable[tuple[str, Mapping]]) -> dict:
    """One record from those of several inputs ((path, record) pairs); a job recorded
    differently by two inputs raises `StaleInputsError` naming both files."""
    merged: dict[str, Any] = {}
    seen_in: dict[str, str] = {}
    for where, record in sources:
        for key, settings in record.items():
            if key in merged and merged[key] != settings:
                raise StaleInputsError(
                    f"inputs made by different runs of {key}: {seen_in[key]} and {where} "
                    "record other settings for it; delete the older outputs (or run with "
                    f"--forcerun) so that both are rebuilt from the current config"
                )
            merged.setdefault(key, settings)
            seen_in.setdefault(key, where)
    return dict(sorted(merged.items()))


def inputs_record(paths: Iterable[str | Path]) -> dict:
    """The merged provenance of input files (each record file read once)."""
    sources: dict[Path, None] = {}
    for path in paths:
        source = record_source(path)
        if source is not None:
            sources.setdefault(source)
    found = []
    for source in sources:
        record = read_record(source)
        if record is not None:
            found.append((str(source), record))
    return merge_records(found)


class JobProvenance:
    """The record of one running job: its inputs' records plus its own params; `stamp()`
    writes it into (or beside) every output once the job's outputs exist."""

    def __init__(self, key: str, params: Mapping, upstream: Mapping) -> None:
        self.key = key
        self.params = plain(dict(params))
        self.upstream = dict(upstream)
        self.record = merge_records(
            [("(inputs)", self.upstream), ("(this job)", {key: self.params})]
        )

    @classmethod
    def of_snakemake(cls, smk: Any) -> JobProvenance:
        """From the `snakemake` object of a rule's script."""
        params = {name: value for name, value in smk.params.items()}
        inputs = [path for path in smk.input if isinstance(path, str)]
        return cls(job_key(smk.rule, dict(smk.wildcards.items())), params, inputs_record(inputs))

    def stamp(self, outputs: Iterable[str | Path]) -> None:
        """Write the record for every output (each record file once)."""
        done: set[Path] = set()
        for output in outputs:
            source = record_source(output)
            if source is None or source in done:
                continue
            done.add(source)
            write_record(source, self.record)


def write_record(source: str | Path, record: Mapping) -> None:
    """Put `record` into `source`: a key of an existing `.json` or `.npz` (rewritten
    atomically), or a new JSON file."""
    source = Path(source)
    if source.suffix == ".npz":
        with np.load(source) as archive:
            arrays = {name: archive[name] for name in archive.files}
        arrays[PROVENANCE_KEY] = np.array(json.dumps(record, sort_keys=True))
        with atomic_path(source) as tmp:
            np.savez(tmp, **arrays)
        return
    content: Any = {}
    if source.is_file():
        content = json.loads(source.read_text(encoding="utf-8"))
        if not isinstance(content, dict):
            content = {"value": content}
    content[PROVENANCE_KEY] = record
    with atomic_path(source) as tmp:
        Path(tmp).write_text(json.dumps(content, indent=1), encoding="utf-8")


def rule_of(key: str) -> str:
    return key.split("[", 1)[0]


def _job_label(key: str) -> str:
    """`pretrain_layer[corpus=demo,layer=1,stacked=tied-fft128-c5,without=]` ->
    `layer=1,stacked=tied-fft128-c5` (the corpus is the report's own)."""
    inside = key.partition("[")[2].rstrip("]")
    parts = [
        part
        for part in inside.split(",")
        if part and not part.startswith("corpus=") and not part.endswith("=")
    ]
    return ",".join(parts) or key


def summarise_by_rule(record: Mapping[str, Mapping], max_listed: int = 8) -> dict[str, dict]:
    """Per rule: the settings all its jobs shared and, for each setting that differs between
    jobs, its value per job (up to `max_listed` distinct values; beyond that the count: each
    output's own record has them all)."""
    by_rule: dict[str, dict[str, Mapping]] = {}
    for key, params in record.items():
        by_rule.setdefault(rule_of(key), {})[key] = params
    summary: dict[str, dict] = {}
    for rule, jobs in sorted(by_rule.items()):
        names = sorted({name for params in jobs.values() for name in params})
        shared: dict[str, Any] = {}
        per_job: dict[str, Any] = {}
        for name in names:
            values = {key: params.get(name) for key, params in jobs.items()}
            distinct = {json.dumps(v, sort_keys=True) for v in values.values()}
            if len(distinct) == 1:
                shared[name] = next(iter(values.values()))
            elif len(distinct) <= max_listed:
                per_job[name] = {_job_label(key): value for key, value in values.items()}
            else:
                per_job[name] = f"{len(distinct)} values (see each output's record)"
        entry: dict[str, Any] = {"jobs": len(jobs), "settings": shared}
        if per_job:
            entry["per job"] = per_job
        summary[rule] = entry
    return summary


def settings_yaml(record: Mapping[str, Mapping]) -> str:
    """A record summarised by rule (`summarise_by_rule`), as YAML (report, model card)."""
    return yaml.safe_dump(
        summarise_by_rule(record), sort_keys=False, default_flow_style=None, width=96
    ).strip()
