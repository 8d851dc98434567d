"""Budget and mask-label losses, the report's cost-weighted density, and the knob schedules."""

from __future__ import annotations

import math

import pytest
import torch

from dynskip.methods.ugsp.schedules import UGSPTemperature, ugsp_lambda_s, ugsp_temperature, ugsp_w_step
from dynskip.skip.protocol import SkipRecorder, SkipUnit
from dynskip.skiptrain.losses import (
    BudgetLoss,
    MaskLabelLoss,
    budget_loss,
    cost_weighted_density,
    mask_label_loss,
    resize_label,
)
from dynskip.skiptrain.schedules import (
    BudgetSchedule,
    TemperatureSchedule,
    budget_warmup,
    cosine_schedule,
    exponential_schedule,
    linear_schedule,
)


def _report(mask_a: torch.Tensor, mask_b: torch.Tensor):
    units = [SkipUnit("a", "block", macs_per_pixel=300.0), SkipUnit("b", "level", macs_per_pixel=100.0)]
    rec = SkipRecorder(units)
    rec.reset(frames=1)
    rec.record("a", mask_a)
    rec.record("b", mask_b)
    return rec.report()


# --- cost-weighted density -------------------------------------------------------------------------
def test_cost_weighted_density_weights_units_by_dense_macs() -> None:
    a = torch.full((1, 1, 4, 4), 0.5)
    b = torch.full((1, 1, 4, 4), 0.1)
    # Same grid, so the weights are 300 : 100.
    expected = (0.5 * 300 + 0.1 * 100) / 400
    assert cost_weighted_density(_report(a, b)).item() == pytest.approx(expected)
    assert cost_weighted_density(_report(a, b), group="level").item() == pytest.approx(0.1)


def test_budget_loss_on_report_reaches_every_mask() -> None:
    a = torch.rand(1, 1, 4, 4, requires_grad=True)
    b = torch.rand(1, 1, 2, 2, requires_grad=True)
    loss = BudgetLoss(target=0.0, kind="abs")(_report(a, b))
    loss.backward()
    # density = sum_u (dense_u / total) * mean(mask_u), so d/d a_ij = (300 * 16 / total) / 16.
    dense_a, dense_b = 300.0 * 16, 100.0 * 4
    torch.testing.assert_close(a.grad, torch.full_like(a, 300.0 / (dense_a + dense_b)))
    torch.testing.assert_close(b.grad, torch.full_like(b, 100.0 / (dense_a + dense_b)))


def test_cost_weighted_density_rejects_non_report() -> None:
    with pytest.raises(TypeError, match="SkipReport, got Tensor"):
        cost_weighted_density(torch.zeros(()))


# --- budget loss -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("density", "target", "kind", "expected"),
    [
        (0.6, 0.35, "abs", 0.25),
        (0.2, 0.35, "abs", 0.15),
        (0.6, 0.35, "hinge", 0.25),
        (0.2, 0.35, "hinge", 0.0),
    ],
)
def test_budget_loss_values(density: float, target: float, kind: str, expected: float) -> None:
    assert budget_loss(torch.tensor(density), target, kind).item() == pytest.approx(expected)


def test_budget_loss_gradients() -> None:
    d = torch.tensor(0.6, requires_grad=True)
    budget_loss(d, 0.35, "abs").backward()
    assert d.grad.item() == 1.0
    d = torch.tensor(0.2, requires_grad=True)
    budget_loss(d, 0.35, "abs").backward()
    assert d.grad.item() == -1.0
    d = torch.tensor(0.2, requires_grad=True)
    budget_loss(d, 0.35, "hinge").backward()
    assert d.grad.item() == 0.0


def test_budget_module_reads_call_time_target() -> None:
    loss = BudgetLoss()
    assert loss(torch.tensor(0.5), target=0.25).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="no target"):
        loss(torch.tensor(0.5))


def test_budget_loss_exceptions() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5"):
        budget_loss(torch.tensor(0.5), 1.5)
    with pytest.raises(ValueError, match="'abs' or 'hinge', got 'l2'"):
        budget_loss(torch.tensor(0.5), 0.5, kind="l2")
    with pytest.raises(ValueError, match="'abs' or 'hinge', got 'l2'"):
        BudgetLoss(0.5, kind="l2")
    with pytest.raises(TypeError, match="Tensor, got float"):
        budget_loss(0.5, 0.5)


# --- mask-label loss -------------------------------------------------------------------------------
def test_resize_label_takes_cell_mean_when_coarser() -> None:
    label = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]).view(1, 1, 2, 4)
    torch.testing.assert_close(resize_label(label, (1, 2)), torch.tensor([[[[0.75, 0.0]]]]))
    up = resize_label(label, (4, 8))
    assert up.shape == (1, 1, 4, 8) and torch.equal(up[..., ::2, ::2], label)


def test_mask_label_loss_values_and_grad() -> None:
    mask = torch.tensor([[[[0.2, 0.9]]]], requires_grad=True)
    label = torch.tensor([[[[0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]]]])  # cell means 0.25, 1.0
    loss = mask_label_loss(mask, label, "l1")
    assert loss.item() == pytest.approx((0.05 + 0.1) / 2)
    loss.backward()
    torch.testing.assert_close(mask.grad, torch.tensor([[[[-0.5, -0.5]]]]))
    assert mask_label_loss(mask, label, "l1", reduction="none").shape == (1, 1, 1, 2)


