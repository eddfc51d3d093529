"""Ensembles: several models' probabilities averaged, in Python and the command line."""

import json

import numpy as np
import pytest
from PIL import Image

import zoo
from zoo.cli import main
from zoo.inference import check_ensemble, predict_ensemble
from zoo.saving import model_files

TILES = ["--tile-size", "32", "--overlap", "8"]


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    folder = tmp_path_factory.mktemp("members")
    paths = []
    for i, (name, encoder) in enumerate((("unet", "plain"), ("unet_plus_plus", "plain"))):
        import keras

        keras.utils.set_random_seed(i)
        model = zoo.build(name, input_shape=(None, None, 1), num_classes=3, depth=2,
                          encoder=encoder, encoder_options={"filters": 4})
        paths.append(folder / f"{name}.keras")
        model.save(paths[-1])
    return paths


def test_the_ensemble_is_the_weighted_mean_of_its_members(members):
    from zoo.saving import load_model

    models = [load_model(p) for p in members]
    image = np.random.default_rng(0).random((40, 52, 1), "float32")
    mean, maps = predict_ensemble(models, image, weights=[3, 1], members=True, tile_size=32,
                                  overlap=8)
    for model, got in zip(models, maps, strict=True):
        np.testing.assert_array_equal(got, zoo.predict_tiled(model, image, tile_size=32,
                                                             overlap=8))
    np.testing.assert_allclose(mean, 0.75 * maps[0] + 0.25 * maps[1], rtol=1e-6)
    assert mean.shape == (40, 52, 3) and mean.dtype == np.float32


def test_members_that_cannot_be_averaged_are_refused(members):
    from zoo.saving import load_model

    models = [load_model(p) for p in members]
    other = zoo.unet((None, None, 1), 2, depth=2, encoder_options={"filters": 4})
    with pytest.raises(ValueError, match="same channels and predict the same classes"):
        check_ensemble(models + [other])
    with pytest.raises(ValueError, match="2 ensemble weights for 1 models"):
        check_ensemble(models[:1], [1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        check_ensemble(models, [1, -1])
    assert check_ensemble(models, [2, 2]) == [0.5, 0.5]


def test_model_files_of_runs_and_k_fold_runs(tmp_path, members):
    assert model_files(members[0]) == [members[0]]
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(members[0].read_bytes())
    assert model_files(run) == [run / "model.keras"]
    folds = tmp_path / "folds"
    (folds / "fold-0").mkdir(parents=True)
    (folds / "config.toml").write_text("folds = 2\n")
    (folds / "fold-0" / "model.keras").write_bytes(members[0].read_bytes())
    with pytest.raises(FileNotFoundError, match=r"fold\(s\) \[1\] of 2 have no model.keras"):
        model_files(folds)
    (folds / "fold-1").mkdir()
    (folds / "fold-1" / "model.keras").write_bytes(members[1].read_bytes())
    assert model_files(folds) == [folds / "fold-0" / "model.keras",
                                  folds / "fold-1" / "model.keras"]


def test_predict_and_evaluate_an_ensemble_from_the_command_line(members, tmp_path, capsys):
    rng = np.random.default_rng(1)
    images, labels = tmp_path / "images", tmp_path / "labels"
    images.mkdir()
    labels.mkdir()
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (40, 52), dtype=np.uint8)).save(
            images / f"{name}.png")
        Image.fromarray(rng.integers(0, 3, (40, 52), dtype=np.uint8)).save(
            labels / f"{name}.png")
    out = tmp_path / "out"
    paths = [str(p) for p in members]
    assert main(["predict", *paths, str(images), "--out", str(out), "--ensemble-weights",
                 "3,1", "--tta", "flips", *TILES]) == 0
    record = json.loads((out / "predict.json").read_text())
    assert record["model"]["weights"] == [3.0, 1.0] and len(record["model"]["ensemble"]) == 2
    from zoo.data.io import read_pages
    from zoo.saving import load_model

    models = [load_model(p) for p in members]
    expected = predict_ensemble(models, np.asarray(Image.open(images / "a.png")) / 255.0,
                                weights=[3, 1], tta="flips", tile_size=32, overlap=8)
    np.testing.assert_allclose(read_pages(out / "a_prob.tif")[0], expected, atol=1e-6)
    capsys.readouterr()
    assert main(["evaluate", *paths, str(labels), "--images", str(images), "--json",
                 str(tmp_path / "scores.json")]) == 0
    printed = capsys.readouterr().out
    assert "| ensemble |" in printed and "vs the best member's" in printed
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert set(scores["members"]) == set(paths) and 0 <= scores["miou"] <= 1
    assert main(["predict", *paths, str(images), "--out", str(tmp_path / "o2"),
                 "--ensemble-weights", "1,2,3"]) == 2
    assert "gives 3 weight(s) for 2 model" in capsys.readouterr().err
    assert main(["evaluate", paths[0], str(out), str(labels)]) == 2
    assert "is no model" in capsys.readouterr().err
