"""How the workflow grows with corpus size (not a test: it prints a table).

For each size in hours, generates a demo corpus of about that size (`demo: {hours: ...}`),
then runs the real workflow through the features and one autoencoder
configuration (default TIED-128-5: three greedy layers and the codes) in a scratch folder,
and prints per stage the wall time (summed over its jobs), corpus frames per second of that
stage (constant if the stage grows linearly) and the peak resident memory of its largest job,
all read from Snakemake's own benchmark files. Growth should be linear in time; memory is
flat for feature extraction (audio and frames are streamed) and grows only by the frames
that training and encoding keep on the device.

    python bench/scale.py --hours 1 3 12 [--model tied-fft128-c5] [--cores 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def config_for(hours: float, model: str) -> dict:
    return {
        "run": ["scale"],
        "corpora": {
            "scale": {"reader": "iemocap", "demo": {"seed": 0, "sessions": 5, "hours": hours}}
        },
        "autoencoders": {"models": [model]},
    }


def stage_rows(benchmarks: Path) -> dict[str, dict[str, float]]:
    """Per stage (the benchmark name up to the first `_`): summed seconds, peak RSS."""
    stages: dict[str, dict[str, float]] = defaultdict(lambda: {"s": 0.0, "rss": 0.0})
    for path in sorted(benchmarks.rglob("*.tsv")):
        with open(path, newline="") as handle:
            row = list(csv.DictReader(handle, delimiter="\t"))[-1]
        stage = path.stem.split("_", 1)[0]
        stages[stage]["s"] += float(row["s"])
        stages[stage]["rss"] = max(stages[stage]["rss"], float(row["max_rss"] or 0))
    return dict(stages)


def n_frames(workdir: Path) -> int:
    index = workdir / "results" / "scale" / "features" / "fft128" / "index.tsv"
    with open(index, newline="") as handle:
        return sum(int(row["n_frames"]) for row in csv.DictReader(handle, delimiter="\t"))


def run_size(hours: float, model: str, cores: int, workdir: Path) -> list[dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "scale.yaml").write_text(yaml.safe_dump(config_for(hours, model)))
    spec = model.split("-")[1]
    targets = [f"results/scale/features/{s}/frames.npy" for s in (spec,)]
    targets += [f"results/scale/codes/{model}.npy"]
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        str(cores),
        *targets,
        "--configfile",
        str(workdir / "scale.yaml"),
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    total = time.perf_counter() - started
    frames = n_frames(workdir)
    rows = []
    for stage, values in stage_rows(workdir / "results" / "scale" / "benchmarks").items():
        per_s = frames / values["s"] if stage in ("features", "pretrain", "encode") else None
        rows.append(
            {
                "hours": hours,
                "stage": stage,
                "seconds": values["s"],
                "frames": frames,
                "frames_per_s": per_s,
                "peak_rss_mb": values["rss"],
            }
        )
    rows.append(
        {
            "hours": hours,
            "stage": "(workflow)",
            "seconds": total,
            "frames": frames,
            "frames_per_s": None,
            "peak_rss_mb": None,
        }
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, nargs="+", default=[1.0, 3.0, 12.0])
    parser.add_argument("--model", default="tied-fft128-c5")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="keep the scratch folders here")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="affectrep-scale-"))
    print(
        f"{'hours':>6} {'stage':<12} {'seconds':>9} {'frames':>10} {'frames/s':>10} {'peak MB':>8}"
    )
    try:
        for hours in args.hours:
            for row in run_size(hours, args.model, args.cores, base / f"{hours:g}h"):
                rate = f"{row['frames_per_s']:.0f}" if row["frames_per_s"] else ""
                rss = f"{row['peak_rss_mb']:.0f}" if row["peak_rss_mb"] else ""
                print(
                    f"{row['hours']:>6g} {row['stage']:<12} {row['seconds']:>9.1f} "
                    f"{row['frames']:>10} {rate:>10} {rss:>8}",
                    flush=True,
                )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
