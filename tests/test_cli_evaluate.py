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


def _scene(seed: int) -> np.ndarray:
    """(24, 32) class ids 0..3: background and three rectangles."""
    ids = np.zeros((24, 32), np.uint8)
    rng = np.random.default_rng(seed)
    for c in (1, 2, 3):
        r, k = rng.integers(0, 16), rng.integers(0, 24)
        ids[r:r + 8, k:k + 8] = c
    return ids


def test_multi_class_maps_are_scored_as_one_confusion_matrix(tmp_path, capsys):
    import tifffile

    from zoo.confusion import ConfusionScores

    labels, maps = tmp_path / "labels", tmp_path / "maps"
    labels.mkdir()
    maps.mkdir()
    reference = ConfusionScores(4)
    for seed in range(3):
        truth = _scene(seed)
        guess = truth.copy()
        guess[:, :6] = (guess[:, :6] + 1) % 4  # a strip of wrong classes
        Image.fromarray(truth).save(labels / f"s{seed}.png")
        tifffile.imwrite(maps / f"s{seed}_prob.tif", np.eye(4, dtype=np.float32)[guess])
        reference.add(truth, guess)
    out_json, picture = tmp_path / "scores.json", tmp_path / "confusion.png"
    assert main(["evaluate", str(maps), str(labels), "--class-names", "bg,a,b,c",
                 "--per-image", "--json", str(out_json), "--confusion", str(picture)]) == 0
    out = capsys.readouterr().out
    expected = reference.report()
    assert f"mIoU {expected['miou']:.4f} over 4 classes" in out
    assert "| 1 a |" in out and "| s2 |" in out and "| labelled \\ predicted |" in out
    record = json.loads(out_json.read_text())
    assert record["miou"] == pytest.approx(expected["miou"])
    assert record["confusion"] == expected["confusion"]
    assert set(record["image_miou_each"]) == {"s0", "s1", "s2"}
    assert picture.stat().st_size > 1000
    assert main(["evaluate", str(maps), str(labels), "--confusion", str(picture)]) == 2
    assert "exists" in capsys.readouterr().err  # never overwritten without --overwrite


def test_a_multi_class_model_is_predicted_and_scored(tmp_path, capsys):
    model = zoo.unet((None, None, 1), 3, depth=2, encoder_options={"filters": 4})
    model.save(tmp_path / "m.keras")
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    Image.fromarray(_scene(0) * 60).save(images / "a.png")
    Image.fromarray(np.minimum(_scene(0), 2)).save(labels / "a.png")
    args = ["evaluate", str(tmp_path / "m.keras"), str(labels), "--images", str(images)]
    assert main(args + ["--ignore-index", "255"]) == 0
    assert "mIoU" in capsys.readouterr().out
    for extra, message in ((["--class-names", "a,b"], "gives 2 names; the predictions have 3"),
                           (["--ignore-index", "1"], "ignore_index 1 is one of the classes"),
                           (["--target", "boundary"], "drop --target")):
        assert main(args + extra) == 2
        assert message in capsys.readouterr().err


def test_class_flags_with_one_foreground_class_exit_2(tmp_path, capsys):
    maps, labels = _layout(tmp_path, lambda mask: mask.astype(float))
    assert main(["evaluate", str(maps), str(labels), "--per-image"]) == 2
    assert "--per-image go(es) with multi-class predictions" in capsys.readouterr().err
