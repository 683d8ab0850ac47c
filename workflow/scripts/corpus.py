"""Rule corpus: manifest.tsv, rejected.tsv and a readable summary of the corpus."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.data.corpora.build import build_manifest, check_classes, summarise  # noqa: E402
from affectrep.data.manifest import write_manifest, write_rejections  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
rows, rejected = build_manifest(
    snakemake.params.settings,
    Path(snakemake.params.root),
    snakemake.params.policy,  # an AudioPolicy or a plain mapping of its fields
    strict=snakemake.params.strict,
    logger=logger,
)
summary = summarise(rows, rejected)
logger.info("manifest:\n%s", summary)
# Stop here, not in a classifier much later, if the labels cannot be classified.
check_classes(rows, snakemake.wildcards.corpus)
write_rejections(rejected, snakemake.output.rejected)
write_manifest(rows, snakemake.output.manifest)
Path(snakemake.output.summary).write_text(summary + "\n")
provenance.stamp(snakemake.output)
