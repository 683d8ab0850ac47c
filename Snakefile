"""Learning representations of affect from speech: the whole workflow.

snakemake --cores all all                       # every corpus in config `run`
snakemake --cores 2 results/demo/manifest.tsv   # any one output on its own
"""

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The library lives in src/: importable here even where it is not pip-installed, and in every
# rule's script too, because Snakemake starts a script with this process's sys.path
# (snakemake.common.get_snakemake_searchpaths), in a --use-conda environment as well (which
# a PYTHONPATH would not reach: Snakemake removes it there) and on a SLURM node (whose job
# process reads this file again). The scripts therefore touch no paths.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from affectrep.config import validate_config


# The defaults; `--configfile my.yaml` is merged on top of them.
configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


validate_config(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/autoencoders.smk"
include: "workflow/rules/validation.smk"
include: "workflow/rules/representations.smk"
include: "workflow/rules/classification.smk"
include: "workflow/rules/use.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        all_targets(),
