"""A training run's settings: one table of names, defaults and meanings; presets as
TOML files; the order in which they combine.

Settings combine as built-in defaults < a preset (``preset = "isbi2012/quick"``)
< a TOML file (``--config``) < explicit values (flags). Each setting has one name,
the same in TOML and on the command line (``batch_size`` / ``--batch-size``).
A resumed run keeps its saved settings; only the runtime ones (how a run is
carried out, not what it trains) may change.

Presets are TOML files of settings with an ``[about]`` table (what the preset is
for and what it measured), under the repository's ``recipes/`` folder, which the
wheel carries as ``zoo.presets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import checks
from ..data.layouts import LAYOUTS as DATA_LAYOUTS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


@dataclass(frozen=True)
class Setting:
    default: object
    help: str
    choices: tuple = ()
    runtime: bool = False  # how the run is carried out: free to change on resume


LAYOUTS = ("auto", *DATA_LAYOUTS)
SETTINGS = {
    # data
    "dataset": Setting("", "a named data set (isbi2012), found by --data, then $ZOO_DATA/NAME, "
                       "then the user cache where `zoo data fetch` puts it"),
    "data": Setting("", "the data folder (any layout below); overrides dataset's location"),
    "layout": Setting("auto", "data layout: isbi (ISBI 2012), ctc (Cell Tracking Challenge), "
                      "folder (images/ + masks/), coco (a COCO file, --coco); auto detects "
                      "it", LAYOUTS),
    "coco": Setting("", "coco layout: the COCO annotation file in the data folder (e.g. "
                    "train.json); image file names start from the data folder or its images/"),
    "val_data": Setting("", "folder and coco layouts: the given validation split, a folder "
                        "holding the same subfolders (relative to the data folder or absolute) "
                        "or a second COCO file; else the last val-fraction validates"),
    "images": Setting("images", "folder layout: the image subfolder"),
    "masks": Setting("masks", "folder layout: the mask subfolder"),
    "key": Setting("", "folder layout: pair images and masks by 'id' (leading id) or a regex"),
    "mask_suffix": Setting("", "folder layout: mask names end with this"),
    "colors": Setting("", "folder layout: colour masks' colour table, a JSON file in the data "
                      "folder mapping class names to [r, g, b] in class-id order (e.g. "
                      "classes.json)"),
    "sequence": Setting("01", "ctc layout: the sequence"),
    "train_slices": Setting("0-19", "isbi layout: training slices ('0-19' or '3,5,7')"),
    "val_slices": Setting("20-24", "isbi layout: validation slices"),
    "val_fraction": Setting(0.2, "ctc and folder layouts: the last fraction of the images "
                            "validates"),
    "folds": Setting(0, "ctc, folder and coco layouts: K-fold cross-validation by image, "
                     "stratified by the classes each image holds; fold I trains in "
                     "OUT/fold-I, its validation images' predictions (out of fold) are kept "
                     "and all folds' scored together (0: off)"),
    "fold": Setting(-1, "with folds: train only this fold (0..K-1); -1: every fold in turn",
                    runtime=True),
    "context": Setting(0, "isbi layout: 2.5D input, neighbouring sections per side as "
                       "channels"),
    "final": Setting(False, "train on the training and validation images together, with no "
                     "validation or selection: the model to submit once settings are chosen"),
    # model
    "model": Setting("unet", "a registered model (`zoo info` lists them)"),
    "encoder": Setting("plain", "a registered encoder"),
    "encoder_weights": Setting("", "'imagenet' or the path of a local weights file of the "
                               "backbone; empty: random initialisation"),
    "encoder_options": Setting({}, "encoder options (--filters N, --encoder-option KEY=VALUE); "
                               "encoders with a base width get filters = 32 by default"),
    "model_options": Setting({}, "options of the model builder (--model-option KEY=VALUE)"),
    "num_classes": Setting(1, "1: the foreground (a sigmoid model); N >= 2: masks are class "
                           "maps with ids 0..N-1 (a softmax model; the isbi and ctc layouts "
                           "take 2, foreground as class 1)"),
    "deep_supervision": Setting(False, "the loss on every side output (U-Net++, U-Net 3+)"),
    "bn_momentum": Setting(0.99, "batch-norm moving-average momentum"),
    # optimisation
    "loss": Setting("wce+dice", "terms joined by '+', each NAME or WEIGHT*NAME: ce, wce "
                    "(border-weighted, the paper's Eq. 2), dice, iou, focal, tversky, cldice, "
                    "msssim, hybrid"),
    "optimizer": Setting("adam", "adam (cosine decay of lr) or sgd (constant lr, momentum)",
                         ("adam", "sgd")),
    "momentum": Setting(0.99, "sgd momentum (the paper: 0.99)"),
    "lr": Setting(1e-3, "initial learning rate"),
    "ema": Setting(0.0, "moving average of the weights with this momentum, validated and "
                   "kept (e.g. 0.99; 0: off)"),
    "patch": Setting(256, "training crop side (a valid-padding model's input side)"),
    "batch_size": Setting(4, "crops per step"),
    "accumulate": Setting(1, "gradient accumulation: one update per this many batches, from "
                          "their mean gradient (an effective batch of batch-size x accumulate "
                          "in one batch's memory; steps count batches, batch norm sees each "
                          "batch)"),
    "steps": Setting(1000, "training steps in total (rounded up to whole checkpoints)"),
    "checkpoint_every": Setting(100, "steps between checkpoints and validations"),
    "augment": Setting("paper", "paper: shift, rotation, flips, gray values, elastic "
                       "deformation (Ronneberger et al. 2015, Sec. 3.1); none", ("paper", "none")),
    "rotate": Setting(180.0, "augmentation: rotation range in degrees (the paper: 180)"),
    "elastic_sigma": Setting(10.0, "augmentation: elastic displacement std in px (the "
                             "paper: 10)"),
    "seed": Setting(0, "seed of the weights, crops and augmentation"),
    "precision": Setting("float32", "float32, mixed_float16, mixed_bfloat16, or auto: "
                         "mixed precision where the hardware has it and a measured step "
                         "is faster (zoo.training.setup.choose_precision)",
                         ("float32", "mixed_float16", "mixed_bfloat16", "auto")),
    # validation and the kept model
    "val_every": Setting(1, "validate every N checkpoints (0: only at the end)"),
    "val_tile": Setting(256, "validation: tile side of the overlap-tile inference (a "
                        "valid-padding model uses its own)"),
    "val_overlap": Setting(64, "validation: pixels shared by neighbouring tiles"),
    "postprocess": Setting("none", "also score the validation maps after a seeded watershed "
                           "(zoo.postprocess.watershed_boundaries); the best model is then "
                           "chosen by that V_rand", ("none", "watershed")),
    "watershed_sigma": Setting(1.0, "postprocess watershed: Gaussian smoothing (px) of the map "
                               "before the flood"),
    "tta": Setting("", "also score the kept model with test-time augmentation",
                   ("", "flips", "d4")),
    "keep": Setting("last", "the model saved as model.keras and scored: the last one, or the "
                    "best validation checkpoint", ("last", "best")),
    # how the run is carried out
    "train_minutes": Setting(0.0, "also stop after this much training time (0: no limit)",
                             runtime=True),
    "workers": Setting(2, "data loading threads", runtime=True),
    "xla": Setting("on", "compile the steps with XLA (TensorFlow; JAX always does) or run "
                   "TensorFlow's own kernels, faster in mixed_bfloat16 on a CPU with AMX",
                   ("on", "off"), runtime=True),
    "distribute": Setting(False, "data-parallel over all local devices (keras.distribution: "
                          "JAX)", runtime=True),
}
DEFAULTS = {name: setting.default for name, setting in SETTINGS.items()}
RUNTIME = tuple(name for name, setting in SETTINGS.items() if setting.runtime)
COUNTS = ("patch", "batch_size", "accumulate", "steps", "checkpoint_every", "num_classes",
          "workers")


def preset_folders() -> list[Path]:
    """Where presets live: the checkout's ``recipes/`` (beside the ``zoo`` package) and the
    wheel's ``zoo/presets`` (the same folder, packaged as data)."""
    package = Path(__file__).resolve().parents[1]
    folders = [package.parent / "recipes", package / "presets"]
    return [folder for folder in folders if folder.is_dir()]


