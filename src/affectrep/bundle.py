"""A trained configuration as a self-contained folder that works without the workflow.

`results/{corpus}/export/{model}/` holds:

- `bundle.json`: format version, model id, context, classes, which heads exist, corpus;
- `features.npz`: the corpus's `stats.npz` (spectrogram settings, normalisation statistics);
- `encoder.npz`, `blstm.npz`: the autoencoder's encoder and the BLSTM autoencoder;
- `heads.npz`: the emotion softmax and the activation/valence ridges on pooled codes, as
  arrays (`affectrep.heads`), fitted on every labelled (rated) utterance of the corpus with
  the median of the strengths the leave-one-session-out folds chose;
- `config.yaml`: the workflow settings that made it; `MODEL_CARD.md`: corpus, data sizes,
  and the fold results of exactly these heads.

`Bundle.load(folder)` needs NumPy, JAX and soundfile only; `embed` and `predict` run new audio
through the same code as the workflow (`audio`, `spectrogram`, `autoencoders.encode_frames`,
`blstm.utterance_vectors`), so a corpus utterance gives the workflow's own numbers.

New speakers are unknown, so audio is normalised with the corpus's global statistics even when
the workflow normalised per speaker (the model card says which).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from affectrep.atomic import atomic_path
from affectrep.audio import DEFAULT_POLICY, AudioPolicy, audio_windows
from affectrep.emotions import CLASSES
from affectrep.featureset import FeatureIndex
from affectrep.heads import (
    fit_dimension,
    fit_emotion,
    head_arrays,
    loso_emotion_runs,
    median_choice,
    pool_one,
    predict_dimension,
    predict_emotion,
)
from affectrep.model_id import ModelId
from affectrep.spectrogram import SpectrogramSpec, spectrogram
from affectrep.tables import spread

FORMAT = 1
LEVELS = ("frames", "pooled", "blstm")
DEFAULT_WINDOW_S = 30.0


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

    @classmethod
    def load(cls, folder: str | Path) -> Bundle:
        from affectrep.pytree_io import load_tree

        folder = Path(folder)
        manifest = folder / "bundle.json"
        if not manifest.exists():
            raise FileNotFoundError(f"{folder}: not a model bundle (no bundle.json)")
        info = json.loads(manifest.read_text())
        if info.get("format") != FORMAT:
            raise ValueError(f"{folder}: bundle format {info.get('format')}, this version "
                             f"reads format {FORMAT}")
        with np.load(folder / "features.npz") as stats:
            spec = SpectrogramSpec(**json.loads(str(stats["spec"])))
            mean, std = stats["mean"], stats["std"]
            normalization = str(stats["normalization"])
        encoder_tree, _ = load_tree(folder / "encoder.npz")
        blstm, blstm_pooling = None, "mean"
        if (folder / "blstm.npz").exists():
            blstm, blstm_meta = load_tree(folder / "blstm.npz")
            blstm_pooling = blstm_meta.get("settings", {}).get("pooling", "mean")
        with np.load(folder / "heads.npz") as archive:
            heads = {name: archive[name] for name in archive.files}
        return cls(folder, ModelId.parse(info["model"]), spec, mean, std, normalization,
                   [{"W": p["W"], "b": p["b"]} for p in encoder_tree["encoder"]], blstm,
                   blstm_pooling, heads, info)

    # --- the workflow's stages, one file at a time ----------------------------------------

    def frames(self, signal: np.ndarray) -> np.ndarray:
        """Normalised spectrogram frames of a mono 16 kHz signal."""
        frames = spectrogram(signal, self.spec)
        if self.normalization == "none":
            return frames
        return ((frames - self.mean) / self.std).astype(np.float32)

    def codes(self, frames: np.ndarray) -> np.ndarray:
        from affectrep.autoencoders import encode_frames

        index = FeatureIndex(["x"], ["x"], np.array([0]), np.array([frames.shape[0]]))
        return encode_frames(self.encoder, frames, index, self.model.context)

    def blstm_vector(self, codes: np.ndarray) -> np.ndarray:
        from affectrep.blstm import utterance_vectors

        if self.blstm is None:
            raise ValueError(f"{self.folder}: this bundle has no BLSTM")
        index = FeatureIndex(["x"], ["x"], np.array([0]), np.array([codes.shape[0]]))
        return utterance_vectors(self.blstm, codes, index, self.blstm_pooling, batch_size=1)[0]

    def file_codes(self, path: str | Path, window_s: float = DEFAULT_WINDOW_S,
                   policy: AudioPolicy = DEFAULT_POLICY) -> list[np.ndarray]:
        """The codes of each window of an audio file (one window unless it is long)."""
        out = []
        for signal in audio_windows(path, window_s, policy):
            frames = self.frames(signal)
            if frames.shape[0] == 0:
                raise ValueError(f"{path}: shorter than one {self.spec.window_ms} ms window")
            out.append(self.codes(frames))
        return out

    def embed(self, path: str | Path, level: str = "pooled",
              window_s: float = DEFAULT_WINDOW_S) -> np.ndarray:
        """`frames`: (n_frames, dims) codes; `pooled`: mean and std of the codes (2 * dims);
        `blstm`: the BLSTM utterance vector (windows of a long file: length-weighted mean)."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
        windows = self.file_codes(path, window_s)
        if level == "frames":
            return np.concatenate(windows)
        if level == "pooled":
            return pool_one(np.concatenate(windows))
        lengths = np.array([w.shape[0] for w in windows], dtype=np.float64)
        vectors = np.stack([self.blstm_vector(w) for w in windows])
        return (lengths @ vectors / lengths.sum()).astype(np.float32)

    def predict(self, path: str | Path, window_s: float = DEFAULT_WINDOW_S) -> dict:
        """Emotion probabilities (the four classes), activation and valence (nan when the
        training corpus had no ratings) of one audio file."""
        pooled = self.embed(path, "pooled", window_s)[None, :]
        probabilities = predict_emotion(self.heads, pooled, len(CLASSES))[0]
        out: dict = {"file": str(path)}
        out |= {name: float(p) for name, p in zip(CLASSES, probabilities, strict=True)}
        out["emotion"] = CLASSES[int(np.argmax(probabilities))]
        for dimension in ("activation", "valence"):
            out[dimension] = (float(predict_dimension(self.heads, dimension, pooled)[0])
                              if f"{dimension}/coef" in self.heads else math.nan)
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
    from affectrep.dimensional import RegressionSettings, evaluate_source, rated
    from affectrep.folds import make_folds, utterance_labels

    emotion_runs = loso_emotion_runs(pooled, ids, rows, c_grid=c_grid, balanced=balanced,
                                     seed=seed, logger=logger)
    labels = utterance_labels(list(ids), rows)
    c = median_choice([run["chosen_C"] for run in emotion_runs])
    labelled = labels >= 0
    arrays = head_arrays(fit_emotion(pooled[labelled], labels[labelled], c,
                                     balanced=balanced, seed=seed), "emotion")
    card: dict = {
        "emotion": {"C": c, "runs": len(emotion_runs), "n_train": int(labelled.sum()),
                    "wa": [r["weighted_accuracy"] for r in emotion_runs],
                    "ua": [r["unweighted_accuracy"] for r in emotion_runs]},
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
            card[dimension] = {"alpha": alpha, "n_train": len(keep),
                               "ccc": [r[dimension]["ccc"] for r in runs],
                               "pearson": [r[dimension]["pearson"] for r in runs]}
    return arrays, card


def model_card(model: ModelId, corpus: str, card: Mapping, sizes: Mapping,
               normalization: str) -> str:
    lines = [
        f"# {model.title} ({model}), trained on corpus {corpus}",
        "",
        "Unsupervised: a denoising autoencoder on normalised spectrogram frames (the encoder "
        "gives the frame codes) and a BLSTM autoencoder on the codes of whole utterances. "
        "Supervised heads on pooled codes (mean and std of an utterance's codes): a softmax "
        f"over {', '.join(CLASSES)}, and ridge regressions of activation and valence.",
        "",
        f"- corpus: {corpus}; {sizes['utterances']} utterances, {sizes['speakers']} speakers, "
        f"{sizes['hours']:.2f} h, {sizes['frames']} frames",
        f"- features: {sizes['spec']}, normalisation in the workflow: {normalization} "
        "(new audio: the corpus's global statistics)",
        f"- emotion head: trained on {card['emotion']['n_train']} labelled utterances, "
        f"C = {card['emotion']['C']:g} (median of the folds' choices on validation speakers)",
        "",
        "Leave-one-session-out results of these heads (one speaker of the held-out session "
        "validates, the other is tested; mean ± std over runs):",
        "",
        "| measure | value | runs |",
        "| --- | --- | --- |",
        f"| emotion WA % | {spread(card['emotion']['wa'], 100, 2)} | {card['emotion']['runs']} |",
        f"| emotion UA % | {spread(card['emotion']['ua'], 100, 2)} | {card['emotion']['runs']} |",
    ]
    for dimension in ("activation", "valence"):
        if dimension in card:
            entry = card[dimension]
            lines.append(f"| {dimension} CCC | {spread(entry['ccc'])} | "
                         f"{len(entry['ccc'])} |")
            lines.append(f"| {dimension} Pearson r | {spread(entry['pearson'])} | "
                         f"{len(entry['pearson'])} |")
    if "activation" not in card:
        lines += ["", "The corpus has no activation/valence ratings: `predict` gives nan."]
    lines += ["", "Use: `affectrep predict <this folder> file.wav ...`, "
              "`affectrep embed <this folder> file.wav ... --out codes.csv`.", ""]
    return "\n".join(lines)


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
    settings: Mapping,
    utterance: Mapping,
    seed: int,
    logger=None,
) -> dict:
    """Fit the heads and write the bundle folder (see the module doc); returns bundle.json."""
    from affectrep.evaluation import read_vectors
    from affectrep.featureset import read_index
    from affectrep.manifest import read_manifest

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parsed = ModelId.parse(model)
    rows = read_manifest(manifest)
    pooled, ids = read_vectors(pooled_file, ids_file)
    arrays, card = fit_heads(pooled, ids, rows, c_grid=utterance["c_grid"],
                             balanced=utterance["class_weights"], seed=seed, logger=logger)
    with atomic_path(out / "heads.npz") as tmp:
        np.savez(tmp, **arrays)
    shutil.copyfile(encoder_file, out / "encoder.npz")
    shutil.copyfile(stats_file, out / "features.npz")
    if blstm_file is not None:
        shutil.copyfile(blstm_file, out / "blstm.npz")
    index = read_index(index_file)
    with np.load(stats_file) as stats:
        spec = SpectrogramSpec(**json.loads(str(stats["spec"])))
        normalization = str(stats["normalization"])
    sizes = {"utterances": len(index), "speakers": len(set(index.speakers)),
             "frames": index.n_frames, "hours": index.n_frames * spec.hop_ms / 3.6e6,
             "spec": spec.name}
    with atomic_path(out / "config.yaml") as tmp:
        Path(tmp).write_text(yaml.safe_dump(dict(settings), sort_keys=False))
    with atomic_path(out / "MODEL_CARD.md") as tmp:
        Path(tmp).write_text(model_card(parsed, corpus, card, sizes, normalization),
                             encoding="utf-8")
    info = {"format": FORMAT, "model": model, "title": parsed.title, "context": parsed.context,
            "corpus": corpus, "classes": list(CLASSES), "blstm": blstm_file is not None,
            "dimensions": [d for d in ("activation", "valence") if d in card],
            "window_s": float(settings.get("use", {}).get("window_s", DEFAULT_WINDOW_S)),
            "sizes": sizes, "results": card}
    with atomic_path(out / "bundle.json") as tmp:
        Path(tmp).write_text(json.dumps(info, indent=1))
    return info
