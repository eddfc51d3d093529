import hashlib

import numpy as np
import pytest

from zoo.kaggle import rle_decode, rle_encode, write_submission

# Kaggle's Data Science Bowl 2018 evaluation page: "'1 3 10 5' implies pixels 1,2,3,10,11,
# 12,13,14 are to be included in the mask. The pixels are one-indexed and numbered from top
# to bottom, then left to right: 1 is pixel (1,1), 2 is pixel (2,1), etc."
DSB_RLE = "1 3 10 5"
DSB_MASK = np.array([[1, 0, 1],
                     [1, 0, 1],
                     [1, 0, 1],
                     [0, 0, 1],
                     [0, 1, 0]], np.uint8)  # 5 rows x 3 columns: pixel 10 is (5, 2)


def test_the_documented_example_both_ways():
    assert rle_encode(DSB_MASK) == DSB_RLE
    np.testing.assert_array_equal(rle_decode(DSB_RLE, (5, 3)), DSB_MASK)


def test_row_order_numbers_pixels_row_by_row():
    assert rle_encode(DSB_MASK.T, order="row") == DSB_RLE
    np.testing.assert_array_equal(rle_decode(DSB_RLE, (3, 5), order="row"), DSB_MASK.T)


@pytest.mark.parametrize("order", ["column", "row"])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 1.0])
def test_round_trip(order, density):
    mask = np.random.default_rng(3).random((37, 23)) < density
    rle = rle_encode(mask, order=order)
    np.testing.assert_array_equal(rle_decode(rle, mask.shape, order=order), mask)
    assert rle == {0.0: "", 1.0: f"1 {37 * 23}"}.get(density, rle)


def test_missing_values_in_a_csv_decode_as_empty():
    assert not rle_decode(float("nan"), (4, 4)).any()
    assert not rle_decode("", (4, 4)).any()


@pytest.mark.parametrize("rle,words", [
    ("1 3 10", "pairs"), ("1 a", "integers"), ("0 3", "1-indexed"), ("2 0", "length"),
    ("14 5", "H and W swapped"), ("5 3 1 2", "sorted"), ("1 3 3 2", "overlap")])
def test_bad_run_length_strings_name_the_problem(rle, words):
    with pytest.raises(ValueError, match=words):
        rle_decode(rle, (4, 4))


@pytest.mark.parametrize("mask,error,words", [
    (DSB_MASK * 255, ValueError, "0/255"),
    (DSB_MASK * 0.7, ValueError, "only 0 and 1"),
    (DSB_MASK[None], ValueError, r"\(H, W\)"),
    (np.array([["a"]]), TypeError, "dtype")])
def test_bad_masks_name_the_problem(mask, error, words):
    with pytest.raises(error, match=words):
        rle_encode(mask)


def test_bad_order_names_both_choices():
    with pytest.raises(ValueError, match="'column'.*'row'"):
        rle_encode(DSB_MASK, order="F")


def test_submission_file(tmp_path):
    path = write_submission(tmp_path / "submission.csv",
                            [("a", DSB_MASK), ("b", np.zeros((5, 3))), ("c", "1 2")])
    assert path.read_text().splitlines() == ["ImageId,EncodedPixels", f"a,{DSB_RLE}", "b,",
                                             "c,1 2"]


def test_submission_never_overwrites_or_leaves_half_a_file(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text("the user's file\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_submission(path, [("a", DSB_MASK)])
    with pytest.raises(ValueError, match="0/255"):
        write_submission(path, [("a", DSB_MASK), ("b", DSB_MASK * 255)], overwrite=True)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.csv"]
    write_submission(path, [("a", DSB_MASK)], header=("id", "rle"), overwrite=True)
    assert path.read_text().splitlines() == ["id,rle", f"a,{DSB_RLE}"]


def test_class_submissions_round_trip_and_refuse_bad_maps(tmp_path):
    from zoo.kaggle import (
        read_class_submission,
        read_id_strings,
        resized_ids,
        write_class_submission,
        write_id_strings,
    )

    rng = np.random.default_rng(0)
    maps = {"x": rng.integers(0, 4, (6, 5)), "y": np.zeros((3, 7), int)}
    path = write_class_submission(tmp_path / "s.csv", maps.items(), num_classes=4)
    rows = path.read_text().splitlines()
    assert rows[0] == "ImageId,ClassId,EncodedPixels" and rows[-1] == "y,3,"
    back = read_class_submission(path, {k: v.shape for k, v in maps.items()})
    assert all(np.array_equal(back[k], maps[k]) for k in maps)
    ids = write_id_strings(tmp_path / "i.csv", maps.items(), num_classes=4, size=(4, 4))
    back = read_id_strings(ids, {"x": (4, 4), "y": (4, 4)})
    assert np.array_equal(back["x"], resized_ids(maps["x"].astype(np.uint8), (4, 4)))
    assert np.array_equal(resized_ids(np.arange(4).reshape(2, 2), (4, 4)),
                          np.repeat(np.repeat(np.arange(4).reshape(2, 2), 2, 0), 2, 1))
    with pytest.raises(ValueError, match="class ids 0..3"):
        write_class_submission(tmp_path / "t.csv", [("z", np.full((2, 2), 9))], num_classes=4)
    assert not (tmp_path / "t.csv").exists()
    with pytest.raises(FileExistsError, match="exists"):
        write_id_strings(ids, maps.items(), num_classes=4)
