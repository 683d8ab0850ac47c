"""Rule features: one spectrogram type for every utterance of the manifest."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.data.audio import AudioPolicy  # noqa: E402
from affectrep.data.featureset import extract_feature_set  # noqa: E402
from affectrep.data.manifest import read_manifest  # noqa: E402
from affectrep.data.spectrogram import SpectrogramSpec  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
extract_feature_set(
    read_manifest(snakemake.input.manifest),
    SpectrogramSpec(**snakemake.params.spec),
    Path(snakemake.output.frames).parent,
    normalization=snakemake.params.normalization,
    policy=AudioPolicy(**snakemake.params.policy),
    logger=logger,
)
provenance.stamp(snakemake.output)
