"""Packaging and conventions: version and commit, `python -m`, lazy imports, extras, licence and
citation, conda environments, the Makefile's Python check and `make clean`, one std."""

import ast
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import yaml

import affectrep
from affectrep import version
from affectrep.protocol.tables import spread

ROOT = Path(__file__).resolve().parents[1]
COMMIT = re.compile(r"^([0-9a-f]{40}(\+dirty)?|unknown)$")


# Variables an outer `make` (`make test`, as CI runs it) hands down: a nested make would then
# print "Entering directory" lines and take the outer make's flags.
_OUTER_MAKE = ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")


def _run(*args: str, cwd: Path = ROOT, **kwargs) -> subprocess.CompletedProcess:
    if "env" not in kwargs:
        kwargs["env"] = {k: v for k, v in os.environ.items() if k not in _OUTER_MAKE}
    return subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )


# --- the command and the package ------------------------------------------------------------


def test_version_prints_the_package_version_and_the_git_commit():
    done = _run(sys.executable, "-m", "affectrep", "--version")
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith(f"affectrep {affectrep.__version__} (git commit ")
    commit = line.removeprefix(f"affectrep {affectrep.__version__} (git commit ").rstrip(")")
    assert COMMIT.match(commit)
    if shutil.which("git") and _run("git", "rev-parse", "HEAD").returncode == 0:
        # run from this checkout: the commit is this checkout's HEAD
        head = _run("git", "rev-parse", "HEAD").stdout.strip()
        assert commit.removesuffix("+dirty") == head


def test_console_script_and_module_agree(capsys):
    from affectrep.use.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"affectrep {version.describe()}\n"


def test_the_console_script_is_the_command_of_the_use_layer():
    import importlib

    from affectrep.use.cli import main

    module, _, name = _pyproject()["project"]["scripts"]["affectrep"].partition(":")
    assert getattr(importlib.import_module(module), name) is main


