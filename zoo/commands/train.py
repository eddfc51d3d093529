"""``zoo train``: train any model x encoder x loss, from a preset, a TOML file or flags.

    zoo train --preset isbi2012/quick --out runs/quick     # a measured preset
    zoo train --list-presets                              # every preset, what it measured
    zoo train --data DIR --out RUN --encoder resnet34     # a folder of images and masks
    zoo train --config RUN/config.toml --out NEW          # repeat a run
    zoo train --out RUN --resume                          # continue a killed run

Settings: built-in defaults < --preset < --config FILE.toml < flags. Every setting has
one name, the same in TOML (``batch_size = 8``) and as a flag (``--batch-size 8``).

Layouts (``--layout``, detected by default): ``isbi`` (ISBI 2012: ``images/NN.png`` +
``labels/NN.png``, or ``train-volume.tif`` + ``train-labels.tif``; slices split into
training and validation, V_rand and V_info scored), ``ctc`` (a Cell Tracking Challenge
2D set: ``01/tNNN.tif`` + ``01_GT/SEG/man_segNNN.tif``) and ``folder`` (``images/`` +
``masks/``; with ``--num-classes N`` the masks are class maps). CTC and folder data
validate on their last ``--val-fraction``.

The run directory gets ``config.toml`` (the resolved settings), ``checkpoint.keras`` +
``state.json`` (``--resume`` continues after the last checkpoint), ``best.keras``,
``last.keras``, ``model.keras`` (the kept one, ``--keep``) and ``metrics.json``.
With ``--folds K`` (folder, coco and ctc layouts) fold I is such a run in ``OUT/fold-I``,
validating on its held-out images; their predictions are kept (``oof.npz``) and all
folds' scored together in ``OUT/oof.json``; ``--fold I`` trains one fold.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..training import config as settings
from . import options

SPECIAL = {"encoder_options", "model_options"}  # given as --filters / --*-option KEY=VALUE


def add_parser(commands) -> None:
    p = commands.add_parser("train", help="train a model from a preset, a TOML file or flags "
                            "(ISBI, CTC or image/mask folders; resumable)", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            argument_default=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help="the run directory")
    p.add_argument("--preset", help="a preset by name, e.g. isbi2012/quick (--list-presets)")
    p.add_argument("--list-presets", action="store_true", help="list the presets and what "
                   "each measured, then exit")
    p.add_argument("--config", type=Path, help="a TOML file of settings (e.g. a run's "
                   "config.toml); flags given here override it")
    p.add_argument("--resume", action="store_true", help="continue the run in --out with "
                   "its saved settings (only train-minutes, workers, xla and distribute "
                   "may change)")
    p.add_argument("--verbose", type=int, choices=[0, 1, 2], help="Keras progress: 1 a bar, "
                   "2 a line per checkpoint (default: 1 on a terminal)")
    for name, setting in settings.SETTINGS.items():
        if name in SPECIAL:
            continue
        _add_setting(p, name, setting)
    p.add_argument("--filters", type=int, help="base width of an encoder that takes one "
                   "(plain; default 32)")
    p.add_argument("--encoder-option", action="append", metavar="KEY=VALUE",
                   type=options.key_value, help="any encoder option (repeatable; values are "
                   "Python literals)")
    p.add_argument("--model-option", action="append", metavar="KEY=VALUE",
                   type=options.key_value, help="any option of the model builder, e.g. "
                   "depth=3 or padding='valid' (repeatable)")
    p.set_defaults(run=run)


def _add_setting(parser, name: str, setting: settings.Setting) -> None:
    flag = "--" + name.replace("_", "-")
    default = setting.default
    text = f"{setting.help} (default: {default!r})"
    if isinstance(default, bool):
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
    elif setting.choices:
        parser.add_argument(flag, choices=setting.choices, help=text)
    else:
        parser.add_argument(flag, type=type(default), help=text)


def given_settings(args: argparse.Namespace) -> dict:
    """The settings given as flags (those not given are absent)."""
    given = {k: v for k, v in vars(args).items() if k in settings.SETTINGS}
    encoder = dict(getattr(args, "encoder_option", None) or [])
    if getattr(args, "filters", None) is not None:
        encoder = {"filters": args.filters, **encoder}
    if encoder:
        given["encoder_options"] = encoder
    model = dict(getattr(args, "model_option", None) or [])
    if model:
        given["model_options"] = model
    return given


def list_presets() -> int:
    for name in settings.list_presets():
        about = settings.preset_about(name)
        print(f"{name}: {about.get('description', '')}")
        if about.get("measured"):
            print(f"    measured: {about['measured']}")
        if about.get("record"):
            print(f"    record: {about['record']}")
    return 0


def run(args: argparse.Namespace) -> int:
    from .. import training

    if getattr(args, "list_presets", False):
        return list_presets()
    out = getattr(args, "out", None)
    if out is None:
        raise ValueError("--out RUN is needed: the run directory (or --list-presets)")
    given = given_settings(args)
    if getattr(args, "resume", False):
        if getattr(args, "config", None) is not None or getattr(args, "preset", None):
            raise ValueError("--resume continues with the run's own config.toml; drop "
                             "--config and --preset")
        config = training.resume_config(out, given)
    else:
        config = training.resolve(given, preset=getattr(args, "preset", None),
                                  config_file=getattr(args, "config", None))
    training.run(config, out, resume=getattr(args, "resume", False),
                 verbose=getattr(args, "verbose", "auto"))
    if config["folds"]:
        print(f"fold models: {out}/fold-*/model.keras (kept: {config['keep']}); each fold's "
              f"scores: {out}/fold-*/metrics.json; out of fold: {out / 'oof.json'}")
        return 0
    print(f"models: {out / 'model.keras'} (kept: {config['keep']}), {out / 'best.keras'}, "
          f"{out / 'last.keras'}; scores: {out / 'metrics.json'}")
    return 0
