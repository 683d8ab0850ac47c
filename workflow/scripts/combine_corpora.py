"""Rule combine_corpora: several corpora's manifests as one."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.use import combine_corpora

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
combine_corpora(
    snakemake.params.names, snakemake.input.manifests, snakemake.output.manifest, logger
)
provenance.stamp(snakemake.output)
