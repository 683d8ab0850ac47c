"""Config validation: defaults filled in, a wrong key or value named in one line."""

import copy
from pathlib import Path

import pytest
import yaml

from affectrep.config import ConfigError, spectrogram_spec, validate_config

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def _default() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_the_shipped_config_is_valid_and_defaults_are_filled():
    config = validate_config(_default())
    assert config["features"]["spectrograms"]["fft128"]["n_bins"] == 128
    assert config["corpora"]["demo"]["include_self_evaluation"] is False
    minimal = validate_config({"corpora": {"x": {"reader": "emodb", "root": "/data/emodb"}}})
    assert minimal["audio"]["min_duration_s"] == 0.25
    assert minimal["features"]["hop_ms"] == 10
    assert minimal["corpora"]["x"]["speaker_groups"] == "auto"
    spec = spectrogram_spec(minimal, "logmel40")
    assert (spec.n_mels, spec.window_ms, spec.hop_ms) == (40, 20, 10)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["corpora"]["demo"].update(reader="iemocapp"), "corpora.demo.reader"),
        (lambda c: c["features"].update(hop_sm=10), "features: Additional properties"),
        (lambda c: c["audio"].update(min_duration_s=-1), "audio.min_duration_s"),
        (lambda c: c["features"].update(normalization="per-file"), "features.normalization"),
        (lambda c: c.update(run=["iemocap"]), "run: 'iemocap' is not a corpus"),
        (lambda c: c["corpora"].update(e={"reader": "emodb"}), "corpora.e: give `root`"),
        (
            lambda c: c["features"]["spectrograms"].update(bad={"kind": "fft", "n_bins": 900}),
            "features.spectrograms.bad",
        ),
        (lambda c: c["corpora"]["demo"]["demo"].update(sessions=6), "corpora.demo.demo.sessions"),
    ],
)
def test_errors_name_the_key(edit, message):
    config = copy.deepcopy(_default())
    edit(config)
    with pytest.raises(ConfigError, match=message) as caught:
        validate_config(config)
    assert caught.value.args[0].startswith("config key ")
    assert "\n" not in caught.value.args[0]


# --- Every model id and spectrogram setting is checked at start (issue 11) -----------------


@pytest.mark.parametrize(
    ("edit", "key", "also"),
    [
        (
            lambda c: c["classification"].update(encoder="deep-fft999-c3"),
            "classification.encoder",
            "fft999",
        ),
        (
            lambda c: c["representations"]["models"].append("tied-fft999-c5"),
            "representations.models",
            "fft999",
        ),
        (lambda c: c["use"].update(export=["untied-nospec-c1"]), "use.export", "nospec"),
        (
            lambda c: c["autoencoders"]["models"].append("deep-fft999-c1"),
            "autoencoders.models",
            "fft999",
        ),
        (
            lambda c: c["classification"].update(encoder="TIED_128_5"),
            "classification.encoder",
            "TIED_128_5",
        ),
        (lambda c: c["use"].update(export=["tied-fft128"]), "use.export", "tied-fft128"),
        (
            lambda c: c["representations"]["models"].append("wide-fft128-c5"),
            "representations.models",
            "wide-fft128-c5",
        ),
        (lambda c: c["features"].update(window="nosuchwindow"), "features.window", "nosuchwindow"),
        (
            lambda c: c["features"]["spectrograms"]["logmel40"].update(fmax=9000),
            "features.spectrograms.logmel40",
            "fmax",
        ),
        (
            lambda c: c["features"]["spectrograms"].update(
                mel80={"kind": "mel", "n_mels": 80, "fmax": 11025}
            ),
            "features.spectrograms.mel80",
            "fmax",
        ),
    ],
    ids=[
        "encoder-spec",
        "representations-spec",
        "export-spec",
        "autoencoders-spec",
        "encoder-malformed",
        "export-malformed",
        "representations-malformed",
        "window",
        "fmax",
        "fmax-new-spectrogram",
    ],
)
def test_model_ids_and_spectrogram_settings_are_checked_naming_the_key(edit, key, also):
    config = copy.deepcopy(_default())
    edit(config)
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    message = caught.value.args[0]
    assert message.startswith(f"config key {key}"), message
    assert also in message
    assert "\n" not in message
    if key == "use.export":
        assert "autoencoders.models" not in message


def test_an_export_or_encoder_outside_autoencoders_models_is_fine_if_its_spectrogram_exists():
    config = copy.deepcopy(_default())
    config["use"]["export"] = ["deep-fft513-c3"]
    config["classification"]["encoder"] = "untied-logmel40-c1"
    config["features"]["spectrograms"]["logmel40"]["fmax"] = 8000.0
    config["features"]["window"] = "hann"
    validate_config(config)


# --- Vectors computed elsewhere (classification.vectors) -----------------------------------


def _with_vectors(vectors: dict) -> dict:
    config = copy.deepcopy(_default())
    config["classification"]["vectors"] = vectors
    return config


