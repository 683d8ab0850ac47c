"""Rule combine_features: several corpora's feature sets as one."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.use import combine_features

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
combine_features(
    list(snakemake.params.sources),  # the corpora, in the order of the input's files
    snakemake.input.features,
    frames_out=snakemake.output.frames,
    index_out=snakemake.output.index,
    stats_out=snakemake.output.stats,
    logger=logger,
)
provenance.stamp(snakemake.output)
