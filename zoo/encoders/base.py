"""The encoder contract shared by every encoder and decoder.

An encoder maps an input tensor (B, H, W, C) to feature maps keyed by stride:
``{1: (B, H, W, C1), 2: (B, H/2, W/2, C2), ..., 2**depth: bottleneck}``. Encoders
that have no stride-1 features (ResNet, EfficientNet) start at stride 2
(ConvNeXt at 4). Decoders consume only this dictionary, so any decoder works
with any encoder.

``output_stride`` (DeepLab's atrous encoder, Chen et al. 2018, Sec. 3.1): an
encoder listing it in ``output_strides`` replaces the down-sampling of its
stages deeper than ``output_stride`` by dilated convolutions. The maps keep
their keys (the stage's nominal stride) but are H/output_stride in size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import checks


@dataclass(frozen=True)
class EncoderFeatures:
    """What an encoder returns: ``features[stride]`` is a (B, H/stride, W/stride, C) tensor."""

    features: dict[int, Any]
    input_range: tuple[float, float] = (0.0, 1.0)

    @property
    def channels(self) -> dict[int, int]:
        return {s: int(t.shape[-1]) for s, t in self.features.items()}

    @property
    def bottleneck_stride(self) -> int:
        return max(self.features)


@dataclass(frozen=True)
class EncoderSpec:
    """A registered encoder.

    ``build(inputs, *, depth, padding, weights, output_stride, **options) ->
    EncoderFeatures`` (``output_stride`` is None or one of ``output_strides``).
    ``channels`` are the feature channels per stride at the default options;
    ``input_range`` is the pixel range the user feeds in.
    """

    name: str
    build: Callable[..., EncoderFeatures]
    default_depth: int
    depths: tuple[int, ...]
    channels: dict[int, int]
    paddings: tuple[str, ...] = ("same",)
    input_range: tuple[float, float] = (0.0, 1.0)
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    output_strides: tuple[int, ...] = ()

    def check(self, depth: int | None, padding: str) -> int:
        """Validate ``depth`` and ``padding`` for this encoder; returns the depth to use."""
        depth = self.default_depth if depth is None else depth
        if depth not in self.depths:
            raise ValueError(
                f"encoder {self.name!r} supports depth in {list(self.depths)}, got {depth}"
            )
        if padding not in self.paddings:
            raise ValueError(
                f"encoder {self.name!r} supports padding {list(self.paddings)}, got {padding!r}; "
                "valid (unpadded) convolutions are only available with encoder='plain'"
            )
        return depth

    def __call__(self, inputs, *, depth: int | None = None, padding: str = "same",
                 weights: str | None = None, output_stride: int | None = None,
                 **options) -> EncoderFeatures:
        depth = self.check(depth, padding)
        if output_stride == 2**depth:
            output_stride = None
        if output_stride is not None and (output_stride not in self.output_strides
                                          or output_stride > 2**depth):
            from . import dilatable_encoders  # the registry, at call time

            can = (f"it supports {list(self.output_strides)}" if self.output_strides
                   else "it cannot dilate its stages")
            raise ValueError(
                f"encoder {self.name!r} cannot run at output stride {output_stride} at depth "
                f"{depth} ({can}); encoders with dilated stages: "
                f"{', '.join(dilatable_encoders())}; or use output_stride={2**depth}"
            )
        unknown = set(options) - set(self.options)
        if unknown:
            accepted = ", ".join(sorted(self.options)) or "none"
            raise TypeError(
                f"encoder {self.name!r} got unexpected option(s) {sorted(unknown)}; "
                f"it accepts: {accepted}"
            )
        checks.option_types(options, self.options, "encoder_options", f"encoder {self.name!r}")
        return self.build(inputs, depth=depth, padding=padding, weights=weights,
                          output_stride=output_stride, **{**self.options, **options})


def check_zoo_backbone(name: str, constructor: str, include_top: bool, weights) -> None:
    """The arguments of a backbone the zoo builds itself (ResNet-18/34, HRNet), which is a
    feature extractor without downloadable weights: ``include_top`` and ``"imagenet"``
    raise, naming ``constructor`` (e.g. ``zoo.encoders.resnet.ResNet18``) whose saved
    weights file it takes instead."""
    if include_top:
        raise ValueError(f"{name} is built as a feature extractor only (include_top=False)")
    if weights == "imagenet":
        raise ValueError(
            f"no ImageNet weights for {name} are published in Keras format, so the zoo "
            f"cannot download them; pass the path of a weights file saved from {constructor}() "
            "instead")
