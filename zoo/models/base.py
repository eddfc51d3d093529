"""The one model pipeline every architecture uses.

    image (B, H, W, C) -> [pad to a legal size] -> encoder (a nested ``keras.Model``
    named ``encoder``: features keyed by stride) -> [bottleneck dropout] -> decoder
    function -> float32 heads with declared roles -> [classification gate] -> [crop back]

A decoder module contributes only its decoder function, its defaults and one
:func:`register_architecture` line; the builder (``zoo.unet`` ...) is generated
here, so every architecture takes the same model options with the same checks.
Output roles live on the output layers (:class:`zoo.blocks.HeadOutput`,
:class:`ClassificationGate`), so deep supervision, pruning and the gate read
them, not layer-name prefixes, also after a ``.keras`` round trip.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from .. import checks
from ..blocks import HeadOutput, output_roles, segmentation_head
from ..encoders import get_encoder, set_encoder_trainable
from ..geometry import check_same_padding_size, unet_output_size
from ..registry import MODELS

PADDINGS = ("same", "valid")
INPUT_SIZES = ("strict", "any")


@dataclass(frozen=True)
class Head:
    """A decoder map that gets a segmentation head.

    ``role``: ``"mask"`` (the main output) or ``"side"`` (deep supervision);
    ``level``: the depth the output belongs to (U-Net++ ``X(0, level)``, U-Net 3+
    stage), used by :func:`zoo.prune`; ``stride``: the map's stride, by which the
    head up-samples its logits bilinearly; ``kernel_size`` of the head conv.
    """

    tensor: Any
    name: str
    role: str = "mask"
    level: int | None = None
    stride: int = 1
    kernel_size: int = 1


@dataclass(frozen=True)
class Architecture:
    """A registered decoder and its defaults.

    ``decoder(features, *, padding, batch_norm, **options) -> list[Head]`` where
    ``features`` maps stride -> (B, H/stride, W/stride, C) encoder maps (the
    deepest after dropout). ``options`` holds the decoder's own keyword
    arguments and their defaults; those named in ``encoder_keys`` go to the
    encoder too (DeepLab's ``output_stride``). ``logits``: the decoder ends in
    class scores itself (FCN): it also gets ``num_classes`` and its heads add
    no conv. ``finish(model, options)`` may rework the built model (U-Net++
    pruning). ``encoder`` is the builder's default encoder.
    """

    name: str
    decoder: Callable[..., list[Head]]
    options: dict[str, Any] = field(default_factory=dict)
    paddings: tuple[str, ...] = ("same",)
    dropout: float = 0.0
    batch_norm: bool = False
    finish: Callable[[keras.Model, dict], keras.Model] | None = None
    encoder: str = "plain"
    encoder_keys: tuple[str, ...] = ()
    logits: bool = False


@keras.saving.register_keras_serializable(package="zoo")
class ClassificationGate(layers.Layer):
    """Multiplies masks by the CGM's 0/1 decision at inference (Huang et al. 2020, Sec. 2.3).

    ``[mask (B, H, W, K), probability (B, 1)] -> (B, H, W, K)``. In training the
    mask passes unchanged, so the segmentation loss keeps its gradient; at
    inference every mask of an image whose probability is below
    ``threshold`` becomes zero. It is an output layer, so it declares the
    ``role`` and ``level`` of the mask it gates.
    """

    def __init__(self, threshold: float = 0.5, role: str = "mask", level: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"cgm_threshold must be a probability in (0, 1), got {threshold}")
        self.threshold, self.role, self.level = threshold, role, level

    def call(self, inputs, training=None):
        mask, probability = inputs
        if training:
            return mask
        present = ops.cast(probability > self.threshold, mask.dtype)
        return mask * present[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold, "role": self.role,
                "level": self.level}


@keras.saving.register_keras_serializable(package="zoo")
class PadToMultiple(layers.Layer):
    """(B, H, W, C) -> (B, H', W', C) with H', W' the next multiples of ``divisor``.

    Pads the bottom and right by reflection (the overlap-tile strategy's mirror,
    Ronneberger et al. 2015, Fig. 2), so border statistics stay image-like; a
    side shorter than the padding it needs is reflected as far as it goes and
    zero-padded beyond. :class:`CropToInput` takes the output back to H x W.
    """

    def __init__(self, divisor: int, **kwargs):
        super().__init__(**kwargs)
        self.divisor = divisor

    def call(self, x):
        shape = ops.shape(x)
        pads = [(-shape[axis]) % self.divisor for axis in (1, 2)]
        sides = [shape[axis] - 1 for axis in (1, 2)]
        mirrored = [min(pad, side) if isinstance(pad, int)  # static shapes (JAX, PyTorch)
                    else ops.minimum(pad, side) for pad, side in zip(pads, sides, strict=True)]
        x = ops.pad(x, [[0, 0], [0, mirrored[0]], [0, mirrored[1]], [0, 0]], mode="reflect")
        rest = [pad - m for pad, m in zip(pads, mirrored, strict=True)]
        return ops.pad(x, [[0, 0], [0, rest[0]], [0, rest[1]], [0, 0]])

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        h, w = (None if s is None else -(-s // self.divisor) * self.divisor for s in (h, w))
        return (b, h, w, c)

    def get_config(self):
        return {**super().get_config(), "divisor": self.divisor}


@keras.saving.register_keras_serializable(package="zoo")
class CropToInput(layers.Layer):
    """``[output (B, H', W', K), image (B, H, W, C)] -> (B, H, W, K)``: the top-left H x W."""

    def call(self, inputs):
        output, image = inputs
        shape = ops.shape(image)
        return output[:, :shape[1], :shape[2], :]

    def compute_output_shape(self, input_shape):
        (b, _, _, k), (_, h, w, _) = input_shape
        return (b, h, w, k)


def build_model(architecture: Architecture, input_shape: Sequence[int | None], num_classes: int,
                encoder: str, *, encoder_weights: str | None = None, encoder_freeze: bool = False,
                encoder_options: dict | None = None, depth: int | None = None,
                padding: str = "same", batch_norm: bool | None = None,
                dropout: float | None = None, activation: str | None = "auto",
                input_size: str = "strict", cgm: bool = False, cgm_dropout: float = 0.5,
                cgm_threshold: float = 0.5, name: str | None = None,
                **options) -> keras.Model:
    """Build ``architecture`` on ``encoder``; see any generated builder's docstring."""
    arch = architecture
    checks.positive_int(num_classes, "num_classes")
    spec = get_encoder(encoder)
    unknown = set(options) - set(arch.options)
    encoder_keys = sorted(unknown & set(spec.options))
    if encoder_keys:
        raise TypeError(
            f"{', '.join(encoder_keys)} is an option of encoder {encoder!r}, not of the model: "
            f"pass encoder_options={{{', '.join(f'{k!r}: ...' for k in encoder_keys)}}}"
        )
    if unknown:
        raise TypeError(
            f"{arch.name} got unexpected option(s) {sorted(unknown)}; its decoder options are: "
            f"{', '.join(sorted(arch.options)) or 'none'}; model options: "
            f"{', '.join(MODEL_DEFAULTS)}; encoder options go in encoder_options={{...}}"
        )
    options = {**arch.options, **options}
    batch_norm = arch.batch_norm if batch_norm is None else batch_norm
    dropout = arch.dropout if dropout is None else dropout
    if padding not in arch.paddings:
        raise ValueError(f"{arch.name} supports padding {list(arch.paddings)}, got {padding!r}"
                         + ("; the unpadded form is the U-Net's (zoo.unet)"
                            if padding == "valid" else ""))
    if input_size not in INPUT_SIZES:
        raise ValueError(f"input_size must be one of {INPUT_SIZES}, got {input_size!r}")
    if input_size == "any" and padding == "valid":
        raise ValueError("input_size='any' works with padding='same' only; valid-padding "
                         "sizes are chosen with zoo.unet_input_size")
    depth = spec.check(depth, padding)
    _check_input_shape(input_shape, depth, padding, check_sides=input_size == "strict")

    image = keras.Input(shape=tuple(input_shape), name="image")
    x = PadToMultiple(2**depth, name="pad_to_multiple")(image) if input_size == "any" else image
    encoder_options = dict(encoder_options or {})
    if "batch_norm" in spec.options:
        encoder_options.setdefault("batch_norm", batch_norm)
    features = dict(spec(x, depth=depth, padding=padding, weights=encoder_weights,
                         **{k: options[k] for k in arch.encoder_keys}, **encoder_options).features)
    deepest = max(features)
    if dropout:
        features[deepest] = layers.Dropout(dropout, name="bottleneck_dropout")(features[deepest])
    if arch.logits:
        options["num_classes"] = num_classes
    heads = arch.decoder(features, padding=padding, batch_norm=batch_norm, **options)

    probability = _classification_module(features[deepest], cgm_dropout) if cgm else None
    outputs = []
    for head in heads:
        out = segmentation_head(head.tensor, num_classes, activation, role=head.role,
                                level=head.level, kernel_size=head.kernel_size,
                                upsample=head.stride, logits=arch.logits,
                                name=f"{head.name}_ungated" if cgm else head.name)
        if cgm:
            out = ClassificationGate(cgm_threshold, role=head.role, level=head.level,
                                     dtype="float32", name=head.name)([out, probability])
        if input_size == "any":
            out = CropToInput(dtype="float32", name=f"{head.name}_crop")([out, image])
        outputs.append(out)
    if cgm:
        outputs.append(probability)
    model = keras.Model(image, outputs if len(outputs) > 1 else outputs[0],
                        name=name or arch.name)
    if encoder_freeze:
        set_encoder_trainable(model, False)
    return arch.finish(model, options) if arch.finish else model


def _classification_module(x, rate: float):
    """CGM (Huang et al. 2020, Sec. 2.3): dropout -> 1x1 conv -> global max-pool -> sigmoid."""
    x = layers.Dropout(rate, name="cgm_dropout")(x)
    x = layers.Conv2D(1, 1, name="cgm_conv")(x)
    x = layers.GlobalMaxPooling2D(name="cgm_pool")(x)
    return HeadOutput("sigmoid", role="classification", dtype="float32",
                      name="classification")(x)


def _check_input_shape(input_shape, depth: int, padding: str, *, check_sides: bool) -> None:
    if len(input_shape) != 3 or input_shape[-1] is None or input_shape[-1] < 1:
        raise ValueError(
            f"input_shape must be (height, width, channels) with a known channel count, "
            f"got {tuple(input_shape)}"
        )
    height, width, _ = input_shape
    if padding == "valid":
        if height is None or width is None:
            raise ValueError("padding='valid' needs a concrete input size, e.g. (572, 572, 1)")
        for side in (height, width):
            unet_output_size(side, depth)
    elif check_sides:
        check_same_padding_size(height, depth, "height")
        check_same_padding_size(width, depth, "width")


def presence_targets(masks) -> np.ndarray:
    """CGM targets: (B, H, W[, K]) masks -> (B, 1) float32, 1 where any pixel is foreground."""
    masks = np.asarray(masks)
    return (masks.reshape(len(masks), -1) > 0).any(axis=1, keepdims=True).astype("float32")


def default_decoder_width(features: dict, stride: int) -> int:
    """Decoder width at ``stride``: the skip's channels for encoders with stride-1
    features (plain, VGG: the U-Net's mirrored halving), else 16 * stride
    (segmentation-models' 256, 128, 64, 32, 16 at strides 16..1)."""
    if 1 in features:
        return int(features[stride].shape[-1])
    return 16 * stride


# The model options every builder takes; None: the architecture's own default.
MODEL_DEFAULTS = {"encoder_weights": None, "encoder_freeze": False, "encoder_options": None,
                  "depth": None, "padding": "same", "batch_norm": None, "dropout": None,
                  "activation": "auto", "input_size": "strict", "cgm": False,
                  "cgm_dropout": 0.5, "cgm_threshold": 0.5, "name": None}
COMMON_DOC = """
    Model options (every architecture; :func:`zoo.models.base.build_model`):
        input_shape: (H, W, C); H and W may be ``None`` with same padding.
        num_classes: output channels.
        encoder: a registered encoder name (``zoo.list_encoders()``).
        encoder_weights: ``None``, ``"imagenet"`` or the path of a local
            weights file of the backbone (offline use), where the encoder
            supports it.
        encoder_freeze: freeze the encoder (``model.get_layer("encoder")``; its
            batch norm then runs in inference mode); undo with
            :func:`zoo.unfreeze_encoder`.
        encoder_options: the encoder's own options, e.g. ``{"filters": 16}`` for
            the plain encoder (``zoo.list_encoders()`` lists them); unknown keys
            raise naming the accepted ones.
        depth: number of down-samplings (plain encoder 2..6, default 4;
            backbones 3..5, default 5).
        padding: ``"same"`` (H' = H) or, where the architecture has it,
            ``"valid"`` (the paper's unpadded U-Net).
        batch_norm: conv -> BN -> ReLU in the decoder and in encoders that have
            the option.
        dropout: rate on the deepest encoder map; 0 disables.
        activation: ``"auto"`` (sigmoid for 1 class, softmax otherwise), any
            Keras activation name, or ``None`` for logits.
        input_size: ``"strict"`` (default: same-padding sides must be divisible
            by 2**depth, else an error naming the nearest sizes) or ``"any"``
            (pad inside the model by reflection to the next legal size and crop
            the output back; e.g. 97 x 130).
        cgm: add the classification-guided module (Huang et al. 2020, Sec. 2.3)
            on the deepest encoder map: an output ``classification`` (B, 1),
            trained with binary cross-entropy on
            :func:`zoo.models.presence_targets`, whose decision (probability >
            ``cgm_threshold``) zeroes every mask of an image at inference; the
            raw masks are the ``*_ungated`` layers. ``cgm_dropout`` is its
            dropout rate.
        name: the model's name.

    Outputs are float32 (safe under mixed precision) and declare their role
    (:func:`zoo.models.output_roles`): ``mask``, ``side`` (deep supervision)
    or ``classification``.
"""


def register_architecture(architecture: Architecture, *aliases: str, doc: str) -> Callable:
    """Register ``architecture`` under its name and ``aliases``; returns its builder.

    The builder is ``f(input_shape=(None, None, 1), num_classes=1,
    encoder=architecture.encoder, **options)`` with a full signature (model
    options, then the decoder's options) and ``doc`` + the shared options'
    documentation as docstring.
    """
    arch = architecture

    def builder(input_shape=(None, None, 1), num_classes=1, encoder=arch.encoder, **options):
        return build_model(arch, input_shape, num_classes, encoder, **options)

    keyword = inspect.Parameter.KEYWORD_ONLY
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    defaults = {**MODEL_DEFAULTS, "batch_norm": arch.batch_norm, "dropout": arch.dropout,
                "name": arch.name}
    builder.__signature__ = inspect.Signature(
        [inspect.Parameter("input_shape", positional, default=(None, None, 1)),
         inspect.Parameter("num_classes", positional, default=1),
         inspect.Parameter("encoder", positional, default=arch.encoder)]
        + [inspect.Parameter(k, keyword, default=v) for k, v in {**defaults,
                                                                  **arch.options}.items()],
        return_annotation=keras.Model)
    builder.__name__ = builder.__qualname__ = arch.name
    builder.__module__ = inspect.currentframe().f_back.f_globals["__name__"]  # the decoder's
    builder.__doc__ = inspect.cleandoc(doc) + "\n" + inspect.cleandoc(COMMON_DOC)
    builder.architecture = arch
    MODELS.add(arch.name, builder, *aliases)
    return builder


__all__ = ["Architecture", "ClassificationGate", "CropToInput", "Head", "PadToMultiple",
           "build_model", "default_decoder_width", "output_roles", "presence_targets",
           "register_architecture"]
