"""D4: a model without trained weights refuses inference unless --allow-random-weights, and then
every result says weights: random."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from outputs_helpers import cli_ok

from dynskip.config import compose_config
from dynskip.evaluation.loading import RandomWeightsError
from helpers.clips import tiny_video

EVAL_DATA = ["experiment=ugsp_eval_vimeo90k", "logger=none", "data.num_workers=0"]


def test_interpolate_with_an_untrained_model_is_refused_and_writes_nothing(tmp_path, cli_fails):
    src, out = tiny_video(tmp_path / "in.mp4", frames=3), tmp_path / "out.mp4"
    cli_fails(
        ["interpolate", str(src), "-o", str(out), "--model", "ugsp"],
        RandomWeightsError,
        r"'ugsp' has no built-in weights.*--allow-random-weights",
    )
    assert not out.exists()


def test_evaluate_with_an_untrained_model_is_refused(tmp_path, cli_fails):
    video = tiny_video(tmp_path / "in.mp4", frames=3, size=(32, 32))
    cli_fails(
        ["evaluate", str(video), "--model", "ugsp", "--repeats", "1"], RandomWeightsError, "random parameters"
    )


def test_allowed_random_weights_are_marked_in_the_table_and_json(tmp_path, capsys):
    video = tiny_video(tmp_path / "in.mp4", frames=3, size=(32, 32))
    out = tmp_path / "r.json"
    cli_ok(["evaluate", str(video), "--model", "ugsp", "--repeats", "1", "--allow-random-weights",
            "-o", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["weights"] == "random"
    table = capsys.readouterr().out
    assert "weights" in table and "random" in table


def test_hydra_eval_of_an_untrained_model_is_refused(tmp_path: Path, tiny_data_dir: Path):
    from dynskip.eval import evaluate

    cfg = compose_config("eval", [*EVAL_DATA, f"paths.data_dir={tiny_data_dir}"], tmp_path)
    with pytest.raises(RandomWeightsError, match="allow_random_weights=true"):
        evaluate(cfg)
    assert not (tmp_path / "metrics.json").exists()


def test_hydra_eval_allowed_untrained_says_so_in_metrics_json(tmp_path: Path, tiny_data_dir: Path):
    from dynskip.eval import evaluate

    overrides = [*EVAL_DATA, f"paths.data_dir={tiny_data_dir}", "allow_random_weights=true"]
    metrics = evaluate(compose_config("eval", overrides, tmp_path))
    assert metrics["weights"] == "random"
    assert json.loads((tmp_path / "metrics.json").read_text())["weights"] == "random"
