"""The workflow's configuration: validated against the JSON schema, then read through helpers.

`snakemake.utils.validate` checks types and fills in defaults; its error is a long jsonschema
dump, so `validate_config` turns it into one line that names the offending key, and then
checks what a schema cannot (references between keys, settings that cannot work together).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from affectrep.data.audio import AudioPolicy
from affectrep.data.spectrogram import SpectrogramSpec
from affectrep.defaults import SCHEMA, default, section_defaults

# results/{COMBINED_CORPUS}/: the corpora of the cross-corpus matrix joined, for pretraining
# on all of them at once (workflow/rules/use.smk).
COMBINED_CORPUS = "all-corpora"


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key."""


def _key(path: Any) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def validate_config(config: dict, schema: str | Path = SCHEMA) -> dict:
    """Validate `config` in place (defaults filled in) and return it; raise `ConfigError`."""
    import jsonschema
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(schema))
    except WorkflowError:
        # snakemake flattens the jsonschema error into text; find it again for its key path.
        loaded = yaml.safe_load(Path(schema).read_text())
        validator = jsonschema.validators.validator_for(loaded)(loaded)
        cause = jsonschema.exceptions.best_match(validator.iter_errors(config))
        if cause is None:
            raise
        raise ConfigError(f"config key {_key(cause.absolute_path)}: {cause.message}") from None
    # Without `run`, build every corpus the config defines.
    config.setdefault("run", list(config["corpora"]))
    _check_references(config)
    return config


def _check_references(config: dict) -> None:
    corpora = config["corpora"]
    for name in config.get("run", []):
        if name not in corpora:
            raise ConfigError(
                f"config key run: {name!r} is not a corpus; defined are {sorted(corpora)}"
            )
    if COMBINED_CORPUS in corpora or "cross_corpus" in corpora:
        raise ConfigError(
            f"config key corpora: `{COMBINED_CORPUS}` and `cross_corpus` are the "
            "workflow's own names (pretraining on every corpus, the matrix)"
        )
    for name, settings in corpora.items():
        if "demo" not in settings and "root" not in settings:
            raise ConfigError(
                f"config key corpora.{name}: give `root` (where the corpus is) or `demo`"
            )
        if "demo" in settings and settings["reader"] != "iemocap":
            raise ConfigError(
                f"config key corpora.{name}.reader: a demo corpus is written in IEMOCAP's "
                f"layout, so its reader must be iemocap, not {settings['reader']!r}"
            )
    _check_reader_keys(corpora)
    for name in config["use"]["cross_corpus"]:
        if name not in corpora:
            raise ConfigError(
                f"config key use.cross_corpus: {name!r} is not a corpus; defined are "
                f"{sorted(corpora)}"
            )
    _check_model_ids(config)
    _check_vectors(config["classification"].get("vectors", {}))
    spectrograms = config["features"]["spectrograms"]
    for spec in config["validation"]["baselines"]:
        if spec not in spectrograms:
            raise ConfigError(
                f"config key validation.baselines: {spec!r} is not in features.spectrograms"
            )
    _check_masked(config)
    _check_window(config["features"]["window"])
    for name in spectrograms:
        try:
            spectrogram_spec(config, name).check()
        except ValueError as error:
            raise ConfigError(f"config key features.spectrograms.{name}: {error}") from None


def _check_reader_keys(corpora: dict) -> None:
    """A key set (to other than its default) that the corpus's reader does not read would be
    ignored without a word: name it instead (`merge_excited` is IEMOCAP's; a table maps
    `excited` with `emotion_map`)."""
    from affectrep.data.corpora.build import READER_KEYS

    defaults = section_defaults("corpora.*")
    for name, settings in corpora.items():
        read = READER_KEYS[settings["reader"]]
        for key, value in settings.items():
            if key not in read and (key not in defaults or value != defaults[key]):
                hint = (
                    " (for other corpora map the name instead: emotion_map: {excited: happiness})"
                    if key == "merge_excited"
                    else ""
                )
                raise ConfigError(
                    f"config key corpora.{name}.{key}: reader {settings['reader']} does not "
                    f"read it; its keys are {', '.join(read)}{hint}"
                )


def model_id_keys(config: dict) -> list[tuple[str, str]]:
    """(config key, model id) of every model id the config names."""
    return [
        *(("autoencoders.models", model) for model in config["autoencoders"]["models"]),
        ("classification.encoder", config["classification"]["encoder"]),
        *(("representations.models", model) for model in config["representations"]["models"]),
        *(("use.export", model) for model in config["use"]["export"]),
    ]


