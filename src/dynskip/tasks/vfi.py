"""Video frame interpolation task: ``model(img0, img1, timestep) -> (B,3,H,W)``."""

from __future__ import annotations

from torch import Tensor

from dynskip.tasks.base import RestorationTask


class VFITask(RestorationTask):
    input_keys = ("img0", "img1")

    def predict(self, batch: dict) -> Tensor:
        return self.model(batch["img0"], batch["img1"], batch["timestep"])

    def image_row(self, batch: dict, pred: Tensor) -> list[Tensor]:
        overlay = 0.5 * (batch["img0"][0] + batch["img1"][0])  # the input pair, blended
        return [overlay, pred[0], batch["gt"][0]]
