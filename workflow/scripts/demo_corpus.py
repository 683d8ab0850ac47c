"""Rule demo_corpus: write the synthetic IEMOCAP-layout corpus."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.data.demo import DemoSpec, write_demo_corpus  # noqa: E402
from affectrep.logs import setup_logging  # noqa: E402
from affectrep.progress import Progress  # noqa: E402

logger = setup_logging(snakemake.log[0])
spec = DemoSpec.from_config(snakemake.params.demo)
progress = Progress(spec.sessions * 2 * spec.utterances_per_speaker, "demo corpus", logger,
                    unit="utterances")
summary = write_demo_corpus(snakemake.output.audio, spec,
                            progress=lambda done, total: progress.update(done),
                            workers=snakemake.threads)
logger.info("demo corpus: %d utterances, %.1f min, categories %s",
            summary.n_utterances, summary.total_seconds / 60, summary.counts)
