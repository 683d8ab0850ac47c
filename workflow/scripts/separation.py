"""Rule separation: silhouette, across-speaker kNN and Spearman of each representation."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.representations import separation_stage  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
settings = snakemake.params.settings
separation_stage(
    [
        (level, model, snakemake.input[f"{level}_{model}_vectors".replace("-", "_")],
         snakemake.input[f"{level}_{model}_ids".replace("-", "_")])
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
