"""Rule blstm_ae: the BLSTM autoencoder over codes, and one vector per utterance."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.device import configure_jax, describe_device  # noqa: E402

configure_jax(snakemake.threads)

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.representations import blstm_stage  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
blstm_stage(
    snakemake.input.codes,
    snakemake.input.index,
    snakemake.input.manifest,
    settings=snakemake.params.settings,
    vectors_out=snakemake.output.vectors,
    ids_out=snakemake.output.ids,
    params_out=snakemake.output.params,
    model=snakemake.params.model,
    exclude_session=snakemake.params.exclude_session,
    logger=logger,
)
provenance.stamp(snakemake.output)