def list_presets() -> dict[str, Path]:
    """``{"isbi2012/quick": path, ...}``: every preset file, by name."""
    found = {}
    for folder in preset_folders():
        for path in sorted(folder.glob("*/*.toml")):
            found.setdefault(f"{path.parent.name}/{path.stem}", path)
    return found


def preset_about(name: str) -> dict:
    """A preset's ``[about]`` table: ``description``, ``measured``, ``record``."""
    return _read_toml(_preset_path(name)).get("about", {})


def load_preset(name: str) -> dict:
    """A preset's settings (its ``[about]`` table left out)."""
    settings = _read_toml(_preset_path(name))
    settings.pop("about", None)
    return check_names(settings, f"preset {name}")


def _preset_path(name: str) -> Path:
    presets = list_presets()
    if name not in presets:
        raise ValueError(f"no preset {name!r}; the presets are {', '.join(presets)} "
                         "(`zoo train --list-presets`)")
    return presets[name]


def read_config(path) -> dict:
    """The settings of a TOML file (e.g. a run's ``config.toml``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    settings = _read_toml(path)
    settings.pop("about", None)
    return check_names(settings, str(path))


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from None


def check_names(settings: dict, where: str) -> dict:
    unknown = sorted(set(settings) - set(SETTINGS) - {"preset"})
    if unknown:
        raise ValueError(f"{where}: unknown settings {unknown}; the settings are listed by "
                         "`zoo train --help`")
    return settings


def resolve(given: dict | None = None, *, preset: str | None = None,
            config_file=None) -> dict:
    """Defaults < ``preset`` (or the one a ``config_file`` names) < ``config_file`` < ``given``,
    checked (:func:`check`). ``encoder_options`` and ``model_options`` merge key by key; a
    preset's encoder options reach only an encoder that takes them (so ``--encoder
    resnet34`` works over a preset made for the plain encoder), while options given in the
    file or ``given`` always reach it and are refused by an encoder without them."""
    file_settings = read_config(config_file) if config_file is not None else {}
    preset = preset or file_settings.get("preset") or (given or {}).get("preset") or ""
    config = {**DEFAULTS}
    preset_settings = load_preset(preset) if preset else {}
    implied = preset_settings.pop("encoder_options", {})
    for layer in (preset_settings, file_settings, given or {}):
        for key, value in layer.items():
            if key in ("encoder_options", "model_options"):
                value = {**config[key], **value}
            config[key] = value
    import zoo

    encoder = config["encoder"]
    accepted = zoo.get_encoder(encoder).options if isinstance(encoder, str) else {}
    config["encoder_options"] = {**{k: v for k, v in implied.items() if k in accepted},
                                 **config["encoder_options"]}
    config["preset"] = preset
    return check(config)


def changed_on_resume(saved: dict, given: dict) -> dict:
    """The settings in ``given`` that differ from a saved run's and may not change."""
    differ = {}
    for key, value in given.items():
        if key in RUNTIME:
            continue
        if key in ("encoder_options", "model_options"):
            value = {**saved.get(key, {}), **value}
        if saved.get(key) != value:
            differ[key] = value
    return differ


