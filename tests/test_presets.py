"""The presets (``recipes/*/*.toml``) through ``zoo train --preset``: their values, that
they resolve and run end to end on generated data, kill and resume, data-parallel JAX,
and that the wheel carries them."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
from fixtures import ctc_layout, isbi_png_layout

from zoo import training
from zoo.cli import main
from zoo.training.config import tomllib

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("isbi2012/quick", "isbi2012/best", "isbi2012/best_amx", "isbi2012/paper",
           "ctc/u373")
TINY = ["--train-slices", "0-2", "--val-slices", "3", "--filters", "4", "--patch", "32",
        "--steps", "2", "--checkpoint-every", "2", "--batch-size", "2", "--verbose", "0",
        "--train-minutes", "0"]


@pytest.fixture(scope="module")
def isbi(tmp_path_factory):
    root = tmp_path_factory.mktemp("isbi")
    isbi_png_layout(root, n=4, size=64)
    return root


def zoo_train(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "zoo", "train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, **kwargs)


def _ok(result):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def test_every_preset_is_listed_resolves_and_names_its_record(capsys):
    assert set(training.list_presets()) == set(PRESETS)
    for name in PRESETS:
        config = training.resolve({"data": "x"}, preset=name)
        assert config["preset"] == name
        about = training.preset_about(name)
        assert about["description"] and about["measured"]
        if "record" in about:
            assert (ROOT / about["record"]).is_file(), about["record"]
    assert main(["train", "--list-presets"]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}: " in out for name in PRESETS) and "measured: V_rand" in out


@pytest.mark.parametrize("name", ["isbi2012/quick", "isbi2012/best", "isbi2012/best_amx"])
def test_the_isbi_presets_hold_their_measured_values(name):
    config = training.resolve({}, preset=name)
    assert config["dataset"] == "isbi2012" and config["keep"] == "last"
    quick, amx = name.endswith("quick"), name.endswith("amx")
    assert config["tta"] == ("d4" if quick else "flips")
    assert config["watershed_sigma"] == (0.0 if quick else 1.0)
    assert (config["val_tile"], config["val_overlap"]) == ((256, 64) if quick else (640, 128))
    assert config["encoder_options"] == {"filters": 32 if amx else 16}
    precision = "mixed_bfloat16" if amx else "float32" if quick else "auto"
    assert (config["precision"], config["xla"]) == (precision, "off" if amx else "on")
    assert config["train_minutes"] == (15.0 if quick else 120.0)


def test_flags_override_a_preset_and_its_encoder_width_reaches_only_encoders_that_take_it():
    config = training.resolve({"steps": 7, "encoder": "resnet18"}, preset="isbi2012/quick")
    assert config["steps"] == 7 and config["encoder_options"] == {}
    config = training.resolve({"encoder_options": {"filters": 8}}, preset="isbi2012/best")
    assert config["encoder_options"] == {"filters": 8}


def test_the_paper_preset_is_the_unpadded_two_class_network():
    config = training.resolve({}, preset="isbi2012/paper")
    assert config["model_options"] == {"padding": "valid", "batch_norm": False}
    assert (config["num_classes"], config["patch"], config["optimizer"]) == (2, 572, "sgd")


def test_an_unknown_preset_is_refused_naming_the_presets(capsys):
    assert main(["train", "--preset", "isbi2012/fast", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "no preset 'isbi2012/fast'" in err and "isbi2012/quick" in err


def test_the_wheel_carries_every_preset_folder():
    """pyproject.toml lists packages explicitly: each zoo/ subpackage and each preset folder."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(setuptools["packages"])
    subpackages = {"zoo." + p.parent.name for p in (ROOT / "zoo").glob("*/__init__.py")}
    folders = {"zoo.presets." + p.name for p in (ROOT / "recipes").iterdir() if p.is_dir()
               and any(p.glob("*.toml"))}
    assert {"zoo", "zoo.presets"} | subpackages | folders == packages
    assert all(setuptools["package-data"][f] == ["*.toml"] for f in folders)


