"""``flops_report``: params, dense MACs per frame, per-unit savable MACs; tiny models registered here."""

from __future__ import annotations

import json

import pytest
import torch
from torch import Tensor, nn

from dynskip.flops import dummy_inputs, flops_report
from dynskip.models import build_model
from dynskip.skip.protocol import SkipKnobs, SkipUnit
from dynskip.zoo import registry

C = 4


class TinyVSR(SkipKnobs, nn.Module):
    """Per frame: conv_in 3->C, one prunable 3x3 C->C block (a skip unit), conv_out C->3."""

    def __init__(self) -> None:
        nn.Module.__init__(self)
        self.conv_in = nn.Conv2d(3, C, 3, padding=1)
        self.block = nn.Conv2d(C, C, 3, padding=1)
        self.conv_out = nn.Conv2d(C, 3, 3, padding=1)

    def skip_units(self) -> list[SkipUnit]:
        return [SkipUnit("block", "trunk", macs_per_pixel=C * C * 9, halo=1)]

    def skip_report(self):
        raise NotImplementedError

    def forward(self, clip: Tensor) -> Tensor:
        b, t = clip.shape[:2]
        x = clip.flatten(0, 1)
        feat = self.conv_in(x)
        return self.conv_out(feat + self.block(feat)).view(b, t, 3, *x.shape[-2:])


class TinyVFI(nn.Module):
    """A pair model with data-dependent control flow (``.item()``): meta counting must fall back to CPU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(6, 3, 3, padding=1)
        self.down = nn.Conv2d(6, 8, 3, stride=2, padding=1)

    def forward(self, img0: Tensor, img1: Tensor) -> Tensor:
        x = torch.cat([img0, img1], 1)
        if x.mean().item() > -1.0:
            self.down(x)
        return self.conv(x)


@pytest.fixture
def tiny_models():
    names = {"_tiny_vsr": (TinyVSR, "vsr"), "_tiny_vfi": (TinyVFI, "vfi")}
    for name, (cls, task) in names.items():
        registry.register_model(name, load_weights=lambda m, p: None, task=task)(cls)
    yield names
    for name in names:
        del registry._REGISTRY[name]


def test_flops_report_vsr_per_frame_and_units(tiny_models) -> None:
    report = flops_report("_tiny_vsr", size=(8, 12), frames=3)
    per_pixel = 3 * C * 9 + C * C * 9 + C * 3 * 9
    assert report["task"] == "vsr" and report["frames"] == 3 and report["size"] == [8, 12]
    assert report["params"] == sum(p.numel() for p in TinyVSR().parameters())
    assert report["counted_on"] == "meta"
    assert report["gmacs_dense_per_frame"] == pytest.approx(per_pixel * 8 * 12 / 1e9)
    assert report["gmacs_dense"] == pytest.approx(3 * per_pixel * 8 * 12 / 1e9)
    (unit,) = report["skip_units"]
    assert unit["name"] == "block" and unit["gmacs_per_frame"] == pytest.approx(C * C * 9 * 96 / 1e9)
    assert report["prunable_share"] == pytest.approx(C * C * 9 / per_pixel)
    assert report["max_speedup"] == pytest.approx(per_pixel / (per_pixel - C * C * 9))
    json.dumps(report)  # JSON-ready


def test_flops_report_counts_the_dense_mode(tiny_models, monkeypatch) -> None:
    seen: list[str] = []
    original = TinyVSR.forward

    def spy(self, clip):
        seen.append(self.execution_mode)
        return original(self, clip)

    monkeypatch.setattr(TinyVSR, "forward", spy)
    flops_report("_tiny_vsr", size=(4, 4), frames=2)
    assert seen == ["dense"]


def test_flops_report_vfi_falls_back_to_cpu(tiny_models) -> None:
    report = flops_report("_tiny_vfi", size=(6, 10), frames=9)
    assert report["counted_on"] == "cpu"
    assert report["frames"] == 1  # one pair -> one frame, whatever --frames says
    expected = 6 * 3 * 9 * 60 + 6 * 8 * 9 * 3 * 5
    assert report["gmacs_dense_per_frame"] == pytest.approx(expected / 1e9)
    assert "skip_units" not in report


def test_dummy_inputs_shapes() -> None:
    (clip,) = dummy_inputs("vsr", (5, 7), 4)
    assert clip.shape == (1, 4, 3, 5, 7)
    pair = dummy_inputs("vfi", (5, 7), 4)
    assert [x.shape for x in pair] == [(1, 3, 5, 7), (1, 3, 5, 7)]


def test_flops_report_exceptions(tiny_models) -> None:
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        flops_report("nope")
    with pytest.raises(ValueError, match=r"size must be positive \(H, W\), got \(0, 4\)"):
        flops_report("_tiny_vsr", size=(0, 4))
    with pytest.raises(ValueError, match="frames must be >= 1, got 0"):
        flops_report("_tiny_vsr", size=(4, 4), frames=0)
    with pytest.raises(ValueError, match="unknown task 'audio'"):
        dummy_inputs("audio", (4, 4), 1)


@pytest.mark.slow
def test_flops_report_registered_models() -> None:
    basicvsr = flops_report("basicvsr", size=(180, 320), frames=15)
    assert basicvsr["params"] == 6_291_311  # basicvsr.md
    # basicvsr.md: 377 GMACs per frame with two SpyNet flows (39.3 G) per frame; a 15-frame clip
    # has 14 flow pairs per direction, so SpyNet costs 39.3 * 14 / 15 per frame.
    assert basicvsr["gmacs_dense_per_frame"] == pytest.approx(377.0 - 39.3 / 15, rel=0.005)
    rife = flops_report("rife", size=(64, 64))
    assert rife["counted_on"] == "cpu" and rife["gmacs_dense_per_frame"] > 0


def test_flops_report_prices_units_at_the_size_they_ran() -> None:
    # ugsp-rife pads 100x100 to 128x128 before its blocks run: the units' MACs count the padding, and
    # their shares add up to no more than the whole (before, they were priced at 100x100).
    report = flops_report("ugsp-rife", size=(100, 100))
    units = {u["name"]: u for u in report["skip_units"]}
    block3 = build_model("ugsp-rife").skip_units()
    per_pixel = next(u for u in block3 if u.name == "block3.convblock").macs_per_pixel
    assert units["block3.convblock"]["gmacs_per_frame"] == pytest.approx(per_pixel * 32 * 32 / 1e9)
    ran = sum(u["share_of_dense"] for name, u in units.items() if name != "uncertainty_head")
    assert ran == pytest.approx(1.0, abs=0.01)  # every conv of RIFE is a unit
    assert report["prunable_share"] == pytest.approx(0.72, abs=0.01)
