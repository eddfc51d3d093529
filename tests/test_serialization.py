"""Every model round-trips through a .keras file without custom_objects."""

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
