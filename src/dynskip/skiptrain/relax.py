"""Differentiable relaxations of discrete keep / skip decisions (Gumbel-softmax, Gumbel-sigmoid).

Functional forms sample noise (optionally from a ``torch.Generator`` for reproducibility) and
return soft samples or, with ``hard=True``, straight-through hard samples whose forward value is
discrete and whose gradient is exactly the soft sample's. The gate modules add the deterministic
evaluation path: outside training they threshold the noiseless probability at ``threshold``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# Keeps log(-log(u)) finite for u drawn at the ends of [0, 1).
_EPS = 1e-10


def _check_logits(logits: Tensor, tau: float) -> None:
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor, got {logits.dtype}")
    if not (isinstance(tau, (int, float)) and math.isfinite(tau) and tau > 0):
        raise ValueError(f"temperature tau must be a finite number > 0, got {tau}")


def _uniform(like: Tensor, generator: torch.Generator | None) -> Tensor:
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    return u.clamp(_EPS, 1.0 - _EPS)


def sample_gumbel(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard Gumbel noise ``-log(-log U)`` with the shape, dtype and device of ``like``."""
    return -torch.log(-torch.log(_uniform(like, generator)))


def sample_logistic(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard logistic noise ``log U - log(1 - U)`` (the difference of two Gumbels)."""
    u = _uniform(like, generator)
    return torch.log(u) - torch.log1p(-u)


def _straight_through(hard: Tensor, soft: Tensor) -> Tensor:
    # Forward value of ``hard``, gradient of ``soft``.
    return hard - soft.detach() + soft


def gumbel_softmax(
    logits: Tensor,
    tau: float = 1.0,
    hard: bool = False,
    dim: int = -1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Gumbel-softmax sample ``softmax((logits + g) / tau)`` along ``dim``.

    Args:
        logits: unnormalised log-probabilities, any shape.
        tau: temperature > 0 (small = closer to one-hot).
        hard: return a one-hot sample (argmax) with the soft sample's gradient (straight-through).
        dim: the category dimension.
        generator: noise source, for reproducible samples.

    Returns:
        a tensor shaped like ``logits`` summing to one along ``dim``.
    """
    _check_logits(logits, tau)
    if not -logits.dim() <= dim < logits.dim():
        raise IndexError(f"dim {dim} out of range for logits of shape {tuple(logits.shape)}")
    soft = torch.softmax((logits + sample_gumbel(logits, generator)) / tau, dim=dim)
    if not hard:
        return soft
    one_hot = torch.zeros_like(soft).scatter_(dim, soft.argmax(dim=dim, keepdim=True), 1.0)
    return _straight_through(one_hot, soft)


def gumbel_sigmoid(
    logits: Tensor,
    tau: float = 1.0,
    hard: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Binary Gumbel (Concrete) sample ``sigmoid((logits + l) / tau)``, ``l`` logistic noise.

    A hard sample is ``1`` where the soft one exceeds 0.5, so ``P(1) = sigmoid(logits)`` at every
    temperature; with ``hard=True`` the gradient is the soft sample's (straight-through).
    """
    _check_logits(logits, tau)
    soft = torch.sigmoid((logits + sample_logistic(logits, generator)) / tau)
    if not hard:
        return soft
    return _straight_through((soft > 0.5).to(soft.dtype), soft)


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    return threshold


class GumbelGate(nn.Module):
    """Keep-probability gate for one logit channel: ``(B, 1, h, w)`` logits -> mask ``(B, 1, h, w)``.

    Training: :func:`gumbel_sigmoid` at ``temperature`` (straight-through when ``hard``).
    Evaluation: deterministic ``sigmoid(logits) > threshold`` as a float mask.
    """

    def __init__(self, temperature: float = 1.0, threshold: float = 0.5, hard: bool = False) -> None:
        super().__init__()
        _check_logits(torch.zeros(()), temperature)
        self.temperature = float(temperature)
        self.threshold = _check_threshold(threshold)
        self.hard = hard

    def forward(self, logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.training:
            return gumbel_sigmoid(logits, self.temperature, hard=self.hard, generator=generator)
        _check_logits(logits, self.temperature)
        return (torch.sigmoid(logits) > _check_threshold(self.threshold)).to(logits.dtype)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, threshold={self.threshold}, hard={self.hard}"


class GumbelSoftmaxGate(GumbelGate):
    """Gate for a two-logit head (UGSP style): ``(B, 2, h, w)`` -> keep mask ``(B, 1, h, w)``.

    Channel ``keep_index`` holds the "execute" logit. Training: :func:`gumbel_softmax` over the
    channels; evaluation: keep where its softmax probability exceeds ``threshold`` (0.5 = argmax).
    """

    def __init__(
        self, temperature: float = 1.0, threshold: float = 0.5, hard: bool = False, keep_index: int = 1
    ) -> None:
        super().__init__(temperature, threshold, hard)
        if keep_index not in (0, 1):
            raise ValueError(f"keep_index must be 0 or 1, got {keep_index}")
        self.keep_index = keep_index

    def forward(self, logits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        _check_logits(logits, self.temperature)
        if logits.dim() != 4 or logits.shape[1] != 2:
            raise ValueError(f"GumbelSoftmaxGate expects logits (B, 2, h, w), got {tuple(logits.shape)}")
        keep = slice(self.keep_index, self.keep_index + 1)
        if self.training:
            sample = gumbel_softmax(logits, self.temperature, hard=self.hard, dim=1, generator=generator)
            return sample[:, keep]
        prob = torch.softmax(logits, dim=1)[:, keep]
        return (prob > _check_threshold(self.threshold)).to(logits.dtype)
