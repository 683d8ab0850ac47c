"""Rule egemaps: openSMILE eGeMAPS functionals of every utterance."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.data.audio import AudioPolicy  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.classification import egemaps_stage  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
egemaps_stage(
    snakemake.input.manifest,
    snakemake.output.vectors,
    snakemake.output.ids,
    snakemake.output.names,
    AudioPolicy(**snakemake.params.policy),
    logger,
)
provenance.stamp(snakemake.output)
