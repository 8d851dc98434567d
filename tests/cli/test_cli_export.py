"""`dynskip export`: TorchScript (and ONNX where its packages exist) round-trips of the dense models."""

import importlib.util
import json

import pytest
import torch

from dynskip.cli.main import main
from dynskip.models import build_model


@pytest.mark.parametrize(
    ("model", "size", "extra", "inputs"),
    [
        (
            "rife",
            "32x48",
            [],
            lambda: (torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48), torch.full((1,), 0.5)),
        ),
        ("basicvsr", "16x16", ["--frames", "3"], lambda: (torch.rand(1, 3, 3, 16, 16),)),
    ],
)
def test_torchscript_export_matches_eager(model, size, extra, inputs, tmp_path, capsys):
    out = tmp_path / f"{model}.pt"
    assert main(["export", "--model", model, "--size", size, *extra, "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_abs_diff_vs_eager"] <= 1e-4 and report["output"] == str(out)
    # Independently of the command's own check: the file reloads and matches eager on new inputs.
    exported = torch.jit.load(str(out))
    eager = build_model(model, weights="rife-v3.9" if model == "rife" else "reds4").eval()
    torch.manual_seed(3)
    args = inputs()
    with torch.no_grad():
        expected = eager(*args[:2], 0.5, allow_restart=False) if model == "rife" else eager(*args)
        assert torch.allclose(exported(*args), expected, atol=1e-4)


def test_export_refuses_skipping_models(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--model", "ugsp-rife"])
    assert "invalid choice: 'ugsp-rife'" in capsys.readouterr().err


@pytest.mark.skipif(
    all(importlib.util.find_spec(p) for p in ("onnx", "onnxruntime")), reason="ONNX packages are installed"
)
def test_onnx_without_its_packages_names_them(tmp_path, capsys):
    assert main(["export", "--model", "rife", "--format", "onnx", "-o", str(tmp_path / "r.onnx")]) == 2
    err = capsys.readouterr().err
    assert "--format onnx needs the package(s)" in err and "onnx" in err and "pip install" in err
    assert not (tmp_path / "r.onnx").exists()


@pytest.mark.skipif(
    not all(importlib.util.find_spec(p) for p in ("onnx", "onnxruntime")), reason="needs onnx and onnxruntime"
)
def test_onnx_export_matches_eager(tmp_path, capsys):
    out = tmp_path / "rife.onnx"
    assert (
        main(["export", "--model", "rife", "--format", "onnx", "--size", "32x48", "-o", str(out), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["max_abs_diff_vs_eager"] <= 1e-4
