import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402

ISBI2012 = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "isbi2012"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32 and a fixed seed, and leaves no global state behind."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")
    keras.backend.clear_session()


def conv_layer_count(model) -> int:
    return sum(isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
               for layer in model.layers)
