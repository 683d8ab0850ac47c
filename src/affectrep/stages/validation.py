"""The rules of `validation.smk`, from files to files: the validation grid (paper section 4,
Table 1). The softmax and the choice of held-out speakers are `affectrep.protocol.validation`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from affectrep.atomic import atomic_path
from affectrep.data.featureset import read_index
from affectrep.data.manifest import read_manifest
from affectrep.protocol.tables import write_table1
from affectrep.protocol.validation import held_out_speakers, softmax_validation


def validate(
    codes: str | Path,
    index: str | Path,
    manifest: str | Path,
    output: str | Path,
    *,
    model: str,
    widths: Sequence[int],
    settings: Mapping,
    code_layer: int = 0,
    logger: logging.Logger | None = None,
) -> dict:
    """Rules `validate` and `validate_baseline`: Table 1's softmax on the codes (or the raw
    frames, `softmax-<spec>-c1`) of the training speakers, scored on the held-out speakers.
    `settings`: the config's `validation` section; `widths`: the model's up to the layer
    whose output is the code, for the architecture column (the 4-way softmax is added);
    `code_layer`: that layer (0: the bottleneck), recorded for the table's description."""
    feature_index = read_index(index)
    rows = read_manifest(manifest)
    held_out, why = held_out_speakers(
        rows,
        settings["held_out_speakers"],
        settings["n_held_out"],
        speakers=feature_index.speakers,
    )
    result = softmax_validation(
        np.load(codes, mmap_mode="r"),
        feature_index,
        rows,
        held_out,
        max_train_frames=settings["max_train_frames"],
        seed=settings["seed"],
        logger=logger,
    )
    result.update(
        model=model, architecture=[*widths, 4], held_out_reason=why, code_layer=code_layer
    )
    with atomic_path(output) as tmp, open(tmp, "w") as handle:
        json.dump(result, handle, indent=2)
    return result


def table1(
    results: Sequence[str | Path],
    corpus: str,
    tsv: str | Path,
    markdown: str | Path,
    logger: logging.Logger | None = None,
) -> dict[str, dict]:
    """Rule `table1`: the validation results (in the table's row order) as Table 1, with a
    sentence on the corpus, the split and the seed they were made with."""
    logger = logger or logging.getLogger(__name__)
    loaded = {}
    for path in results:
        result = json.loads(Path(path).read_text())
        loaded[result["model"]] = result
    first = next(iter(loaded.values()))
    description = (
        f"Corpus `{corpus}`; trained on {first['n_train_utterances']} labelled "
        f"utterances of the other speakers, scored on {first['n_test_utterances']} utterances "
        f"of the held-out speakers {', '.join(first['held_out_speakers'])} "
        f"({first.get('held_out_reason', 'reason not recorded')}); softmax seed "
        f"{first['seed']}."
    )
    layers = {result.get("code_layer", 0) for result in loaded.values()} - {0}
    if layers:
        description += (
            f" The codes are the output of encoder layer {', '.join(map(str, sorted(layers)))} "
            "(`representations.code_layer`), not the bottleneck; the architecture column ends "
            "at that layer."
        )
    write_table1(loaded, tsv, markdown, description)
    logger.info("table 1:\n%s", Path(markdown).read_text())
    return loaded
