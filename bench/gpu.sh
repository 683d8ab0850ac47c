#!/usr/bin/env bash
# The one GPU check of the project, run on a lent GPU machine from the repository root:
#
#     bash bench/gpu.sh          (device tool: carry [".whl"], timeout_s 600)
#
# Why: the project is developed on small CPU machines; this measures, in one short run, what
# a GPU changes: the autoencoder layers (bench/pretrain.py, TIED-128-5's 640-320 among them,
# against PyTorch), the BLSTM autoencoder step at 8-64 units per direction (bench/blstm.py,
# against PyTorch on CUDA), and the whole demo workflow (snakemake all) with its wall time
# per stage. The machine has no network: the packages its image lacks (snakemake, soundfile,
# openTSNE, opensmile, ...) come as wheels in .whl/ and are installed into /tmp/site.
#
# Every part is bounded by `timeout`, and all of them by one deadline (TOTAL_S seconds from
# the start, default 530), so the script ends in about 9 minutes even if a part hangs; what
# is left of the deadline goes to the workflow. Output: $OUT/gpu.log (everything),
# workflow.log, gpu_util.csv, report.md, table1.md, table2.md, stages.md.
#
# QUICK=1 shrinks everything (tiny benches, a tiny demo corpus) to test the script on a CPU:
#     OUT=/tmp/gpuout QUICK=1 PATH=/tmp/devsim/bin:$PATH bash bench/gpu.sh
# Other knobs: PYTHON (python3), SITE (/tmp/site), CORES (16), TOTAL_S, WORKFLOW_TARGETS (all).
set -uo pipefail

OUT=${OUT:-/tmp/gpuout}
PY=${PYTHON:-python3}
SITE=${SITE:-/tmp/site}
CORES=${CORES:-16}
QUICK=${QUICK:-0}
TOTAL_S=${TOTAL_S:-530}
TARGETS=${WORKFLOW_TARGETS:-all}
REPO=$PWD
WORK=$(mktemp -d /tmp/gpuwf.XXXXXX)   # fresh results every run, also on a warm machine
START=$SECONDS
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# Many workflow jobs share the GPU: none may grab most of its memory up front (the workflow
# scripts set this too, via affectrep.device; scripts that do not import it inherit it here).
export XLA_PYTHON_CLIENT_PREALLOCATE=false

if [ "$QUICK" = 1 ]; then
    PRETRAIN=(--frames 20000)
    PRETRAIN_BIG=(--frames 40000 --batch 4096)
    BLSTM=(--sizes 8 16 --batches 2 --epochs 1)
else
    PRETRAIN=(--frames 1000000)
    PRETRAIN_BIG=(--frames 1000000 --batch 4096)
    BLSTM=(--sizes 8 16 32 64 --batches 20 --epochs 3)
fi

left() { echo $((TOTAL_S - (SECONDS - START))); }

# part NAME CAP_SECONDS COMMAND...: run COMMAND under timeout (the smaller of CAP and what
# is left of the deadline, less `reserve` seconds kept for the summary), timed; its output
# goes to the file `log` names, if one is set.
part() {
    local name=$1 cap=$2 budget
    shift 2
    budget=$(($(left) - ${reserve:-0}))
    [ "$budget" -gt "$cap" ] && budget=$cap
    echo
    echo "=== $name (limit ${budget} s, $(($(left))) s left of ${TOTAL_S}) ==="
    if [ "$budget" -lt 10 ]; then
        echo "--- $name: skipped, no time left"
        return 1
    fi
    local started=$SECONDS rc
    if [ -n "${log:-}" ]; then
        timeout -k 10 "$budget" "$@" >"$log" 2>&1
    else
        timeout -k 10 "$budget" "$@"
    fi
    rc=$?
    echo "--- $name: exit $rc$([ $rc = 124 ] && echo ' (timed out)'), $((SECONDS - started)) s"
    return $rc
}

quick_config() {
    cat <<'EOF'
run: [demo]
corpora:
  demo:
    reader: iemocap
    demo: {seed: 3, sessions: 3, utterances_per_speaker: 8}
autoencoders:
  models: [tied-fft128-c5, deep-logmel40-c5]
  hidden: {fft128-c5: [32, 16], logmel40-c5: [40, 20]}
  epochs: 1
  batch_size: 100
  learning_rate: 1.0e-3
  momentum: 0.9
validation: {n_held_out: 2, max_train_frames: 20000}
representations:
  models: [tied-fft128-c5, deep-logmel40-c5]
  blstm: {epochs: 2, batch_size: 4, optimizer: adam, learning_rate: 1.0e-3}
  tsne: {frames: 300, utterances: 40}
  separation: {max_points: 2000}
classification:
  mlp: {max_epochs: 2, patience: 1, batch_size: 100, max_train_frames: 3000}
  utterance: {c_grid: [0.1, 1.0]}
use: {cross_corpus: [demo], window_s: 2.0}
EOF
}

