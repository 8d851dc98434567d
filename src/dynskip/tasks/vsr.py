"""Video super-resolution task: ``model(lq (B,T,3,h,w)) -> (B,T,3,sh,sw)``."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from dynskip.tasks.base import RestorationTask


class VSRTask(RestorationTask):
    input_keys = ("lq",)

    def predict(self, batch: dict) -> Tensor:
        return self.model(batch["lq"])

    def image_row(self, batch: dict, pred: Tensor) -> list[Tensor]:
        t = pred.shape[1] // 2  # the middle frame has context on both sides
        lq = F.interpolate(batch["lq"][:1, t], size=pred.shape[-2:], mode="nearest")[0]
        return [lq, pred[0, t], batch["gt"][0, t]]
