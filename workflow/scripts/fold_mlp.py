"""Rule fold_mlp: one leave-one-session-out run of a frame-level MLP."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.device import configure_jax, describe_device  # noqa: E402

configure_jax(snakemake.threads)

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.classification import mlp_fold  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
mlp_fold(
    snakemake.input.frames.rsplit("/", 1)[0],
    snakemake.input.manifest,
    snakemake.wildcards.fold,
    snakemake.output.result,
    context=snakemake.params.context,
    hidden=snakemake.params.hidden,
    settings=snakemake.params.settings,
    method=snakemake.params.method,
    encoder_file=snakemake.input.get("encoder"),
    pretraining=snakemake.params.pretraining,
    logger=logger,
)
provenance.stamp(snakemake.output)
