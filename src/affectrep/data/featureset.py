"""A corpus's spectrogram frames on disk: one memory-mappable array, an index, statistics.

Layout of `results/{corpus}/features/{spec}/`:

- `frames.npy`: (n_frames, n_dims) float32, every frame of every utterance in manifest order,
  already normalised (zero mean, unit variance per dimension, globally or per speaker);
- `index.tsv`: id, speaker, offset, n_frames, n_all_frames: utterance `i` is
  `frames[offset:offset+n_frames]`; `n_all_frames` counts its frames before the speech
  selection (`SpectrogramSpec.speech_threshold_db`) left the quiet ones out;
- `stats.npz`: the statistics used (`mean`, `std` of the whole corpus, and `speakers`,
  `speaker_mean`, `speaker_std`), the normalisation mode and the spectrogram settings, so
  that new audio can be put on exactly the same scale later.

Extraction streams: one utterance in memory at a time, raw frames appended to a temporary
file, statistics accumulated in float64, then a second pass normalises block by block into
the final array. Peak memory does not grow with the corpus (blocks go through file handles,
not memory maps, whose touched pages would count in the stage's resident memory; see
`affectrep.data.npyio`).
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path, remove_stale_temporaries, temporary_name
from affectrep.data.audio import DEFAULT_POLICY, AudioPolicy, load_audio
from affectrep.data.manifest import Utterance
from affectrep.data.npyio import NpyRowWriter, iter_row_blocks, npy_layout
from affectrep.data.spectrogram import SpectrogramSpec, selected_spectrogram
from affectrep.progress import Progress

NORMALIZATIONS = ("global", "speaker", "none")
_STD_FLOOR = 1e-5
_BLOCK_FRAMES = 1 << 14  # 33 MB of fft513 frames: the normalising pass stays small


@dataclass
class FeatureIndex:
    """Where each utterance's frames are in `frames.npy`."""

    ids: list[str]
    speakers: list[str]
    offsets: np.ndarray
    lengths: np.ndarray
    # Where each utterance's frames are in the file this index was narrowed from (`excluding`);
    # None when `offsets` are positions in the file itself.
    source_offsets: np.ndarray | None = None
    # Frames of each utterance before the speech selection (None: unknown, or no selection).
    all_lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_frames(self) -> int:
        return int(self.lengths.sum())

    def file_segments(self) -> list[tuple[int, int]]:
        """(row in the frames file, length) of each utterance: `source_offsets` when this
        index was narrowed to a subset (`excluding`), else its own offsets."""
        offsets = self.offsets if self.source_offsets is None else self.source_offsets
        return [(int(o), int(n)) for o, n in zip(offsets, self.lengths, strict=True)]


class RunningMoments:
    """Per-dimension sums in float64, so that millions of frames do not lose precision. The
    statistics of `normalization` (global and per speaker), and of a new speaker's files
    (`affectrep.use.bundle.Bundle.speaker_statistics`)."""

    def __init__(self, n_dims: int) -> None:
        self.count = 0
        self.total = np.zeros(n_dims)
        self.squares = np.zeros(n_dims)

    def add(self, frames: np.ndarray) -> None:
        values = frames.astype(np.float64)
        self.count += values.shape[0]
        self.total += values.sum(axis=0)
        self.squares += (values**2).sum(axis=0)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.total / max(self.count, 1)
        variance = np.maximum(self.squares / max(self.count, 1) - mean**2, 0.0)
        return mean, np.maximum(np.sqrt(variance), _STD_FLOOR)


def write_index(index: FeatureIndex, path: str | Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "speaker", "offset", "n_frames", "n_all_frames"])
        every = index.lengths if index.all_lengths is None else index.all_lengths
        for row in zip(index.ids, index.speakers, index.offsets, index.lengths, every, strict=True):
            writer.writerow(row)


def read_index(path: str | Path) -> FeatureIndex:
    """The index of `index.tsv` (`n_all_frames` is optional: older indexes lack it)."""
    with open(path, newline="") as handle:
        records = list(csv.DictReader(handle, delimiter="\t"))
    every = (
        np.array([int(r["n_all_frames"]) for r in records], dtype=np.int64)
        if records and records[0].get("n_all_frames")
        else None
    )
    return FeatureIndex(
        ids=[r["id"] for r in records],
        speakers=[r["speaker"] for r in records],
        offsets=np.array([int(r["offset"]) for r in records], dtype=np.int64),
        lengths=np.array([int(r["n_frames"]) for r in records], dtype=np.int64),
        all_lengths=every,
    )


