"""Runs killed with SIGKILL (no cleanup, no finally) at chosen moments - in a training
step (before the first checkpoint too, and at a step drawn at random), while a checkpoint
is written, between the state's commit and the checkpoint's rename, during validation,
while the final model is written - resume with no corrupt file, no lost finished epoch and
no epoch trained twice: the resumed run, three steps per epoch with two loader threads,
ends with the weights of a run never interrupted (dropout's random state is resumed too)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo

CHILD = r"""
import os, signal, sys, types
import keras, numpy as np
import zoo, zoo.files, zoo.training, zoo.training.loop
from zoo.data import SegmentationDataset, synthetic_cells

point, _, count = os.environ.get("KILL_AT", "none:0").partition(":")
calls = {}


def maybe_kill(name):
    calls[name] = calls.get(name, 0) + 1
    if name == point and calls[name] == int(count):
        os.kill(os.getpid(), signal.SIGKILL)


class KillInStep(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        maybe_kill("step")


save = keras.Model.save
def half_written_save(self, path, *args, **kwargs):  # the kill lands mid-file
    save(self, path, *args, **kwargs)
    if point == "save" and calls.get("save", 0) + 1 == int(count):
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    maybe_kill("save")
keras.Model.save = half_written_save

write_json = zoo.training.loop.write_json_atomic
def commit_then_kill(path, data, **kwargs):
    write_json(path, data, **kwargs)
    if str(path).endswith("state.json"):
        maybe_kill("commit")
zoo.training.loop.write_json_atomic = commit_then_kill

def replace(src, dst):  # zoo.files' rename of a finished temporary file
    maybe_kill("final" if str(dst).endswith("model.keras") else "rename")
    os.replace(src, dst)
zoo.files.os = types.SimpleNamespace(replace=replace)

scores = zoo.training.SegmentationValidation.scores
def kill_in_validation(self, model, **kwargs):
    maybe_kill("validation")
    return scores(self, model, **kwargs)
zoo.training.SegmentationValidation.scores = kill_in_validation

images, masks, _ = synthetic_cells(3, size=32, seed=0)
def build():
    keras.utils.set_random_seed(0)
    model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 2})
    model.compile(keras.optimizers.Adam(1e-2), zoo.losses.DiceLoss())
    return model

dataset = SegmentationDataset(images[:2], masks[:2], patch_size=16, batch_size=2,
                              steps=3, workers=2)
validation = zoo.training.SegmentationValidation(images[2:], masks[2:],
                                                 sys.argv[1], tile_kwargs={"tile_size": 32},
                                                 monitor="val_dice", verbose=False)
zoo.training.train(build, dataset, sys.argv[1], steps=12, validation=validation, resume=True,
                   callbacks=[KillInStep()], verbose=0)
"""
# Three steps per epoch (a checkpoint per epoch) and two loader threads; step:2 lands before
# the first checkpoint, step:8 mid-epoch.
KILL_POINTS = ["step:2", "step:8", "save:2", "rename:3", "commit:2", "validation:3", "final:1"]


def run_child(run_dir: Path, kill_at: str | None) -> int:
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(),
           "PYTHONPATH": os.pathsep.join([str(Path(zoo.__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    env.pop("KILL_AT", None)
    if kill_at:
        env["KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-c", CHILD, str(run_dir)], env=env,
                          capture_output=True, text=True).returncode


def weights(path: Path) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w) for w in keras.saving.load_model(path).weights]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    assert run_child(run_dir, None) == 0
    return run_dir


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_killed_run_resumes_to_the_uninterrupted_result(kill_at, reference, tmp_path):
    _kill_resume_and_compare(kill_at, reference, tmp_path / "run")


@pytest.mark.slow
@settings(max_examples=3, deadline=None)
@given(step=st.integers(1, 12))
def test_a_kill_at_any_step_resumes_to_the_uninterrupted_result(step, reference,
                                                                 tmp_path_factory):
    _kill_resume_and_compare(f"step:{step}", reference, tmp_path_factory.mktemp("run") / "run")


def _kill_resume_and_compare(kill_at: str, reference: Path, run_dir: Path) -> None:
    assert run_child(run_dir, kill_at) == -signal.SIGKILL, "the kill point was not reached"
    assert run_child(run_dir, None) == 0
    state = json.loads((run_dir / "state.json").read_text())
    assert state["step"] == 12 and [p["epoch"] for p in state["history"]] == [1, 2, 3, 4]
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        ["best.keras", "checkpoint.keras", "last.keras", "metrics.json", "model.keras",
         "state.json"])  # nothing half-written or staged left behind
    for name in ("checkpoint.keras", "last.keras"):
        for got, want in zip(weights(run_dir / name), weights(reference / name), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
    weights(run_dir / "best.keras")
    weights(run_dir / "model.keras")


PREDICT_CHILD = r"""
import os, signal, sys, types
import zoo.files
from zoo.cli import main

kill_at, renames = int(os.environ.get("KILL_AT_RENAME", "0")), []
def replace(src, dst):  # the kill lands after an output's temporary file is written whole
    renames.append(dst)
    if len(renames) == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    os.replace(src, dst)
zoo.files.os = types.SimpleNamespace(replace=replace)
sys.exit(main(["predict", *sys.argv[1:], "--tile-size", "32", "--overlap", "8"]))
"""


@pytest.mark.slow
def test_a_killed_folder_prediction_resumes_without_redoing_finished_files(tmp_path):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in "abcd":
        Image.fromarray(rng.integers(0, 255, (40, 52), dtype=np.uint8)).save(
            images / f"{name}.png")
    model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4})
    model.save(tmp_path / "m.keras")

    def predict(out, kill_at=0):
        env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(),
               "KILL_AT_RENAME": str(kill_at),
               "PYTHONPATH": os.pathsep.join([str(Path(zoo.__file__).parents[1]),
                                              os.environ.get("PYTHONPATH", "")])}
        return subprocess.run([sys.executable, "-c", PREDICT_CHILD, str(tmp_path / "m.keras"),
                               str(images), "--out", str(out)], env=env, capture_output=True,
                              text=True)

    clean = tmp_path / "clean"
    assert predict(clean).returncode == 0
    out = tmp_path / "out"
    assert predict(out, kill_at=4).returncode == -signal.SIGKILL  # in image b's outputs
    finished = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name.startswith("a")}
    assert finished, "image a was finished before the kill"
    resumed = predict(out)
    assert resumed.returncode == 0 and "skipped" in resumed.stdout, resumed.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()
            if p.name.startswith("a")} == finished  # not redone
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in clean.iterdir())
    for path in clean.iterdir():
        if path.suffix == ".png":
            np.testing.assert_array_equal(np.asarray(Image.open(out / path.name)),
                                          np.asarray(Image.open(path)), err_msg=path.name)
