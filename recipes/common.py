"""Command-line plumbing shared by the recipes: arguments, precision, distribution, results."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ISBI = ROOT / ".." / "shared" / "data" / "isbi2012"


def slice_range(text: str) -> list[int]:
    """'0-19' -> [0, ..., 19]; '3,5,7' -> [3, 5, 7]."""
    if "-" in text:
        first, last = (int(v) for v in text.split("-"))
        return list(range(first, last + 1))
    return [int(v) for v in text.split(",")]


def base_parser(description: str, *, steps: int, checkpoint_every: int, lr: float,
                batch_size: int, patch: int | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, "
                        "state.json, best.keras, model.keras, metrics.json)")
    parser.add_argument("--steps", type=int, default=steps, help="training steps in total")
    parser.add_argument("--checkpoint-every", type=int, default=checkpoint_every,
                        help="steps between atomic checkpoints (and validations)")
    parser.add_argument("--val-every", type=int, default=1,
                        help="validate every N checkpoints (0: only at the end)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    if patch is not None:
        parser.add_argument("--patch", type=int, default=patch, help="training crop side")
    parser.add_argument("--lr", type=float, default=lr, help="initial learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_float16", "mixed_bfloat16"])
    parser.add_argument("--distribute", action="store_true",
                        help="data-parallel over all local devices (JAX: keras.distribution; "
                        "TensorFlow: tf.distribute.MirroredStrategy)")
    parser.add_argument("--tta", choices=["flips", "d4"], help="test-time augmentation")
    parser.add_argument("--workers", type=int, default=2,
                        help="data loading threads (2 overlaps augmentation with the step)")
    parser.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2])
    return parser


def setup(args):
    """Seed, precision and distribution; returns the context to build models in."""
    import keras

    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(args.precision)
    if not args.distribute:
        return contextlib.nullcontext()
    backend = keras.backend.backend()
    if backend == "jax":
        devices = keras.distribution.list_devices()
        if args.batch_size % len(devices):
            raise SystemExit(f"--batch-size {args.batch_size} must be divisible by the "
                             f"{len(devices)} devices")
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        print(f"data-parallel over {len(devices)} devices: {devices}", flush=True)
        return contextlib.nullcontext()
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        print(f"data-parallel over {strategy.num_replicas_in_sync} replicas", flush=True)
        return strategy.scope()
    raise SystemExit(f"--distribute supports the JAX and TensorFlow backends, not {backend}")


def train_and_score(args, scope, build, dataset, validation, started: float,
                    extra=None) -> dict:
    """Resumable training in the distribution scope, then :func:`finish`."""
    from zoo.training import fit_resumable

    epochs = max(1, -(-args.steps // args.checkpoint_every))
    with scope:
        model, state = fit_resumable(build, dataset, args.out, epochs=epochs,
                                     resume=args.resume, callbacks=[validation],
                                     verbose=args.verbose)
        return finish(args, model, validation, state, started, extra)


def finish(args, model, validation, state, started: float, extra=None) -> dict:
    """Score the best model (by validation V_rand, else the last) and write the results."""
    import keras

    from zoo.training import BEST, save_model_atomic, write_json_atomic

    best_path = args.out / BEST
    if best_path.is_file():
        model = keras.saving.load_model(best_path)
    if args.tta:
        validation.tile_kwargs = {**validation.tile_kwargs, "tta": args.tta}
    scores = validation.scores(model)
    save_model_atomic(model, args.out / "model.keras")
    seconds = sum(h.get("seconds", 0.0) for h in state.get("history", []))
    record = {**scores, "steps": state.get("step"), "train_time_s": round(seconds, 1),
              "wall_time_s": round(time.time() - started, 1),
        "backend": keras.backend.backend(), "precision": args.precision,
        "args": {k: str(v) for k, v in vars(args).items()}, **(extra or {})}
    write_json_atomic(args.out / "metrics.json", record)
    print("final " + "  ".join(f"{k} {v:.4f}" for k, v in scores.items()), flush=True)
    return record
