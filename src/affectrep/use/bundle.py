"""A trained configuration as a self-contained folder that works without the workflow.

`results/{corpus}/export/{model}/` holds:

- `bundle.json`: format version, model id, context, classes, which heads exist, corpus, the
  audio channel the corpus was read with (`audio.channel`; new audio is read the same way);
- `features.npz`: the corpus's `stats.npz` (spectrogram settings, normalisation statistics);
- `encoder.npz`, `blstm.npz`: the autoencoder's encoder and the BLSTM autoencoder;
- `heads.npz`: the emotion softmax and the activation/valence ridges on pooled codes, as
  arrays (`affectrep.protocol.heads`), fitted on every labelled (rated) utterance of the corpus with
  the median of the strengths the leave-one-session-out folds chose;
- `config.yaml`: the workflow settings that made it; `MODEL_CARD.md`: corpus, data sizes,
  and the fold results of exactly these heads. `bundle.json` also names the affectrep
  version and git commit that exported the bundle (`affectrep.version`).

`Bundle.load(folder)` needs NumPy, JAX and soundfile only; `embed` and `predict` run new audio
through the same code as the workflow (`data.audio`, `data.spectrogram`,
`train.autoencoders.encode_frames`, `train.blstm.utterance_vectors`), so a corpus utterance
gives the workflow's own numbers.

Frames are normalised as the workflow normalised the corpus's: with its global statistics, or,
when it normalised each speaker with that speaker's own (`features.normalization: speaker`),
with statistics the caller gives (`speaker_statistics` of several files of one new speaker:
`affectrep predict --one-speaker`); without them the corpus's global statistics stand in (the
model card says which the workflow used).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from affectrep.atomic import atomic_path
from affectrep.data.audio import DEFAULT_POLICY, AudioPolicy, audio_windows
from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex, RunningMoments, read_index
from affectrep.data.manifest import read_manifest
from affectrep.data.pooling import PoolingSpec
from affectrep.data.pytree_io import load_tree, save_tree
from affectrep.data.spectrogram import SpectrogramSpec, spectrogram
from affectrep.data.vectors import read_vectors
from affectrep.html import write_html
from affectrep.model_id import ModelId, code_layers
from affectrep.protocol.dimensional import RegressionSettings, evaluate_source, rated
from affectrep.protocol.folds import make_folds, utterance_labels
from affectrep.protocol.heads import (
    fit_dimension,
    fit_emotion,
    head_arrays,
    loso_emotion_runs,
    median_choice,
    pool_one,
    predict_dimension,
    predict_emotion,
)
from affectrep.protocol.tables import spread
from affectrep.provenance import settings_yaml
from affectrep.version import software

FORMAT = 1
LEVELS = ("frames", "pooled", "blstm")
DEFAULT_WINDOW_S = 30.0
# Per-dimension (mean, std) to normalise frames with: a speaker's own (`speaker_statistics`).
Statistics = tuple[np.ndarray, np.ndarray]


class BundleError(ValueError):
    """A bundle folder that cannot be used: missing or unreadable files, or arrays whose shapes
    do not fit together (the message names the file and what is wrong)."""


def _read(folder: Path, name: str, reader):
    """`reader(path)`, with any failure to read the file turned into a `BundleError`."""
    path = folder / name
    if not path.is_file():
        raise BundleError(f"{name} is missing")
    try:
        return reader(path)
    except Exception as error:  # a file that cannot be parsed, whatever the library raises
        raise BundleError(f"{name} is unreadable ({type(error).__name__}: {error})") from error


def _npz(path: Path, keys=None) -> dict[str, np.ndarray]:
    """The arrays `keys` (those present; None: all) of a NumPy archive."""
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files if keys is None or name in keys}


def _shape(name: str, what: str, array, expected: tuple) -> np.ndarray:
    """`array` as an array of the shape `expected` (None: any length), else `BundleError`."""
    array = np.asarray(array)
    fits = array.ndim == len(expected) and all(
        want is None or have == want for have, want in zip(array.shape, expected, strict=True)
    )
    if not fits or not np.issubdtype(array.dtype, np.number):
        shown = "(" + ", ".join("n" if w is None else str(w) for w in expected) + ")"
        raise BundleError(
            f"{name}: {what} has shape {array.shape} ({array.dtype}), expected {shown} numbers"
        )
    return array


def _layers(name: str, tree, n_in: int) -> list[dict]:
    """The encoder's layers as [{'W': (n_in, n_out), 'b': (n_out,)}, ...], each taking the
    previous one's width."""
    layers = tree.get("encoder") if isinstance(tree, dict) else None
    if not isinstance(layers, list) or not layers:
        raise BundleError(f"{name}: no encoder layers (encoder/0/W, ...)")
    out = []
    for number, layer in enumerate(layers):
        if not isinstance(layer, dict) or "W" not in layer or "b" not in layer:
            raise BundleError(f"{name}: encoder layer {number} lacks W or b")
        weights = _shape(name, f"encoder/{number}/W", layer["W"], (n_in, None))
        n_in = int(weights.shape[1])
        out.append({"W": weights, "b": _shape(name, f"encoder/{number}/b", layer["b"], (n_in,))})
    return out


