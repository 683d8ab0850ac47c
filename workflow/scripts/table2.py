"""Rule table2: every method's runs aggregated into Table 2, and confusion figures."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.classification import table2_stage  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
methods = snakemake.params.methods
table2_stage(
    {method: list(snakemake.input[method.replace("-", "_")]) for method in methods},
    snakemake.params.titles,
    snakemake.params.corpus,
    snakemake.output.tsv,
    snakemake.output.md,
    dict(zip(methods, snakemake.output.confusions, strict=True)),
    logger,
)
provenance.stamp(snakemake.output)
