"""Rules encode and encode_from: the code of every frame (bottleneck or code_layer)."""

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
    code_layer=snakemake.params.code_layer,
)
logger.info("%s: codes of %d frames, %d dims", snakemake.params.model, *shape)
provenance.stamp(snakemake.output)
