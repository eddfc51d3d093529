"""The one image reader (zoo.data.io): every format users bring is read by its stated
rule, the same way in load_folder, zoo predict and zoo train, or refused by name."""

import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image

from zoo.commands.predict import read_input
from zoo.data import load_folder
from zoo.data.io import page_count, read_images, read_masks, read_pages

RNG = np.random.default_rng(0)
GRAY = RNG.integers(0, 256, (24, 20), dtype=np.uint8)
RGB = RNG.integers(0, 256, (24, 20, 3), dtype=np.uint8)


def _gray_palette_image(path):
    """A gray image saved with a palette of 64 grays (GIF or PNG 'P' mode)."""
    quantized = Image.fromarray(GRAY).quantize(64)
    quantized.save(path)
    return np.asarray(quantized.convert("L"))


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_palette_images_are_read_as_their_colours(tmp_path, suffix):
    gray = _gray_palette_image(tmp_path / f"g{suffix}")
    assert Image.open(tmp_path / f"g{suffix}").mode == "P"
    (image,) = read_images(tmp_path / f"g{suffix}")
    assert image.shape == (24, 20, 1)
    np.testing.assert_allclose(image[..., 0], gray / 255, atol=1e-6)
    Image.fromarray(RGB).quantize(16).save(tmp_path / f"c{suffix}")
    (colour,) = read_images(tmp_path / f"c{suffix}")
    expected = np.asarray(Image.open(tmp_path / f"c{suffix}").convert("RGB")) / 255
    assert colour.shape == (24, 20, 3)
    np.testing.assert_allclose(colour, expected, atol=1e-6)


def test_alpha_is_dropped_and_bilevel_and_16_bit_are_scaled(tmp_path):
    rgba = np.concatenate([RGB, np.full((24, 20, 1), 100, np.uint8)], axis=-1)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    np.testing.assert_allclose(read_images(tmp_path / "a.png")[0], RGB / 255, atol=1e-6)
    Image.fromarray(np.stack([GRAY, GRAY], -1), "LA").save(tmp_path / "la.png")
    np.testing.assert_allclose(read_images(tmp_path / "la.png")[0][..., 0], GRAY / 255,
                               atol=1e-6)
    Image.fromarray(GRAY > 127).convert("1").save(tmp_path / "b.png")
    np.testing.assert_array_equal(read_images(tmp_path / "b.png")[0][..., 0], GRAY > 127)
    wide = GRAY.astype(np.uint16) * 257
    Image.fromarray(wide).save(tmp_path / "w.png")
    np.testing.assert_allclose(read_images(tmp_path / "w.png")[0][..., 0], GRAY / 255,
                               atol=1e-6)


def test_float_tiffs_in_unit_range_or_whole_0_255_are_read_others_refused(tmp_path):
    tifffile.imwrite(tmp_path / "u.tif", (GRAY / 255).astype(np.float32))
    tifffile.imwrite(tmp_path / "w.tif", GRAY.astype(np.float32))
    for name in ("u.tif", "w.tif"):
        np.testing.assert_allclose(read_images(tmp_path / name)[0][..., 0], GRAY / 255,
                                   atol=1e-6)
    tifffile.imwrite(tmp_path / "x.tif", GRAY.astype(np.float32) * 1.7)
    with pytest.raises(ValueError, match=r"x.tif holds float pixels in \[0, .*rescale"):
        read_images(tmp_path / "x.tif")
    tifffile.imwrite(tmp_path / "s.tif", GRAY.astype(np.int16) - 100)
    with pytest.raises(ValueError, match="s.tif holds signed int16 pixels"):
        read_images(tmp_path / "s.tif")
    nan = (GRAY / 255).astype(np.float32)
    nan[0, 0] = np.nan
    tifffile.imwrite(tmp_path / "n.tif", nan)
    with pytest.raises(ValueError, match="n.tif holds 1 NaN"):
        read_images(tmp_path / "n.tif")


@pytest.mark.parametrize("compression", ["tiff_lzw", "tiff_adobe_deflate", "packbits"])
def test_compressed_tiffs_are_read_without_imagecodecs(tmp_path, compression):
    Image.fromarray(RGB).save(tmp_path / "c.tif", compression=compression)
    np.testing.assert_allclose(read_images(tmp_path / "c.tif")[0], RGB / 255, atol=1e-6)
    assert page_count(tmp_path / "c.tif") == 1


def test_planar_tiffs_read_the_same_in_every_command(tmp_path):
    tifffile.imwrite(tmp_path / "p.tif", np.moveaxis(RGB, -1, 0), planarconfig="separate",
                     photometric="rgb")
    tifffile.imwrite(tmp_path / "c.tif", RGB, photometric="rgb")
    planar, contiguous = read_images(tmp_path / "p.tif")[0], read_images(tmp_path / "c.tif")[0]
    np.testing.assert_array_equal(planar, contiguous)
    assert planar.shape == (24, 20, 3)
    image, stack = read_input(tmp_path / "p.tif", 3)  # zoo predict / zoo evaluate
    assert not stack
    np.testing.assert_array_equal(image, contiguous)
    (tmp_path / "masks").mkdir()
    (tmp_path / "images").mkdir()
    (tmp_path / "p.tif").rename(tmp_path / "images" / "p.tif")
    Image.fromarray(GRAY).save(tmp_path / "masks" / "p.png")
    images, _ = load_folder(tmp_path / "images", tmp_path / "masks")  # zoo train
    np.testing.assert_array_equal(images[0], contiguous)


