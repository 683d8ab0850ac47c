"""Rule cross_corpus: the train corpus x test corpus matrix."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.use import cross_corpus

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
cross_corpus(
    snakemake.params.corpora,
    snakemake.params.pooled,
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
