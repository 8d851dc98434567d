"""flow_warp_at: the dense warp read at a few positions (smoke / cardinality / exception)."""

from __future__ import annotations

import pytest
import torch

from dynskip.archs.warp import flow_warp, flow_warp_at


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_flow_warp_at_equals_dense_warp_at_the_positions(padding_mode: str) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 5, 9, 13)
    flow = 3 * torch.randn(2, 2, 9, 13)  # some samples fall outside: padding mode matters
    index = torch.tensor([0, 7, 12, 50, 116])  # corners and the interior of the 9 x 13 grid
    out = flow_warp_at(x, flow, index, padding_mode)
    assert out.shape == (2, 5, 5)
    expected = flow_warp(x, flow, padding_mode).flatten(2)[:, :, index]
    torch.testing.assert_close(out, expected, atol=0, rtol=0)


def test_flow_warp_at_rejects_bad_shapes() -> None:
    x, flow = torch.rand(1, 3, 4, 4), torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="index"):
        flow_warp_at(x, flow, torch.zeros(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="differ"):
        flow_warp_at(x, torch.zeros(1, 2, 4, 5), torch.tensor([0]))
