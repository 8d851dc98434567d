"""Training objective of SkipVSR v2: phase 1 fits the reuse-error estimator, phase 2 the backbone.

One step (``objective(task, batch)``), ``phase1_steps`` deciding the phase by the global step:

1. Phase 1: the dense trajectory of the batch gives per (step, patch) the estimator features and the
   log error reuse would make (:meth:`SkipVSRv2.reuse_trace`); the term ``estimator`` is their mean
   squared error (the gradient form of :func:`~dynskip.methods.skipvsr.labels.fit_reuse_estimator`).
2. Phase 2: the model runs with its hard reuse decisions (``"train"`` = masked, differentiable in the
   backbone), and learns to tolerate them: ``rec`` Charbonnier to GT plus ``distill`` Charbonnier to
   the frozen official dense BasicVSR (``teacher_weights``), the model the speed and quality targets
   are judged against; a term whose weight is 0 is left out (``rec_weight=0``: distillation only).
   Which parameters train is the task's ``module_rules``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.losses.charbonnier import charbonnier_loss
from dynskip.skip.protocol import execution_mode
from dynskip.zoo.registry import PretrainedModel


class ReuseObjective(nn.Module):
    """See the module docstring: term weights, phase-1 length, the teacher's official weights."""

    def __init__(
        self,
        phase1_steps: int = 0,
        estimator_weight: float = 1.0,
        rec_weight: float = 1.0,
        distill_weight: float = 1.0,
        teacher_weights: str = "reds4",
    ) -> None:
        super().__init__()
        if rec_weight <= 0 and distill_weight <= 0:
            raise ValueError(
                "ReuseObjective: phase 2 needs rec_weight or distill_weight > 0, "
                f"got {rec_weight}, {distill_weight}"
            )
        self.phase1_steps = phase1_steps
        self.estimator_weight = estimator_weight
        self.rec_weight = rec_weight
        self.distill_weight = distill_weight
        self.teacher = PretrainedModel("basicvsr", teacher_weights)
        self._frozen: list[nn.Module] = []  # a list, not a submodule: out of checkpoints and optimisers

    def phase(self, step: int) -> int:
        return 1 if step < self.phase1_steps else 2

    def dense_target(self, lq: Tensor) -> Tensor:
        if not self._frozen:
            self._frozen.append(self.teacher().eval().requires_grad_(False))
        with torch.no_grad():
            return self._frozen[0].to(lq.device)(lq)

    def forward(self, task, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        model = task.model
        lq = batch[getattr(task, "input_keys", ("lq",))[0]]
        gt = batch[getattr(task, "target_key", "gt")]
        phase = self.phase(int(getattr(task, "global_step", 0)))
        if phase == 1:
            with torch.no_grad():
                pred, trace = model.reuse_trace(lq)
            features = torch.cat([f for f, _ in trace])
            labels = torch.cat([e for _, e in trace])
            terms = {
                "estimator": self.estimator_weight * F.mse_loss(model.policy.estimator(features), labels)
            }
        else:
            with execution_mode(model, "train"):
                pred = model(lq)
            terms = {}
            if self.rec_weight > 0:
                terms["rec"] = self.rec_weight * charbonnier_loss(pred, gt)
            if self.distill_weight > 0:
                terms["distill"] = self.distill_weight * charbonnier_loss(pred, self.dense_target(lq))
        if hasattr(task, "log"):
            try:
                density = model.skip_report().density(prunable_only=True)
                task.log("train/density", density.detach(), batch_size=lq.shape[0])
                task.log("train/phase", float(phase), batch_size=lq.shape[0])
            except Exception:  # logging outside a Trainer loop (tests calling the objective directly)
                pass
        return pred, terms
