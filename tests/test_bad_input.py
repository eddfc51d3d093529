"""The bad-input matrix: every public path given a malformed input raises the named
exception with words that say what was wrong (the project's principle 4). Calls that
involve files get a folder of the user's files and must leave it untouched: same files,
same bytes, nothing new (no output folder left behind)."""

import hashlib
import re

import numpy as np
import pytest
from fixtures import isbi_png_layout
from PIL import Image

import zoo
from zoo import losses, metrics
from zoo.cli import main
from zoo.data import (
    CoarseGridElastic,
    SegmentationDataset,
    load_ctc,
    load_folder,
    load_isbi2012,
    synthetic_cells,
    unet_weight_map,
    with_context,
)
from zoo.evaluation import class_scores, dice_score, info_scores, iou_score, isbi_scores
from zoo.kaggle import rle_decode, rle_encode
from zoo.postprocess import watershed_boundaries

RNG = np.random.default_rng(0)
MASK = (RNG.random((1, 32, 32, 1)) > 0.5).astype("float32")
PROBS = RNG.random((1, 32, 32, 1)).astype("float32")
IMAGE = RNG.random((32, 32, 1)).astype("float32")
TARGET = (RNG.random((32, 32)) > 0.5).astype("uint8")
LABELS = np.kron(np.arange(4).reshape(2, 2), np.ones((16, 16), int))  # 4 cells, 32x32
NAN_IMAGE = IMAGE.copy()
NAN_IMAGE[3, 4] = np.nan


def _model():
    if "model" not in _CACHE:
        _CACHE["model"] = zoo.unet((None, None, 1), 1, depth=2,
                                   encoder_options={"filters": 2})
    return _CACHE["model"]


_CACHE = {}


def dataset(images=(IMAGE,), targets=(TARGET,), weights=None, **kw):
    return SegmentationDataset(list(images), list(targets), weights,
                               **{"patch_size": 16, "batch_size": 1, **kw})


def tiled(image, **kw):
    return zoo.predict_tiled(_model(), image, **{"tile_size": 32, "verbose": False, **kw})


def dice(y_true=MASK, y_pred=PROBS, **kw):
    return losses.DiceLoss(**kw)(y_true, y_pred)


def metric(metric_class, y_true=MASK, y_pred=PROBS, **kw):
    return metric_class(**kw).update_state(y_true, y_pred)


def train(tmp, **kw):
    def build():
        model = _model()
        model.compile("adam", losses.DiceLoss())
        return model
    return zoo.training.train(build, dataset(), tmp / "run", **{"steps": 1, **kw})


