"""Rule train_deep: a deep denoising autoencoder trained jointly."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.device import configure_jax, describe_device  # noqa: E402

configure_jax(snakemake.threads)

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.autoencoders import train_deep_encoder  # noqa: E402
from affectrep.train.autoencoders import ModelId, TrainSettings  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
describe_device(logger)
train_deep_encoder(
    feature_dir=snakemake.input.frames.rsplit("/", 1)[0],
    output=snakemake.output.encoder,
    model=ModelId.parse(snakemake.params.model),
    widths=snakemake.params.widths,
    settings=TrainSettings(**snakemake.params.settings),
    logger=logger,
    manifest=snakemake.input.manifest,
    exclude_session=snakemake.params.exclude_session,
)
provenance.stamp(snakemake.output)
