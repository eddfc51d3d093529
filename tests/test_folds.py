"""K-fold splits: stratified by image classes, the layouts' folds, settings, out-of-fold
scores."""

import json

import numpy as np
import pytest

from zoo.cli import main
from zoo.data import load_training_data, write_scenes
from zoo.data.folds import fold_split, image_classes, stratified_folds


def test_folds_are_even_in_images_and_in_every_class():
    rng = np.random.default_rng(0)
    classes = [frozenset(int(c) for c in rng.choice(np.arange(1, 8), rng.integers(0, 4),
                                                     replace=False)) for _ in range(53)]
    classes[:3] = [frozenset({9})] * 3  # a rare class: one image in each of 3 folds
    fold = stratified_folds(classes, 5)
    sizes = np.bincount(fold, minlength=5)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 53
    for c in range(1, 10):
        holding = [fold[i] for i, held in enumerate(classes) if c in held]
        counts = np.bincount(holding, minlength=5)
        assert counts.max() - counts.min() <= 3, (c, counts)  # 1.6 to 2.4 images each
    assert len({fold[i] for i in range(3)}) == 3
    np.testing.assert_array_equal(stratified_folds(classes, 5), fold)  # deterministic


def test_fold_split_and_image_classes():
    masks = [np.zeros((4, 4), np.uint8), np.full((4, 4), 2, np.uint8)]
    assert image_classes(masks, 3) == [frozenset(), frozenset({2})]
    assert image_classes(masks, 1) == [frozenset(), frozenset({1})]
    train, val = fold_split(np.array([0, 1, 0, 1]), 1)
    assert (train, val) == ([0, 2], [1, 3])
    with pytest.raises(ValueError, match="an integer >= 2"):
        stratified_folds([frozenset()] * 4, 1)
    with pytest.raises(ValueError, match="5 folds need at least 5 annotated images"):
        stratified_folds([frozenset()] * 4, 5)


def test_the_folds_of_a_coco_set_cover_every_image_once(tmp_path):
    write_scenes(tmp_path, 7, size=32, num_classes=4)
    seen = []
    for i in range(3):
        data = load_training_data(tmp_path, "coco", coco="annotations.json", num_classes=4,
                                  folds=3, fold=i)
        assert len(data.images) + len(data.val_images) == 7
        assert f"fold {i} of 3" in data.description
        seen += data.val_files
    assert sorted(seen) == [f"{i:04d}" for i in range(7)]


@pytest.mark.parametrize("flags,match", [
    (["--folds", "1"], "folds must be 0 \\(off\\) or at least 2"),
    (["--fold", "0"], "--fold picks one of --folds K; pass --folds too"),
    (["--folds", "3", "--fold", "3"], "the folds are 0..2"),
    (["--folds", "3", "--final"], "--final trains on every image"),
    (["--folds", "3", "--val-data", "other"], "--val-data is a given split"),
])
def test_fold_settings_that_cannot_work_are_one_line(tmp_path, capsys, flags, match):
    write_scenes(tmp_path / "d", 4, size=32, num_classes=4)
    code = main(["train", "--data", str(tmp_path / "d"), "--coco", "annotations.json",
                 "--num-classes", "4", "--out", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert __import__("re").search(match, err), err
    assert not (tmp_path / "run" / "fold-0").exists()


def test_out_of_fold_maps_are_scored_together(tmp_path):
    """score_folds reads each fold's oof.npz and scores every image once."""
    from zoo.training import read_out_of_fold, score_folds

    rng = np.random.default_rng(0)
    everything = []
    for i in range(2):
        masks = [rng.integers(0, 3, (8, 8)).astype(np.uint8) for _ in range(2)]
        probs = [np.eye(3, dtype=np.float16)[m] for m in masks]  # perfect maps
        arrays = {"names": np.array([f"f{i}a", f"f{i}b"])}
        for j, (p, m) in enumerate(zip(probs, masks, strict=True)):
            arrays[f"prob_{j}"], arrays[f"mask_{j}"] = p, m
        (tmp_path / f"fold-{i}").mkdir()
        np.savez_compressed(tmp_path / f"fold-{i}" / "oof.npz", **arrays)
        everything += masks
    names, maps, masks = read_out_of_fold(tmp_path / "fold-1" / "oof.npz")
    assert names == ["f1a", "f1b"] and maps[0].dtype == np.float32
    partial = score_folds(tmp_path, 3)
    assert partial["done"] == [0, 1] and not (tmp_path / "oof.json").exists()
    record = score_folds(tmp_path, 2)
    assert record["out_of_fold"]["miou"] == pytest.approx(1.0)
    assert json.loads((tmp_path / "oof.json").read_text())["images"] == 4
