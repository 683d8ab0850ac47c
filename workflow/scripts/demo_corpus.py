"""Rule demo_corpus: write the synthetic IEMOCAP-layout corpus."""

from affectrep.logs import setup_logging
from affectrep.stages.corpus import demo_corpus

logger = setup_logging(snakemake.log[0])
demo_corpus(snakemake.output.audio, snakemake.params.demo, workers=snakemake.threads, logger=logger)
