"""Every model round-trips through a .keras file without custom_objects."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo

CASES = {
    "unet-same-bn": dict(input_shape=(32, 32, 2), num_classes=3, depth=2,
                         encoder_options={"filters": 4}, batch_norm=True),
    "unet-valid": dict(input_shape=(92, 92, 1), num_classes=2, depth=3,
                       encoder_options={"filters": 2}, padding="valid"),
    "unet-logits-variable": dict(input_shape=(None, None, 1), num_classes=1, depth=2,
                                 encoder_options={"filters": 2}, activation=None),
}


@pytest.mark.parametrize("case", CASES)
def test_keras_round_trip(case, tmp_path):
    kwargs = CASES[case]
    model = zoo.build("unet", **kwargs)
    h, w, c = kwargs["input_shape"]
    x = np.random.default_rng(0).random((2, h or 32, w or 32, c), dtype=np.float32)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_portable_file_drops_only_arguments_older_keras_refuses(tmp_path):
    """zoo's own .keras files (runs, exports, the shelf) load on the oldest admitted Keras
    too: keys a newer Keras added are left out where they hold their "as before" value
    (CI's run on that Keras loads the shelf's files); the weights and outputs are kept."""
    import json
    import zipfile

    from zoo.saving import NEWER_DEFAULTS, load_model, save_portable

    model = zoo.build("unet", **CASES["unet-same-bn"])
    x = np.random.default_rng(0).random((2, 32, 32, 2), dtype=np.float32)
    path = save_portable(model, tmp_path / "model.keras")
    text = zipfile.ZipFile(path).read("config.json").decode()
    kept = [key for key, value in NEWER_DEFAULTS.items() if f'"{key}": {json.dumps(value)}' in text]
    assert not kept
    assert '"momentum"' in text and '"HeNormal"' in text  # the other arguments stay
    np.testing.assert_array_equal(load_model(path).predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_mixed_precision_keeps_the_head_float32(tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = zoo.unet((32, 32, 1), 2, depth=2, encoder_options={"filters": 4})
    assert model.get_layer("encoder").get_layer("encoder_stage1_conv1").compute_dtype == \
        "float16"
    assert model.output.dtype == "float32"
    x = np.random.default_rng(0).random((1, 32, 32, 1), dtype=np.float32)
    probs = model.predict(x, verbose=0)
    assert probs.dtype == np.float32 and np.isfinite(probs).all()
    model.save(tmp_path / "m.keras")
    assert keras.saving.load_model(tmp_path / "m.keras").output.dtype == "float32"


CROSS_BACKEND = {  # one model per architecture, every custom layer of the zoo among them
    "unet_plus_plus": dict(depth=2, deep_supervision=True),
    "unet_3plus": dict(depth=2, cat_channels=2, deep_supervision=True, cgm=True),
    "fcn": dict(depth=3, fc_filters=4, fc_dropout=0.0),
    "deeplabv3_plus": dict(depth=2, output_stride=4, aspp_filters=4, low_level_filters=2,
                           decoder_filters=4),
}
LOAD_ELSEWHERE = """
import sys, keras, numpy as np, zoo
data = dict(np.load(sys.argv[1]))
outputs = {}
for name in sys.argv[2:]:
    model = keras.saving.load_model(f"{name}.keras")
    for i, out in enumerate(keras.ops.convert_to_numpy(o) for o in
                            keras.tree.flatten(model(data["x"], training=False))):
        outputs[f"{name}/{i}"] = out
np.savez(sys.argv[1].replace("inputs", "outputs"), **outputs)
"""


@pytest.mark.slow
def test_saved_on_one_backend_loads_on_the_other(tmp_path):
    """A .keras file written on TensorFlow predicts the same on JAX (and vice versa)."""
    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    x = np.random.default_rng(0).random((2, 16, 16, 1), dtype=np.float32)
    expected = {}
    for name, kwargs in CROSS_BACKEND.items():
        model = zoo.build(name, input_shape=(16, 16, 1), num_classes=2, encoder="plain",
                          encoder_options={"filters": 4}, **kwargs)
        model.save(tmp_path / f"{name}.keras")
        for i, out in enumerate(keras.tree.flatten(model(x, training=False))):
            expected[f"{name}/{i}"] = keras.ops.convert_to_numpy(out)
    np.savez(tmp_path / "inputs.npz", x=x)
    subprocess.run([sys.executable, "-c", LOAD_ELSEWHERE, str(tmp_path / "inputs.npz"),
                    *CROSS_BACKEND], cwd=tmp_path, check=True,
                   env={**os.environ, "KERAS_BACKEND": other, "PYTHONPATH": os.pathsep.join(
                       [str(Path(zoo.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])})
    loaded = dict(np.load(tmp_path / "outputs.npz"))
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        np.testing.assert_allclose(loaded[key], value, rtol=1e-4, atol=1e-5, err_msg=key)


WITHOUT_ZOO = """
import sys, keras
try:
    keras.saving.load_model(sys.argv[1])
except Exception as error:
    print(error)
else:
    print("LOADED")
"""


@pytest.mark.parametrize("compiled", [False, True], ids=["custom-layer", "zoo-loss"])
def test_loading_without_import_zoo_names_zoo(compiled, tmp_path):
    """Keras imports the module of a saved class only for its own packages, so a process
    that has not run ``import zoo`` cannot load a zoo model; the error says to import the
    module that registers the class and names it (``zoo>...``, ``'module': 'zoo...'``)."""
    model = zoo.unet((32, 32, 1), 1, depth=2, encoder_options={"filters": 2})
    if compiled:
        model.compile("adam", zoo.losses.DiceLoss() + zoo.losses.FocalLoss())
    model.save(tmp_path / "m.keras")
    out = subprocess.run([sys.executable, "-c", WITHOUT_ZOO, str(tmp_path / "m.keras")],
                         capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert "LOADED" not in out and "zoo>" in out and "'module': 'zoo." in out
    assert "make sure they are all imported" in out