def test_python_m_affectrep_is_the_command():
    done = _run(sys.executable, "-m", "affectrep", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: affectrep ")
    assert "embed" in done.stdout and "predict" in done.stdout and "--version" in done.stdout
    done = _run(sys.executable, "-m", "affectrep")
    assert done.returncode == 2 and done.stderr.startswith("affectrep: ")


def test_importing_affectrep_loads_no_jax_and_bundle_comes_lazily():
    code = (
        "import sys, affectrep\n"
        "print(sorted(m for m in ('jax', 'jaxlib', 'flax', 'optax') if m in sys.modules))\n"
        "from affectrep import Bundle\n"
        "from affectrep.use.bundle import Bundle as B\n"
        "print(Bundle is B)\n"
    )
    done = _run(sys.executable, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
    assert "Bundle" in affectrep.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = affectrep.Nothing


def test_installed_metadata_matches_the_source_version():
    try:
        installed = metadata.version("affectrep")
    except metadata.PackageNotFoundError:
        pytest.skip("affectrep is not installed (run from src/)")
    assert installed == affectrep.__version__ == version.package_version()


def test_git_commit_is_unknown_outside_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setattr(version, "_PACKAGE_DIR", tmp_path)  # an untracked folder
    version.git_commit.cache_clear()
    try:
        assert version.git_commit() == "unknown"
        assert version.software() == {"version": affectrep.__version__, "git_commit": "unknown"}
    finally:
        version.git_commit.cache_clear()


def test_git_commit_is_unknown_without_git(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    version.git_commit.cache_clear()
    try:
        assert version.git_commit() == "unknown"
    finally:
        version.git_commit.cache_clear()


def test_report_names_the_version_and_commit(tmp_path):
    from affectrep.data.manifest import Utterance, write_manifest
    from affectrep.stages.report import build_report

    write_manifest(
        [
            Utterance(
                id="a",
                path="",
                speaker="s1",
                session="1",
                gender="F",
                emotion="anger",
                duration_s=1.0,
            )
        ],
        tmp_path / "manifest.tsv",
    )
    (tmp_path / "summary.txt").write_text("1 utterance\n")
    (tmp_path / "rejected.tsv").write_text("path\treason\tdetail\n")
    (tmp_path / "benchmarks").mkdir()
    text = build_report(
        "demo",
        manifest=tmp_path / "manifest.tsv",
        summary=tmp_path / "summary.txt",
        rejected=tmp_path / "rejected.tsv",
        tables={},
        figures=[],
        benchmarks=tmp_path / "benchmarks",
        record={},
        output=tmp_path / "report.md",
    )
    software = text[text.index("## Software") :]
    assert f"Written by affectrep {version.describe()}." in software


def test_bundle_json_records_the_version_and_commit(tmp_path, bundle_inputs):
    from affectrep.use.bundle import write_bundle

    inputs = bundle_inputs(16)
    np.savez(tmp_path / "encoder.npz", W=np.zeros((2, 2)))
    info = write_bundle(
        tmp_path / "bundle",
        model="tied-fft16-c1",
        encoder_file=tmp_path / "encoder.npz",
        **inputs,
    )
    written = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert written["affectrep"] == info["affectrep"] == version.software()
    assert COMMIT.match(written["affectrep"]["git_commit"])


# --- one std ---------------------------------------------------------------------------------


def test_spread_is_mean_and_sample_std_like_table2():
    values = [0.5, 0.7, 0.6, float("nan")]
    finite = np.array([0.5, 0.7, 0.6])
    assert spread(values) == f"{finite.mean():.3f} ± {finite.std(ddof=1):.3f}"
    assert spread(values) == "0.600 ± 0.100"  # the population std would say 0.082
    assert spread([0.5, 0.7], scale=100, digits=2) == "60.00 ± 14.14"
    assert spread([0.25]) == "0.250"  # one run: no spread to show, as in Table 2
    assert spread([]) == spread([math.nan]) == "n/a"


# --- pyproject, licence, citation -------------------------------------------------------------


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_build_licence_and_extras():
    project = _pyproject()
    assert "setuptools>=77" in project["build-system"]["requires"]  # the `license = "MIT"` form
    meta = project["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert meta["requires-python"] == ">=3.11,<3.14"
    core = " ".join(meta["dependencies"])
    assert "opensmile" not in core and "executor-plugin-slurm" not in core
    extras = meta["optional-dependencies"]
    assert [d.split(">")[0] for d in extras["egemaps"]] == ["opensmile"]
    assert [d.split(">")[0] for d in extras["slurm"]] == ["snakemake-executor-plugin-slurm"]
    jax_core = next(d for d in meta["dependencies"] if d.startswith("jax>"))
    assert extras["gpu"] == [jax_core.replace("jax", "jax[cuda12]", 1)]  # the same range
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) ")
    assert "affectrep contributors" in (ROOT / "LICENSE").read_text()


def test_citation_cites_the_software_the_paper_iemocap_and_opensmile():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert str(cff["version"]) == affectrep.__version__ and cff["license"] == "MIT"
    titles = [ref["title"] for ref in cff["references"]]
    assert titles[0] == "Learning Representations of Affect from Speech"
    assert any(t.startswith("IEMOCAP") for t in titles)
    assert any(t.startswith("openSMILE") for t in titles)
    assert any("GeMAPS" in t for t in titles)
    for ref in cff["references"]:
        assert ref["authors"] and ref["year"]
        doi = ref.get("doi") or next(i["value"] for i in ref["identifiers"] if i["type"] == "doi")
        assert re.match(r"^10\.\d{4,9}/\S+$", doi)


# --- conda environments ------------------------------------------------------------------------


def _env(name: str) -> dict:
    return yaml.safe_load((ROOT / "envs" / name).read_text())


def _packages(env: dict) -> set[str]:
    names = set()
    for dep in env["dependencies"]:
        for item in dep["pip"] if isinstance(dep, dict) else [dep]:
            names.add(re.split(r"[ <>=]", item, maxsplit=1)[0])
    return names - {"pip", "python"}


def test_workflow_env_lists_bioconda_for_snakemake_after_conda_forge():
    env = _env("workflow.yaml")
    assert "snakemake" in _packages(env)
    channels = env["channels"]
    assert channels.index("conda-forge") < channels.index("bioconda")
    assert "opensmile" not in _packages(env)


def test_the_functionals_rule_has_its_own_env_with_opensmile():
    env = _env("egemaps.yaml")
    assert "opensmile" in _packages(env)
    rules = (ROOT / "workflow" / "rules" / "classification.smk").read_text()
    body = rules[rules.index("rule functionals:") :]
    body = body[: body.index("\nrule ", 1)] if "\nrule " in body[1:] else body
    assert re.search(r'conda:\s*\n\s*"\.\./\.\./envs/egemaps\.yaml"', body)


# conda package -> the module its Python code imports
MODULES = {
    "jax": "jax",
    "flax": "flax",
    "optax": "optax",
    "matplotlib-base": "matplotlib",
    "opentsne": "openTSNE",
    "jsonschema": "jsonschema",
    "numpy": "numpy",
    "scipy": "scipy",
    "scikit-learn": "sklearn",
    "pysoundfile": "soundfile",
    "pyyaml": "yaml",
    "snakemake": "snakemake",
}


def test_the_functionals_script_imports_nothing_its_env_leaves_out():
    """What workflow.yaml has and egemaps.yaml does not (JAX, Flax, matplotlib, ...) must not
    be imported by the library modules the functionals script imports."""
    left_out = _packages(_env("workflow.yaml")) - _packages(_env("egemaps.yaml"))
    left_out.discard("snakemake")  # Snakemake's `script:` brings its own modules
    forbidden = sorted(MODULES[name] for name in left_out)
    script = ROOT / "workflow" / "scripts" / "functionals.py"
    modules = sorted(
        {
            node.module if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(ast.parse(script.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
            if (getattr(node, "module", None) or alias.name).startswith("affectrep")
        }
    )
    assert modules, "the functionals script imports no affectrep module"
    code = (
        f"import sys\nfor m in {modules!r}:\n    __import__(m)\n"
        f"print([m for m in {forbidden!r} if m in sys.modules])\n"
    )
    done = _run(
        sys.executable, "-c", code, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{modules} import {done.stdout.strip()}"


# --- the Makefile ------------------------------------------------------------------------------


@pytest.fixture()
def make_dir(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _fake_python(folder: Path, version_text: str) -> Path:
    """A `python` that answers the Makefile's version question with `version_text` and fails
    at anything else (as a venv or pip would, much later, for a real old Python)."""
    path = folder / f"python{version_text}"
    path.write_text(f'#!/bin/sh\ncase "$1" in -c) echo {version_text};; *) exit 9;; esac\n')
    path.chmod(0o755)
    return path


def _old_pythons(folder: Path) -> list[str]:
    """Two stand-ins, and a real Python 3.10 where this machine has one that runs."""
    pythons = [str(_fake_python(folder, "3.10")), str(_fake_python(folder, "3.14"))]
    for real in (shutil.which("python3.10"), "/root/.pyenv/versions/3.10.13/bin/python"):
        if (
            real
            and _run(
                real, "-c", "import sys; assert sys.version_info[:2] == (3, 10)", cwd=folder
            ).returncode
            == 0
        ):
            return [*pythons, real]
    return pythons


@pytest.mark.parametrize("target", ["install", "test", "run", "check-python"])
def test_make_refuses_an_unsupported_python_in_one_line_before_installing(make_dir, target):
    for python in _old_pythons(make_dir):
        done = _run("make", target, f"PYTHON={python}", cwd=make_dir)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert re.search(
            rf"affectrep needs Python 3\.11 to 3\.13 but {re.escape(python)} is "
            rf"Python 3\.1[04]: .*\(make {target} PYTHON=python3\.12\)",
            lines[0],
        )
        assert not (make_dir / ".venv").exists() and done.stdout == ""


def test_make_names_a_missing_python(make_dir):
    done = _run("make", "install", "PYTHON=/nonexistent/python3", cwd=make_dir)
    assert done.returncode != 0 and not (make_dir / ".venv").exists()
    assert "/nonexistent/python3 is not found" in done.stderr


def test_make_accepts_this_python_and_installs_the_default_extras(make_dir):
    done = _run("make", "check-python", f"PYTHON={sys.executable}", cwd=make_dir)
    if sys.version_info[:2] in ((3, 11), (3, 12), (3, 13)):
        assert done.returncode == 0 and done.stdout.strip().endswith(": supported")
    plan = _run("make", "-n", "install", f"PYTHON={sys.executable}", cwd=make_dir).stdout
    extras = re.search(r"pip install --quiet -e '\.\[([a-z,]+)\]'", plan).group(1).split(",")
    # what `make run` and `make test` need beyond the core: the test tools, openSMILE (the
    # default run's eGeMAPS baseline, tests/test_egemaps.py) and the SLURM plugin
    assert {"dev", "egemaps", "slurm"} <= set(extras)
    assert set(extras) <= set(_pyproject()["project"]["optional-dependencies"])


def test_make_clean_removes_results_and_snakemake_only_and_says_so(make_dir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("data")
    (elsewhere / "keep.txt").write_text("a corpus kept elsewhere")
    (make_dir / "results").symlink_to(elsewhere, target_is_directory=True)
    (make_dir / ".snakemake" / "log").mkdir(parents=True)
    (make_dir / ".venv").mkdir()
    (make_dir / "config").mkdir()
    done = _run("make", "clean", cwd=make_dir)
    assert done.returncode == 0, done.stderr
    assert "make clean: removed results/ .snakemake/;" in done.stdout
    assert sorted(p.name for p in make_dir.iterdir()) == [
        ".venv",
        "Makefile",
        "config",
        "pyproject.toml",
    ]
    assert (elsewhere / "keep.txt").exists()  # the link went, not what it pointed to
    again = _run("make", "clean", cwd=make_dir)
    assert "removed nothing" in again.stdout
