"""Competition data: COCO annotations, colour masks with a colour table, a given
validation split (zoo.data.coco, zoo.data.scenes, the coco layout of zoo train)."""

import json

import numpy as np
import pytest

pytest.importorskip("pycocotools", reason="COCO files are read with pycocotools (the "
                    "coco extra)")

from zoo.cli import main  # noqa: E402
from zoo.data import load_training_data, read_coco, synthetic_scenes, write_scenes  # noqa: E402
from zoo.data.coco import encode_rle  # noqa: E402


def _hand_built(root):
    """One 8x10 image: a large square (category 7) under a small object (category 3),
    given as a polygon, compressed RLE and uncompressed RLE."""
    from PIL import Image

    (root / "images").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 10), np.uint8)).save(root / "images" / "a.png")
    small = np.zeros((8, 10), bool)
    small[2:4, 2:5] = True
    column_major = np.zeros((8, 10), bool)
    column_major[6:8, 8:10] = True  # uncompressed RLE: counts along columns
    runs = [8 * 8 + 6, 2, 6, 2]
    coco = {"images": [{"id": 5, "file_name": "a.png", "height": 8, "width": 10}],
            "categories": [{"id": 7, "name": "glass"}, {"id": 3, "name": "paper"}],
            "annotations": [
                {"id": 1, "image_id": 5, "category_id": 3, "iscrowd": 0,
                 "segmentation": encode_rle(small)},
                {"id": 2, "image_id": 5, "category_id": 7, "iscrowd": 0,
                 "segmentation": [[1, 1, 7, 1, 7, 6, 1, 6]]},  # polygon x, y
                {"id": 3, "image_id": 5, "category_id": 7, "iscrowd": 1,
                 "segmentation": {"size": [8, 10], "counts": runs}}]}
    (root / "train.json").write_text(json.dumps(coco))
    return root / "train.json", small, column_major


def test_categories_become_ids_and_smaller_objects_stay_on_top(tmp_path):
    path, small, column_major = _hand_built(tmp_path)
    found = read_coco(path)
    assert found.names == ["background", "paper", "glass"]  # by COCO id: 3, then 7
    mask = found.masks[0]
    assert (mask[small] == 1).all()  # paper, drawn last: smaller than the glass square
    assert (mask[column_major] == 2).all()  # the crowd region, from uncompressed RLE
    assert mask[4, 4] == 2 and mask[0, 0] == 0  # inside the polygon; outside everything
    assert found.files == ["a.png"] and found.images[0].shape == (8, 10, 1)


def test_scenes_round_trip_through_coco_and_colour_masks(tmp_path):

    path = write_scenes(tmp_path / "scenes", 3, size=64, seed=1, num_classes=6)
    _, masks, _ = synthetic_scenes(3, 64, 1, num_classes=6)
    found = read_coco(path)
    assert found.names[:3] == ["background", "disc", "square"] and len(found.names) == 6
    np.testing.assert_array_equal(np.stack(found.masks), masks)
    data = load_training_data(tmp_path / "scenes", "folder", masks="colour_masks",
                              colors="classes.json", num_classes=6, val_fraction=0.34)
    np.testing.assert_array_equal(np.stack(data.masks + data.val_masks), masks)
    assert data.names == found.names


def test_the_coco_layout_and_a_given_validation_split(tmp_path):
    root = tmp_path / "scenes"
    write_scenes(root, 3, size=64, seed=0, num_classes=4)
    val = write_scenes(tmp_path / "val", 2, size=64, seed=1, num_classes=4)
    (root / "val.json").write_text(val.read_text().replace('"images/', '"../val/images/'))
    data = load_training_data(root, "coco", coco="annotations.json", val_data="val.json",
                              num_classes=4)
    assert (len(data.images), len(data.val_images)) == (3, 2)
    assert data.names == ["background", "disc", "square", "triangle"]
    assert "3 images train, 2 given validate (val.json)" in data.description
    final = load_training_data(root, "coco", coco="annotations.json", val_data="val.json",
                               num_classes=4, final=True)
    assert (len(final.images), len(final.val_images)) == (5, 0)
    split = load_training_data(root, "coco", coco="annotations.json", num_classes=4)
    assert (len(split.images), len(split.val_images)) == (2, 1)


@pytest.mark.parametrize("change, match", [
    (lambda c: c.pop("categories"), "no 'categories'"),
    (lambda c: c["annotations"][0].update(category_id=9), "category ids \\[9\\]"),
    (lambda c: c["images"][0].update(height=9), "gives it 9x10"),
    (lambda c: c["images"][0].update(file_name="gone.png"), "lists gone.png"),
])
def test_bad_coco_files_are_named(tmp_path, change, match):
    path, _, _ = _hand_built(tmp_path)
    coco = json.loads(path.read_text())
    change(coco)
    path.write_text(json.dumps(coco))
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        read_coco(path)


