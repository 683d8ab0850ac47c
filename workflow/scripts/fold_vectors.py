"""Rule fold_vectors: one leave-one-session-out run of the softmax on utterance vectors."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.classification import fold_vectors

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
fold_vectors(
    snakemake.input.vectors,
    snakemake.input.ids,
    snakemake.input.manifest,
    snakemake.wildcards.fold,
    snakemake.output.result,
    settings=snakemake.params.settings,
    method=snakemake.params.method,
    pretraining=snakemake.params.pretraining,
    external=snakemake.params.external,
    logger=logger,
)
provenance.stamp(snakemake.output)
