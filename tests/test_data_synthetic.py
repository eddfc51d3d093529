import numpy as np
import pytest
from scipy import ndimage

from zoo.data import synthetic_cells


def test_shapes_types_and_ranges():
    images, masks, labels = synthetic_cells(3, 64, seed=0)
    assert images.shape == (3, 64, 64, 1) and images.dtype == np.float32
    assert masks.shape == labels.shape == (3, 64, 64)
    assert 0 <= images.min() and images.max() <= 1
    assert set(np.unique(masks)) == {0, 1}
    np.testing.assert_array_equal(masks, labels > 0)


def test_deterministic_given_seed():
    a = synthetic_cells(2, 48, seed=3)
    b = synthetic_cells(2, 48, seed=3)
    c = synthetic_cells(2, 48, seed=4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_cells_touch_only_through_membranes():
    _, masks, labels = synthetic_cells(2, 96, seed=0)
    for mask, label in zip(masks, labels, strict=True):
        assert label.max() >= 10  # many cells
        # No two different cells are 4-adjacent: membranes separate them.
        assert not ((label[1:] != label[:-1]) & (label[1:] > 0) & (label[:-1] > 0)).any()
        assert not ((label[:, 1:] != label[:, :-1]) & (label[:, 1:] > 0)
                    & (label[:, :-1] > 0)).any()
        assert 0.05 < 1 - mask.mean() < 0.6  # membranes + background are a minority
        # Membrane pixels are darker on average: the task is learnable.
        assert ndimage.label(mask)[1] >= label.max() // 2


def test_membranes_are_dark():
    images, masks, _ = synthetic_cells(4, 64, seed=2)
    assert images[..., 0][masks == 0].mean() < images[..., 0][masks == 1].mean() - 0.2


def test_rejects_tiny_requests():
    with pytest.raises(ValueError, match="size >= 8"):
        synthetic_cells(1, 4)
