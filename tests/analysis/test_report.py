"""Sweep report on a fabricated multirun folder: jobs, Pareto fronts, table, plots, gallery, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from dynskip.analysis import load_sweep, pareto_front, write_report
from dynskip.analysis.jobs import parse_override, varying_overrides
from dynskip.cli.main import main as cli
from helpers.sweeps import fabricate_sweep


def test_pareto_front_directions() -> None:
    points = [(30.0, 1.0), (31.0, 2.0), (30.5, 2.1), (32.0, 3.0), (32.0, 3.0)]
    assert pareto_front(points) == [0, 1, 3, 4]  # duplicates both stay
    assert pareto_front(points, maximize=(True, True)) == [3, 4]
    with pytest.raises(ValueError, match="2 coordinates"):
        pareto_front([(1.0,)])


def test_parse_override() -> None:
    assert parse_override("model.budget=0.3") == ("model.budget", 0.3)
    assert parse_override("+trainer.foo=abc") == ("trainer.foo", "abc")
    assert parse_override("tags=[a,b]") == ("tags", ["a", "b"])


def test_load_sweep_reads_jobs_and_failures(tmp_path: Path) -> None:
    jobs = load_sweep(fabricate_sweep(tmp_path))
    assert len(jobs) == 5
    failed = [j for j in jobs if not j.ok]
    assert [j.name for j in failed] == ["model.budget=0.9,seed=1"] and "metrics.json" in failed[0].error
    assert varying_overrides(jobs) == ["model.budget", "seed"]
    job = next(j for j in jobs if j.name == "model.budget=0.3,seed=1")
    assert job.value(["nope", "test/psnr"]) == 30.0
    masks = job.mask_images()
    assert sorted(masks) == ["backward_mask", "forward_mask"]
    assert masks["forward_mask"].name.endswith("step0000004.png")  # the latest validation
    assert job.output_grid().name == "val_images_step0000004.png"


def test_write_report(tmp_path: Path) -> None:
    report = write_report(fabricate_sweep(tmp_path / "sweep"), tmp_path / "out")
    assert (report.quality_key, report.cost_key, report.speed_key) == (
        "test/psnr",
        "val/skip/gmacs_actual",
        "val/latency/speedup",
    )
    front = {"model.budget=0.3,seed=1", "model.budget=0.5,seed=1", "model.budget=0.7,seed=1"}
    assert set(report.front_cost) == front and set(report.front_speed) == front
    assert report.best.name == "model.budget=0.7,seed=1"
    for png in (report.pareto, report.gallery):
        with Image.open(png) as img:
            assert img.format == "PNG" and img.width > 200 and img.height > 100
    table = report.table.read_text()
    assert table.count("| `model.budget=") == 5  # every job, the failed one too
    assert "no metrics.json" in table
    assert "| 0.5 | 2 | 30.500 |" in table  # swept axes, then quality
    assert "Mean ± std over seeds" in table and "| 0.5 | 2 | 30.750 ± 0.354 (n=2) |" in table
    assert "| 0.3 | 1 | 30.000 (n=1) |" in table  # one seed: no spread claimed
    assert report.left_out == {"model.budget=0.9,seed=1": "no metrics.json (failed, killed or still running)"}
    assert "## Left out of the fronts and the plot (1 jobs)" in table
    summary = json.loads(report.summary.read_text())
    assert summary["best"] == report.best.name and len(summary["jobs"]) == 5
    assert summary["left_out"] == report.left_out


def test_job_missing_the_compared_metric_is_named(tmp_path: Path) -> None:
    """A job whose test stage did not run has only `val/psnr`; the others are compared on `test/psnr`,
    so it is left out of the fronts, and the report says so instead of dropping it silently."""
    sweep = fabricate_sweep(tmp_path / "sweep", failed=False)
    metrics = sweep / "model.budget=0.3,seed=1" / "metrics.json"
    data = json.loads(metrics.read_text())
    del data["test/psnr"]
    metrics.write_text(json.dumps(data))
    report = write_report(sweep)
    assert report.quality_key == "test/psnr"
    assert report.left_out == {"model.budget=0.3,seed=1": "metrics.json lacks `test/psnr`"}
    assert "model.budget=0.3,seed=1" not in report.front_cost + report.front_speed
    assert "- `model.budget=0.3,seed=1`: metrics.json lacks `test/psnr`" in report.table.read_text()


def test_report_without_cost_or_images(tmp_path: Path) -> None:
    job = tmp_path / "seed=1"
    job.mkdir()
    (job / "metrics.json").write_text(json.dumps({"val/psnr": 28.0}))
    report = write_report(tmp_path)
    assert report.quality_key == "val/psnr" and report.cost_key is None and report.gallery is None
    assert report.pareto.is_file() and report.front_cost == []


def test_report_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = fabricate_sweep(tmp_path, failed=False)
    assert cli(["report", str(sweep), "--quality", "val/psnr"]) == 0
    out = capsys.readouterr().out
    assert "4 jobs (4 with metrics.json)" in out and "report.md" in out
    assert "left out" not in out
    assert json.loads((sweep / "report" / "summary.json").read_text())["quality_key"] == "val/psnr"
    assert len(load_sweep(sweep)) == 4  # the report folder is not mistaken for a job


def test_missing_sweep_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_sweep(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no job found"):
        load_sweep(tmp_path)
