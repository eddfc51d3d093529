"""Streaming Keras metrics for segmentation: IoU, Dice, pixel error.

Predictions are binarised first: C = 1 outputs at ``threshold`` (on the
probability; with ``from_logits=True`` on the sigmoid of the logit), C > 1
outputs by argmax. Targets are binary masks, one-hot maps or class maps.

Reduction (``per_image``):
- ``False`` (micro, default): true/false positive and false negative counts are
  summed over every pixel of every image seen, then scored once per class.
- ``True``: each image is scored on its own, then scores are averaged over images.

Empty masks: a class absent from both the target and the prediction (so the
score's denominator is 0) scores ``empty_score`` (default 1.0: nothing to
find, nothing found). Scores are averaged over classes (the foreground only
for C = 1), or reported for ``class_id``. Counting is in float32 whatever the
model's precision; sample weights are ignored (the counts are unweighted).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from . import checks

register = keras.saving.register_keras_serializable(package="zoo")


def _one_hot_pair(y_true, y_pred, num_classes, threshold, from_logits):
    """Binarised (B, H, W, K) target and prediction, K = 1 (binary) or num_classes."""
    checks.pair_shapes(y_true.shape, y_pred.shape, num_classes, "metric")
    checks.prediction_pair(y_true, y_pred, from_logits, "metric")
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.cast(y_pred, "float32")
    if len(y_true.shape) == len(y_pred.shape) - 1:
        y_true = ops.expand_dims(y_true, -1)
    if num_classes == 1:
        cut = math.log(threshold / (1 - threshold)) if from_logits else threshold
        return ops.cast(y_true > 0.5, "float32"), ops.cast(y_pred > cut, "float32")
    if y_true.shape[-1] == 1:
        y_true = ops.one_hot(ops.cast(ops.squeeze(y_true, -1), "int32"), num_classes)
    return y_true, ops.one_hot(ops.argmax(y_pred, axis=-1), num_classes)


class _OverlapMetric(keras.metrics.Metric):
    def __init__(self, num_classes: int = 1, threshold: float = 0.5, from_logits: bool = False,
                 class_id: int | None = None, per_image: bool = False,
                 empty_score: float = 1.0, name=None, dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        checks.probability(threshold, "threshold")
        if num_classes < 1 or (class_id is not None and not 0 <= class_id < num_classes):
            raise ValueError(f"need num_classes >= 1 and 0 <= class_id < num_classes, got "
                             f"num_classes={num_classes}, class_id={class_id}")
        self.num_classes, self.threshold, self.from_logits = num_classes, threshold, from_logits
        self.class_id, self.per_image, self.empty_score = class_id, per_image, empty_score
        shape = (num_classes,)
        self.tp = self.add_variable(shape=shape, initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=shape, initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=shape, initializer="zeros", name="fn")
        self.images = self.add_variable(shape=(), initializer="zeros", name="images")

    def _score(self, tp, fp, fn):
        numerator, denominator = self.terms(tp, fp, fn)
        safe = ops.where(denominator > 0, denominator, 1.0)
        return ops.where(denominator > 0, numerator / safe, self.empty_score)

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _one_hot_pair(y_true, y_pred, self.num_classes, self.threshold,
                             self.from_logits)
        axes = (1, 2) if self.per_image else (0, 1, 2)
        tp = ops.sum(t * p, axis=axes)
        fp = ops.sum((1 - t) * p, axis=axes)
        fn = ops.sum(t * (1 - p), axis=axes)
        if self.per_image:  # accumulate per-image scores in tp, counting images
            self.tp.assign_add(ops.sum(self._score(tp, fp, fn), axis=0))
            self.images.assign_add(ops.cast(ops.shape(t)[0], "float32"))
        else:
            self.tp.assign_add(tp)
            self.fp.assign_add(fp)
            self.fn.assign_add(fn)

    def result(self):
        if self.per_image:
            scores = ops.where(self.images > 0, self.tp / ops.maximum(self.images, 1.0),
                               self.empty_score)
        else:
            scores = self._score(self.tp, self.fp, self.fn)
        return scores[self.class_id] if self.class_id is not None else ops.mean(scores)

    def reset_state(self):
        for variable in (self.tp, self.fp, self.fn, self.images):
            variable.assign(ops.zeros(variable.shape, "float32"))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "threshold": self.threshold, "from_logits": self.from_logits,
                "class_id": self.class_id, "per_image": self.per_image,
                "empty_score": self.empty_score}


@register
class IoU(_OverlapMetric):
    """Intersection over union TP / (TP + FP + FN); see the module docstring."""

    def __init__(self, num_classes=1, name="iou", **kwargs):
        super().__init__(num_classes=num_classes, name=name, **kwargs)

    @staticmethod
    def terms(tp, fp, fn):
        return tp, tp + fp + fn


@register
class Dice(_OverlapMetric):
    """Dice (F1) 2 TP / (2 TP + FP + FN); see the module docstring."""

    def __init__(self, num_classes=1, name="dice", **kwargs):
        super().__init__(num_classes=num_classes, name=name, **kwargs)

    @staticmethod
    def terms(tp, fp, fn):
        return 2 * tp, 2 * tp + fp + fn


@register
class PixelError(keras.metrics.Metric):
    """Fraction of wrongly classified pixels over everything seen (micro)."""

    def __init__(self, num_classes: int = 1, threshold: float = 0.5, from_logits: bool = False,
                 name="pixel_error", dtype="float32"):
        super().__init__(name=name, dtype=dtype)
        checks.positive_int(num_classes, "num_classes")
        checks.probability(threshold, "threshold")
        self.num_classes, self.threshold, self.from_logits = num_classes, threshold, from_logits
        self.wrong = self.add_variable(shape=(), initializer="zeros", name="wrong")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        t, p = _one_hot_pair(y_true, y_pred, self.num_classes, self.threshold,
                             self.from_logits)
        wrong = ops.sum(ops.cast(ops.any(ops.not_equal(t, p), axis=-1), "float32"))
        self.wrong.assign_add(wrong)
        self.total.assign_add(ops.cast(ops.prod(ops.shape(t)[:-1]), "float32"))

    def result(self):
        return self.wrong / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.wrong.assign(0.0)
        self.total.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "threshold": self.threshold, "from_logits": self.from_logits}