# (id, call(tmp), exception, words)
API = [
    # builders and size rules
    ("unet 2-d input_shape", lambda t: zoo.unet((64, 64)), ValueError, "input_shape"),
    ("unet num_classes 0", lambda t: zoo.unet((64, 64, 1), 0), ValueError, "num_classes"),
    ("unet depth -1", lambda t: zoo.unet((64, 64, 1), depth=-1), ValueError, "depth"),
    ("unet unknown encoder", lambda t: zoo.unet((64, 64, 1), encoder="resnet999"),
     ValueError, "resnet999"),
    ("encoder option given to the model", lambda t: zoo.unet((64, 64, 1), filters=4),
     TypeError, "encoder_options"),
    ("same-padding size not a multiple", lambda t: zoo.unet((65, 65, 1)), ValueError, "65"),
    ("valid padding at an illegal size", lambda t: zoo.unet((64, 64, 1), padding="valid"),
     ValueError, "valid"),
    ("unknown padding", lambda t: zoo.unet((64, 64, 1), padding="full"), ValueError,
     "padding"),
    ("cgm_threshold 2", lambda t: zoo.unet_3plus((64, 64, 1), cgm=True, cgm_threshold=2),
     ValueError, "cgm_threshold"),
    ("build unknown name", lambda t: zoo.build("unett"), ValueError, "unet"),
    ("get_encoder unknown", lambda t: zoo.get_encoder("nope"), ValueError, "nope"),
    ("unet_output_size unreachable", lambda t: zoo.unet_output_size(100), ValueError, "100"),
    ("unet_input_size depth 40", lambda t: zoo.unet_input_size(388, depth=40), ValueError,
     "legal outputs"),
    ("unet_input_size negative", lambda t: zoo.unet_input_size(-5), ValueError, "-5"),
    ("unet_output_size depth -1", lambda t: zoo.unet_output_size(572, depth=-1), ValueError,
     "depth"),
    ("fcn num_classes -1", lambda t: zoo.fcn((64, 64, 1), -1), ValueError, "num_classes"),
    ("zero input channels", lambda t: zoo.unet((64, 64, 0)), ValueError, "channel"),
    ("count_flops of a non-model", lambda t: zoo.count_flops("unet"), TypeError, "model"),
    ("prune a model without nested heads", lambda t: zoo.prune(_model(), 1), ValueError,
     "prune"),
    # losses and metrics
    ("dice 0/255 target", lambda t: dice(MASK * 255), ValueError, "0/255"),
    ("focal 0/255 target", lambda t: losses.FocalLoss()(MASK * 255, PROBS), ValueError,
     "0/255"),
    ("wce 0/255 target", lambda t: losses.WeightedCrossEntropy()(MASK * 255, PROBS),
     ValueError, "0/255"),
    ("logits without from_logits", lambda t: losses.IoULoss()(MASK, PROBS * 8 - 4),
     ValueError, "from_logits"),
    ("dice smooth 0", lambda t: losses.DiceLoss(smooth=0), ValueError, "smooth > 0"),
    ("tversky smooth -1", lambda t: losses.TverskyLoss(smooth=-1), ValueError, "smooth > 0"),
    ("focal alpha 2", lambda t: losses.FocalLoss(alpha=2), ValueError, "alpha"),
    ("focal gamma -1", lambda t: losses.FocalLoss(gamma=-1), ValueError, "gamma"),
    ("cldice iterations 0", lambda t: losses.ClDiceLoss(iterations=0), ValueError,
     "iterations"),
    ("class ids above the class count",
     lambda t: dice(np.full((1, 32, 32), 5.0), np.full((1, 32, 32, 3), 1 / 3)),
     ValueError, "class ids 0..2"),
    ("NaN in the prediction", lambda t: dice(MASK, np.where(MASK > 0, np.nan, PROBS)),
     ValueError, "NaN"),
    ("target and prediction sizes differ", lambda t: dice(MASK, PROBS[:, :16]), ValueError,
     "same height and width"),
    ("weight map given to a region loss",
     lambda t: losses.DiceLoss()(MASK, PROBS, sample_weight=np.ones((1, 32, 32))),
     ValueError, "region loss"),
    ("loss spec with a dangling +", lambda t: losses.loss_from_spec("focal+"), ValueError,
     "focal+"),
    ("loss spec unknown term", lambda t: losses.loss_from_spec("blurp"), ValueError, "blurp"),
    ("metric num_classes 0", lambda t: metrics.IoU(num_classes=0), ValueError,
     "num_classes"),
    ("metric class_id out of range", lambda t: metrics.IoU(num_classes=2, class_id=3),
     ValueError, "class_id"),
    ("metric 0/255 target", lambda t: metric(metrics.IoU, MASK * 255), ValueError, "0/255"),
    ("metric given logits", lambda t: metric(metrics.PixelError, y_pred=PROBS * 9),
     ValueError, "from_logits"),
    ("metric threshold 1.5", lambda t: metrics.Dice(threshold=1.5), ValueError, "threshold"),
    ("wce class_weights of the wrong length",
     lambda t: losses.WeightedCrossEntropy(class_weights=(1, 2, 3))(MASK, PROBS),
     ValueError, "class_weights"),
    # data loaders
    ("isbi folder missing", lambda t: load_isbi2012(t / "nowhere"), FileNotFoundError,
     "no ISBI 2012 data"),
    ("isbi slice out of range", lambda t: load_isbi2012(t / "isbi", slices=[99]),
     ValueError, "slice 99"),
    ("isbi unknown split", lambda t: load_isbi2012(t / "isbi", split="val"), ValueError,
     "split"),
    ("isbi negative context", lambda t: load_isbi2012(t / "isbi", context=-1), ValueError,
     "context"),
    ("ctc folder missing", lambda t: load_ctc(t / "nowhere"), FileNotFoundError, "nowhere"),
    ("folder images missing", lambda t: load_folder(t / "nowhere", t / "folder" / "masks"),
     FileNotFoundError, "nowhere"),
    ("folder without pairs", lambda t: load_folder(t / "folder" / "images", t / "isbi"),
     FileNotFoundError, "no mask"),
    ("folder with a corrupt image",
     lambda t: load_folder(t / "corrupt" / "images", t / "corrupt" / "masks"), ValueError,
     "a.png is not a readable image"),
    ("corrupt TIFF stack", lambda t: zoo.data.io.read_stack(t / "corrupt" / "s.tif"),
     ValueError, "s.tif is not a readable image"),
    ("synthetic n 0", lambda t: synthetic_cells(0), ValueError, "n"),
    ("context of one image", lambda t: with_context(IMAGE[..., 0], 1), ValueError, "stack"),
    ("context -1", lambda t: with_context(np.zeros((3, 8, 8)), -1), ValueError, "context"),
    # datasets
    ("dataset uint16 image", lambda t: dataset([(IMAGE * 4000).astype("uint16")]),
     ValueError, "65535"),
    ("dataset 0..255 float image", lambda t: dataset([IMAGE * 255]), ValueError,
     "divide by 255"),
    ("dataset NaN image", lambda t: dataset([NAN_IMAGE]), ValueError, "1 NaN"),
    ("dataset 0/255 targets", lambda t: dataset(targets=[TARGET * 255]), ValueError,
     "0/255"),
    ("dataset class ids above num_classes",
     lambda t: dataset(targets=[TARGET * 3], num_classes=3), ValueError, "class ids 0..2"),
    ("dataset negative weights", lambda t: dataset(weights=[-np.ones((32, 32))]),
     ValueError, ">= 0"),
    ("dataset NaN weights", lambda t: dataset(weights=[np.full((32, 32), np.nan)]),
     ValueError, "NaN"),
    ("dataset image and target sizes differ", lambda t: dataset(targets=[TARGET[:16]]),
     ValueError, "differ"),
    ("dataset patch larger than the image", lambda t: dataset(patch_size=64), ValueError,
     "patch_size"),
    ("dataset batch_size 0", lambda t: dataset(batch_size=0), ValueError, "batch_size"),
    ("dataset steps 0", lambda t: dataset(steps=0), ValueError, "steps"),
    ("dataset unknown mode", lambda t: dataset(mode="tiles"), ValueError, "mode"),
    ("dataset 2-d images", lambda t: dataset([IMAGE[..., 0]]), ValueError, "[..., None]"),
    ("dataset counts differ", lambda t: dataset(targets=[TARGET, TARGET]), ValueError,
     "same number"),
    ("dataset negative margin", lambda t: dataset(margin=-2), ValueError, "margin"),
    # augmentation
    ("elastic grid 1", lambda t: CoarseGridElastic(grid=1), ValueError, "grid"),
    ("elastic negative sigma", lambda t: CoarseGridElastic(sigma=-1), ValueError, "sigma"),
    # weight maps
    ("weight map of a 2-channel mask", lambda t: unet_weight_map(np.zeros((2, 8, 8, 2))),
     ValueError, "trailing channel of 1"),
    ("weight map negative labels", lambda t: unet_weight_map(-LABELS), ValueError, ">= 0"),
    ("weight map fractional labels", lambda t: unet_weight_map(LABELS * 0.5), ValueError,
     "integer labels"),
    ("weight map sigma 0", lambda t: unet_weight_map(LABELS, sigma=0), ValueError, "sigma"),
    ("weight map class_weights unknown",
     lambda t: unet_weight_map(LABELS, class_weights="even"), ValueError, "balanced"),
    ("weight map NaN labels", lambda t: unet_weight_map(np.full((8, 8), np.nan)),
     ValueError, "NaN"),
    # inference
    ("tiled 0..255 image", lambda t: tiled(IMAGE * 255), ValueError, "divide by 255"),
    ("tiled RGB image on a gray model", lambda t: tiled(RNG.random((32, 32, 3))),
     ValueError, "convert to gray"),
    ("tiled NaN image", lambda t: tiled(NAN_IMAGE), ValueError, "1 NaN"),
    ("tiled uint16 image", lambda t: tiled(np.zeros((32, 32), "uint16")), ValueError,
     "uint16"),
    ("tiled int64 image", lambda t: tiled(np.zeros((32, 32), "int64")), ValueError,
     "int64"),
    ("tiled unknown tta", lambda t: tiled(IMAGE, tta="rot"), ValueError, "tta"),
    ("tiled unknown blend", lambda t: tiled(IMAGE, blend="max"), ValueError, "blend"),
    ("tiled overlap above the tile", lambda t: tiled(IMAGE, overlap=40), ValueError,
     "overlap"),
    ("tiled tile not a multiple", lambda t: tiled(IMAGE, tile_size=30), ValueError,
     "30x30 tiles.*divisible by 2\\*\\*depth"),
    ("tiled batch_size 0", lambda t: tiled(IMAGE, batch_size=0), ValueError, "batch_size"),
    ("tiled context on one image", lambda t: tiled(IMAGE[..., 0], context=1), ValueError,
     "stack"),
    ("tiled 1-d image", lambda t: tiled(np.zeros(32)), ValueError, "does not fit"),
    ("tiled string image", lambda t: tiled(np.array([["a"]])), TypeError, "numeric"),
    # evaluation and post-processing
    ("iou_score 0/255 truth", lambda t: iou_score(TARGET * 255, TARGET), ValueError, "0/255"),
    ("iou_score sizes differ", lambda t: iou_score(TARGET, TARGET[:16]), ValueError,
     "same shape"),
    ("iou_score NaN prediction", lambda t: iou_score(TARGET, np.full((32, 32), np.nan)),
     ValueError, "NaN"),
    ("dice_score threshold 1.5", lambda t: dice_score(TARGET, TARGET, threshold=1.5),
     ValueError, "threshold"),
    ("isbi_scores 0..255 map", lambda t: isbi_scores(LABELS, np.full((32, 32), 200.0)),
     ValueError, "probabilities in \\[0, 1\\]"),
    ("isbi_scores NaN map", lambda t: isbi_scores(LABELS, np.full((32, 32), np.nan)),
     ValueError, "NaN"),
    ("isbi_scores 2-channel labels", lambda t: isbi_scores(np.zeros((2, 8, 8, 2)),
                                                           np.zeros((2, 8, 8, 2))),
     ValueError, "trailing channel of 1"),
    ("class_scores ids above K",
     lambda t: class_scores(np.full((4, 4), 7), np.ones((4, 4, 3)) / 3), ValueError,
     "class ids"),
    ("info_scores sizes differ", lambda t: info_scores(LABELS, LABELS[:16]), ValueError,
     "shape"),
    ("watershed map above 1", lambda t: watershed_boundaries(np.full((8, 8), 3.0)),
     ValueError, "\\[0, 1\\]"),
    ("watershed seed_threshold 2",
     lambda t: watershed_boundaries(PROBS[0, ..., 0], seed_threshold=2), ValueError,
     "seed_threshold"),
    # Kaggle run-length encoding
    ("rle of a 0/255 mask", lambda t: rle_encode(TARGET * 255), ValueError, "0/255"),
    ("rle unknown order", lambda t: rle_encode(TARGET, order="diagonal"), ValueError,
     "order"),
    ("rle odd number of values", lambda t: rle_decode("1 2 3", (4, 4)), ValueError, "pairs"),
    ("rle run beyond the image", lambda t: rle_decode("10 20", (4, 4)), ValueError, "16"),
    # training
    ("train steps 0", lambda t: train(t, steps=0), ValueError, "steps"),
    ("train keep unknown", lambda t: train(t, keep="first"), ValueError, "keep"),
]


