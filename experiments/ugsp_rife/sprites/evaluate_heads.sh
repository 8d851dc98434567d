#!/usr/bin/env bash
# Held-out allowed sets of PREREGISTRATION.md for one set of heads, threshold 0.5, masked mode.
#   bash experiments/ugsp_rife/sprites/evaluate_heads.sh WEIGHTS NAME   (run from the repository root)
# writes experiments/ugsp_rife/sprites/NAME_{carphone,noise,dead_leaves,sprites_noise,sprites_dead_leaves}.json
set -euo pipefail
weights=$1 name=$2
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$(pwd)/.venv/bin/python}
cd "$here/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
$python measure.py --video carphone --start 90 --frames 30 --mode masked --thresholds 0.5 \
    --weights "$weights" --json "$here/${name}_carphone.json" > /dev/null
for texture in noise dead_leaves; do
    $python synthetic_sweep.py --samples 8 --thresholds 0.5 --texture $texture --weights "$weights" \
        --json "$here/${name}_${texture}.json" > /dev/null
    $python synthetic_sweep.py --samples 8 --thresholds 0.5 --texture $texture --sprites --weights "$weights" \
        --json "$here/${name}_sprites_${texture}.json" > /dev/null
done
