"""Segmentation losses: registered ``keras.losses.Loss`` subclasses, ``keras.ops`` only.

Conventions (every loss):
- ``y_pred`` (B, H, W, C): probabilities (sigmoid for C = 1, softmax for C > 1)
  or logits with ``from_logits=True``.
- ``y_true``: the same shape (binary mask or one-hot), or integer class maps
  (B, H, W) / (B, H, W, 1) for C > 1.
- Everything is cast to float32 before any reduction, so a ``mixed_float16``
  model cannot overflow a sum over 512x512 pixels.
- Pixel-wise losses (``WeightedCrossEntropy``, ``FocalLoss``) return (B, H, W)
  and take Keras' per-pixel ``sample_weight`` (B, H, W): the U-Net weight map
  reaches the loss as the third element of ``(x, y, weight_map)`` batches.
  Keras then averages ``w(x) * loss(x)`` over all pixels: it divides by the
  pixel count, not by the sum of the weights.
- Region losses (Dice, IoU, Tversky, clDice, MS-SSIM) return one value per image (B,)
  and take per-image weights only.
- Losses combine: ``FocalLoss() + 0.5 * DiceLoss()`` is a serialisable
  :class:`CombinedLoss`; a per-pixel weight map reaches its pixel-wise parts.
"""

from __future__ import annotations

import keras
from keras import ops

from . import checks
from .blocks import output_roles

EPSILON = 1e-7
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

register = keras.saving.register_keras_serializable(package="zoo")


def _as_target(y_true, y_pred):
    """Float32 targets shaped like ``y_pred`` (one-hot encodes class maps)."""
    checks.pair_shapes(y_true.shape, y_pred.shape)
    classes = y_pred.shape[-1]
    y_true = ops.cast(y_true, "float32")
    if len(y_true.shape) == len(y_pred.shape) - 1:
        y_true = ops.expand_dims(y_true, -1)
    if classes is not None and classes > 1 and y_true.shape[-1] == 1:
        y_true = ops.one_hot(ops.cast(ops.squeeze(y_true, -1), "int32"), classes)
    return y_true


def _binary_log_probs(y_pred, from_logits):
    """(p, log p, log(1 - p)) of one sigmoid channel (B, H, W), stable for logits."""
    if from_logits:
        return ops.sigmoid(y_pred), ops.log_sigmoid(y_pred), ops.log_sigmoid(-y_pred)
    p = ops.clip(y_pred, EPSILON, 1 - EPSILON)
    return p, ops.log(p), ops.log(1 - p)


def _categorical_log_probs(y_pred, from_logits):
    """log of the softmax probabilities (B, H, W, C)."""
    if from_logits:
        return ops.log_softmax(y_pred, axis=-1)
    return ops.log(ops.clip(y_pred, EPSILON, 1.0))


def _probabilities(y_pred, from_logits):
    y_pred = ops.cast(y_pred, "float32")
    if not from_logits:
        return y_pred
    return ops.sigmoid(y_pred) if y_pred.shape[-1] == 1 else ops.softmax(y_pred, axis=-1)


class _Arithmetic:
    """``a + b``, ``w * a``: combine losses into a :class:`CombinedLoss`."""

    def _parts(self):
        return [self], [1.0]

    def __add__(self, other):
        if not isinstance(other, _Arithmetic):
            return NotImplemented
        losses, weights = self._parts()
        more, more_weights = other._parts()
        return CombinedLoss(losses + more, weights + more_weights)

    __radd__ = __add__

    def __mul__(self, factor):
        if not isinstance(factor, int | float):
            return NotImplemented
        losses, weights = self._parts()
        return CombinedLoss(losses, [factor * w for w in weights])

    __rmul__ = __mul__


