#!/usr/bin/env bash
# Held-out measurement of one UGSP-RIFE checkpoint on the four train-role clips (PREREGISTRATION.md):
#   bash experiments/ugsp_rife/v2/heldout.sh WEIGHTS NAME [THRESHOLDS...]
# MODEL_ARGS="residual_guard=0.08 ..." passes each KEY=VALUE to build_model (measure.py --model-arg).
# writes experiments/ugsp_rife/v2/results/NAME_<clip>.json (git-ignored: add with -f to keep a round's);
# table.py turns them into rows.
set -euo pipefail
weights=$1 name=$2
shift 2
thresholds=("${@:-0.5}")
model_args=()
read -ra pairs <<<"${MODEL_ARGS:-}"  # split on spaces only: no glob expansion
for kv in "${pairs[@]}"; do model_args+=(--model-arg "$kv"); done
here=$(dirname "$0")
mkdir -p "$here/results"
# clip, first held-out frame, frames measured (the held-out range, capped at 41)
for spec in "carphone 102 18" "vtest 675 41" "box 386 41" "tree 57 11"; do
  read -r clip start frames <<<"$spec"
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} python "$here/../measure.py" --video "$clip" --start "$start" \
    --frames "$frames" --weights "$weights" --mode masked --thresholds "${thresholds[@]}" "${model_args[@]}" \
    --json "$here/results/${name}_${clip}.json" > /dev/null
done
