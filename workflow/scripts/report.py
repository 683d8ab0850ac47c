"""Rule report: results/{corpus}/report.md from the workflow's own outputs."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.report import report

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
report(
    snakemake.params.corpus,
    manifest=snakemake.input.manifest,
    summary=snakemake.input.summary,
    rejected=snakemake.input.rejected,
    table1=snakemake.input.table1,
    table2=snakemake.input.table2,
    separation=snakemake.input.separation,
    dimensional=snakemake.input.dimensional,
    cross_corpus=snakemake.input.cross_corpus,
    cards=snakemake.input.cards,
    figures=snakemake.input.figures,
    record=provenance.upstream,
    output=snakemake.output.report,
    rules=snakemake.params.rules,
    paired=snakemake.input.paired,
    cross_corpora=snakemake.params.cross_corpora,
)
logger.info("wrote %s", snakemake.output.report)
