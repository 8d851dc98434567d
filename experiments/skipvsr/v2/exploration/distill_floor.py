"""What phase 2's distillation loss is for an unchanged backbone with every patch running.

    OMP_NUM_THREADS=2 python experiments/skipvsr/v2/exploration/distill_floor.py

Prints 1.00e-06 (Charbonnier's floor, sqrt(eps) with eps 1e-12): the model then equals official BasicVSR,
so a larger loss at density 1.0 in a training log means the backbone has moved.
"""

from __future__ import annotations

import torch

from dynskip.data.synthetic import SyntheticClips
from dynskip.losses.charbonnier import charbonnier_loss
from dynskip.models import build_model
from dynskip.skip.protocol import execution_mode

lq = SyntheticClips("vsr", 1, (128, 128), 7, seed=3, texture="dead_leaves", num_objects=3)[0]["lq"][None]
teacher = build_model("basicvsr", weights="reds4").eval()
student = build_model("skipvsr-v2", weights="reds4", threshold=0.0).train()
with torch.no_grad(), execution_mode(student, "train"):
    loss = charbonnier_loss(student(lq), teacher(lq))
print(f"distill loss, unchanged backbone, every patch running: {loss.item():.2e}")
