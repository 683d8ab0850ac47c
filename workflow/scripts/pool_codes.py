"""Rule pool_codes: mean and std of each utterance's frame codes."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.classification import pooled_stage  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
pooled = pooled_stage(snakemake.input.codes, snakemake.input.index, snakemake.input.manifest,
                      snakemake.output.vectors, snakemake.output.ids)
logger.info("pooled codes: %d utterances, %d dims", *pooled.shape)
provenance.stamp(snakemake.output)
