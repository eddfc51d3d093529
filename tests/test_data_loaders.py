"""ISBI 2012 (PNG and TIFF), Cell Tracking Challenge and image-folder loaders."""

import numpy as np
import pytest
import tifffile
from conftest import ISBI2012, NO_ISBI2012
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
                    reason=NO_ISBI2012)
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


def _drive_like(root, ids=(21, 22)):
    """The DRIVE layout: images/21_training.tif with manual/21_manual1.gif."""
    (root / "images").mkdir(parents=True)
    (root / "manual").mkdir()
    rng = np.random.default_rng(1)
    for i in ids:
        tifffile.imwrite(root / "images" / f"{i}_training.tif",
                         rng.integers(0, 255, (12, 10, 3), dtype=np.uint8))
        Image.fromarray((rng.random((12, 10)) > 0.5).astype(np.uint8) * 255).save(
            root / "manual" / f"{i}_manual1.gif")


@pytest.mark.parametrize("key", ["id", r"(\d+)_", lambda stem: stem.split("_")[0]])
def test_folder_pairs_files_by_a_shared_id(tmp_path, key):
    _drive_like(tmp_path)
    images, masks = load_folder(tmp_path / "images", tmp_path / "manual", key=key)
    assert [i.shape for i in images] == [(12, 10, 3)] * 2
    assert all(m.shape == (12, 10) and set(np.unique(m)) == {0, 1} for m in masks)


def test_folder_pairing_errors_name_the_fix(tmp_path):
    _drive_like(tmp_path)
    with pytest.raises(FileNotFoundError, match="2 of 2 images have no mask.*key='id'"):
        load_folder(tmp_path / "images", tmp_path / "manual")
    Image.fromarray(np.zeros((12, 10), np.uint8)).save(tmp_path / "manual" / "21_manual2.gif")
    with pytest.raises(ValueError, match="two masks have the key '21'"):
        load_folder(tmp_path / "images", tmp_path / "manual", key="id")
    with pytest.raises(ValueError, match="does not match the file name"):
        load_folder(tmp_path / "images", tmp_path / "manual", key=r"case(\d+)")
    with pytest.raises(ValueError, match="not a valid regex"):
        load_folder(tmp_path / "images", tmp_path / "manual", key=r"(\d+")


def _pair(root, image, mask, mask_name="a.png"):
    for folder in ("img", "msk"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(root / "img" / "a.tif", image, photometric="minisblack")
    if mask_name.endswith(".tif"):
        tifffile.imwrite(root / "msk" / mask_name, mask, photometric="minisblack")
    else:
        Image.fromarray(mask).save(root / "msk" / mask_name)
    return root / "img", root / "msk"


def test_folder_reads_colour_palette_and_16_bit_files(tmp_path):
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[0, 0] = (255, 0, 0)
    colour[1, 1] = (0, 0, 128)
    image = np.full((4, 4), 65535, np.uint16)
    image[0, 0] = 0
    dirs = _pair(tmp_path, image, colour)
    images, masks = load_folder(*dirs)
    assert images[0].dtype == np.float32 and images[0][0, 0, 0] == 0 and images[0].max() == 1
    assert masks[0].sum() == 2 and masks[0][0, 0] == 1 and masks[0][1, 1] == 1
    with pytest.raises(ValueError, match="colour mask with 3 colours: pass colors="):
        load_folder(*dirs, binary=False)
    classes = load_folder(*dirs, binary=False,
                          colors={(0, 0, 0): 0, (255, 0, 0): 1, (0, 0, 128): 2})[1][0]
    assert classes[0, 0] == 1 and classes[1, 1] == 2 and classes.sum() == 3
    with pytest.raises(ValueError, match="colours not in colors"):
        load_folder(*dirs, binary=False, colors={(0, 0, 0): 0, (255, 0, 0): 1})

    palette = Image.new("P", (2, 2))
    palette.putdata([0, 1, 2, 2])
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    (tmp_path / "p" / "img").mkdir(parents=True)
    (tmp_path / "p" / "msk").mkdir()
    tifffile.imwrite(tmp_path / "p" / "img" / "a.tif", np.zeros((2, 2), np.uint8))
    palette.save(tmp_path / "p" / "msk" / "a.png")
    classes = load_folder(tmp_path / "p" / "img", tmp_path / "p" / "msk", binary=False)[1][0]
    np.testing.assert_array_equal(classes, [[0, 1], [2, 2]])

    gray_rgba = np.zeros((4, 4, 4), np.uint8)
    gray_rgba[..., 3] = 255
    gray_rgba[2, 2, :3] = 7
    dirs = _pair(tmp_path / "g", image, gray_rgba)
    assert load_folder(*dirs, binary=False)[1][0].sum() == 7


def test_folder_multi_page_tiffs_give_one_sample_per_page(tmp_path):
    stack = np.random.default_rng(0).integers(0, 255, (3, 8, 8), dtype=np.uint8)
    dirs = _pair(tmp_path, stack, (stack > 127).astype(np.uint8) * 255, "a.tif")
    images, masks = load_folder(*dirs)
    assert len(images) == 3 and images[2].shape == (8, 8, 1)
    np.testing.assert_array_equal(masks[1], stack[1] > 127)
    dirs = _pair(tmp_path / "b", stack, np.zeros((2, 8, 8), np.uint8), "a.tif")
    with pytest.raises(ValueError, match="3 pages but its mask a.tif has 2"):
        load_folder(*dirs)
