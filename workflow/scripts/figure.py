"""Rule figure: Figure 1 or 2, the paper's grid of t-SNE panels."""

from affectrep.logs import setup_logging
from affectrep.stages.representations import figure

setup_logging(snakemake.log[0])
figure(
    dict(zip(snakemake.params.models, snakemake.input.embeddings, strict=True)),
    snakemake.params.title,
    snakemake.output.png,
)
