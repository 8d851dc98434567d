"""`dynskip report` over several sweep folders and `evaluate --json` files: one front per source,
overlaid in one plot, one table section each; bad inputs are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dynskip.analysis.report as report_module
from dynskip.analysis import write_report
from dynskip.cli.main import main as cli
from helpers.sweeps import fabricate_sweep


@pytest.fixture
def drawn_panels(monkeypatch: pytest.MonkeyPatch) -> list:
    """The panels handed to the plot (the real figure is still written)."""
    panels: list = []
    real = report_module.pareto_figure

    def capture(given, path, title=None):
        panels.extend(given)
        return real(given, path, title)

    monkeypatch.setattr(report_module, "pareto_figure", capture)
    return panels


def shift_psnr(sweep: Path, delta: float) -> Path:
    for metrics in sweep.glob("*/metrics.json"):
        data = json.loads(metrics.read_text())
        data["test/psnr"] += delta
        metrics.write_text(json.dumps(data))
    return sweep


def evaluate_result(threshold: float, psnr: float, gmacs: float, speedup: float) -> dict:
    """Shaped as `dynskip evaluate --compare-dense --json` writes it."""
    return {
        "model": "ugsp-rife",
        "weights": "rife-v3.9",
        "ckpt": None,
        "threshold": threshold,
        "task": "vfi",
        "psnr": psnr,
        "ssim": 0.95,
        "gmacs_per_frame": gmacs,
        "seconds_per_frame": 0.1,
        "dense": {"psnr": 30.7, "gmacs_per_frame": 2.63, "baseline": "same model, every unit active"},
        "speedup": speedup,
        "psnr_drop": 30.7 - psnr,
        "macs_saved_fraction": 1 - gmacs / 2.63,
    }


def test_two_sweep_folders_are_overlaid(tmp_path: Path, drawn_panels: list) -> None:
    first = fabricate_sweep(tmp_path / "budgets_a")
    second = shift_psnr(fabricate_sweep(tmp_path / "budgets_b", failed=False), +1.0)
    report = write_report([first, second], tmp_path / "out")

    assert [f.source.name for f in report.sources] == ["budgets_a", "budgets_b"]
    front = ["model.budget=0.3,seed=1", "model.budget=0.5,seed=1", "model.budget=0.7,seed=1"]
    for fronts in report.sources:
        assert fronts.quality_key == "test/psnr" and sorted(j.name for j in fronts.front_cost) == front
    assert report.sources[1].best.value("test/psnr") == 33.0
    assert "budgets_b: model.budget=0.3,seed=1" in report.front_cost
    assert report.left_out == {
        "budgets_a: model.budget=0.9,seed=1": "no metrics.json (failed, killed or still running)"
    }

    cost_panel, speed_panel = drawn_panels
    assert [s.name for s in cost_panel.series] == ["budgets_a", "budgets_b"]
    a, b = cost_panel.series
    assert len(a.xs) == len(b.xs) == 4 and len(a.front) == len(b.front) == 3
    assert max(b.ys) - max(a.ys) == pytest.approx(1.0)  # each source's own points, not pooled
    assert [s.name for s in speed_panel.series] == ["budgets_a", "budgets_b"]

    table = report.table.read_text()
    assert "# Report: 2 sources overlaid" in table
    assert table.count("## budgets_") == 2 and table.count("| `model.budget=") == 9
    summary = json.loads(report.summary.read_text())
    assert [s["name"] for s in summary["sources"]] == ["budgets_a", "budgets_b"]
    assert summary["sources"][0]["front_cost"] == [j.name for j in report.sources[0].front_cost]
    assert report.pareto.is_file() and report.gallery is None


def test_evaluate_results_form_one_front_per_model_and_baseline(tmp_path: Path, drawn_panels: list) -> None:
    files = []
    for threshold, psnr, gmacs, speedup in [
        (0.3, 30.69, 2.0, 1.1),
        (0.5, 30.65, 1.47, 1.27),
        (0.7, 30.1, 1.6, 1.2),
    ]:
        path = tmp_path / f"ugsp_rife_t{threshold}.json"
        path.write_text(json.dumps(evaluate_result(threshold, psnr, gmacs, speedup)))
        files.append(path)
    sweep = fabricate_sweep(tmp_path / "sweep", failed=False)
    report = write_report([sweep, *files], tmp_path / "out")

    names = [f.source.name for f in report.sources]
    assert names == ["sweep", "ugsp-rife (rife-v3.9)", "ugsp-rife dense (same model, every unit active)"]
    model, dense = report.sources[1], report.sources[2]
    assert (model.quality_key, model.cost_key, model.speed_key) == ("psnr", "gmacs_per_frame", "speedup")
    # threshold 0.7 is worse and dearer than 0.5: off the cost front.
    assert sorted(j.overrides["threshold"] for j in model.front_cost) == [0.3, 0.5]
    assert [j.value("speedup") for j in dense.source.jobs] == [1.0, 1.0, 1.0]
    assert [len(s.xs) for s in drawn_panels[0].series] == [4, 3, 3]


def test_report_cli_with_two_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = fabricate_sweep(tmp_path / "a", failed=False)
    second = fabricate_sweep(tmp_path / "b", failed=False)
    assert cli(["report", str(first), str(second), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "a: 4 jobs (4 with metrics.json)" in out and "b: 4 jobs (4 with metrics.json)" in out
    assert (tmp_path / "out" / "pareto.png").is_file() and not (first / "report").exists()


def test_bad_inputs_are_named(tmp_path: Path) -> None:
    sweep = fabricate_sweep(tmp_path / "sweep", failed=False)
    with pytest.raises(ValueError, match=r"an output folder is needed for 2 inputs"):
        write_report([sweep, sweep])
    with pytest.raises(FileNotFoundError, match=r"report input .*nowhere.json does not exist"):
        write_report([sweep, tmp_path / "nowhere.json"], tmp_path / "out")
    not_a_result = tmp_path / "flops.json"
    not_a_result.write_text(json.dumps({"model": "rife", "gmacs": 2.6}))
    with pytest.raises(ValueError, match=r"flops\.json: expected a `dynskip evaluate --json` result"):
        write_report([sweep, not_a_result], tmp_path / "out")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match=r"broken\.json is not valid JSON"):
        write_report([broken], tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written for a bad input
