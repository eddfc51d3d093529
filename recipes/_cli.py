"""The recipes' command line: ``zoo train``'s options (``zoo.commands.options``) and,
on TensorFlow, ``--distribute`` by ``tf.distribute.MirroredStrategy``."""

from __future__ import annotations

from zoo.commands.options import (  # noqa: F401  (the recipes' one import)
    add_isbi2012_arguments,
    add_model_arguments,
    base_parser,
    compile_model,
    encoder_options,
    jit_compile,
    set_bn_momentum,
    train,
)
from zoo.commands.options import setup as _setup


def setup(args):
    """Seed, precision and distribution; returns the context to build models in."""
    import keras

    if not (args.distribute and keras.backend.backend() == "tensorflow"):
        try:
            return _setup(args)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(args.precision)
    strategy = tf.distribute.MirroredStrategy()
    print(f"data-parallel over {strategy.num_replicas_in_sync} replicas", flush=True)
    return strategy.scope()