def _check_blstm(tree, n_codes: int) -> None:
    from affectrep.models.blstm import DIRECTIONS

    name = "blstm.npz"
    if not isinstance(tree, dict) or any(
        not isinstance(tree.get(part), dict) for part in (*DIRECTIONS, "readout")
    ):
        raise BundleError(f"{name}: expected {', '.join(DIRECTIONS)} and readout parameters")
    half = None
    for direction in DIRECTIONS:
        params = tree[direction]
        if any(key not in params for key in ("W", "U", "b")):
            raise BundleError(f"{name}: {direction} lacks W, U or b")
        if half is None:
            half = int(np.shape(params["U"])[0]) if np.ndim(params["U"]) == 2 else 0
        _shape(name, f"{direction}/W", params["W"], (n_codes, 4 * half))
        _shape(name, f"{direction}/U", params["U"], (half, 4 * half))
        _shape(name, f"{direction}/b", params["b"], (4 * half,))
    assert half is not None  # set by the first of the (two) DIRECTIONS
    readout = tree["readout"]
    if any(key not in readout for key in ("W", "b")):
        raise BundleError(f"{name}: readout lacks W or b")
    _shape(name, "readout/W", readout["W"], (2 * half, n_codes))
    _shape(name, "readout/b", readout["b"], (n_codes,))


def _check_heads(heads: Mapping[str, np.ndarray], n_pooled: int, dimensions) -> None:
    name = "heads.npz"
    for prefix in ("emotion", "activation", "valence"):
        if (
            prefix != "emotion"
            and prefix not in dimensions
            and not any(key.startswith(f"{prefix}/") for key in heads)
        ):
            continue
        for key in ("fill", "mean", "scale", "coef", "intercept"):
            if f"{prefix}/{key}" not in heads:
                raise BundleError(f"{name}: {prefix}/{key} is missing")
        for key in ("fill", "mean", "scale"):
            _shape(name, f"{prefix}/{key}", heads[f"{prefix}/{key}"], (n_pooled,))
        if prefix != "emotion":
            _shape(name, f"{prefix}/coef", heads[f"{prefix}/coef"], (1, n_pooled))
            _shape(name, f"{prefix}/intercept", heads[f"{prefix}/intercept"], (1,))
            continue
        if "emotion/classes" not in heads:
            raise BundleError(f"{name}: emotion/classes is missing")
        classes = _shape(name, "emotion/classes", heads["emotion/classes"], (None,))
        if (
            not np.issubdtype(classes.dtype, np.integer)
            or len(classes) < 2
            or len(set(classes.tolist())) != len(classes)
            or not all(0 <= c < len(CLASSES) for c in classes.tolist())
        ):
            raise BundleError(
                f"{name}: emotion/classes {classes.tolist()} are not distinct "
                f"class numbers 0..{len(CLASSES) - 1}"
            )
        rows = 1 if len(classes) == 2 else len(classes)  # binary: one score
        _shape(name, "emotion/coef", heads["emotion/coef"], (rows, n_pooled))
        _shape(name, "emotion/intercept", heads["emotion/intercept"], (rows,))


