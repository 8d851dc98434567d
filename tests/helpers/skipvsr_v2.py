"""Tiny SkipVSR v2 models and clips shared by its tests."""

from __future__ import annotations

import torch

from dynskip.methods.skipvsr.arch import SkipVSRv2
from dynskip.skip.protocol import SkipReport

# The one-step change, no ring and no output reuse unless a test says otherwise: the trunks' mechanics
# most tests check (tests/methods/skipvsr/test_output_reuse.py covers the output reuse).
TINY = {
    "num_feat": 8,
    "num_block": 3,
    "patch": 8,
    "change_reference": "frame",
    "halo_ring": 0,
    "reuse_output": False,
}


class FixedFlows(SkipVSRv2):
    """SkipVSR v2 with uniform given flows instead of SpyNet's, per sample (a number: every sample).

    Zero flows are exact zero motion; equal non-zero forward and backward flows are inconsistent.
    """

    def __init__(self, flows_forward=0.0, flows_backward=0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shift = (flows_forward, flows_backward)

    def compute_flows(self, lr):
        b, t, _, h, w = lr.shape
        flows = [
            torch.as_tensor(s, dtype=lr.dtype).view(-1, 1, 1, 1, 1).expand(b, t - 1, 2, h, w)
            for s in self.shift
        ]
        self._clip["flows"] = {"forward": flows[0], "backward": flows[1]}
        return flows[0], flows[1]


def tiny(seed: int = 0, cls=SkipVSRv2, **kwargs) -> SkipVSRv2:
    torch.manual_seed(seed)
    return cls(**{**TINY, **kwargs}).eval()


def reusing_model(b: int, **kwargs) -> FixedFlows:
    """A tiny model that reuses wherever the occlusion check allows; the last of ``b`` samples has
    inconsistent flows (every patch runs), the others zero motion: decisions differ per sample."""
    shifts = [0.0] * (b - 1) + [2.0] if b > 1 else [0.0]
    return tiny(
        cls=FixedFlows, flows_forward=shifts, flows_backward=shifts, error_ref=1e6, max_stale=3, **kwargs
    )


def masked_then_sparse(model: SkipVSRv2, lr: torch.Tensor) -> tuple[torch.Tensor, SkipReport, torch.Tensor]:
    """The model's masked output and report, then its sparse output (its report is the model's last)."""
    with torch.no_grad():
        model.execution_mode = "masked"
        masked = model(lr)
        report = model.skip_report()
        model.execution_mode = "sparse"
        return masked, report, model(lr)


def clip_with_static_and_moving(b: int = 2, t: int = 5, h: int = 21, w: int = 27) -> torch.Tensor:
    """Sample 0 static (one frame repeated), sample 1 changing on its left half only."""
    torch.manual_seed(1)
    lr = torch.rand(1, 1, 3, h, w).repeat(b, t, 1, 1, 1)
    if b > 1:
        lr[1, :, :, :, : w // 2] = torch.rand(t, 3, h, w // 2)
    return lr
