"""ISBI 2012 the way Ronneberger et al. 2015 trained it.

    python -m recipes.isbi2012_paper --out runs/paper --steps 2000

The unpadded U-Net (572x572 input tiles, 388x388 output, 2-class softmax),
pixel-wise cross-entropy weighted by the border weight map (w0 = 10,
sigma = 5 px, balanced class weights; Eq. 2), SGD with momentum 0.99 and a
batch of one large tile (Sec. 3), the paper's augmentation (shift, rotation,
flips, gray values, elastic deformation on a 3x3 grid with 10 px std;
Sec. 3.1), and overlap-tile evaluation with mirror padding (Fig. 2) on the
validation slices. Slices 0..19 train, 20..24 validate. The paper trained
10 h on a GPU; on a CPU expect a few seconds per step.
"""

from __future__ import annotations

from . import _cli


def parse(argv=None):
    # The paper gives momentum 0.99 but no learning rate; 0.01 stalled here (the loss stayed
    # at 1.09 for 100 steps), 0.001 trains.
    parser = _cli.base_parser(__doc__, steps=2000, checkpoint_every=100, lr=1e-3,
                                batch_size=1, patch=None)
    _cli.add_isbi2012_arguments(parser)
    parser.add_argument("--input-size", type=int, default=572,
                        help="input tile side, 188 + 16k (572 -> 388 output)")
    parser.add_argument("--filters", type=int, default=64, help="64 in the paper")
    parser.add_argument("--w0", type=float, default=10.0)
    parser.add_argument("--sigma", type=float, default=5.0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    scope = _cli.setup(args)
    import keras

    import zoo
    from zoo import losses, metrics
    from zoo.data import SegmentationDataset, load_isbi2012, paper_augmentation, unet_weight_map
    from zoo.training import SegmentationValidation

    output_size = zoo.unet_output_size(args.input_size)
    margin = (args.input_size - output_size) // 2
    train = load_isbi2012(args.data, slices=args.train_slices)
    val = load_isbi2012(args.data, slices=args.val_slices)
    weights = unet_weight_map(train.labels, w0=args.w0, sigma=args.sigma)
    epochs = max(1, -(-args.steps // args.checkpoint_every))
    dataset = SegmentationDataset(train.images, train.membranes, weights,
                                  patch_size=output_size, margin=margin,
                                  batch_size=args.batch_size, steps=args.checkpoint_every,
                                  augment=paper_augmentation(), seed=args.seed,
                                  workers=args.workers)

    def build():
        model = zoo.unet((args.input_size, args.input_size, 1), num_classes=2,
                         padding="valid", encoder_options={"filters": args.filters})
        model.compile(keras.optimizers.SGD(args.lr, momentum=0.99),
                      loss=losses.WeightedCrossEntropy(), metrics=[metrics.IoU(2, class_id=1)],
                      jit_compile=_cli.jit_compile())
        return model

    validation = SegmentationValidation(val.images, val.membranes, args.out,
                                        isbi_labels=val.labels, channel=1,
                                        every=args.val_every or epochs)
    return _cli.train(args, scope, build, dataset, validation)


if __name__ == "__main__":
    main()
