"""The ``zoo`` command: ``zoo train``, ``zoo predict``, ``zoo evaluate``, ``zoo export``,
``zoo plot``, ``zoo bench``, ``zoo info``, ``zoo demo``, ``zoo data fetch`` and
``zoo data scenes``. A user error exits with 2 and one line naming it (``--debug``: the
traceback)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def info(_: argparse.Namespace) -> int:
    import keras

    import zoo

    print(f"unet-zoo {zoo.__version__}")
    print(f"keras {keras.__version__}, backend {keras.backend.backend()} "
          f"{_backend_version(keras.backend.backend())}")
    print("models:", ", ".join(zoo.list_models()))
    print("encoders:")
    for name, spec in zoo.list_encoders().items():
        aliases = f" (alias {', '.join(spec['aliases'])})" if spec["aliases"] else ""
        channels = ", ".join(f"{s}:{c}" for s, c in spec["channels"].items())
        print(f"  {name}{aliases}: channels by stride {{{channels}}}, "
              f"input range {spec['input_range']}")
    return 0


def _backend_version(backend: str) -> str:
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    if module is None:
        return ""
    return __import__(module).__version__


def demo(args: argparse.Namespace) -> int:
    """Train a small same-padding U-Net on synthetic cells; print held-out IoU and Dice."""
    import keras

    import zoo
    from zoo.data import synthetic_cells

    start = time.perf_counter()
    keras.utils.set_random_seed(args.seed)
    x_train, y_train, _ = synthetic_cells(args.train, args.size, seed=args.seed)
    x_test, y_test, _ = synthetic_cells(args.test, args.size, seed=args.seed + 10_000)
    model = zoo.unet((args.size, args.size, 1), num_classes=1, depth=args.depth,
                     encoder_options={"filters": args.filters}, batch_norm=True,
                     dropout=0.0)
    model.compile(optimizer=keras.optimizers.Adam(args.lr), loss="binary_crossentropy")
    print(f"U-Net depth {args.depth}, base filters {args.filters}: "
          f"{model.count_params():,} parameters; {args.train} training and {args.test} "
          f"held-out synthetic {args.size}x{args.size} images")
    model.fit(x_train, y_train[..., None], batch_size=args.batch_size, epochs=args.epochs,
              verbose=1 if sys.stdout.isatty() else 2)
    probs = model.predict(x_test, batch_size=args.batch_size, verbose=0)
    iou = zoo.evaluation.iou_score(y_test, probs[..., 0])
    dice = zoo.evaluation.dice_score(y_test, probs[..., 0])
    print(f"held-out IoU {iou:.4f}  Dice {dice:.4f}  "
          f"({time.perf_counter() - start:.0f} s, backend {keras.backend.backend()})")
    if args.save:
        model.save(args.save)
        print(f"saved {args.save}")
    return 0


def bench(args: argparse.Namespace) -> int:
    from zoo.bench import main as run_bench

    return run_bench(args)


def data_fetch(args: argparse.Namespace) -> int:
    from zoo.data.fetch import fetch

    checksums = dict(item.split("=", 1) for item in args.sha256)
    for path in fetch(args.name, args.to, base_url=args.base_url, checksums=checksums,
                      allow_unverified=args.allow_unverified):
        print(path)
    return 0


def data_scenes(args: argparse.Namespace) -> int:
    from zoo.data import write_scenes

    if args.out.exists() and any(args.out.iterdir()):
        raise FileExistsError(f"{args.out} is not empty; choose a new folder")
    path = write_scenes(args.out, args.n, args.size, args.seed, num_classes=args.num_classes)
    print(f"{args.n} scenes of {args.num_classes} classes -> {args.out} (images/, masks/, "
          f"colour_masks/ with classes.json, COCO {path.name})")
    return 0


class Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (exit code 2), like every other error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} "
                  "--help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="zoo", description=__doc__)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of one line")
    commands = parser.add_subparsers(dest="command", required=True)
    from zoo.commands import evaluate, export, plot, predict, train

    train.add_parser(commands)
    predict.add_parser(commands)
    evaluate.add_parser(commands)
    export.add_parser(commands)
    plot.add_parser(commands)
    b = commands.add_parser("bench", help="every model and its peers side by side: speed, "
                            "memory, ratios, accuracy (--quick: < 5 min)")
    from zoo.bench import add_arguments

    add_arguments(b)
    b.set_defaults(run=bench)
    commands.add_parser("info", help="versions, backend, registered models and encoders"
                        ).set_defaults(run=info)
    p = commands.add_parser("demo", help="train a small U-Net on synthetic cells (~1 min)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--train", type=int, default=128, help="training images")
    p.add_argument("--test", type=int, default=16, help="held-out images")
    p.add_argument("--size", type=int, default=96, help="image side (divisible by 2**depth)")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", metavar="PATH.keras", help="save the trained model")
    p.set_defaults(run=demo)
    data = commands.add_parser("data", help="data set tools").add_subparsers(
        dest="data_command", required=True)
    f = data.add_parser("fetch", help="download a data set (resumable, sha256-verified)")
    f.add_argument("name", choices=["isbi2012"])
    f.add_argument("--to", help="destination folder (default: the user cache, where zoo "
                   "train and zoo bench find it)")
    f.add_argument("--base-url", help="a mirror holding the same file names")
    f.add_argument("--sha256", action="append", default=[], metavar="NAME=HEX",
                   help="expected checksum of a file (repeatable)")
    f.add_argument("--allow-unverified", action="store_true",
                   help="download files that have no pinned checksum")
    f.set_defaults(run=data_fetch)
    g = data.add_parser("scenes", help="write synthetic multi-class scenes as competitions "
                        "ship data: images, class-id and colour masks, COCO annotations")
    g.add_argument("out", type=Path, help="a new folder")
    g.add_argument("--n", type=int, default=200, help="images")
    g.add_argument("--size", type=int, default=128, help="image side")
    g.add_argument("--num-classes", type=int, default=11, help="classes with the "
                   "background (2..11)")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(run=data_scenes)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2, one line)
        return done.code if isinstance(done.code, int) else 2
    try:
        return args.run(args)
    except Exception as error:  # every failure: one line and exit code 2
        if args.debug:
            raise
        print(f"zoo {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 2


def one_line(error: BaseException, limit: int = 600) -> str:
    """``error`` as one line: the message (prefixed by its type unless a ValueError or
    an OSError, the user errors), whitespace collapsed, cut at ``limit`` characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    if not isinstance(error, (ValueError, OSError)):
        text = f"{type(error).__name__}: {text} (zoo --debug ... shows the traceback)"
    return text if len(text) <= limit else text[:limit - 3] + "..."


if __name__ == "__main__":
    raise SystemExit(main())
