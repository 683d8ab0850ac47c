"""The library's layers, read from the imports (issue 12): each layer imports only the ones
below it, each rules file has its stages module, scripts are thin and touch no paths, and
neither the workflow's DAG process nor a stage module loads JAX on import."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = SRC / "affectrep"
RULES = ROOT / "workflow" / "rules"
SCRIPTS = ROOT / "workflow" / "scripts"

# Lowest first: a module may import its own layer and those before it, never one after it.
LAYERS = ("helpers", "data", "models", "train", "protocol", "use", "stages")
# The top-level modules that reach up, and why.
ALLOWED_UPWARD = {
    "affectrep.config": {"data"},  # the config's audio, spectrogram and reader settings
    "affectrep": {"use"},  # `from affectrep import Bundle`, imported on first use
    "affectrep.__main__": {"use"},  # `python -m affectrep` is the `affectrep` command
}
JAX = ("jax", "jaxlib", "flax", "optax")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    """`affectrep.data.audio` -> data; `affectrep.atomic` (or `affectrep`) -> helpers."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else "helpers"


def affectrep_imports(source: str) -> set[str]:
    """Every affectrep module a source imports, at the top or inside a function
    (`from affectrep.protocol import heads` -> affectrep.protocol.heads)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("affectrep")}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"relative import of {node.module}"
            if not (node.module or "").startswith("affectrep"):
                continue
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in MODULES else node.module)
    return found


def _rule_blocks() -> dict[str, tuple[str, str]]:
    """Rule name -> (its rules file's stem, its block of text); `use rule a as b` is b's."""
    blocks = {}
    for path in sorted(RULES.glob("*.smk")):
        text = path.read_text()
        starts = list(re.finditer(r"^(?:rule|checkpoint|use rule \w+ as) (\w+)", text, re.M))
        for number, match in enumerate(starts):
            end = starts[number + 1].start() if number + 1 < len(starts) else len(text)
            blocks[match.group(1)] = (path.stem, text[match.start() : end])
    return blocks


def _scripts_by_rules_file() -> dict[str, str]:
    """Script stem -> the rules file whose rules run it (exactly one)."""
    owner: dict[str, set[str]] = {}
    for stem, block in _rule_blocks().values():
        for script in re.findall(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', block):
            owner.setdefault(script, set()).add(stem)
    assert all(len(files) == 1 for files in owner.values()), owner
    return {script: files.pop() for script, files in owner.items()}


def test_the_layers_are_the_folders_of_the_package():
    folders = {
        path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()
    }
    assert folders == set(LAYERS) - {"helpers"}
    assert (PACKAGE / "train" / "loop.py").exists()  # the one fit loop


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_no_layer_above_its_own(module):
    mine = LAYERS.index(layer_of(module))
    upward = {
        name: layer_of(name)
        for name in affectrep_imports(MODULES[module].read_text())
        if LAYERS.index(layer_of(name)) > mine
    }
    allowed = ALLOWED_UPWARD.get(module, set())
    assert {name for name, layer in upward.items() if layer not in allowed} == set(), (
        f"{module} ({LAYERS[mine]}) imports a layer above it"
    )


def test_every_import_names_a_module_that_exists():
    for module, path in MODULES.items():
        for name in affectrep_imports(path.read_text()):
            assert name in MODULES, f"{module} imports {name}, which is not a module"


def test_each_rules_file_has_a_stages_module_of_the_same_name():
    rules = {path.stem for path in RULES.glob("*.smk")} - {"common"}
    stages = {path.stem for path in (PACKAGE / "stages").glob("*.py")} - {"__init__"}
    assert rules == stages


def test_scripts_are_thin_and_call_their_rules_files_stages():
    """A script imports the stages module of its rules file and top-level helpers (logging,
    provenance, the JAX device), nothing else, and no script touches sys.path."""
    owner = _scripts_by_rules_file()
    assert set(owner) == {path.stem for path in SCRIPTS.glob("*.py")}
    for script, rules_file in owner.items():
        text = (SCRIPTS / f"{script}.py").read_text()
        assert "sys.path" not in text and "noqa" not in text, script
        imported = affectrep_imports(text)
        assert f"affectrep.stages.{rules_file}" in imported, script
        others = {name for name in imported if name != f"affectrep.stages.{rules_file}"}
        assert {layer_of(name) for name in others} <= {"helpers"}, (script, others)
        assert "affectrep.config" not in others, script


def test_a_script_that_runs_jax_configures_it_before_anything_else():
    """The rules that hold data on the device (mem_mb=device_memory) train or encode with
    JAX: their scripts call `configure_jax(snakemake.threads)` right after the imports."""
    scripts = {
        re.search(r'script:\s*\n\s*"\.\./scripts/(\w+)\.py"', block).group(1)
        for _, block in _rule_blocks().values()
        if "mem_mb=device_memory" in block and "script:" in block
    }
    assert scripts >= {
        "pretrain_layer",
        "finetune_deep",
        "train_deep",
        "encode",
        "blstm_ae",
        "fold_mlp",
        "mlp_runs",
    }
    for script in scripts:
        body = ast.parse((SCRIPTS / f"{script}.py").read_text()).body[1:]  # after the doc
        first = next(node for node in body if not isinstance(node, ast.Import | ast.ImportFrom))
        assert ast.unparse(first) == "configure_jax(snakemake.threads)", script


def _imports_in_workflow_files() -> list[str]:
    """The affectrep modules the Snakefile and the rules files import (top or in functions)."""
    text = "\n".join(path.read_text() for path in [ROOT / "Snakefile", *RULES.glob("*.smk")])
    return sorted(
        set(re.findall(r"^\s*from (affectrep[\w.]*) import", text, re.M))
        | set(re.findall(r"^\s*import (affectrep[\w.]*)", text, re.M))
    )


def _loaded_after_importing(modules: list[str]) -> list[str]:
    code = (
        f"import sys\nfor m in {modules!r}:\n    __import__(m)\n"
        f"print([m for m in {JAX!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(SRC), "PATH": os.environ.get("PATH", "")},
    )
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip())


def test_the_dag_process_imports_no_jax():
    """Building the DAG imports only JAX-free modules (JAX would also be configured there,
    before a script could configure it; tests/test_workflow.py checks a whole dry run)."""
    modules = _imports_in_workflow_files()
    assert "affectrep.config" in modules and "affectrep.protocol.folds" in modules
    assert _loaded_after_importing(modules) == []


def test_importing_a_stage_module_loads_no_jax():
    """A script imports its stage module first and configures JAX after that."""
    modules = sorted(name for name in MODULES if name.startswith("affectrep.stages."))
    assert len(modules) == 8
    assert _loaded_after_importing(modules) == []
