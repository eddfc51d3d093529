"""``zoo train --data DIR --out RUN``: train any model x encoder x loss on a folder.

Layouts (``--layout``, detected by default):

- ``isbi``: ISBI 2012 (``images/NN.png`` + ``labels/NN.png``, or
  ``train-volume.tif`` + ``train-labels.tif``); the target is the membrane
  map (label 0), slices ``--train-slices`` train and ``--val-slices``
  validate (V_rand, V_info, pixel error, IoU, Dice);
- ``ctc``: a Cell Tracking Challenge 2D set (``01/tNNN.tif`` +
  ``01_GT/SEG/man_segNNN.tif``, ``--sequence``); the target is the cells;
- ``folder``: ``images/`` + ``masks/`` (``--images``, ``--masks``), paired by
  ``zoo.data.load_folder`` (``--key``, ``--mask-suffix``); every non-zero mask
  pixel is foreground, or with ``--num-classes N`` (N >= 2) masks are class
  maps with ids 0..N-1 (grayscale values or palette indices) for a softmax
  model, validated by the mean IoU and Dice over the classes 1..N-1; images
  may differ in size (each at least ``--patch``).

CTC and folder data validate on the last ``--val-fraction`` of their
annotated images (IoU, Dice). Training: random crops with the paper's
augmentation, Adam with cosine decay, a checkpoint and a validation every
``--checkpoint-every`` steps (``zoo.training.train``). The run directory gets
``config.toml`` (every setting, resolved: ``zoo train --config RUN/config.toml
--out NEW`` repeats the run), ``checkpoint.keras`` + ``state.json``
(``--resume`` continues after the last checkpoint with the saved settings),
``best.keras`` (best validation score), ``last.keras`` (end of training),
``model.keras`` (the kept one, ``--keep``) and ``metrics.json``.

Settings: built-in defaults < ``--config FILE.toml`` < flags on the command line.
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import write_atomic
from . import options

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

CONFIG = "config.toml"
DEFAULTS = {
    "data": "", "layout": "auto", "images": "images", "masks": "masks", "key": "",
    "mask_suffix": "", "sequence": "01", "train_slices": "0-19", "val_slices": "20-24",
    "val_fraction": 0.2, "model": "unet", "encoder": "plain", "encoder_weights": "",
    "encoder_options": {}, "model_options": {}, "num_classes": 1, "loss": "wce+dice",
    "deep_supervision": False, "patch": 256, "batch_size": 4, "steps": 1000,
    "checkpoint_every": 100, "lr": 1e-3, "ema": 0.0,
    "bn_momentum": 0.99, "augment": "paper", "seed": 0, "precision": "float32",
    "keep": "last", "tta": "",
}
# How a run is carried out, not what it trains: not saved, free to change on --resume.
RUNTIME = {"train_minutes": None, "verbose": "auto", "workers": 2, "xla": "on"}
LAYOUTS = ("auto", "isbi", "ctc", "folder")


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a model on ISBI, CTC or image/mask folders "
                            "(resumable; saves its resolved config)", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            argument_default=argparse.SUPPRESS)
    p.add_argument("--data", type=str, help="the data folder (see the layouts above)")
    p.add_argument("--out", type=Path, required=True, help="the run directory")
    p.add_argument("--config", type=Path, help="a TOML file of settings (e.g. a run's "
                   "config.toml); flags given here override it")
    p.add_argument("--resume", action="store_true", default=False,
                   help="continue the run in --out with its saved settings")
    p.add_argument("--layout", choices=LAYOUTS, help="data layout (default: detected)")
    p.add_argument("--images", help="folder layout: the image subfolder (default: images)")
    p.add_argument("--masks", help="folder layout: the mask subfolder (default: masks)")
    p.add_argument("--key", help="folder layout: pair by 'id' (leading id) or a regex")
    p.add_argument("--mask-suffix", help="folder layout: mask names end with this")
    p.add_argument("--sequence", help="CTC layout: the sequence (default: 01)")
    p.add_argument("--train-slices", help="ISBI layout: training slices (default: 0-19)")
    p.add_argument("--val-slices", help="ISBI layout: validation slices (default: 20-24)")
    p.add_argument("--val-fraction", type=float, help="CTC and folder layouts: the last "
                   "fraction of the images that validates (default: 0.2)")
    p.add_argument("--model", help="a registered model (zoo info lists them; default: unet)")
    p.add_argument("--encoder", help="a registered encoder (default: plain)")
    p.add_argument("--encoder-weights", help="'imagenet' or the path of a local weights file "
                   "of the backbone (offline notebooks); default: none (random init)")
    p.add_argument("--filters", type=int, help="base width of the plain encoder (default 32)")
    p.add_argument("--encoder-option", action="append", metavar="KEY=VALUE",
                   type=options.key_value, help="any encoder option (repeatable)")
    p.add_argument("--num-classes", type=int, help="folder layout: 1 (default) trains the "
                   "foreground (every non-zero mask pixel); N >= 2 reads masks as class maps "
                   "with ids 0..N-1 for a softmax model")
    p.add_argument("--model-option", action="append", metavar="KEY=VALUE",
                   type=options.key_value, help="any option of the model builder, e.g. "
                   "depth=3 (repeatable; values are Python literals)")
    p.add_argument("--loss", help="terms joined by '+', each NAME or WEIGHT*NAME: ce, wce "
                   "(border-weighted, the paper's Eq. 2), dice, iou, focal, tversky, cldice, "
                   "msssim, hybrid (default: wce+dice)")
    p.add_argument("--deep-supervision", action="store_true",
                   help="the loss on every side output (U-Net++, U-Net 3+)")
    p.add_argument("--patch", type=int, help="training crop side (default: 256)")
    p.add_argument("--batch-size", type=int, help="crops per step (default: 4)")
    p.add_argument("--steps", type=int, help="training steps (default: 1000)")
    p.add_argument("--checkpoint-every", type=int,
                   help="steps between checkpoints and validations (default: 100)")
    p.add_argument("--lr", type=float, help="initial learning rate, cosine decay (1e-3)")
    p.add_argument("--ema", type=float, help="moving average of the weights with this "
                   "momentum, validated and kept (e.g. 0.99; default 0: off)")
    p.add_argument("--bn-momentum", type=float, help="batch-norm momentum (default: 0.99)")
    p.add_argument("--augment", choices=["paper", "none"],
                   help="the paper's augmentation (shift, rotation, flips, elastic, gray "
                   "values) or none (default: paper)")
    p.add_argument("--seed", type=int, help="(default: 0)")
    p.add_argument("--precision", choices=["float32", "mixed_float16", "mixed_bfloat16"])
    p.add_argument("--xla", choices=["on", "off"], help="XLA-compiled steps (TensorFlow; JAX "
                   "always compiles) or TensorFlow's own kernels, faster in mixed_bfloat16 on "
                   "a CPU with AMX (default: on; free to change on --resume)")
    p.add_argument("--keep", choices=["best", "last"], help="the model saved as model.keras "
                   "and scored (default: last, no choice on the validation images)")
    p.add_argument("--tta", choices=["flips", "d4"], help="also score the kept model with "
                   "test-time augmentation")
    p.add_argument("--train-minutes", type=float, help="also stop after this much training")
    p.add_argument("--workers", type=int, help="data loading threads (default: 2)")
    p.add_argument("--verbose", type=int, choices=[0, 1, 2],
                   help="Keras progress: 1 a bar, 2 a line per checkpoint (default: 1 on a "
                   "terminal)")
    p.set_defaults(run=run)


def resolve(args: argparse.Namespace) -> dict:
    """The run's settings: defaults < --config < flags; on --resume the saved ones."""
    given = {k: v for k, v in vars(args).items()
             if k not in ("run", "command", "debug", "out", "config", "resume", *RUNTIME)}
    filters, extra = given.pop("filters", None), given.pop("encoder_option", None)
    model_extra = given.pop("model_option", None)
    if "data" in given:
        given["data"] = str(Path(given["data"]).expanduser().resolve())
    if args.resume:
        saved = args.out / CONFIG
        if not saved.is_file():
            raise FileNotFoundError(f"--resume: no zoo train run in {args.out} ({CONFIG} is "
                                    "missing); drop --resume to start one there")
        config = read_config(saved)
        if getattr(args, "config", None) is not None:
            raise ValueError("--resume continues with the run's own config.toml; drop --config")
    else:
        config = dict(DEFAULTS)
        if getattr(args, "config", None) is not None:
            config.update(read_config(args.config))
    changed = dict(given)
    if filters is not None or extra:
        changed["encoder_options"] = {**config["encoder_options"],
                                      **({"filters": filters} if filters is not None else {}),
                                      **dict(extra or [])}
    if model_extra:
        changed["model_options"] = {**config["model_options"], **dict(model_extra)}
    if args.resume:
        differ = {k: v for k, v in changed.items() if config.get(k) != v}
        if differ:
            first = next(iter(differ))
            raise ValueError(f"--resume continues {args.out} as it was started: "
                             f"{first}={config.get(first)!r} there, {differ[first]!r} here; "
                             f"drop {', '.join('--' + k.replace('_', '-') for k in differ)} "
                             "or start a new run in another --out")
    config.update(changed)
    if config["data"]:  # saved absolute, so a run resumes from any folder
        config["data"] = str(Path(config["data"]).expanduser().resolve())
    return check(config)


