"""`representations.code_layer`: a frame's code is the bottleneck (0, the paper's) or the
output of encoder layer k, for the encode rule and the exported bundle alike; a layer the
encoders do not have stops the config check."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from affectrep.config import ConfigError, code_widths, validate_config
from affectrep.data.featureset import FeatureIndex, write_index
from affectrep.data.pytree_io import load_tree, save_tree
from affectrep.model_id import code_layers
from affectrep.stages.autoencoders import encode
from affectrep.stages.validation import table1
from affectrep.train.autoencoders import encode_frames
from affectrep.use.bundle import write_bundle

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
BINS, CONTEXT, WIDTHS = 6, 3, (8, 5, 3)


def _encoder(seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    sizes = (BINS * CONTEXT, *WIDTHS)
    return [
        {
            "W": rng.normal(0, 0.3, (n_in, n_out)).astype(np.float32),
            "b": rng.normal(0, 0.1, n_out).astype(np.float32),
        }
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def _features(folder: Path, lengths=(7, 4, 9)) -> tuple[np.ndarray, FeatureIndex]:
    rng = np.random.default_rng(1)
    frames = rng.normal(size=(sum(lengths), BINS)).astype(np.float32)
    lengths = np.asarray(lengths)
    index = FeatureIndex(
        [f"u{k}" for k in range(len(lengths))],
        ["s1"] * len(lengths),
        np.cumsum(lengths) - lengths,
        lengths,
    )
    np.save(folder / "frames.npy", frames)
    write_index(index, folder / "index.tsv")
    return frames, index


def test_code_layers_keep_the_first_k_layers_or_all():
    encoder = _encoder()
    assert code_layers(encoder, 0) == encoder
    assert code_layers(encoder, 1) == encoder[:1]
    assert code_layers(encoder, 3) == encoder
    with pytest.raises(ValueError, match="code_layer is 4, but the encoder has 3 layers"):
        code_layers(encoder, 4)


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_encode_writes_the_output_of_the_chosen_layer(tmp_path, layer):
    frames, index = _features(tmp_path)
    encoder = _encoder()
    save_tree(tmp_path / "encoder.npz", {"encoder": encoder})
    shape = encode(
        tmp_path / "frames.npy",
        tmp_path / "index.tsv",
        tmp_path / "encoder.npz",
        tmp_path / "codes.npy",
        model=f"tied-fft{BINS}-c{CONTEXT}",
        code_layer=layer,
    )
    codes = np.load(tmp_path / "codes.npy")
    width = WIDTHS[layer - 1] if layer else WIDTHS[-1]
    assert shape == codes.shape == (len(frames), width)
    expected = encode_frames(encoder[:layer] if layer else encoder, frames, index, CONTEXT)
    np.testing.assert_allclose(codes, expected, rtol=1e-6)
    if layer:  # really a lower layer's output, not the bottleneck's
        bottleneck = encode_frames(encoder, frames, index, CONTEXT)
        assert codes.shape[1] != bottleneck.shape[1]


def test_a_code_layer_deeper_than_an_encoder_stops_the_config_check():
    config = yaml.safe_load(CONFIG.read_text())
    config["representations"]["code_layer"] = 2  # the shallowest default models have 2
    assert validate_config(copy.deepcopy(config))["representations"]["code_layer"] == 2
    config["representations"]["code_layer"] = 3
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    message = caught.value.args[0]
    assert message.startswith("config key representations.code_layer: 3")
    assert "has 2 encoder layers" in message


def test_the_bundle_encoder_ends_at_the_code_layer(tmp_path, bundle_inputs):
    inputs = bundle_inputs(BINS)
    encoder = _encoder()
    save_tree(tmp_path / "encoder.npz", {"encoder": encoder}, {"model": "tied"})
    for layer in (0, 2):
        folder = tmp_path / f"bundle{layer}"
        write_bundle(
            folder,
            model=f"tied-fft{BINS}-c{CONTEXT}",
            encoder_file=tmp_path / "encoder.npz",
            code_layer=layer,
            **inputs,
        )
        tree, meta = load_tree(folder / "encoder.npz")
        kept = encoder[:layer] if layer else encoder
        assert len(tree["encoder"]) == len(kept)
        for got, want in zip(tree["encoder"], kept, strict=True):
            np.testing.assert_array_equal(got["W"], want["W"])
        assert meta["model"] == "tied" and meta.get("code_layer", 0) == layer


def test_table1_ends_the_architecture_at_the_code_layer_and_says_so(tmp_path):
    config = validate_config(yaml.safe_load(CONFIG.read_text()))
    assert code_widths(config, "tied-fft128-c5") == [640, 320, 160, 80]
    config["representations"]["code_layer"] = 1
    assert code_widths(config, "tied-fft128-c5") == [640, 320]
    paths = []
    for model, architecture, layer in (
        ("tied-fft128-c5", [640, 320, 4], 1),
        ("softmax-logmel40-c1", [40, 4], 0),
    ):
        result = {
            "model": model,
            "architecture": architecture,
            "code_layer": layer,
            "accuracy": 0.5,
            "unweighted_accuracy": 0.5,
            "n_train_utterances": 10,
            "n_test_utterances": 5,
            "held_out_speakers": ["a"],
            "held_out_reason": "given",
            "seed": 0,
        }
        paths.append(tmp_path / f"{model}.json")
        paths[-1].write_text(json.dumps(result))
    table1(paths, "demo", tmp_path / "t1.tsv", tmp_path / "t1.md")
    text = (tmp_path / "t1.md").read_text()
    assert "output of encoder layer 1 (`representations.code_layer`)" in text
    assert "640-320-4" in text
