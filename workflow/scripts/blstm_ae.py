"""Rule blstm_ae: the BLSTM autoencoder over codes, and one vector per utterance."""

from affectrep.device import configure_jax, describe_device
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.representations import blstm_ae

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
blstm_ae(
    snakemake.input.codes,
    snakemake.input.index,
    snakemake.input.manifest,
    settings=snakemake.params.settings,
    vectors_out=snakemake.output.vectors,
    ids_out=snakemake.output.ids,
    params_out=snakemake.output.params,
    model=snakemake.params.model,
    exclude_session=snakemake.params.exclude_session,
    statistics=snakemake.params.statistics,
    logger=logger,
)
provenance.stamp(snakemake.output)
