"""The shelf of trained checkpoints: every card matches its file, the model loads on the
backend under test with the card's reference probabilities, ``zoo predict --pretrained``
applies the card, and (slow, with ISBI 2012) the card's scores are recomputed."""

import json

import numpy as np
import pytest
from PIL import Image

from zoo import pretrained
from zoo.cli import main
from zoo.data import locate
from zoo.pretrained.cards import reference_input, reference_probabilities

NAMES = pretrained.list()


def test_the_shelf_holds_the_isbi_models():
    assert {"isbi2012/unet-quick", "isbi2012/unet-best"} <= set(NAMES)
    assert pretrained.card("isbi2012/unet-best")["final"] is True


@pytest.mark.parametrize("name", NAMES)
def test_every_card_matches_its_file_and_its_reference_probabilities(name):
    card = pretrained.card(name)
    assert pretrained.sha256(pretrained.path(name)) == card["sha256"]
    assert pretrained.path(name).stat().st_size == card["bytes"]
    model = pretrained.load(name)
    assert model.count_params() == card["parameters"]
    assert model.input_shape[-1] == 1 and model.output_shape[-1] == 1
    found = reference_probabilities(model)
    np.testing.assert_allclose(found, card["reference"]["probabilities"], atol=1e-4)
    assert card["terms"] and "/" not in card["settings"].get("data", "")
    assert card["final"] or set(card["scores"]) >= {"plain", "tta"}


@pytest.mark.parametrize("final", [False, True])
def test_a_finished_run_is_shelved_with_its_card(tmp_path, final):
    from fixtures import isbi_png_layout

    from zoo.pretrained.cards import shelve

    isbi_png_layout(tmp_path / "isbi", n=4, size=64)
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "isbi"), "--out", str(run),
                 "--train-slices", "0-2", "--val-slices", "3", "--filters", "4",
                 "--model-option", "depth=2", "--patch", "32", "--steps", "2",
                 "--checkpoint-every", "2", "--batch-size", "2", "--verbose", "0",
                 "--tta", "flips", "--postprocess", "watershed",
                 *(["--final"] if final else [])]) == 0
    card = json.loads(shelve(run, "set/tiny", note="Shared its machine.",
                             shelf=tmp_path / "shelf").read_text())
    keras_file = tmp_path / "shelf" / "set" / "tiny.keras"
    assert card["sha256"] == pretrained.sha256(keras_file) and card["final"] is final
    assert card["command"] == "zoo train --config config.toml --out runs/set/tiny"
    assert card["settings"]["tta"] == "flips" and "data" not in card["settings"]
    assert card["steps"] == 2 and card["precision"] == "float32"
    page = (tmp_path / "shelf" / "set" / "tiny.md").read_text()
    assert card["note"] == "Shared its machine." and "\nShared its machine.\n" in page
    if final:  # nothing held out to score it on
        assert card["scores"] == {} and card["inference"]["tta"] == "flips"
        assert "No validation scores: a final model" in page
    else:
        assert set(card["scores"]) == {"plain", "tta"} and card["tta_mode"] == "flips"
        assert {"v_rand", "post_v_rand"} <= set(card["scores"]["tta"])
        better = card["scores"]["tta"]["post_v_rand"] > card["scores"]["plain"]["post_v_rand"]
        assert card["inference"]["tta"] == ("flips" if better else None)
        assert "| flips TTA |" in page
    import keras

    model = keras.saving.load_model(keras_file)
    np.testing.assert_allclose(reference_probabilities(model),
                               card["reference"]["probabilities"], atol=1e-4)


def test_unknown_names_and_altered_files_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="no pretrained model 'isbi2012/unet-quik'; did you "
                       "mean isbi2012/unet-quick"):
        pretrained.load("isbi2012/unet-quik")
    shelf = tmp_path / "shelf"
    (shelf / "isbi2012").mkdir(parents=True)
    for suffix in (".json", ".keras"):
        source = pretrained.SHELF / f"isbi2012/unet-quick{suffix}"
        (shelf / "isbi2012" / source.name).write_bytes(source.read_bytes())
    keras_file = shelf / "isbi2012" / "unet-quick.keras"
    keras_file.write_bytes(keras_file.read_bytes() + b"\0")
    monkeypatch.setattr(pretrained, "SHELF", shelf)
    with pytest.raises(ValueError, match="does not match its card"):
        pretrained.load("isbi2012/unet-quick")


def test_predict_pretrained_applies_the_card_unless_overridden(tmp_path):
    image = (reference_input()[0, ..., 0] * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "section.png")
    out = tmp_path / "masks"
    assert main(["predict", "--pretrained", "isbi2012/unet-quick", str(tmp_path / "section.png"),
                 "--out", str(out)]) == 0
    settings = json.loads((out / "predict.json").read_text())
    inference = pretrained.card("isbi2012/unet-quick")["inference"]
    assert {k: settings[k] for k in inference} == inference
    assert (out / "section_mask.png").is_file() and (out / "section_prob.png").is_file()
    again = tmp_path / "plain"
    assert main(["predict", "--pretrained", "isbi2012/unet-quick", str(tmp_path / "section.png"),
                 "--out", str(again), "--tta", "none", "--no-watershed"]) == 0
    settings = json.loads((again / "predict.json").read_text())
    assert settings["tta"] is None and settings["watershed"] is False
    assert main(["predict", "--pretrained", "isbi2012/unet-quick", str(tmp_path / "a.png"),
                 str(tmp_path / "section.png"), "--out", str(tmp_path / "x")]) == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if not pretrained.card(n)["final"]])
def test_card_scores_are_recomputed_on_the_validation_slices(name):
    from zoo.pretrained.cards import recompute_scores

    try:
        root = locate("isbi2012")
    except FileNotFoundError as error:
        pytest.skip(f"ISBI 2012 is not here ({error})")
    card = pretrained.card(name)
    found = recompute_scores(pretrained.load(name), card, root)
    for mode, scores in card["scores"].items():
        for key, value in scores.items():
            assert found[mode][key] == pytest.approx(value, abs=2e-3), (mode, key)


@pytest.mark.slow
def test_the_wheel_carries_the_shelf_and_stays_small(tmp_path):
    """Every checkpoint, card and page is package data, and the wheel fits a Kaggle
    notebook's upload (under 50 MB)."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).parents[1]
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                    str(tmp_path), str(root)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.stat().st_size < 50e6
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in NAMES:
        for suffix in (".keras", ".json", ".md"):
            assert f"zoo/pretrained/{name}{suffix}" in names
