"""The rules of `representations.smk`, from files to files (paper sections 5.1 and 5.2).

Frame level: the codes of an autoencoder (its bottleneck, or the layer of
`representations.code_layer`), every frame carrying its utterance's emotion, activation and
valence. Utterance level: the BLSTM autoencoder's vectors. Both are pictured with t-SNE
(Figures 1 and 2) and measured (`affectrep.protocol.separation`), because pictures alone are
not evidence. The training curves of the Table 2 encoder and its BLSTM show, from the files'
own records, whether their training had converged. The BLSTM is trained with JAX, imported
by `blstm_ae` when it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex, read_index, without_speakers
from affectrep.data.manifest import Utterance, read_manifest
from affectrep.data.pooling import PoolingSpec
from affectrep.data.pytree_io import load_tree
from affectrep.data.vectors import read_vectors, write_ids
from affectrep.protocol.curves import Curve, curve_of, plot_training_curves, trend_note
from affectrep.protocol.figures import (
    model_title,
    plot_composite,
    plot_panels,
    save_figure,
    stratified_subsample,
    tsne_embedding,
)
from affectrep.protocol.separation import separation_row, write_separation_table


@dataclass
class Points:
    """Representations with what each point is: one row per frame or per utterance."""

    vectors: np.ndarray
    emotions: list[str]
    activation: np.ndarray
    valence: np.ndarray
    speakers: list[str]


def _per_utterance(rows: Sequence[Utterance], ids: Sequence[str]):
    by_id = {row.id: row for row in rows}
    missing = [uid for uid in ids if uid not in by_id]
    if missing:
        raise ValueError(f"{len(missing)} utterances are not in the manifest, e.g. {missing[0]}")
    chosen = [by_id[uid] for uid in ids]

    def value(number: float | None) -> float:
        return np.nan if number is None else float(number)

    return (
        [row.emotion if row.emotion in CLASSES else "" for row in chosen],
        np.array([value(row.activation) for row in chosen]),
        np.array([value(row.valence) for row in chosen]),
        [row.speaker for row in chosen],
    )


def frame_points(codes: np.ndarray, index: FeatureIndex, rows: Sequence[Utterance]) -> Points:
    """Every frame with its utterance's labels (the paper's Figure 1 convention)."""
    emotions, activation, valence, speakers = _per_utterance(rows, index.ids)
    repeat = index.lengths
    return Points(
        codes,
        list(np.repeat(np.array(emotions, dtype=object), repeat)),
        np.repeat(activation, repeat),
        np.repeat(valence, repeat),
        list(np.repeat(np.array(speakers, dtype=object), repeat)),
    )


def utterance_points(vectors: np.ndarray, ids: Sequence[str], rows: Sequence[Utterance]) -> Points:
    emotions, activation, valence, speakers = _per_utterance(rows, ids)
    return Points(vectors, emotions, activation, valence, speakers)


def load_points(
    level: str, vectors: str | Path, ids_or_index: str | Path, manifest: str | Path
) -> Points:
    """Frame codes (`.npy` + the features' `index.tsv`) or utterance vectors (`.npy` + ids)."""
    rows = read_manifest(manifest)
    if level == "frames":
        return frame_points(np.load(vectors, mmap_mode="r"), read_index(ids_or_index), rows)
    if level == "utterances":
        x, ids = read_vectors(vectors, ids_or_index)
        return utterance_points(x, ids, rows)
    raise ValueError(f"level must be frames or utterances, not {level!r}")


# --- the BLSTM autoencoder --------------------------------------------------------------------


def training_part(
    data: np.ndarray,
    index: FeatureIndex,
    rows: Sequence[Utterance],
    exclude_session: str | None,
    what: str,
    logger: logging.Logger,
) -> tuple[np.ndarray, FeatureIndex]:
    """The frames (or codes) a model trains on: every utterance's, or, for strict per-fold
    pretraining, all but those of `exclude_session`'s speakers (logged)."""
    if exclude_session is None:
        return np.asarray(data), index
    held = {row.speaker for row in rows if row.session == exclude_session}
    kept_data, kept_index = without_speakers(data, index, held)
    logger.info(
        "%s: session %s left out of training (%d of %d utterances kept)",
        what,
        exclude_session,
        len(kept_index),
        len(index),
    )
    return kept_data, kept_index


def blstm_ae(
    codes_file: str | Path,
    index_file: str | Path,
    manifest: str | Path,
    *,
    settings: Mapping,
    vectors_out: str | Path,
    ids_out: str | Path,
    params_out: str | Path,
    model: str,
    exclude_session: str | None = None,
    statistics: Mapping | None = None,
    logger: logging.Logger | None = None,
) -> np.ndarray:
    """Rule `blstm_ae`: train the BLSTM autoencoder on the codes of every utterance (or of
    all but one session's speakers, for strict per-fold pretraining) and write one vector per
    utterance of the corpus (`statistics`: the `PoolingSpec` fields of `statistics`
    pooling)."""
    from affectrep.train.blstm import BlstmSettings, save_blstm, train_blstm, utterance_vectors

    logger = logger or logging.getLogger(__name__)
    blstm_settings = BlstmSettings(**settings)
    codes = np.load(codes_file, mmap_mode="r")
    index = read_index(index_file)
    rows = read_manifest(manifest)
    train_codes, train_index = training_part(codes, index, rows, exclude_session, "BLSTM", logger)
    checkpoint = Path(params_out).with_name(Path(params_out).stem + ".checkpoint.npz")
    params, history = train_blstm(
        train_codes,
        train_index,
        blstm_settings,
        checkpoint=checkpoint,
        logger=logger,
        label=f"BLSTM on {model}",
    )
    vectors = utterance_vectors(
        params,
        np.asarray(codes),
        index,
        blstm_settings.pooling,
        statistics=PoolingSpec.of(statistics) if statistics is not None else None,
        logger=logger,
    )
    save_blstm(
        params_out,
        params,
        {
            "model": model,
            "settings": settings,
            "history": history.records,
            "excluded_session": exclude_session,
            "statistics": statistics,
        },
    )
    checkpoint.unlink(missing_ok=True)
    with atomic_path(vectors_out) as tmp:
        np.save(tmp, vectors)
    by_id = {row.id: row for row in rows}
    write_ids([by_id[uid] for uid in index.ids], ids_out)
    return vectors


# --- the masked spectrogram model -------------------------------------------------------------


def masked_pretrain(
    frames_file: str | Path,
    index_file: str | Path,
    manifest: str | Path,
    *,
    settings: Mapping,
    model_out: str | Path,
    exclude_session: str | None = None,
    logger: logging.Logger | None = None,
) -> dict:
    """Rule `masked_pretrain`: train the masked spectrogram model (Table 2's `masked`
    column) on the spectrogram frames of every utterance (or of all but one session's
    speakers, for strict per-fold pretraining), labels unused. Writes its parameters with the
    settings, the blocks' dilations and the loss per epoch in the metadata; returns them."""
    from affectrep.train.masked import MaskedSettings, save_masked, train_masked

    logger = logger or logging.getLogger(__name__)
    masked_settings = MaskedSettings(**settings)
    masked_settings.check()
    frames = np.load(frames_file, mmap_mode="r")
    index = read_index(index_file)
    train_frames, train_index = training_part(
        frames, index, read_manifest(manifest), exclude_session, "masked model", logger
    )
    checkpoint = Path(model_out).with_name(Path(model_out).stem + ".checkpoint.npz")
    params, history = train_masked(
        train_frames,
        train_index,
        masked_settings,
        checkpoint=checkpoint,
        logger=logger,
        label=f"masked spectrogram model ({masked_settings.spectrogram})",
    )
    meta = {
        "model": "masked",
        "settings": dict(settings),
        "dilations": masked_settings.dilations,
        "n_in": int(frames.shape[1]),
        "history": history.records,
        "excluded_session": exclude_session,
    }
    save_masked(model_out, params, meta)
    checkpoint.unlink(missing_ok=True)
    return meta


def masked_embed(
    frames_file: str | Path,
    index_file: str | Path,
    manifest: str | Path,
    model_file: str | Path,
    *,
    pooling: Mapping | None,
    vectors_out: str | Path,
    ids_out: str | Path,
    logger: logging.Logger | None = None,
) -> np.ndarray:
    """Rule `masked_embed`: one vector per utterance of the corpus: the statistics
    (`pooling`, the fields of a `PoolingSpec`) of the masked model's outputs for every frame
    of the whole, unmasked utterance."""
    from affectrep.train.masked import load_masked, utterance_vectors

    logger = logger or logging.getLogger(__name__)
    params, meta = load_masked(model_file)
    frames = np.load(frames_file, mmap_mode="r")
    n_in = int(np.asarray(params["input"]["W"]).shape[0])
    if frames.shape[1] != n_in:
        raise ValueError(
            f"{model_file} reads {n_in}-dimensional frames but {frames_file} holds "
            f"{frames.shape[1]}-dimensional ones"
        )
    index = read_index(index_file)
    vectors = utterance_vectors(
        params, meta["dilations"], np.asarray(frames), index, PoolingSpec.of(pooling), logger=logger
    )
    logger.info("masked model vectors: %d utterances, %d dims", *vectors.shape)
    with atomic_path(vectors_out) as tmp:
        np.save(tmp, vectors)
    by_id = {row.id: row for row in read_manifest(manifest)}
    write_ids([by_id[uid] for uid in index.ids], ids_out)
    return vectors


# --- pictures and numbers ---------------------------------------------------------------------


def tsne(
    level: str,
    vectors: str | Path,
    ids_or_index: str | Path,
    manifest: str | Path,
    *,
    max_points: int,
    perplexity: float,
    seed: int,
    title: str,
    embedding_out: str | Path,
    figure_out: str | Path,
    logger: logging.Logger | None = None,
) -> None:
    """Rule `tsne`: t-SNE of a stratified sample of the labelled points (frame codes or
    utterance vectors, `load_points`); saves the embedding (for the composite figure) and this
    configuration's row of three panels."""
    logger = logger or logging.getLogger(__name__)
    points = load_points(level, vectors, ids_or_index, manifest)
    chosen = stratified_subsample(points.emotions, max_points, seed)
    logger.info("t-SNE of %d of %d points (%s)", len(chosen), len(points.emotions), title)
    embedding = tsne_embedding(np.asarray(points.vectors[chosen]), seed, perplexity)
    emotions = [points.emotions[i] for i in chosen]
    activation, valence = points.activation[chosen], points.valence[chosen]
    with atomic_path(embedding_out) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            embedding=embedding,
            points=chosen,
            emotions=np.array(emotions),
            activation=activation,
            valence=valence,
        )
    save_figure(plot_panels(embedding, emotions, activation, valence, title), figure_out)


