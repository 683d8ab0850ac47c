"""Rule finetune_deep: the encoder of a greedy stack, fine-tuned end to end if configured."""

from affectrep.device import configure_jax, describe_device
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.autoencoders import finetune_deep

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
finetune_deep(
    frames=snakemake.input.frames,
    index=snakemake.input.index,
    layer_files=list(snakemake.input.layers),
    output=snakemake.output.encoder,
    model=snakemake.params.model,
    widths=snakemake.params.widths,
    settings=snakemake.params.settings,
    logger=logger,
    manifest=snakemake.input.manifest,
    exclude_session=snakemake.params.exclude_session,
)
provenance.stamp(snakemake.output)
