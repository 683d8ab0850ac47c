"""Rule table2: every method's runs aggregated into Table 2, its paired comparison with the
best hand-crafted column, and confusion figures."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.classification import table2

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
methods = snakemake.params.methods
table2(
    {method: list(snakemake.input[method.replace("-", "_")]) for method in methods},
    snakemake.params.titles,
    snakemake.params.corpus,
    snakemake.output.tsv,
    snakemake.output.md,
    dict(zip(methods, snakemake.output.confusions, strict=True)),
    logger,
    paired_tsv=snakemake.output.paired_tsv,
    paired_json=snakemake.output.paired,
    external=snakemake.params.external,
    paired_settings=snakemake.params.paired,
)
provenance.stamp(snakemake.output)
