"""Training options shared by ``zoo train`` and the recipes: arguments, precision,
distribution, the optimizer and the compiled model.

Training itself, its run directory and its record belong to ``zoo.training.train``.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from zoo import checks


def slice_range(text: str) -> list[int]:
    """'0-19' -> [0, ..., 19]; '3,5,7' -> [3, 5, 7]."""
    if "-" in text:
        first, last = (int(v) for v in text.split("-"))
        return list(range(first, last + 1))
    return [int(v) for v in text.split(",")]


def add_isbi2012_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --train-slices and --val-slices with the library's defaults."""
    from zoo.data import isbi2012

    def span(r):
        return f"{r.start}-{r.stop - 1}"

    parser.add_argument("--data", type=Path, default=isbi2012.DEFAULT_ROOT,
                        help="ISBI 2012 folder (PNG or TIFF layout)")
    parser.add_argument("--train-slices", type=slice_range,
                        default=span(isbi2012.TRAIN_SLICES))
    parser.add_argument("--val-slices", type=slice_range, default=span(isbi2012.VAL_SLICES))


def add_model_arguments(parser: argparse.ArgumentParser, *, filters: int) -> None:
    """--model, --encoder, --filters and --encoder-option; ``filters`` is the recipe's
    base width for encoders that take one (the plain encoder), applied where accepted."""
    parser.add_argument("--model", default="unet",
                        help="a registered model (zoo.list_models()) or an alias")
    parser.add_argument("--encoder", default="plain",
                        help="a registered encoder (zoo.list_encoders())")
    parser.add_argument("--filters", type=int, default=None,
                        help=f"base width of an encoder that takes one (plain; the recipe "
                        f"uses {filters}); refused by encoders without that option")
    parser.add_argument("--encoder-option", action="append", default=[], metavar="KEY=VALUE",
                        type=key_value, help="any encoder option, e.g. batch_norm=False "
                        "(repeatable; values are Python literals)")
    parser.set_defaults(encoder_options={"filters": filters})


def key_value(text: str) -> tuple[str, object]:
    import ast

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key.strip(), value


def encoder_options(args) -> dict:
    """The encoder options of a parsed command line.

    The recipe's (or preset's) implied options reach the encoder only where it
    takes them, so ``--encoder resnet34`` works with a preset made for the plain
    encoder; an explicit ``--filters`` or ``--encoder-option`` always reaches it,
    and an encoder without that option refuses it, naming the ones it accepts.
    """
    import zoo

    accepted = zoo.get_encoder(args.encoder).options
    options = {k: v for k, v in args.encoder_options.items() if k in accepted}
    if args.filters is not None:
        options["filters"] = args.filters
    options.update(dict(args.encoder_option))
    return options


def positive_int(text: str) -> int:
    """An argparse type: ``zoo.checks.positive_int`` of the text (``--steps 0`` is
    refused, not run)."""
    try:
        return checks.positive_int(int(text), "the value")
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None


def base_parser(description: str, *, steps: int, checkpoint_every: int, lr: float,
                batch_size: int, patch: int | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, "
                        "state.json, best.keras, model.keras, metrics.json)")
    parser.add_argument("--steps", type=positive_int, default=steps, help="training steps in total")
    parser.add_argument("--train-minutes", type=float,
                        help="also stop after this much training time (validation excluded)")
    parser.add_argument("--checkpoint-every", type=positive_int, default=checkpoint_every,
                        help="steps between atomic checkpoints (and validations)")
    parser.add_argument("--val-every", type=int, default=1,
                        help="validate every N checkpoints (0: only at the end)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--batch-size", type=positive_int, default=batch_size)
    if patch is not None:
        parser.add_argument("--patch", type=positive_int, default=patch, help="training crop side")
    parser.add_argument("--lr", type=float, default=lr, help="initial learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_float16", "mixed_bfloat16"])
    parser.add_argument("--xla", choices=["on", "off"], default="on",
                        help="compile the steps with XLA (TensorFlow; JAX always does) or run "
                        "TensorFlow's own kernels: on a CPU with AMX those ran the best "
                        "recipe's 32-filter step in mixed_bfloat16 3.4x faster than float32 XLA "
                        "(benchmarks/results/precision_speed_*.md); free to change on --resume")
    parser.add_argument("--distribute", action="store_true",
                        help="data-parallel over all local devices (JAX: keras.distribution; "
                        "TensorFlow: the recipes' mirrored strategy, recipes/_cli.py)")
    parser.add_argument("--keep", choices=["best", "last"], default="best",
                        help="the model kept as model.keras and scored: the best validation "
                        "checkpoint, or the last one (no selection on the validation slices)")
    parser.add_argument("--tta", choices=["flips", "d4"], help="test-time augmentation")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="data loading threads (2 overlaps augmentation with the step)")
    parser.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    return parser