class SegmentationLoss(_Arithmetic, keras.losses.Loss):
    """Base class: ``from_logits``, float32 inputs, target encoding, arithmetic."""

    pixelwise = False

    def __init__(self, from_logits: bool = False, name: str | None = None,
                 reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype or "float32")
        self.from_logits = from_logits

    def __call__(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None and not self.pixelwise and len(
                ops.shape(sample_weight)) >= 3:
            raise ValueError(
                f"{type(self).__name__} is a region loss: it takes per-image sample weights "
                "(B,), not a per-pixel weight map. Use WeightedCrossEntropy (or FocalLoss) for "
                f"weight maps, e.g. WeightedCrossEntropy() + {type(self).__name__}()."
            )
        checks.prediction_pair(y_true, y_pred, self.from_logits, type(self).__name__)
        return super().__call__(y_true, y_pred, sample_weight)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


@register
class WeightedCrossEntropy(SegmentationLoss):
    """Pixel-wise cross-entropy (B, H, W), optionally class-weighted.

    The per-pixel weight map w(x) of Ronneberger et al. 2015 (Eq. 2,
    :func:`zoo.data.unet_weight_map`) is passed as Keras ``sample_weight``
    (B, H, W); Keras averages ``w(x) * CE(x)`` over all pixels.
    ``class_weights``: one factor per class (for C = 1: (background,
    foreground)), multiplying each pixel by the weight of its true class.
    """

    pixelwise = True

    def __init__(self, class_weights=None, from_logits: bool = False, name="weighted_ce",
                 **kwargs):
        super().__init__(from_logits=from_logits, name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = _as_target(y_true, y_pred)
        expected = 2 if y_pred.shape[-1] == 1 else y_pred.shape[-1]
        if self.class_weights is not None and len(self.class_weights) != expected:
            raise ValueError(f"class_weights needs {expected} values (one per class; "
                             "(background, foreground) for one sigmoid channel), got "
                             f"{len(self.class_weights)}")
        if y_pred.shape[-1] == 1:
            y = y_true[..., 0]
            _, log_p, log_not_p = _binary_log_probs(y_pred[..., 0], self.from_logits)
            w0, w1 = self.class_weights or (1.0, 1.0)
            return -(w1 * y * log_p + w0 * (1 - y) * log_not_p)
        log_p = _categorical_log_probs(y_pred, self.from_logits)
        weights = 1.0 if self.class_weights is None else ops.convert_to_tensor(
            self.class_weights, "float32")
        return -ops.sum(weights * y_true * log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights}


@register
class FocalLoss(SegmentationLoss):
    """Focal loss (Lin et al. 2017): -alpha_t (1 - p_t)^gamma log p_t, per pixel (B, H, W).

    Binary (C = 1): alpha weights the foreground, 1 - alpha the background.
    Categorical (C > 1): alpha weights every class.
    """

    pixelwise = True

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, from_logits: bool = False,
                 name="focal_loss", **kwargs):
        super().__init__(from_logits=from_logits, name=name, **kwargs)
        if not (0 <= alpha <= 1 and gamma >= 0):
            raise ValueError(f"FocalLoss needs 0 <= alpha <= 1 and gamma >= 0, got "
                             f"alpha={alpha}, gamma={gamma}")
        self.alpha, self.gamma = float(alpha), float(gamma)

    def _modulator(self, p_t):
        return ops.power(ops.maximum(1 - p_t, EPSILON), self.gamma)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = _as_target(y_true, y_pred)
        if y_pred.shape[-1] == 1:
            y = y_true[..., 0]
            p, log_p, log_not_p = _binary_log_probs(y_pred[..., 0], self.from_logits)
            positive = -self.alpha * self._modulator(p) * log_p
            negative = -(1 - self.alpha) * self._modulator(1 - p) * log_not_p
            return y * positive + (1 - y) * negative
        log_p = _categorical_log_probs(y_pred, self.from_logits)
        p = ops.exp(log_p)
        return -ops.sum(self.alpha * y_true * self._modulator(p) * log_p, axis=-1)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma}