# Per-stage wall time from the rules' benchmark files (also when the run did not finish).
stage_summary() {
    "$PY" - "$WORK/results/demo/benchmarks" "$REPO/workflow/rules" <<'EOF'
import re
import sys
from pathlib import Path

from affectrep.stages.report import wall_times
from affectrep.protocol.tables import markdown_table

benchmarks, rules_dir = Path(sys.argv[1]), Path(sys.argv[2])
rules = [rule for path in rules_dir.glob("*.smk")
         for rule in re.findall(r"^rule (\w+):", path.read_text(), re.M)]
rows = wall_times(benchmarks, rules) if benchmarks.is_dir() else []
total = sum(float(row["total_s"]) for row in rows)
jobs = sum(int(row["jobs"]) for row in rows)
print(f"# Wall time per stage (benchmark files of {jobs} jobs, {total:.0f} s summed)\n")
print(markdown_table(rows) if rows else "(no benchmark files)")
EOF
}

VERSIONS='
import importlib
for name in ("jax", "torch", "snakemake", "soundfile", "openTSNE", "opensmile", "affectrep.train.blstm"):
    try:
        module = importlib.import_module(name)
        print(name, getattr(module, "__version__", "imported"))
    except Exception as error:  # report every failure, not the first only
        print(name, "FAILED:", repr(error))
import jax
print("jax devices:", jax.devices())
try:
    import torch
    print("torch cuda:", torch.cuda.is_available())
except ImportError:
    pass
'

main() {
    echo "bench/gpu.sh on $(hostname 2>/dev/null || cat /etc/hostname)" \
        "at $(date -u +%FT%TZ), QUICK=$QUICK, CORES=$CORES, workdir $WORK," \
        "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)"

    part "install wheels" 90 "$PY" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$SITE" "$REPO"/.whl/*.whl || exit 1
    export PYTHONPATH=$SITE:$REPO/src

    command -v nvidia-smi >/dev/null && nvidia-smi -L
    part "devices and versions" 60 "$PY" -c "$VERSIONS"

    part "bench/pretrain.py ${PRETRAIN[*]} --torch" 150 \
        "$PY" "$REPO/bench/pretrain.py" "${PRETRAIN[@]}" --torch
    part "bench/pretrain.py ${PRETRAIN_BIG[*]}" 75 \
        "$PY" "$REPO/bench/pretrain.py" "${PRETRAIN_BIG[@]}"
    part "bench/blstm.py ${BLSTM[*]} --torch" 150 \
        "$PY" "$REPO/bench/blstm.py" "${BLSTM[@]}" --torch

    local monitor=""
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 \
            >"$OUT/gpu_util.csv" 2>&1 &
        monitor=$!
    fi
    local args=(--snakefile "$REPO/Snakefile" --directory "$WORK" --cores "$CORES"
                --keep-going --rerun-incomplete)
    if [ "$QUICK" = 1 ]; then
        quick_config >"$WORK/quick.yaml"
        args+=(--configfile "$WORK/quick.yaml")
    fi
    # Targets come first: after --configfile they would be read as more config files.
    # shellcheck disable=SC2086
    log=$OUT/workflow.log reserve=30 part \
        "snakemake $TARGETS (demo workflow, --cores $CORES; output in workflow.log)" \
        100000 "$PY" -m snakemake $TARGETS "${args[@]}"
    grep -E "steps \(|Error in rule|Exiting because|Nothing to be done|Complete log" \
        "$OUT/workflow.log" | tail -n 8
    [ -n "$monitor" ] && kill "$monitor" 2>/dev/null

    local results=$WORK/results/demo
    echo
    echo "=== devices named in the workflow's logs ==="
    grep -rhoE "JAX device: [^ ]+" "$results/logs" 2>/dev/null | sort | uniq -c
    for log in $(grep -rlE "Traceback|Error" "$results/logs" 2>/dev/null | head -n 3); do
        echo "--- failed job log $log (last 25 lines)"
        tail -n 25 "$log"
    done
    stage_summary >"$OUT/stages.md" 2>&1
    cat "$OUT/stages.md"
    cp "$results/report.md" "$OUT/report.md" 2>/dev/null || echo "(no report.md)"
    for table in table1 table2; do
        cp "$results/tables/$table.md" "$OUT/$table.md" 2>/dev/null || echo "(no $table.md)"
    done
    echo
    echo "bench/gpu.sh done in $((SECONDS - START)) s"
}

main 2>&1 | tee "$OUT/gpu.log"