def check(config: dict) -> dict:
    """Refuse settings that cannot train, naming the fix."""
    unknown = set(config) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    for key, default in DEFAULTS.items():
        value = config[key]
        kind = (int, float) if isinstance(default, float) else type(default)
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, kind):
            raise ValueError(f"setting {key} = {value!r}: expected a {type(default).__name__} "
                             f"like the default {default!r}")
    for key in ("patch", "batch_size", "steps", "checkpoint_every", "num_classes"):
        if not isinstance(config[key], int) or config[key] < 1:
            raise ValueError(f"{key.replace('_', '-')} must be a positive integer, got "
                             f"{config[key]!r}")
    if not config["lr"] > 0:
        raise ValueError(f"lr must be > 0, got {config['lr']}")
    if not 0 <= config["ema"] < 1:
        raise ValueError(f"ema is a momentum in [0, 1) (0: off), got {config['ema']}")
    if not 0 < config["val_fraction"] < 1:
        raise ValueError(f"val-fraction must be between 0 and 1, got {config['val_fraction']}")
    if config["layout"] not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {config['layout']!r}")
    if not config["data"]:
        raise ValueError("no data: pass --data DIR (or data = \"DIR\" in --config)")
    from ..losses import parse_loss_spec

    parse_loss_spec(config["loss"])
    import zoo

    accepted = zoo.get_encoder(config["encoder"]).options
    wrong = set(config["encoder_options"]) - set(accepted)
    if wrong:
        raise ValueError(f"encoder {config['encoder']!r} takes no option {sorted(wrong)}; it "
                         f"takes {', '.join(sorted(accepted)) or 'none'}")
    if "filters" in accepted:  # the recipes' width, also in the saved settings
        config["encoder_options"] = {"filters": 32, **config["encoder_options"]}
    return config


