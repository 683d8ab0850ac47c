"""Finding a corpus's audio files, with errors that say what was expected where."""

from __future__ import annotations

from pathlib import Path


class CorpusError(ValueError):
    """A corpus that cannot be read as configured; the message names the file or folder."""


def find_audio(root: str | Path, pattern: str = "**/*.wav", *, expected: str = "") -> list[Path]:
    """Audio files under `root` matching `pattern`, sorted; macOS `._*` resource forks skipped.

    `expected` describes what should be there, for the error when nothing is.
    """
    root = Path(root).expanduser()
    hint = f"; expected {expected}" if expected else ""
    if not root.exists():
        raise CorpusError(f"corpus root {root} does not exist{hint}")
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder{hint}")
    files = sorted(
        path for path in root.glob(pattern) if path.is_file() and not path.name.startswith("._")
    )
    if not files:
        raise CorpusError(f"no files matching {pattern} under {root}{hint}")
    return files


def parse_error(path: Path, pattern: str) -> CorpusError:
    return CorpusError(f"{path}: file name does not follow the corpus's pattern {pattern}")