def _isbi_metrics(out):
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["isbi2012/quick", "isbi2012/best", "isbi2012/best_amx"])
def test_a_preset_runs_end_to_end_then_final(isbi, tmp_path, name):
    """Each ISBI preset end to end on generated slices (best: whole-slice validation tiles,
    flips TTA; best_amx: bfloat16 without XLA, refused on JAX until --xla on); --final once."""
    args = ["--preset", name, "--data", str(isbi), "--out", str(tmp_path / "run"), *TINY,
            "--context", "1"]
    xla = training.resolve({}, preset=name)["xla"]
    if xla == "off" and keras.backend.backend() == "jax":
        result = zoo_train(*args)
        last = result.stderr.strip().splitlines()[-1]  # after TensorFlow's C++ log lines
        assert result.returncode == 2 and last.startswith("zoo train: error:")
        assert "pass --xla on" in last
        args, xla = [*args, "--xla", "on"], "on"
    assert main(["train", *args]) == 0
    metrics = _isbi_metrics(tmp_path / "run")
    assert metrics["preset"] == name and metrics["steps"] == 2 and metrics["kept_step"] == 2
    assert {"v_rand", "post_v_rand", "post_v_info"} <= set(metrics)
    assert metrics["tta"]["mode"] == training.resolve({}, preset=name)["tta"]
    assert metrics["config"]["context"] == 1
    assert [session["xla"] for session in metrics["sessions"]] == [xla]
    if name != "isbi2012/quick":
        return
    # --final: every labelled slice trains, nothing is scored
    assert main(["train", "--preset", name, "--final", "--data", str(isbi), "--out",
                 str(tmp_path / "final"), *TINY]) == 0
    final = _isbi_metrics(tmp_path / "final")
    assert final["final"] and "v_rand" not in final
    assert (tmp_path / "final" / "model.keras").is_file()


@pytest.mark.slow
def test_the_paper_preset_runs_unpadded(isbi, tmp_path):
    out = tmp_path / "paper"
    assert main(["train", "--preset", "isbi2012/paper", "--data", str(isbi), "--out", str(out),
                 "--train-slices", "0-2", "--val-slices", "3", "--patch", "188", "--filters",
                 "2", "--steps", "2", "--checkpoint-every", "2", "--verbose", "0"]) == 0
    metrics = _isbi_metrics(out)
    assert "v_rand" in metrics and metrics["config"]["model_options"]["padding"] == "valid"


@pytest.mark.slow
def test_the_ctc_preset_runs_on_a_generated_set(tmp_path):
    ctc_layout(tmp_path / "set", frames=6, annotated=(0, 1, 2, 3, 4, 5))
    out = tmp_path / "ctc"
    assert main(["train", "--preset", "ctc/u373", "--data", str(tmp_path / "set"), "--out",
                 str(out), "--filters", "4", "--patch", "32", "--steps", "4",
                 "--checkpoint-every", "2", "--batch-size", "2", "--verbose", "0"]) == 0
    assert {"iou", "dice"} <= set(_isbi_metrics(out))


def test_xla_off_is_recorded_per_session_and_refused_on_jax(isbi, tmp_path, capsys):
    code = main(["train", "--data", str(isbi), "--out", str(tmp_path / "run"), *TINY,
                 "--xla", "off", "--precision", "mixed_bfloat16"])
    if keras.backend.backend() == "jax":
        assert code == 2 and "JAX always compiles" in capsys.readouterr().err
        assert not (tmp_path / "run").exists()
        return
    assert code == 0
    metrics = _isbi_metrics(tmp_path / "run")
    assert [s["xla"] for s in metrics["sessions"]] == ["off"]
    assert metrics["config"]["precision"] == "mixed_bfloat16"


@pytest.mark.slow
def test_a_killed_preset_run_resumes_to_its_last_step(isbi, tmp_path):
    out = tmp_path / "run"
    args = ["--preset", "isbi2012/quick", "--data", str(isbi), "--out", str(out),
            *TINY, "--steps", "40", "--postprocess", "none", "--tta", ""]
    process = subprocess.Popen([sys.executable, "-m", "zoo", "train", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    state = out / "state.json"
    while time.time() < deadline:
        if state.is_file() and json.loads(state.read_text())["step"] >= 4:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.loads(state.read_text())["step"]
    assert 4 <= killed_at < 40 and not (out / "metrics.json").exists()
    _ok(zoo_train("--out", str(out), "--resume", "--verbose", "0"))
    saved = json.loads(state.read_text())
    assert saved["step"] == 40
    assert [h["epoch"] for h in saved["history"]] == list(range(1, 21))  # nothing lost
    assert _isbi_metrics(out)["steps"] == 40


@pytest.mark.slow
def test_data_parallel_on_two_virtual_jax_devices(isbi, tmp_path):
    pytest.importorskip("jax")
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = zoo_train("--data", str(isbi), "--out", str(tmp_path / "dp"), *TINY,
                       "--distribute", env=env)
    _ok(result)
    assert "data-parallel over 2 devices" in result.stdout
    assert _isbi_metrics(tmp_path / "dp")["backend"] == "jax"


def test_data_parallel_on_tensorflow_is_refused_with_the_reason(isbi, tmp_path, capsys):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the TensorFlow refusal; JAX distributes (the test above)")
    assert main(["train", "--data", str(isbi), "--out", str(tmp_path / "r"), *TINY,
                 "--distribute"]) == 2
    assert "keras.distribution" in capsys.readouterr().err
