"""ISBI 2012 with a modern same-padding model: U-Net / U-Net++ / U-Net 3+, any encoder, Adam.

    python recipes/isbi2012_modern.py --out runs/modern --steps 600

Trains on slices 0..19 and validates on 20..24 of ../shared/data/isbi2012
(``--data`` for another copy, PNG or TIFF layout); the target is the membrane
map. Random 256-px crops with the paper's augmentation, Adam with cosine
learning-rate decay, a checkpoint every ``--checkpoint-every`` steps, V_rand
on the validation slices at each checkpoint (overlap-tile inference), and the
model with the best validation V_rand kept as ``model.keras``; the scores land
in ``metrics.json``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def parse(argv=None):
    parser = common.base_parser(__doc__, steps=600, checkpoint_every=100, lr=1e-3,
                                batch_size=4, patch=256)
    parser.add_argument("--data", type=Path, default=common.DEFAULT_ISBI)
    parser.add_argument("--train-slices", type=common.slice_range, default="0-19")
    parser.add_argument("--val-slices", type=common.slice_range, default="20-24")
    parser.add_argument("--model", default="unet",
                        help="unet, unet_plus_plus or unet_3plus (or an alias)")
    parser.add_argument("--encoder", default="plain")
    parser.add_argument("--filters", type=int, default=32, help="plain encoder base width")
    parser.add_argument("--loss", default="dice_ce", choices=["dice_ce", "hybrid"],
                        help="dice_ce: BCE + Dice; hybrid: focal + MS-SSIM + IoU (U-Net 3+)")
    parser.add_argument("--deep-supervision", action="store_true")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    started = time.time()
    scope = common.setup(args)
    import keras

    import zoo
    from zoo import losses, metrics
    from zoo.data import SegmentationDataset, load_isbi2012, paper_augmentation
    from zoo.training import SegmentationValidation

    train = load_isbi2012(args.data, slices=args.train_slices)
    val = load_isbi2012(args.data, slices=args.val_slices)
    epochs = max(1, -(-args.steps // args.checkpoint_every))
    dataset = SegmentationDataset(train.images, train.membranes, patch_size=args.patch,
                                  batch_size=args.batch_size, steps=args.checkpoint_every,
                                  augment=paper_augmentation(rotate=15), seed=args.seed,
                                  workers=args.workers)

    def build():
        kwargs = {"input_shape": (None, None, 1), "num_classes": 1, "encoder": args.encoder,
                  "batch_norm": True}
        if args.encoder in ("plain", "vanilla"):
            kwargs["filters"] = args.filters
        if args.deep_supervision:
            kwargs["deep_supervision"] = True
        model = zoo.build(args.model, **kwargs)
        loss = (losses.HybridLoss() if args.loss == "hybrid"
                else losses.WeightedCrossEntropy() + losses.DiceLoss())
        schedule = keras.optimizers.schedules.CosineDecay(args.lr, epochs * args.checkpoint_every,
                                                          alpha=0.05)
        compile_args = (losses.deep_supervision(model, loss) if args.deep_supervision
                        else {"loss": loss})
        model.compile(keras.optimizers.Adam(schedule), metrics=[metrics.IoU()], **compile_args)
        return model

    validation = SegmentationValidation(
        val.images, val.membranes, args.out, isbi_labels=val.labels,
        every=args.val_every or epochs, tile_kwargs={"tile_size": 256, "overlap": 64})
    return common.train_and_score(args, scope, build, dataset, validation, started)


if __name__ == "__main__":
    main()
