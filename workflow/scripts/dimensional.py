"""Rule dimensional: activation and valence regression, leave one session out."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.use import dimensional

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
dimensional(
    snakemake.params.sources,
    snakemake.input.manifest,
    titles=snakemake.params.titles,
    corpus=snakemake.params.corpus,
    tsv=snakemake.output.tsv,
    markdown=snakemake.output.md,
    runs_out=snakemake.output.runs,
    figure=snakemake.output.figure,
    alphas=snakemake.params.alphas,
    external=snakemake.params.external,
    logger=logger,
)
provenance.stamp(snakemake.output)
