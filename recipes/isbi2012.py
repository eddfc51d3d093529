"""ISBI 2012 with same-padding models: U-Net / U-Net++ / U-Net 3+, any encoder, Adam.

    python -m recipes.isbi2012 --recipe quick --out runs/quick      # measured presets
    python -m recipes.isbi2012 --recipe best --out runs/best
    python -m recipes.isbi2012 --recipe best_amx --out runs/best_amx  # CPU with AMX
    python -m recipes.isbi2012 --recipe quick --final --out runs/quick_final
    python -m recipes.isbi2012 --out runs/mine --encoder resnet34 --steps 600

Trains on slices 0..19 and validates on 20..24 of ../shared/data/isbi2012
(``--data`` for another copy, PNG or TIFF layout); the target is the membrane
map. Random crops with the paper's augmentation, Adam with cosine
learning-rate decay, a checkpoint every ``--checkpoint-every`` steps, V_rand
on the validation slices at each checkpoint (overlap-tile inference), and the
model with the best validation V_rand kept as ``model.keras`` (``--keep last``,
as the presets do: the last model, no selection); the scores land in
``metrics.json``. ``--final`` trains the same settings on all 25 labelled
slices, with no validation and no selection (the last model is kept): the
model to submit once a preset has been chosen on 20..24.

Presets (``--recipe``; any flag given explicitly overrides them):
{presets}
"""

from __future__ import annotations

import argparse
from functools import partial

from . import _cli

PRESETS = {
    "quick": {"model": "unet", "encoder": "plain", "encoder_options": {"filters": 16},
              "patch": 256,
              "batch_size": 4, "lr": 1e-3, "steps": 600, "checkpoint_every": 100,
              "train_minutes": 15.0, "loss": "wce_dice", "ema": 0.99,
              "postprocess": "watershed", "watershed_sigma": 0.0, "tta": "d4", "keep": "last"},
    "best": {"model": "unet", "encoder": "plain", "encoder_options": {"filters": 16},
             "patch": 256,
             "batch_size": 4, "lr": 1e-3, "steps": 4500, "checkpoint_every": 300,
             "train_minutes": 120.0, "loss": "wce_dice", "ema": 0.99,
             "postprocess": "watershed", "watershed_sigma": 1.0, "tta": "flips",
             "keep": "last", "val_tile": 640, "val_overlap": 128},
}
# best at twice the width in bfloat16 without XLA: 4x the FLOPs of best's step in about
# its time only on a CPU with AMX bf16 tiles (README, "32 filters in mixed_bfloat16");
# TensorFlow only (JAX always compiles: pass --xla on there)
PRESETS["best_amx"] = {**PRESETS["best"], "encoder_options": {"filters": 32},
                       "precision": "mixed_bfloat16", "xla": "off", "steps": 4800,
                       "checkpoint_every": 600}
DOC = __doc__.format(presets="\n".join(
    f"    {name}: " + ", ".join(f"{k}={v}" for k, v in preset.items())
    for name, preset in PRESETS.items()))


