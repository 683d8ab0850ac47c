"""One place for each default (issue 12): the config schema's `default:` values. The settings
dataclasses take theirs from it (`affectrep.defaults`), and config/config.yaml, which repeats
the defaults for its readers, repeats them faithfully."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from affectrep.data.audio import AudioPolicy
from affectrep.data.demo import DemoSpec
from affectrep.data.pooling import PoolingSpec
from affectrep.data.spectrogram import SpectrogramSpec
from affectrep.defaults import default, schema, section_defaults
from affectrep.protocol.dimensional import RegressionSettings
from affectrep.protocol.mlp import MlpSettings
from affectrep.protocol.utterance import UtteranceSettings
from affectrep.train.autoencoders import TrainSettings
from affectrep.train.blstm import BlstmSettings
from affectrep.train.loop import OptimizerSettings
from affectrep.train.masked import MaskedSettings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "config.yaml"

OPTIMIZER = ("optimizer", "learning_rate", "momentum", "weight_decay", "schedule")

# (settings type, its field) -> the config key whose schema default it takes.
FROM_SCHEMA = {
    **{(OptimizerSettings, name): f"autoencoders.{name}" for name in OPTIMIZER},
    **{
        (TrainSettings, name): f"autoencoders.{name}"
        for name in (*OPTIMIZER, "batch_size", "epochs", "noise", "seed")
    },
    **{
        (MlpSettings, name): f"classification.mlp.{name}"
        for name in (
            "optimizer",
            "learning_rate",
            "momentum",
            "weight_decay",
            "batch_size",
            "max_epochs",
            "patience",
            "class_weights",
            "max_train_frames",
            "input_noise",
        )
    },
    (MlpSettings, "seed"): "classification.seed",
    **{
        (BlstmSettings, name): f"representations.blstm.{name}"
        for name in (
            *OPTIMIZER,
            "hidden",
            "epochs",
            "batch_size",
            "max_frames",
            "pooling",
            "mask_ratio",
            "span",
            "seed",
        )
    },
    **{
        (MaskedSettings, name): f"representations.masked.{name}"
        for name in (
            *OPTIMIZER,
            "spectrogram",
            "width",
            "layers",
            "kernel",
            "dilated",
            "crop_frames",
            "mask_ratio",
            "span",
            "epochs",
            "batch_size",
            "seed",
        )
    },
    (AudioPolicy, "min_duration_s"): "audio.min_duration_s",
    (AudioPolicy, "silence_peak"): "audio.silence_peak",
    (AudioPolicy, "channel"): "audio.channel",
    (SpectrogramSpec, "n_fft"): "features.spectrograms.*.n_fft",
    (SpectrogramSpec, "fmin"): "features.spectrograms.*.fmin",
    (SpectrogramSpec, "window_ms"): "features.window_ms",
    (SpectrogramSpec, "hop_ms"): "features.hop_ms",
    (SpectrogramSpec, "window"): "features.window",
    (SpectrogramSpec, "log_floor"): "features.log_floor",
    (SpectrogramSpec, "speech_threshold_db"): "features.speech_threshold_db",
    (PoolingSpec, "statistics"): "representations.pooling.statistics",
    (PoolingSpec, "deltas"): "representations.pooling.deltas",
    (UtteranceSettings, "normalization"): "classification.utterance.normalization",
    (UtteranceSettings, "grid"): "classification.utterance.c_grid",
    (UtteranceSettings, "balanced"): "classification.utterance.class_weights",
    (UtteranceSettings, "seed"): "classification.seed",
    (RegressionSettings, "alphas"): "use.regression_alphas",
    (DemoSpec, "seed"): "corpora.*.demo.seed",
    (DemoSpec, "sessions"): "corpora.*.demo.sessions",
}

# Fields with a default of their own, and why the schema has none for them.
CODE_ONLY = {
    (TrainSettings, "steps_per_call"): "how many steps one compiled call runs: speed only",
    (MlpSettings, "steps_per_call"): "speed only",
    (MlpSettings, "eval_chunk"): "frames per evaluation call: memory only",
    (MlpSettings, "schedule"): "classification.mlp has no schedule: the autoencoders' one",
    (BlstmSettings, "bucket_frames"): "padding step of the batches: speed only",
    (BlstmSettings, "sort_by_length"): "batches of similar lengths: speed only",
    (AudioPolicy, "target_rate"): "the paper's 16 kHz, not a setting of the workflow",
    (SpectrogramSpec, "n_bins"): "a config entry of kind fft must give it",
    (SpectrogramSpec, "n_mels"): "a config entry of kind mel must give it",
    (SpectrogramSpec, "fmax"): "None is the Nyquist frequency; the schema leaves it out",
    (SpectrogramSpec, "sample_rate"): "the paper's 16 kHz, not a setting of the workflow",
    (UtteranceSettings, "max_iter"): "the solver's iteration limit, not a setting",
    (DemoSpec, "utterances_per_speaker"): "a schema default would clash with `hours`",
    (DemoSpec, "sample_rate"): "the paper's 16 kHz, not a setting of the workflow",
}

SETTINGS_TYPES = sorted(
    {cls for cls, _ in [*FROM_SCHEMA, *CODE_ONLY]}, key=lambda cls: cls.__name__
)


def _field_default(cls, name):
    (found,) = [f for f in dataclasses.fields(cls) if f.name == name]
    assert found.default is not dataclasses.MISSING, f"{cls.__name__}.{name} has no default"
    return found.default


def _as_schema_value(value):
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize(
    ("cls", "name"),
    sorted(FROM_SCHEMA, key=lambda k: (k[0].__name__, k[1])),
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_a_settings_field_defaults_to_the_schema(cls, name):
    key = FROM_SCHEMA[cls, name]
    value = _field_default(cls, name)
    expected = default(key)
    assert _as_schema_value(value) == expected, f"{cls.__name__}.{name} vs schema {key}"
    # The same kind of value (a bool is not the number 1, an int where the field is a float
    # only where the schema writes a whole number).
    assert isinstance(value, bool) == isinstance(expected, bool)


@pytest.mark.parametrize("cls", SETTINGS_TYPES, ids=lambda cls: cls.__name__)
def test_every_field_with_a_default_is_the_schemas_or_says_why_not(cls):
    for field in dataclasses.fields(cls):
        if field.default is dataclasses.MISSING:
            continue
        assert (cls, field.name) in FROM_SCHEMA or (cls, field.name) in CODE_ONLY, (
            f"{cls.__name__}.{field.name}: take its default from the schema "
            "(affectrep.defaults) or list it in CODE_ONLY with the reason"
        )


def test_the_mlp_follows_the_schema_not_its_old_defaults():
    settings = MlpSettings()
    assert (settings.max_epochs, settings.patience) == (20, 3)
    assert (settings.learning_rate, settings.momentum) == (0.01, 0.9)


def test_the_settings_built_from_the_default_config_equal_the_defaults():
    """What the workflow passes (config.train_settings, config.mlp_settings) from a config
    that sets nothing is what the dataclasses give by themselves."""
    from affectrep.config import (
        audio_policy,
        mlp_settings,
        spectrogram_spec,
        train_settings,
        validate_config,
    )

    config = validate_config({"corpora": {"demo": {"reader": "iemocap", "demo": {}}}})
    assert TrainSettings(**train_settings(config)) == TrainSettings()
    assert MlpSettings(**mlp_settings(config)) == MlpSettings()
    assert BlstmSettings(**config["representations"]["blstm"]) == BlstmSettings()
    assert MaskedSettings(**config["representations"]["masked"]) == MaskedSettings()
    assert audio_policy(config) == AudioPolicy()
    spec = spectrogram_spec(config, "fft513")
    assert spec == SpectrogramSpec("fft513", "fft", n_bins=513)


def _schema_leaves(value, node, path=""):
    """(key, value in the config, the schema's default) of every key the config sets whose
    schema gives a default; a section's `default: {}` (leave it out and its keys apply) is
    not a value of its own."""
    if path and "default" in node and not (node.get("type") == "object" and node["default"] == {}):
        yield path, value, node["default"]
    if isinstance(value, dict):
        for key, item in value.items():
            properties = node.get("properties", {})
            if key in properties:
                child = properties[key]
            elif isinstance(node.get("additionalProperties"), dict):
                child = node["additionalProperties"]
            else:
                raise AssertionError(f"config.yaml key {path}.{key} is not in the schema")
            yield from _schema_leaves(item, child, f"{path}.{key}" if path else key)


# config.yaml keys that deliberately differ from the schema's default: key -> why. (None
# today: the embedded demo run uses the defaults throughout.)
DELIBERATE: dict[str, str] = {}


def test_config_yaml_repeats_the_schemas_defaults():
    config = yaml.safe_load(CONFIG.read_text())
    compared = 0
    for key, value, expected in _schema_leaves(config, schema()):
        if key in DELIBERATE:
            assert value != expected, f"{key} is listed as deliberate but equals the default"
            continue
        assert value == expected and type(value) is type(expected), (
            f"config.yaml {key}: {value!r}, but the schema's default is {expected!r}; change "
            "one of them, or list the key in DELIBERATE with the reason"
        )
        compared += 1
    assert compared > 50  # the walk reached the sections


def test_defaults_reads_the_schema_without_jax_or_snakemake():
    code = (
        "import sys\n"
        "import affectrep.defaults, affectrep.config, affectrep.data.audio, "
        "affectrep.data.spectrogram\n"
        "affectrep.defaults.schema()\n"
        "loaded = [m for m in ('jax', 'flax', 'optax', 'snakemake') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
    )


def test_default_names_the_key_it_cannot_find():
    assert default("classification.mlp.patience") == 3
    assert section_defaults("representations.tsne") == {
        "frames": 5000,
        "utterances": 5000,
        "perplexity": 30,
        "seed": 0,
    }
    with pytest.raises(KeyError, match="no key classification.mlp.nope"):
        default("classification.mlp.nope")
    with pytest.raises(KeyError, match="gives no default for corpora.\\*.root"):
        default("corpora.*.root")


def test_a_default_is_a_copy():
    default("use.regression_alphas").append(-1.0)
    assert -1.0 not in default("use.regression_alphas")
