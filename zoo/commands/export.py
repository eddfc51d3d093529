"""``zoo export MODEL --format keras|saved_model|onnx``: a model for inference elsewhere.

- ``keras``: the model alone, without optimizer state or loss (e.g. from a
  run's ``checkpoint.keras``); loads with ``keras.saving.load_model`` once
  ``zoo`` is imported.
- ``saved_model``: a TensorFlow SavedModel through Keras' ``model.export``
  (TensorFlow backend, or JAX with TensorFlow installed), for TF Serving and
  the TFLite converter; loading it needs neither Keras nor zoo.
- ``onnx``: ONNX through Keras' ``model.export`` (tf2onnx on the TensorFlow
  backend; ``pip install unet-zoo[export]``), for onnxruntime.

The input's height and width stay free (any size the model takes; on JAX a
SavedModel takes multiples of ``--size-multiple``); a mixed-precision model is
exported in float32. Every export is checked against the Keras model on a
random input where a runtime is installed (onnxruntime, TensorFlow) and
removed if it disagrees. An existing output is never replaced without
``--overwrite``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..files import write_atomic
from ..saving import save_portable

FORMATS = {"keras": ".inference.keras", "saved_model": "_saved_model", "onnx": ".onnx"}


def add_parser(commands) -> None:
    p = commands.add_parser("export", help="a .keras model as an inference .keras, a "
                            "TensorFlow SavedModel or ONNX (checked against Keras)",
                            description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="a .keras model (a run's model.keras, ...)")
    p.add_argument("--format", choices=list(FORMATS), required=True)
    p.add_argument("--out", type=Path, help="output path (default: beside MODEL, "
                   "NAME.inference.keras, NAME_saved_model/ or NAME.onnx)")
    p.add_argument("--size-multiple", type=int, default=32,
                   help="saved_model on JAX: input sides are multiples of this (the model's "
                   "total stride or a multiple of it)")
    p.add_argument("--opset", type=int, help="onnx: the ONNX opset (default: the converter's)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.model.is_file():
        raise FileNotFoundError(f"model file not found: {args.model}")
    out = args.out or args.model.with_name(args.model.stem + FORMATS[args.format])
    if out.resolve() == args.model.resolve():
        raise ValueError(f"--out {out} is the model itself; choose another path")
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; choose another --out or pass --overwrite")
    if args.size_multiple < 1:
        raise ValueError(f"--size-multiple must be a positive integer, got {args.size_multiple}")
    from zoo.saving import load_model

    model = float32_model(load_model(args.model))
    checked = []

    def write(path: Path) -> None:  # checked before it replaces anything
        export(model, path, args.format, size_multiple=args.size_multiple, opset=args.opset)
        checked.append(check(model, path, args.format))

    write_atomic(out, write)
    print(f"{out} ({args.format}); {checked[0]}")
    return 0


def float32_model(model):
    """``model`` itself if all its layers compute in float32, else a float32 copy with the
    same weights (ONNX and SavedModel exports of Keras need the float32 policy)."""
    policies = {layer.dtype_policy.name for layer in _layers(model)}
    if policies <= {"float32"}:
        return model
    copy = model.__class__.from_config(_float32_config(model.get_config()))
    copy.set_weights(model.get_weights())
    print(f"exporting in float32 (the model computes in {', '.join(sorted(policies))})")
    return copy


def _layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _layers(layer)


def _float32_config(value):
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy" and isinstance(value.get("config"), dict):
            return {**value, "config": {**value["config"], "name": "float32"}}
        return {k: _float32_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_float32_config(v) for v in value]
    return value


def export(model, path: Path, fmt: str, *, size_multiple: int = 32, opset=None) -> None:
    """Write ``model`` to ``path`` in ``fmt`` (see the module docstring)."""
    import keras

    if fmt == "keras":
        if path.suffix != ".keras":
            raise ValueError(f"a .keras export needs a path ending in .keras, got {path.name}")
        save_portable(model, path)
        return
    backend = keras.backend.backend()
    shape = (None, *model.input_shape[1:])
    signature = [keras.InputSpec(shape=shape, dtype="float32")]
    kwargs = {}
    if fmt == "saved_model" and backend == "jax":
        # jax2tf must prove the skip and upsampled shapes equal: sides are multiples.
        h, w = (str(side) if side else f"{size_multiple}*{name}"
                for side, name in zip(shape[1:3], "hw", strict=True))
        kwargs["jax2tf_kwargs"] = {"polymorphic_shapes": [f"(b, {h}, {w}, {shape[3]})"]}
    if fmt == "onnx" and opset is not None:
        kwargs["opset_version"] = opset
    keras_format = {"saved_model": "tf_saved_model", "onnx": "onnx"}[fmt]
    try:
        model.export(str(path), format=keras_format, input_signature=signature, verbose=False,
                     **kwargs)
    except ImportError as error:
        fix = "; pip install 'unet-zoo[export]'" if backend == "tensorflow" else ""
        raise ValueError(f"{fmt} export on the {backend} backend needs a package that is not "
                         f"installed ({error}){fix}{_backend_hint(backend)}") from None
    except Exception as error:
        if backend == "tensorflow":
            raise
        raise ValueError(f"{fmt} export failed on the {backend} backend "
                         f"({type(error).__name__}: {str(error).splitlines()[0]})"
                         + _backend_hint(backend)) from None


def _backend_hint(backend: str) -> str:
    if backend == "tensorflow":
        return ""
    return ("; export with KERAS_BACKEND=tensorflow zoo export ... (a .keras file is the same "
            "on every backend)")


def check(model, path: Path, fmt: str, *, side: int = 64) -> str:
    """Compare the export with ``model`` on a random input; raise if they disagree."""
    shape = [1, *(s or side for s in model.input_shape[1:])]
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = np.asarray(_first(model.predict(x, verbose=0)), np.float32)
    try:
        got = _run_export(path, fmt, x)
    except ModuleNotFoundError as error:
        return f"not checked: {error.name} is not installed (pip install 'unet-zoo[export]')"
    except NotImplementedError as error:
        return f"not checked: {error}"
    got = np.asarray(_first(got), np.float32)
    if got.shape != expected.shape:
        raise ValueError(f"the {fmt} export gives shape {got.shape}, Keras {expected.shape}; "
                         "nothing written")
    diff = float(np.max(np.abs(got - expected)))
    if not diff <= 1e-4 * max(1.0, float(np.max(np.abs(expected)))):
        raise ValueError(f"the {fmt} export differs from the Keras model by up to {diff:.3g} "
                         "on a random input; nothing written")
    return f"checked against Keras on a {'x'.join(map(str, shape))} input: max |diff| {diff:.1e}"


def _first(values):
    if isinstance(values, dict):
        values = list(values.values())
    return values[0] if isinstance(values, list | tuple) else values


def _run_export(path: Path, fmt: str, x: np.ndarray):
    if fmt == "keras":
        import keras

        return keras.saving.load_model(path, compile=False).predict(x, verbose=0)
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})
    import keras

    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError("Keras reads a SavedModel back on the TensorFlow backend only")
    return keras.layers.TFSMLayer(str(path), call_endpoint="serve")(x)
