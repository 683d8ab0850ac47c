"""The rules of `classification.smk`, from files to files (paper section 6, Table 2).

Everything that decides a result is in the protocol: `affectrep.protocol.folds` (who trains,
validates, is tested), `affectrep.protocol.mlp` (the frame-level MLPs),
`affectrep.protocol.utterance` (the softmax on utterance vectors) and
`affectrep.protocol.table2` (aggregation beside the paper); the openSMILE functionals
(eGeMAPS, ComParE) are `affectrep.data.egemaps`, and vectors computed elsewhere are checked by
`affectrep.data.vectors.load_external_vectors`. The `functionals` rule runs in an environment
without JAX and matplotlib, so this module imports them only inside the rules that need them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.audio import AudioPolicy
from affectrep.data.egemaps import functionals_features
from affectrep.data.emotions import CLASSES
from affectrep.data.featureset import load_frames
from affectrep.data.manifest import Utterance, read_manifest
from affectrep.data.vectors import load_external_vectors, read_vectors, sha256_of, write_ids
from affectrep.protocol.folds import (
    Fold,
    fold_by_name,
    fold_table,
    make_folds,
    utterance_labels,
)
from affectrep.protocol.tables import write_tsv
from affectrep.protocol.utterance import UtteranceSettings, evaluate_utterance_classifier

# `folds/{method}/runs.json`: every run of one Table 2 column, made by one job
# (`classification.fold_jobs: method`), under this key; `{fold}.json` holds one run.
RUNS_FILE = "runs.json"
RUNS_KEY = "runs"


def _write_json(result: Mapping, path: str | Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w") as handle:
        json.dump(result, handle, indent=1)


def functionals(
    manifest: str | Path,
    vectors_out: str | Path,
    ids_out: str | Path,
    names_out: str | Path,
    policy: AudioPolicy | Mapping,
    feature_set: str = "egemaps",
    logger: logging.Logger | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Rule `functionals`: the openSMILE functionals of `feature_set` (`egemaps` or
    `compare`) of every utterance of the manifest (labelled or not), read as the audio policy
    says (`policy`: an `AudioPolicy` or its fields), with the names openSMILE gives them;
    in `workers` processes (the rule's threads)."""
    if not isinstance(policy, AudioPolicy):
        policy = AudioPolicy(**policy)
    rows = read_manifest(manifest)
    x, names = functionals_features(rows, feature_set, logger, policy, workers)
    with atomic_path(vectors_out) as tmp:
        np.save(tmp, x)
    write_ids(rows, ids_out)
    with atomic_path(names_out) as tmp:
        Path(tmp).write_text("\n".join(names) + "\n")
    return x


def folds(
    manifest: str | Path, tsv: str | Path, logger: logging.Logger | None = None
) -> list[dict[str, str]]:
    """Rule `folds`: every run of the protocol (`make_folds` on the manifest) with its
    session, train, validation and test speakers, so that the exact splits can be reused."""
    logger = logger or logging.getLogger(__name__)
    rows = fold_table(make_folds(read_manifest(manifest)))
    write_tsv(rows, tsv)
    logger.info("%d runs: %s", len(rows), ", ".join(row["fold"] for row in rows))
    return rows