def test_external_vectors_and_compare_are_accepted_and_paths_stay_relative():
    from affectrep.config import external_vectors

    config = validate_config(
        _with_vectors(
            {
                "wav2vec2-base": {"path": "emb/w2v.npy", "ids": "emb/w2v.txt"},
                "mine_2": {"path": "~/m.npy", "ids": "/abs/m.tsv"},
            }
        )
    )
    assert "compare" in config["classification"]["methods"]
    found = external_vectors(config)
    assert found["wav2vec2-base"] == {"path": "emb/w2v.npy", "ids": "emb/w2v.txt"}
    assert found["mine_2"]["path"] == str(Path("~/m.npy").expanduser())
    assert external_vectors(validate_config(_default())) == {}


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        ({"egemaps": {"path": "a.npy", "ids": "a.txt"}}, "vectors.egemaps: 'egemaps' names a"),
        ({"pooled": {"path": "a.npy", "ids": "a.txt"}}, "vectors.pooled: 'pooled' names a"),
        (
            {"pretrained_mlp": {"path": "a.npy", "ids": "a.txt"}},
            "vectors.pretrained_mlp: 'pretrained_mlp' and 'pretrained-mlp' differ only",
        ),
        (
            {"a-b": {"path": "a.npy", "ids": "a.txt"}, "a_b": {"path": "b.npy", "ids": "b"}},
            "vectors.a_b: 'a_b' and 'a-b' differ only in - and _",
        ),
        ({"items": {"path": "a.npy", "ids": "a.txt"}}, "vectors.items: 'items' is a name"),
        ({"my vec": {"path": "a.npy", "ids": "a.txt"}}, "vectors: 'my vec' does not match"),
        ({"2vec": {"path": "a.npy", "ids": "a.txt"}}, "vectors: '2vec' does not match"),
        ({"x": {"path": "a.npy"}}, "vectors.x: 'ids' is a required property"),
        ({"x": {"path": "a.npy", "ids": "a", "dims": 3}}, "vectors.x: Additional properties"),
        ({"x": {"path": "a.npz", "ids": "a.txt"}}, "vectors.x.path: 'a.npz' is not a .npy"),
        ({"x": {"path": "a.npy", "ids": "a.npy"}}, "vectors.x.ids: the ids need a file"),
        ({"x": {"path": "", "ids": "a.txt"}}, "vectors.x.path: '' should be non-empty"),
    ],
)
def test_external_vector_names_and_paths_are_checked_naming_the_key(vectors, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(_with_vectors(vectors))
    assert caught.value.args[0].startswith("config key classification.vectors")
    assert message in caught.value.args[0] and "\n" not in caught.value.args[0]


def test_compare_is_a_method():
    config = copy.deepcopy(_default())
    config["classification"]["methods"] = ["compare"]
    validate_config(config)
    config["classification"]["methods"] = ["gemaps"]
    with pytest.raises(ConfigError, match="classification.methods.0: 'gemaps' does not match"):
        validate_config(config)


def _merged(base: dict, override: dict) -> dict:
    """`override` on top of `base`, key by key (as Snakemake merges --configfile files)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def test_the_recipe_is_a_valid_override_of_the_paper_settings():
    recipe = yaml.safe_load((CONFIG.parent / "recipe.yaml").read_text())
    config = validate_config(_merged(_default(), recipe))
    assert config["autoencoders"]["optimizer"] == "adam"
    assert config["representations"]["blstm"]["pooling"] == "statistics"
    assert config["classification"]["utterance"]["normalization"] == "speaker"
    assert "pooled+compare" in config["classification"]["methods"]
    assert {"masked", "masked+compare"} <= set(config["classification"]["methods"])
    # The paper's settings stay the defaults.
    paper = validate_config(_default())
    assert paper["autoencoders"]["optimizer"] == "sgd"
    assert paper["features"]["speech_threshold_db"] is None


@pytest.mark.parametrize(
    ("masked", "key", "also"),
    [
        ({"spectrogram": "mel80"}, "representations.masked.spectrogram", "mel80"),
        ({"kernel": 4}, "representations.masked.kernel", "odd"),
        ({"crop_frames": 4, "span": 8}, "representations.masked.crop_frames", "span of 8"),
        ({"mask_ratio": 1.0}, "representations.masked.mask_ratio", "maximum"),
    ],
)
def test_the_masked_model_is_checked_when_a_column_uses_it(masked, key, also):
    config = copy.deepcopy(_default())
    config["representations"]["masked"] = masked
    config["classification"]["methods"] = ["egemaps", "masked+egemaps"]
    with pytest.raises(ConfigError) as caught:
        validate_config(copy.deepcopy(config))
    message = caught.value.args[0]
    assert message.startswith(f"config key {key}") and also in message, message
    # Unused, the model's spectrogram need not exist (its other settings are still typed).
    if "spectrogram" in masked:
        config["classification"]["methods"] = ["egemaps"]
        validate_config(config)
