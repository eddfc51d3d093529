import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# JAX compiles each new shape, a weight initializer's too, so most of a fresh process's first
# build is compilation (benchmarks/results/jax_build_cache.md). The suite and the processes
# it starts share one on-disk cache of XLA's executables: each shape compiles once.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      str(Path(tempfile.gettempdir()) / "unet-zoo-tests-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import keras  # noqa: E402
import pytest  # noqa: E402


def _isbi2012() -> Path:
    """ISBI 2012 where a user's run finds it (zoo.data.locate: $ZOO_DATA/isbi2012, then the
    user cache); .ci/run sets ZOO_DATA to the workspace's shared data folder."""
    from zoo.data import locate

    try:
        return locate("isbi2012")
    except FileNotFoundError:
        return Path("isbi2012-not-found")


ISBI2012 = _isbi2012()
NO_ISBI2012 = "ISBI 2012 not found: set ZOO_DATA to the folder holding isbi2012/"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32 and a fixed seed, and leaves no global state behind."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    yield
    keras.mixed_precision.set_global_policy("float32")
    # No forced gc.collect() (free_memory): with TensorFlow's heap it cost ~3 s per test,
    # a third of the suite; Python's own collector still runs.
    keras.backend.clear_session(free_memory=False)


def all_layers(model) -> list:
    """Every layer of ``model``, nested models (the ``encoder``) walked too."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(all_layers(layer))
    return found


def find_layer(model, name: str):
    """The layer called ``name`` in ``model`` or in one of its nested models."""
    matches = [layer for layer in all_layers(model) if layer.name == name]
    assert matches, f"no layer {name!r} in {model.name}"
    return matches[0]


def conv_layer_count(model) -> int:
    return sum(isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
               for layer in all_layers(model))
