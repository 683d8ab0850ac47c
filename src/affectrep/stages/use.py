"""The rules of `use.smk`, from files to files: corpora joined for pretraining on all of them,
pooled codes, activation/valence regression, the exported bundle and the cross-corpus matrix.
(Rule `encode_from` is rule `encode` with other paths: `affectrep.stages.autoencoders.encode`.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import FeatureIndex, combine_feature_sets, read_index
from affectrep.data.manifest import Utterance, combine_manifests, read_manifest
from affectrep.data.pooling import PoolingSpec
from affectrep.data.vectors import load_external_vectors, read_vectors, write_ids
from affectrep.html import html_twin, write_html
from affectrep.protocol import heads
from affectrep.protocol.crosscorpus import cell_text, matrix_cells, plot_matrix
from affectrep.protocol.dimensional import (
    RegressionSettings,
    evaluate_source,
    placeholder_figure,
    plot_predictions,
    rated,
    table_rows,
)
from affectrep.protocol.folds import make_folds, utterance_labels
from affectrep.protocol.tables import markdown_table, spread, write_tsv
from affectrep.use.bundle import write_bundle

# --- pretraining on every corpus at once ------------------------------------------------------


def combine_corpora(
    names: Sequence[str],
    manifests: Sequence[str | Path],
    manifest_out: str | Path,
    logger: logging.Logger | None = None,
) -> list[Utterance]:
    """Rule `combine_corpora`: the manifests of corpora `names` (in that order) as one, ids,
    speakers and sessions prefixed with the corpus."""
    logger = logger or logging.getLogger(__name__)
    rows = combine_manifests(dict(zip(names, manifests, strict=True)), manifest_out)
    logger.info("combined %s: %d utterances", list(names), len(rows))
    return rows


def combine_features(
    names: Sequence[str],
    feature_files: Sequence[str | Path],
    *,
    frames_out: str | Path,
    index_out: str | Path,
    stats_out: str | Path,
    logger: logging.Logger | None = None,
) -> FeatureIndex:
    """Rule `combine_features`: the feature sets of corpora `names` as one. feature_files:
    each corpus's `frames.npy`, `index.tsv` and `stats.npz`, corpus after corpus in `names`
    order (the rule's input)."""
    if len(feature_files) != 3 * len(names):
        raise ValueError(
            f"expected frames, index and stats of {list(names)}, got {len(feature_files)} files"
        )
    files = [str(path) for path in feature_files]
    sources = {
        name: (files[3 * k], files[3 * k + 1], files[3 * k + 2]) for k, name in enumerate(names)
    }
    return combine_feature_sets(sources, frames_out, index_out, stats_out, logger)


# --- read-outs of a representation ------------------------------------------------------------


def pool_codes(
    codes: str | Path,
    index: str | Path,
    manifest: str | Path,
    vectors_out: str | Path,
    ids_out: str | Path,
    pooling: Mapping | None = None,
) -> np.ndarray:
    """Rule `pool_codes`: the pooled codes of every utterance (statistics of its frame codes,
    `pooling`: the fields of an `affectrep.data.pooling.PoolingSpec`)."""
    feature_index = read_index(index)
    pooled = heads.pool_codes(np.load(codes, mmap_mode="r"), feature_index, PoolingSpec.of(pooling))
    with atomic_path(vectors_out) as tmp:
        np.save(tmp, pooled)
    by_id = {row.id: row for row in read_manifest(manifest)}
    write_ids([by_id[uid] for uid in feature_index.ids], ids_out)
    return pooled


def dimensional(
    sources: Mapping[str, Mapping[str, Sequence[str]]],
    manifest: str | Path,
    *,
    titles: Mapping[str, str],
    corpus: str,
    tsv: str | Path,
    markdown: str | Path,
    runs_out: str | Path,
    figure: str | Path,
    alphas: Sequence[float] = RegressionSettings.alphas,
    external: Collection[str] = (),
    logger: logging.Logger | None = None,
) -> dict[str, list[dict]]:
    """Rule `dimensional`: the activation and valence table of every representation.
    sources: name -> fold name -> (vectors .npy, ids .tsv) used in that fold (one file for all
    folds, unless pretraining is strict); alphas: the ridge strengths tried; external: the
    sources computed outside the workflow (`classification.vectors`), checked before use
    (`load_external_vectors`: every rated utterance has one finite vector, so that their row
    is scored on the same utterances as the others)."""
    logger = logger or logging.getLogger(__name__)
    settings = RegressionSettings(alphas=tuple(alphas))
    rows = read_manifest(manifest)
    folds = make_folds(rows)
    runs: dict[str, list[dict]] = {}
    ratings = rated(rows)
    if ratings:
        loaded: dict[tuple[str, ...], tuple[np.ndarray, list[str]]] = {}
        for name, per_fold in sources.items():
            runs[name] = []
            for fold in folds:
                # One file serves every fold unless pretraining is strict: read it once.
                pair = tuple(per_fold[fold.name])
                if pair not in loaded and name in external:
                    vectors, ids = pair
                    loaded[pair] = load_external_vectors(
                        vectors, ids, [row.id for row in rows], required=ratings, logger=logger
                    )
                elif pair not in loaded:
                    loaded[pair] = read_vectors(*pair)
                runs[name] += evaluate_source(*loaded[pair], rows, [fold], settings)
            logger.info(
                "%s: activation CCC %s, valence CCC %s",
                name,
                spread([r["activation"]["ccc"] for r in runs[name]]),
                spread([r["valence"]["ccc"] for r in runs[name]]),
            )
        table = table_rows(runs, titles)
        text = (
            f"Activation and valence regression (ridge, alpha chosen on the validation "
            f"speaker), corpus {corpus}, leave one session out, {len(folds)} runs; "
            f"mean ± sample standard deviation over runs.\n\n{markdown_table(table)}\n"
        )
        plot_predictions(runs, titles, figure)
    else:
        text = (
            f"Corpus {corpus} has no activation and valence ratings: no dimensional table "
            "(and no figure; `figures/dimensional.png` is an empty placeholder).\n"
        )
        table = [{"note": text.strip()}]
        placeholder_figure(figure, text)
    write_tsv(table, tsv)
    with atomic_path(markdown) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    write_html(text, html_twin(markdown), title="Activation and valence")
    with atomic_path(runs_out) as tmp:
        Path(tmp).write_text(json.dumps(runs, indent=1))
    return runs


# --- the exported bundle ----------------------------------------------------------------------


def export(
    bundle: str | Path,
    *,
    model: str,
    corpus: str,
    encoder: str | Path,
    blstm: str | Path | None,
    stats: str | Path,
    index: str | Path,
    pooled: str | Path,
    ids: str | Path,
    manifest: str | Path,
    record: Mapping,
    window_s: float,
    utterance: Mapping,
    seed: int,
    code_layer: int = 0,
    logger: logging.Logger | None = None,
) -> dict:
    """Rule `export`: the model bundle whose `bundle.json` is `bundle`, in that file's folder
    (`affectrep.use.bundle.write_bundle`). `record`: the provenance of the inputs, which
    becomes the bundle's config.yaml and the model card's settings. `code_layer`: the encoder
    layer whose output the pooled codes were made of (0: the bottleneck); the bundle's
    encoder ends there, so that it gives new audio the same codes."""
    logger = logger or logging.getLogger(__name__)
    folder = Path(bundle).parent
    info = write_bundle(
        folder,
        model=model,
        corpus=corpus,
        encoder_file=encoder,
        blstm_file=blstm,
        stats_file=stats,
        pooled_file=pooled,
        ids_file=ids,
        index_file=index,
        manifest=manifest,
        record=record,
        window_s=window_s,
        utterance=utterance,
        seed=seed,
        code_layer=code_layer,
        logger=logger,
    )
    logger.info("bundle %s: heads %s", folder, ["emotion", *info["dimensions"]])
    return info


# --- the cross-corpus matrix ------------------------------------------------------------------


def cross_corpus(
    corpora: Sequence[str],
    pooled: Sequence[Sequence[str]],
    manifests: Mapping[str, str],
    *,
    model_title: str,
    settings: Mapping,
    tsv: str | Path,
    markdown: str | Path,
    cells_out: str | Path,
    figure: str | Path,
    combined: str | None = None,
    logger: logging.Logger | None = None,
) -> list[dict]:
    """Rule `cross_corpus`: the matrix (`affectrep.protocol.crosscorpus`) as a table, its
    cells and a figure. pooled: [A, B, vectors .npy, ids .tsv] for every pair: B's pooled
    codes under A's encoder (A may be `combined`, pretrained on all corpora at once)."""
    logger = logger or logging.getLogger(__name__)
    rows = {c: read_manifest(manifests[c]) for c in corpora}
    data = {}
    for a, b, vectors, ids_file in pooled:
        x, ids = read_vectors(vectors, ids_file)
        data[(a, b)] = (x, ids, utterance_labels(ids, rows[b]))
    classes, cells = matrix_cells(data, rows, corpora, settings, combined, logger)
    rows_of_table = [*corpora, *([combined] if combined is not None else [])]
    names = ", ".join(CLASSES[k] for k in classes)
    table = [
        {
            "pretrained and trained on": a
            if a != combined
            else "pretrained on all; trained on the test corpus",
            **{f"tested on {b}": cell_text(cells, a, b) for b in corpora},
        }
        for a in rows_of_table
    ]
    text = (
        f"Cross-corpus emotion recognition with {model_title} (softmax on pooled codes), "
        f"classes {names}; UA % (WA %). Diagonal: leave one session out within the corpus; "
        "off the diagonal: pretrained and trained on all of the row's corpus, tested on "
        "all of the column's"
        + (
            "; last row: the autoencoder pretrained on all corpora at once, the softmax "
            "trained leave one session out within the column's corpus"
            if combined
            else ""
        )
        + f".\n\n{markdown_table(table)}\n"
    )
    columns = (
        "train",
        "test",
        "protocol",
        "weighted_accuracy",
        "unweighted_accuracy",
        "n_train",
        "n_test",
        "C",
    )
    write_tsv([{k: c[k] for k in columns} for c in cells], tsv)
    with atomic_path(markdown) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    write_html(text, html_twin(markdown), title=f"Cross-corpus: {model_title}")
    with atomic_path(cells_out) as tmp:
        Path(tmp).write_text(
            json.dumps({"classes": [CLASSES[k] for k in classes], "cells": cells}, indent=1)
        )
    plot_matrix(cells, rows_of_table, corpora, model_title, figure)
    return cells
