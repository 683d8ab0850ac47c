"""Rule figure: Figure 1 or 2, the paper's grid of t-SNE panels."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.stages.representations import composite_stage  # noqa: E402

logger = setup_logging(snakemake.log[0])
composite_stage(
    dict(zip(snakemake.params.models, snakemake.input.embeddings, strict=True)),
    snakemake.params.title,
    snakemake.output.png,
)