def figure(embeddings: Mapping[str, str | Path], level_title: str, figure_out: str | Path) -> None:
    """Rule `figure`: the paper's 3x3 figure from saved embeddings (model id -> `.npz`)."""
    sets = {}
    for model, path in embeddings.items():
        with np.load(path) as saved:
            sets[model] = (
                saved["embedding"],
                list(saved["emotions"]),
                saved["activation"],
                saved["valence"],
            )
    save_figure(plot_composite(sets, level_title), figure_out)


def training_curves(
    layer_files: Sequence[str | Path],
    encoder_file: str | Path,
    blstm_file: str | Path,
    *,
    model: str,
    corpus: str,
    figure_out: str | Path,
    masked_files: Sequence[str | Path] = (),
    logger: logging.Logger | None = None,
) -> dict[str, str]:
    """Rule `training_curves`: the loss per epoch of every trained part of encoder `model`
    (its greedy layers `layer_files` and, when it was fine-tuned for some epochs, the
    fine-tuning in `encoder_file`; a deep model's joint training in `encoder_file`), of
    its BLSTM autoencoder (`blstm_file`) and of the masked spectrogram model (`masked_files`:
    its `model.npz` when Table 2 has a `masked` column, else none), as recorded in each
    file's metadata. Writes the figure (PNG and PDF) and returns each panel's last-epoch
    note."""
    logger = logger or logging.getLogger(__name__)
    encoder_meta = load_tree(encoder_file)[1]
    model = str(encoder_meta.get("model", model))  # the file's own id
    title = model_title(model)
    encoder_curves: list[Curve] = []
    for number, path in enumerate(layer_files, start=1):
        meta = load_tree(path)[1]
        encoder_curves.append(curve_of(f"{title} layer {meta.get('layer', number)}", meta))
    if "finetune" in encoder_meta:  # a greedy stack's encoder: fine-tuning, if it had epochs
        if encoder_meta.get("history"):
            encoder_curves.append(curve_of(f"{title} fine-tuning", encoder_meta, "finetune"))
    else:
        encoder_curves.append(curve_of(f"{title} (trained jointly)", encoder_meta))
    blstm = curve_of(f"BLSTM autoencoder on {title} codes", load_tree(blstm_file)[1])
    masked_metas = [load_tree(path)[1] for path in masked_files]
    masked = [curve_of(masked_title(meta), meta) for meta in masked_metas]
    notes = {}
    for curve in [*encoder_curves, blstm, *masked]:
        notes[curve.title] = trend_note(curve.losses)
        logger.info("%s: %s", curve.title, notes[curve.title])
    figure = plot_training_curves(
        {
            f"Table 2 encoder {title} ({model})": encoder_curves,
            "BLSTM autoencoder (utterance vectors)": [blstm],
            "Masked spectrogram model (self-supervised, Table 2 column masked)": masked,
        },
        f"Training curves, corpus {corpus}",
    )
    save_figure(figure, figure_out)
    return notes


