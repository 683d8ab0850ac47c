"""Rule training_curves: the loss per epoch of the Table 2 encoder's layers, its BLSTM and
the masked spectrogram model (when Table 2 has its column)."""

from affectrep.logs import setup_logging
from affectrep.provenance import JobProvenance
from affectrep.stages.representations import training_curves

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
training_curves(
    snakemake.input.layers,
    snakemake.input.encoder,
    snakemake.input.blstm,
    model=snakemake.params.model,
    corpus=snakemake.params.corpus,
    figure_out=snakemake.output.png,
    masked_files=list(snakemake.input.masked),
    logger=logger,
)
provenance.stamp(snakemake.output)
