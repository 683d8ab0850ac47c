"""Rule vector_runs: every leave-one-session-out run of the softmax on utterance vectors,
in one job."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.classification import vector_runs

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
vector_runs(
    snakemake.params.sources,
    snakemake.input.manifest,
    snakemake.output.result,
    settings=snakemake.params.settings,
    method=snakemake.params.method,
    pretraining=snakemake.params.pretraining,
    external=snakemake.params.external,
    logger=logger,
)
provenance.stamp(snakemake.output)