def _check_info(info, folder: Path) -> ModelId:
    name = "bundle.json"
    if not isinstance(info, dict):
        raise BundleError(f"{name}: not a JSON object")
    if info.get("format") != FORMAT:
        raise BundleError(
            f"{name}: bundle format {info.get('format')!r}, this version reads format {FORMAT}"
        )
    try:
        model = ModelId.parse(str(info.get("model")))
    except ValueError as error:
        raise BundleError(f"{name}: {error}") from error
    if "context" in info and info["context"] != model.context:
        raise BundleError(f"{name}: context {info['context']!r} but model {model}")
    if "classes" in info and list(info["classes"]) != list(CLASSES):
        raise BundleError(
            f"{name}: classes {info['classes']} but this version predicts {list(CLASSES)}"
        )
    window = info.get("window_s", DEFAULT_WINDOW_S)
    if not (isinstance(window, int | float) and math.isfinite(window) and window > 0):
        raise BundleError(f"{name}: window_s must be a finite number > 0, not {window!r}")
    if info.get("blstm") and not (folder / "blstm.npz").is_file():
        raise BundleError("blstm.npz is missing (bundle.json says the bundle has a BLSTM)")
    if not isinstance(info.get("dimensions", []), list):
        raise BundleError(f"{name}: dimensions must be a list")
    try:
        AudioPolicy(channel=info.get("channel", "mix"))
    except ValueError as error:
        raise BundleError(f"{name}: {error}") from error
    return model


