"""D1 / D3 for the outputs the new CLI vocabulary added (issue 21 x issue 22): ``--json PATH`` of
upscale / interpolate, ``--save-masks`` and ``export``'s file are checked like every other output,
before the model loads."""

from __future__ import annotations

import json

from outputs_helpers import cli_ok, snapshot

from dynskip.cli.errors import CLIError
from dynskip.utils.atomic import SameFileError
from helpers.clips import tiny_video


def test_interpolate_json_over_an_existing_file_needs_overwrite(tmp_path, no_model, cli_fails):
    src = tiny_video(tmp_path / "in.mp4", frames=3)
    (tmp_path / "runs.json").write_text('{"mine": 1}')
    before = snapshot(tmp_path)
    argv = ["interpolate", str(src), "-o", str(tmp_path / "out.mp4"), "--json", str(tmp_path / "runs.json")]
    cli_fails(argv, FileExistsError, r"runs\.json exists; pass --overwrite")
    assert snapshot(tmp_path) == before


def test_upscale_masks_onto_the_input_are_refused_even_with_overwrite(tmp_path, no_model, cli_fails):
    src = tiny_video(tmp_path / "in.mp4", frames=3)
    before = snapshot(tmp_path)
    argv = ["upscale", str(src), "-o", str(tmp_path / "out"), "--save-masks", str(src), "--overwrite"]
    cli_fails(argv, SameFileError, r"in\.mp4 is the input")
    assert snapshot(tmp_path) == before


def test_interpolate_masks_onto_the_output_are_refused(tmp_path, no_model, cli_fails):
    src, out = tiny_video(tmp_path / "in.mp4", frames=3), tmp_path / "out.mp4"
    argv = ["interpolate", str(src), "-o", str(out), "--model", "ugsp-rife", "--save-masks", str(out)]
    cli_fails(argv, CLIError, r"--save-masks .*out\.mp4 is also the output")
    assert not out.exists()


def test_evaluate_masks_onto_the_input_are_refused(tmp_path, no_model, cli_fails):
    src = tiny_video(tmp_path / "in.mp4", frames=3)
    before = snapshot(tmp_path)
    argv = ["evaluate", str(src), "--model", "ugsp-rife", "--save-masks", str(src)]
    cli_fails(argv, SameFileError, r"in\.mp4 is the input")
    assert snapshot(tmp_path) == before


def test_evaluate_json_and_out_naming_one_file_write_it_once(tmp_path):
    src, out = tiny_video(tmp_path / "in.mp4", frames=3, size=(32, 32)), tmp_path / "r.json"
    cli_ok(["evaluate", str(src), "--model", "rife", "--repeats", "1", "-o", str(out), "--json", str(out)])
    assert json.loads(out.read_text())["model"] == "rife"


def test_export_over_an_existing_file_needs_overwrite(tmp_path, no_model, cli_fails):
    (tmp_path / "rife.pt").write_bytes(b"the user's own")
    before = snapshot(tmp_path)
    cli_fails(["export", "--model", "rife", "-o", str(tmp_path / "rife.pt")], FileExistsError,
              r"rife\.pt exists; pass --overwrite")  # fmt: skip
    assert snapshot(tmp_path) == before


def test_export_onto_its_own_weights_is_refused_even_with_overwrite(tmp_path, no_model, cli_fails):
    weights = tmp_path / "mine.pt"
    weights.write_bytes(b"a checkpoint")
    before = snapshot(tmp_path)
    argv = ["export", "--model", "rife", "--weights", str(weights), "-o", str(weights), "--overwrite"]
    cli_fails(argv, SameFileError, r"mine\.pt is the input")
    assert snapshot(tmp_path) == before


def test_export_replaces_its_file_with_overwrite(tmp_path):
    out = tmp_path / "rife.pt"
    out.write_bytes(b"an older export")
    cli_ok(["export", "--model", "rife", "--size", "32x48", "-o", str(out), "--overwrite"])
    assert out.read_bytes() != b"an older export"
    assert [p.name for p in tmp_path.iterdir()] == ["rife.pt"]  # no temporary left beside it


def test_bench_json_and_out_naming_one_file_write_it_once(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["bench", "engine", "--fractions", "1,0.5", "--repeats", "1", "--size", "16x16", "--depth", "1"]
    cli_ok([*argv, "-o", str(out), "--json", str(out)])
    assert len(json.loads(out.read_text())["rows"]) == 2
