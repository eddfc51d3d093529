"""ISBI 2012 (PNG and TIFF), Cell Tracking Challenge and image-folder loaders."""

import numpy as np
import pytest
from conftest import ISBI2012
from fixtures import ctc_layout, isbi_png_layout, isbi_tiff_layout
from PIL import Image

from zoo.data import load_ctc, load_folder, load_isbi2012


def test_isbi_png_layout(tmp_path):
    images, masks = isbi_png_layout(tmp_path)
    data = load_isbi2012(tmp_path, slices=[1, 3])
    assert data.images.shape == (2, 64, 64, 1) and data.images.dtype == np.float32
    np.testing.assert_array_equal(data.membranes, 1 - masks[[1, 3]])  # membrane = 1
    assert set(np.unique(data.labels)) <= {0, 255} and data.slices == [1, 3]
    np.testing.assert_allclose(data.images, images[[1, 3]], atol=1 / 255)
    test = load_isbi2012(tmp_path, split="test")
    assert test.images.shape == (2, 64, 64, 1) and test.membranes is None


def test_isbi_tiff_layout(tmp_path):
    _, masks = isbi_tiff_layout(tmp_path)
    data = load_isbi2012(tmp_path)
    assert data.images.shape == (3, 48, 48, 1)
    np.testing.assert_array_equal(data.membranes, 1 - masks)
    assert load_isbi2012(tmp_path, split="test").images.shape == (3, 48, 48, 1)


def test_isbi_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="zoo data fetch isbi2012"):
        load_isbi2012(tmp_path)
    isbi_png_layout(tmp_path / "d")
    with pytest.raises(ValueError, match="slice 9 requested"):
        load_isbi2012(tmp_path / "d", slices=[9])
    with pytest.raises(ValueError, match="split"):
        load_isbi2012(tmp_path / "d", split="val")


@pytest.mark.skipif(not (ISBI2012 / "images").is_dir(),
                    reason="ISBI 2012 data not found at ../shared/data/isbi2012")
def test_real_isbi2012():
    data = load_isbi2012(ISBI2012, slices=range(20, 25))
    assert data.images.shape == (5, 512, 512, 1)
    assert 0.15 < data.membranes.mean() < 0.3  # membranes are about 22% of the pixels
    assert load_isbi2012(ISBI2012, split="test").images.shape == (30, 512, 512, 1)


def test_ctc_layout(tmp_path):
    images, labels = ctc_layout(tmp_path)
    data = load_ctc(tmp_path)
    assert data.frames == [0, 2, 3, 4]
    assert data.images.shape == (4, 64, 64, 1) and 0 <= data.images.min() <= data.images.max() <= 1
    np.testing.assert_array_equal(data.labels, labels[[0, 2, 3, 4]])
    np.testing.assert_array_equal(data.masks, labels[[0, 2, 3, 4]] > 0)
    weights = data.weight_maps()
    assert weights.shape == (4, 64, 64) and weights.max() > 2


def test_ctc_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="01_GT/SEG|01 not found|tNNN"):
        load_ctc(tmp_path)
    ctc_layout(tmp_path / "d")
    (tmp_path / "d" / "01" / "t002.tif").unlink()
    with pytest.raises(FileNotFoundError, match="man_seg002.tif has no frame"):
        load_ctc(tmp_path / "d")


def test_folder_loader(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "msk").mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("a", (20, 30)), ("b", (16, 16))):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
            tmp_path / "img" / f"{name}.jpg")
        Image.fromarray((rng.random(size) > 0.5).astype(np.uint8) * 255).save(
            tmp_path / "msk" / f"{name}_mask.png")
    images, masks = load_folder(tmp_path / "img", tmp_path / "msk", mask_suffix="_mask")
    assert [i.shape for i in images] == [(20, 30, 3), (16, 16, 3)]
    assert all(set(np.unique(m)) <= {0, 1} for m in masks)
    with pytest.raises(FileNotFoundError, match="have no mask"):
        load_folder(tmp_path / "img", tmp_path / "msk")


def test_isbi_context_stacks_neighbours_within_the_loaded_slices(tmp_path):
    import numpy as np
    import pytest
    from fixtures import isbi_png_layout

    from zoo.data import load_isbi2012, with_context

    isbi_png_layout(tmp_path, n=6, size=32)
    plain = load_isbi2012(tmp_path, slices=range(0, 4))
    train = load_isbi2012(tmp_path, slices=range(0, 4), context=1)
    assert train.images.shape == (4, 32, 32, 3) and train.membranes.shape == (4, 32, 32)
    np.testing.assert_array_equal(train.images[..., 1], plain.images[..., 0])
    # the last training slice mirrors its lower neighbour instead of reading slice 4
    np.testing.assert_array_equal(train.images[3, ..., 2], plain.images[2, ..., 0])
    np.testing.assert_array_equal(train.images[0, ..., 0], plain.images[1, ..., 0])
    val = load_isbi2012(tmp_path, slices=range(4, 6), context=1)
    np.testing.assert_array_equal(val.images[0, ..., 0], val.images[0, ..., 2])
    with pytest.raises(ValueError, match="consecutive"):
        load_isbi2012(tmp_path, slices=[0, 2, 4], context=1)
    assert with_context(np.zeros((5, 8, 8)), 2).shape == (5, 8, 8, 5)
