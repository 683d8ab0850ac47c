"""Rules validate and validate_baseline: Table 1's softmax on codes (or raw frames)."""

import json
import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

import numpy as np  # noqa: E402

from affectrep.atomic import atomic_path  # noqa: E402
from affectrep.data.featureset import read_index  # noqa: E402
from affectrep.data.manifest import read_manifest  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.protocol.validation import held_out_speakers, softmax_validation  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
settings = snakemake.params.validation
index = read_index(snakemake.input.index)
manifest = read_manifest(snakemake.input.manifest)
held_out, why = held_out_speakers(
    manifest, settings["held_out_speakers"], settings["n_held_out"], speakers=index.speakers
)
result = softmax_validation(
    np.load(snakemake.input.codes, mmap_mode="r"),
    index,
    manifest,
    held_out,
    max_train_frames=settings["max_train_frames"],
    seed=settings["seed"],
    logger=logger,
)
result.update(model=snakemake.params.model, architecture=[*snakemake.params.widths, 4],
              held_out_reason=why)
with atomic_path(snakemake.output.result) as tmp, open(tmp, "w") as handle:
    json.dump(result, handle, indent=2)
provenance.stamp(snakemake.output)
