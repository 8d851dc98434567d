"""`--save-masks`: a video of each output with the skip masks the model reported for it."""

import numpy as np
import torch

from dynskip.cli.main import main
from dynskip.data.io import to_uint8_hwc
from dynskip.data.video import probe_video, read_video
from dynskip.evaluation.loading import load_model
from dynskip.evaluation.masks import frame_maps
from dynskip.utils.images import make_row, normalise_map, overlay_map
from helpers.clips import write_scene_clip


def _clip(path, frames=3):
    return read_video(write_scene_clip(path, frames))


def test_interpolate_draws_the_reported_masks_over_each_output(tmp_path):
    frames = _clip(tmp_path / "in")
    masks = tmp_path / "masks"
    argv = ["interpolate", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "ugsp-rife"]
    assert main([*argv, "--device", "cpu", "--save-masks", str(masks)]) == 0
    drawn = read_video(masks)
    assert drawn.shape[0] == 2  # one row per interpolated frame
    # The first row, rebuilt from the model's own report on the first pair.
    model = load_model("ugsp-rife")
    pair = [torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in frames[:2]]
    with torch.inference_mode():
        out = model(*pair, 0.5)[0]
    maps = frame_maps(model.skip_report().maps)
    assert sorted(maps) == ["mask/block2", "mask/block3"]
    row = make_row([out, *(overlay_map(out, normalise_map(m[0])) for m in maps.values())])
    assert np.abs(drawn[0].astype(int) - to_uint8_hwc(row).astype(int)).max() <= 1


def test_upscale_and_evaluate_draw_skipvsr_masks_per_frame(tmp_path, capsys):
    _clip(tmp_path / "in", frames=4)
    up = ["upscale", str(tmp_path / "in"), "-o", str(tmp_path / "out.mp4"), "--model", "skipvsr"]
    assert main([*up, "--chunk", "2", "--overlap", "1", "--save-masks", str(tmp_path / "up.mp4")]) == 0
    assert probe_video(tmp_path / "up.mp4").frames == 4
    assert probe_video(tmp_path / "up.mp4").size[1] == 3 * (256 + 4)  # output + two trunks' masks
    ev = ["evaluate", str(tmp_path / "in"), "--model", "skipvsr", "--repeats", "1"]
    assert main([*ev, "--save-masks", str(tmp_path / "ev")]) == 0
    assert "skip masks (frames/backward_trunk, frames/forward_trunk)" in capsys.readouterr().err
    assert probe_video(tmp_path / "ev").frames == 4
    assert main([*ev, "--save-masks", str(tmp_path / "ev")]) == 2  # never replaced silently
    assert f"--save-masks {tmp_path / 'ev'} exists" in capsys.readouterr().err


def test_save_masks_of_a_dense_model_is_refused_before_any_output(tmp_path, capsys):
    _clip(tmp_path / "in")
    out = tmp_path / "out.mp4"
    argv = ["interpolate", str(tmp_path / "in"), "-o", str(out), "--save-masks", str(tmp_path / "m.mp4")]
    assert main(argv) == 2
    assert "--save-masks needs a skipping model" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "m.mp4").exists()
