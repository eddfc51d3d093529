"""What a benchmark cell builds: a zoo model from the registry, or a peer library's model.

A subject is written ``source:name/encoder``: ``zoo:unet/resnet34``,
``sm:unet/efficientnetb0`` (segmentation-models 1.0.1), ``kuc:unet_2d/plain``
(keras-unet-collection 0.1.13), ``smp:unet/resnet34`` (segmentation_models_pytorch) and
``monai:basicunet/plain`` (MONAI). Zoo models are read from the registry, so a new
architecture joins the benchmark without changes here. Keras subjects take (size, size,
channels) images in [0, 1] and give one sigmoid map per class; the PyTorch peers are
``torch.nn.Module``s on (channels, size, size) images that give logits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Per-architecture options for the plain encoder, the papers' widths:
#: U-Net 64..1024 (Ronneberger 2015), U-Net++ 32..512 (Zhou 2019, Table 2), U-Net 3+ 64..1024.
PLAIN_FILTERS = {"unet": 64, "unet_plus_plus": 32, "unet_3plus": 64}
PEER_MODULES = {"sm": "segmentation_models", "kuc": "keras_unet_collection",
                "smp": "segmentation_models_pytorch", "monai": "monai"}
#: The framework each peer library runs on (zoo models run on every Keras backend).
PEER_FRAMEWORKS = {"sm": "tensorflow", "kuc": "tensorflow", "smp": "torch", "monai": "torch"}
#: Zoo encoder names as segmentation_models_pytorch and MONAI spell them.
TORCH_ENCODERS = {"resnet34": "resnet34", "efficientnetb0": "efficientnet-b0"}


@dataclass(frozen=True)
class Peer:
    """A peer model: its builder, the encoders it takes, and the zoo model it is compared with."""

    build: object
    encoders: tuple[str, ...]
    counterpart: str | None = None  # zoo model at the closest equal configuration
    note: str = ""


def peer_env(backend: str) -> dict[str, str]:
    """The environment the TensorFlow-only peers load under (the one place that says
    how): segmentation-models reads ``SM_FRAMEWORK``; on other backends, nothing."""
    if backend != "tensorflow":
        return {}
    return {"SM_FRAMEWORK": "tf.keras"}


def _require_tensorflow(subject: str) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"{subject} is a TensorFlow-only peer; run it with "
                         "KERAS_BACKEND=tensorflow (zoo models run on every backend)")


def _sm(arch):
    def build(encoder, shape, classes):
        os.environ.update(peer_env("tensorflow"))  # reached after _require_tensorflow
        import segmentation_models as sm

        return getattr(sm, arch)(encoder, input_shape=shape, classes=classes,
                                 activation="sigmoid", encoder_weights=None)
    return build


def _kuc_unet(shape, classes, encoder):
    from keras_unet_collection import models

    return models.unet_2d(shape, [64, 128, 256, 512, 1024], classes, batch_norm=True,
                          unpool=False, output_activation="Sigmoid", name="kuc_unet")


def _kuc_unet_plus(shape, classes, encoder):
    from keras_unet_collection import models

    return models.unet_plus_2d(shape, [32, 64, 128, 256, 512], classes, batch_norm=True,
                               unpool=False, output_activation="Sigmoid", name="kuc_xnet")


def _kuc_unet_3plus(shape, classes, encoder):
    from keras_unet_collection import models

    return models.unet_3plus_2d(
        shape, classes, [64, 128, 256, 512, 1024], filter_num_skip="auto",
        filter_num_aggregate="auto", stack_num_down=2, stack_num_up=1, batch_norm=True,
        pool=True, unpool=True, output_activation="Sigmoid", name="kuc_unet3plus")


def _smp(arch):
    def build(shape, classes, encoder):
        import segmentation_models_pytorch as smp

        return getattr(smp, arch)(TORCH_ENCODERS[encoder], encoder_weights=None,
                                  in_channels=shape[-1], classes=classes)
    return build


def _monai_basic(plus_plus: bool):
    def build(shape, classes, encoder):
        from monai.networks import nets

        # The zoo's plain widths (U-Net 64..1024, U-Net++ 32..512) and batch norm, so the
        # pair compares equal networks (MONAI's defaults are 32..256 with instance norm).
        base = PLAIN_FILTERS["unet_plus_plus" if plus_plus else "unet"]
        features = tuple(base * 2**i for i in range(5)) + (base,)
        net = nets.BasicUNetPlusPlus if plus_plus else nets.BasicUNet
        return net(spatial_dims=2, in_channels=shape[-1], out_channels=classes,
                   features=features, norm="batch")
    return build


def _monai_flexible(shape, classes, encoder):
    from monai.networks.nets import FlexibleUNet

    return FlexibleUNet(in_channels=shape[-1], out_channels=classes, spatial_dims=2,
                        backbone=TORCH_ENCODERS[encoder], pretrained=False)


SMP_UNET_NOTE = ("decoder widths 256..16, 2x nearest up-sampling + 2 convs per stage; the zoo "
                 "up-samples by 2x2 up-conv")
PEERS = {
    "sm:unet": Peer(lambda shape, classes, encoder: _sm("Unet")(encoder, shape, classes),
                    ("resnet34", "efficientnetb0"), "unet",
                    "same decoder plan as the zoo's backbone U-Net (widths 256..16, "
                    "2x nearest up-sampling + 2 convs); the zoo up-samples by 2x2 up-conv"),
    "sm:fpn": Peer(lambda shape, classes, encoder: _sm("FPN")(encoder, shape, classes),
                   ("resnet34", "efficientnetb0")),
    "sm:linknet": Peer(lambda shape, classes, encoder: _sm("Linknet")(encoder, shape, classes),
                       ("resnet34", "efficientnetb0")),
    "kuc:unet_2d": Peer(_kuc_unet, ("plain",), "unet",
                        "64..1024, batch norm; up-samples by 3x3 transposed convs "
                        "(unpool=False), the paper by 2x2 up-convs"),
    "kuc:unet_plus_2d": Peer(_kuc_unet_plus, ("plain",), "unet_plus_plus",
                             "32..512; calls its decoder block with concat=False, so it has "
                             "none of U-Net++'s nested skips (about half the paper's FLOPs)"),
    "kuc:unet_3plus_2d": Peer(_kuc_unet_3plus, ("plain",), "unet_3plus",
                              "paper widths; fuses 4 of the paper's 5 branches per stage "
                              "(drops the shallowest encoder map)"),
    "smp:unet": Peer(_smp("Unet"), ("resnet34", "efficientnetb0"), "unet", SMP_UNET_NOTE),
    "smp:unetplusplus": Peer(_smp("UnetPlusPlus"), ("resnet34", "efficientnetb0"),
                             "unet_plus_plus",
                             "nested skips as the paper; decoder widths 256..16 with nearest "
                             "up-sampling; the zoo's widths follow the encoder's and it "
                             "up-samples by 2x2 up-conv"),
    "smp:fpn": Peer(_smp("FPN"), ("resnet34", "efficientnetb0")),
    "smp:linknet": Peer(_smp("Linknet"), ("resnet34", "efficientnetb0")),
    "smp:deeplabv3plus": Peer(_smp("DeepLabV3Plus"), ("resnet34", "efficientnetb0"),
                              "deeplabv3_plus",
                              "output stride 16, ASPP 256 with separable convs (rates 12, 24, "
                              "36); the zoo's default is the paper's (rates 6, 12, 18, plain "
                              "convs)"),
    "monai:basicunet": Peer(_monai_basic(False), ("plain",), "unet",
                            "set to the zoo's widths 64..1024 and batch norm; 2x2 transposed "
                            "conv up-sampling like the zoo, LeakyReLU and dropout 0 against "
                            "ReLU"),
    "monai:basicunetplusplus": Peer(_monai_basic(True), ("plain",), "unet_plus_plus",
                                    "set to the zoo's widths 32..512 and batch norm; nested "
                                    "skips as the paper, LeakyReLU against ReLU"),
    "monai:flexibleunet": Peer(_monai_flexible, ("efficientnetb0",), "unet",
                               "decoder widths 256..16 with nearest up-sampling; the zoo "
                               "up-samples by 2x2 up-conv"),
}


def parse(subject: str) -> tuple[str, str, str]:
    """``"zoo:unet/resnet34"`` -> ``("zoo", "unet", "resnet34")`` (canonical names)."""
    source, _, rest = subject.partition(":")
    name, _, encoder = rest.partition("/")
    if source not in ("zoo", *PEER_MODULES) or not name:
        raise ValueError(f"benchmark subject {subject!r} must look like 'zoo:unet/resnet34', "
                         "'sm:unet/resnet34', 'kuc:unet_2d', 'smp:unet/resnet34' or "
                         "'monai:basicunet'")
    if source == "zoo":
        from ..registry import MODELS

        return source, MODELS.canonical(name), encoder or "plain"
    key = f"{source}:{name.lower()}"
    if key not in PEERS:
        raise ValueError(f"unknown peer {subject!r}; known: {', '.join(sorted(PEERS))}")
    return source, name.lower(), encoder or PEERS[key].encoders[0]


def label(subject: str) -> str:
    source, name, encoder = parse(subject)
    return f"{source}:{name}/{encoder}"


def is_peer(subject: str) -> bool:
    return parse(subject)[0] != "zoo"


def framework(subject: str) -> str:
    """``"keras"`` for zoo models (any backend), else the peer's own framework:
    ``"tensorflow"`` (segmentation-models, keras-unet-collection) or ``"torch"``."""
    source = parse(subject)[0]
    return "keras" if source == "zoo" else PEER_FRAMEWORKS[source]


def peer_note(subject: str) -> str:
    source, name, _ = parse(subject)
    return "" if source == "zoo" else PEERS[f"{source}:{name}"].note


def counterpart(subject: str) -> str | None:
    """The zoo subject a peer is compared with (same encoder), or ``None``."""
    source, name, encoder = parse(subject)
    if source == "zoo":
        return None
    peer = PEERS[f"{source}:{name}"]
    return None if peer.counterpart is None else f"zoo:{peer.counterpart}/{encoder}"


def build(subject: str, size: int, channels: int = 1, classes: int = 1, options=None):
    """A ``keras.Model`` for ``subject`` on (size, size, channels) images (a
    ``torch.nn.Module`` for a PyTorch peer); ``options``: extra keyword arguments of a zoo
    builder (e.g. ``{"padding": "valid"}``)."""
    source, name, encoder = parse(subject)
    shape = (size, size, channels)
    if source == "zoo":
        from .. import build as build_zoo
        from .. import get_encoder

        kwargs = {"batch_norm": True}
        if "filters" in get_encoder(encoder).options:
            kwargs["encoder_options"] = {"filters": PLAIN_FILTERS.get(name, 64)}
        return build_zoo(name, input_shape=shape, num_classes=classes, encoder=encoder,
                         **{**kwargs, **(options or {})})
    if options:
        raise ValueError(f"options {options} apply to zoo models only, not {subject}")
    if PEER_FRAMEWORKS[source] == "tensorflow":
        _require_tensorflow(subject)
    peer = PEERS[f"{source}:{name}"]
    if encoder not in peer.encoders:
        raise ValueError(f"{source}:{name} is benchmarked with encoders {peer.encoders}, "
                         f"not {encoder!r}")
    return peer.build(shape, classes, encoder)
