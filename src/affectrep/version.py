"""Which affectrep made a result: the package version and the git commit of its source tree.

One place for `affectrep --version`, `bundle.json` and `report.md`. The version is the one in
the source that is running (`affectrep.__version__`, which pyproject.toml also reads), so a
workflow script that imports the library from `src/` reports that tree even where another
copy is installed. The commit comes from `git` when the package's own files are tracked in a
git checkout (an editable install, or `src/` on the path), with `+dirty` when those files
differ from it; from an installed wheel, or without git, it is "unknown".
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

UNKNOWN = "unknown"
_PACKAGE_DIR = Path(__file__).resolve().parent


def package_version() -> str:
    from affectrep import __version__

    return __version__


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=_PACKAGE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def git_commit() -> str:
    """The commit of the checkout this package runs from, `+dirty` if the package's files
    differ from it; "unknown" when it does not run from a checkout or git is missing.

    Only a checkout that tracks the package's own files counts: a wheel installed into a virtual
    environment that happens to sit inside some git repository is not part of its history."""
    if _git("ls-files", "--error-unmatch", "--", "__init__.py") is None:
        return UNKNOWN
    commit = _git("rev-parse", "--verify", "HEAD")
    if not commit:
        return UNKNOWN
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return f"{commit}+dirty" if changed else commit


def software() -> dict[str, str]:
    """`{"version": ..., "git_commit": ...}`, as bundle.json records it."""
    return {"version": package_version(), "git_commit": git_commit()}


def describe() -> str:
    """One line for `--version` and the report: `0.1.0 (git commit 1a2b...)`."""
    return f"{package_version()} (git commit {git_commit()})"
