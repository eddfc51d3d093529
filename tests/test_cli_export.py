"""``zoo export``: .keras, SavedModel and ONNX, each checked against Keras; bad input."""

import hashlib

import keras
import numpy as np
import pytest

import zoo
from zoo.cli import main

TF = keras.backend.backend() == "tensorflow"


def tiny(policy="float32"):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 4},
                         batch_norm=True)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    model.compile("adam", loss=zoo.losses.WeightedCrossEntropy() + zoo.losses.DiceLoss())
    return model


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.keras"
    model = tiny()
    model.fit(np.random.rand(2, 32, 32, 1), np.ones((2, 32, 32, 1)), verbose=0)  # optimizer
    model.save(path)
    return path


def test_keras_export_drops_the_training_state_and_keeps_the_outputs(model_path, capsys):
    assert main(["export", str(model_path), "--format", "keras"]) == 0
    out = model_path.with_name("m.inference.keras")
    assert "checked against Keras" in capsys.readouterr().out
    exported = keras.saving.load_model(out)
    assert getattr(exported, "optimizer", None) is None
    assert out.stat().st_size < model_path.stat().st_size
    x = np.random.default_rng(1).random((1, 48, 32, 1), dtype=np.float32)
    original = keras.saving.load_model(model_path, compile=False)
    np.testing.assert_array_equal(exported.predict(x, verbose=0), original.predict(x, verbose=0))


@pytest.mark.skipif(not TF, reason="tf2onnx converts on the TensorFlow backend (see below)")
@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_onnx_export_matches_keras_in_onnxruntime(policy, tmp_path, capsys):
    onnxruntime = pytest.importorskip("onnxruntime")
    path = tmp_path / "m.keras"
    tiny(policy).save(path)
    assert main(["export", str(path), "--format", "onnx"]) == 0
    printed = capsys.readouterr().out
    assert "checked against Keras" in printed
    assert (policy == "float32") != ("exporting in float32" in printed)
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"))
    x = np.random.default_rng(2).random((2, 32, 64, 1), dtype=np.float32)  # any size
    model = keras.saving.load_model(path)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=2e-3)


@pytest.mark.skipif(TF, reason="the JAX backend's ONNX route (jax2onnx)")
def test_onnx_export_on_jax_names_the_tensorflow_route(model_path, capsys):
    code = main(["export", str(model_path), "--format", "onnx"])
    if code == 0:  # a jax2onnx that works: the check passed
        assert "checked against Keras" in capsys.readouterr().out
        return
    assert code == 2 and "KERAS_BACKEND=tensorflow" in capsys.readouterr().err
    assert not model_path.with_name("m.onnx").exists()


def test_saved_model_export(model_path, tmp_path, capsys):
    out = tmp_path / "sm"
    assert main(["export", str(model_path), "--format", "saved_model", "--out", str(out)]) == 0
    assert (out / "saved_model.pb").is_file()
    printed = capsys.readouterr().out
    assert ("checked against Keras" if TF else "not checked: Keras reads") in printed


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_input_exits_2_and_touches_nothing(model_path, tmp_path, capsys):
    existing = tmp_path / "m.onnx"
    existing.write_text("a user's file")
    cases = [
        (["export", str(tmp_path / "none.keras"), "--format", "keras"], "model file not found"),
        (["export", str(existing), "--format", "keras"], "not a .keras file"),
        (["export", str(model_path), "--format", "onnx", "--out", str(existing)],
         "exists; choose another --out or pass --overwrite"),
        (["export", str(model_path), "--format", "keras", "--out", str(model_path)],
         "is the model itself"),
        (["export", str(model_path), "--format", "keras", "--out", str(tmp_path / "x.h5")],
         "needs a path ending in .keras"),
        (["export", str(model_path), "--format", "saved_model", "--size-multiple", "0"],
         "--size-multiple must be a positive integer"),
    ]
    before = digest(model_path)
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert existing.read_text() == "a user's file" and digest(model_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # nothing staged is left