def setup(args):
    """Seed, precision and (``--distribute``, JAX) data parallelism; returns the
    context to build models in. The TensorFlow mirrored strategy lives in
    ``recipes/_cli.py`` (``zoo`` uses Keras' public API only)."""
    import keras

    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(args.precision)
    if args.xla == "off" and keras.backend.backend() == "jax":
        raise ValueError("--xla off runs TensorFlow's (or PyTorch's) own kernels; JAX always "
                         "compiles with XLA: pass --xla on (also over a preset's, e.g. "
                         "--recipe best_amx), or run with KERAS_BACKEND=tensorflow")
    if not args.distribute:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    if backend != "jax":
        raise ValueError(f"--distribute uses keras.distribution, which the {backend} backend "
                         "lacks: run with KERAS_BACKEND=jax (or the recipes, which also "
                         "distribute on TensorFlow)")
    devices = keras.distribution.list_devices()
    if args.batch_size % len(devices):
        raise ValueError(f"--batch-size {args.batch_size} must be divisible by the "
                         f"{len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    print(f"data-parallel over {len(devices)} devices: {devices}", flush=True)
    return contextlib.nullcontext()


def compile_model(model, loss, *, lr: float, steps: int, ema: float = 0.0,
                  deep_supervision: bool = False, metrics=None):
    """Compile ``model`` as the recipes train it: Adam with a cosine decay of ``lr``
    over ``steps`` (to 5% of it), optionally an exponential moving average of the
    weights (``ema``: its momentum, e.g. 0.99; 0: off), ``loss`` on the mask (or on
    every head with ``deep_supervision``), IoU as the training metric, XLA."""
    import keras

    from zoo import losses
    from zoo import metrics as zoo_metrics

    schedule = keras.optimizers.schedules.CosineDecay(lr, steps, alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule, use_ema=ema > 0, ema_momentum=ema or 0.99)
    loss_args = losses.deep_supervision(model, loss) if deep_supervision else {"loss": loss}
    model.compile(optimizer, metrics=metrics or [zoo_metrics.IoU()], jit_compile=jit_compile(),
                  **loss_args)
    return model


def set_bn_momentum(model, momentum: float) -> None:
    """Set every batch normalisation's moving-average momentum, nested models included."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            set_bn_momentum(layer, momentum)
        elif isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def jit_compile():
    """The recipes compile with XLA on TensorFlow (and JAX, which always compiles).

    Keras' "auto" leaves XLA off on a TensorFlow CPU, where the recipe's
    ``model.fit`` over a ``SegmentationDataset`` ran a 16-filter U-Net's step at
    2.45 s and 1.50 s with XLA (``benchmarks/results/fit_trace.md``, a 2-core AMD
    EPYC, 2026-11-26). PyTorch keeps "auto". On a CPU with AMX, TensorFlow's own
    kernels won instead (``--xla off``, ``benchmarks/results/precision_speed_*.md``).
    """
    import keras

    return True if keras.backend.backend() in ("tensorflow", "jax") else "auto"


def train(args, scope, build, dataset, validation=None, info=None) -> dict:
    """``zoo.training.train`` in the distribution scope with the parsed arguments; the
    run's record names the machine and its float32 matmul GFLOP/s measured at the start
    of each call (``sessions``), the reference its training seconds are read against."""
    from zoo import training
    from zoo.bench import machine

    budget = args.train_minutes * 60 if args.train_minutes else None
    info = {"args": {k: str(v) for k, v in vars(args).items()}, **(info or {})}
    session = {"machine": machine.describe()["label"],
               "matmul_gflops": round(machine.matmul_peak_gflops()["gflops"], 1),
               "xla": args.xla}
    try:
        with scope:
            return training.train(build, dataset, args.out, steps=args.steps,
                                  validation=validation, resume=args.resume, budget_s=budget,
                                  keep=args.keep, tta=args.tta, verbose=args.verbose, info=info,
                                  session=session,
                                  jit_compile=None if args.xla == "on" else False)
    except FileExistsError as error:
        raise SystemExit(f"error: {error}") from None
