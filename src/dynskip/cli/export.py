"""``dynskip export``: a dense model as TorchScript or ONNX, checked numerically against eager PyTorch.

Both formats record one traced graph of fixed input size (BasicVSR: also a fixed clip length). RIFE's
large-motion restart (a data-dependent branch) is left out of the graph: the exported network is RIFE
without it, and the check compares it with eager RIFE run the same way.
"""

from __future__ import annotations

import argparse
import importlib.util
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from dynskip.cli.errors import CLIError
from dynskip.utils.atomic import atomic_file

EXPORTABLE = ("basicvsr", "rife")
TOLERANCE = 1e-4  # max abs difference from eager on [0, 1] frames
ONNX_PACKAGES = ("onnx", "onnxruntime")  # the exporter's output format, and the runtime that checks it


class _RIFEWithoutRestart(nn.Module):
    """RIFE's forward with the restart branch off: ``(img0, img1, timestep (B,)) -> frame``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, img0: Tensor, img1: Tensor, timestep: Tensor) -> Tensor:
        return self.net(img0, img1, timestep, allow_restart=False)


def export_inputs(name: str, size: tuple[int, int], frames: int, seed: int) -> tuple[Tensor, ...]:
    """Random example inputs of one forward: a ``(1, T, 3, H, W)`` clip or a pair and a timestep."""
    generator = torch.Generator().manual_seed(seed)
    h, w = size
    if name == "basicvsr":
        return (torch.rand(1, frames, 3, h, w, generator=generator),)
    pair = torch.rand(2, 1, 3, h, w, generator=generator)
    return pair[0], pair[1], torch.full((1,), 0.5)


def exportable_module(name: str, weights: str | None) -> nn.Module:
    from dynskip.evaluation.loading import default_weights
    from dynskip.models import build_model

    if name not in EXPORTABLE:
        raise CLIError(f"export supports the dense models {list(EXPORTABLE)}, got '{name}'")
    net = build_model(name, weights=weights or default_weights(name)).eval()
    return _RIFEWithoutRestart(net) if name == "rife" else net


def _max_difference(a: Tensor, b: Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def export_torchscript(module: nn.Module, inputs: tuple[Tensor, ...], path: Path) -> nn.Module:
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns that shape checks become constants: the graph is fixed-size by design.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(module, inputs, check_trace=False)
    traced.save(str(path))
    return torch.jit.load(str(path))


def _require_onnx() -> None:
    missing = [p for p in ONNX_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise CLIError(
            f"--format onnx needs the package(s) {missing}, missing from this environment: "
            f"pip install {' '.join(missing)} (--format torchscript needs nothing more)"
        )


def export_onnx(module: nn.Module, inputs: tuple[Tensor, ...], path: Path) -> Callable[..., Tensor]:
    """Write ONNX (opset 17, TorchScript-based exporter) and return a callable onnxruntime session."""
    import onnxruntime

    names = ["clip"] if len(inputs) == 1 else ["img0", "img1", "timestep"]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(module, inputs, str(path), input_names=names, output_names=["out"], dynamo=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(*tensors: Tensor) -> Tensor:
        feed = {n: t.numpy() for n, t in zip(names, tensors, strict=True)}
        return torch.from_numpy(session.run(None, feed)[0])

    return run


def export_model(args: argparse.Namespace) -> dict:
    """Export, reload and compare with eager on the trace inputs and on fresh ones of the same shape."""
    if args.format == "onnx":
        _require_onnx()
    module = exportable_module(args.model, args.weights)
    frames = args.frames if args.model == "basicvsr" else 1
    path = export_path(args)
    inputs = export_inputs(args.model, args.size, frames, seed=0)
    export = export_onnx if args.format == "onnx" else export_torchscript
    # Written beside PATH and renamed to it only once it matches eager: never a half or wrong file.
    with atomic_file(path, overwrite=getattr(args, "overwrite", False)) as temp:
        exported = export(module, inputs, temp)
        differences = []
        for seed in (0, 1):  # seed 1: values the trace never saw
            check = export_inputs(args.model, args.size, frames, seed)
            with torch.no_grad():
                differences.append(_max_difference(exported(*check), module(*check)))
        if max(differences) > TOLERANCE:
            raise CLIError(
                f"the exported {args.model} differs from eager by {max(differences):.3g} "
                f"(tolerance {TOLERANCE}); {path} was not written"
            )
    result = {
        "model": args.model,
        "format": args.format,
        "output": str(path),
        "input_size": list(args.size),
        "frames": frames,
        "max_abs_diff_vs_eager": max(differences),
    }
    return result


def export_path(args: argparse.Namespace) -> Path:
    """``-o``, or ``MODEL.pt`` / ``MODEL.onnx`` in the current folder."""
    return Path(args.out or f"{args.model}.{'onnx' if args.format == 'onnx' else 'pt'}")
