"""Rule dimensional: activation and valence regression, leave one session out."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.protocol.dimensional import RegressionSettings, dimensional_stage  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
dimensional_stage(
    {name: {fold: tuple(pair) for fold, pair in per_fold.items()}
     for name, per_fold in snakemake.params.sources.items()},
    snakemake.input.manifest,
    titles=snakemake.params.titles,
    corpus=snakemake.params.corpus,
    tsv=snakemake.output.tsv,
    markdown=snakemake.output.md,
    runs_out=snakemake.output.runs,
    figure=snakemake.output.figure,
    settings=RegressionSettings(alphas=tuple(snakemake.params.alphas)),
    logger=logger,
)
provenance.stamp(snakemake.output)
