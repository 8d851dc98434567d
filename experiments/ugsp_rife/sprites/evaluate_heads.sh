#!/usr/bin/env bash
# Held-out allowed sets of PREREGISTRATION.md for one set of heads, threshold 0.5, masked mode.
#   bash experiments/ugsp_rife/sprites/evaluate_heads.sh WEIGHTS NAME [TABLE [STEP]]   (from the repository root)
# writes experiments/ugsp_rife/sprites/results/NAME_{carphone,noise,dead_leaves,sprites_noise,sprites_dead_leaves}.json
# (git-ignored scratch) and, given TABLE (a round's CSV, e.g. experiments/ugsp_rife/sprites/round6.csv), appends
# their rows to it with tables.py (STEP: the checkpoint's training step). Then: tables.py summarize NAME ...
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 4 ]; then
    echo "usage: $0 WEIGHTS NAME [TABLE.csv [STEP]]" >&2
    exit 2
fi
weights=$1 name=$2 table=${3:-} step=${4:-}
if [ -n "$table" ]; then
    [[ $table == *.csv ]] || { echo "$0: TABLE must be a round's .csv, got '$table'" >&2; exit 2; }
    table=$(realpath -m -- "$table")  # the measurements run from experiments/ugsp_rife
fi
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$(pwd)/.venv/bin/python}
results=$here/results
mkdir -p "$results"
cd "$here/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
$python measure.py --video carphone --start 90 --frames 30 --mode masked --thresholds 0.5 \
    --weights "$weights" --json "$results/${name}_carphone.json" > /dev/null
for texture in noise dead_leaves; do
    $python synthetic_sweep.py --samples 8 --thresholds 0.5 --texture $texture --weights "$weights" \
        --json "$results/${name}_${texture}.json" > /dev/null
    $python synthetic_sweep.py --samples 8 --thresholds 0.5 --texture $texture --sprites --weights "$weights" \
        --json "$results/${name}_sprites_${texture}.json" > /dev/null
done
records=("$results/${name}"_{carphone,noise,dead_leaves,sprites_noise,sprites_dead_leaves}.json)
if [ -n "$table" ]; then
    $python "$here/tables.py" add "$table" --name "$name" ${step:+--step "$step"} "${records[@]}"
else
    echo "no TABLE given: the rows are only in ${records[*]}" >&2
    echo "add them with: python $here/tables.py add TABLE.csv --name $name [--step STEP] ${records[*]}" >&2
fi
