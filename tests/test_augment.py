"""The paper's augmentation: aligned targets, binary masks, the coarse-grid elastic field."""

import numpy as np

from zoo.data import CoarseGridElastic, paper_augmentation, synthetic_cells, unet_weight_map


def _sample():
    images, masks, labels = synthetic_cells(1, 96, seed=4)
    return images[0], masks[0], labels[0], unet_weight_map(labels[0])


def test_masks_stay_binary_and_labels_stay_labels():
    image, mask, labels, weights = _sample()
    aug = paper_augmentation()
    for seed in range(5):
        aug.set_random_seed(seed)
        out = aug(image=image, mask=mask, weights=weights)
        assert set(np.unique(out["mask"])) <= {0, 1}
        assert out["image"].shape == image.shape and out["weights"].shape == weights.shape
        aug.set_random_seed(seed)
        assert set(np.unique(aug(image=image, mask=labels)["mask"])) <= set(np.unique(labels))


def test_image_mask_and_weights_move_together():
    _, mask, _, weights = _sample()
    aug = paper_augmentation(gray=0.0)
    aug.transforms[3].p = aug.transforms[4].p = 0.0  # no gray-value change
    for seed in range(3):
        aug.set_random_seed(seed)
        out = aug(image=mask.astype(np.float32)[..., None], mask=mask, weights=weights)
        image, target = out["image"][..., 0] > 0.5, out["mask"] > 0
        agreement = (image == target).mean()  # bicubic vs nearest differ only at edges
        assert agreement > 0.95
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):  # and no shift aligns better
            assert (np.roll(image, (dy, dx), axis=(0, 1)) == target).mean() < agreement
        ramp = np.add.outer(np.arange(96.0), 2 * np.arange(96.0)).astype(np.float32) / 300
        aug.set_random_seed(seed)
        again = aug(image=ramp[..., None], mask=mask, weights=ramp)  # a smooth field
        assert np.abs(again["image"][..., 0] - again["weights"]).mean() < 0.01


def test_deterministic_given_seed():
    image, mask, _, _ = _sample()
    a, b = paper_augmentation(), paper_augmentation()
    a.set_random_seed(3)
    b.set_random_seed(3)
    np.testing.assert_array_equal(a(image=image, mask=mask)["image"],
                                  b(image=image, mask=mask)["image"])


def test_elastic_displacements_follow_the_paper():
    elastic = CoarseGridElastic(grid=3, sigma=10.0)
    elastic.set_random_seed(0)
    corners = []
    for _ in range(200):
        params = elastic.get_params_dependent_on_data({"shape": (65, 65)}, {})
        dx = params["map_x"] - np.arange(65)[None, :]
        corners.extend(dx[::32, ::32].ravel())  # the 3x3 grid points
        assert np.abs(np.diff(dx, axis=1)).max() < 5  # smooth: no tearing
    assert abs(np.std(corners) - 10.0) < 1.0 and abs(np.mean(corners)) < 1.0
