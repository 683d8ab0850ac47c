"""Rule combine_features: several corpora's feature sets as one."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.data.featureset import combine_feature_sets  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
combine_feature_sets(snakemake.params.sources, Path(snakemake.output.frames).parent, logger)
provenance.stamp(snakemake.output)
