"""`affectrep`: use an exported model bundle on audio files, without the workflow.

    affectrep embed BUNDLE AUDIO... --out codes.csv [--level pooled|blstm|frames]
    affectrep predict BUNDLE AUDIO... [--out predictions.csv]

Any sample rate, mono or stereo; files longer than `--window-s` are processed in windows.
A file that cannot be used is reported on stderr (which file, what is wrong) and skipped; the
others are still processed, and the exit status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.audio import BadAudioError

# What a bad input file raises; anything else is a bug and stops the command.
USE_ERRORS = (BadAudioError, OSError, ValueError)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="affectrep", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("embed", "write representations of audio files"),
                       ("predict", "print emotion probabilities, activation and valence")):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("bundle", type=Path, help="results/{corpus}/export/{model}")
        command.add_argument("audio", type=Path, nargs="+", help="audio files (wav, flac, ...)")
        command.add_argument("--window-s", type=float, default=None,
                             help="process longer files in windows of about this many seconds "
                                  "(default: the bundle's, from config use.window_s)")
        if name == "embed":
            command.add_argument("--out", type=Path, required=True,
                                 help=".npy (rows: files), .csv (one row per file), or .npz "
                                      "(frames: one array per file)")
            command.add_argument("--level", choices=("pooled", "blstm", "frames"),
                                 default="pooled",
                                 help="pooled: mean and std of the frame codes; blstm: the "
                                      "BLSTM vector; frames: every frame's code")
        else:
            command.add_argument("--out", type=Path, help="also write the table as .csv")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from affectrep.bundle import Bundle
    from affectrep.logs import quiet_jax

    quiet_jax()
    try:
        bundle = Bundle.load(args.bundle)
    except (OSError, ValueError, KeyError) as error:
        print(f"affectrep: cannot load bundle {args.bundle}: {error}", file=sys.stderr)
        return 2
    if args.window_s is None:
        args.window_s = float(bundle.info.get("window_s", 30.0))
    if args.command == "embed":
        return _embed(bundle, args)
    return _predict(bundle, args)


def _each(paths: Sequence[Path], work):
    """(path, result) of every file that worked; errors go to stderr."""
    done, failed = [], 0
    for path in paths:
        try:
            done.append((path, work(path)))
        except USE_ERRORS as error:
            failed += 1
            where = "" if str(path) in str(error) else f"{path}: "
            print(f"affectrep: skipped {where}{error}", file=sys.stderr)
    return done, failed


def _embed(bundle, args) -> int:
    suffix = args.out.suffix.lower()
    if args.level == "frames" and suffix != ".npz":
        print("affectrep: --level frames writes one array per file: give --out *.npz",
              file=sys.stderr)
        return 2
    if args.level != "frames" and suffix not in (".npy", ".csv"):
        print(f"affectrep: --out must end in .npy or .csv, not {args.out.name}",
              file=sys.stderr)
        return 2
    done, failed = _each(args.audio, lambda p: bundle.embed(p, args.level, args.window_s))
    if done:
        with atomic_path(args.out) as tmp:
            if suffix == ".npz":
                np.savez(tmp, **{f"{i}:{path}": values for i, (path, values) in enumerate(done)})
            elif suffix == ".npy":
                np.save(tmp, np.stack([values for _, values in done]))
            else:
                with open(tmp, "w", newline="") as handle:
                    writer = csv.writer(handle)
                    dims = len(done[0][1])
                    writer.writerow(["file", *(f"{args.level}_{k}" for k in range(dims))])
                    for path, values in done:
                        writer.writerow([str(path), *(f"{v:.7g}" for v in values)])
        print(f"affectrep: {len(done)} file(s) -> {args.out}", file=sys.stderr)
        if suffix == ".npy":
            print("affectrep: rows are in the order of the files that worked: "
                  + ", ".join(str(p) for p, _ in done), file=sys.stderr)
    return 1 if failed else 0


def _predict(bundle, args) -> int:
    from affectrep.emotions import CLASSES

    done, failed = _each(args.audio, lambda p: bundle.predict(p, args.window_s))
    columns = ["file", "emotion", *CLASSES, "activation", "valence"]
    table = [{k: row[k] for k in columns} for _, row in done]
    writer = csv.DictWriter(sys.stdout, fieldnames=columns, delimiter="\t",
                            lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    if args.out is not None and table:
        with atomic_path(args.out) as tmp, open(tmp, "w", newline="") as handle:
            out = csv.DictWriter(handle, fieldnames=columns)
            out.writeheader()
            out.writerows({k: _cell(v) for k, v in row.items()} for row in table)
    return 1 if failed else 0


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
