"""Rule masked_embed: one vector per utterance from the masked spectrogram model."""

from affectrep.device import configure_jax, describe_device
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.representations import masked_embed

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
masked_embed(
    snakemake.input.frames,
    snakemake.input.index,
    snakemake.input.manifest,
    snakemake.input.model,
    pooling=snakemake.params.pooling,
    vectors_out=snakemake.output.vectors,
    ids_out=snakemake.output.ids,
    logger=logger,
)
provenance.stamp(snakemake.output)