def check(config: dict) -> dict:
    """Refuse settings that cannot train, naming the fix."""
    check_names(config, "settings")
    for key, default in DEFAULTS.items():
        value = config[key]
        kind = (int, float) if isinstance(default, float) else type(default)
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, kind):
            raise ValueError(f"setting {key} = {value!r}: expected a {type(default).__name__} "
                             f"like the default {default!r}")
        choices = SETTINGS[key].choices
        if choices and value not in choices:
            raise ValueError(f"{key} must be one of {', '.join(map(repr, choices))}, got "
                             f"{value!r}")
    for key in COUNTS:
        if config[key] < 1:
            raise ValueError(f"{key.replace('_', '-')} must be a positive integer, got "
                             f"{config[key]!r}")
    if config["folds"] == 1 or config["folds"] < 0:
        raise ValueError(f"folds must be 0 (off) or at least 2, got {config['folds']}")
    if not -1 <= config["fold"] < max(config["folds"], 1) or (config["fold"] >= 0
                                                             and not config["folds"]):
        raise ValueError(f"fold {config['fold']}: " + (
            f"the folds are 0..{config['folds'] - 1} (or -1: all)" if config["folds"]
            else "--fold picks one of --folds K; pass --folds too"))
    for key in ("context", "val_every"):
        if config[key] < 0:
            raise ValueError(f"{key.replace('_', '-')} must be >= 0, got {config[key]!r}")
    if not config["lr"] > 0:
        raise ValueError(f"lr must be > 0, got {config['lr']}")
    for key in ("ema", "momentum"):
        if not 0 <= config[key] < 1:
            raise ValueError(f"{key} is a momentum in [0, 1), got {config[key]}")
    if not 0 < config["val_fraction"] < 1:
        raise ValueError(f"val-fraction must be between 0 and 1, got {config['val_fraction']}")
    if not 0 <= config["val_overlap"] < config["val_tile"]:
        raise ValueError(f"val-overlap must be in [0, val-tile), got {config['val_overlap']} "
                         f"with val-tile {config['val_tile']}")
    for key in ("watershed_sigma", "train_minutes", "rotate", "elastic_sigma"):
        if config[key] < 0:
            raise ValueError(f"{key.replace('_', '-')} must be >= 0, got {config[key]}")
    if not (config["data"] or config["dataset"]):
        raise ValueError("no data: pass --data DIR (or a preset or config naming a dataset)")
    from ..losses import parse_loss_spec

    parse_loss_spec(config["loss"])
    import zoo

    from ..registry import MODELS

    accepted = zoo.get_encoder(config["encoder"]).options
    check_options(config["encoder_options"], accepted, "--encoder-option",
                  f"encoder {config['encoder']!r}")
    model_options = _keyword_defaults(MODELS.get(config["model"]))
    check_options(config["model_options"], model_options, "--model-option",
                  f"model {config['model']!r}")
    if config["deep_supervision"] and not _has_deep_supervision(config["model"]):
        having = [name for name in MODELS.names() if _has_deep_supervision(name)]
        raise ValueError(f"--deep-supervision: model {config['model']!r} has no deep-"
                         f"supervision outputs; models with them: {', '.join(having)}")
    if "filters" in accepted:  # the presets' base width, also in the saved settings
        config["encoder_options"] = {"filters": 32, **config["encoder_options"]}
    return config


SET_BY_SETTINGS = ("input_shape", "num_classes", "encoder", "encoder_options",
                   "encoder_weights", "deep_supervision")


def _keyword_defaults(builder) -> dict:
    """A model builder's options and their defaults (those settings do not set)."""
    import inspect

    return {name: p.default for name, p in inspect.signature(builder).parameters.items()
            if name not in SET_BY_SETTINGS}


def _has_deep_supervision(model: str) -> bool:
    import inspect

    from ..registry import MODELS

    return "deep_supervision" in inspect.signature(MODELS.get(model)).parameters


def check_options(options: dict, defaults: dict, flag: str, owner: str) -> None:
    """``options`` must be among ``defaults``' names, each of its default's type
    (:func:`zoo.checks.option_types`); errors name ``flag`` and ``owner``."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        settable = [k for k in unknown if k in SET_BY_SETTINGS]
        hint = (f"; set {', '.join(settable)} with its own flag (--{settable[0].replace('_', '-')})"
                if settable else "")
        raise ValueError(f"{flag} {unknown[0]}: {owner} takes no option {unknown}; it takes "
                         f"{', '.join(sorted(defaults)) or 'none'}{hint}")
    checks.option_types(options, defaults, flag, owner)
