"""Rule pretrain_layer: one greedy layer of a stacked denoising autoencoder."""

from affectrep.device import configure_jax, describe_device
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.autoencoders import pretrain_layer

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
pretrain_layer(
    frames=snakemake.input.frames,
    index=snakemake.input.index,
    lower_files=list(snakemake.input.lower),
    output=snakemake.output.layer,
    model=snakemake.params.model,
    widths=snakemake.params.widths,
    settings=snakemake.params.settings,
    logger=logger,
    manifest=snakemake.input.manifest,
    exclude_session=snakemake.params.exclude_session,
)
provenance.stamp(snakemake.output)