def masked_title(meta: Mapping) -> str:
    """`Masked spectrogram model, logmel40, 4 x 128` from a `model.npz`'s metadata."""
    settings = meta.get("settings") or {}
    parts = ["Masked spectrogram model"]
    if "spectrogram" in settings:
        parts.append(str(settings["spectrogram"]))
    if "layers" in settings and "width" in settings:
        parts.append(f"{settings['layers']} x {settings['width']}")
    return ", ".join(parts)


def separation(
    sources: Sequence[tuple[str, str, str | Path, str | Path]],
    manifest: str | Path,
    *,
    k: int,
    max_points: int,
    seed: int,
    tsv_out: str | Path,
    md_out: str | Path,
    logger: logging.Logger | None = None,
) -> list[dict]:
    """Rule `separation`: one row per (level, model, vectors, ids-or-index) source; see
    `affectrep.protocol.separation`."""
    logger = logger or logging.getLogger(__name__)
    rows = []
    for level, model, vectors, ids in sources:
        points = load_points(level, vectors, ids, manifest)
        row = separation_row(
            points.vectors,
            points.emotions,
            points.activation,
            points.valence,
            points.speakers,
            level=level,
            model=model,
            k=k,
            max_points=max_points,
            seed=seed,
        )
        logger.info("separation %s %s: %s", level, model, row)
        rows.append(row)
    write_separation_table(rows, tsv_out, md_out)
    return rows
