"""Every setting's default, read from the one place it is written: the `default:` of its key
in the workflow's config schema (workflow/schemas/config.schema.yaml).

The settings dataclasses (`OptimizerSettings` and the trainers' settings that extend it,
`AudioPolicy`, `SpectrogramSpec`'s frame settings, the utterance classifier's and the
regression's settings, `DemoSpec`) take their defaults from here, so that a default is
changed in the schema and nowhere else; tests/test_defaults.py checks that they agree, and
that config/config.yaml, which repeats the defaults for its readers, repeats them faithfully.

Only PyYAML is needed: neither Snakemake nor JAX is imported (the workflow's DAG process
reads the config through this module too). The schema is read once per process.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

# The config schema ships inside the package (workflow/schemas/config.schema.yaml is a link
# to it), so an installed wheel has its defaults too.
SCHEMA = Path(__file__).resolve().with_name("config.schema.yaml")


@functools.cache
def schema() -> dict[str, Any]:
    """The config schema, loaded once."""
    try:
        text = SCHEMA.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"affectrep reads its settings' defaults from its config schema, {SCHEMA}, "
            f"which is not there: reinstall the package"
        ) from None
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _node(path: str) -> dict[str, Any]:
    """The schema of config key `path` (dotted; `*` is any key of a mapping, such as a
    corpus or a spectrogram: `features.spectrograms.*.n_fft`)."""
    node = schema()
    for key in path.split(".") if path else ():
        try:
            node = node["additionalProperties"] if key == "*" else node["properties"][key]
        except (KeyError, TypeError):
            raise KeyError(f"the config schema has no key {path}") from None
    return node


def default(path: str) -> Any:
    """The schema's default of config key `path`, e.g. `classification.mlp.patience` -> 3
    (a copy: a list or mapping can be changed without changing the schema's)."""
    node = _node(path)
    if "default" not in node:
        raise KeyError(f"the config schema gives no default for {path}")
    return copy.deepcopy(node["default"])


def section_defaults(path: str) -> dict[str, Any]:
    """The defaults of every key of config section `path` that has one, e.g.
    `classification.mlp` -> {"optimizer": "sgd", "learning_rate": 0.01, ...}."""
    properties = _node(path).get("properties", {})
    return {
        key: copy.deepcopy(spec["default"]) for key, spec in properties.items() if "default" in spec
    }
