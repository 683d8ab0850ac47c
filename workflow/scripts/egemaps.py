"""Rule egemaps: openSMILE eGeMAPS functionals of every utterance."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.classification import egemaps

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
egemaps(
    snakemake.input.manifest,
    snakemake.output.vectors,
    snakemake.output.ids,
    snakemake.output.names,
    snakemake.params.policy,
    logger,
)
provenance.stamp(snakemake.output)
