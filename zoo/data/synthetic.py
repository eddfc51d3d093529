"""Synthetic touching cells with membranes: the embedded data set for demos and tests."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


def synthetic_cells(n: int, size: int = 128, seed: int = 0, *, cell_size: float = 20.0,
                    membrane_width: int = 2, background_fraction: float = 0.1,
                    noise: float = 0.06):
    """Generate ``n`` images of touching, textured cells separated by dark membranes.

    Cells are a randomly warped Voronoi tessellation (irregular, touching
    shapes as in EM or phase-contrast images); some cells are dropped to form
    background; each cell has its own brightness, smooth texture and dark
    vesicle-like blobs (distractors); membranes are ``membrane_width`` px dark
    lines; the image is blurred and noised.

    Returns:
        images: (n, size, size, 1) float32 in [0, 1].
        masks: (n, size, size) uint8, 1 = cell interior, 0 = membrane/background.
        labels: (n, size, size) int32 instance labels, 0 = membrane/background.
    """
    if n < 1 or size < 8:
        raise ValueError(f"need n >= 1 and size >= 8, got n={n}, size={size}")
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 1), np.float32)
    labels = np.empty((n, size, size), np.int32)
    for i in range(n):
        images[i, ..., 0], labels[i] = _one_image(rng, size, cell_size, membrane_width,
                                                   background_fraction, noise)
    return images, (labels > 0).astype(np.uint8), labels


def _one_image(rng, size, cell_size, membrane_width, background_fraction, noise):
    n_cells = max(3, int(round((size / cell_size) ** 2)))
    seeds = rng.uniform(0, size, (n_cells, 2))
    grid = np.stack(np.mgrid[:size, :size], -1).astype(np.float32)
    warp = np.stack([ndimage.gaussian_filter(rng.normal(size=(size, size)), size / 12)
                     for _ in range(2)], -1)
    warp *= cell_size * 0.6 / (np.abs(warp).max() + 1e-6)
    _, nearest = cKDTree(seeds).query((grid + warp).reshape(-1, 2))
    cells = nearest.reshape(size, size) + 1
    dropped = 1 + np.flatnonzero(rng.random(n_cells) < background_fraction)
    cells[np.isin(cells, dropped)] = 0

    boundary = np.zeros((size, size), bool)
    boundary[1:] |= cells[1:] != cells[:-1]
    boundary[:, 1:] |= cells[:, 1:] != cells[:, :-1]
    membrane = ndimage.binary_dilation(boundary, iterations=max(1, membrane_width // 2))
    if membrane_width == 1:
        membrane = boundary
    instance = np.where(membrane, 0, cells)
    instance = np.unique(instance, return_inverse=True)[1].reshape(size, size)
    if not (instance == 0).any():  # labels start at 0 only when there is background
        instance += 1
    instance = instance.astype(np.int32)

    brightness = rng.uniform(0.5, 0.85, n_cells + 1)
    brightness[0] = 0.35
    image = brightness[cells]
    image += 0.08 * ndimage.gaussian_filter(rng.normal(size=(size, size)), 1.5) * 4
    blobs = ndimage.gaussian_filter((rng.random((size, size)) < 0.004).astype(float), 1.2)
    image -= 0.6 * blobs / (blobs.max() + 1e-6) * (cells > 0)
    image[membrane] = rng.uniform(0.08, 0.18)
    image = ndimage.gaussian_filter(image, 0.7) + rng.normal(0, noise, (size, size))
    return np.clip(image, 0, 1).astype(np.float32), instance