def read_config(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None
    return config


def toml_text(config: dict) -> str:
    """Flat settings (strings, numbers, booleans, one inline table) as TOML."""
    lines = ["# zoo train settings, resolved; `zoo train --config THIS --out NEW` repeats them"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config.items()]
    return "\n".join(lines) + "\n"


def _toml_value(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"cannot write {value!r} to TOML")


@dataclass
class TrainingData:
    """What a layout gives: training and validation images (lists of (H, W, C)
    float32) and masks ((H, W) uint8), weight maps if the loss needs them, ISBI
    labels for V_rand, and a description."""

    images: list
    masks: list
    weights: list | None
    val_images: list
    val_masks: list
    val_labels: np.ndarray | None
    description: str


def detect_layout(root: Path, config: dict) -> str:
    if config["layout"] != "auto":
        return config["layout"]
    if not root.is_dir():
        raise FileNotFoundError(f"data folder not found: {root}")
    if (root / f"{config['sequence']}_GT").is_dir():
        return "ctc"
    if (root / "train-volume.tif").is_file() or (
            (root / "images").is_dir() and (root / "labels").is_dir()
            and not (root / config["masks"]).is_dir()):
        return "isbi"
    if (root / config["images"]).is_dir() and (root / config["masks"]).is_dir():
        return "folder"
    raise FileNotFoundError(
        f"{root} is none of the layouts zoo train reads: ISBI 2012 (images/ + labels/, or "
        f"train-volume.tif), CTC ({config['sequence']}/ + {config['sequence']}_GT/SEG/) or "
        f"image and mask folders ({config['images']}/ + {config['masks']}/; other names: "
        "--images, --masks); pass --layout to choose")


def load_data(config: dict) -> TrainingData:
    from ..data import load_ctc, load_folder, load_isbi2012, unet_weight_map
    from ..losses import parse_loss_spec
    from .options import slice_range

    root = Path(config["data"])
    layout = detect_layout(root, config)
    classes = config["num_classes"]
    if classes > 1 and layout != "folder":
        raise ValueError(f"--num-classes {classes}: the {layout} layout trains one foreground "
                         "class; class maps are read from image/mask folders (--layout folder)")
    if layout == "isbi":
        train = load_isbi2012(root, slices=slice_range(config["train_slices"]))
        val = load_isbi2012(root, slices=slice_range(config["val_slices"]))
        images, masks, labels = list(train.images), list(train.membranes), list(train.labels)
        val_images, val_masks, val_labels = val.images, val.membranes, val.labels
        what = (f"ISBI 2012 at {root}: slices {config['train_slices']} train, "
                f"{config['val_slices']} validate; target: the membranes")
    else:
        if layout == "ctc":
            ctc = load_ctc(root, config["sequence"])
            images, masks, labels = list(ctc.images), list(ctc.masks), list(ctc.labels)
        else:
            images, masks = load_folder(root / config["images"], root / config["masks"],
                                        key=config["key"] or None,
                                        mask_suffix=config["mask_suffix"], binary=classes == 1)
            _check_class_ids(masks, classes)
            labels = [(mask > 0).astype(np.uint8) for mask in masks]
        channels = {image.shape[-1] for image in images}
        if len(channels) > 1:
            raise ValueError(f"{root}: the images have different channel counts "
                             f"{sorted(channels)}; convert them to one (all gray or all RGB)")
        if len(images) < 2:
            raise ValueError(f"{root} holds {len(images)} annotated image(s): at least 2 are "
                             "needed, one to train and one to validate")
        n_val = min(len(images) - 1, max(1, round(len(images) * config["val_fraction"])))
        cut = len(images) - n_val
        val_images, val_masks, val_labels = images[cut:], masks[cut:], None
        images, masks, labels = images[:cut], masks[:cut], labels[:cut]
        what = (f"{layout} layout at {root}: {cut} images train, {n_val} validate "
                f"(the last {config['val_fraction']:.0%}); target: "
                + ("the foreground" if classes == 1 else f"{classes} classes"))
    weighted = any(name == "wce" for _, name in parse_loss_spec(config["loss"]))
    weights = [unet_weight_map(label) for label in labels] if weighted else None
    return TrainingData(images, masks, weights, val_images, val_masks, val_labels, what)


def _check_class_ids(masks, classes: int) -> None:
    if classes == 1:
        return
    largest = max(int(mask.max()) for mask in masks)
    if largest >= classes:
        raise ValueError(f"--num-classes {classes} takes class ids 0..{classes - 1}, but a "
                         f"mask holds {largest}; pass --num-classes {largest + 1} (or fix "
                         "the masks: 0/255 masks are binary, --num-classes 1)")


def run(args: argparse.Namespace) -> int:
    config = resolve(args)
    config["layout"] = detect_layout(Path(config["data"]), config)
    out = args.out
    if not args.resume and out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; pass --resume to continue a zoo train run "
                              "there, or choose another --out")
    runtime = {k: getattr(args, k, default) for k, default in RUNTIME.items()}
    run_args = argparse.Namespace(**config, **runtime, out=out, resume=args.resume,
                                  distribute=False)
    scope = options.setup(run_args)
    data = load_data(config)
    print(data.description, flush=True)
    dataset = _dataset(config, data, runtime["workers"])  # checks the sizes before a build
    build = None if args.resume else _builder(config, data)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not args.resume:
            write_atomic(out / CONFIG, lambda path: path.write_text(toml_text(config)))
        options.train(run_args, scope, build or (lambda: None), dataset,
                      _validation(config, data, out), info={"config": config})
    except BaseException:
        if created and not (out / "checkpoint.keras").is_file():
            shutil.rmtree(out, ignore_errors=True)  # nothing to resume: leave no folder
        raise
    print(f"models: {out / 'model.keras'} (kept: {config['keep']}), {out / 'best.keras'}, "
          f"{out / 'last.keras'}; scores: {out / 'metrics.json'}")
    return 0


