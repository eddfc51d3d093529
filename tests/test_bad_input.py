"""The bad-input matrix: every public path given a malformed input raises the named
exception with words that say what was wrong (the project's principle 4). Calls that
involve files get a folder of the user's files and must leave it untouched: same files,
same bytes, nothing new (no output folder left behind)."""

import hashlib
import re
import zipfile

import numpy as np
import pytest
import tifffile
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
from zoo.data.io import page_count, read_image, read_images, read_masks, read_pages
from zoo.evaluation import class_scores, dice_score, info_scores, iou_score, isbi_scores
from zoo.kaggle import rle_decode, rle_encode
from zoo.postprocess import watershed_boundaries
from zoo.saving import load_model
from zoo.training import resolve

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


ONE_HOT = np.eye(3, dtype="float32")[RNG.integers(0, 3, (1, 32, 32))]
LOSSES = {"dice": losses.DiceLoss, "iou": losses.IoULoss, "focal": losses.FocalLoss,
          "tversky": losses.TverskyLoss, "wce": losses.WeightedCrossEntropy,
          "cldice": losses.ClDiceLoss, "hybrid": losses.HybridLoss}


def _supervised(name="unet_plus_plus"):
    if name not in _CACHE:
        _CACHE[name] = zoo.build(name, input_shape=(32, 32, 1), depth=2,
                                 deep_supervision=True, encoder_options={"filters": 2})
    return _CACHE[name]


def settings(**given):
    return resolve({"data": "somewhere", **given})


