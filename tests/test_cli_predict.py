"""``zoo predict`` end to end on tiny files: folder, stack, resume, submission, bad input."""

import hashlib
import json
import re

import numpy as np
import pytest
import tifffile
from PIL import Image

import zoo
from zoo.cli import main

RNG = np.random.default_rng(0)
TILES = ["--tile-size", "32", "--overlap", "8"]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4})
    path = tmp_path_factory.mktemp("model") / "m.keras"
    model.save(path)
    return path


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(RNG.integers(0, 255, (40, 52), dtype=np.uint8)).save(
            images / f"{name}.png")
    return images


def checksums(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())}


def test_a_folder_gives_maps_masks_overlays_and_a_submission(model_path, folder, tmp_path):
    out, csv = tmp_path / "out", tmp_path / "submission.csv"
    assert main(["predict", str(model_path), str(folder), "--out", str(out), "--overlay",
                 "--rle", str(csv), *TILES]) == 0
    prob = np.asarray(Image.open(out / "a_prob.png"))
    mask = np.asarray(Image.open(out / "a_mask.png"))
    assert prob.dtype == np.uint16 and prob.shape == (40, 52)
    assert np.asarray(Image.open(out / "a_overlay.png")).shape == (40, 52, 3)
    import keras

    expected = zoo.predict_tiled(keras.saving.load_model(model_path),
                                 np.asarray(Image.open(folder / "a.png")) / 255.0,
                                 tile_size=32, overlap=8)[..., 0]
    np.testing.assert_allclose(prob / 65535, expected, atol=1 / 65535)
    assert set(np.unique(mask)) <= {0, 255}
    decided = np.abs(expected - 0.5) > 1e-4  # an untrained model sits near 0.5
    np.testing.assert_array_equal((mask == 255)[decided], (expected > 0.5)[decided])
    rows = csv.read_text().splitlines()
    assert rows[0] == "ImageId,EncodedPixels" and [r.split(",")[0] for r in rows[1:]] == [
        "a", "b", "c"]
    assert json.loads((out / "predict.json").read_text())["threshold"] == 0.5