def _builder(config: dict, data: TrainingData):
    """Build and compile the model now (so a bad name or option fails before any file is
    written) and return the ``build`` function ``zoo.training.train`` calls."""
    import zoo
    from zoo.losses import loss_from_spec

    kwargs = dict(config["model_options"])
    if config["deep_supervision"]:
        kwargs["deep_supervision"] = True
    if config["encoder_weights"]:
        kwargs["encoder_weights"] = config["encoder_weights"]
    model = zoo.build(config["model"], input_shape=(None, None, data.images[0].shape[-1]),
                      num_classes=config["num_classes"], encoder=config["encoder"],
                      batch_norm=True,
                      encoder_options=config["encoder_options"], **kwargs)
    options.set_bn_momentum(model, config["bn_momentum"])
    epochs = -(-config["steps"] // config["checkpoint_every"])
    options.compile_model(model, loss_from_spec(config["loss"]), lr=config["lr"],
                          steps=epochs * config["checkpoint_every"], ema=config["ema"],
                          deep_supervision=config["deep_supervision"],
                          metrics=[zoo.metrics.IoU(config["num_classes"])])
    return lambda: model


def _dataset(config: dict, data: TrainingData, workers: int):
    from ..data import SegmentationDataset, paper_augmentation

    augment = paper_augmentation() if config["augment"] == "paper" else None
    return SegmentationDataset(data.images, data.masks, data.weights,
                               patch_size=config["patch"], batch_size=config["batch_size"],
                               steps=config["checkpoint_every"], augment=augment,
                               seed=config["seed"], workers=workers,
                               num_classes=config["num_classes"])


def _validation(config: dict, data: TrainingData, out: Path):
    from ..training import SegmentationValidation

    isbi = data.val_labels is not None
    images = data.val_images if isbi else list(data.val_images)
    masks = data.val_masks if isbi else list(data.val_masks)
    tile = config["patch"]  # a size the model trains on, so one it takes
    return SegmentationValidation(
        images, masks, out, isbi_labels=data.val_labels,
        monitor="val_v_rand" if isbi else "val_iou",
        channel=-1 if config["num_classes"] == 1 else None,
        tile_kwargs={"tile_size": tile, "overlap": tile // 4})