def test_command_line_names_the_class_count_and_misplaced_flags(tmp_path, capsys):
    root = tmp_path / "scenes"
    write_scenes(root, 2, size=64, num_classes=4)
    out = ["--out", str(tmp_path / "run")]
    assert main(["train", "--data", str(root), "--coco", "annotations.json", *out]) == 2
    assert "3 categories, so 4 classes with the background; pass --num-classes 4" in \
        capsys.readouterr().err
    assert main(["train", "--data", str(root), "--coco", "annotations.json", "--layout",
                 "folder", *out]) == 2
    assert "drop --layout" in capsys.readouterr().err
    assert main(["train", "--data", str(root), "--colors", "nothing.json", "--num-classes",
                 "4", "--masks", "colour_masks", *out]) == 2
    assert "colour table not found" in capsys.readouterr().err


@pytest.mark.slow
def test_the_competition_flow_from_the_command_line(tmp_path, capsys):
    """zoo data scenes -> zoo train (COCO) -> zoo predict (both submission forms) ->
    zoo evaluate (mIoU, per-class table, confusion picture)."""
    root, run, preds = tmp_path / "scenes", tmp_path / "run", tmp_path / "preds"
    assert main(["data", "scenes", str(root), "--n", "4", "--size", "64", "--num-classes",
                 "4"]) == 0
    assert main(["train", "--data", str(root), "--coco", "annotations.json", "--num-classes",
                 "4", "--loss", "ce+dice", "--out", str(run), "--filters", "4",
                 "--model-option", "depth=2", "--patch", "32", "--steps", "2",
                 "--checkpoint-every", "2", "--batch-size", "2", "--verbose", "0"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["miou"] <= 1
    assert main(["predict", str(run / "model.keras"), str(root / "images"), "--out",
                 str(preds), "--rle", str(tmp_path / "rle.csv"), "--class-ids",
                 str(tmp_path / "ids.csv"), "--class-ids-size", "32x32"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(preds), str(root / "colour_masks"), "--colors",
                 str(root / "classes.json"), "--confusion", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "| 1 disc |" in out and "mIoU" in out and (tmp_path / "c.png").is_file()


@pytest.mark.slow
def test_k_fold_training_and_a_fold_ensemble_from_the_command_line(tmp_path, capsys):
    """COCO folder -> zoo train --folds 3 -> zoo predict with the three fold models and
    TTA -> zoo evaluate (mIoU, per-class table, confusion picture; the ensemble beside its
    members) -> a submission that parses back to the predicted masks."""
    from PIL import Image

    from zoo.kaggle import read_class_submission

    root, runs, preds = tmp_path / "scenes", tmp_path / "folds", tmp_path / "preds"
    assert main(["data", "scenes", str(root), "--n", "6", "--size", "64", "--num-classes",
                 "4"]) == 0
    train = ["train", "--data", str(root), "--coco", "annotations.json", "--num-classes", "4",
             "--loss", "ce+dice", "--folds", "3", "--out", str(runs), "--filters", "4",
             "--model-option", "depth=2", "--patch", "32", "--steps", "2",
             "--checkpoint-every", "2", "--batch-size", "2", "--tta", "flips", "--verbose", "0"]
    assert main(train) == 0
    oof = json.loads((runs / "oof.json").read_text())
    assert oof["images"] == 6 and sorted(oof["names"]) == [f"{i:04d}" for i in range(6)]
    assert set(oof["per_fold"]) == {"0", "1", "2"} and 0 <= oof["out_of_fold"]["miou"] <= 1
    capsys.readouterr()
    assert main(["train", "--out", str(runs), "--resume", "--verbose", "0"]) == 0
    assert capsys.readouterr().out.count(": done (") == 3

    csv = tmp_path / "submission.csv"
    assert main(["predict", str(runs), str(root / "images"), "--out", str(preds), "--tta",
                 "flips", "--rle", str(csv)]) == 0
    assert len(json.loads((preds / "predict.json").read_text())["model"]["ensemble"]) == 3
    masks = {p.stem[:-5]: np.asarray(Image.open(p)) for p in preds.glob("*_mask.png")}
    back = read_class_submission(csv, {name: m.shape for name, m in masks.items()})
    assert set(back) == set(masks)
    for name, mask in masks.items():
        np.testing.assert_array_equal(back[name], mask)

    capsys.readouterr()
    assert main(["evaluate", str(preds), str(root / "colour_masks"), "--colors",
                 str(root / "classes.json"), "--confusion", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "| 1 disc |" in out and "mIoU" in out and (tmp_path / "c.png").is_file()
    assert main(["evaluate", str(runs), str(root / "masks"), "--images", str(root / "images"),
                 "--tta", "flips"]) == 0
    out = capsys.readouterr().out
    assert "fold-2/model.keras |" in out and "| ensemble |" in out
