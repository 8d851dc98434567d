"""Long `dynskip` commands end with a one-line summary; `evaluate --compile` times a compiled baseline."""

import json

import pytest

from dynskip.cli.main import main
from helpers.clips import write_scene_clip


@pytest.fixture(scope="module")
def smooth_clip(tmp_path_factory):
    return write_scene_clip(tmp_path_factory.mktemp("clip") / "frames")


def _summary(capsys, command: str) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith(f"{command}: ")]
    assert len(lines) == 1, lines
    return lines[0]


def test_evaluate_and_bench_end_with_a_summary(smooth_clip, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["evaluate", str(smooth_clip), "--model", "rife", "--repeats", "1", "-o", str(out)]) == 0
    line = _summary(capsys, "evaluate")
    assert line.startswith("evaluate: 1 frames in ") and line.endswith(f" s -> {out}")
    bench = ["bench", "engine", "--fractions", "0.5", "--repeats", "1", "--tile", "8", "--size", "16x24"]
    assert main([*bench, "--depth", "1"]) == 0
    assert _summary(capsys, "bench engine").endswith(" s -> no file written")


def test_evaluate_compile_reports_both_ratios(smooth_clip, capsys):
    # The eager backend runs TorchDynamo's capture without Inductor's C++ build: the plumbing, quickly.
    args = ["evaluate", str(smooth_clip), "--model", "ugsp-rife", "--compare-dense", "--repeats", "1"]
    assert main([*args, "--compile", "--compile-backend", "eager", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    compiled = result["compiled_dense"]
    assert compiled["backend"] == "eager" and compiled["psnr"] == pytest.approx(result["dense"]["psnr"])
    assert result["speedup_vs_compiled"] == pytest.approx(
        compiled["seconds_per_frame"] / result["seconds_per_frame"]
    )
    assert "speedup" in result


@pytest.mark.slow
def test_evaluate_compile_with_inductor(smooth_clip, capsys):
    args = ["evaluate", str(smooth_clip), "--model", "rife", "--repeats", "1", "--compile", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["compiled_dense"]["psnr"] == pytest.approx(result["psnr"], abs=0.05)
