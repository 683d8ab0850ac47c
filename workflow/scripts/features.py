"""Rule features: one spectrogram type for every utterance of the manifest."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.features import features

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
features(
    snakemake.input.manifest,
    spec=snakemake.params.spec,
    normalization=snakemake.params.normalization,
    policy=snakemake.params.policy,
    frames_out=snakemake.output.frames,
    index_out=snakemake.output.index,
    stats_out=snakemake.output.stats,
    logger=logger,
)
provenance.stamp(snakemake.output)