@dataclass
class Bundle:
    folder: Path
    model: ModelId
    spec: SpectrogramSpec
    mean: np.ndarray
    std: np.ndarray
    normalization: str
    encoder: list[dict]
    blstm: dict | None
    blstm_pooling: str
    heads: dict[str, np.ndarray]
    info: dict
    # The statistics of the BLSTM's `statistics` pooling, as `blstm.npz` recorded them.
    blstm_statistics: dict | None = None

    @classmethod
    def load(cls, folder: str | Path) -> Bundle:
        """Read a bundle folder and check it: every file must be readable and every array's
        shape must fit `bundle.json`, the spectrogram settings and the encoder's widths, so
        that a damaged bundle fails here (`BundleError`, naming the file and what is wrong)
        and never half-way through the audio."""
        folder = Path(folder)
        try:
            return cls._load(folder)
        except BundleError as error:
            raise BundleError(f"bundle {folder}: {error}") from error.__cause__

    @classmethod
    def _load(cls, folder: Path) -> Bundle:
        from affectrep.train.blstm import VECTOR_POOLINGS

        if not (folder / "bundle.json").is_file():
            raise BundleError("not a model bundle (no bundle.json)")
        info = _read(folder, "bundle.json", lambda p: json.loads(p.read_text(encoding="utf-8")))
        model = _check_info(info, folder)
        stats = _read(
            folder, "features.npz", lambda p: _npz(p, ("spec", "mean", "std", "normalization"))
        )
        for key in ("spec", "mean", "std", "normalization"):
            if key not in stats:
                raise BundleError(f"features.npz: {key} is missing")
        try:
            spec = SpectrogramSpec(**json.loads(str(stats["spec"])))
            spec.check()
        except (TypeError, ValueError) as error:
            raise BundleError(f"features.npz: spectrogram settings: {error}") from error
        mean = _shape("features.npz", "mean", stats["mean"], (spec.n_dims,))
        std = _shape("features.npz", "std", stats["std"], (spec.n_dims,))
        encoder_tree, _ = _read(folder, "encoder.npz", load_tree)
        # The encoder reads `context` frames of the spectrogram at once.
        encoder = _layers("encoder.npz", encoder_tree, spec.n_dims * model.context)
        n_codes = int(encoder[-1]["W"].shape[1])
        blstm, blstm_pooling, blstm_statistics = None, "mean", None
        if (folder / "blstm.npz").exists():
            blstm, blstm_meta = _read(folder, "blstm.npz", load_tree)
            _check_blstm(blstm, n_codes)
            settings = blstm_meta.get("settings", {}) if isinstance(blstm_meta, dict) else {}
            blstm_pooling = settings.get("pooling", "mean") if isinstance(settings, dict) else ""
            if isinstance(blstm_meta, dict) and isinstance(blstm_meta.get("statistics"), dict):
                blstm_statistics = blstm_meta["statistics"]
            if blstm_pooling not in VECTOR_POOLINGS:
                raise BundleError(
                    f"blstm.npz: pooling {blstm_pooling!r} is not one of {VECTOR_POOLINGS}"
                )
        heads = _read(
            folder, "heads.npz", lambda p: {k: v for k, v in _npz(p).items() if "/" in k}
        )  # head/array
        try:
            pooling = PoolingSpec.of(info.get("pooling"))
        except (KeyError, TypeError, ValueError) as error:
            raise BundleError(f"bundle.json: pooling {info.get('pooling')!r}: {error}") from error
        _check_heads(heads, pooling.n_out(n_codes), info.get("dimensions", []))
        return cls(
            folder,
            model,
            spec,
            mean,
            std,
            str(stats["normalization"]),
            encoder,
            blstm,
            blstm_pooling,
            heads,
            info,
            blstm_statistics,
        )

    # --- the workflow's stages, one file at a time ----------------------------------------

    def frames(self, signal: np.ndarray, statistics: Statistics | None = None) -> np.ndarray:
        """Normalised spectrogram frames of a mono 16 kHz signal: with `statistics` (mean, std:
        a speaker's own, `speaker_statistics`) or else the corpus's global ones."""
        frames = spectrogram(signal, self.spec)
        if self.normalization == "none":
            return frames
        mean, std = statistics if statistics is not None else (self.mean, self.std)
        return ((frames - mean) / std).astype(np.float32)

    def speaker_statistics(
        self,
        paths: Sequence[str | Path],
        window_s: float = DEFAULT_WINDOW_S,
        skip: tuple[type[Exception], ...] = (),
    ) -> Statistics:
        """The per-dimension mean and std of the unnormalised frames of every file in `paths`,
        computed as the workflow computes a speaker's (`features.normalization: speaker`): for
        several files of ONE new speaker, so that their codes are made the way the corpus's
        were. Read as the corpus was (this bundle's `policy`). A file that raises one of
        `skip` is left out whole (the caller reports it when it processes the file)."""
        moments = RunningMoments(self.spec.n_dims)
        for path in paths:
            try:
                windows = [
                    spectrogram(w, self.spec) for w in audio_windows(path, window_s, self.policy)
                ]
            except skip:
                continue
            for frames in windows:
                moments.add(frames)
        if moments.count == 0:
            raise ValueError(f"no spectrogram frames in {len(paths)} file(s)")
        mean, std = moments.mean_std()
        return mean.astype(np.float32), std.astype(np.float32)

    def codes(self, frames: np.ndarray) -> np.ndarray:
        from affectrep.train.autoencoders import encode_frames

        index = FeatureIndex(["x"], ["x"], np.array([0]), np.array([frames.shape[0]]))
        return encode_frames(self.encoder, frames, index, self.model.context)

    def blstm_vector(self, codes: np.ndarray) -> np.ndarray:
        from affectrep.train.blstm import utterance_vectors

        if self.blstm is None:
            raise ValueError(f"{self.folder}: this bundle has no BLSTM")
        index = FeatureIndex(["x"], ["x"], np.array([0]), np.array([codes.shape[0]]))
        return utterance_vectors(
            self.blstm,
            codes,
            index,
            self.blstm_pooling,
            statistics=PoolingSpec.of(self.blstm_statistics),
            batch_size=1,
        )[0]

    @property
    def pooling(self) -> PoolingSpec:
        """How codes are pooled for the heads (`bundle.json` `pooling`; older bundles: mean
        and std)."""
        return PoolingSpec.of(self.info.get("pooling"))

    @property
    def policy(self) -> AudioPolicy:
        """How audio is read: the default checks, and the channel the corpus was read with
        (`audio.channel`: `mix`, or an index; bundles from before it: `mix`)."""
        return replace(DEFAULT_POLICY, channel=self.info.get("channel", "mix"))

    def file_codes(
        self,
        path: str | Path,
        window_s: float = DEFAULT_WINDOW_S,
        policy: AudioPolicy | None = None,
        statistics: Statistics | None = None,
    ) -> list[np.ndarray]:
        """The codes of each window of an audio file (one window unless it is long), read as
        the corpus was (`policy`: this bundle's, by default), normalised with `statistics`
        (see `frames`)."""
        out = []
        for signal in audio_windows(path, window_s, policy or self.policy):
            frames = self.frames(signal, statistics)
            if frames.shape[0] == 0:
                raise ValueError(f"{path}: shorter than one {self.spec.window_ms} ms window")
            out.append(self.codes(frames))
        return out

    def embed(
        self,
        path: str | Path,
        level: str = "pooled",
        window_s: float = DEFAULT_WINDOW_S,
        statistics: Statistics | None = None,
    ) -> np.ndarray:
        """`frames`: (n_frames, dims) codes; `pooled`: statistics of the codes (`pooling`);
        `blstm`: the BLSTM utterance vector (windows of a long file: length-weighted mean).
        `statistics`: the speaker's own normalisation statistics (see `frames`)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
        windows = self.file_codes(path, window_s, statistics=statistics)
        if level == "frames":
            return np.concatenate(windows)
        if level == "pooled":
            return pool_one(np.concatenate(windows), self.pooling)
        lengths = np.array([w.shape[0] for w in windows], dtype=np.float64)
        vectors = np.stack([self.blstm_vector(w) for w in windows])
        return (lengths @ vectors / lengths.sum()).astype(np.float32)

    def predict(
        self,
        path: str | Path,
        window_s: float = DEFAULT_WINDOW_S,
        statistics: Statistics | None = None,
    ) -> dict:
        """Emotion probabilities (the four classes), activation and valence (nan when the
        training corpus had no ratings) of one audio file; `statistics` as in `frames`."""
        pooled = self.embed(path, "pooled", window_s, statistics)[None, :]
        probabilities = predict_emotion(self.heads, pooled, len(CLASSES))[0]
        out: dict = {"file": str(path)}
        out |= {name: float(p) for name, p in zip(CLASSES, probabilities, strict=True)}
        out["emotion"] = CLASSES[int(np.argmax(probabilities))]
        for dimension in ("activation", "valence"):
            out[dimension] = (
                float(predict_dimension(self.heads, dimension, pooled)[0])
                if f"{dimension}/coef" in self.heads
                else math.nan
            )
        return out


# --- writing a bundle (rule export) ------------------------------------------------------------


def fit_heads(
    pooled: np.ndarray,
    ids: Sequence[str],
    rows: Sequence,
    *,
    c_grid: Sequence[float],
    balanced: bool,
    seed: int,
    logger=None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Evaluate the heads leave one session out (for the model card), then fit them on every
    utterance with the median strength the folds chose. Returns (arrays, card results)."""

    emotion_runs = loso_emotion_runs(
        pooled, ids, rows, c_grid=c_grid, balanced=balanced, seed=seed, logger=logger
    )
    labels = utterance_labels(list(ids), rows)
    c = median_choice([run["chosen_C"] for run in emotion_runs])
    labelled = labels >= 0
    arrays = head_arrays(
        fit_emotion(pooled[labelled], labels[labelled], c, balanced=balanced, seed=seed), "emotion"
    )
    card: dict = {
        "emotion": {
            "C": c,
            "runs": len(emotion_runs),
            "n_train": int(labelled.sum()),
            "wa": [r["weighted_accuracy"] for r in emotion_runs],
            "ua": [r["unweighted_accuracy"] for r in emotion_runs],
        },
    }
    ratings = rated(rows)
    if ratings:
        regression_settings = RegressionSettings()
        runs = evaluate_source(pooled, ids, rows, make_folds(rows), regression_settings)
        keep = [i for i, uid in enumerate(ids) if uid in ratings]
        targets = np.array([ratings[ids[i]] for i in keep])
        for column, dimension in enumerate(("activation", "valence")):
            alpha = median_choice([run[dimension]["alpha"] for run in runs])
            model = fit_dimension(pooled[keep], targets[:, column], alpha)
            arrays |= head_arrays(model, dimension)
            card[dimension] = {
                "alpha": alpha,
                "n_train": len(keep),
                "ccc": [r[dimension]["ccc"] for r in runs],
                "pearson": [r[dimension]["pearson"] for r in runs],
            }
    return arrays, card