def parse(argv=None):
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--recipe", choices=[*PRESETS, "custom"], default="custom")
    recipe = pre.parse_known_args(argv)[0].recipe
    parser = _cli.base_parser(DOC, steps=600, checkpoint_every=100, lr=1e-3,
                              batch_size=4, patch=256)
    parser.add_argument("--recipe", choices=[*PRESETS, "custom"], default="custom",
                        help="a measured preset (see above) or custom (the flags below)")
    parser.add_argument("--final", action="store_true",
                        help="train on the training and validation slices together (all 25 "
                        "by default), no validation or selection")
    _cli.add_isbi2012_arguments(parser)
    _cli.add_model_arguments(parser, filters=32)
    parser.add_argument("--loss", default="dice_ce", choices=["dice_ce", "wce_dice", "hybrid"],
                        help="dice_ce: BCE + Dice; wce_dice: cross-entropy weighted by the "
                        "paper's border weight map (w0 = 10, sigma = 5) + Dice; hybrid: focal "
                        "+ MS-SSIM + IoU (U-Net 3+)")
    parser.add_argument("--cldice", type=float, default=0.0, metavar="W",
                        help="add W x clDice (zoo.losses.ClDiceLoss, a topology term on the "
                        "membranes' soft skeletons; 0: off)")
    parser.add_argument("--cldice-iterations", type=int, default=3,
                        help="soft-skeleton iterations of --cldice (>= the membranes' radius)")
    parser.add_argument("--deep-supervision", action="store_true")
    parser.add_argument("--rotate", type=float, default=15.0,
                        help="augmentation: rotation range in degrees (the paper: 180)")
    parser.add_argument("--elastic-sigma", type=float, default=10.0,
                        help="augmentation: elastic displacement std in px (the paper: 10)")
    parser.add_argument("--bn-momentum", type=float, default=0.99,
                        help="batch-norm moving-average momentum (lower tracks a short run's "
                        "fast-changing weights more closely at validation)")
    parser.add_argument("--context", type=int, default=0,
                        help="2.5D input: neighbouring sections per side as channels")
    parser.add_argument("--ema", type=float, default=0.0,
                        help="keep an exponential moving average of the weights with this "
                        "momentum (e.g. 0.99) and validate and keep it; 0: off")
    parser.add_argument("--postprocess", choices=["none", "watershed"], default="none",
                        help="also score the validation maps after a seeded watershed "
                        "(zoo.postprocess.watershed_boundaries); best.keras (and, with --keep "
                        "best, model.keras) is chosen by that V_rand")
    parser.add_argument("--val-tile", type=int, default=256,
                        help="validation: tile side of the overlap-tile inference (640 with "
                        "--val-overlap 128: each 512x512 slice in one tile, 64 px of mirrored "
                        "context per side, no seams between tiles)")
    parser.add_argument("--val-overlap", type=int, default=64,
                        help="validation: pixels shared by neighbouring tiles")
    parser.add_argument("--watershed-sigma", type=float,
                        help="--postprocess watershed: Gaussian smoothing (px) of the map "
                        "before the flood (watershed_boundaries' sigma; default: the "
                        "function's; each preset pins the value its records were measured with)")
    parser.set_defaults(**PRESETS.get(recipe, {}))
    args = parser.parse_args(argv)
    if args.cldice < 0:
        parser.error(f"--cldice is a loss weight >= 0 (0: off), got {args.cldice}")
    if not 0 <= args.val_overlap < args.val_tile:
        parser.error(f"--val-overlap must be in [0, --val-tile), got {args.val_overlap} with "
                     f"--val-tile {args.val_tile}")
    if args.watershed_sigma is not None and args.watershed_sigma < 0:
        parser.error(f"--watershed-sigma is a smoothing width in px >= 0, got "
                     f"{args.watershed_sigma}")
    return args


def main(argv=None):
    args = parse(argv)
    scope = _cli.setup(args)
    from zoo.data import SegmentationDataset, load_isbi2012, paper_augmentation, unet_weight_map
    from zoo.training import SegmentationValidation

    if args.final:
        args.train_slices = sorted({*args.train_slices, *args.val_slices})
    train = load_isbi2012(args.data, slices=args.train_slices, context=args.context)
    weights = (unet_weight_map(train.labels, w0=10.0, sigma=5.0)
               if args.loss == "wce_dice" else None)
    epochs = max(1, -(-args.steps // args.checkpoint_every))
    augment = paper_augmentation(rotate=args.rotate, elastic_sigma=args.elastic_sigma)
    dataset = SegmentationDataset(train.images, train.membranes, weights,
                                  patch_size=args.patch, batch_size=args.batch_size,
                                  steps=args.checkpoint_every, augment=augment,
                                  seed=args.seed, workers=args.workers)

    validation = None
    if not args.final:
        val = load_isbi2012(args.data, slices=args.val_slices, context=args.context)
        post = args.postprocess == "watershed"
        validation = SegmentationValidation(
            val.images, val.membranes, args.out, isbi_labels=val.labels,
            every=args.val_every or epochs,
            tile_kwargs={"tile_size": args.val_tile, "overlap": args.val_overlap},
            postprocess=_watershed(args.watershed_sigma) if post else None,
            monitor="val_post_v_rand" if post else "val_v_rand")
    build = partial(build_model, args, epochs * args.checkpoint_every)
    return _cli.train(args, scope, build, dataset, validation,
                      info={"recipe": args.recipe, "final": args.final})


def build_model(args, steps):
    """The recipe's compiled network for the parsed ``args`` (its learning rate decays
    over ``steps``), under the current mixed-precision policy."""
    import zoo
    from zoo import losses

    options = {"deep_supervision": True} if args.deep_supervision else {}
    model = zoo.build(args.model, input_shape=(None, None, 2 * args.context + 1),
                      num_classes=1, encoder=args.encoder, batch_norm=True,
                      encoder_options=_cli.encoder_options(args), **options)
    _cli.set_bn_momentum(model, args.bn_momentum)
    loss = (losses.HybridLoss() if args.loss == "hybrid"
            else losses.WeightedCrossEntropy() + losses.DiceLoss())
    if args.cldice:
        loss = loss + args.cldice * losses.ClDiceLoss(iterations=args.cldice_iterations)
    return _cli.compile_model(model, loss, lr=args.lr, steps=steps, ema=args.ema,
                              deep_supervision=args.deep_supervision)


def _watershed(sigma):
    from zoo.postprocess import watershed_boundaries

    return watershed_boundaries if sigma is None else partial(watershed_boundaries, sigma=sigma)


if __name__ == "__main__":
    main()
