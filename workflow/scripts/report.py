"""Rule report: results/{corpus}/report.md from the workflow's own outputs."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../../src")

from affectrep.logs import setup_logging  # noqa: E402
from affectrep.provenance import JobProvenance  # noqa: E402
from affectrep.stages.report import build_report  # noqa: E402

logger = setup_logging(snakemake.log[0])
provenance = JobProvenance.of_snakemake(snakemake)
output = Path(snakemake.output.report)
build_report(
    snakemake.params.corpus,
    manifest=Path(snakemake.input.manifest),
    summary=Path(snakemake.input.summary),
    rejected=Path(snakemake.input.rejected),
    tables={
        "Table 1: validation grid": Path(snakemake.input.table1),
        "Table 2: leave-one-session-out classification": Path(snakemake.input.table2),
        "Separation of affect in the representations": Path(snakemake.input.separation),
        "Activation and valence": Path(snakemake.input.dimensional),
        **({"Cross-corpus": Path(snakemake.input.cross_corpus[0])}
           if snakemake.input.cross_corpus else {}),
        **{f"Model bundle {Path(card).parent.name}": Path(card)
           for card in snakemake.input.cards},
    },
    figures=[Path(p) for p in snakemake.input.figures],
    benchmarks=output.parent / "benchmarks",
    record=provenance.upstream,
    output=output,
    rules=snakemake.params.rules,
)
logger.info("wrote %s", output)
