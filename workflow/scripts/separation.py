"""Rule separation: silhouette, across-speaker kNN and Spearman of each representation."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.representations import separation

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
settings = snakemake.params.settings
separation(
    [
        (
            level,
            model,
            snakemake.input[f"{level}_{model}_vectors".replace("-", "_")],
            snakemake.input[f"{level}_{model}_ids".replace("-", "_")],
        )
        for level, model in snakemake.params.sources
    ],
    snakemake.input.manifest,
    k=settings["k"],
    max_points=settings["max_points"],
    seed=settings["seed"],
    tsv_out=snakemake.output.tsv,
    md_out=snakemake.output.md,
    logger=logger,
)
provenance.stamp(snakemake.output)
