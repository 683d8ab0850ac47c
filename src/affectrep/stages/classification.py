"""What each classification rule does, from files to files (paper section 6, Table 2).

The scripts only pass paths and settings in; everything that decides a result is here and in
the modules it calls: `affectrep.protocol.folds` (who trains, validates, tests),
`affectrep.protocol.mlp` (the frame-level MLPs), `affectrep.data.egemaps` (the off-the-shelf
baseline and the softmax on any utterance vectors) and `affectrep.protocol.table2`
(aggregation beside the paper).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import load_frames
from affectrep.data.manifest import Utterance, read_manifest
from affectrep.protocol.folds import fold_by_name, make_folds, utterance_labels

# Table 2 column titles of our methods; the pretrained MLP and the BLSTM name their encoder.
METHOD_TITLES = {
    "pretrained-mlp": "Pretrained MLP ({encoder})",
    "mlp": "MLP (no pretraining)",
    "egemaps": "eGeMAPS softmax",
    "blstm": "BLSTM ({encoder}) softmax",
}


def method_title(method: str, encoder_title: str) -> str:
    return METHOD_TITLES[method].format(encoder=encoder_title)


def fold_names(manifest: str | Path) -> list[str]:
    """The runs of the protocol for this corpus (`fold1-Ses01F`, ...)."""
    return [fold.name for fold in make_folds(read_manifest(manifest))]


def fold_sessions(manifest: str | Path) -> dict[str, str]:
    """Run name -> its held-out session (what a strict per-fold pretraining leaves out)."""
    return {fold.name: fold.session for fold in make_folds(read_manifest(manifest))}


def _write_json(result: Mapping, path: str | Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        json.dump(result, handle, indent=1)


def mlp_fold(
    feature_dir: str | Path,
    manifest: str | Path,
    fold_name: str,
    output: str | Path,
    *,
    context: int,
    hidden: Sequence[int],
    settings: Mapping,
    method: str,
    encoder_file: str | Path | None = None,
    pretraining: str = "all",
    logger: logging.Logger | None = None,
) -> dict:
    """One run of a frame-level MLP with hidden widths `hidden` (the encoder's): pretrained
    from `encoder_file`, or randomly initialised (no file), so that the two columns of
    Table 2 differ only in where the weights start."""
    from affectrep.protocol.mlp import MlpSettings, evaluate_fold, load_encoder
    from affectrep.train.autoencoders import TrainingData

    logger = logger or logging.getLogger(__name__)
    rows = read_manifest(manifest)
    fold = fold_by_name(make_folds(rows), fold_name)
    frames, index = load_frames(feature_dir)
    labels = utterance_labels(index.ids, rows)
    encoder = load_encoder(encoder_file) if encoder_file is not None else None
    # Moved to the device block by block: the host never holds the whole frame array.
    data = TrainingData.from_file(Path(feature_dir) / "frames.npy", index)
    result = evaluate_fold(
        frames, index, labels, fold, context=context, hidden=list(hidden), pretrained=encoder,
        settings=MlpSettings(**settings), method=method, logger=logger, data=data,
    )
    result["pretraining"] = pretraining
    _write_json(result, output)
    return result


def read_vectors(vectors: str | Path, ids_file: str | Path) -> tuple[np.ndarray, list[str]]:
    """Utterance vectors (n, dims) and their ids from a `.npy` and a TSV with an `id` column."""
    x = np.load(vectors)
    with open(ids_file, newline="") as handle:
        ids = [row["id"] for row in csv.DictReader(handle, delimiter="\t")]
    if len(ids) != x.shape[0]:
        raise ValueError(f"{vectors} has {x.shape[0]} rows but {ids_file} lists {len(ids)} ids")
    return x, ids


def utterance_fold(
    vectors: str | Path,
    ids_file: str | Path,
    manifest: str | Path,
    fold_name: str,
    output: str | Path,
    *,
    settings: Mapping,
    method: str,
    pretraining: str = "all",
    logger: logging.Logger | None = None,
) -> dict:
    """One run of the softmax on utterance vectors (eGeMAPS functionals, BLSTM vectors)."""
    from affectrep.data.egemaps import UtteranceSettings, evaluate_utterance_classifier

    rows = read_manifest(manifest)
    fold = fold_by_name(make_folds(rows), fold_name)
    x, ids = read_vectors(vectors, ids_file)
    speaker = {row.id: row.speaker for row in rows}
    result = evaluate_utterance_classifier(
        x, utterance_labels(ids, rows), [speaker[i] for i in ids], fold, ids=ids,
        settings=UtteranceSettings(grid=tuple(settings["c_grid"]),
                                   balanced=settings["class_weights"],
                                   seed=settings.get("seed", 0)),
        method=method, logger=logger,
    )
    result["pretraining"] = pretraining
    _write_json(result, output)
    return result


def write_ids(rows: Sequence[Utterance], path: str | Path) -> None:
    """The id and speaker of each row of an utterance-vector file, in order."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "speaker"])
        writer.writerows([row.id, row.speaker] for row in rows)


def egemaps_stage(
    manifest: str | Path,
    vectors: str | Path,
    ids_file: str | Path,
    names_file: str | Path,
    policy,
    logger: logging.Logger | None = None,
) -> np.ndarray:
    """eGeMAPS functionals of every utterance of the manifest (labelled or not)."""
    from affectrep.data.egemaps import egemaps_features

    rows = read_manifest(manifest)
    x, names = egemaps_features(rows, logger, policy)
    with atomic_path(vectors) as tmp:
        np.save(tmp, x)
    write_ids(rows, ids_file)
    with atomic_path(names_file) as tmp:
        Path(tmp).write_text("\n".join(names) + "\n")
    return x


def table2_stage(
    results_by_method: Mapping[str, Sequence[str | Path]],
    titles: Mapping[str, str],
    corpus: str,
    tsv: str | Path,
    markdown: str | Path,
    confusion_figures: Mapping[str, str | Path],
    logger: logging.Logger | None = None,
) -> list[dict]:
    """Aggregate every run's JSON into Table 2 and draw each method's pooled confusions."""
    from affectrep.protocol.table2 import aggregate, plot_confusion, pooled_confusion, write_table2

    logger = logger or logging.getLogger(__name__)
    loaded = {method: [json.loads(Path(p).read_text()) for p in paths]
              for method, paths in results_by_method.items()}
    rows = aggregate({titles[m]: runs for m, runs in loaded.items()})
    first = next(iter(loaded.values()))
    speakers = sorted({run["test_speaker"] for run in first})
    policies = {titles[m]: sorted({run.get("pretraining", "all") for run in runs})
                for m, runs in loaded.items()}
    seeds = sorted({str(run["settings"].get("seed", "")) for runs in loaded.values()
                    for run in runs if isinstance(run.get("settings"), dict)})
    header = [
        f"Corpus `{corpus}`; {len(first)} runs per method (leave-one-session-out, "
        f"{len({run['session'] for run in first})} sessions, each speaker tested once with "
        f"its session partner validating): test speakers {', '.join(speakers)}.",
        "Unsupervised pretraining data (all = every utterance, labels unused; train = the "
        "fold's training sessions only): "
        + "; ".join(f"{title} {'/'.join(p)}" for title, p in policies.items()) + f". Seeds "
        f"{', '.join(seeds)}.",
    ]
    write_table2(rows, tsv, markdown, header)
    for method, runs in loaded.items():
        plot_confusion(pooled_confusion(runs), CLASSES,
                       f"{titles[method]} - {corpus}, all test speakers",
                       confusion_figures[method])
    logger.info("table 2:\n%s", Path(markdown).read_text())
    return rows


def pooled_stage(codes_file: str | Path, index_file: str | Path, manifest: str | Path,
                 vectors_out: str | Path, ids_out: str | Path) -> np.ndarray:
    """Pooled codes (mean and std of each utterance's frame codes) of every utterance."""
    from affectrep.data.featureset import read_index
    from affectrep.protocol.heads import pool_codes

    index = read_index(index_file)
    pooled = pool_codes(np.load(codes_file, mmap_mode="r"), index)
    with atomic_path(vectors_out) as tmp:
        np.save(tmp, pooled)
    by_id = {row.id: row for row in read_manifest(manifest)}
    write_ids([by_id[uid] for uid in index.ids], ids_out)
    return pooled
