"""The U-Net border weight map against a brute-force implementation."""

import numpy as np
import pytest
from scipy import ndimage

from zoo.data import synthetic_cells, unet_weight_map


def brute_force(instances, w0=10.0, sigma=5.0):
    cells = instances > 0
    distances = np.sort(np.stack([ndimage.distance_transform_edt(instances != k)
                                  for k in range(1, instances.max() + 1)]), axis=0)
    d1, d2 = distances[0], distances[1]
    n = cells.size
    wc = np.where(cells, n / (2 * cells.sum()), n / (2 * (n - cells.sum())))
    return wc + np.where(cells, 0, w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(seed):
    _, _, labels = synthetic_cells(1, 64, seed=seed)
    expected = brute_force(labels[0])
    np.testing.assert_allclose(unet_weight_map(labels[0]), expected, atol=2e-4)


def test_binary_masks_become_components_and_stacks_work():
    _, masks, labels = synthetic_cells(2, 48, seed=3)
    from_masks = unet_weight_map(masks * 255)
    assert from_masks.shape == (2, 48, 48) and from_masks.dtype == np.float32
    for mask, weights in zip(masks, from_masks, strict=True):
        np.testing.assert_allclose(weights, brute_force(ndimage.label(mask)[0]), atol=2e-4)


def test_class_weight_options():
    instances = np.zeros((10, 10), int)
    instances[1:4, 1:4], instances[6:9, 6:9] = 1, 2
    plain = unet_weight_map(instances, w0=0, class_weights=None)
    np.testing.assert_allclose(plain, 1.0)
    fixed = unet_weight_map(instances, w0=0, class_weights=(0.5, 3.0))
    assert set(np.unique(fixed)) == {0.5, 3.0}
    balanced = unet_weight_map(instances, w0=0)
    assert balanced.mean() == pytest.approx(1.0)


def test_gap_between_touching_cells_gets_the_highest_weight():
    instances = np.zeros((20, 30), int)
    instances[5:15, 2:14], instances[5:15, 16:28] = 1, 2
    weights = unet_weight_map(instances)
    assert weights[10, 14:16].min() > weights[1, 1] + 5


def test_bad_input():
    with pytest.raises(ValueError, match="\\(H, W\\) or \\(N, H, W\\)"):
        unet_weight_map(np.zeros(5))
    with pytest.raises(ValueError, match="class_weights"):
        unet_weight_map(np.eye(4), class_weights="auto")