def fold_mlp(
    frames: str | Path,
    index: str | Path,
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
    """Rule `fold_mlp`: one run of a frame-level MLP with hidden widths `hidden` (the
    encoder's): pretrained from `encoder_file`, or randomly initialised (no file), so that the
    two columns of Table 2 differ only in where the weights start."""
    rows = read_manifest(manifest)
    encoders = None if encoder_file is None else {fold_name: encoder_file}
    (result,) = _mlp_runs(
        frames,
        index,
        rows,
        [fold_by_name(make_folds(rows), fold_name)],
        context=context,
        hidden=hidden,
        settings=settings,
        method=method,
        encoders=encoders,
        pretraining=pretraining,
        logger=logger,
    )
    _write_json(result, output)
    return result


def mlp_runs(
    frames: str | Path,
    index: str | Path,
    manifest: str | Path,
    output: str | Path,
    *,
    context: int,
    hidden: Sequence[int],
    settings: Mapping,
    method: str,
    encoders: Mapping[str, str | Path] | None = None,
    pretraining: str = "all",
    logger: logging.Logger | None = None,
) -> list[dict]:
    """Rule `mlp_runs`: every run of one frame-level MLP in one job (`RUNS_FILE`), each
    exactly as rule `fold_mlp` makes it: the frames are read, and the training step
    compiled, once for all of them. `encoders`: fold name -> the encoder its pretrained MLP
    starts from (None: the MLP without pretraining)."""
    rows = read_manifest(manifest)
    runs = _mlp_runs(
        frames,
        index,
        rows,
        _every_run(rows, encoders, "encoder"),
        context=context,
        hidden=hidden,
        settings=settings,
        method=method,
        encoders=encoders,
        pretraining=pretraining,
        logger=logger,
    )
    _write_json({RUNS_KEY: runs}, output)
    return runs


def _every_run(
    rows: Sequence[Utterance], given: Mapping[str, object] | None, what: str
) -> list[Fold]:
    """Every run of the protocol on `rows`, in order; ValueError naming the runs that `given`
    (fold name -> its file; None: no file per run) has no `what` for."""
    folds = make_folds(rows)
    missing = [fold.name for fold in folds if given is not None and fold.name not in given]
    if missing:
        raise ValueError(f"no {what} given for the runs {', '.join(missing)}")
    return folds


def _mlp_runs(
    frames: str | Path,
    index: str | Path,
    rows: Sequence[Utterance],
    folds: Sequence[Fold],
    *,
    context: int,
    hidden: Sequence[int],
    settings: Mapping,
    method: str,
    encoders: Mapping[str, str | Path] | None,
    pretraining: str,
    logger: logging.Logger | None,
) -> list[dict]:
    from affectrep.models.context import TrainingData
    from affectrep.protocol.mlp import MlpSettings, evaluate_fold, load_encoder

    logger = logger or logging.getLogger(__name__)
    frame_array, feature_index = load_frames(frames, index)
    labels = utterance_labels(feature_index.ids, rows)
    # Moved to the device block by block: the host never holds the whole frame array.
    data = TrainingData.from_file(frames, feature_index)
    runs = []
    for number, fold in enumerate(folds, 1):
        if len(folds) > 1:
            logger.info("%s: run %d of %d, %s", method, number, len(folds), fold.name)
        encoder = load_encoder(encoders[fold.name]) if encoders is not None else None
        result = evaluate_fold(
            frame_array,
            feature_index,
            labels,
            fold,
            context=context,
            hidden=list(hidden),
            pretrained=encoder,
            settings=MlpSettings(**settings),
            method=method,
            logger=logger,
            data=data,
        )
        result["pretraining"] = pretraining
        runs.append(result)
    return runs


def _single(path: str | Path | Sequence[str | Path]) -> str | Path:
    """The one file of a rule input that may be given as a list of one."""
    if isinstance(path, (str, Path)):
        return path
    if len(path) != 1:
        raise ValueError(f"expected one file, got {list(path)}")
    return path[0]


def fused_vectors(
    vectors: str | Path | Sequence[str | Path], ids_files: str | Path | Sequence[str | Path]
) -> tuple[np.ndarray, list[str]]:
    """The utterance vectors of one file, or of several side by side (a fused column such as
    `pooled+egemaps`): rows follow the first file's ids, and every other file must have a row
    for each of them (ValueError naming the file and the first missing ids)."""
    if isinstance(vectors, (str, Path)):
        single = ids_files if isinstance(ids_files, (str, Path)) else ids_files[0]
        return read_vectors(vectors, single)
    paths = list(vectors)
    id_paths = [ids_files] if isinstance(ids_files, (str, Path)) else list(ids_files)
    if len(paths) != len(id_paths) or not paths:
        raise ValueError(f"fusing needs one ids file per vectors file: {paths} / {id_paths}")
    x, ids = read_vectors(paths[0], id_paths[0])
    blocks = [np.asarray(x, dtype=np.float64)]
    for path, id_path in zip(paths[1:], id_paths[1:], strict=True):
        other, other_ids = read_vectors(path, id_path)
        row = {uid: r for r, uid in enumerate(other_ids)}
        missing = [uid for uid in ids if uid not in row]
        if missing:
            raise ValueError(
                f"{path} has no vector for {len(missing)} utterances of {paths[0]} "
                f"(first: {', '.join(missing[:5])})"
            )
        blocks.append(np.asarray(other, dtype=np.float64)[[row[uid] for uid in ids]])
    return np.concatenate(blocks, axis=1), ids


def fold_vectors(
    vectors: str | Path | Sequence[str | Path],
    ids_file: str | Path | Sequence[str | Path],
    manifest: str | Path,
    fold_name: str,
    output: str | Path,
    *,
    settings: Mapping,
    method: str,
    pretraining: str = "all",
    external: Mapping[str, str] | None = None,
    logger: logging.Logger | None = None,
) -> dict:
    """Rule `fold_vectors`: one run of the softmax on utterance vectors (eGeMAPS or ComParE
    functionals, BLSTM vectors, pooled codes, several of them side by side, or vectors
    computed elsewhere).

    `external`: the `classification.vectors` entry ({path, ids}) when the vectors were not
    made by the workflow; they are then checked first (`load_external_vectors`: every
    labelled utterance has one finite vector; ids outside the manifest are ignored), and the
    run records the files' SHA-256, since no provenance record describes them."""
    rows = read_manifest(manifest)
    (result,) = _vector_runs(
        [(fold_by_name(make_folds(rows), fold_name), {"vectors": vectors, "ids": ids_file})],
        rows,
        settings=settings,
        method=method,
        pretraining=pretraining,
        external=external,
        logger=logger,
    )
    _write_json(result, output)
    return result


def vector_runs(
    sources: Mapping[str, Mapping[str, str | Path | Sequence[str | Path]]],
    manifest: str | Path,
    output: str | Path,
    *,
    settings: Mapping,
    method: str,
    pretraining: str = "all",
    external: Mapping[str, str] | None = None,
    logger: logging.Logger | None = None,
) -> list[dict]:
    """Rule `vector_runs`: every run of the softmax on one column's utterance vectors in one
    job (`RUNS_FILE`), each exactly as rule `fold_vectors` makes it. `sources`: fold name ->
    {vectors, ids}, that fold's files (the same for every fold unless the encoders are
    pretrained per fold); each set of files is read once."""
    rows = read_manifest(manifest)
    runs = _vector_runs(
        [(fold, sources[fold.name]) for fold in _every_run(rows, sources, "vectors")],
        rows,
        settings=settings,
        method=method,
        pretraining=pretraining,
        external=external,
        logger=logger,
    )
    _write_json({RUNS_KEY: runs}, output)
    return runs


def _vector_runs(
    sources: Sequence[tuple[Fold, Mapping[str, str | Path | Sequence[str | Path]]]],
    rows: Sequence[Utterance],
    *,
    settings: Mapping,
    method: str,
    pretraining: str,
    external: Mapping[str, str] | None,
    logger: logging.Logger | None,
) -> list[dict]:
    logger = logger or logging.getLogger(__name__)
    speaker = {row.id: row.speaker for row in rows}
    loaded: dict[str, tuple[np.ndarray, list[str], dict | None]] = {}
    runs = []
    for fold, files in sources:
        key = json.dumps([_paths(files["vectors"]), _paths(files["ids"])])
        if key not in loaded:
            loaded[key] = _read_column(files["vectors"], files["ids"], rows, external, logger)
        x, ids, record = loaded[key]
        result = evaluate_utterance_classifier(
            x,
            utterance_labels(ids, rows),
            [speaker[i] for i in ids],
            fold,
            ids=ids,
            settings=UtteranceSettings(
                grid=tuple(settings["c_grid"]),
                balanced=settings["class_weights"],
                seed=settings.get("seed", 0),
                normalization=settings.get("normalization", "global"),
            ),
            method=method,
            logger=logger,
        )
        result["pretraining"] = pretraining
        if record is not None:
            result["external_vectors"] = record
        runs.append(result)
    return runs


def _paths(files: str | Path | Sequence[str | Path]) -> list[str]:
    return [str(files)] if isinstance(files, (str, Path)) else [str(f) for f in files]


def _read_column(
    vectors: str | Path | Sequence[str | Path],
    ids_file: str | Path | Sequence[str | Path],
    rows: Sequence,
    external: Mapping[str, str] | None,
    logger: logging.Logger,
) -> tuple[np.ndarray, list[str], dict | None]:
    """A column's vectors and their ids, and for external vectors the record of their files."""
    if external is None:
        x, ids = fused_vectors(vectors, ids_file)
        return x, ids, None
    path, id_path = _single(vectors), _single(ids_file)
    labelled = [row.id for row in rows if row.emotion in CLASSES]
    x, ids = load_external_vectors(
        path, id_path, [row.id for row in rows], required=labelled, logger=logger
    )
    record = {
        "path": str(path),
        "ids": str(id_path),
        "sha256": {"path": sha256_of(path), "ids": sha256_of(id_path)},
        "utterances": len(ids),
    }
    return x, ids, record


def read_runs(path: str | Path) -> list[dict]:
    """The runs a result file holds: every run of a method (`RUNS_FILE`, rules `mlp_runs`
    and `vector_runs`) or one run (`{fold}.json`, rules `fold_mlp` and `fold_vectors`)."""
    loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(loaded, dict) and RUNS_KEY in loaded:
        return list(loaded[RUNS_KEY])
    return [loaded]


def table2(
    results_by_method: Mapping[str, Sequence[str | Path]],
    titles: Mapping[str, str],
    corpus: str,
    tsv: str | Path,
    markdown: str | Path,
    confusion_figures: Mapping[str, str | Path],
    logger: logging.Logger | None = None,
    *,
    paired_tsv: str | Path | None = None,
    paired_json: str | Path | None = None,
    external: Sequence[str] = (),
    paired_settings: Mapping | None = None,
) -> list[dict]:
    """Rule `table2`: every run's JSON aggregated into Table 2 (and its HTML twin), and each
    method's pooled confusions drawn. Every column is also compared with the best
    hand-crafted one, paired by test speaker (`affectrep.protocol.table2.paired_summary`):
    a section of the table and, for programs and the report, `paired_tsv` and `paired_json`.
    `external`: methods that are neither hand-crafted nor learned here; `paired_settings`:
    the fields of `PairedSettings` (bootstrap resamples, confidence, seed)."""
    from affectrep.protocol.paired import PairedSettings
    from affectrep.protocol.table2 import (
        aggregate,
        paired_section,
        paired_summary,
        plot_confusion,
        pooled_confusion,
        write_paired_tsv,
        write_table2,
    )

    logger = logger or logging.getLogger(__name__)
    loaded = {
        method: [run for path in paths for run in read_runs(path)]
        for method, paths in results_by_method.items()
    }
    rows = aggregate({titles[m]: runs for m, runs in loaded.items()})
    first = next(iter(loaded.values()))
    speakers = sorted({run["test_speaker"] for run in first})
    policies = {
        titles[m]: sorted({run.get("pretraining", "all") for run in runs})
        for m, runs in loaded.items()
    }
    seeds = sorted(
        {
            str(run["settings"].get("seed", ""))
            for runs in loaded.values()
            for run in runs
            if isinstance(run.get("settings"), dict)
        }
    )
    header = [
        f"Corpus `{corpus}`; {len(first)} runs per method (leave-one-session-out, "
        f"{len({run['session'] for run in first})} sessions, each speaker tested once with "
        f"its session partner validating): test speakers {', '.join(speakers)}.",
        "Unsupervised pretraining data (all = every utterance, labels unused; train = the "
        "fold's training sessions only): "
        + "; ".join(f"{title} {'/'.join(p)}" for title, p in policies.items())
        + f". Seeds "
        f"{', '.join(seeds)}.",
    ]
    summary = paired_summary(
        loaded,
        titles,
        external=external,
        settings=PairedSettings(**paired_settings) if paired_settings else None,
    )
    write_table2(rows, tsv, markdown, header, paired_section(summary))
    if paired_tsv is not None:
        write_paired_tsv(summary, paired_tsv)
    if paired_json is not None:
        _write_json(summary, paired_json)
    for method, runs in loaded.items():
        plot_confusion(
            pooled_confusion(runs),
            CLASSES,
            f"{titles[method]} - {corpus}, all test speakers",
            confusion_figures[method],
        )
    logger.info("table 2:\n%s", Path(markdown).read_text())
    return rows