class _RegionLoss(SegmentationLoss):
    """Overlap losses from TP, FP, FN sums per image (B,) or over the batch."""

    def __init__(self, smooth: float = 1.0, per_image: bool = True, **kwargs):
        super().__init__(**kwargs)
        if not smooth > 0:
            raise ValueError(f"{type(self).__name__} needs smooth > 0 (it keeps the score of "
                             f"an empty mask finite), got smooth={smooth}; use e.g. 1e-6 for "
                             "a nearly exact score")
        self.smooth, self.per_image = float(smooth), per_image

    def call(self, y_true, y_pred):
        p = _probabilities(y_pred, self.from_logits)
        t = _as_target(y_true, p)
        axes = (1, 2) if self.per_image else (0, 1, 2)
        tp = ops.sum(t * p, axis=axes)
        fp = ops.sum((1 - t) * p, axis=axes)
        fn = ops.sum(t * (1 - p), axis=axes)
        return 1 - ops.mean(self.score(tp, fp, fn), axis=-1)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth, "per_image": self.per_image}


@register
class DiceLoss(_RegionLoss):
    """1 - (2 TP + s) / (2 TP + FP + FN + s), per image (default) or per batch; class mean."""

    def __init__(self, smooth=1.0, per_image=True, from_logits=False, name="dice_loss", **kw):
        super().__init__(smooth=smooth, per_image=per_image, from_logits=from_logits, name=name,
                         **kw)

    def score(self, tp, fp, fn):
        return (2 * tp + self.smooth) / (2 * tp + fp + fn + self.smooth)


@register
class IoULoss(_RegionLoss):
    """Soft Jaccard 1 - (TP + s) / (T + P - TP + s) (U-Net 3+, Huang et al. 2020, Eq. 4)."""

    def __init__(self, smooth=1.0, per_image=True, from_logits=False, name="iou_loss", **kw):
        super().__init__(smooth=smooth, per_image=per_image, from_logits=from_logits, name=name,
                         **kw)

    def score(self, tp, fp, fn):
        return (tp + self.smooth) / (tp + fp + fn + self.smooth)


@register
class TverskyLoss(_RegionLoss):
    """1 - (TP + s) / (TP + alpha FP + beta FN + s) (Salehi et al. 2017; alpha 0.3, beta 0.7)."""

    def __init__(self, alpha=0.3, beta=0.7, smooth=1.0, per_image=True, from_logits=False,
                 name="tversky_loss", **kw):
        super().__init__(smooth=smooth, per_image=per_image, from_logits=from_logits, name=name,
                         **kw)
        self.alpha, self.beta = float(alpha), float(beta)

    def score(self, tp, fp, fn):
        return (tp + self.smooth) / (tp + self.alpha * fp + self.beta * fn + self.smooth)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta}


def soft_skeleton(x, iterations: int):
    """Soft skeleton of probabilities (B, H, W, C) (Shit et al., CVPR 2021, Alg. 1).

    Iterated soft erosion (min over the 4-neighbourhood, as min-pooling along
    each axis) and opening (erosion, then 3x3 max-pooling); each step adds what
    the opening removes. ``iterations`` should reach the radius of the thickest
    structure to be skeletonised.
    """
    def erode(z):
        return ops.minimum(-ops.max_pool(-z, (3, 1), strides=1, padding="same"),
                           -ops.max_pool(-z, (1, 3), strides=1, padding="same"))

    def opening(z):
        return ops.max_pool(erode(z), 3, strides=1, padding="same")

    skeleton = ops.relu(x - opening(x))
    for _ in range(iterations):
        x = erode(x)
        delta = ops.relu(x - opening(x))
        skeleton = skeleton + ops.relu(delta - skeleton * delta)
    return skeleton


