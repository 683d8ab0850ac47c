"""Rule corpus: manifest.tsv, rejected.tsv and a readable summary of the corpus."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.corpus import corpus

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
corpus(
    snakemake.params.settings,
    snakemake.params.root,
    snakemake.params.policy,  # an AudioPolicy or a plain mapping of its fields
    strict=snakemake.params.strict,
    name=snakemake.wildcards.corpus,
    manifest_out=snakemake.output.manifest,
    rejected_out=snakemake.output.rejected,
    summary_out=snakemake.output.summary,
    logger=logger,
)
provenance.stamp(snakemake.output)
