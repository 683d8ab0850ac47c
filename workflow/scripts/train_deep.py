"""Rule train_deep: a deep denoising autoencoder trained jointly."""

from affectrep.device import configure_jax, describe_device
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.autoencoders import train_deep

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
train_deep(
    frames=snakemake.input.frames,
    index=snakemake.input.index,
    output=snakemake.output.encoder,
    model=snakemake.params.model,
    widths=snakemake.params.widths,
    settings=snakemake.params.settings,
    logger=logger,
    manifest=snakemake.input.manifest,
    exclude_session=snakemake.params.exclude_session,
)
provenance.stamp(snakemake.output)
