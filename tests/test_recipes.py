"""Recipe smoke runs on generated data: train, checkpoint, kill, resume, distribute."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures import ctc_layout, isbi_png_layout

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "4", "--checkpoint-every", "2", "--batch-size", "2", "--verbose", "0"]


def command(recipe, *args):
    return [sys.executable, "-m", f"recipes.{recipe}", *args]


def run(recipe, *args, env=None, **kwargs):
    return subprocess.run(command(recipe, *args), cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def isbi(tmp_path_factory):
    root = tmp_path_factory.mktemp("isbi")
    isbi_png_layout(root, n=4, size=64)
    return root


def _ok(result):
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


@pytest.mark.parametrize("recipe", ["isbi2012", "isbi2012_paper", "ctc"])
def test_help(recipe):
    result = run(recipe, "--help")
    _ok(result)
    assert "--resume" in result.stdout and "--precision" in result.stdout


@pytest.mark.slow
def test_modern_recipe_writes_metrics_and_model(isbi, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(isbi), "--train-slices", "0-2", "--val-slices", "3", "--out",
            str(out), "--filters", "4", "--patch", "32", "--cldice", "0.5", *TINY]
    _ok(run("isbi2012", *args))
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"v_rand", "v_info", "pixel_error", "iou", "dice"} <= set(metrics)
    assert metrics["steps"] == 4 and (out / "model.keras").is_file()
    result = run("isbi2012", *args)  # never overwrites a finished run
    assert result.returncode != 0 and "(--resume) to continue" in result.stderr


@pytest.mark.parametrize("recipe", ["quick", "best", "best_amx"])
def test_presets_are_documented_and_flags_override_them(recipe):
    from recipes import isbi2012

    args = isbi2012.parse(["--recipe", recipe, "--out", "x", "--filters", "4"])
    assert args.filters == 4 and args.steps == isbi2012.PRESETS[recipe]["steps"]
    assert args.keep == "last"  # the presets are scored on their last model
    assert args.tta == {"quick": "d4"}.get(recipe, "flips")  # measured: README
    # the watershed's smoothing each preset's records were measured with
    assert args.watershed_sigma == {"quick": 0.0}.get(recipe, 1.0)
    # and their validation tiles: 256 px (quick, as recorded), each slice whole (best*)
    assert (args.val_tile, args.val_overlap) == {"quick": (256, 64)}.get(recipe, (640, 128))
    # best_amx: best at 32 filters in bfloat16 without XLA, as its three seeds were measured
    amx = recipe == "best_amx"
    assert args.encoder_options == {"filters": 32 if amx else 16}
    assert (args.precision, args.xla) == (("mixed_bfloat16", "off") if amx else ("float32", "on"))
    assert f"{recipe}: " in isbi2012.DOC


@pytest.mark.parametrize("flag, message", [("--cldice", "--cldice is a loss weight >= 0"),
                                           ("--watershed-sigma", "smoothing width in px >= 0"),
                                           ("--val-overlap", "--val-overlap must be in [0, ")])
def test_a_negative_weight_smoothing_or_overlap_is_refused(capsys, flag, message):
    from recipes import isbi2012

    with pytest.raises(SystemExit):
        isbi2012.parse(["--out", "x", flag, "-1"])
    assert message in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["quick", "best", "best_amx"])
def test_a_preset_runs_two_steps_then_final(isbi, tmp_path, recipe):
    """Each preset end to end (best: its whole-slice validation tiles and flips TTA;
    best_amx: bfloat16 without XLA, which JAX refuses until --xla on); then --final (the
    presets differ in values only, so the quick one alone)."""
    import keras

    from recipes import isbi2012

    tiny = ["--data", str(isbi), "--train-slices", "0-2", "--val-slices", "3", "--filters", "4",
            "--patch", "32", "--steps", "2", "--checkpoint-every", "2", "--batch-size", "2",
            "--verbose", "0", "--context", "1", "--ema", "0.9", "--postprocess", "watershed"]
    xla = isbi2012.PRESETS[recipe].get("xla", "on")
    if xla == "off" and keras.backend.backend() == "jax":
        result = run("isbi2012", "--recipe", recipe, "--out", str(tmp_path / "run"), *tiny)
        assert result.returncode != 0 and "pass --xla on" in result.stderr
        tiny, xla = [*tiny, "--xla", "on"], "on"
    _ok(run("isbi2012", "--recipe", recipe, "--out", str(tmp_path / "run"), *tiny))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["recipe"] == recipe and metrics["steps"] == 2
    assert metrics["keep"] == "last" and metrics["kept_step"] == 2
    assert {"v_rand", "post_v_rand", "post_v_info"} <= set(metrics)
    assert metrics["tta"]["mode"] == isbi2012.PRESETS[recipe]["tta"]
    assert "post_v_rand" in metrics["tta"]
    assert int(metrics["args"]["val_tile"]) == {"quick": 256}.get(recipe, 640)
    assert metrics["precision"] == isbi2012.PRESETS[recipe].get("precision", "float32")
    assert [session["xla"] for session in metrics["sessions"]] == [xla]
    if recipe != "quick":
        return
    # --final: every labelled slice trains (here 0..3 of the 4), nothing is scored
    _ok(run("isbi2012", "--recipe", recipe, "--final", "--out", str(tmp_path / "final"),
            *tiny, "--train-slices", "0-2", "--val-slices", "3"))
    final = json.loads((tmp_path / "final" / "metrics.json").read_text())
    assert final["final"] and "v_rand" not in final
    assert (tmp_path / "final" / "model.keras").is_file()


def test_xla_off_is_recorded_per_session_and_refused_on_jax(isbi, tmp_path):
    import keras

    result = run("isbi2012", "--data", str(isbi), "--train-slices", "0-2", "--val-slices", "3",
                 "--out", str(tmp_path / "run"), "--filters", "4", "--patch", "32",
                 "--xla", "off", "--precision", "mixed_bfloat16", *TINY)
    if keras.backend.backend() == "jax":
        assert result.returncode != 0 and "JAX always compiles" in result.stderr
        return
    _ok(result)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [s["xla"] for s in metrics["sessions"]] == ["off"]
    assert metrics["precision"] == "mixed_bfloat16"


@pytest.mark.slow
def test_kill_and_resume(isbi, tmp_path):
    out = tmp_path / "run"
    args = ["--data", str(isbi), "--train-slices", "0-2", "--val-slices", "3", "--out",
            str(out), "--filters", "4", "--patch", "32", "--steps", "40",
            "--checkpoint-every", "2", "--batch-size", "2", "--verbose", "0"]
    process = subprocess.Popen(command("isbi2012", *args), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        state = out / "state.json"
        if state.is_file() and json.loads(state.read_text())["step"] >= 4:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.loads((out / "state.json").read_text())["step"]
    assert 4 <= killed_at < 40 and not (out / "metrics.json").exists()
    _ok(run("isbi2012", *args, "--resume"))
    state = json.loads((out / "state.json").read_text())
    assert state["step"] == 40
    assert [h["epoch"] for h in state["history"]] == list(range(1, 21))  # nothing lost
    assert json.loads((out / "metrics.json").read_text())["steps"] == 40


@pytest.mark.slow
def test_paper_recipe_smoke(isbi, tmp_path):
    out = tmp_path / "paper"
    _ok(run("isbi2012_paper", "--data", str(isbi), "--train-slices", "0-2", "--val-slices",
            "3", "--out", str(out), "--input-size", "188", "--filters", "2", "--steps", "2",
            "--checkpoint-every", "2", "--verbose", "0"))
    assert "v_rand" in json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_ctc_recipe_smoke(tmp_path):
    ctc_layout(tmp_path / "set", frames=6, annotated=(0, 1, 2, 3, 4, 5))
    out = tmp_path / "ctc"
    _ok(run("ctc", "--data", str(tmp_path / "set"), "--out", str(out), "--filters", "4",
            "--patch", "32", *TINY))
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"iou", "dice"} <= set(metrics) and metrics["val_frames"] == [5]


@pytest.mark.slow
def test_data_parallel_on_two_virtual_jax_devices(isbi, tmp_path):
    pytest.importorskip("jax")
    out = tmp_path / "dp"
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = run("isbi2012", "--data", str(isbi), "--train-slices", "0-2",
                 "--val-slices", "3", "--out", str(out), "--filters", "4", "--patch", "32",
                 "--distribute", *TINY, env=env)
    _ok(result)
    assert "data-parallel over 2 devices" in result.stdout
    assert json.loads((out / "metrics.json").read_text())["backend"] == "jax"


@pytest.mark.parametrize("flag", ["--steps", "--checkpoint-every", "--batch-size", "--patch"])
def test_counts_must_be_positive(flag, capsys):
    from recipes import isbi2012

    with pytest.raises(SystemExit) as exit_:
        isbi2012.parse(["--out", "x", flag, "0"])
    assert exit_.value.code == 2
    assert f"argument {flag}: must be a positive integer, got '0'" in capsys.readouterr().err