def _isbi_and_folder(root):
    isbi_png_layout(root / "isbi", n=3, size=32)
    for sub in ("images", "masks"):
        (root / "folder" / sub).mkdir(parents=True)
    Image.fromarray((IMAGE[..., 0] * 255).astype("uint8")).save(root / "folder/images/a.png")
    Image.fromarray(TARGET * 255).save(root / "folder/masks/b.png")
    for sub in ("images", "masks"):
        (root / "corrupt" / sub).mkdir(parents=True)
        (root / "corrupt" / sub / "a.png").write_bytes(b"\x89PNG not really")
    (root / "corrupt" / "s.tif").write_bytes(b"II*\x00 broken")


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("user")
    _isbi_and_folder(root)
    return root


def tree(folder):
    return {p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest()
                                               if p.is_file() else "folder")
            for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("call,error,words", [case[1:] for case in API],
                         ids=[case[0] for case in API])
def test_bad_input_raises_and_names_it(call, error, words, user_files):
    before = tree(user_files)
    with pytest.raises(error, match=words):
        call(user_files)
    assert tree(user_files) == before


def test_the_matrix_has_at_least_100_cases():
    assert len(API) + len(CLI) >= 100


# (id, argv with {root} for the user's folder, words in the one-line error)
SPLIT = ["--train-slices", "0-1", "--val-slices", "2", "--patch", "16"]
CLI = [
    ("train data missing", ["train", "--data", "{root}/nowhere", "--out", "{root}/run"],
     "nowhere"),
    ("train steps 0", ["train", "--data", "{root}/isbi", "--out", "{root}/run", "--steps",
                       "0"], "positive integer"),
    ("train unknown model", ["train", "--data", "{root}/isbi", "--out", "{root}/run",
                             *SPLIT, "--model", "unett"], "unet"),
    ("train unknown loss term", ["train", "--data", "{root}/isbi", "--out", "{root}/run",
                                 *SPLIT, "--loss", "dice+blurp"], "blurp"),
    ("train patch above the images", ["train", "--data", "{root}/isbi", "--out",
                                      "{root}/run", *SPLIT, "--patch", "64"], "patch"),
    ("predict model missing", ["predict", "{root}/none.keras", "{root}/isbi/images",
                               "--out", "{root}/pred"], "none.keras"),
    ("export model missing", ["export", "{root}/none.keras", "--format", "onnx", "--out",
                               "{root}/m.onnx"],
     "none.keras"),
    ("evaluate predictions missing",
     ["evaluate", "{root}/nowhere", "{root}/isbi/labels"], "nowhere"),
]


@pytest.mark.parametrize("argv,words", [case[1:] for case in CLI],
                         ids=[case[0] for case in CLI])
def test_bad_command_line_exits_2_naming_it(argv, words, user_files, capsys):
    before = tree(user_files)
    assert main([a.format(root=user_files) for a in argv]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and re.search(words, error), error
    assert tree(user_files) == before
