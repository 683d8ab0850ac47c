"""`affectrep`: use an exported model bundle on audio files, without the workflow.

    affectrep embed BUNDLE AUDIO... --out codes.csv [--level pooled|blstm|frames] [--force]
    affectrep predict BUNDLE AUDIO... [--out predictions.csv] [--force]

Any sample rate, mono or stereo (`--channel`: mix, or which channel; default: as the corpus
was read); files longer than `--window-s` are processed in windows.
Frames are normalised with the training corpus's global statistics; when the workflow
normalised each speaker with that speaker's own (`features.normalization: speaker`, as the
recipe does), give `--one-speaker` for files of one speaker: they are then normalised with
their own statistics, as the corpus's speakers were (the more files, the closer).
A file that cannot be used is reported on stderr (which file, what is wrong) and skipped; the
others are still processed, and the exit status is 1 if any file failed.

Anything else that goes wrong (a bundle that cannot be read or whose arrays do not fit
together, a bad option, an `--out` that would overwrite something, stdout closed, a full disk)
is one line on stderr, `affectrep: <cause>`, and exit status 2; results already computed are
still written wherever they can be.

`--out` never replaces an input (an audio file or a file of the bundle), and replaces an
existing file only if it is an earlier output of the same command and format, recognised by
its content: a predict CSV by its exact header line, an embed CSV by its header `file,
pooled_0, pooled_1, ...` (or `blstm_...`), an embed `.npz` by the zip comment that embed
writes (`affectrep embed`; NumPy ignores it). `.npy` has no room for such a mark, so an
existing `.npy`, like any other existing file, is replaced only with `--force`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.audio import BadAudioError
from affectrep.data.emotions import CLASSES

# What a bad input file raises: the file is named and skipped. Anything else stops the run.
USE_ERRORS = (BadAudioError, OSError, ValueError)
PREDICT_COLUMNS = ("file", "emotion", *CLASSES, "activation", "valence")
NPZ_MARK = b"affectrep embed"
EMBED_CSV_LEVELS = ("pooled", "blstm")
_HEADER_BYTES = 1 << 20  # an earlier output's header line is far shorter


class FatalError(Exception):
    """A problem that stops the command: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        self.exit(2, f"affectrep: {message} (see `{self.prog} --help`)\n")


def _channel(text: str) -> str | int:
    if text == "mix":
        return text
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"must be 'mix' or a channel index >= 0, not {text!r}")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, not {text!r}")
    return value


