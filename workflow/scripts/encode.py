"""Rule encode: the bottleneck code of every frame."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.device import configure_jax  # noqa: E402

configure_jax(snakemake.threads)

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.autoencoders import encode  # noqa: E402
from affectrep.train.autoencoders import ModelId  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
shape = encode(
    feature_dir=snakemake.input.frames.rsplit("/", 1)[0],
    encoder_file=snakemake.input.encoder,
    output=snakemake.output.codes,
    model=ModelId.parse(snakemake.params.model),
)
logger.info("%s: codes of %d frames, %d dims", snakemake.params.model, *shape)
provenance.stamp(snakemake.output)
