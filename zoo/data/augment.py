"""The U-Net paper's augmentation with albumentations (Ronneberger et al. 2015, Sec. 3.1).

Shift, rotation, flips, gray-value variation and a smooth elastic deformation
from random displacements on a coarse 3x3 grid (std 10 px), interpolated
bicubically. Image, mask and weight map move together; masks and weight maps
are resampled with nearest neighbour, so masks stay binary (or stay instance
labels).
"""

from __future__ import annotations

import os

# albumentations asks a package index for its latest version on import unless this is set;
# a library import must not reach the network (the user's own setting wins).
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from .. import checks  # noqa: E402


class CoarseGridElastic(A.DualTransform):
    """The paper's elastic deformation (Sec. 3.1).

    Displacement vectors are drawn from N(0, ``sigma``^2) px on a coarse
    ``grid`` x ``grid`` lattice spanning the image, up-sampled to a per-pixel
    field by bicubic interpolation, and applied with bicubic (image) or
    nearest-neighbour (mask, weight map) resampling; borders are mirrored.
    (albumentations' ``GridElasticDeform`` warps grid polygons with uniform
    displacements and ``ElasticTransform`` smooths a dense random field:
    neither is this method.)
    """

    def __init__(self, grid: int = 3, sigma: float = 10.0, p: float = 1.0):
        super().__init__(p=p)
        checks.integer(grid, "CoarseGridElastic grid", 2, " (the paper's 3)")
        if sigma < 0:
            raise ValueError(f"CoarseGridElastic needs sigma >= 0 (the paper's 10 px), got "
                             f"sigma={sigma}")
        self.grid, self.sigma = grid, sigma

    def get_params_dependent_on_data(self, params, data):
        height, width = params["shape"][:2]
        coarse = self.random_generator.normal(0, self.sigma, (2, self.grid, self.grid))
        dy, dx = (_upsample_bicubic(c, height, width) for c in coarse)
        ys, xs = np.mgrid[:height, :width].astype(np.float32)
        return {"map_x": xs + dx, "map_y": ys + dy}

    def apply(self, img, map_x, map_y, **params):
        return _remap(img, map_x, map_y, cv2.INTER_CUBIC)

    def apply_to_mask(self, mask, map_x, map_y, **params):
        return _remap(mask, map_x, map_y, cv2.INTER_NEAREST)

    def get_transform_init_args_names(self):
        return ("grid", "sigma")


def _upsample_bicubic(coarse: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bicubic interpolation of grid values placed at the image corners and centre lines."""
    grid = coarse.shape[0]
    ys = np.linspace(0, grid - 1, height, dtype=np.float32)
    xs = np.linspace(0, grid - 1, width, dtype=np.float32)
    map_x, map_y = np.meshgrid(xs, ys)
    return cv2.remap(coarse.astype(np.float32), map_x, map_y, cv2.INTER_CUBIC,
                     borderMode=cv2.BORDER_REPLICATE)


def _remap(array, map_x, map_y, interpolation):
    dtype = array.dtype
    work = array.astype(np.float32) if dtype not in (np.uint8, np.float32) else array
    out = cv2.remap(work, map_x, map_y, interpolation, borderMode=cv2.BORDER_REFLECT_101)
    if out.ndim < array.ndim:
        out = out[..., None]
    return out.astype(dtype, copy=False)


def paper_augmentation(shift: float = 0.1, rotate: float = 180.0, gray: float = 0.1,
                       elastic_sigma: float = 10.0, elastic_grid: int = 3,
                       p_elastic: float = 1.0) -> A.Compose:
    """The paper's augmentation as one albumentations pipeline.

    Call it as ``aug(image=img, mask=mask, weights=weight_map)`` (``weights``
    optional); all arrays (H, W[, C]); images float32 in [0, 1].

    Settings: shift up to ``shift`` of the side and rotation in
    [-``rotate``, ``rotate``] degrees (``Affine``, mirrored borders), horizontal
    and vertical flips, gray-value variation (brightness and contrast up to
    +-``gray``, gamma 0.8..1.25), then :class:`CoarseGridElastic`
    (``elastic_grid`` x ``elastic_grid`` grid, ``elastic_sigma`` px std).
    """
    return A.Compose(
        [
            A.Affine(translate_percent=(-shift, shift), rotate=(-rotate, rotate),
                     interpolation=cv2.INTER_CUBIC, mask_interpolation=cv2.INTER_NEAREST,
                     border_mode=cv2.BORDER_REFLECT_101, p=1.0),
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.RandomBrightnessContrast(brightness_limit=gray, contrast_limit=gray, p=0.8),
            A.RandomGamma(gamma_limit=(80, 125), p=0.5),
            CoarseGridElastic(grid=elastic_grid, sigma=elastic_sigma, p=p_elastic),
        ],
        additional_targets={"weights": "mask"},
    )
