"""Rules validate and validate_baseline: Table 1's softmax on codes (or raw frames)."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.validation import validate

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
validate(
    snakemake.input.codes,
    snakemake.input.index,
    snakemake.input.manifest,
    snakemake.output.result,
    model=snakemake.params.model,
    widths=snakemake.params.widths,
    settings=snakemake.params.validation,
    code_layer=snakemake.params.code_layer,
    logger=logger,
)
provenance.stamp(snakemake.output)
