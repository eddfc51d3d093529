"""A Cell Tracking Challenge 2D set (PhC-C2DH-U373, DIC-C2DH-HeLa) with a same-padding model.

    python -m recipes.ctc --data PhC-C2DH-U373 --sequence 01 --out runs/u373

Reads ``DATA/01/tNNN.tif`` with ``DATA/01_GT/SEG/man_segNNN.tif`` instance
labels (see ``zoo.data.load_ctc``); the target is the cell mask, and the U-Net
border weight map (w0 = 10, sigma = 5) weights a cross-entropy + Dice loss, as
the paper separates touching cells. The last ``--val-fraction`` of annotated
frames validate (IoU, Dice; the challenge's measure is IoU-based). Adam with
cosine decay, atomic checkpoints, ``--resume``; results in ``metrics.json``.
"""

from __future__ import annotations

from pathlib import Path

from . import _cli


def parse(argv=None):
    parser = _cli.base_parser(__doc__, steps=1000, checkpoint_every=100, lr=1e-3,
                                batch_size=4, patch=256)
    parser.add_argument("--data", type=Path, required=True, help="the data set folder")
    parser.add_argument("--sequence", default="01")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    _cli.add_model_arguments(parser, filters=32)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    scope = _cli.setup(args)
    import zoo
    from zoo import losses
    from zoo.data import SegmentationDataset, load_ctc, paper_augmentation
    from zoo.training import SegmentationValidation

    data = load_ctc(args.data, args.sequence)
    count = len(data.frames)
    n_val = max(1, round(count * args.val_fraction)) if count > 1 else 0
    if n_val == 0:
        raise SystemExit(f"{args.data} has {count} annotated frame(s): too few to validate")
    cut = count - n_val
    weights = data.weight_maps()
    masks = data.masks
    epochs = max(1, -(-args.steps // args.checkpoint_every))
    dataset = SegmentationDataset(data.images[:cut], masks[:cut], weights[:cut],
                                  patch_size=args.patch, batch_size=args.batch_size,
                                  steps=args.checkpoint_every, augment=paper_augmentation(),
                                  seed=args.seed, workers=args.workers)

    def build():
        model = zoo.build(args.model, input_shape=(None, None, 1), num_classes=1,
                          encoder=args.encoder, batch_norm=True,
                          encoder_options=_cli.encoder_options(args))
        return _cli.compile_model(model, losses.WeightedCrossEntropy() + losses.DiceLoss(),
                                  lr=args.lr, steps=epochs * args.checkpoint_every)

    tile = min(256, *data.images.shape[1:3])
    tile -= tile % 32
    validation = SegmentationValidation(
        data.images[cut:], masks[cut:], args.out, monitor="val_iou",
        every=args.val_every or epochs, tile_kwargs={"tile_size": tile, "overlap": tile // 4})
    return _cli.train(args, scope, build, dataset, validation,
                      info={"train_frames": data.frames[:cut], "val_frames": data.frames[cut:]})


if __name__ == "__main__":
    main()
