"""Training objective of SkipVSR: reconstruction + distillation + budget + APE-style mask labels.

One step (``objective(task, batch)``):

1. Teacher pass (no parameter gradients): the model with every mask forced to a ones tensor that
   requires grad, i.e. exactly the dense backbone. Its output is the distillation target, and the
   gradient of the reconstruction loss w.r.t. each (step, group, tile) mask gives a first-order
   estimate of how much the loss rises when that group is skipped on that tile:
   ``contribution = -dL/dm`` (an APE-like "incremental capacity" per patch and block group, computed in
   one backward instead of one pass per block). With temporal alignment the skipped branch reuses the
   warped previous residual, so the contribution is measured against that fallback.
   Label = 1 for the ``budget`` fraction of (step, group, tile) units with the largest positive
   contribution in the batch, 0 elsewhere.
2. Student pass in ``"train"`` mode: straight-through Gumbel-sigmoid masks (temperature
   ``temperature``) on the estimator logits.
3. Terms: ``rec`` Charbonnier to GT, ``distill`` Charbonnier to the teacher output (quality is judged
   against dense BasicVSR), ``budget`` ``|density - model.budget|`` on the cost-weighted density,
   ``label`` BCE of the estimator logits to the labels.

Teacher: by default the model itself with every mask on. Once the backbone trains (phase 2) that target
drifts with it, so ``teacher_weights`` (e.g. ``"reds4"``) names official BasicVSR weights to distill
from instead: a frozen dense BasicVSR, built once, kept out of the state dict and the optimiser. The
speed / quality targets are judged against exactly that model.

Phases: the phase-1 / phase-2 split (estimator only, then joint with a small backbone lr) is done by
the task's ``module_rules`` (``freeze_steps`` = phase-1 length); the objective logs ``phase`` and can
stop the label term after phase 1 (``label_in_phase2``), when the reconstruction terms take over.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dynskip.methods.skipvsr.v1.arch import SkipVSR
from dynskip.skip.protocol import execution_mode
from dynskip.zoo.registry import PretrainedModel


def charbonnier(pred: Tensor, target: Tensor, eps: float = 1e-6) -> Tensor:
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def reuse_error_labels(model: SkipVSR, lq: Tensor, budget: float) -> tuple[list[Tensor], Tensor]:
    """Per-step keep labels from the error skipping would make locally, measured on the dense model.

    :meth:`SkipVSR.reuse_errors` gives, per (step, block group, tile), the mean squared difference
    between the group's residual and what a skipped tile gets instead (the flow-warped previous residual
    with temporal alignment, zero without). The ``budget`` fraction of units with the largest error are
    labelled 1. Returns ``(labels, dense_output)`` in ``model.last_logits`` order.
    """
    out, per_step = model.reuse_errors(lq)
    errors = torch.stack(per_step)
    finite = errors[torch.isfinite(errors)]
    k = max(1, round(budget * errors.numel()))
    cut = errors.flatten().topk(k).values.min() if finite.numel() else errors.new_tensor(0.0)
    labels = (errors >= cut).to(lq.dtype)
    return list(labels.unbind(0)), out


def taylor_labels(model: SkipVSR, lq: Tensor, gt: Tensor, budget: float) -> tuple[list[Tensor], Tensor]:
    """Per-step keep labels ``(B, K, gh, gw)`` from the dense model's first-order contributions.

    The gradient of the squared error to ``gt`` with respect to each mask of
    :meth:`SkipVSR.dense_with_mask_leaves` (all ones): ``contribution = -dL/dm``.
    Returns ``(labels, dense_output)``; ``labels`` follow the order of ``model.last_logits``.
    """
    out, leaves = model.dense_with_mask_leaves(lq)
    with torch.enable_grad():
        loss = F.mse_loss(out, gt, reduction="sum")
        grads = torch.autograd.grad(loss, leaves)
    contrib = torch.stack([-g for g in grads])  # (steps, B, K, gh, gw)
    flat = contrib.flatten()
    k = max(1, round(budget * flat.numel()))
    cut = flat.topk(k).values.min()
    labels = ((contrib >= cut) & (contrib > 0)).to(lq.dtype)
    return list(labels.unbind(0)), out.detach()


class SkipVSRObjective(nn.Module):
    """See the module docstring. Weights of each term, Gumbel temperature, phase-1 length."""

    def __init__(
        self,
        rec_weight: float = 1.0,
        distill_weight: float = 1.0,
        budget_weight: float = 0.1,
        label_weight: float = 0.05,
        temperature: float = 2.0 / 3.0,
        phase1_steps: int = 0,
        label_in_phase2: bool = True,
        teacher_weights: str | None = None,
    ) -> None:
        super().__init__()
        self.rec_weight = rec_weight
        self.distill_weight = distill_weight
        self.budget_weight = budget_weight
        self.label_weight = label_weight
        self.temperature = temperature
        self.phase1_steps = phase1_steps
        self.label_in_phase2 = label_in_phase2
        self.teacher_weights = teacher_weights
        # A plain list, not a submodule: the frozen teacher stays out of checkpoints and param groups.
        self._teacher: list[nn.Module] = []

    def frozen_teacher(self, like: Tensor) -> nn.Module:
        """The dense BasicVSR of ``teacher_weights``, frozen, on ``like``'s device (built on first use)."""
        if not self._teacher:
            teacher = PretrainedModel("basicvsr", self.teacher_weights)().eval().requires_grad_(False)
            self._teacher.append(teacher)
        return self._teacher[0].to(like.device)

    def dense_target(self, lq: Tensor) -> Tensor:
        """Distillation target of ``lq``: the frozen teacher's output (``teacher_weights`` set)."""
        with torch.no_grad():
            return self.frozen_teacher(lq)(lq)

    def phase(self, step: int) -> int:
        return 1 if step < self.phase1_steps else 2

    def forward(self, task, batch: dict) -> tuple[Tensor, dict[str, Tensor]]:
        model = task.model
        lq, gt = batch["lq"], batch["gt"]
        step = int(getattr(task, "global_step", 0))
        use_labels = self.label_weight > 0 and (self.phase(step) == 1 or self.label_in_phase2)
        frozen = self.teacher_weights is not None
        if use_labels or (self.distill_weight > 0 and not frozen):
            labels, dense = taylor_labels(model, lq, gt, model.budget)
        if self.distill_weight > 0 and frozen:
            dense = self.dense_target(lq)
        model.temperature = self.temperature
        with execution_mode(model, "train"):
            pred = model(lq)
        report = model.skip_report()
        density = report.density(prunable_only=True)
        terms = {"rec": self.rec_weight * charbonnier(pred, gt)}
        if self.distill_weight > 0:
            terms["distill"] = self.distill_weight * charbonnier(pred, dense)
        terms["budget"] = self.budget_weight * (density - model.budget).abs()
        if use_labels:
            logits = torch.stack(model.last_logits)
            target = torch.stack(labels)
            terms["label"] = self.label_weight * F.binary_cross_entropy_with_logits(logits, target)
        if hasattr(task, "log"):
            try:
                task.log("train/density", density.detach(), batch_size=lq.shape[0])
                task.log("train/phase", float(self.phase(step)), batch_size=lq.shape[0])
            except Exception:  # logging outside a Trainer loop (tests calling the objective directly)
                pass
        return pred, terms
