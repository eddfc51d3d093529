"""Overlap-tile inference for images of any size (Ronneberger et al. 2015, Sec. 2, Fig. 2)."""

from __future__ import annotations

import math

import keras
import numpy as np

from . import checks
from .blocks import mask_output

TTA = {
    None: [(lambda x: x, lambda y: y)],
    "flips": [(lambda x: x, lambda y: y),
              (lambda x: x[:, :, ::-1], lambda y: y[:, :, ::-1]),
              (lambda x: x[:, ::-1], lambda y: y[:, ::-1]),
              (lambda x: x[:, ::-1, ::-1], lambda y: y[:, ::-1, ::-1])],
}
TTA["d4"] = TTA["flips"] + [(lambda x, f=f: np.swapaxes(f(x), 1, 2),
                             lambda y, f=f: f(np.swapaxes(y, 1, 2)))
                            for f, _ in TTA["flips"]]


def predict_tiled(model: keras.Model, image, *, tile_size: int | None = None,
                  overlap: int | None = None, pad_mode: str = "reflect",
                  blend: str = "gaussian", tta: str | None = None, batch_size: int = 4,
                  context: int = 0, verbose: bool | None = None) -> np.ndarray:
    """Predict an image of any size (or a stack) tile by tile, in bounded memory.

    Args:
        model: a zoo model (or any fully convolutional Keras model); the output
            declaring role ``mask`` is used (:func:`zoo.models.mask_output`),
            for other models the first.
        image: (H, W) (1-channel models), (H, W, C) or a stack (N, H, W, C), float in
            [0, 1] (uint8 is divided by 255; other integer images, values outside
            [0, 1] and NaN/inf raise). C must be the model's channel count.
        tile_size: same-padding models: the input tile side (default: the
            model's input size, or 256 for variable-size models; it must be a
            size the model accepts). Valid-padding models use their fixed size.
        overlap: same-padding models: pixels shared by neighbouring tiles
            (default ``tile_size // 4``).
        pad_mode: how the image is extended beyond its borders (numpy
            ``np.pad`` mode; "reflect" mirrors, as the paper does).
        blend: ``"gaussian"`` weights each tile's prediction by a Gaussian
            centred on the tile; ``"constant"`` keeps only each tile's central
            ``tile - overlap`` pixels, so a fully convolutional model whose
            receptive field radius is below ``overlap / 2`` gives exactly its
            whole-image prediction (away from the image borders).
        tta: None, ``"flips"`` (4 flips) or ``"d4"`` (8 flips and rotations;
            square tiles) test-time augmentation, averaged.
        batch_size: tiles per ``predict_on_batch`` call.
        context: for a stack of serial sections (N, H, W[, C]) and a model
            trained on 2.5D input (``load_isbi2012(context=k)``): each section
            gets its ``context`` neighbours per side as channels, mirrored at
            the stack's ends (``zoo.data.with_context``).

    Valid-padding models (output smaller than input, e.g. 572 -> 388) use the
    paper's overlap-tile strategy: the image is mirror-padded by the margin
    ((572 - 388) / 2 = 92 px per side) and output tiles abut seamlessly.
    Predictions accumulate in float32 on the host; memory is the image plus
    one accumulator, whatever the tile count.

    Returns (H, W, K) float32, or (N, H, W, K) for a stack.
    """
    if tta not in TTA:
        raise ValueError(f"tta must be None, 'flips' or 'd4', got {tta!r}")
    if blend not in ("gaussian", "constant"):
        raise ValueError(f"blend must be 'gaussian' or 'constant', got {blend!r}")
    checks.positive_int(batch_size, "batch_size")
    channels = model.input_shape[-1]
    image = checks.unit_image(image)
    if context:
        from .data.context import with_context

        if image.ndim not in (3, 4):
            raise ValueError(f"context={context} needs a stack of sections (N, H, W[, C]), "
                             f"got shape {image.shape}")
        image = with_context(image, context)
    stack, single = _as_stack(image, channels)
    progress = keras.utils.Progbar(len(stack)) if (
        verbose or (verbose is None and len(stack) > 1)) else None
    results = []
    for i, item in enumerate(stack):
        results.append(_predict_one(model, item, tile_size, overlap, pad_mode, blend, tta,
                                    batch_size))
        if progress is not None:
            progress.update(i + 1)
    return results[0] if single else np.stack(results)


def _as_stack(image, channels):
    if image.ndim == 2 and channels == 1:
        return image[None, ..., None], True
    if image.ndim == 3 and image.shape[-1] == channels:
        return image[None], True
    if image.ndim == 4 and image.shape[-1] == channels:
        return image, False
    accepted = "(H, W), (H, W, 1) or a stack (N, H, W, 1)" if channels == 1 else (
        f"(H, W, {channels}) or a stack (N, H, W, {channels})")
    raise ValueError(f"image of shape {image.shape} does not fit a model taking {channels} "
                     f"channel(s): pass {accepted} (a stack of gray images: stack[..., None]; "
                     "colour images for a gray model: convert to gray first)")


def _geometry(model, tile_size):
    in_h, in_w = model.input_shape[1:3]
    out_h, out_w = mask_output(model, model.output_shape)[1:3]
    if in_h is not None and out_h is not None and (in_h, in_w) != (out_h, out_w):
        if tile_size not in (None, in_h) or in_h != in_w:
            raise ValueError(f"a valid-padding model predicts fixed {in_h}x{in_w} -> "
                             f"{out_h}x{out_w} tiles; leave tile_size=None")
        return in_h, (in_h - out_h) // 2
    tile = tile_size or in_h or 256
    if in_h is not None and tile != in_h:
        raise ValueError(f"the model takes {in_h}x{in_w} inputs; tile_size={tile} does not fit "
                         f"(build it with input_shape=(None, None, C) to choose tiles)")
    return tile, 0


