"""``SegmentationDataset``: batches of crops or tiles for ``model.fit`` (a Keras PyDataset)."""

from __future__ import annotations

import copy
import math
import threading

import keras
import numpy as np

from .. import checks

SHAPES = {"images": "(H, W, C)", "targets": "(H, W)", "weights": "(H, W)"}


def _as_list(arrays, name, ndim, check):
    if arrays is None:
        return None
    items = list(arrays)
    for i, item in enumerate(items):
        if np.ndim(item) != ndim:
            raise ValueError(f"each of {name} must be {SHAPES[name]}, got shape "
                             f"{np.shape(item)} (item {i})"
                             + ("; add a channel axis: image[..., None]"
                                if name == "images" and np.ndim(item) == 2 else ""))
    return [check(item, f"{name}[{i}]") for i, item in enumerate(items)]


def _weight_map(weights, name):
    weights = checks.finite(checks.numeric(weights, name), name)
    if weights.size and weights.min() < 0:
        raise ValueError(f"{name} must be >= 0 (per-pixel loss weights), found "
                         f"{weights.min():g}")
    return weights


class SegmentationDataset(keras.utils.PyDataset):
    """Random crops (training) or a grid of tiles (validation) of images and targets.

    Args:
        images: (N, H, W, C) array or list of (H, W, C) arrays, float in [0, 1]
            (uint8 is divided by 255; other integers or values outside [0, 1] raise).
        targets: (N, H, W) binary 0/1 masks, or class maps with ids below
            ``num_classes`` (same sizes as the images).
        num_classes: 1 (binary masks, the default) or the class count of class maps.
        weights: optional (N, H, W) weight maps (finite, >= 0); then batches are
            ``(x, y, w)`` and Keras passes ``w`` as the per-pixel sample weight.
        patch_size: target patch side (int or (h, w)).
        margin: extra context per side of the input patch; the input is
            ``patch_size + 2 * margin``. Valid-padding models need
            ``(input - output) / 2`` (92 for the 572 -> 388 U-Net); images are
            mirror-padded by ``margin`` so border crops have context (paper, Fig. 2).
        mode: ``"random"`` crops (``steps`` batches per epoch) or ``"grid"``
            (every image tiled once, in order, for validation).
        augment: an albumentations pipeline called as
            ``augment(image=, mask=, weights=)`` (see ``paper_augmentation``).
        seed: batches are a function of (seed, epoch, batch index) only, so
            runs repeat exactly, also with ``workers`` > 1, when ``fit`` takes the
            batches in order (``shuffle=False``, as ``zoo.training.train`` does: Keras
            otherwise shuffles the indices with Python's global random state).
        workers: threads preparing batches ahead of the training step
            (Keras ``PyDataset``); the default 2 overlaps cropping and
            augmentation with the step, which made ``model.fit`` as fast as an
            isolated ``train_on_batch`` on the 2-core AMD EPYC, against 6% slower
            with 1 (``benchmarks/results/fit_loop.md``).

    Yields ``x`` (B, h + 2m, w + 2m, C) float32, ``y`` (B, h, w, 1) float32 and
    optionally ``w`` (B, h, w) float32.
    """

    def __init__(self, images, targets, weights=None, *, patch_size=256, batch_size=4,
                 steps: int | None = None, margin: int = 0, mode: str = "random",
                 augment=None, seed: int = 0, workers: int = 2, num_classes: int = 1,
                 **pydataset_kwargs):
        super().__init__(workers=checks.positive_int(workers, "workers"), **pydataset_kwargs)
        if mode not in ("random", "grid"):
            raise ValueError(f"mode must be 'random' or 'grid', got {mode!r}")
        checks.positive_int(batch_size, "batch_size")
        checks.positive_int(num_classes, "num_classes")
        if steps is not None:
            checks.positive_int(steps, "steps")
        checks.integer(margin, "margin", 0)
        self.images = _as_list(images, "images", 3, checks.unit_image)
        self.targets = _as_list(targets, "targets", 2,
                                lambda t, name: checks.class_map(t, num_classes, name))
        self.weights = _as_list(weights, "weights", 2, _weight_map)
        if len(self.images) != len(self.targets) or (
                self.weights is not None and len(self.weights) != len(self.images)):
            raise ValueError("images, targets (and weights) need the same number of items")
        self.patch = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(
            patch_size)
        for side in self.patch:
            checks.positive_int(side, "patch_size")
        for image, target in zip(self.images, self.targets, strict=True):
            if image.shape[:2] != target.shape:
                raise ValueError(f"image {image.shape[:2]} and target {target.shape} differ")
            if image.shape[0] < self.patch[0] or image.shape[1] < self.patch[1]:
                raise ValueError(f"patch_size {self.patch} is larger than an image "
                                 f"{image.shape[:2]}; use a smaller patch_size")
        self.margin, self.mode, self.augment, self.seed = margin, mode, augment, seed
        self.batch_size = batch_size
        # Mirror-pad once here, so every crop is a plain slice of the same window.
        pad = ((margin, margin), (margin, margin))
        self.padded_images = [np.pad(i, (*pad, (0, 0)), mode="reflect") for i in self.images]
        self.padded_targets = [np.pad(t, pad, mode="reflect") for t in self.targets]
        self.padded_weights = None if self.weights is None else [
            np.pad(w, pad, mode="reflect") for w in self.weights]
        self.tiles = self._grid() if mode == "grid" else None
        self.steps = steps or max(1, math.ceil(len(self.images) / batch_size))
        self.epoch = 0
        self._local = threading.local()

    def _grid(self):
        tiles = []
        for index, target in enumerate(self.targets):
            for top in _starts(target.shape[0], self.patch[0]):
                for left in _starts(target.shape[1], self.patch[1]):
                    tiles.append((index, top, left))
        return tiles

    def __len__(self):
        return math.ceil(len(self.tiles) / self.batch_size) if self.tiles else self.steps

    def on_epoch_end(self):
        self.epoch += 1

    def _augmenter(self):
        if self.augment is None:
            return None
        if not hasattr(self._local, "augment"):
            self._local.augment = copy.deepcopy(self.augment)
        return self._local.augment

    def _crop(self, index, top, left, rng):
        (h, w), m = self.patch, self.margin
        window = (slice(top, top + h + 2 * m), slice(left, left + w + 2 * m))
        image = self.padded_images[index][window]
        target = self.padded_targets[index][window]
        weights = None if self.padded_weights is None else self.padded_weights[index][window]
        augment = self._augmenter()
        if augment is not None:
            augment.set_random_seed(int(rng.integers(2**31)))
            data = {"image": image, "mask": target}
            if weights is not None:
                data["weights"] = weights
            out = augment(**data)
            image, target, weights = out["image"], out["mask"], out.get("weights")
        if m:
            target = target[m:m + h, m:m + w]
            weights = None if weights is None else weights[m:m + h, m:m + w]
        return np.clip(image, 0.0, 1.0), target, weights

    def __getitem__(self, batch):
        rng = np.random.default_rng((self.seed, self.epoch, batch))
        if self.tiles is not None:
            picks = self.tiles[batch * self.batch_size:(batch + 1) * self.batch_size]
        else:
            picks = []
            for _ in range(self.batch_size):
                index = int(rng.integers(len(self.targets)))
                height, width = self.targets[index].shape
                picks.append((index, int(rng.integers(height - self.patch[0] + 1)),
                              int(rng.integers(width - self.patch[1] + 1))))
        crops = [self._crop(index, top, left, rng) for index, top, left in picks]
        x = np.stack([c[0] for c in crops]).astype(np.float32)
        y = np.stack([c[1] for c in crops]).astype(np.float32)[..., None]
        if self.weights is None:
            return x, y
        return x, y, np.stack([c[2] for c in crops]).astype(np.float32)


def _starts(size: int, patch: int) -> list[int]:
    """Tile starts covering [0, size) with tiles of ``patch``; the last is flush with the end."""
    starts = list(range(0, size - patch + 1, patch))
    if starts[-1] + patch < size:
        starts.append(size - patch)
    return starts
