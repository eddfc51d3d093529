"""SegmentationDataset: crops, valid-padding margins, grid tiles, determinism, workers."""

from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

import zoo
from zoo.data import SegmentationDataset, paper_augmentation, synthetic_cells, unet_weight_map


@pytest.fixture(scope="module")
def cells():
    images, masks, labels = synthetic_cells(3, 64, seed=8)
    return images, masks, unet_weight_map(labels)


def test_random_crops_with_weights(cells):
    images, masks, weights = cells
    ds = SegmentationDataset(images, masks, weights, patch_size=32, batch_size=3, steps=5)
    x, y, w = ds[0]
    assert len(ds) == 5
    assert x.shape == (3, 32, 32, 1) and y.shape == (3, 32, 32, 1) and w.shape == (3, 32, 32)
    assert x.dtype == y.dtype == w.dtype == np.float32


def test_margin_gives_larger_inputs_centred_on_targets(cells):
    images, masks, _ = cells
    ds = SegmentationDataset(images, masks, patch_size=8, margin=20, batch_size=2, seed=1)
    x, y = ds[0]
    assert x.shape == (2, 48, 48, 1) and y.shape == (2, 8, 8, 1)
    # Without augmentation the input's centre is the target's image patch.
    grid = SegmentationDataset(images[:1], masks[:1], patch_size=8, margin=20, mode="grid",
                               batch_size=64)
    x, y = grid[0]
    np.testing.assert_array_equal(x[0, 20:28, 20:28, 0], images[0, :8, :8, 0])
    np.testing.assert_array_equal(y[0, ..., 0], masks[0, :8, :8])


def test_grid_covers_every_image_once(cells):
    images, masks, _ = cells
    ds = SegmentationDataset(images, masks, patch_size=(40, 24), mode="grid", batch_size=4)
    tiles = [t for batch in range(len(ds)) for t in ds[batch][1]]
    assert len(tiles) == 3 * 2 * 3  # rows: 0, 24; columns: 0, 24, 40


def test_deterministic_per_seed_epoch_and_index(cells):
    images, masks, weights = cells
    make = lambda seed: SegmentationDataset(  # noqa: E731
        images, masks, weights, patch_size=32, batch_size=2, steps=3, seed=seed,
        augment=paper_augmentation())
    a, b, c = make(0), make(0), make(1)
    for batch in range(3):
        for u, v in zip(a[batch], b[batch], strict=True):
            np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0][0], c[0][0])
    before = a[0][0]
    a.on_epoch_end()
    assert not np.array_equal(before, a[0][0])
    with ThreadPoolExecutor(3) as pool:  # threads share the pipeline safely
        results = list(pool.map(lambda i: b[i % 3][0], range(9)))
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, b[i % 3][0])


def test_bad_inputs(cells):
    images, masks, _ = cells
    with pytest.raises(ValueError, match="larger than an image"):
        SegmentationDataset(images, masks, patch_size=128)
    with pytest.raises(ValueError, match="same number"):
        SegmentationDataset(images, masks[:2], patch_size=16)
    with pytest.raises(ValueError, match="mode"):
        SegmentationDataset(images, masks, patch_size=16, mode="tiles")


@pytest.mark.parametrize("multiprocessing", [False, True])
def test_fit_with_workers(cells, multiprocessing):
    images, masks, weights = cells
    ds = SegmentationDataset(images, masks, weights, patch_size=32, batch_size=2, steps=3,
                             augment=paper_augmentation(), workers=2,
                             use_multiprocessing=multiprocessing)
    model = zoo.unet((32, 32, 1), 1, depth=2, encoder_options={"filters": 2})
    model.compile("adam", zoo.losses.WeightedCrossEntropy())
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    keras.backend.clear_session()