def _predict_one(model, image, tile_size, overlap, pad_mode, blend, tta, batch_size):
    height, width = image.shape[:2]
    tile, margin = _geometry(model, tile_size)
    if margin:
        out_tile, stride, border = tile - 2 * margin, tile - 2 * margin, margin
        overlap = 2 * margin  # context on both sides, cut off by the model itself
        window = np.ones((out_tile, out_tile), np.float32)
    else:
        overlap = tile // 4 if overlap is None else overlap
        if not 0 <= overlap < tile:
            raise ValueError(f"overlap must be in [0, tile_size), got {overlap}")
        out_tile, stride, border = tile, tile - overlap, overlap // 2
        window = _window(tile, overlap, blend)
    # Pad: context on every side (``border`` before, ``overlap - border`` after: the
    # constant blend's core is one pixel off centre for an odd overlap), and enough to
    # cover the image with whole tiles.
    span_h = max(height + overlap - 2 * margin, out_tile)
    span_w = max(width + overlap - 2 * margin, out_tile)
    tiles_h = 1 + math.ceil(max(span_h - out_tile, 0) / stride)
    tiles_w = 1 + math.ceil(max(span_w - out_tile, 0) / stride)
    full_h = (tiles_h - 1) * stride + out_tile + 2 * margin
    full_w = (tiles_w - 1) * stride + out_tile + 2 * margin
    padded = np.pad(image, ((border, full_h - height - border),
                            (border, full_w - width - border), (0, 0)), mode=pad_mode)
    starts = [(i * stride, j * stride) for i in range(tiles_h) for j in range(tiles_w)]
    accumulator = None
    weight = np.zeros((full_h - 2 * margin, full_w - 2 * margin), np.float32)
    for first in range(0, len(starts), batch_size):
        chunk = starts[first:first + batch_size]
        batch = np.stack([padded[top:top + tile, left:left + tile] for top, left in chunk])
        prediction = _predict_batch(model, batch, tta) if first else _first_batch(
            model, batch, tta, tile)
        if accumulator is None:
            accumulator = np.zeros((*weight.shape, prediction.shape[-1]), np.float32)
        for (top, left), tile_prediction in zip(chunk, prediction, strict=True):
            accumulator[top:top + out_tile, left:left + out_tile] += (
                tile_prediction * window[..., None])
            weight[top:top + out_tile, left:left + out_tile] += window
    offset = border - margin
    result = accumulator[offset:offset + height, offset:offset + width]
    return result / weight[offset:offset + height, offset:offset + width, None]


def _window(tile, overlap, blend):
    if blend == "constant":
        window = np.zeros((tile, tile), np.float32)
        core = slice(overlap // 2, tile - (overlap - overlap // 2))
        window[core, core] = 1.0
        return window
    coords = np.arange(tile) - (tile - 1) / 2
    g = np.exp(-(coords**2) / (2 * (tile / 8) ** 2))
    return np.maximum(np.outer(g, g), 1e-3).astype(np.float32)


def _first_batch(model, batch, tta, tile):
    try:
        return _predict_batch(model, batch, tta)
    except Exception as error:  # the backend's shape error, named in the user's terms
        raise ValueError(f"the model failed on its first {tile}x{tile} tiles (same-padding "
                         "models need a tile_size divisible by 2**depth, e.g. 256): "
                         f"{type(error).__name__}: {str(error)[:200]}") from error


def _predict_batch(model, batch, tta):
    total = None
    for forward, inverse in TTA[tta]:
        output = model.predict_on_batch(np.ascontiguousarray(forward(batch)))
        output = inverse(np.asarray(mask_output(model, output), dtype=np.float32))
        total = output if total is None else total + output
    return total / len(TTA[tta])


def predict_ensemble(models, image, *, weights=None, members: bool = False,
                     **kwargs) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """The weighted mean of several models' probabilities: an ensemble of folds or
    architectures, each predicted by :func:`predict_tiled` (``kwargs``: tiles, TTA ...).

    ``models``: Keras models with the same input channels and mask classes (their
    input sizes, depths and architectures may differ); ``weights``: one non-negative
    number per model (default: equal), normalised to sum 1. Returns the (H, W, K)
    (or (N, H, W, K)) mean, and with ``members`` also each model's own maps.
    """
    models = list(models)
    weights = check_ensemble(models, weights)
    maps = [predict_tiled(model, image, **kwargs) for model in models]
    mean = sum(w * m for w, m in zip(weights, maps, strict=True)).astype(np.float32)
    return (mean, maps) if members else mean


def check_ensemble(models: list, weights=None) -> list[float]:
    """The normalised ``weights`` of ``models``, after checking that every model takes
    the same channels and predicts the same classes."""
    if not models:
        raise ValueError("an ensemble needs at least one model")
    if weights is None:
        weights = [1.0] * len(models)
    weights = [float(w) for w in weights]
    if len(weights) != len(models):
        raise ValueError(f"{len(weights)} ensemble weights for {len(models)} models: give one "
                         "weight per model")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"ensemble weights must be non-negative numbers, not all 0; got "
                         f"{weights}")
    shapes = [(m.input_shape[-1], mask_output(m, m.output_shape)[-1]) for m in models]
    if len(set(shapes)) > 1:
        listed = ", ".join(f"{m.name}: {c} channel(s) in, {k} class(es) out"
                           for m, (c, k) in zip(models, shapes, strict=True))
        raise ValueError(f"ensemble members must take the same channels and predict the same "
                         f"classes; {listed}")
    return [w / sum(weights) for w in weights]