def _check_model_ids(config: dict) -> None:
    """Every model id parses and names a configured spectrogram (else the run would stop
    after the corpus stages with a KeyError)."""
    from affectrep.model_id import ModelId

    spectrograms = config["features"]["spectrograms"]
    for key, model in model_id_keys(config):
        try:
            parsed = ModelId.parse(str(model))
        except ValueError as error:
            raise ConfigError(f"config key {key}: {error}") from None
        if parsed.spec not in spectrograms:
            raise ConfigError(
                f"config key {key}: {model} needs spectrogram {parsed.spec!r}, which is not "
                f"in features.spectrograms ({sorted(spectrograms)})"
            )
    # Every model whose codes are read must have the layer `representations.code_layer`.
    layer = config["representations"].get("code_layer", 0)
    for key, model in model_id_keys(config) if layer else ():
        depth = len(model_widths(config, str(model))) - 1
        if layer > depth:
            raise ConfigError(
                f"config key representations.code_layer: {layer}, but {model} "
                f"({key}) has {depth} encoder layers (0 = the bottleneck)"
            )


# Names an external-vectors column cannot take besides the built-in methods (the schema's
# `classification.methods`): `pooled` is a row of the activation/valence table, whose rows
# are keyed by name like Table 2's columns.
RESERVED_VECTOR_NAMES = ("pooled",)


# The Table 2 methods the workflow computes itself (the schema's `classification.methods`
# pattern accepts these and fused vector methods such as `pooled+egemaps`; tests check that
# both agree with `affectrep.protocol.table2.METHOD_TITLES`).
BUILTIN_METHODS = ("pretrained-mlp", "mlp", "egemaps", "compare", "pooled", "blstm", "masked")


def builtin_methods() -> list[str]:
    """The Table 2 methods the workflow computes itself (`BUILTIN_METHODS`)."""
    return list(BUILTIN_METHODS)


def external_vectors(config: dict) -> dict[str, dict[str, str]]:
    """name -> {"path", "ids"} of `classification.vectors`, `~` expanded; a relative path
    stays relative, so that it starts at the working directory, as Snakemake reads every
    relative path (a corpus's `root` likewise)."""
    entries = config["classification"].get("vectors") or {}
    return {
        name: {key: str(Path(entry[key]).expanduser()) for key in ("path", "ids")}
        for name, entry in entries.items()
    }


def _check_vectors(vectors: dict) -> None:
    """What can be checked of `classification.vectors` before anything runs: each name can
    be a column of its own (not a built-in method or another name in disguise: Table 2's
    inputs are keyed by the name with `-` as `_`, and Snakemake keeps some names for itself),
    and each entry names a `.npy` and a different ids file. The files' contents are checked
    when the column's first run reads them (`affectrep.data.vectors.load_external_vectors`):
    they need not exist for targets that do not use them."""
    named: type
    try:  # where Snakemake 9 keeps its named lists (earlier releases: snakemake.io)
        from snakemake.iocontainers import InputFiles

        named = InputFiles
    except ImportError:
        named = list
    taken = {name.replace("-", "_"): name for name in builtin_methods()}
    taken.update({name: name for name in RESERVED_VECTOR_NAMES})
    for name, entry in vectors.items():
        key = f"config key classification.vectors.{name}"
        if name in builtin_methods() or name in RESERVED_VECTOR_NAMES:
            raise ConfigError(
                f"{key}: {name!r} names a built-in column (of Table 2 or the activation/valence "
                "table); name your vectors otherwise"
            )
        input_key = name.replace("-", "_")
        if input_key in taken:
            raise ConfigError(
                f"{key}: {name!r} and {taken[input_key]!r} differ only in - and _, which "
                "Table 2's inputs do not tell apart; rename one"
            )
        if hasattr(named, input_key):
            raise ConfigError(f"{key}: {name!r} is a name Snakemake reserves; rename it")
        taken[input_key] = name
        if Path(entry["path"]).suffix != ".npy":
            raise ConfigError(
                f"{key}.path: {entry['path']!r} is not a .npy file (save the vectors with "
                "numpy.save)"
            )
        if Path(entry["path"]).expanduser() == Path(entry["ids"]).expanduser():
            raise ConfigError(f"{key}.ids: the ids need a file of their own, not the vectors'")


def table2_parts(config: dict) -> set[str]:
    """Every representation a Table 2 column uses, alone or fused (`masked+compare` uses
    `masked` and `compare`)."""
    return {part for method in config["classification"]["methods"] for part in method.split("+")}


def uses_masked(config: dict) -> bool:
    """Whether a Table 2 column (alone or fused: `masked+compare`) is the masked spectrogram
    model's."""
    return "masked" in table2_parts(config)


