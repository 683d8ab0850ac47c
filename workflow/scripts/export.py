"""Rule export: write a self-contained model bundle."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.use import export

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
export(
    snakemake.output.bundle,
    model=snakemake.params.model,
    corpus=snakemake.params.corpus,
    encoder=snakemake.input.encoder,
    blstm=snakemake.input.blstm,
    stats=snakemake.input.stats,
    index=snakemake.input.index,
    pooled=snakemake.input.pooled,
    ids=snakemake.input.ids,
    manifest=snakemake.input.manifest,
    record=provenance.upstream,
    window_s=snakemake.params.window_s,
    utterance=snakemake.params.utterance,
    seed=snakemake.params.seed,
    code_layer=snakemake.params.code_layer,
    logger=logger,
)
provenance.stamp([snakemake.output.bundle])