def model_card(
    model: ModelId,
    corpus: str,
    card: Mapping,
    sizes: Mapping,
    normalization: str,
    record: Mapping | None = None,
) -> str:
    lines = [
        f"# {model.title} ({model}), trained on corpus {corpus}",
        "",
        "Unsupervised: a denoising autoencoder on normalised spectrogram frames (the encoder "
        "gives the frame codes) and a BLSTM autoencoder on the codes of whole utterances. "
        "Supervised heads on pooled codes (statistics of an utterance's codes): a softmax "
        f"over {', '.join(CLASSES)}, and ridge regressions of activation and valence.",
        "",
        f"- corpus: {corpus}; {sizes['utterances']} utterances, {sizes['speakers']} speakers, "
        f"{sizes['hours']:.2f} h, {sizes['frames']} frames",
        f"- features: {sizes['spec']}, normalisation in the workflow: {normalization} "
        + (
            "(new audio: files of one speaker with their own statistics, "
            "`affectrep ... --one-speaker`; otherwise the corpus's global statistics)"
            if normalization == "speaker"
            else "(new audio: the corpus's global statistics)"
        ),
        f"- emotion head: trained on {card['emotion']['n_train']} labelled utterances, "
        f"C = {card['emotion']['C']:g} (median of the folds' choices on validation speakers)",
        "",
        "Leave-one-session-out results of these heads (one speaker of the held-out session "
        "validates, the other is tested; mean ± sample standard deviation over runs):",
        "",
        "| measure | value | runs |",
        "| --- | --- | --- |",
        f"| emotion WA % | {spread(card['emotion']['wa'], 100, 2)} | {card['emotion']['runs']} |",
        f"| emotion UA % | {spread(card['emotion']['ua'], 100, 2)} | {card['emotion']['runs']} |",
    ]
    for dimension in ("activation", "valence"):
        if dimension in card:
            entry = card[dimension]
            lines.append(f"| {dimension} CCC | {spread(entry['ccc'])} | {len(entry['ccc'])} |")
            lines.append(
                f"| {dimension} Pearson r | {spread(entry['pearson'])} | {len(entry['pearson'])} |"
            )
    if "activation" not in card:
        lines += ["", "The corpus has no activation/valence ratings: `predict` gives nan."]
    if record:
        lines += [
            "",
            "## Settings",
            "",
            "Read from the outputs this bundle was made of (per workflow rule: the "
            "settings all its jobs shared; `config.yaml` has every job's):",
            "",
            "```yaml",
            settings_yaml(record),
            "```",
        ]
    lines += [
        "",
        "Use: `affectrep predict <this folder> file.wav ...`, "
        "`affectrep embed <this folder> file.wav ... --out codes.csv`.",
        "",
    ]
    return "\n".join(lines)


