"""Gumbel relaxations: shapes, sampling statistics, straight-through gradients, eval determinism."""

from __future__ import annotations

import pytest
import torch

from dynskip.skiptrain.relax import (
    GumbelGate,
    GumbelSoftmaxGate,
    gumbel_sigmoid,
    gumbel_softmax,
    sample_gumbel,
    sample_logistic,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- smoke / cardinality ---------------------------------------------------------------------------
@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_shape_and_simplex(hard: bool) -> None:
    logits = torch.randn(2, 3, 4, 5)
    y = gumbel_softmax(logits, tau=0.5, hard=hard, dim=1, generator=_gen())
    assert y.shape == logits.shape
    torch.testing.assert_close(y.sum(dim=1), torch.ones(2, 4, 5))
    if hard:
        assert set(y.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_sigmoid_shape_and_range(hard: bool) -> None:
    logits = torch.randn(2, 1, 6, 7, dtype=torch.float64)
    y = gumbel_sigmoid(logits, tau=0.7, hard=hard, generator=_gen())
    assert y.shape == logits.shape and y.dtype == torch.float64
    assert ((y >= 0) & (y <= 1)).all()
    if hard:
        assert set(y.unique().tolist()) <= {0.0, 1.0}


def test_hard_gumbel_softmax_is_argmax_of_soft_with_same_noise() -> None:
    logits = torch.randn(64, 4)
    soft = gumbel_softmax(logits, tau=1.0, generator=_gen(3))
    hard = gumbel_softmax(logits, tau=1.0, hard=True, generator=_gen(3))
    assert torch.equal(hard.argmax(-1), soft.argmax(-1))


# --- sampling statistics ---------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [0.3, 1.0, 3.0])
def test_hard_gumbel_sigmoid_mean_matches_sigmoid(tau: float) -> None:
    logits = torch.tensor([-2.0, -0.5, 0.0, 1.0, 2.5])
    n = 40_000
    y = gumbel_sigmoid(logits.expand(n, -1), tau=tau, hard=True, generator=_gen(1))
    # P(1) = sigmoid(logit) at every temperature; 4 sigma of a Bernoulli mean at n=40k is <= 0.01.
    torch.testing.assert_close(y.mean(0), torch.sigmoid(logits), atol=0.01, rtol=0)


def test_hard_gumbel_softmax_frequencies_match_softmax() -> None:
    logits = torch.tensor([0.5, -1.0, 1.5])
    y = gumbel_softmax(logits.expand(40_000, -1), tau=2.0, hard=True, generator=_gen(2))
    torch.testing.assert_close(y.mean(0), torch.softmax(logits, 0), atol=0.01, rtol=0)


def test_noise_statistics() -> None:
    like = torch.empty(200_000)
    g = sample_gumbel(like, _gen(4))
    logistic = sample_logistic(like, _gen(5))
    euler_gamma = 0.5772156649
    assert abs(g.mean().item() - euler_gamma) < 0.02
    assert abs(logistic.mean().item()) < 0.02
    assert abs(logistic.var().item() - torch.pi**2 / 3) < 0.05


# --- reproducibility -------------------------------------------------------------------------------
def test_seeded_generator_reproduces_samples() -> None:
    logits = torch.randn(3, 5)
    a = gumbel_softmax(logits, 0.5, generator=_gen(7))
    b = gumbel_softmax(logits, 0.5, generator=_gen(7))
    c = gumbel_softmax(logits, 0.5, generator=_gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(11)
    d = gumbel_sigmoid(logits, 0.5)
    torch.manual_seed(11)
    assert torch.equal(d, gumbel_sigmoid(logits, 0.5))


# --- gradients -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ["softmax", "sigmoid"])
def test_straight_through_gradient_equals_soft_gradient(fn: str) -> None:
    logits = torch.randn(4, 3, dtype=torch.float64)
    weights = torch.randn(4, 3, dtype=torch.float64)
    grads = []
    for hard in (False, True):
        x = logits.clone().requires_grad_(True)
        if fn == "softmax":
            y = gumbel_softmax(x, tau=0.8, hard=hard, generator=_gen(9))
        else:
            y = gumbel_sigmoid(x, tau=0.8, hard=hard, generator=_gen(9))
        (y * weights).sum().backward()
        grads.append(x.grad)
    assert grads[1].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0])


def test_gradcheck_soft_relaxations() -> None:
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    # Fresh generator per call: gradcheck re-evaluates, the noise must stay fixed.
    assert torch.autograd.gradcheck(lambda t: gumbel_softmax(t, 0.7, generator=_gen(1)), (x,))
    assert torch.autograd.gradcheck(lambda t: gumbel_sigmoid(t, 0.7, generator=_gen(1)), (x,))


# --- gates -----------------------------------------------------------------------------------------
def test_gumbel_gate_eval_is_deterministic_threshold() -> None:
    gate = GumbelGate(temperature=0.5, threshold=0.7).eval()
    logits = torch.randn(2, 1, 8, 8)
    out = gate(logits)
    assert torch.equal(out, gate(logits))
    assert torch.equal(out, (torch.sigmoid(logits) > 0.7).float())
    gate.threshold = 0.0
    assert gate(logits).all()


def test_gumbel_gate_train_is_stochastic_and_differentiable() -> None:
    gate = GumbelGate(temperature=0.5, hard=True).train()
    logits = torch.zeros(1, 1, 16, 16, requires_grad=True)
    a, b = gate(logits), gate(logits)
    assert not torch.equal(a, b)
    a.sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_gumbel_softmax_gate_eval_is_argmax_and_train_shape() -> None:
    gate = GumbelSoftmaxGate(temperature=1.0, keep_index=1)
    logits = torch.randn(2, 2, 5, 5)
    assert gate.train()(logits, generator=_gen()).shape == (2, 1, 5, 5)
    keep = gate.eval()(logits)
    assert torch.equal(keep, (logits[:, 1:2] > logits[:, 0:1]).float())


# --- exceptions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("tau", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_temperature_raises(tau: float) -> None:
    with pytest.raises(ValueError, match="tau"):
        gumbel_sigmoid(torch.zeros(3), tau=tau)
    with pytest.raises(ValueError, match="tau"):
        GumbelGate(temperature=tau)


def test_bad_inputs_raise() -> None:
    with pytest.raises(TypeError, match="floating-point"):
        gumbel_softmax(torch.zeros(3, dtype=torch.long))
    with pytest.raises(IndexError, match="dim 2"):
        gumbel_softmax(torch.zeros(3, 4), dim=2)
    with pytest.raises(ValueError, match=r"threshold must lie in \[0, 1\], got 1.5"):
        GumbelGate(threshold=1.5)
    with pytest.raises(ValueError, match=r"\(B, 2, h, w\), got \(1, 3, 2, 2\)"):
        GumbelSoftmaxGate()(torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="keep_index"):
        GumbelSoftmaxGate(keep_index=2)
