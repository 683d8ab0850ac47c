"""Ablations of Table 2 (not a test: it runs the workflow and prints figures).

Runs `snakemake <target>` once per variant, each in its own working directory so that no
variant reuses another's cache, with the configuration files given: the corpus's first, then
the variant's overrides (Snakemake merges them key by key). Prints, and writes as TSV, every
Table 2 column of every variant: the test UA and WA over runs (mean and sample std), and the
mean validation UA, i.e. the figure a choice between variants may be made on (each run's
validation speaker, never its test speaker).

    python bench/ablation.py --out ablations/emodb --base emodb.yaml \\
        paper= speech=speech.yaml speaker=speaker.yaml recipe=config/recipe.yaml

A variant is `name=file[,file...]` (`name=`: the base alone). `--cores` is passed through.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def validation_ua(run: dict) -> float | None:
    """The validation speaker's UA of the model a run kept: the best epoch's (MLPs), or the
    chosen C's (utterance softmax)."""
    if "selection" in run and "chosen_C" in run:
        for trial in run["selection"]:
            if trial["C"] == run["chosen_C"]:
                return float(trial["validation_ua"])
    history = run.get("history")
    if history and "best_epoch" in run:
        for record in history:
            if record.get("epoch") == run["best_epoch"] and "validation_ua" in record:
                return float(record["validation_ua"])
    return None


def summarise(folds: Path) -> list[dict]:
    """One row per method folder of `results/<corpus>/folds/`: its `runs.json` (every run,
    one job), else its files of one run each."""
    from affectrep.stages.classification import RUNS_FILE, read_runs

    rows = []
    for method in sorted(p for p in folds.iterdir() if p.is_dir()):
        files = [method / RUNS_FILE] if (method / RUNS_FILE).is_file() else method.glob("*.json")
        runs = [run for f in sorted(files) for run in read_runs(f)]
        if not runs:
            continue
        ua = [100 * r["unweighted_accuracy"] for r in runs]
        wa = [100 * r["weighted_accuracy"] for r in runs]
        valid = [v for v in (validation_ua(r) for r in runs) if v is not None]
        rows.append(
            {
                "method": method.name,
                "runs": len(runs),
                "test_ua": f"{statistics.mean(ua):.2f} ± {statistics.stdev(ua):.2f}",
                "test_wa": f"{statistics.mean(wa):.2f} ± {statistics.stdev(wa):.2f}",
                "validation_ua": f"{100 * statistics.mean(valid):.2f}" if valid else "",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="+", help="name=override.yaml[,more.yaml]")
    parser.add_argument("--base", required=True, type=Path, help="the corpus's config file")
    parser.add_argument("--out", required=True, type=Path, help="working directories and TSV")
    parser.add_argument("--corpus", default=None, help="corpus name (default: run's first)")
    parser.add_argument("--target", default="table2", help="table2 | all")
    parser.add_argument("--cores", default="2")
    args = parser.parse_args(argv)
    import yaml

    corpus = args.corpus or yaml.safe_load(args.base.read_text())["run"][0]
    table = []
    for variant in args.variants:
        name, _, files = variant.partition("=")
        overrides = [Path(f).resolve() for f in files.split(",") if f]
        work = (args.out / name).resolve()
        work.mkdir(parents=True, exist_ok=True)
        target = f"results/{corpus}/tables/table2.md" if args.target == "table2" else args.target
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(work),
            "--cores",
            args.cores,
            "--configfile",
            str(ROOT / "config" / "config.yaml"),
            str(args.base.resolve()),
            *map(str, overrides),
            "--",
            target,
        ]
        started = time.perf_counter()
        with open(work / "snakemake.log", "w") as log:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            print(f"{name}: snakemake failed ({done.returncode}), see {work}/snakemake.log")
            continue
        for row in summarise(work / "results" / corpus / "folds"):
            table.append({"variant": name, **row, "wall_s": f"{seconds:.0f}"})
            print("\t".join(str(v) for v in table[-1].values()), flush=True)
    if table:
        with open(args.out / "ablation.tsv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, list(table[0]), delimiter="\t")
            writer.writeheader()
            writer.writerows(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