class _Version(argparse.Action):
    """`--version`: the package version and git commit, looked up only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from affectrep.version import describe

        print(f"affectrep {describe()}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="affectrep", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version", action=_Version, help="print the version and git commit, and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("embed", "write representations of audio files"),
        ("predict", "print emotion probabilities, activation and valence"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("bundle", type=Path, help="results/{corpus}/export/{model}")
        command.add_argument("audio", type=Path, nargs="+", help="audio files (wav, flac, ...)")
        command.add_argument(
            "--window-s",
            type=_seconds,
            default=None,
            help="process longer files in windows of about this many seconds "
            "(default: the bundle's, from config use.window_s)",
        )
        if name == "embed":
            command.add_argument(
                "--out",
                type=Path,
                required=True,
                help=".npy (rows: files), .csv (one row per file), or .npz "
                "(frames: one array per file)",
            )
            command.add_argument(
                "--level",
                choices=("pooled", "blstm", "frames"),
                default="pooled",
                help="pooled: statistics of the frame codes (the bundle's pooling); blstm: the "
                "BLSTM vector; frames: every frame's code",
            )
        else:
            command.add_argument("--out", type=Path, help="also write the table as .csv")
        command.add_argument(
            "--channel",
            type=_channel,
            default=None,
            help="how multi-channel files become mono: mix (the mean) or a channel index "
            "(0 = the first); default: the bundle's, as the corpus was read (audio.channel)",
        )
        command.add_argument(
            "--one-speaker",
            action="store_true",
            help="the files are all one speaker's: normalise their frames with their own "
            "statistics (bundles of a corpus normalised per speaker only)",
        )
        command.add_argument(
            "--force",
            action="store_true",
            help="let --out replace an existing file that is not an earlier "
            "output of this command (inputs are never replaced)",
        )
    return parser


def _say(message: str) -> None:
    """One line on stderr (quietly nothing if stderr itself is gone)."""
    if sys.stderr is None:
        return
    with contextlib.suppress(OSError, ValueError):
        print(str(message).replace("\r", " ").replace("\n", " "), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _check_out(args)
        from affectrep.device import keep_freed_memory
        from affectrep.logs import quiet_jax
        from affectrep.use.bundle import Bundle, BundleError

        keep_freed_memory()  # as the workflow's jobs do: XLA's working memory is reused
        quiet_jax()
        try:
            bundle = Bundle.load(args.bundle)
        except BundleError as error:
            raise FatalError(f"cannot load {error}") from error
        if args.window_s is None:
            args.window_s = float(bundle.info.get("window_s", 30.0))
        if args.channel is not None:  # read the new files this way instead of the corpus's
            bundle = replace(bundle, info={**bundle.info, "channel": args.channel})
        shortest = bundle.spec.window_ms / 1000
        if args.window_s < shortest:
            raise FatalError(
                f"--window-s {args.window_s:g} is shorter than one "
                f"{bundle.spec.window_ms:g} ms spectrogram window"
            )
        args.statistics = _statistics(bundle, args)
    except FatalError as failure:
        _say(f"affectrep: {failure}")
        return 2
    run = _embed if args.command == "embed" else _predict
    problems, failed = run(bundle, args)
    for problem in problems:
        _say(f"affectrep: {problem}")
    return 2 if problems else 1 if failed else 0


def _statistics(bundle, args):
    """The files' own normalisation statistics with --one-speaker (None without it); a note
    when the bundle's corpus was normalised per speaker and the option is missing."""
    if not args.one_speaker:
        if bundle.normalization == "speaker":
            _say(
                "affectrep: note: this bundle's corpus was normalised per speaker; the files are "
                "normalised with its global statistics (give --one-speaker if they are all one "
                "speaker's)"
            )
        return None
    if bundle.normalization != "speaker":
        raise FatalError(
            f"--one-speaker: {args.bundle}'s corpus was normalised {bundle.normalization!r}, "
            "not per speaker, so its codes take no speaker statistics: leave the option out"
        )
    try:
        return bundle.speaker_statistics(args.audio, args.window_s, skip=USE_ERRORS)
    except ValueError as error:  # no file could be read: each is reported when processed
        _say(f"affectrep: --one-speaker: {error}")
        return None


# --- where --out may go ---------------------------------------------------------------------


