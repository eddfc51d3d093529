"""Checks of user input shared by the public API: each rule written once, each error
naming what was wrong and the fix (the project's principle 4).

Conventions (README, "Input conventions"):
- images are float in [0, 1]; uint8 images are divided by 255 (:func:`unit_image`); any
  other integer image, or a float image outside [0, 1], is an error naming the conversion;
- binary targets hold only 0 and 1 (0/255 is an error that says so); class maps hold
  integer ids below the class count;
- a trailing axis of 1 on a mask or label image is its channel axis;
- NaN or inf in an image, a probability map or a weight map is an error with its count.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-3  # float16 rounding of a probability may reach 1.0005


def _shown(values) -> str:
    return ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")


def integer(value, name: str, minimum: int = 1, meaning: str = "") -> int:
    """``value`` as an int >= ``minimum``: a non-integer (a bool or a float too) raises
    ``TypeError``, a smaller one ``ValueError``; ``meaning`` explains the number."""
    wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {wanted}{meaning}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {wanted}{meaning}, got {value}")
    return int(value)


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1 (:func:`integer`)."""
    return integer(value, name, 1)


def probability(value, name: str) -> float:
    """A number strictly between 0 and 1 (a threshold, a rate)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a number in (0, 1), got {value!r}")
    if not 0 < value < 1:
        raise ValueError(f"{name} must be a probability in (0, 1), got {value}")
    return float(value)


def option_types(options: dict, defaults: dict, flag: str, owner: str) -> None:
    """Each of ``options`` of its default's type: an integer where the default is one, a
    number for a float, a bool for a bool, a string, a list or tuple; any value where the
    default is None. Errors name ``flag`` (e.g. ``--encoder-option``) and ``owner``."""
    for key, value in options.items():
        default = defaults.get(key)
        if default is None or value is None:
            continue
        kind = (int, float) if isinstance(default, float) else (
            (list, tuple) if isinstance(default, (list, tuple)) else type(default))
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, kind):
            wanted = {"int": "an integer", "float": "a number", "bool": "True or False",
                      "str": "a string"}.get(type(default).__name__, "a list")
            raise ValueError(f"{flag} {key}={value!r}: {owner} takes {wanted} there, like "
                             f"the default {default!r}")


def finite(array, name: str) -> np.ndarray:
    """``array`` as numpy, refusing NaN and inf with their count."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.inexact):
        bad = array.size - int(np.isfinite(array).sum())
        if bad:
            raise ValueError(f"{name} holds {bad} NaN or infinite value(s) of {array.size}: "
                             "fix or mask them before this call (e.g. np.nan_to_num)")
    return array


def numeric(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype != bool and not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {array.dtype}")
    return array


def unit_image(image, name: str = "image") -> np.ndarray:
    """An image (any shape) as float32 in [0, 1].

    uint8 and bool images are converted (``/ 255``, ``0/1``); other integer images and
    float images outside [0, 1] raise ``ValueError`` naming the conversion (never a clip).
    """
    array = numeric(image, name)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    if array.dtype == bool:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        top = int(array.max()) if array.size else 0
        hint = "65535" if array.dtype == np.uint16 else "its maximum value"
        raise ValueError(f"{name} has integer dtype {array.dtype} (values up to {top}); "
                         f"images must be float in [0, 1]: divide by {hint} first "
                         "(uint8 images are divided by 255 automatically)")
    array = finite(array, name).astype(np.float32, copy=False)
    if array.size and (array.min() < -TOLERANCE or array.max() > 1 + TOLERANCE):
        low, high = float(array.min()), float(array.max())
        fix = ("divide by 255" if high <= 255 and low >= 0 else
               "rescale it, e.g. (x - x.min()) / (x.max() - x.min())")
        raise ValueError(f"{name} must be float in [0, 1], found values in [{low:g}, {high:g}]:"
                         f" {fix} first")
    return array


def probabilities(array, name: str) -> np.ndarray:
    """Finite values in [0, 1] (a probability map), as float32."""
    array = finite(numeric(array, name), name).astype(np.float32, copy=False)
    if array.size and (array.min() < -TOLERANCE or array.max() > 1 + TOLERANCE):
        raise ValueError(f"{name} must be probabilities in [0, 1], found values in "
                         f"[{float(array.min()):g}, {float(array.max()):g}]: apply the "
                         "sigmoid/softmax to logits (or pass from_logits=True)")
    return array


def binary_mask(mask, name: str = "mask") -> np.ndarray:
    """``mask`` (any shape) holding only 0 and 1 (or bool) -> a bool array.

    0/255 masks and any other values raise ``ValueError`` naming the values found and
    the conversion; non-numeric arrays raise ``TypeError``.
    """
    array = np.asarray(mask)
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be a numeric or boolean array of 0 and 1, "
                        f"got dtype {array.dtype}")
    values = np.unique(array)
    if np.isin(values, (0, 1)).all():
        return array.astype(bool)
    if np.isin(values, (0, 255)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (binary mask) but holds 0/255: "
                         "pass mask // 255 (or mask > 0)")
    raise ValueError(f"{name} must hold only 0 and 1 (binary mask); found {_shown(values)}: "
                     "threshold probabilities first (mask > 0.5) or use a label image's "
                     "foreground (labels > 0)")


