"""Rules encode and encode_from: the bottleneck code of every frame."""

from affectrep.device import configure_jax
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.autoencoders import encode

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
shape = encode(
    frames=snakemake.input.frames,
    index=snakemake.input.index,
    encoder_file=snakemake.input.encoder,
    output=snakemake.output.codes,
    model=snakemake.params.model,
)
logger.info("%s: codes of %d frames, %d dims", snakemake.params.model, *shape)
provenance.stamp(snakemake.output)
