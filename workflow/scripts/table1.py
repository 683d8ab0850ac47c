"""Rule table1: gather the validation results into Table 1."""

import json
import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.protocol.tables import write_table1  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
results = {}
for path in snakemake.input.results:
    result = json.loads(Path(path).read_text())
    results[result["model"]] = result
first = next(iter(results.values()))
description = (
    f"Corpus `{snakemake.params.corpus}`; trained on {first['n_train_utterances']} labelled "
    f"utterances of the other speakers, scored on {first['n_test_utterances']} utterances of "
    f"the held-out speakers {', '.join(first['held_out_speakers'])} "
    f"({first.get('held_out_reason', 'reason not recorded')}); softmax seed {first['seed']}."
)
write_table1(results, snakemake.output.tsv, snakemake.output.md, description)
logger.info("table 1:\n%s", Path(snakemake.output.md).read_text())
provenance.stamp(snakemake.output)