def test_mask_label_bce_matches_formula_and_gradcheck() -> None:
    mask = torch.rand(2, 1, 3, 3, dtype=torch.float64).clamp(0.05, 0.95).requires_grad_(True)
    label = (torch.rand(2, 1, 6, 6, dtype=torch.float64) > 0.5).double()
    target = torch.nn.functional.adaptive_avg_pool2d(label, (3, 3))
    expected = -(target * mask.log() + (1 - target) * (1 - mask).log()).mean()
    torch.testing.assert_close(MaskLabelLoss("bce")(mask, label), expected)
    assert torch.autograd.gradcheck(lambda m: mask_label_loss(m, label, "bce"), (mask,))
    assert torch.autograd.gradcheck(lambda m: mask_label_loss(m, label, "l1", "sum"), (mask,))


def test_mask_label_bce_finite_on_hard_masks() -> None:
    mask = torch.tensor([[[[0.0, 1.0]]]])
    label = torch.tensor([[[[1.0, 0.0]]]])
    assert torch.isfinite(mask_label_loss(mask, label, "bce"))


def test_mask_label_loss_exceptions() -> None:
    mask = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"mask must be a \(B, 1, h, w\) tensor, got \(2, 4, 4\)"):
        mask_label_loss(mask[:, 0], mask)
    with pytest.raises(ValueError, match="label batch 1 does not match mask batch 2"):
        mask_label_loss(mask, mask[:1])
    with pytest.raises(ValueError, match=r"label values must lie in \[0, 1\]"):
        mask_label_loss(mask, mask * 3)
    with pytest.raises(ValueError, match="'l1' or 'bce', got 'l2'"):
        mask_label_loss(mask, mask, kind="l2")
    with pytest.raises(ValueError, match="reduction"):
        mask_label_loss(mask, mask, reduction="max")


# --- schedules -------------------------------------------------------------------------------------
@pytest.mark.parametrize("epoch", [0, 1, 30, 75, 90, 149, 150, 300])
def test_ugsp_temperature_formula(epoch: int) -> None:
    assert ugsp_temperature(epoch) == pytest.approx(max(1 - epoch / 150, 0.4))


def test_ugsp_loss_weight_formulas() -> None:
    assert ugsp_lambda_s(0) == 0.0  # clamped: the raw formula is negative before epoch 1
    assert ugsp_lambda_s(1) == 0.0
    assert ugsp_lambda_s(8.5) == pytest.approx(0.05)
    assert ugsp_lambda_s(16) == pytest.approx(0.1)
    assert ugsp_lambda_s(200) == pytest.approx(0.1)
    for epoch in (0, 100, 200, 250, 280, 300):
        assert ugsp_w_step(epoch) == pytest.approx(max(min(1 - (epoch - 200) / 100, 1) * 0.5, 0.1))
    assert ugsp_w_step(250) == pytest.approx(0.25)
    assert ugsp_w_step(300) == pytest.approx(0.1)


def test_interpolating_schedules() -> None:
    assert linear_schedule(5, 1.0, 0.5, 10) == pytest.approx(0.75)
    assert linear_schedule(20, 1.0, 0.5, 10) == 0.5
    assert exponential_schedule(5, 1.0, 0.25, 10) == pytest.approx(0.5)
    assert cosine_schedule(0, 1.0, 0.2, 10) == pytest.approx(1.0)
    assert cosine_schedule(5, 1.0, 0.2, 10) == pytest.approx(0.6)
    assert cosine_schedule(10, 1.0, 0.2, 10) == pytest.approx(0.2)
    assert linear_schedule(3, 1.0, 0.5, 0) == 0.5  # zero length: straight to the end value


def test_budget_warmup_formula() -> None:
    assert budget_warmup(0, 0.3, 100) == 1.0
    assert budget_warmup(50, 0.3, 100) == pytest.approx(0.65)
    assert budget_warmup(1000, 0.3, 100) == pytest.approx(0.3)
    assert BudgetSchedule(0.3, 0)(0) == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("schedule", "t", "expected"),
    [
        (TemperatureSchedule("constant", start=0.7), 99, 0.7),
        (TemperatureSchedule("linear", 1.0, 0.5, 10), 5, 0.75),
        (TemperatureSchedule("exponential", 2.0, 0.5, 4, unit="step"), 2, 1.0),
        (TemperatureSchedule("cosine", 1.0, 0.2, 10), 5, 0.6),
        (UGSPTemperature(), 75, 0.5),
    ],
)
def test_temperature_schedule_config(schedule, t: float, expected: float) -> None:
    assert schedule(t) == pytest.approx(expected)
    assert math.isfinite(schedule(10**6)) and schedule(10**6) > 0


def test_schedule_exceptions() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        TemperatureSchedule("step")
    with pytest.raises(ValueError, match="temperatures must be > 0"):
        TemperatureSchedule("linear", 1.0, 0.0, 10)
    with pytest.raises(ValueError, match="kind must be one of"):
        TemperatureSchedule("ugsp")  # UGSP's schedule lives with UGSP: dynskip.methods.ugsp.schedules
    with pytest.raises(ValueError, match=r"budget target must lie in \[0, 1\], got 2"):
        BudgetSchedule(2.0)
    with pytest.raises(ValueError, match="must be >= 0, got -1"):
        linear_schedule(-1, 1.0, 0.5, 10)
    with pytest.raises(ValueError, match="start > 0 and end > 0"):
        exponential_schedule(1, 1.0, 0.0, 10)