def recorded_pooling(record: Mapping) -> dict:
    """The pooling (`representations.pooling`) that made the pooled codes in `record`: the
    `pool_codes` job's; mean and std where none recorded one (older records); two different
    ones are a stale mix (ValueError)."""
    found = {
        json.dumps(params["pooling"], sort_keys=True)
        for job, params in record.items()
        if str(job).startswith("pool_codes") and isinstance(params, Mapping) and "pooling" in params
    }
    if len(found) > 1:
        raise ValueError(f"the inputs were pooled in different ways: {sorted(found)}")
    return PoolingSpec.of(json.loads(found.pop()) if found else None).as_dict()


def recorded_channel(record: Mapping) -> str | int:
    """The audio channel (`audio.channel`) the features in `record` were read with: `mix`
    where no job recorded one; two different ones are a stale mix (ValueError)."""
    channels = {
        json.dumps(params["policy"].get("channel", "mix"))
        for params in record.values()
        if isinstance(params, Mapping) and isinstance(params.get("policy"), Mapping)
    }
    if len(channels) > 1:
        raise ValueError(f"the inputs were read with different audio channels: {channels}")
    return json.loads(channels.pop()) if channels else "mix"


def write_bundle(
    out_dir: str | Path,
    *,
    model: str,
    corpus: str,
    encoder_file: str | Path,
    blstm_file: str | Path | None,
    stats_file: str | Path,
    pooled_file: str | Path,
    ids_file: str | Path,
    index_file: str | Path,
    manifest: str | Path,
    record: Mapping,
    window_s: float,
    utterance: Mapping,
    seed: int,
    code_layer: int = 0,
    logger=None,
) -> dict:
    """Fit the heads and write the bundle folder (see the module doc); returns bundle.json.

    With `code_layer` k > 0 the codes are encoder layer k's outputs
    (`representations.code_layer`), and the bundle's `encoder.npz` holds layers 1..k only, so
    that it gives new audio exactly the codes its heads were fitted on.

    `record` is the provenance of the inputs (`affectrep.provenance`): the settings of every
    job that made them. It becomes the bundle's config.yaml and the model card's settings, so
    that both describe the arrays in the folder, not whatever the config says today."""

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parsed = ModelId.parse(model)
    rows = read_manifest(manifest)
    pooled, ids = read_vectors(pooled_file, ids_file)
    arrays, card = fit_heads(
        pooled,
        ids,
        rows,
        c_grid=utterance["c_grid"],
        balanced=utterance["class_weights"],
        seed=seed,
        logger=logger,
    )
    # Values typed Any: mypy matches a spread dict[str, ndarray] against savez's own
    # `allow_pickle: bool` keyword as well.
    heads: dict[str, Any] = arrays
    with atomic_path(out / "heads.npz") as tmp:
        np.savez(tmp, **heads)
    if code_layer:
        encoder_tree, encoder_meta = load_tree(encoder_file)
        layers = code_layers(encoder_tree["encoder"], code_layer, str(encoder_file))
        save_tree(
            out / "encoder.npz", {"encoder": layers}, {**encoder_meta, "code_layer": code_layer}
        )
    else:
        shutil.copyfile(encoder_file, out / "encoder.npz")
    shutil.copyfile(stats_file, out / "features.npz")
    if blstm_file is not None:
        shutil.copyfile(blstm_file, out / "blstm.npz")
    index = read_index(index_file)
    with np.load(stats_file) as stats:
        spec = SpectrogramSpec(**json.loads(str(stats["spec"])))
        normalization = str(stats["normalization"])
    sizes = {
        "utterances": len(index),
        "speakers": len(set(index.speakers)),
        "frames": index.n_frames,
        "hours": index.n_frames * spec.hop_ms / 3.6e6,
        "spec": spec.name,
    }
    with atomic_path(out / "config.yaml") as tmp:
        Path(tmp).write_text(
            "# The settings of every workflow job that made this bundle's arrays, read from\n"
            "# their outputs (job: its rule's params).\n"
            + yaml.safe_dump(dict(record), sort_keys=True, default_flow_style=None, width=96)
        )
    card_text = model_card(parsed, corpus, card, sizes, normalization, record)
    with atomic_path(out / "MODEL_CARD.md") as tmp:
        Path(tmp).write_text(card_text, encoding="utf-8")
    # The same card as a page that the Snakemake report shows inline (`affectrep.html`).
    write_html(card_text, out / "MODEL_CARD.html")
    info = {
        "format": FORMAT,
        "model": model,
        "title": parsed.title,
        "context": parsed.context,
        "corpus": corpus,
        "classes": list(CLASSES),
        "blstm": blstm_file is not None,
        "dimensions": [d for d in ("activation", "valence") if d in card],
        "window_s": float(window_s),
        "channel": recorded_channel(record),
        "pooling": recorded_pooling(record),
        "sizes": sizes,
        "results": card,
        "affectrep": software(),
    }
    with atomic_path(out / "bundle.json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1))
    return info