@register
class ClDiceLoss(SegmentationLoss):
    """1 - clDice: the harmonic mean of topology precision |S(P) . T| / |S(P)| and
    sensitivity |S(T) . P| / |S(T)| of soft skeletons S (Shit et al., CVPR 2021,
    Eq. 1-3), per image (B,); class mean. A topology term for thin structures
    (vessels, membranes): a gap in a predicted membrane costs sensitivity along
    the true skeleton. The paper trains with ``(1 - a) * Dice + a * clDice``;
    ``iterations=3`` is its reference implementation's default.
    """

    def __init__(self, iterations: int = 3, smooth: float = 1.0, from_logits=False,
                 name="cldice_loss", **kwargs):
        super().__init__(from_logits=from_logits, name=name, **kwargs)
        if int(iterations) < 1 or smooth <= 0:
            raise ValueError(f"ClDiceLoss needs iterations >= 1 and smooth > 0, got "
                             f"iterations={iterations}, smooth={smooth}")
        self.iterations, self.smooth = int(iterations), float(smooth)

    def call(self, y_true, y_pred):
        p = _probabilities(y_pred, self.from_logits)
        t = _as_target(y_true, p)
        skeleton_p = soft_skeleton(p, self.iterations)
        skeleton_t = soft_skeleton(t, self.iterations)
        precision = ((ops.sum(skeleton_p * t, axis=(1, 2)) + self.smooth)
                     / (ops.sum(skeleton_p, axis=(1, 2)) + self.smooth))
        sensitivity = ((ops.sum(skeleton_t * p, axis=(1, 2)) + self.smooth)
                       / (ops.sum(skeleton_t, axis=(1, 2)) + self.smooth))
        return 1 - ops.mean(2 * precision * sensitivity / (precision + sensitivity), axis=-1)

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations, "smooth": self.smooth}


def _gaussian_window(size: int, sigma: float, channels: int):
    coords = ops.arange(size, dtype="float32") - (size - 1) / 2.0
    g = ops.exp(-(coords**2) / (2.0 * sigma**2))
    window = ops.outer(g, g)
    window = window / ops.sum(window)
    return ops.tile(window[:, :, None, None], (1, 1, channels, 1))


def ms_ssim(y_true, y_pred, *, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01,
            k2=0.03, power_factors=MS_SSIM_WEIGHTS):
    """Multi-scale SSIM (Wang, Simoncelli, Bovik 2003) per image and channel: (B, C).

    Scale j = 1..M: contrast-structure cs_j (scales 1..M-1) and the full SSIM
    (luminance x cs) at scale M, each the mean over a VALID Gaussian-filtered
    map (window ``filter_size``, sigma ``filter_sigma``); between scales a 2x2
    average pool (odd sides first padded symmetrically by one pixel, as
    TensorFlow does). MS-SSIM = prod_j relu(term_j) ** power_factors[j].
    Terms are clamped to at least 1e-6 before the fractional powers so the
    gradient stays finite. Every scale must be >= ``filter_size`` pixels.
    """
    x = ops.cast(y_true, "float32")
    y = ops.cast(y_pred, "float32")
    scales = len(power_factors)
    for side in x.shape[1:3]:
        needed = (filter_size - 1) * 2 ** (scales - 1) + 1
        if side is not None and _size_at_scale(side, scales - 1) < filter_size:
            raise ValueError(
                f"MS-SSIM with {scales} scales needs sides of at least {needed} px (each of "
                f"the {scales} scales must be >= the {filter_size}-px window), got {side}; "
                f"pass fewer power_factors, e.g. power_factors={tuple(power_factors[:3])}"
            )
    window = _gaussian_window(filter_size, filter_sigma, x.shape[-1])
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2

    def blur(z):
        return ops.depthwise_conv(z, window, strides=1, padding="valid")

    terms = []
    for scale in range(scales):
        if scale:
            x, y = _downsample(x), _downsample(y)
        mu_x, mu_y = blur(x), blur(y)
        mu_xy, mu_sq = mu_x * mu_y, mu_x**2 + mu_y**2
        cs = (2 * (blur(x * y) - mu_xy) + c2) / (blur(x**2 + y**2) - mu_sq + c2)
        if scale < scales - 1:
            terms.append(ops.mean(cs, axis=(1, 2)))
        else:
            luminance = (2 * mu_xy + c1) / (mu_sq + c1)
            terms.append(ops.mean(luminance * cs, axis=(1, 2)))
    stacked = ops.maximum(ops.stack(terms, axis=-1), 1e-6)
    return ops.prod(ops.power(stacked, ops.convert_to_tensor(power_factors, "float32")),
                    axis=-1)