def _check_out(args) -> None:
    """Refuse, before any work, an --out of the wrong format, one that is an input, or one
    that would replace a file this command did not write (unless --force)."""
    out: Path | None = args.out
    if out is None:
        return
    suffix = out.suffix.lower()
    if args.command == "predict":
        if suffix != ".csv":
            raise FatalError(
                f"predict --out writes CSV: give a name ending in .csv, not {out.name}"
            )
    elif args.level == "frames":
        if suffix != ".npz":
            raise FatalError("--level frames writes one array per file: give --out *.npz")
    elif suffix not in (".npy", ".csv"):
        raise FatalError(f"--out must end in .npy or .csv, not {out.name}")
    bundle_files = sorted(args.bundle.iterdir()) if args.bundle.is_dir() else []
    for source in [*args.audio, *bundle_files]:
        if _same_file(out, source):
            raise FatalError(f"--out {out} is the input {source}: inputs are never overwritten")
    if not os.path.lexists(out):
        return
    if out.is_dir():
        raise FatalError(f"--out {out} is a directory")
    if not args.force and suffix == ".npy":
        raise FatalError(
            f"--out {out} exists (an .npy file cannot show that affectrep wrote it); "
            "give --force to overwrite it"
        )
    if not args.force and not _earlier_output(out, args):
        raise FatalError(
            f"--out {out} exists and is not an earlier `affectrep {args.command}` "
            f"{suffix.lstrip('.')} output; give --force to overwrite it"
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _earlier_output(path: Path, args) -> bool:
    """Whether `path` is recognisably a file that this command writes in this format."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                return archive.comment == NPZ_MARK
        if suffix != ".csv":
            return False  # .npy: no mark possible, see the module doc
        with open(path, "rb") as handle:
            first = handle.readline(_HEADER_BYTES).decode("utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile):
        return False
    fields = first.split(",")
    if args.command == "predict":
        return tuple(fields) == PREDICT_COLUMNS
    return (
        len(fields) > 1
        and fields[0] == "file"
        and any(
            fields[1:] == [f"{level}_{k}" for k in range(len(fields) - 1)]
            for level in EMBED_CSV_LEVELS
        )
    )


# --- the commands ---------------------------------------------------------------------------


def _each(paths: Sequence[Path], work) -> tuple[list, int, list[str]]:
    """(path, result) of every file that worked, the number skipped, and the problem that
    stopped the run early (if any). A bad file is named on stderr and skipped; any other
    error stops the loop, keeping what was done."""
    done, failed = [], 0
    for path in paths:
        try:
            done.append((path, work(path)))
        except USE_ERRORS as error:
            failed += 1
            where = "" if str(path) in str(error) else f"{path}: "
            _say(f"affectrep: skipped {where}{error}")
        except Exception as error:  # not the file's fault: stop, but keep the results so far
            rest = len(paths) - len(done) - failed - 1
            return (
                done,
                failed,
                [
                    f"stopped at {path} ({rest} file(s) not processed): "
                    f"{type(error).__name__}: {error}"
                ],
            )
    return done, failed, []


def _embed(bundle, args) -> tuple[list[str], int]:
    done, failed, problems = _each(
        args.audio, lambda p: bundle.embed(p, args.level, args.window_s, args.statistics)
    )
    if done:
        try:
            _write_embedding(args.out, args.level, done)
        except OSError as error:
            problems.append(f"cannot write {args.out}: {error}")
        else:
            _say(f"affectrep: {len(done)} file(s) -> {args.out}")
            if args.out.suffix.lower() == ".npy":
                _say(
                    "affectrep: rows are in the order of the files that worked: "
                    + ", ".join(str(p) for p, _ in done)
                )
    return problems, failed


def _write_embedding(out: Path, level: str, done: list) -> None:
    suffix = out.suffix.lower()
    with atomic_path(out) as tmp:
        if suffix == ".npz":
            np.savez(tmp, **{f"{i}:{path}": values for i, (path, values) in enumerate(done)})
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.comment = NPZ_MARK  # how a later run recognises its own output
        elif suffix == ".npy":
            np.save(tmp, np.stack([values for _, values in done]))
        else:
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                dims = len(done[0][1])
                writer.writerow(["file", *(f"{level}_{k}" for k in range(dims))])
                for path, values in done:
                    writer.writerow([str(path), *(f"{v:.7g}" for v in values)])


def _predict(bundle, args) -> tuple[list[str], int]:
    done, failed, problems = _each(
        args.audio, lambda p: bundle.predict(p, args.window_s, args.statistics)
    )
    table = [{k: _cell(row[k]) for k in PREDICT_COLUMNS} for _, row in done]
    if args.out is not None and table:  # first: printing may fail, the file must not
        try:
            with (
                atomic_path(args.out) as tmp,
                open(tmp, "w", newline="", encoding="utf-8") as handle,
            ):
                out = csv.DictWriter(handle, fieldnames=PREDICT_COLUMNS)
                out.writeheader()
                out.writerows(table)
        except OSError as error:
            problems.append(f"cannot write {args.out}: {error}")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=PREDICT_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    problem = _print(text.getvalue())
    if problem:
        problems.append(problem)
    return problems, failed


def _print(text: str) -> str | None:
    """Write `text` to stdout; the problem, if stdout is closed or cannot take it."""
    if sys.stdout is None:
        return "cannot print the table: stdout is closed"
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError) as error:
        # What is still buffered would fail again at exit (a second, multi-line message):
        # point stdout at the null device instead.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        return f"cannot print the table to stdout: {error}"
    return None


def _cell(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4f}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
