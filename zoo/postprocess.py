"""Post-processing of membrane (boundary) probability maps before scoring.

The ISBI 2012 challenge scores a boundary map by the cells it encloses
(V_rand, V_info), so a one-pixel gap in a predicted membrane merges two cells
and costs far more than its pixel error. The leaderboard's strongest entries
close such gaps by turning the network's map into a segmentation and back into
a boundary map; :func:`watershed_boundaries` does that with a seeded watershed.
"""

from __future__ import annotations

import numpy as np

from . import checks


def watershed_boundaries(membrane_probs, *, sigma: float = 1.0, seed_threshold: float = 0.5,
                         seed_erosion: float = 3.0, min_seed: int = 100,
                         keep_map: bool = True) -> np.ndarray:
    """A closed boundary map from membrane probabilities, by seeded watershed.

    Per slice: optionally smooth the map (Gaussian, ``sigma`` px); seeds are the
    confident cell interiors, the pixels below ``seed_threshold`` farther than
    ``seed_erosion`` px from any other pixel, as connected components (so two
    cells joined through a gap narrower than about ``2 * seed_erosion`` px
    keep a seed each; the smoothing blurs thin membranes' ends, so for a 2-px
    membrane the default closes gaps up to 4 px, ``sigma=0`` up to 6); seeds
    under ``min_seed`` px are dropped; the map is flooded from the seeds
    (4-connected watershed) and the watershed lines (1 px, value 1) are drawn
    into the map.

    The defaults were read on ISBI 2012 validation slices 20..24
    (``benchmarks/postprocess.py``; records in ``benchmarks/results/``): on a
    U-Net's maps drawing the lines into the map (V_rand 0.969 -> 0.978, V_info
    0.977 -> 0.982) beat replacing the map by them (0.978 at best over the
    grid, lower for most settings), because the scores still choose the map's
    threshold; over 8 models of the ``best`` recipe, with and without d4 TTA
    (``postprocess_grid_best_levers.md``), smoothing by ``sigma=1`` before the
    flood beat ``sigma=0`` on V_info in 15 of the 16 maps, tied in one (mean
    +0.0011, V_rand +0.0011).

    Args:
        membrane_probs: (H, W) or (N, H, W) float in [0, 1], 1 = membrane.
        keep_map: True: the maximum of the map and the lines (gaps closed, the
            map's grey levels kept); False: the lines alone, 1 on the
            boundaries between regions and 0 inside them (regions grown from
            dropped seeds merge into their neighbours).

    Returns:
        float32 array of the same shape. A slice with no confident interior
        (an untrained or blank map) is returned unchanged.
    """
    probs = checks.probabilities(checks.drop_channel(membrane_probs, "membrane_probs"),
                                 "membrane_probs")
    checks.probability(seed_threshold, "seed_threshold")
    if sigma < 0 or seed_erosion < 0 or min_seed < 0:
        raise ValueError(f"sigma, seed_erosion and min_seed must be >= 0, got sigma={sigma}, "
                         f"seed_erosion={seed_erosion}, min_seed={min_seed}")
    options = {"sigma": sigma, "seed_threshold": seed_threshold,
               "seed_erosion": seed_erosion, "min_seed": min_seed, "keep_map": keep_map}
    if probs.ndim == 3:
        return np.stack([watershed_boundaries(p, **options) for p in probs])
    from scipy import ndimage
    from skimage.segmentation import watershed

    smooth = ndimage.gaussian_filter(probs.astype(np.float32), sigma) if sigma else probs
    depth = ndimage.distance_transform_edt(smooth < seed_threshold)
    seeds, count = ndimage.label(depth > seed_erosion)
    if min_seed and count:
        sizes = np.bincount(seeds.ravel())
        seeds[(sizes < min_seed)[seeds] & (seeds > 0)] = 0
    if not seeds.any():  # no confident interior to grow from: leave the map as it is
        return probs.astype(np.float32)
    lines = watershed(smooth, seeds, connectivity=1, watershed_line=True) == 0
    if keep_map:
        return np.maximum(probs, lines).astype(np.float32)
    return lines.astype(np.float32)
