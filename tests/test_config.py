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
