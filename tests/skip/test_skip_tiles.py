"""Tile-mask utilities: smoke, cardinality, exceptions, gradcheck and properties."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dynskip.skip.tiles import (
    active_fraction,
    dilate_tiles,
    pixel_to_tile,
    random_tile_mask,
    resize_tile_mask,
    tile_grid_shape,
    tile_statistics,
    tile_to_pixel,
)

FAST = settings(max_examples=25, deadline=None)


def test_grid_shape_rounds_up_for_partial_tiles():
    assert tile_grid_shape(180, 320, 16) == (12, 20)
    assert tile_grid_shape(17, 5, 8) == (3, 1)
    assert tile_grid_shape(8, 8, 8) == (1, 1)


@pytest.mark.parametrize("args", [(0, 4, 2), (4, 4, 0), (4, -1, 2), (4, 4, 2.0), (4, 4, True)])
def test_grid_shape_rejects_non_positive_ints(args):
    with pytest.raises(ValueError, match="must be a positive int"):
        tile_grid_shape(*args)


def test_pixel_to_tile_any_and_fraction_on_partial_tiles():
    mask = torch.zeros(1, 5, 7, dtype=torch.bool)
    mask[0, 4, 6] = True  # the single pixel of the bottom-right partial tile (tile 4)
    mask[0, 0, 0] = True  # 1 of 16 pixels of the top-left tile
    any_rule = pixel_to_tile(mask, 4)
    assert any_rule.shape == (1, 2, 2) and any_rule.dtype == torch.bool
    assert any_rule.tolist() == [[[True, False], [False, True]]]
    # the bottom-right tile holds 1 x 3 in-image pixels, one active: 1/3
    frac = pixel_to_tile(mask, 4, rule="fraction", min_fraction=0.3)
    assert frac.tolist() == [[[False, False], [False, True]]]
    assert not pixel_to_tile(mask, 4, rule="fraction", min_fraction=0.4).any()


def test_pixel_to_tile_accepts_float_and_channel_dim():
    soft = torch.full((2, 1, 6, 6), 0.4)
    soft[1, 0, 5, 5] = 0.9
    out = pixel_to_tile(soft, 3)
    assert out.shape == (2, 2, 2)
    assert out.sum().item() == 1 and out[1, 1, 1]


@pytest.mark.parametrize(
    ("mask", "kwargs", "error", "match"),
    [
        (torch.zeros(2, 3, 4, 4), {}, ValueError, r"\(B, H, W\) or \(B, 1, H, W\)"),
        (torch.zeros(4, 4), {}, ValueError, "got \\(4, 4\\)"),
        (torch.zeros(1, 4, 4, dtype=torch.int64), {}, TypeError, "torch.int64"),
        (torch.zeros(1, 4, 4), {"rule": "all"}, ValueError, "'all'"),
        (torch.zeros(1, 4, 4), {"rule": "fraction", "min_fraction": 0.0}, ValueError, "min_fraction"),
        (torch.zeros(1, 4, 4), {"tile": 0}, ValueError, "tile must be a positive int, got 0"),
    ],
)
def test_pixel_to_tile_errors(mask, kwargs, error, match):
    tile = kwargs.pop("tile", 2)
    with pytest.raises(error, match=match):
        pixel_to_tile(mask, tile, **kwargs)


def test_tile_to_pixel_crops_partial_tiles():
    tm = torch.tensor([[[True, False], [False, True]]])
    px = tile_to_pixel(tm, 4, (5, 7))
    assert px.shape == (1, 1, 5, 7) and px.dtype == torch.float32
    assert px[0, 0, :4, :4].eq(1).all() and px[0, 0, 4:, 4:].eq(1).all()
    assert px[0, 0, :4, 4:].eq(0).all() and px[0, 0, 4:, :4].eq(0).all()


def test_tile_to_pixel_errors():
    tm = torch.ones(1, 2, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"expected grid \(3, 2\)"):
        tile_to_pixel(tm, 4, (9, 8))
    with pytest.raises(ValueError, match=r"\(B, Ht, Wt\)"):
        tile_to_pixel(tm[0], 4, (8, 8))
    with pytest.raises(TypeError, match="bool or floating"):
        tile_to_pixel(tm.long(), 4, (8, 8))
    with pytest.raises(ValueError, match="size must be"):
        tile_to_pixel(tm, 4, (8,))


def test_tile_to_pixel_gradcheck_on_soft_masks():
    soft = torch.rand(2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda m: tile_to_pixel(m, 3, (5, 7)), (soft,))


def test_dilate_tiles_grows_eight_neighbourhood_and_clips_at_borders():
    tm = torch.zeros(1, 4, 5, dtype=torch.bool)
    tm[0, 0, 0] = True
    grown = dilate_tiles(tm, 1)
    assert grown[0, :2, :2].all() and grown.sum() == 4
    assert dilate_tiles(tm, 2).sum() == 9
    assert torch.equal(dilate_tiles(tm, 0), tm)
    with pytest.raises(ValueError, match="radius must be an int >= 0, got -1"):
        dilate_tiles(tm, -1)


def test_tile_statistics_mean_counts_only_in_image_pixels():
    x = torch.arange(5 * 7, dtype=torch.float32).view(1, 1, 5, 7)
    mean = tile_statistics(x, 4)
    assert mean.shape == (1, 1, 2, 2)
    assert mean[0, 0, 1, 1].item() == pytest.approx(x[0, 0, 4:, 4:].mean().item())
    assert tile_statistics(x, 4, "max")[0, 0, 1, 0].item() == x[0, 0, 4, 3].item()
    with pytest.raises(ValueError, match="'median'"):
        tile_statistics(x, 4, "median")
    with pytest.raises(TypeError, match="floating"):
        tile_statistics(x.long(), 4)


def test_tile_statistics_gradcheck():
    x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: tile_statistics(t, 4), (x,))


def test_resize_tile_mask_up_down_and_crop():
    tm = torch.tensor([[[True, False], [False, False]]])
    up = resize_tile_mask(tm, 2)
    assert up.shape == (1, 4, 4) and up.sum() == 4 and up[0, :2, :2].all()
    assert resize_tile_mask(tm, 2, grid=(3, 4)).shape == (1, 3, 4)
    down = resize_tile_mask(up, 0.5)
    assert torch.equal(down, tm)
    # any-pooling: one active fine tile keeps its coarse tile
    fine = torch.zeros(1, 3, 3, dtype=torch.bool)
    fine[0, 2, 2] = True
    assert resize_tile_mask(fine, 0.5).tolist() == [[[False, False], [False, True]]]
    with pytest.raises(ValueError, match="integer or the inverse"):
        resize_tile_mask(tm, 1.5)
    with pytest.raises(ValueError, match=r"grid \(2, 4\) does not match"):
        resize_tile_mask(tm, 2, grid=(2, 4))


def test_active_fraction_tiles_and_pixels():
    tm = torch.tensor([[[True, False], [False, False]], [[True, True], [True, True]]])
    assert active_fraction(tm).tolist() == [0.25, 1.0]
    # 5x7 map, tile 4: the top-left tile holds 16 of 35 pixels
    assert active_fraction(tm, 4, (5, 7))[0].item() == pytest.approx(16 / 35)
    with pytest.raises(ValueError, match="both tile and size"):
        active_fraction(tm, 4)


def test_random_tile_mask_exact_count_per_sample():
    mask = random_tile_mask(3, (5, 7), 0.3, torch.Generator().manual_seed(0))
    assert mask.shape == (3, 5, 7) and mask.dtype == torch.bool
    assert mask.flatten(1).sum(1).tolist() == [round(0.3 * 35)] * 3
    assert not random_tile_mask(1, (2, 2), 0.0).any()
    with pytest.raises(ValueError, match="fraction must be in"):
        random_tile_mask(1, (2, 2), 1.5)


@FAST
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    tile=st.integers(1, 16),
    seed=st.integers(0, 2**16),
)
def test_property_tile_roundtrip(h, w, tile, seed):
    """tile -> pixel -> tile ("any") is the identity, and pixel coverage matches the area."""
    ht, wt = tile_grid_shape(h, w, tile)
    assert ht == math.ceil(h / tile) and (ht - 1) * tile < h <= ht * tile
    tm = torch.rand(2, ht, wt, generator=torch.Generator().manual_seed(seed)) < 0.5
    px = tile_to_pixel(tm, tile, (h, w))
    assert torch.equal(pixel_to_tile(px, tile), tm)
    assert torch.equal(pixel_to_tile(px > 0, tile, rule="fraction", min_fraction=1.0), tm)
    assert torch.allclose(active_fraction(tm, tile, (h, w)), px.flatten(1).mean(1))


@FAST
@given(ht=st.integers(1, 8), wt=st.integers(1, 8), radius=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_property_dilation_is_monotone_and_matches_chebyshev_distance(ht, wt, radius, seed):
    tm = torch.rand(1, ht, wt, generator=torch.Generator().manual_seed(seed)) < 0.3
    grown = dilate_tiles(tm, radius)
    assert (grown | tm).eq(grown).all()  # contains the input
    active = tm[0].nonzero()
    for y in range(ht):
        for x in range(wt):
            near = bool(len(active)) and bool(
                ((active - torch.tensor([y, x])).abs().max(1).values <= radius).any()
            )
            assert bool(grown[0, y, x]) == near