def extract_feature_set(
    rows: Sequence[Utterance],
    spec: SpectrogramSpec,
    frames: str | Path,
    index: str | Path,
    stats: str | Path,
    *,
    normalization: str = "global",
    policy: AudioPolicy = DEFAULT_POLICY,
    logger: logging.Logger | None = None,
) -> FeatureIndex:
    """Extract `spec` frames of every utterance in `rows` into the files `frames` (`.npy`),
    `index` (`.tsv`) and `stats` (`.npz`) (see module doc)."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, not {normalization!r}")
    spec.check()
    logger = logger or logging.getLogger(__name__)
    frames, index_file, stats = Path(frames), Path(index), Path(stats)
    for path in (frames, index_file, stats):
        path.parent.mkdir(parents=True, exist_ok=True)
    # The unnormalised frames of the first pass (`frames-raw.f32` beside `frames.npy`); a
    # killed run's copy is removed first.
    raw_target = frames.with_name(f"{frames.stem}-raw.f32")
    for target in (raw_target, frames, stats, index_file):
        for stale in remove_stale_temporaries(target):
            logger.info("removed %s (left by a killed run)", stale)
    raw_path = temporary_name(raw_target)
    overall = RunningMoments(spec.n_dims)
    per_speaker: dict[str, RunningMoments] = {}
    lengths = np.zeros(len(rows), dtype=np.int64)
    all_lengths = np.zeros(len(rows), dtype=np.int64)
    progress = Progress(len(rows), f"{spec.name} features", logger, unit="utterances")
    try:
        with open(raw_path, "wb") as raw:
            for number, row in enumerate(rows):
                signal_frames, all_lengths[number] = selected_spectrogram(
                    load_audio(row.path, policy), spec
                )
                if signal_frames.shape[0] == 0:
                    raise ValueError(f"{row.path}: shorter than one {spec.window_ms} ms window")
                raw.write(np.ascontiguousarray(signal_frames, dtype=np.float32).tobytes())
                lengths[number] = signal_frames.shape[0]
                overall.add(signal_frames)
                per_speaker.setdefault(row.speaker, RunningMoments(spec.n_dims)).add(signal_frames)
                progress.update(number + 1)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        feature_index = FeatureIndex(
            [r.id for r in rows],
            [r.speaker for r in rows],
            offsets,
            lengths,
            all_lengths=all_lengths,
        )
        mean, std = overall.mean_std()
        speakers = sorted(per_speaker)
        speaker_moments = [per_speaker[s].mean_std() for s in speakers]
        _normalise_into(
            raw_path,
            frames,
            feature_index,
            spec.n_dims,
            normalization,
            (mean, std),
            dict(zip(speakers, speaker_moments, strict=True)),
        )
    finally:
        raw_path.unlink(missing_ok=True)
    with atomic_path(stats) as tmp:
        np.savez(
            tmp,
            mean=mean.astype(np.float32),
            std=std.astype(np.float32),
            speakers=np.array(speakers),
            speaker_mean=np.array([m for m, _ in speaker_moments], dtype=np.float32),
            speaker_std=np.array([s for _, s in speaker_moments], dtype=np.float32),
            normalization=np.array(normalization),
            spec=np.array(json.dumps(asdict(spec))),
        )
    write_index(feature_index, index_file)
    if spec.speech_threshold_db is not None:
        logger.info(
            "%s: speech selection (within %g dB of each utterance's peak) kept %d of %d frames "
            "(%.1f%%)",
            spec.name,
            spec.speech_threshold_db,
            feature_index.n_frames,
            int(all_lengths.sum()),
            100 * feature_index.n_frames / max(int(all_lengths.sum()), 1),
        )
    logger.info(
        "%s: %d utterances, %d frames of %d dims (%.1f s of audio at %.0f ms hop), %s norm, %.1f s",
        spec.name,
        len(feature_index),
        feature_index.n_frames,
        spec.n_dims,
        feature_index.n_frames * spec.hop_ms / 1000,
        spec.hop_ms,
        normalization,
        progress.elapsed_s,
    )
    return feature_index


def _normalise_into(
    raw_path: Path,
    target: Path,
    index: FeatureIndex,
    n_dims: int,
    normalization: str,
    overall: tuple[np.ndarray, np.ndarray],
    per_speaker: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    """Second pass: raw frames -> normalised `frames.npy`, block by block (bounded memory)."""
    n_frames = index.n_frames
    row_bytes = n_dims * 4
    with open(raw_path, "rb") as raw, NpyRowWriter(target, (n_frames, n_dims)) as frames:
        if normalization == "speaker":
            for speaker, length in zip(index.speakers, index.lengths, strict=True):
                mean, std = per_speaker[speaker]
                block = np.frombuffer(raw.read(int(length) * row_bytes), np.float32)
                frames.write((block.reshape(-1, n_dims) - mean) / std)
        else:
            center, scale = overall if normalization == "global" else (0.0, 1.0)
            for start in range(0, n_frames, _BLOCK_FRAMES):
                rows = min(_BLOCK_FRAMES, n_frames - start)
                block = np.frombuffer(raw.read(rows * row_bytes), np.float32)
                frames.write((block.reshape(-1, n_dims) - center) / scale)


def excluding(index: FeatureIndex, speakers: set[str]) -> FeatureIndex:
    """The index of every utterance whose speaker is not in `speakers`, with offsets into the
    narrowed (concatenated) frames and `source_offsets` into the original ones: strict
    per-fold pretraining must never see a held-out speaker."""
    keep = [i for i, speaker in enumerate(index.speakers) if speaker not in speakers]
    if not keep:
        raise ValueError(f"leaving out speakers {sorted(speakers)} leaves no utterances")
    lengths = index.lengths[keep]
    return FeatureIndex(
        ids=[index.ids[i] for i in keep],
        speakers=[index.speakers[i] for i in keep],
        offsets=np.cumsum(lengths) - lengths,
        lengths=lengths,
        source_offsets=index.offsets[keep],
        all_lengths=None if index.all_lengths is None else index.all_lengths[keep],
    )


def without_speakers(
    frames: np.ndarray, index: FeatureIndex, speakers: set[str]
) -> tuple[np.ndarray, FeatureIndex]:
    """A copy of the frames (or codes) of every utterance whose speaker is not in `speakers`,
    with its own index (see `excluding`)."""
    subset = excluding(index, speakers)
    rows = np.concatenate([np.arange(o, o + n) for o, n in subset.file_segments()])
    return np.asarray(frames[rows]), subset


def load_frames(
    frames: str | Path, index: str | Path, mmap: bool = True
) -> tuple[np.ndarray, FeatureIndex]:
    """The normalised frames of `frames.npy` (memory-mapped by default) and the index of
    `index.tsv`."""
    return np.load(frames, mmap_mode="r" if mmap else None), read_index(index)


def combine_feature_sets(
    sources: Mapping[str, tuple[str | Path, str | Path, str | Path]],
    frames: str | Path,
    index: str | Path,
    stats: str | Path,
    logger: logging.Logger | None = None,
) -> FeatureIndex:
    """One feature set of several corpora's (`name -> (frames.npy, index.tsv, stats.npz)`),
    written to `frames`, `index` and `stats`, for pretraining on all of them: each corpus's
    frames as it normalised them, one after another, streamed block by block; ids and
    speakers are prefixed `name/` so that they stay unique. The statistics file says
    `normalization: per-corpus` (mean 0, std 1: nothing more to do)."""
    logger = logger or logging.getLogger(__name__)
    indexes = {name: read_index(files[1]) for name, files in sources.items()}
    specs = set()
    for _, _, stats_file in sources.values():
        with np.load(stats_file) as saved:
            specs.add(str(saved["spec"]))
    if len(specs) != 1:
        raise ValueError(f"corpora {sorted(sources)} have different spectrogram settings")
    n_dims = npy_layout(next(iter(sources.values()))[0])[0][1]
    lengths = np.concatenate([feature_index.lengths for feature_index in indexes.values()])
    combined = FeatureIndex(
        ids=[f"{name}/{uid}" for name, part in indexes.items() for uid in part.ids],
        speakers=[f"{name}/{s}" for name, part in indexes.items() for s in part.speakers],
        offsets=np.cumsum(lengths) - lengths,
        lengths=lengths,
        all_lengths=np.concatenate(
            [
                part.lengths if part.all_lengths is None else part.all_lengths
                for part in indexes.values()
            ]
        ),
    )
    with NpyRowWriter(frames, (combined.n_frames, n_dims)) as out:
        for frames_file, _, _ in sources.values():
            for block in iter_row_blocks(frames_file):
                out.write(block)
    with atomic_path(stats) as tmp:
        np.savez(
            tmp,
            mean=np.zeros(n_dims, np.float32),
            std=np.ones(n_dims, np.float32),
            speakers=np.array([]),
            speaker_mean=np.zeros((0, n_dims), np.float32),
            speaker_std=np.zeros((0, n_dims), np.float32),
            normalization=np.array("per-corpus"),
            spec=np.array(specs.pop()),
        )
    write_index(combined, index)
    logger.info(
        "combined %s: %d utterances, %d frames", sorted(sources), len(combined), combined.n_frames
    )
    return combined