def test_an_interrupted_folder_resumes_without_redoing_finished_files(
        model_path, folder, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["predict", str(model_path), str(folder), "--out", str(out), *TILES]
    assert main(args) == 0
    (out / "b_prob.png").unlink()  # as if stopped while writing b's outputs
    before = checksums(out)
    assert main(args) == 0
    assert "1 predicted, 2 skipped" in capsys.readouterr().out
    after = checksums(out)
    assert {k: v for k, v in after.items() if k != "b_prob.png"} == before
    assert "b_prob.png" in after and not list(out.glob(".*"))  # no temporary file left


def test_watershed_closes_a_gap_in_the_boundary_map(folder, tmp_path, capsys):
    """--watershed: the map written is the plain map closed by watershed_boundaries (here
    an identity model, so the map is the image: a membrane with a gap, which is closed);
    a folder predicted before the option existed still resumes; a multi-class model is
    refused by name."""
    import keras

    inputs = keras.Input((None, None, 1))
    identity = keras.Model(inputs, keras.layers.Conv2D(1, 1, use_bias=False,
                                                       kernel_initializer="ones")(inputs))
    model = tmp_path / "identity.keras"
    identity.save(model)
    membrane = np.full((40, 52), 10, np.uint8)
    membrane[:, 25:27] = 245
    membrane[18:21, 25:27] = 10  # a 3-px gap joining the two cells
    source = tmp_path / "membrane.png"
    Image.fromarray(membrane).save(source)
    out = tmp_path / "out"
    assert main(["predict", str(model), str(source), "--out", str(out), "--watershed",
                 *TILES]) == 0
    prob = np.asarray(Image.open(out / "membrane_prob.png")) / 65535
    plain = zoo.predict_tiled(identity, membrane / 255, tile_size=32, overlap=8)[..., 0]
    np.testing.assert_allclose(prob, zoo.postprocess.watershed_boundaries(plain),
                               atol=1 / 65535)
    assert prob[18:21, 25:27].max() > 0.99  # the gap is closed
    assert json.loads((out / "predict.json").read_text())["watershed"] is True

    # a folder predicted before --watershed existed resumes (its record lacks the key)
    earlier = tmp_path / "earlier"
    assert main(["predict", str(model), str(source), "--out", str(earlier), *TILES]) == 0
    record = json.loads((earlier / "predict.json").read_text())
    del record["watershed"]
    (earlier / "predict.json").write_text(json.dumps(record))
    assert main(["predict", str(model), str(source), "--out", str(earlier), *TILES]) == 0
    assert "0 predicted, 1 skipped" in capsys.readouterr().out

    classes = tmp_path / "classes.keras"
    zoo.unet((None, None, 1), 3, depth=2, encoder_options={"filters": 4}).save(classes)
    assert main(["predict", str(classes), str(folder), "--out", str(tmp_path / "out3"),
                 "--watershed", *TILES]) == 2
    assert "predicts 3 classes; drop --watershed" in capsys.readouterr().err
    assert not (tmp_path / "out3").exists()  # a run that failed at once leaves nothing

    # several outputs (deep supervision): the class check reads the mask output's
    nested = tmp_path / "nested.keras"
    zoo.unet_plus_plus((None, None, 1), 1, depth=2, deep_supervision=True,
                       encoder_options={"filters": 4}).save(nested)
    assert main(["predict", str(nested), str(folder), "--out", str(tmp_path / "out4"),
                 "--watershed", *TILES]) == 0


def test_a_tiff_stack_gives_float_maps_and_a_mask_stack(model_path, tmp_path):
    stack = RNG.integers(0, 255, (3, 40, 52), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "s.tif", stack, photometric="minisblack")
    out = tmp_path / "out"
    assert main(["predict", str(model_path), str(tmp_path / "s.tif"), "--out", str(out),
                 *TILES]) == 0
    probs = tifffile.imread(out / "s_prob.tif")  # one gray page per section
    assert probs.dtype == np.float32 and probs.shape == (3, 40, 52)
    assert tifffile.imread(out / "s_mask.tif").shape == (3, 40, 52)


def _float_tiff(path):
    tifffile.imwrite(path, RNG.uniform(0, 255, (40, 52)).astype(np.float32))
    return path


def _rgb_png(path):
    Image.fromarray(RNG.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.parametrize("make_input,extra,words", [
    (_rgb_png, [], "has 3 channel.*takes 1: convert"),
    (_float_tiff, [], r"x.tif holds float pixels in \[.*must be in \[0, 1\].*rescale"),
    (lambda p: p / "missing.png", [], "input not found"),
    (_rgb_png, ["--threshold", "1.5"], "--threshold must be between 0 and 1"),
])
def test_bad_input_exits_2_with_one_line(model_path, tmp_path, capsys, make_input, extra,
                                         words):
    source = make_input(tmp_path / ("x.tif" if make_input is _float_tiff else "x.png"))
    out = tmp_path / "out"
    assert main(["predict", str(model_path), str(source), "--out", str(out), *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("zoo predict: error:")
    assert re.search(words, error), error
    assert not out.exists()  # a run that failed at once leaves no folder behind


def test_a_folder_of_other_files_or_settings_is_never_overwritten(model_path, folder, tmp_path,
                                                                  capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the user's file")
    args = ["predict", str(model_path), str(folder), "--out", str(out), *TILES]
    assert main(args) == 2 and "not empty" in capsys.readouterr().err
    assert checksums(out) == {"notes.txt": hashlib.sha256(b"the user's file").hexdigest()}

    out2 = tmp_path / "out2"
    assert main([*args[:4], str(out2), *TILES]) == 0
    before = checksums(out2)
    assert main([*args[:4], str(out2), *TILES, "--threshold", "0.3"]) == 2
    assert "other settings (threshold)" in capsys.readouterr().err
    assert checksums(out2) == before
    csv = tmp_path / "submission.csv"
    csv.write_text("mine")
    assert main([*args[:4], str(out2), *TILES, "--rle", str(csv)]) == 2
    assert csv.read_text() == "mine" and checksums(out2) == before


def test_a_multi_class_model_writes_both_submission_forms_that_parse_back(folder, tmp_path,
                                                                          capsys):
    from zoo.kaggle import read_class_submission, read_id_strings, resized_ids

    classes = tmp_path / "classes.keras"
    zoo.unet((None, None, 1), 3, depth=2, encoder_options={"filters": 4}).save(classes)
    out, rle, ids = tmp_path / "out", tmp_path / "rle.csv", tmp_path / "ids.csv"
    assert main(["predict", str(classes), str(folder), "--out", str(out), "--rle", str(rle),
                 "--class-ids", str(ids), "--class-ids-size", "20x26", *TILES]) == 0
    assert f"submission {rle}; submission {ids}" in capsys.readouterr().out
    masks = {n: np.array(Image.open(out / f"{n}_mask.png")) for n in ("a", "b", "c")}
    assert tifffile.imread(out / "a_prob.tif").shape == (40, 52, 3)  # every class's map
    assert rle.read_text().splitlines()[0] == "ImageId,ClassId,EncodedPixels"
    assert len(rle.read_text().splitlines()) == 1 + 3 * 2  # a row per image and class 1, 2
    back = read_class_submission(rle, {n: (40, 52) for n in masks})
    assert all(np.array_equal(back[n], masks[n]) for n in masks)
    small = read_id_strings(ids, {n: (20, 26) for n in masks})
    assert all(np.array_equal(small[n], resized_ids(masks[n], (20, 26))) for n in masks)
    assert main(["predict", str(classes), str(folder), "--out", str(out), "--class-ids",
                 str(ids), *TILES]) == 2
    assert "ids.csv exists" in capsys.readouterr().err
