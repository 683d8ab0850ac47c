"""Rule functionals: openSMILE functionals (eGeMAPS or ComParE 2016) of every utterance."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.classification import functionals

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
functionals(
    snakemake.input.manifest,
    snakemake.output.vectors,
    snakemake.output.ids,
    snakemake.output.names,
    snakemake.params.policy,
    snakemake.params.feature_set,
    logger,
    workers=snakemake.threads,
)
provenance.stamp(snakemake.output)
