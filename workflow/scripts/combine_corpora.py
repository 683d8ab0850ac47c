"""Rule combine_corpora: several corpora's manifests as one."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.data.manifest import combine_manifests  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
rows = combine_manifests(dict(zip(snakemake.params.names, snakemake.input.manifests,
                                  strict=True)), snakemake.output.manifest)
logger.info("combined %s: %d utterances", snakemake.params.names, len(rows))
provenance.stamp(snakemake.output)
