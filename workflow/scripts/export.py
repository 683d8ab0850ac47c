"""Rule export: write a self-contained model bundle."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.use.bundle import write_bundle  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
info = write_bundle(
    Path(snakemake.output.bundle).parent,
    model=snakemake.params.model,
    corpus=snakemake.params.corpus,
    encoder_file=snakemake.input.encoder,
    blstm_file=snakemake.input.blstm,
    stats_file=snakemake.input.stats,
    pooled_file=snakemake.input.pooled,
    ids_file=snakemake.input.ids,
    index_file=snakemake.input.index,
    manifest=snakemake.input.manifest,
    record=provenance.upstream,
    window_s=snakemake.params.window_s,
    utterance=snakemake.params.utterance,
    seed=snakemake.params.seed,
    logger=logger,
)
logger.info("bundle %s: heads %s", Path(snakemake.output.bundle).parent,
            ["emotion", *info["dimensions"]])
provenance.stamp([snakemake.output.bundle])
