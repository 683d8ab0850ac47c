"""Rule tsne: t-SNE of one configuration's frame codes or utterance vectors."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.representations import load_points, tsne_stage  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
points = load_points(snakemake.params.level, snakemake.input.vectors, snakemake.input.ids,
                     snakemake.input.manifest)
tsne_stage(
    points,
    max_points=snakemake.params.max_points,
    perplexity=snakemake.params.tsne["perplexity"],
    seed=snakemake.params.tsne["seed"],
    title=snakemake.params.title,
    embedding_out=snakemake.output.embedding,
    figure_out=snakemake.output.png,
    logger=logger,
)
provenance.stamp(snakemake.output)