def _shape_cases():
    """Every loss given a prediction without its channel axis, and a 1-channel prediction
    for a 3-channel one-hot target."""
    cases = []
    for name, loss in LOSSES.items():
        cases += [
            (f"{name} (B, H, W) prediction", lambda t, loss=loss: loss()(MASK[..., 0],
                                                                        PROBS[..., 0]),
             ValueError, r"y_pred \(1, 32, 32\) must be \(B, H, W, C\)"),
            (f"{name} 1-channel prediction for a 3-channel one-hot target",
             lambda t, loss=loss: loss()(ONE_HOT, PROBS), ValueError,
             "has 3 channels \\(one-hot\\) but y_pred .* has 1"),
        ]
    return cases


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
    # files: one reader, every format refused by name
    ("image signed int16", lambda t: read_images(t / "files" / "signed.tif"), ValueError,
     "signed.tif holds signed int16 pixels"),
    ("image float beyond 0..255", lambda t: read_images(t / "files" / "float300.tif"),
     ValueError, "float300.tif holds float pixels in \\[0, 300\\]"),
    ("image fractional float 0..200", lambda t: read_images(t / "files" / "float200.tif"),
     ValueError, "float200.tif holds float pixels.*rescale"),
    ("image NaN", lambda t: read_images(t / "files" / "nan.tif"), ValueError,
     "nan.tif holds 1 NaN"),
    ("image truncated GIF", lambda t: read_images(t / "files" / "trunc.gif"), ValueError,
     "trunc.gif is not a readable image"),
    ("image empty file", lambda t: read_images(t / "files" / "empty.png"), ValueError,
     "empty.png is not a readable image"),
    ("image text named .png", lambda t: read_images(t / "files" / "text.png"), ValueError,
     "text.png is not a readable image"),
    ("image corrupt JPEG", lambda t: read_images(t / "files" / "corrupt.jpg"), ValueError,
     "corrupt.jpg is not a readable image"),
    ("image corrupt BMP", lambda t: read_images(t / "files" / "corrupt.bmp"), ValueError,
     "corrupt.bmp is not a readable image"),
    ("image missing", lambda t: read_images(t / "files" / "none.png"), FileNotFoundError,
     "none.png"),
    ("image where one page is expected", lambda t: read_image(t / "files" / "stack2.tif"),
     ValueError, "stack2.tif holds 2 pages"),
    ("pages of an unknown palette mode",
     lambda t: read_pages(t / "files" / "colour.png", palette="rgb"), ValueError, "palette"),
    ("page count of a corrupt TIFF", lambda t: page_count(t / "corrupt" / "s.tif"),
     ValueError, "s.tif is not a readable image"),
    ("mask JPEG as a class map",
     lambda t: read_masks(t / "files" / "mask.jpg", binary=False), ValueError,
     "mask.jpg: JPEG compression changes class ids"),
    ("mask colours without a table",
     lambda t: read_masks(t / "files" / "colour.png", binary=False), ValueError,
     "colour.png is a colour mask with 3 colours: pass colors="),
    ("mask colour not in the table",
     lambda t: read_masks(t / "files" / "colour.png", binary=False,
                          colors={(0, 0, 0): 0, (255, 0, 0): 1}), ValueError,
     "colour.png uses colours not in colors"),
    ("mask class ids above 255",
     lambda t: read_masks(t / "files" / "class300.tif", binary=False), ValueError,
     "class300.tif holds values outside the class ids 0..255"),
    ("mask NaN", lambda t: read_masks(t / "files" / "nan.tif"), ValueError,
     "nan.tif holds NaN"),
    ("mask missing", lambda t: read_masks(t / "files" / "none.png"), FileNotFoundError,
     "none.png"),
    ("folder sizes differ", lambda t: load_folder(*_pair_dirs(t, "sizes")), ValueError,
     "a.png is \\(16, 16\\), its image a.png is \\(32, 32\\)"),
    ("folder pages differ", lambda t: load_folder(*_pair_dirs(t, "pages")), ValueError,
     "a.tif has 2 pages but its mask a.tif has 3"),
    ("folder two images with one id", lambda t: load_folder(*_pair_dirs(t, "dup"), key="id"),
     ValueError, "two images have the key 'a'"),
    ("folder images and masks together without a suffix",
     lambda t: load_folder(t / "together", t / "together"), ValueError,
     "mask_suffix='_mask'"),
    ("folder JPEG class maps",
     lambda t: load_folder(*_pair_dirs(t, "jpeg"), binary=False), ValueError,
     "JPEG compression changes class ids"),
    ("folder colour masks without a table",
     lambda t: load_folder(*_pair_dirs(t, "colour"), binary=False), ValueError,
     "colour mask with 3 colours"),
    ("folder invalid key regex", lambda t: load_folder(*_pair_dirs(t, "sizes"), key="(["),
     ValueError, "not a valid regex"),
    ("folder key regex that does not match",
     lambda t: load_folder(*_pair_dirs(t, "sizes"), key=r"\d+"), ValueError,
     "does not match the file name 'a'"),
    ("folder masks missing",
     lambda t: load_folder(t / "pairs" / "sizes" / "images", t / "nowhere"),
     FileNotFoundError, "nowhere"),
    # model files
    ("load a missing model", lambda t: load_model(t / "models" / "none.keras"),
     FileNotFoundError, "none.keras"),
    ("load an .h5 file", lambda t: load_model(t / "models" / "old.h5"), ValueError,
     "old.h5 is not a .keras file"),
    ("load a zip without config.json", lambda t: load_model(t / "models" / "nocfg.keras"),
     ValueError, "nocfg.keras is a zip file without config.json"),
    ("load a truncated model", lambda t: load_model(t / "models" / "trunc.keras"),
     ValueError, "trunc.keras is not a Keras archive"),
    ("load a text file", lambda t: load_model(t / "models" / "text.keras"), ValueError,
     "text.keras is not a Keras archive"),
    # shapes of losses and metrics
    *_shape_cases(),
    ("IoU(3) on a 1-channel map", lambda t: metric(metrics.IoU, num_classes=3), ValueError,
     "num_classes=3 scores 3-channel predictions.*has 1 channel"),
    ("Dice(3) on a 1-channel map", lambda t: metric(metrics.Dice, num_classes=3),
     ValueError, "num_classes=3 scores 3-channel"),
    ("PixelError(3) on a 1-channel map", lambda t: metric(metrics.PixelError, num_classes=3),
     ValueError, "num_classes=3 scores 3-channel"),
    ("IoU(1) on a 3-channel map",
     lambda t: metric(metrics.IoU, MASK, np.full((1, 32, 32, 3), 1 / 3, "float32")),
     ValueError, "num_classes=1 scores 1-channel predictions"),
    ("IoU on a (B, H, W) map", lambda t: metric(metrics.IoU, MASK[..., 0], PROBS[..., 0]),
     ValueError, "must be \\(B, H, W, C\\)"),
    ("PixelError num_classes 0", lambda t: metrics.PixelError(num_classes=0), ValueError,
     "num_classes must be a positive integer"),
    ("PixelError num_classes -1", lambda t: metrics.PixelError(num_classes=-1), ValueError,
     "num_classes"),
    ("PixelError num_classes 2.5", lambda t: metrics.PixelError(num_classes=2.5), TypeError,
     "num_classes"),
    ("PixelError threshold 0", lambda t: metrics.PixelError(threshold=0), ValueError,
     "threshold"),
    ("Dice num_classes 0", lambda t: metrics.Dice(num_classes=0), ValueError,
     "num_classes"),
    ("deep supervision unknown output name",
     lambda t: losses.deep_supervision(_supervised(), losses.DiceLoss(), {"head_l9": 1.0}),
     ValueError, "weights name \\['head_l9'\\].*its outputs: \\['head_l1', 'head_l2'\\]"),
    ("deep supervision U-Net 3+ unknown output name",
     lambda t: losses.deep_supervision(_supervised("unet_3plus"), losses.DiceLoss(),
                                       {"mask": 1.0}), ValueError, "weights name \\['mask'\\]"),
    ("deep supervision weights of the wrong length",
     lambda t: losses.deep_supervision(_supervised(), losses.DiceLoss(), [1.0]), ValueError,
     "1 weights for the 2 segmentation outputs"),
    ("prune to a level the model lacks", lambda t: zoo.prune(_supervised(), 5), ValueError,
     "its levels are 1, 2"),
    # options
    ("encoder option filters 'abc'",
     lambda t: zoo.unet((32, 32, 1), encoder_options={"filters": "abc"}), ValueError,
     "filters='abc': encoder 'plain' takes an integer"),
    ("encoder option filters 2.5",
     lambda t: zoo.unet((32, 32, 1), encoder_options={"filters": 2.5}), ValueError,
     "takes an integer"),
    ("encoder option batch_norm 'yes'",
     lambda t: zoo.unet((32, 32, 1), encoder_options={"batch_norm": "yes"}), ValueError,
     "batch_norm='yes'.*True or False"),
    ("encoder option unknown to the encoder",
     lambda t: zoo.unet((32, 32, 1), encoder="resnet18", encoder_options={"filters": 8}),
     TypeError, "got unexpected option"),
    ("settings: unknown model option", lambda t: settings(model_options={"foo": 1}),
     ValueError, "--model-option foo: model 'unet' takes no option"),
    ("settings: model option set by its own flag",
     lambda t: settings(model_options={"encoder": "resnet18"}), ValueError,
     "set encoder with its own flag \\(--encoder\\)"),
    ("settings: model option of the wrong type",
     lambda t: settings(model_options={"dropout": "high"}), ValueError,
     "dropout='high': model 'unet' takes a number"),
    ("settings: deep supervision on U-Net", lambda t: settings(deep_supervision=True),
     ValueError, "model 'unet' has no deep-supervision outputs; models with them"),
    ("settings: deep supervision on FCN",
     lambda t: settings(deep_supervision=True, model="fcn", encoder="vgg16"), ValueError,
     "model 'fcn' has no deep-supervision outputs"),
    ("settings: deep supervision on DeepLabV3+",
     lambda t: settings(deep_supervision=True, model="deeplabv3_plus", encoder="resnet18"),
     ValueError, "model 'deeplabv3_plus' has no deep-supervision"),
    ("settings: encoder option of the wrong type",
     lambda t: settings(encoder_options={"filters": "abc"}), ValueError,
     "--encoder-option filters='abc'"),
    ("settings: encoder option unknown to the encoder",
     lambda t: settings(encoder="resnet18", encoder_options={"filters": 8}), ValueError,
     "--encoder-option filters: encoder 'resnet18' takes no option"),
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
    _bad_files(root / "files")
    _bad_pairs(root / "pairs")
    _models(root / "models")
    _maps(root)
    together = root / "together"
    together.mkdir()
    Image.fromarray(GRAY8).save(together / "x.png")
    Image.fromarray(TARGET * 255).save(together / "x_mask.png")


