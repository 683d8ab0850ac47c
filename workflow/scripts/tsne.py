"""Rule tsne: t-SNE of one configuration's frame codes or utterance vectors."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.representations import tsne

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
tsne(
    snakemake.params.level,
    snakemake.input.vectors,
    snakemake.input.ids,
    snakemake.input.manifest,
    max_points=snakemake.params.max_points,
    perplexity=snakemake.params.tsne["perplexity"],
    seed=snakemake.params.tsne["seed"],
    title=snakemake.params.title,
    embedding_out=snakemake.output.embedding,
    figure_out=snakemake.output.png,
    logger=logger,
)
provenance.stamp(snakemake.output)