def _size_at_scale(side: int, scale: int) -> int:
    for _ in range(scale):
        side = (side + side % 2) // 2
    return side


def _downsample(z):
    h, w = z.shape[1], z.shape[2]
    if h is None or w is None:
        h, w = ops.shape(z)[1], ops.shape(z)[2]
    z = ops.pad(z, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]], mode="symmetric")
    return ops.average_pool(z, 2, 2, padding="valid")


@register
class MSSSIMLoss(SegmentationLoss):
    """1 - MS-SSIM per image (B,), averaged over channels (Wang et al. 2003).

    Defaults are the paper's: 5 scales with weights (0.0448, 0.2856, 0.3001,
    0.2363, 0.1333), Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03; inputs
    need sides >= 161 px. For smaller inputs pass fewer ``power_factors``.
    """

    def __init__(self, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
                 power_factors=MS_SSIM_WEIGHTS, from_logits=False, name="ms_ssim_loss", **kw):
        super().__init__(from_logits=from_logits, name=name, **kw)
        self.options = {"max_val": float(max_val), "filter_size": int(filter_size),
                        "filter_sigma": float(filter_sigma), "k1": float(k1), "k2": float(k2),
                        "power_factors": tuple(float(f) for f in power_factors)}

    def call(self, y_true, y_pred):
        p = _probabilities(y_pred, self.from_logits)
        return 1 - ops.mean(ms_ssim(_as_target(y_true, p), p, **self.options), axis=-1)

    def get_config(self):
        return {**super().get_config(), **self.options,
                "power_factors": list(self.options["power_factors"])}