GRAY8 = (IMAGE[..., 0] * 255).astype("uint8")


def _bad_files(files):
    files.mkdir()
    tifffile.imwrite(files / "signed.tif", GRAY8.astype("int16") - 100)
    tifffile.imwrite(files / "float300.tif", np.linspace(0, 300, 32 * 32, dtype="float32")
                     .reshape(32, 32))
    tifffile.imwrite(files / "float200.tif", IMAGE[..., 0] * 200)
    nan = IMAGE[..., 0].copy()
    nan[0, 0] = np.nan
    tifffile.imwrite(files / "nan.tif", nan)
    Image.fromarray(GRAY8).save(files / "good.gif")
    (files / "trunc.gif").write_bytes((files / "good.gif").read_bytes()[:40])
    (files / "empty.png").write_bytes(b"")
    (files / "text.png").write_text("not an image")
    (files / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    (files / "corrupt.bmp").write_bytes(b"BM broken")
    tifffile.imwrite(files / "stack2.tif", np.stack([GRAY8, GRAY8]), photometric="minisblack")
    Image.fromarray(TARGET * 255).save(files / "mask.jpg")
    colour = np.zeros((32, 32, 3), "uint8")
    colour[:8, :8] = (255, 0, 0)
    colour[8:16, :8] = (0, 0, 128)
    Image.fromarray(colour).save(files / "colour.png")
    tifffile.imwrite(files / "class300.tif", TARGET.astype("uint16") * 300)


def _bad_pairs(pairs):
    def pair(name, image_file, mask_file, write_image, write_mask):
        (pairs / name / "images").mkdir(parents=True)
        (pairs / name / "masks").mkdir()
        write_image(pairs / name / "images" / image_file)
        write_mask(pairs / name / "masks" / mask_file)

    def gray_png(path, side=32):
        Image.fromarray(GRAY8[:side, :side]).save(path)

    pair("sizes", "a.png", "a.png", gray_png, lambda p: gray_png(p, 16))
    pair("pages", "a.tif", "a.tif",
         lambda p: tifffile.imwrite(p, np.stack([GRAY8] * 2), photometric="minisblack"),
         lambda p: tifffile.imwrite(p, np.stack([GRAY8] * 3), photometric="minisblack"))
    pair("dup", "a_1.png", "a.png", gray_png, gray_png)
    gray_png(pairs / "dup" / "images" / "a_2.png")
    pair("jpeg", "a.png", "a.jpg", gray_png,
         lambda p: Image.fromarray(TARGET * 255).save(p))
    pair("colour", "a.png", "a.png", gray_png,
         lambda p: p.write_bytes((pairs.parent / "files" / "colour.png").read_bytes()))


def _maps(root):
    """Probability maps paired with isbi/labels (00..02): good, beyond [0, 1], 3 classes;
    and labels of another size."""
    for folder in ("maps", "badmaps", "classmaps", "small"):
        (root / folder).mkdir()
    for name in ("00", "01", "02"):
        Image.fromarray(np.full((32, 32), 30000, "uint16")).save(root / "maps" / f"{name}_prob.png")
        tifffile.imwrite(root / "badmaps" / f"{name}_prob.tif", np.full((32, 32), 2.0, "float32"))
        tifffile.imwrite(root / "classmaps" / f"{name}_prob.tif",
                         np.full((32, 32, 3), 1 / 3, "float32"))
        Image.fromarray(np.zeros((16, 16), "uint8")).save(root / "small" / f"{name}.png")


def _pair_dirs(root, name):
    return root / "pairs" / name / "images", root / "pairs" / name / "masks"


def _models(models):
    models.mkdir()
    zoo.unet((None, None, 1), 1, depth=2, encoder_options={"filters": 2}).save(
        models / "gray.keras")
    zoo.unet((None, None, 1), 3, depth=2, encoder_options={"filters": 2}).save(
        models / "classes.keras")
    with zipfile.ZipFile(models / "nocfg.keras", "w") as archive:
        archive.writestr("notes.txt", "a zip, not a model")
    whole = (models / "gray.keras").read_bytes()
    (models / "trunc.keras").write_bytes(whole[:len(whole) // 2])
    (models / "text.keras").write_text("not a model")
    (models / "old.h5").write_bytes(b"\x89HDF\r\n\x1a\n")


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


def test_the_matrix_has_at_least_250_cases():
    assert len(API) + len(CLI) >= 250


# (name, argv after the shared part, words); {root}: the user's folder
TRAIN_CASES = [
    ("unknown model option", ["--model-option", "foo=1"],
     "--model-option foo: model 'unet' takes no option"),
    ("unknown U-Net++ option", ["--model", "unet_plus_plus", "--model-option", "foo=1"],
     "model 'unet_plus_plus' takes no option"),
    ("unknown FCN option", ["--model", "fcn", "--encoder", "vgg16", "--model-option",
                            "foo=1"], "model 'fcn' takes no option"),
    ("model option without a value", ["--model-option", "depth"], "expected KEY=VALUE"),
    ("model option set by its own flag", ["--model-option", "encoder=resnet18"],
     "its own flag \\(--encoder\\)"),
    ("model option of the wrong type", ["--model-option", "padding=3"],
     "padding=3: model 'unet' takes a string"),
    ("deep supervision on U-Net", ["--deep-supervision"],
     "--deep-supervision: model 'unet' has no deep-supervision outputs"),
    ("deep supervision on FCN", ["--model", "fcn", "--encoder", "vgg16",
                                 "--deep-supervision"], "model 'fcn' has no deep-supervision"),
    ("deep supervision on DeepLabV3+", ["--model", "deeplabv3_plus", "--encoder", "resnet18",
                                        "--deep-supervision"], "has no deep-supervision"),
    ("encoder option filters=abc", ["--encoder-option", "filters=abc"],
     "--encoder-option filters='abc': encoder 'plain' takes an integer"),
    ("encoder option batch_norm=3", ["--encoder-option", "batch_norm=3"],
     "batch_norm=3: encoder 'plain' takes True or False"),
    ("--filters abc", ["--filters", "abc"], "argument --filters: invalid int value"),
    ("encoder option unknown to ResNet", ["--encoder", "resnet18", "--encoder-option",
                                          "width=3"], "encoder 'resnet18' takes no option"),
    ("train slices backwards", ["--train-slices", "5-2"], "FIRST <= LAST"),
    ("train slices not numbers", ["--train-slices", "a-b"], "slices 'a-b'"),
    ("validation slices beyond the data", ["--val-slices", "9"], "slice 9 requested"),
    ("unknown layout", ["--layout", "voc"], "invalid choice: 'voc'"),
    ("coco layout without a file", ["--layout", "coco"], "the coco layout needs --coco FILE"),
    ("unknown model", ["--model", "segformer"], "segformer"),
    ("unknown optimizer", ["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
    ("unknown precision", ["--precision", "float8"], "invalid choice: 'float8'"),
    ("unknown keep", ["--keep", "first"], "invalid choice: 'first'"),
    ("lr not a number", ["--lr", "fast"], "invalid float value: 'fast'"),
    ("lr 0", ["--lr", "0"], "lr must be > 0"),
    ("batch size 0", ["--batch-size", "0"], "batch-size must be a positive integer"),
    ("accumulate 0", ["--accumulate", "0"], "accumulate must be a positive integer"),
    ("one fold", ["--folds", "1"], "folds must be 0 \\(off\\) or at least 2"),
    ("a fold without folds", ["--fold", "2"], "--fold picks one of --folds K"),
    ("a fold beyond the folds", ["--folds", "3", "--fold", "5"], "the folds are 0..2"),
    ("folds on the isbi layout", ["--folds", "3"], "folds 3: k-fold splits the annotated "
     "images, but the isbi layout splits by --train-slices"),
    ("num classes 0", ["--num-classes", "0"], "num-classes must be a positive integer"),
    ("ema 1", ["--ema", "1"], "ema is a momentum in \\[0, 1\\)"),
    ("val fraction 0", ["--val-fraction", "0"], "val-fraction must be between 0 and 1"),
    ("context -1", ["--context", "-1"], "context must be >= 0"),
    ("val overlap above the tile", ["--val-overlap", "999"], "val-overlap must be in"),
    ("rotate -5", ["--rotate", "-5"], "rotate must be >= 0"),
    ("unknown preset", ["--preset", "isbi2012/fastest"], "isbi2012/fastest"),
    ("resume with a preset", ["--resume", "--preset", "isbi2012/quick"],
     "--resume continues with the run's own config.toml"),
    ("more classes than the isbi layout holds", ["--num-classes", "4"],
     "the isbi layout has one foreground class"),
    ("context on a folder layout", ["--layout", "folder", "--context", "1"], "context"),
    ("postprocess on a folder", ["--data", "{root}/pairs/sizes", "--postprocess",
                                 "watershed"], "postprocess watershed closes membrane maps"),
    ("images and masks together without a suffix",
     ["--data", "{root}/together", "--images", ".", "--masks", "."],
     "--mask-suffix _mask"),
    ("JPEG class maps", ["--data", "{root}/pairs/jpeg", "--num-classes", "3"],
     "JPEG compression changes class ids"),
    ("a data file, not a folder", ["--data", "{root}/files/good.gif"], "good.gif"),
]
PREDICT_CASES = [
    ("a zip without config.json", ["{root}/models/nocfg.keras", "{root}/isbi/test"],
     "nocfg.keras is a zip file without config.json"),
    ("a truncated model", ["{root}/models/trunc.keras", "{root}/isbi/test"],
     "trunc.keras is not a Keras archive"),
    ("a text file named .keras", ["{root}/models/text.keras", "{root}/isbi/test"],
     "text.keras is not a Keras archive"),
    ("an .h5 model", ["{root}/models/old.h5", "{root}/isbi/test"], "old.h5 is not a .keras"),
    ("input missing", ["{root}/models/gray.keras", "{root}/none.png"], "input not found"),
    ("a folder without images", ["{root}/models/gray.keras", "{root}/models"],
     "no images in"),
    ("input not an image", ["{root}/models/gray.keras", "{root}/models/old.h5"],
     "old.h5 is not an image"),
    ("RGB image for a gray model", ["{root}/models/gray.keras", "{root}/files/colour.png"],
     "colour.png has 3 channel"),
    ("float image beyond 0..255", ["{root}/models/gray.keras", "{root}/files/float300.tif"],
     "float300.tif holds float pixels"),
    ("signed image", ["{root}/models/gray.keras", "{root}/files/signed.tif"],
     "signed.tif holds signed int16"),
    ("NaN image", ["{root}/models/gray.keras", "{root}/files/nan.tif"], "nan.tif holds 1 NaN"),
    ("truncated GIF", ["{root}/models/gray.keras", "{root}/files/trunc.gif"],
     "trunc.gif is not a readable image"),
    ("a corrupt image in the folder", ["{root}/models/gray.keras", "{root}/corrupt/images"],
     "a.png is not a readable image"),
    ("threshold 0", ["{root}/models/gray.keras", "{root}/isbi/test", "--threshold", "0"],
     "--threshold must be between 0 and 1"),
    ("threshold 1.5", ["{root}/models/gray.keras", "{root}/isbi/test", "--threshold", "1.5"],
     "--threshold must be between 0 and 1"),
    ("unknown TTA", ["{root}/models/gray.keras", "{root}/isbi/test", "--tta", "rot90"],
     "invalid choice: 'rot90'"),
    ("unknown format", ["{root}/models/gray.keras", "{root}/isbi/test", "--format", "jpg"],
     "invalid choice: 'jpg'"),
    ("tile not a multiple of the stride",
     ["{root}/models/gray.keras", "{root}/isbi/test", "--tile-size", "30"], "30x30 tiles"),
    ("overlap above the tile", ["{root}/models/gray.keras", "{root}/isbi/test",
                                "--tile-size", "32", "--overlap", "40"], "overlap"),
    ("rle into a missing folder", ["{root}/models/gray.keras", "{root}/isbi/test", "--rle",
                                   "{root}/nowhere/s.csv"], "folder .*nowhere does not exist"),
    ("rle onto a folder", ["{root}/models/gray.keras", "{root}/isbi/test", "--rle",
                           "{root}/isbi"], "is a folder; give a CSV file name"),
    ("rle over an existing file", ["{root}/models/gray.keras", "{root}/isbi/test", "--rle",
                                   "{root}/files/text.png"], "text.png exists"),
    ("class ids of a binary model", ["{root}/models/gray.keras", "{root}/isbi/test",
                                     "--class-ids", "{root}/s.csv"],
     "--class-ids writes class maps; gray.keras predicts one foreground class"),
    ("class ids size alone", ["{root}/models/classes.keras", "{root}/isbi/test",
                              "--class-ids-size", "64"], "goes with --class-ids"),
    ("class ids size not HxW", ["{root}/models/classes.keras", "{root}/isbi/test",
                                "--class-ids", "{root}/s.csv", "--class-ids-size", "64y"],
     "H x W in pixels"),
    ("watershed of a multi-class model", ["{root}/models/classes.keras", "{root}/isbi/test",
                                          "--watershed"], "drop --watershed"),
    ("ensemble weights not numbers", ["{root}/models/gray.keras", "{root}/models/gray.keras",
                                      "{root}/isbi/test", "--ensemble-weights", "a,b"],
     "--ensemble-weights takes numbers"),
    ("ensemble weights miscounted", ["{root}/models/gray.keras", "{root}/models/gray.keras",
                                     "{root}/isbi/test", "--ensemble-weights", "1"],
     "gives 1 weight\\(s\\) for 2 model file"),
    ("ensemble weights negative", ["{root}/models/gray.keras", "{root}/models/gray.keras",
                                   "{root}/isbi/test", "--ensemble-weights", "1,-1"],
     "must be non-negative"),
    ("ensemble of other class counts", ["{root}/models/gray.keras",
                                        "{root}/models/classes.keras", "{root}/isbi/test"],
     "same channels and predict the same classes"),
    ("a folder without a model", ["{root}/isbi", "{root}/isbi/test", "{root}/isbi/test"],
     "holding neither model.keras"),
]
EVALUATE_CASES = [
    ("labels missing", ["{root}/isbi/images", "{root}/nowhere"], "nowhere"),
    ("a model without --images", ["{root}/models/gray.keras", "{root}/isbi/labels"],
     "a model needs --images DIR"),
    ("--images with a folder of maps", ["{root}/isbi/images", "{root}/isbi/labels",
                                        "--images", "{root}/isbi/images"],
     "--images goes with a model"),
    ("a truncated model", ["{root}/models/trunc.keras", "{root}/isbi/labels", "--images",
                           "{root}/isbi/images"], "trunc.keras is not a Keras archive"),
    ("a multi-class model", ["{root}/models/classes.keras", "{root}/isbi/labels",
                             "--images", "{root}/isbi/images"],
     "the labels of 00 \\(a class map; --ignore-index for unlabelled pixels\\) must hold "
     "integer class ids 0..2 for 3 classes; found 0, 255"),
    ("threshold 2", ["{root}/maps", "{root}/isbi/labels", "--threshold", "2"],
     "--threshold must be between 0 and 1"),
    ("json over an existing file", ["{root}/maps", "{root}/isbi/labels", "--json",
                                    "{root}/files/text.png"], "text.png exists"),
    ("maps without labels", ["{root}/maps", "{root}/together"], "have no mask in"),
    ("maps of another size", ["{root}/maps", "{root}/small"], "is \\(32, 32\\) but its labels"),
    ("maps beyond [0, 1]", ["{root}/badmaps", "{root}/isbi/labels"],
     "00_prob.tif is not a probability map"),
    ("maps of three classes, labels 0/255", ["{root}/classmaps", "{root}/isbi/labels"],
     "the labels of 00 .* found 0, 255"),
    ("a folder without maps", ["{root}/isbi/images", "{root}/isbi/labels"],
     "no probability maps \\(NAME_prob\\)"),
    ("unknown target", ["{root}/maps", "{root}/isbi/labels", "--target", "edges"],
     "invalid choice: 'edges'"),
]
EXPORT_CASES = [
    ("a zip without config.json", ["{root}/models/nocfg.keras", "--format", "keras", "--out",
                                   "{root}/m.keras"], "nocfg.keras is a zip file without"),
    ("a truncated model", ["{root}/models/trunc.keras", "--format", "keras", "--out",
                           "{root}/m.keras"], "trunc.keras is not a Keras archive"),
    ("an .h5 model", ["{root}/models/old.h5", "--format", "keras", "--out", "{root}/m.keras"],
     "old.h5 is not a .keras file"),
    ("over an existing file", ["{root}/models/gray.keras", "--format", "keras", "--out",
                               "{root}/files/text.png"], "text.png exists"),
    ("onto the model itself", ["{root}/models/gray.keras", "--format", "keras", "--out",
                               "{root}/models/gray.keras"], "is the model itself"),
    ("size multiple 0", ["{root}/models/gray.keras", "--format", "keras", "--out",
                         "{root}/m.keras", "--size-multiple", "0"],
     "--size-multiple must be a positive integer"),
    ("unknown format", ["{root}/models/gray.keras", "--format", "tflite"],
     "invalid choice: 'tflite'"),
    ("into a folder that is a file", ["{root}/models/gray.keras", "--format", "keras",
                                      "--out", "{root}/files/text.png/m.keras"], "text.png"),
]


# (id, argv with {root} for the user's folder, words in the one-line error)
SPLIT = ["--train-slices", "0-1", "--val-slices", "2", "--patch", "16"]
def _paths(argv: list[str]) -> int:
    """How many leading arguments are paths (models, then the input)."""
    return next((i for i, a in enumerate(argv) if a.startswith("--")), len(argv))


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
    *[(f"train {name}", ["train", "--data", "{root}/isbi", "--out", "{root}/run", *SPLIT,
                         *argv], words) for name, argv, words in TRAIN_CASES],
    *[(f"predict {name}", ["predict", *argv[:_paths(argv)], "--out", "{root}/pred",
                           *argv[_paths(argv):]], words)
      for name, argv, words in PREDICT_CASES],
    *[(f"evaluate {name}", ["evaluate", *argv], words) for name, argv, words in EVALUATE_CASES],
    *[(f"export {name}", ["export", *argv], words) for name, argv, words in EXPORT_CASES],
    ("plot a missing run", ["plot", "{root}/nowhere", "--out", "{root}/c.png"], "nowhere"),
    ("plot to an unknown picture format", ["plot", "{root}/isbi", "--out", "{root}/c.gif"],
     "--out must end in .png, .svg or .pdf"),
    ("plot over an existing file", ["plot", "{root}/isbi", "--out", "{root}/files/good.gif"],
     "good.gif exists"),
    ("bench --num-classes without --data", ["bench", "--num-classes", "3", "--list"],
     "--num-classes applies to a folder of your own"),
    ("bench data missing", ["bench", "--data", "{root}/nowhere", "--list"], "nowhere"),
    ("bench unknown backend", ["bench", "--backends", "mxnet"], "invalid choice: 'mxnet'"),
    ("bench config missing", ["bench", "--config", "{root}/none.toml", "--list"],
     "none.toml"),
    ("data fetch unknown set", ["data", "fetch", "coco"], "invalid choice: 'coco'"),
    ("unknown command", ["fit"], "invalid choice: 'fit'"),
    ("no command", [], "required: command"),
]


@pytest.mark.parametrize("argv,words", [case[1:] for case in CLI],
                         ids=[case[0] for case in CLI])
def test_bad_command_line_exits_2_naming_it(argv, words, user_files, capsys):
    before = tree(user_files)
    assert main([a.format(root=user_files) for a in argv]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and re.search(words, error), error
    assert tree(user_files) == before
