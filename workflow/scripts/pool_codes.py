"""Rule pool_codes: statistics of each utterance's frame codes."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.use import pool_codes

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
pooled = pool_codes(
    snakemake.input.codes,
    snakemake.input.index,
    snakemake.input.manifest,
    snakemake.output.vectors,
    snakemake.output.ids,
    pooling=snakemake.params.pooling,
)
logger.info("pooled codes: %d utterances, %d dims", *pooled.shape)
provenance.stamp(snakemake.output)
