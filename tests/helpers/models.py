"""Small skipping models and tile-engine building blocks shared by the skip, method and CUDA tests."""

from __future__ import annotations

import torch
from torch import nn

from dynskip.methods.skipvsr.v1.arch import SkipVSR
from dynskip.skip.plan import TilePlan
from dynskip.skip.tiles import random_tile_mask, tile_grid_shape


def random_plan(
    batch: int, h: int, w: int, tile: int, fraction: float, seed: int = 0, device: torch.device | str = "cpu"
) -> TilePlan:
    """A plan with exactly ``round(fraction * tiles)`` random active tiles per sample (seeded on the CPU)."""
    grid = tile_grid_shape(h, w, tile)
    mask = random_tile_mask(batch, grid, fraction, torch.Generator().manual_seed(seed), device=device)
    return TilePlan.from_mask(mask, tile, (h, w))


def res_block(c: int, bias: float = 0.0) -> nn.Sequential:
    """BasicVSR ResidualBlockNoBN's f: conv3x3 -> ReLU -> conv3x3 (bias pushed up to stress borders)."""
    block = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, c, 3, 1, 1))
    with torch.no_grad():
        block[0].bias.add_(bias)
    return block


def conv_prelu_chain(c_in: int, c: int, n: int) -> list[nn.Module]:
    """RIFE/UGSP style: n x (conv3x3 + PReLU(c))."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(c_in if i == 0 else c, c, 3, 1, 1), nn.PReLU(c)]
    return layers


def small_skipvsr(temporal_align: bool = True, tile: int = 8, seed: int = 0) -> SkipVSR:
    """SkipVSR at 16 channels / 6 blocks / 3 groups in eval mode, residuals big enough to show skipping."""
    torch.manual_seed(seed)
    model = SkipVSR(
        num_feat=16, num_block=6, num_groups=3, tile=tile, hidden=8, temporal_align=temporal_align
    )
    # Larger residuals than BasicSR's 0.1-scaled init so that skipping changes the output visibly.
    for trunk in (model.backward_trunk, model.forward_trunk):
        for block in trunk.residual_blocks:
            for conv in (block.conv1, block.conv2):
                torch.nn.init.normal_(conv.weight, std=0.05)
                torch.nn.init.normal_(conv.bias, std=0.05)
    return model.eval()


def random_skipvsr_policy(model: SkipVSR) -> None:
    """Random weights (std 1) and zero bias in the last layer of both confidence estimators."""
    for est in (model.backward_estimator, model.forward_estimator):
        torch.nn.init.normal_(est.net[-1].weight, std=1.0)
        torch.nn.init.zeros_(est.net[-1].bias)


def randomise_mask_heads(model: nn.Module, seed: int = 0, generator: torch.Generator | None = None) -> None:
    """UGSP-RIFE's mask heads: random weights in each head's last conv, zero bias. The weights come from
    ``generator`` when given (the caller draws on from it), else from a fresh one seeded ``seed``."""
    g = generator if generator is not None else torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for head in model.mask_heads.values():
            last = head.body[2]
            last.weight.copy_(torch.randn(last.weight.shape, generator=g))
            last.bias.zero_()
