"""Rule fold_vectors: one leave-one-session-out run of the softmax on utterance vectors."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.classification import utterance_fold  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
utterance_fold(
    snakemake.input.vectors,
    snakemake.input.ids,
    snakemake.input.manifest,
    snakemake.wildcards.fold,
    snakemake.output.result,
    settings=snakemake.params.settings,
    method=snakemake.params.method,
    pretraining=snakemake.params.pretraining,
    logger=logger,
)
provenance.stamp(snakemake.output)
