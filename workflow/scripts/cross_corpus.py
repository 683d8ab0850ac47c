"""Rule cross_corpus: the train corpus x test corpus matrix."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.protocol.crosscorpus import cross_corpus_stage  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
cross_corpus_stage(
    snakemake.params.corpora,
    {(a, b): (vectors, ids) for a, b, vectors, ids in snakemake.params.pooled},
    snakemake.params.manifests,
    model_title=snakemake.params.title,
    settings=snakemake.params.settings,
    tsv=snakemake.output.tsv,
    markdown=snakemake.output.md,
    cells_out=snakemake.output.cells,
    figure=snakemake.output.figure,
    combined=snakemake.params.combined,
    logger=logger,
)
provenance.stamp(snakemake.output)