def test_multi_frame_gifs_and_tiffs_are_pages(tmp_path):
    frames = [Image.fromarray(GRAY), Image.fromarray(255 - GRAY)]
    frames[0].save(tmp_path / "m.gif", save_all=True, append_images=frames[1:])
    assert page_count(tmp_path / "m.gif") == 2
    pages = read_images(tmp_path / "m.gif")
    assert len(pages) == 2
    np.testing.assert_allclose(pages[1][..., 0], (255 - GRAY) / 255, atol=1e-6)
    tifffile.imwrite(tmp_path / "m.tif", np.stack([GRAY, GRAY, GRAY]), photometric="minisblack")
    assert page_count(tmp_path / "m.tif") == 3 and len(read_pages(tmp_path / "m.tif")) == 3


def test_palette_masks_are_class_ids(tmp_path):
    palette = Image.new("P", (3, 2))
    palette.putdata([0, 1, 2, 2, 1, 0])
    palette.putpalette([0, 0, 0, 255, 255, 255, 128, 0, 0] + [0] * 759)  # white is class 1
    palette.save(tmp_path / "m.gif")
    palette.save(tmp_path / "m.png")
    for name in ("m.gif", "m.png"):
        np.testing.assert_array_equal(read_masks(tmp_path / name, binary=False)[0],
                                      [[0, 1, 2], [2, 1, 0]])
        np.testing.assert_array_equal(read_masks(tmp_path / name)[0], [[0, 1, 1], [1, 1, 0]])


def test_jpeg_masks_are_thresholded_with_a_warning_and_refused_as_class_maps(tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[16:40, 20:50] = 255
    Image.fromarray(mask).save(tmp_path / "m.jpg", quality=60)
    stored = np.asarray(Image.open(tmp_path / "m.jpg"))
    assert ((stored > 0) != (mask > 0)).sum() > 50  # compression noise around the edges
    with pytest.warns(UserWarning, match="JPEG masks are lossy"):
        (read,) = read_masks(tmp_path / "m.jpg")
    assert (read != (mask > 0)).sum() <= 8
    with pytest.raises(ValueError, match="m.jpg: JPEG compression changes class ids"):
        read_masks(tmp_path / "m.jpg", binary=False)


def test_alpha_in_masks_transparent_is_background_and_one_colour_masks_read_alpha(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere
    rgba[1:3, 1:3, 3] = 255  # opaque only inside: the mask is the alpha
    Image.fromarray(rgba).save(tmp_path / "a.png")
    expected = np.zeros((4, 4), np.uint8)
    expected[1:3, 1:3] = 1
    np.testing.assert_array_equal(read_masks(tmp_path / "a.png")[0], expected)
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[0, :, 3] = 255  # gray 200 visible in the first row only
    rgba[1, 0, :3] = 50
    Image.fromarray(rgba).save(tmp_path / "b.png")
    classes = read_masks(tmp_path / "b.png", binary=False)[0]
    assert classes[0].tolist() == [200] * 4 and classes[1:].sum() == 0


def test_images_and_masks_in_one_folder_pair_by_suffix(tmp_path):
    for name in ("TCGA_1", "TCGA_2"):
        tifffile.imwrite(tmp_path / f"{name}.tif", RGB)
        Image.fromarray((GRAY > 127).astype(np.uint8) * 255).save(tmp_path / f"{name}_mask.tif")
    images, masks = load_folder(tmp_path, tmp_path, mask_suffix="_mask")
    assert len(images) == 2 and images[0].shape == (24, 20, 3)
    np.testing.assert_array_equal(masks[1], GRAY > 127)
    with pytest.raises(ValueError, match="both in .*--mask-suffix _mask"):
        load_folder(tmp_path, tmp_path)


def test_unreadable_and_unknown_files_are_named(tmp_path):
    (tmp_path / "bad.gif").write_bytes(b"GIF89a broken")
    with pytest.raises(ValueError, match="bad.gif is not a readable image"):
        read_images(tmp_path / "bad.gif")
    with pytest.raises(FileNotFoundError, match="none.png"):
        read_masks(tmp_path / "none.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Image.fromarray(GRAY).save(tmp_path / "g.png")
        read_masks(tmp_path / "g.png")  # lossless masks: no warning


def test_a_binary_palette_mask_is_read_by_colour_whatever_the_index_of_black(tmp_path):
    palette = Image.new("P", (2, 1))
    palette.putdata([0, 1])
    palette.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)  # index 0 is white
    palette.save(tmp_path / "m.gif")
    np.testing.assert_array_equal(read_masks(tmp_path / "m.gif")[0], [[1, 0]])
    np.testing.assert_array_equal(read_masks(tmp_path / "m.gif", binary=False)[0], [[0, 1]])
