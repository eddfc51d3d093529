"""``zoo evaluate`` on tiny files: saved maps, a model, the boundary target, bad input."""

import json

import numpy as np
import pytest
from PIL import Image

import zoo
from zoo.cli import main


def _objects():
    mask = np.zeros((32, 40), np.uint8)
    mask[4:12, 4:14] = 1
    mask[18:28, 20:36] = 1
    return mask


def _layout(tmp_path, probs_of_mask):
    labels, maps = tmp_path / "labels", tmp_path / "maps"
    labels.mkdir()
    maps.mkdir()
    for name in ("a", "b"):
        mask = _objects() if name == "a" else _objects()[:, ::-1]
        Image.fromarray(mask * 255).save(labels / f"{name}.png")
        probs = probs_of_mask(mask)
        Image.fromarray(np.round(probs * 65535).astype(np.uint16)).save(maps / f"{name}_prob.png")
        Image.fromarray(mask * 255).save(maps / f"{name}_mask.png")  # ignored: not a _prob map
    return maps, labels


def test_perfect_maps_score_one_and_write_json(tmp_path, capsys):
    maps, labels = _layout(tmp_path, lambda mask: mask.astype(float))
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(maps), str(labels), "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| a |" in table and "| mean |" in table
    record = json.loads(out.read_text())
    assert set(record["images"]) == {"a", "b"}
    assert record["mean"] == pytest.approx({"iou": 1, "dice": 1, "pixel_error": 0,
                                            "v_rand": 1, "v_info": 1,
                                            "warping_error": 0})
    assert main(["evaluate", str(maps), str(labels), "--json", str(out)]) == 2  # kept
    assert "--overwrite" in capsys.readouterr().err


def test_a_merge_costs_v_rand_but_few_pixels(tmp_path):
    def bridged(mask):
        probs = mask.astype(float)
        flipped = mask[4, 5] == 0  # b: the objects mirrored left to right
        probs = probs[:, ::-1] if flipped else probs
        probs[11:20, 12:14] = 1  # a thin bridge joins the two objects
        probs[18:20, 12:21] = 1
        return probs[:, ::-1] if flipped else probs

    maps, labels = _layout(tmp_path, bridged)
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(maps), str(labels), "--json", str(out)]) == 0
    mean = json.loads(out.read_text())["mean"]
    assert mean["pixel_error"] < 0.03 and mean["iou"] > 0.85 and mean["v_rand"] < 0.8


def test_boundary_target_scores_membrane_maps(tmp_path):
    cells = np.ones((32, 32), np.uint8)
    cells[:, 15:17] = 0  # a membrane between two cells
    labels, maps = tmp_path / "labels", tmp_path / "maps"
    labels.mkdir()
    maps.mkdir()
    Image.fromarray(cells * 255).save(labels / "s.png")
    Image.fromarray((1 - cells).astype(np.uint16) * 65535).save(maps / "s_prob.png")
    out = tmp_path / "scores.json"
    assert main(["evaluate", str(maps), str(labels), "--target", "boundary", "--json",
                 str(out)]) == 0
    assert json.loads(out.read_text())["mean"]["v_rand"] == pytest.approx(1.0)


def test_a_model_is_predicted_and_scored(tmp_path, capsys):
    model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4})
    model.save(tmp_path / "m.keras")
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    Image.fromarray(_objects() * 200).save(images / "a.png")
    Image.fromarray(_objects() * 255).save(labels / "a.png")
    assert main(["evaluate", str(tmp_path / "m.keras"), str(labels), "--images",
                 str(images)]) == 0
    assert "| a |" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "m.keras"), str(labels)]) == 2
    assert "needs --images" in capsys.readouterr().err


def test_unpaired_maps_and_wrong_sizes_exit_2(tmp_path, capsys):
    maps, labels = _layout(tmp_path, lambda mask: mask.astype(float))
    (labels / "b.png").unlink()
    assert main(["evaluate", str(maps), str(labels)]) == 2
    assert "1 of 2 probability maps (NAME_prob) have no mask" in capsys.readouterr().err
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(labels / "b.png")
    assert main(["evaluate", str(maps), str(labels)]) == 2
    assert "b_prob.png is (32, 40) but its labels b.png are (8, 8)" in capsys.readouterr().err


def test_empty_labels_score_iou_by_the_empty_rule_and_skip_v_rand_with_a_note(tmp_path,
                                                                               capsys):
    maps, labels = _layout(tmp_path, lambda mask: mask.astype(float))
    empty = np.zeros((32, 40), np.uint8)
    Image.fromarray(empty).save(labels / "c.png")
    Image.fromarray(empty.astype(np.uint16)).save(maps / "c_prob.png")  # empty, predicted empty
    Image.fromarray(empty).save(labels / "d.png")
    Image.fromarray(np.full((32, 40), 65535, np.uint16)).save(maps / "d_prob.png")  # all wrong
    assert main(["evaluate", str(maps), str(labels), "--json", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out
    assert "skip 2 of 4 image(s) whose labels hold no object (c, d)" in out
    record = json.loads((tmp_path / "s.json").read_text())
    assert record["images"]["c"]["iou"] == 1 and record["images"]["d"]["iou"] == 0
    assert record["images"]["c"]["v_rand"] is None and record["no_object"] == ["c", "d"]
    assert record["mean"]["v_rand"] == 1 and record["mean"]["iou"] == 0.75
