#!/usr/bin/env bash
# Evaluate a fine-tune's checkpoints on the held-out allowed sets as the run writes them.
#   bash experiments/ugsp_rife/sprites/evaluate_run.sh RUN_DIR NAME STEP [STEP ...]   (from the repository root)
# For each STEP it waits for RUN_DIR/checkpoints/stepNNNNNNN.ckpt, exports it to RUN_DIR/NAME_STEP.pt
# (heads + float32 backbone deltas) and runs evaluate_heads.sh, which writes
# experiments/ugsp_rife/sprites/NAME_STEP_{carphone,noise,dead_leaves,sprites_noise,sprites_dead_leaves}.json.
# Then: python experiments/ugsp_rife/sprites/summarize.py BASELINE NAME_STEP ...
set -euo pipefail
run=$1 name=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$(pwd)/.venv/bin/python}
for step in "$@"; do
    ckpt=$run/checkpoints/step$(printf %07d "$step").ckpt
    until [ -f "$ckpt" ]; do sleep 20; done
    sleep 10  # the checkpoint callback may still be writing it
    $python -m dynskip.ugsp.export "$ckpt" "$run/${name}_$step.pt"
    bash "$here/evaluate_heads.sh" "$run/${name}_$step.pt" "${name}_$step"
    echo "evaluated ${name}_$step $(date +%T)"
done
