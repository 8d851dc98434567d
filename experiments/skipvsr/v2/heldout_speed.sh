#!/usr/bin/env bash
# Speed and quality of skipvsr-v2 against dense official BasicVSR on the held-out range of each train
# clip (first 20 frames, or the whole range when shorter), through the user-facing CLI: 2 threads,
# dense and skip interleaved in one process, median of 3. Usage:
#   experiments/skipvsr/v2/heldout_speed.sh OUT_DIR [extra evaluate arguments, e.g. --weights B.pt --threshold 0.4]
# CLIPS="vtest box" restricts the clips (default: all four train clips).
set -euo pipefail
out=$1; shift
mkdir -p "$out"
py=${PYTHON:-.venv/bin/python}
for clip in ${CLIPS:-carphone vtest box tree}; do
  read -r path start count < <("$py" - "$clip" <<'PY'
import sys
from dynskip.assets import asset_path
from dynskip.data.footage import decoded_clip, split_range
path = asset_path(sys.argv[1])
start, count = split_range(decoded_clip(path).shape[0], "heldout")
print(path, start, min(count, 20))
PY
)
  OMP_NUM_THREADS=2 .venv/bin/dynskip evaluate "$path" --model skipvsr-v2 --start "$start" --frames "$count" \
    --compare-dense --repeats 3 -o "$out/$clip.json" --overwrite "$@"
done
