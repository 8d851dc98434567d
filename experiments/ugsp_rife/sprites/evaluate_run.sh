#!/usr/bin/env bash
# Evaluate a fine-tune's checkpoints on the held-out allowed sets as the run writes them.
#   bash experiments/ugsp_rife/sprites/evaluate_run.sh RUN_DIR NAME TABLE STEP [STEP ...]   (from the repository root)
# For each STEP it waits for RUN_DIR/checkpoints/stepNNNNNNN.ckpt, exports it to RUN_DIR/NAME_STEP.pt
# (heads + float32 backbone deltas) and runs evaluate_heads.sh, which measures the five held-out sets and
# appends their rows (name NAME_STEP) to TABLE, the round's CSV (e.g. experiments/ugsp_rife/sprites/round6.csv).
# Then: python experiments/ugsp_rife/sprites/tables.py summarize BASELINE NAME_STEP ...
set -euo pipefail
if [ $# -lt 4 ] || [[ $3 != *.csv ]]; then
    echo "usage: $0 RUN_DIR NAME TABLE.csv STEP [STEP ...]   (the table comes before the steps)" >&2
    exit 2
fi
run=$1 name=$2 table=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$(pwd)/.venv/bin/python}
for step in "$@"; do
    ckpt=$run/checkpoints/step$(printf %07d "$step").ckpt
    until [ -f "$ckpt" ]; do sleep 20; done
    sleep 10  # the checkpoint callback may still be writing it
    $python -m dynskip.cli.ugsp_export "$ckpt" "$run/${name}_$step.pt"
    bash "$here/evaluate_heads.sh" "$run/${name}_$step.pt" "${name}_$step" "$table" "$step"
    echo "evaluated ${name}_$step $(date +%T)"
done
