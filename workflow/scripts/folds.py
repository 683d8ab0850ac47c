"""Rule folds: every run of the leave-one-session-out protocol as a table."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.classification import folds

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
folds(snakemake.input.manifest, snakemake.output.tsv, logger)
provenance.stamp(snakemake.output)
