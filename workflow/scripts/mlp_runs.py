"""Rule mlp_runs: every leave-one-session-out run of a frame-level MLP, in one job."""

from affectrep.device import configure_jax, describe_device
from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.classification import mlp_runs

configure_jax(snakemake.threads)  # before the stage imports JAX
logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
mlp_runs(
    snakemake.input.frames,
    snakemake.input.index,
    snakemake.input.manifest,
    snakemake.output.result,
    context=snakemake.params.context,
    hidden=snakemake.params.hidden,
    settings=snakemake.params.settings,
    method=snakemake.params.method,
    encoders=snakemake.params.encoders,
    pretraining=snakemake.params.pretraining,
    logger=logger,
)
provenance.stamp(snakemake.output)
