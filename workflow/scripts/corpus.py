"""Rule corpus: manifest.tsv, rejected.tsv and a readable summary of the corpus."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.corpora.build import build_manifest, summarise  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.manifest import write_manifest, write_rejections  # noqa: E402
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
write_rejections(rejected, snakemake.output.rejected)
write_manifest(rows, snakemake.output.manifest)
summary = summarise(rows, rejected)
Path(snakemake.output.summary).write_text(summary + "\n")
logger.info("manifest:\n%s", summary)
provenance.stamp(snakemake.output)
