"""Rule masked_pretrain: the masked spectrogram model, trained without labels."""

from affectrep.device import configure_jax, describe_device
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.representations import masked_pretrain

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
masked_pretrain(
    snakemake.input.frames,
    snakemake.input.index,
    snakemake.input.manifest,
    settings=snakemake.params.settings,
    model_out=snakemake.output.model,
    exclude_session=snakemake.params.exclude_session,
    logger=logger,
)
provenance.stamp(snakemake.output)