@register
class CombinedLoss(_Arithmetic, keras.losses.Loss):
    """Weighted sum of losses, from ``+`` and ``*``: ``FocalLoss() + 0.5 * DiceLoss()``.

    Each part reduces on its own; a per-pixel ``sample_weight`` reaches only
    the pixel-wise parts.
    """

    def __init__(self, losses, weights=None, name="combined_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.losses = [keras.losses.get(loss) if isinstance(loss, dict | str) else loss
                       for loss in losses]
        self.weights = [1.0] * len(self.losses) if weights is None else [float(w) for w in
                                                                          weights]

    def _parts(self):
        return list(self.losses), list(self.weights)

    def __call__(self, y_true, y_pred, sample_weight=None):
        total = 0.0
        for loss, weight in zip(self.losses, self.weights, strict=True):
            pixel_weights = sample_weight if getattr(loss, "pixelwise", True) else None
            total = total + weight * loss(y_true, y_pred, sample_weight=pixel_weights)
        return total

    def call(self, y_true, y_pred):
        return self(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "weights": self.weights,
                "losses": [keras.saving.serialize_keras_object(loss) for loss in self.losses]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["losses"] = [keras.saving.deserialize_keras_object(loss)
                            for loss in config["losses"]]
        return cls(**config)


@register
class HybridLoss(CombinedLoss):
    """U-Net 3+ hybrid loss: focal + MS-SSIM + IoU (Huang et al. 2020, Eq. 5)."""

    def __init__(self, alpha=0.25, gamma=2.0, power_factors=MS_SSIM_WEIGHTS, from_logits=False,
                 name="hybrid_loss", **kwargs):
        kwargs.pop("losses", None), kwargs.pop("weights", None)
        self.settings = {"alpha": float(alpha), "gamma": float(gamma),
                         "power_factors": [float(f) for f in power_factors],
                         "from_logits": from_logits}
        super().__init__([FocalLoss(alpha, gamma, from_logits=from_logits),
                          MSSSIMLoss(power_factors=power_factors, from_logits=from_logits),
                          IoULoss(from_logits=from_logits)], name=name, **kwargs)

    def get_config(self):
        return {"name": self.name, **self.settings}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def deep_supervision(model: keras.Model, loss, weights=None,
                     classification_loss="binary_crossentropy") -> dict:
    """``model.compile`` arguments applying ``loss`` to every segmentation output.

    Returns ``{"loss": {name: loss}, "loss_weights": {name: weight}}`` for all
    of ``model.output_names``, by their declared roles
    (:func:`zoo.models.output_roles`): ``mask`` and ``side`` outputs (U-Net++
    ``head_l*``, U-Net 3+ ``head_de*`` / ``head_en*``) get ``loss``, a
    ``classification`` output (the CGM) gets ``classification_loss``.
    ``weights``: a list (one per segmentation output, in order) or a dict;
    default (and for outputs not named) 1.0 for every head, as both papers
    (Zhou et al. 2019, Eq. 2; Huang et al. 2020, Sec. 2.2).

        model.compile("adam", **zoo.losses.deep_supervision(model, zoo.losses.HybridLoss()))
    """
    roles = output_roles(model)
    heads = [name for name, (role, _) in roles.items() if role != "classification"]
    if weights is None:
        weights = {}
    elif not isinstance(weights, dict):
        weights = list(weights)
        if len(weights) != len(heads):
            raise ValueError(f"deep_supervision: {len(weights)} weights for the "
                             f"{len(heads)} segmentation outputs {heads}; give one per "
                             "output, or a dict by output name")
        weights = dict(zip(heads, weights, strict=True))
    unknown = sorted(set(weights) - set(heads))
    if unknown:
        raise ValueError(f"deep_supervision: weights name {unknown}, which are not "
                         f"segmentation outputs of {model.name!r}; its outputs: {heads}")
    losses = {name: classification_loss if role == "classification" else loss
              for name, (role, _) in roles.items()}
    return {"loss": losses, "loss_weights": {name: float(weights.get(name, 1.0))
                                             for name in roles}}


SPEC_TERMS = {"ce": WeightedCrossEntropy, "wce": WeightedCrossEntropy, "dice": DiceLoss,
              "iou": IoULoss, "focal": FocalLoss, "tversky": TverskyLoss,
              "cldice": ClDiceLoss, "msssim": MSSSIMLoss, "hybrid": HybridLoss}


def parse_loss_spec(spec: str) -> list[tuple[float, str]]:
    """``"wce + 0.5*dice"`` -> ``[(1.0, "wce"), (0.5, "dice")]``; names from ``SPEC_TERMS``."""
    terms = []
    for part in spec.replace(" ", "").lower().split("+"):
        weight, star, name = part.rpartition("*")
        try:
            factor = float(weight) if star else 1.0
        except ValueError:
            factor = -1.0
        if name not in SPEC_TERMS or factor <= 0:
            raise ValueError(f"loss {spec!r}: cannot read the term {part!r}; write terms "
                             f"joined by '+', each NAME or WEIGHT*NAME with WEIGHT > 0 and NAME "
                             f"one of {', '.join(SPEC_TERMS)} (e.g. 'wce+dice', "
                             f"'focal+0.5*dice')")
        terms.append((factor, name))
    return terms


def loss_from_spec(spec: str) -> keras.losses.Loss:
    """A loss from a short spec, as command lines take it: ``"focal + 0.5*dice"``.

    Terms: ``ce`` / ``wce`` cross-entropy (``wce`` tells ``zoo train`` to pass
    the U-Net border weight map as the per-pixel sample weight), ``dice``,
    ``iou``, ``focal``, ``tversky``, ``cldice``, ``msssim`` and ``hybrid`` (U-Net
    3+: focal + MS-SSIM + IoU), each with its defaults.
    """
    terms = parse_loss_spec(spec)
    loss = None
    for factor, name in terms:
        term = SPEC_TERMS[name]()
        term = term if factor == 1.0 else factor * term
        loss = term if loss is None else loss + term
    return loss