def class_map(labels, num_classes: int, name: str = "class map") -> np.ndarray:
    """Integer-valued class ids in 0..num_classes - 1 (any shape), returned unchanged;
    for ``num_classes`` 1 (a sigmoid model) the binary-mask rule applies."""
    if num_classes == 1:
        binary_mask(labels, name)
        return np.asarray(labels)
    array = finite(numeric(labels, name), name)
    values = np.unique(array)
    if values.size and (values.min() < 0 or values.max() >= num_classes
                        or not np.array_equal(values, np.round(values))):
        raise ValueError(f"{name} must hold integer class ids 0..{num_classes - 1} for "
                         f"{num_classes} classes; found {_shown(values)}: map the values to "
                         "ids (e.g. np.searchsorted(palette, mask)) or raise num_classes")
    return array


def label_image(labels, name: str = "labels") -> np.ndarray:
    """Instance or class labels: integer or bool values >= 0 (0 = background)."""
    array = numeric(labels, name)
    if np.issubdtype(array.dtype, np.floating):
        array = finite(array, name)
        if not np.array_equal(array, np.round(array)):
            raise ValueError(f"{name} must hold integer labels, found fractional values: "
                             "threshold probabilities first (probs > 0.5)")
    if array.size and array.dtype != bool and array.min() < 0:
        raise ValueError(f"{name} must be >= 0 (0 = background), found {array.min()}")
    return array


def drop_channel(array, name: str, ndims=(2, 3)) -> np.ndarray:
    """A mask or label image with an optional trailing channel axis of 1 -> without it;
    any other number of dimensions raises, naming ``ndims``' shapes."""
    array = np.asarray(array)
    if array.ndim - 1 in ndims and array.ndim >= 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in ndims:
        shapes = " or ".join({2: "(H, W)", 3: "(N, H, W)"}[n] for n in ndims)
        raise ValueError(f"{name} must be {shapes} (a trailing channel of 1 is accepted), "
                         f"got shape {array.shape}")
    return array


def same_size(true_shape, pred_shape) -> None:
    """Targets and predictions (B, H, W[, C]) must share H and W where both are known
    (static shapes, so this also holds inside a traced training step)."""
    sides = [(t, p) for t, p in zip(tuple(true_shape)[1:3], tuple(pred_shape)[1:3], strict=False)
             if t is not None and p is not None]
    if len(tuple(true_shape)) < 3 or any(t != p for t, p in sides):
        raise ValueError(f"y_true {tuple(true_shape)} and y_pred {tuple(pred_shape)} must have "
                         "the same height and width ((B, H, W) or (B, H, W, C) targets); a "
                         "valid-padding model's output is smaller: crop the targets to it")


def pair_shapes(true_shape, pred_shape, num_classes: int | None = None,
                name: str = "") -> None:
    """Static shape rules of a loss's or metric's inputs (so they hold in a traced step
    too): y_pred is (B, H, W, C); y_true shares H and W (:func:`same_size`) and is class
    ids (B, H, W[, 1]) or one-hot with C channels; a metric's ``num_classes`` is C."""
    true_shape, pred_shape = tuple(true_shape), tuple(pred_shape)
    where = f"{name}: " if name else ""
    if len(pred_shape) != 4:
        raise ValueError(f"{where}y_pred {pred_shape} must be (B, H, W, C) with its channel "
                         "axis (C = 1 for a sigmoid map, the class count for softmax): add it "
                         "with y_pred[..., None]")
    same_size(true_shape, pred_shape)
    classes = pred_shape[-1]
    channels = true_shape[-1] if len(true_shape) == 4 else 1
    if classes is not None and channels not in (None, 1) and channels != classes:
        raise ValueError(f"{where}y_true {true_shape} has {channels} channels (one-hot) but "
                         f"y_pred {pred_shape} has {classes}: predict one channel per class, "
                         "or give class ids (B, H, W) or (B, H, W, 1)")
    if num_classes is not None and classes is not None and classes != num_classes:
        kind = "a sigmoid map: num_classes=1" if classes == 1 else f"num_classes={classes}"
        raise ValueError(f"{where}num_classes={num_classes} scores {num_classes}-channel "
                         f"predictions, but y_pred {pred_shape} has {classes} channel(s) "
                         f"({kind})")


def concrete(tensor) -> np.ndarray | None:
    """The values of an eager tensor or array as numpy; None while a graph is traced
    (a compiled training step), where values cannot be read."""
    import keras

    try:
        array = keras.ops.convert_to_numpy(tensor)
    except Exception:  # a symbolic tensor or a tracer: nothing to check yet
        return None
    if array.dtype.kind not in "biuf":  # bfloat16 (ml_dtypes) is not a numpy number
        array = array.astype(np.float32)
    return array


def prediction_pair(y_true, y_pred, from_logits: bool, name: str) -> None:
    """Eager checks of a loss's or metric's inputs: targets 0/1 (soft targets in [0, 1])
    or class ids, predictions in [0, 1] unless ``from_logits``; skipped while traced."""
    truth, pred = concrete(y_true), concrete(y_pred)
    if truth is None or pred is None:
        return
    classes = pred.shape[-1] if pred.ndim else 1
    pred = finite(pred, f"{name}: y_pred")
    if not from_logits:
        probabilities(pred, f"{name}: y_pred")
    truth = finite(numeric(truth, f"{name}: y_true"), f"{name}: y_true")
    if classes > 1 and (truth.ndim == pred.ndim - 1 or truth.shape[-1] == 1):
        class_map(truth, classes, f"{name}: y_true")
    elif truth.size and (truth.min() < 0 or truth.max() > 1):
        binary_mask(truth, f"{name}: y_true")  # raises, naming 0/255 where that is it