def _check_masked(config: dict) -> None:
    """Settings of the masked spectrogram model that cannot work, checked only when a Table 2
    column uses the model: a spectrogram that is not configured, an even kernel, a crop
    shorter than a span."""
    if not uses_masked(config):
        return
    spectrograms = config["features"]["spectrograms"]
    name = config["representations"]["masked"]["spectrogram"]
    if name not in spectrograms:
        raise ConfigError(
            f"config key representations.masked.spectrogram: {name!r} is not in "
            f"features.spectrograms ({sorted(spectrograms)})"
        )
    masked = config["representations"]["masked"]
    if masked["kernel"] % 2 == 0:
        raise ConfigError(
            f"config key representations.masked.kernel: {masked['kernel']} is even; a "
            "convolution centred on its frame needs an odd kernel"
        )
    if masked["crop_frames"] < masked["span"]:
        raise ConfigError(
            f"config key representations.masked.crop_frames: {masked['crop_frames']} frames "
            f"hold no span of {masked['span']}"
        )


def _check_window(name: str) -> None:
    import scipy.signal

    try:
        scipy.signal.get_window(name, 320)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"config key features.window: {name!r} is not a window scipy.signal.get_window "
            f"knows (e.g. hamming, hann, blackman): {error}"
        ) from None


def spectrogram_spec(config: dict, name: str) -> SpectrogramSpec:
    """The `SpectrogramSpec` of spectrogram `name`, shared frame settings included."""
    features = config["features"]
    settings = features["spectrograms"][name]
    n_fft = settings.get("n_fft", default("features.spectrograms.*.n_fft"))
    kind = settings["kind"]
    if kind == "fft" and "n_bins" not in settings:
        raise ConfigError(f"config key features.spectrograms.{name}: kind fft needs n_bins")
    if kind == "mel" and "n_mels" not in settings:
        raise ConfigError(f"config key features.spectrograms.{name}: kind mel needs n_mels")
    return SpectrogramSpec(
        name=name,
        kind=kind,
        n_fft=n_fft,
        n_bins=settings.get("n_bins", n_fft // 2 + 1),
        n_mels=settings.get("n_mels", SpectrogramSpec.n_mels),
        fmin=settings.get("fmin", default("features.spectrograms.*.fmin")),
        fmax=settings.get("fmax"),
        window_ms=features["window_ms"],
        hop_ms=features["hop_ms"],
        window=features["window"],
        log_floor=features["log_floor"],
        speech_threshold_db=features.get(
            "speech_threshold_db", default("features.speech_threshold_db")
        ),
    )


def audio_policy(config: dict) -> AudioPolicy:
    audio = config["audio"]
    return AudioPolicy(
        min_duration_s=audio["min_duration_s"],
        silence_peak=audio["silence_peak"],
        channel=audio.get("channel", default("audio.channel")),
    )


def corpus_root(config: dict, corpus: str, results: str | Path = "results") -> Path:
    """Where the corpus's audio is: its `root`, or results/{corpus}/audio for a demo corpus."""
    settings = config["corpora"][corpus]
    if "demo" in settings:
        return Path(results) / corpus / "audio"
    return Path(settings["root"]).expanduser()


def model_widths(config: dict, model: str) -> list[int]:
    """[n_in, hidden_1, ..., bottleneck] of a model id (n_in = spectrogram dims x context)."""
    from affectrep.model_id import ModelId, pyramid

    parsed = ModelId.parse(model)
    n_in = spectrogram_spec(config, parsed.spec).n_dims * parsed.context
    settings = config["autoencoders"]
    hidden = settings["hidden"].get(parsed.input_key)
    if hidden is None:
        hidden = pyramid(n_in, settings["default_layers"])
    return [n_in, *hidden]


def code_widths(config: dict, model: str) -> list[int]:
    """`model_widths` up to the layer whose output is the code (`representations.code_layer`;
    0: the bottleneck, all of them)."""
    widths = model_widths(config, model)
    layer = config["representations"].get("code_layer", 0)
    return widths[: layer + 1] if layer else widths


def train_settings(config: dict, *, finetune: bool = False) -> dict:
    """Keyword arguments of `affectrep.train.autoencoders.TrainSettings` for the autoencoders
    (fine-tuning: `finetune_epochs` epochs). A plain dict, so that passing it to a rule's
    script does not import JAX before the script has configured it."""
    settings = config["autoencoders"]
    keys = (
        "optimizer",
        "learning_rate",
        "momentum",
        "weight_decay",
        "schedule",
        "batch_size",
        "noise",
        "seed",
    )
    return {
        **{key: settings[key] for key in keys},
        "epochs": settings["finetune_epochs"] if finetune else settings["epochs"],
    }


def mlp_settings(config: dict) -> dict:
    """Keyword arguments of `affectrep.protocol.mlp.MlpSettings` (a plain dict: no JAX import
    before the rule's script has configured it)."""
    classification = config["classification"]
    return {**classification["mlp"], "seed": classification["seed"]}
