"""Rule table1: gather the validation results into Table 1."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.validation import table1

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
table1(
    snakemake.input.results,
    snakemake.params.corpus,
    snakemake.output.tsv,
    snakemake.output.md,
    logger,
)
provenance.stamp(snakemake.output)
