"""``zoo train`` end to end on tiny data: ISBI, CTC and folder layouts, config, resume,
bad input (exit 2, one line, nothing of the user's touched, no folder left behind)."""

import hashlib
import json
import re
import shlex
from pathlib import Path

import keras
import numpy as np
import pytest
from fixtures import ctc_layout, drive_layout, isbi_png_layout, isbi_tiff_layout
from PIL import Image

from zoo.cli import main
from zoo.training import read_config

README = Path(__file__).parents[1] / "README.md"

TINY = ["--filters", "4", "--model-option", "depth=2", "--patch", "32", "--steps", "4",
        "--checkpoint-every", "2", "--batch-size", "2", "--verbose", "0"]


@pytest.fixture(scope="module")
def isbi(tmp_path_factory):
    root = tmp_path_factory.mktemp("isbi")
    isbi_png_layout(root, n=4, size=64)
    return root


@pytest.fixture(scope="module")
def isbi_run(isbi, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "isbi"
    assert main(["train", "--data", str(isbi), "--out", str(out), "--train-slices", "0-2",
                 "--val-slices", "3", *TINY]) == 0
    return out


def tree(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_isbi_run_writes_models_scores_and_its_resolved_config(isbi_run):
    assert {"config.toml", "checkpoint.keras", "state.json", "best.keras", "last.keras",
            "model.keras", "metrics.json"} <= set(tree(isbi_run))
    metrics = json.loads((isbi_run / "metrics.json").read_text())
    assert metrics["steps"] == 4 and {"v_rand", "v_info", "iou", "dice"} <= set(metrics)
    (session,) = metrics["sessions"]  # the machine and its reference, for the train seconds
    assert session["step"] == 0 and session["matmul_gflops"] > 0 and "cores" in session["machine"]
    config = read_config(isbi_run / "config.toml")
    assert config["layout"] == "isbi" and config["encoder_options"] == {"filters": 4}
    assert config["model_options"] == {"depth": 2} and config["loss"] == "wce+dice"


def test_a_finished_run_is_never_overwritten(isbi, isbi_run, capsys):
    before = tree(isbi_run)
    assert main(["train", "--data", str(isbi), "--out", str(isbi_run), *TINY]) == 2
    assert "holds an earlier run" in capsys.readouterr().err
    assert tree(isbi_run) == before


def test_resume_refuses_other_settings_and_finishes_a_finished_run(isbi_run, capsys):
    before = tree(isbi_run)
    assert main(["train", "--out", str(isbi_run), "--resume", "--lr", "0.1"]) == 2
    assert "lr=0.001 there, 0.1 here; drop --lr" in capsys.readouterr().err
    assert tree(isbi_run) == before
    assert main(["train", "--out", str(isbi_run), "--resume", "--verbose", "0"]) == 0
    assert json.loads((isbi_run / "metrics.json").read_text())["steps"] == 4


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_cut_before_its_first_checkpoint_starts_again(isbi_run, tmp_path, resume):
    """What a kill before the first checkpoint leaves (the settings, a cut pass's
    best.keras) is rerun, or resumed, from the start without deleting anything by hand."""
    out = tmp_path / "cut"
    out.mkdir()
    (out / "config.toml").write_bytes((isbi_run / "config.toml").read_bytes())
    (out / "best.keras").write_bytes((isbi_run / "best.keras").read_bytes())
    again = ["--resume"] if resume else ["--config", str(out / "config.toml")]
    assert main(["train", "--out", str(out), *again, "--verbose", "0"]) == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 4


def test_config_file_repeats_a_run_and_flags_override_it(isbi_run, tmp_path):
    out = tmp_path / "again"
    assert main(["train", "--config", str(isbi_run / "config.toml"), "--out", str(out),
                 "--steps", "2", "--loss", "focal+0.5*dice", "--verbose", "0"]) == 0
    config = read_config(out / "config.toml")
    assert config["loss"] == "focal+0.5*dice" and config["steps"] == 2
    assert config["encoder_options"] == {"filters": 4}  # from the file


def test_an_interrupted_run_resumes_where_it_stopped(isbi, tmp_path):
    out = tmp_path / "cut"
    args = ["train", "--data", str(isbi), "--out", str(out), "--train-slices", "0-2",
            "--val-slices", "3", *TINY]
    assert main([*args, "--train-minutes", "1e-6"]) == 0  # stops after its first step
    assert json.loads((out / "state.json").read_text())["step"] == 1
    xla = "on" if keras.backend.backend() == "jax" else "off"
    # The saved budget holds on resume (a preset's minutes count over all sessions) unless
    # given again; --xla is how the run is carried out: free to change (JAX always compiles)
    assert main(["train", "--out", str(out), "--resume", "--verbose", "0", "--xla", xla,
                 "--train-minutes", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # The cut pass counts as one of the two passes (zoo.training.train): one more pass.
    assert metrics["steps"] == 3
    assert [session["xla"] for session in metrics["sessions"]] == ["on", xla]


@pytest.mark.slow
def test_ctc_layout(tmp_path):
    ctc_layout(tmp_path / "ctc")
    out = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "ctc"), "--out", str(out), "--loss",
                 "ce+dice", *TINY]) == 0
    config = (out / "config.toml").read_text()
    assert 'layout = "ctc"' in config
    assert {"iou", "dice"} <= set(json.loads((out / "metrics.json").read_text()))


def folder_data(root, sizes=((40, 48), (48, 40), (36, 36), (44, 44))):
    """DRIVE-like names: images/N_training.png with manual/N_manual1.gif."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "manual").mkdir()
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            root / "images" / f"{i + 21}_training.png")
        mask = np.zeros((h, w), np.uint8)
        mask[8:20, 10:30] = 255
        Image.fromarray(mask).save(root / "manual" / f"{i + 21}_manual1.gif")
    return root


@pytest.mark.slow
def test_folder_to_submission_with_zoo_commands_alone(tmp_path, capsys):
    """The README's flow: a DRIVE-like folder (pairs by id, RGB, sizes differ), a local
    pretrained-weights file, then predict with a submission, evaluate, export."""
    from zoo.encoders.resnet import ResNet18

    data = folder_data(tmp_path / "drive")
    weights = tmp_path / "attached" / "resnet18.weights.h5"
    weights.parent.mkdir()
    ResNet18(input_shape=(None, None, 3)).save_weights(weights)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "--out", str(run), "--masks", "manual",
                 "--key", "id", "--val-fraction", "0.25", "--encoder", "resnet18",
                 "--encoder-weights", str(weights), "--loss", "focal+0.5*dice", "--keep",
                 "best", "--patch", "32", "--steps", "2", "--checkpoint-every", "2",
                 "--batch-size", "2", "--verbose", "0"]) == 0
    config = (run / "config.toml").read_text()
    assert 'layout = "folder"' in config and 'key = "id"' in config
    assert f'encoder_weights = "{weights}"' in config
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["keep"] == "best" and 0 <= metrics["iou"] <= 1

    preds, submission = tmp_path / "preds", tmp_path / "submission.csv"
    assert main(["predict", str(run / "model.keras"), str(data / "images"), "--out",
                 str(preds), "--tile-size", "32", "--overlap", "8", "--rle",
                 str(submission)]) == 0
    assert submission.read_text().splitlines()[0] == "ImageId,EncodedPixels"
    assert len(submission.read_text().splitlines()) == 5
    scores = tmp_path / "scores.json"
    assert main(["evaluate", str(preds), str(data / "manual"), "--key", "id", "--json",
                 str(scores)]) == 0
    assert {"iou", "dice", "v_rand"} <= set(json.loads(scores.read_text())["mean"])
    assert main(["export", str(run / "model.keras"), "--format", "keras"]) == 0
    assert "checked against Keras" in capsys.readouterr().out


def class_folder(root, top=2):
    """Grayscale class maps with ids 0..top."""
    rng = np.random.default_rng(1)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8)).save(
            root / "images" / f"{i}.png")
        mask = np.zeros((40, 40), np.uint8)
        mask[5:20, 5:20], mask[25:35, 10:30] = 1, top
        Image.fromarray(mask).save(root / "masks" / f"{i}.png")
    return root


@pytest.mark.slow
def test_class_maps_train_a_softmax_model(tmp_path):
    from keras.saving import load_model

    out = tmp_path / "run"
    assert main(["train", "--data", str(class_folder(tmp_path / "classes")), "--out",
                 str(out), "--num-classes", "3", "--loss", "ce+dice", *TINY]) == 0
    assert load_model(out / "model.keras").output_shape[-1] == 3
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["iou"] <= 1 and "num_classes = 3" in (out / "config.toml").read_text()


def test_class_ids_beyond_num_classes_are_refused(tmp_path, capsys):
    data = class_folder(tmp_path / "classes", top=4)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "r"),
                 "--num-classes", "3"]) == 2
    assert "a mask holds 4; pass --num-classes 5" in capsys.readouterr().err


def test_layouts_are_detected(isbi, tmp_path):
    from zoo.data import detect_layout, load_training_data

    isbi_tiff_layout(tmp_path / "tiff")
    ctc_layout(tmp_path / "ctc", frames=2, annotated=(0,))
    folder_data(tmp_path / "folder", sizes=((8, 8),))
    (tmp_path / "folder" / "manual").rename(tmp_path / "folder" / "masks")
    found = {name: detect_layout(root) for name, root in [
        ("png", isbi), ("tiff", tmp_path / "tiff"), ("ctc", tmp_path / "ctc"),
        ("folder", tmp_path / "folder")]}
    assert found == {"png": "isbi", "tiff": "isbi", "ctc": "ctc", "folder": "folder"}
    data = load_training_data(isbi, "auto", train_slices="0-2", val_slices="3")
    assert data.layout == "isbi" and len(data.images) == 3 and len(data.val_images) == 1


BAD = {
    "no data folder": (["--data", "{tmp}/nowhere"], "data folder not found"),
    "unknown layout": (["--data", "{tmp}"], "none of the layouts zoo train reads"),
    "bad loss": (["--data", "{isbi}", "--loss", "dice+boundary"], "cannot read the term"),
    "zero steps": (["--data", "{isbi}", "--steps", "0"], "steps must be a positive integer"),
    "ema out of range": (["--data", "{isbi}", "--ema", "1.5"], "ema is a momentum in [0, 1)"),
    "encoder option": (["--data", "{isbi}", "--encoder", "resnet18", "--filters", "8"],
                       "encoder 'resnet18' takes no option ['filters']"),
    "unknown encoder": (["--data", "{isbi}", "--encoder", "resnet35"], "resnet35"),
    "patch too large": (["--data", "{isbi}", "--train-slices", "0-2", "--val-slices", "3",
                         "--patch", "128"], "larger than an image"),
    "slices out of range": (["--data", "{isbi}"], "has 4 train slices (0..3)"),
    "resume nothing": (["--resume"], "no zoo train run in"),
    "missing config": (["--config", "{tmp}/run.toml"], "config file not found"),
    "no data at all": ([], "no data: pass --data DIR"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_exits_2_with_one_line_and_leaves_no_folder(case, isbi, tmp_path, capsys):
    args, message = BAD[case]
    before = tree(isbi)
    out = tmp_path / "run"
    args = [a.format(tmp=tmp_path, isbi=isbi) for a in args]
    assert main(["train", "--out", str(out), *args, "--verbose", "0"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("zoo train: error:"), err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and tree(isbi) == before


def test_a_config_with_unknown_settings_is_refused(tmp_path, isbi, capsys):
    config = tmp_path / "run.toml"
    config.write_text(f'data = "{isbi}"\nepochs = 3\n')
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert re.search(r"unknown settings \['epochs'\]", capsys.readouterr().err)
    config.write_text(f'data = "{isbi}"\nlr = "fast"\n')
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert "setting lr = 'fast': expected a float like the default 0.001" in (
        capsys.readouterr().err)


def readme_commands(*words: str) -> list[list[str]]:
    """The README's ``zoo`` command lines that contain every one of ``words``, as argv."""
    lines = [line.split("#")[0] for line in README.read_text().splitlines()]
    return [shlex.split(line)[1:] for line in lines
            if line.startswith("zoo ") and all(word in line for word in words)]


def test_the_readme_drive_commands_train_predict_and_evaluate(tmp_path, monkeypatch, capsys):
    """DRIVE as it ships (LZW RGB TIFF images, GIF manual masks, a field-of-view mask
    folder beside them), run with the README's own commands (the training made tiny)."""
    drive_layout(tmp_path / "DRIVE")
    monkeypatch.chdir(tmp_path)
    commands = readme_commands("drive")
    assert [argv[0] for argv in commands] == ["train", "predict", "evaluate"]
    train, predict, evaluate = commands
    assert main([*train, *TINY]) == 0
    assert "folder layout: 3 images train, 1 validate" in capsys.readouterr().out
    assert main([*predict, "--tile-size", "32"]) == 0
    assert sorted(p.name for p in (tmp_path / "drive-preds").glob("*_mask.png")) == [
        "01_test_mask.png", "02_test_mask.png"]
    assert main(evaluate) == 0
    assert "| mean |" in capsys.readouterr().out


def test_the_readme_one_folder_command_trains_on_image_and_mask_pairs(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    (tmp_path / "lgg").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            tmp_path / "lgg" / f"TCGA_CS_{i}.tif")
        mask = np.zeros((40, 40), np.uint8)
        mask[10:25, 8:30] = 255
        Image.fromarray(mask).save(tmp_path / "lgg" / f"TCGA_CS_{i}_mask.tif")
    monkeypatch.chdir(tmp_path)
    (command,) = readme_commands("lgg")
    assert main([*command, *TINY]) == 0
    assert read_config(tmp_path / "runs" / "lgg" / "config.toml")["mask_suffix"] == "_mask"


def test_resume_accepts_a_moved_data_folder_holding_the_same_files(isbi, tmp_path, capsys):
    import shutil

    data, out = tmp_path / "data", tmp_path / "run"
    shutil.copytree(isbi, data)
    args = ["--train-slices", "0-2", "--val-slices", "3", *TINY]
    assert main(["train", "--data", str(data), "--out", str(out), *args,
                 "--train-minutes", "1e-6"]) == 0
    moved = data.rename(tmp_path / "moved")
    resume = ["train", "--out", str(out), "--resume", "--verbose", "0"]
    assert main(resume) == 2
    err = capsys.readouterr().err
    assert "is gone; if it moved, pass --resume --data NEW_FOLDER" in err, err
    other = tmp_path / "other"
    shutil.copytree(moved, other)
    (other / "images" / "00.png").write_bytes((other / "images" / "01.png").read_bytes()[:-9])
    assert main([*resume, "--data", str(other)]) == 2
    assert "its image files differ from the run's" in capsys.readouterr().err
    assert main([*resume, "--data", str(moved), "--train-minutes", "0"]) == 0
    assert json.loads((out / "metrics.json").read_text())["steps"] == 3
    assert read_config(out / "config.toml")["data"] == str(moved.resolve())


def _weights(run):
    model = keras.saving.load_model(run / "model.keras", compile=False)
    return [np.asarray(w, np.float32) for w in model.get_weights()]


def test_precision_auto_takes_float32_where_bfloat16_is_emulated(isbi, tmp_path, monkeypatch):
    monkeypatch.setattr("zoo.machine.isa_flags", lambda: ["avx2", "fma"])
    monkeypatch.setattr("zoo.machine.gpus", lambda: [])
    out = tmp_path / "auto"
    assert main(["train", "--data", str(isbi), "--out", str(out), "--train-slices", "0-2",
                 "--val-slices", "3", "--precision", "auto", *TINY]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    (session,) = metrics["sessions"]
    assert metrics["precision"] == "float32" and session["precision"]["step_s"] == {}
    assert "neither AMX nor AVX-512 BF16" in session["precision"]["reason"]
    assert read_config(out / "config.toml")["precision"] == "auto"


def test_precision_auto_measures_where_bfloat16_is_native_and_trains_its_choice(
        isbi, tmp_path, monkeypatch):
    monkeypatch.setattr("zoo.machine.isa_flags", lambda: ["avx2", "fma", "amx_bf16"])
    monkeypatch.setattr("zoo.machine.gpus", lambda: [])
    args = ["--data", str(isbi), "--train-slices", "0-2", "--val-slices", "3", *TINY]
    assert main(["train", "--out", str(tmp_path / "auto"), "--precision", "auto", *args]) == 0
    metrics = json.loads((tmp_path / "auto" / "metrics.json").read_text())
    choice = metrics["sessions"][0]["precision"]
    assert set(choice["step_s"]) == {"float32", "mixed_bfloat16"}
    assert choice["precision"] == min(choice["step_s"], key=choice["step_s"].get)
    assert metrics["precision"] == choice["precision"] and "amx_bf16" in choice["reason"]
    # the measurement leaves no trace: the run trains what the chosen precision trains
    assert main(["train", "--out", str(tmp_path / "set"), "--precision", choice["precision"],
                 *args]) == 0
    for a, b in zip(_weights(tmp_path / "auto"), _weights(tmp_path / "set"), strict=True):
        np.testing.assert_array_equal(a, b)


def test_precision_auto_is_not_measured_again_on_resume(tmp_path, monkeypatch):
    from zoo.training.run import _auto_precision

    chosen = {"precision": "mixed_bfloat16", "reason": "measured", "step_s": {}}
    (tmp_path / "state.json").write_text(json.dumps(
        {"step": 2, "sessions": [{"step": 0, "precision": chosen}, {"step": 2}]}))

    def measure(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr("zoo.training.setup.choose_precision", measure)
    assert _auto_precision({"xla": "on"}, tmp_path, True, None, None) == chosen
