"""Pictures: error colours, the figures' panels, training curves and ``zoo plot``."""

import json

import numpy as np
import pytest

from zoo import viz
from zoo.cli import main


def test_error_map_colours_each_kind_of_pixel():
    truth = np.array([[1, 1], [0, 0]])
    prediction = np.array([[1, 0], [1, 0]])
    rgb = viz.error_map(truth, prediction)
    np.testing.assert_array_equal(rgb[0, 0], [1, 1, 1])
    np.testing.assert_allclose(rgb[0, 1], viz.FALSE_NEGATIVE)
    np.testing.assert_allclose(rgb[1, 0], viz.FALSE_POSITIVE)
    np.testing.assert_array_equal(rgb[1, 1], [0, 0, 0])
    with pytest.raises(ValueError, match="0/255"):
        viz.error_map(truth * 255, prediction)


def test_prediction_and_weight_map_figures():
    rng = np.random.default_rng(0)
    image, truth = rng.random((24, 24)), (rng.random((24, 24)) > 0.5).astype(np.uint8)
    fig = viz.prediction_figure(image, truth, rng.random((24, 24, 1)), title="slice 20")
    assert len(fig.axes) == 4 and "false positive" in fig.get_suptitle()
    fig = viz.weight_map_figure(1 + 9 * rng.random((24, 24)), image)
    assert len(fig.axes) == 3  # image, map, colour bar
    with pytest.raises(ValueError, match=r"one \(H, W\) map"):
        viz.weight_map_figure(np.ones((2, 24, 24)))


def _run_dir(tmp_path, name="metrics.json"):
    run = tmp_path / "run"
    run.mkdir()
    history = [{"step": s, "loss": 1 / s, "val_v_rand": 0.8 + s / 1000, "val_iou": 0.7}
               for s in (100, 200, 300)]
    (run / name).write_text(json.dumps({"history": history}))
    return run


@pytest.mark.parametrize("name", ["metrics.json", "state.json"])
def test_zoo_plot_draws_a_finished_or_running_run(tmp_path, name, capsys):
    run, out = _run_dir(tmp_path, name), tmp_path / "curves.png"
    assert main(["plot", str(run), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", str(run), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_zoo_plot_names_a_folder_without_history(tmp_path, capsys):
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "c.png")]) == 2
    assert "holds no training history" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
