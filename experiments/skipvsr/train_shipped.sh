#!/usr/bin/env bash
# Trains the shipped SkipVSR checkpoint (src/dynskip/checkpoints/skipvsr_reds4.pt) on carphone frames
# 0..89 only (validation: carphone frames 90..119), then exports the small checkpoint.
# Usage: bash experiments/skipvsr/train_shipped.sh [RUN_DIR] [extra hydra overrides]
set -euo pipefail
RUN=${1:-logs/skipvsr_shipped}
shift || true
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/python -m dynskip.train experiment=skipvsr_video \
  model.budget=0.5 phase1_steps=200 trainer.max_steps=300 trainer.val_check_interval=100 \
  data.batch_size=2 data.train.num_frames=5 data.train.augment.crop_size=128 \
  logger=csv test=false seed=1234 "hydra.run.dir=${RUN}" "$@"
.venv/bin/python -m dynskip.cli.skipvsr_export "${RUN}/checkpoints/last.ckpt" --model skipvsr \
  src/dynskip/checkpoints/skipvsr_reds4.pt
