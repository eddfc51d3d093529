"""The ``isbi2012/best`` preset's network in float32 and mixed_bfloat16, with XLA and without.

    python -m benchmarks.precision_speed [--filters 16 32] [--steps 5] [--rounds 3]

For each base width, the preset's compiled network (``zoo.training.build_model``:
plain U-Net, batch norm, weighted CE + Dice, Adam with EMA) under each policy, with
XLA (the recipe's default) and with TensorFlow's own kernels (``--xla off``);
median seconds per train step on the recipe's own batches (4 augmented 256^2 crops
with border weights) and per inference of one validation tile (640^2, batch 1),
variants interleaved over ``--rounds`` rounds after a warm-up. The float32 and
bfloat16 matmul peaks are measured in the same run: a CPU without bfloat16
arithmetic (AVX2 only) emulates it, one with AMX runs it natively. Run it with
``KERAS_BACKEND=tensorflow`` (JAX always compiles with XLA). Writes
benchmarks/results/precision_speed_<cpu>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo import machine, training  # noqa: E402
from zoo.data import (  # noqa: E402
    SegmentationDataset,
    load_isbi2012,
    paper_augmentation,
    unet_weight_map,
)

RESULTS = Path(__file__).resolve().parent / "results"
PRECISIONS = ("float32", "mixed_bfloat16")
XLA = (True, False)


def timed(call, *args, **kwargs):
    start = time.perf_counter()
    call(*args, **kwargs)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--filters", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--steps", type=int, default=5, help="steps per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", help="ISBI 2012 folder (default: zoo.data.locate's)")
    args = parser.parse_args()
    recipe = argparse.Namespace(**training.resolve(preset="isbi2012/best"))
    train = load_isbi2012(args.data, slices=range(20))
    weights = unet_weight_map(train.labels, w0=10.0, sigma=5.0)
    crops = SegmentationDataset(train.images, train.membranes, weights, patch_size=recipe.patch,
                                batch_size=recipe.batch_size, steps=args.steps,
                                augment=paper_augmentation(rotate=recipe.rotate,
                                                           elastic_sigma=recipe.elastic_sigma),
                                seed=0)
    batches = [crops[i] for i in range(args.steps)]
    tile = np.random.default_rng(0).random((1, recipe.val_tile, recipe.val_tile, 1),
                                           dtype=np.float32)
    peaks = {dtype: machine.matmul_peak_gflops(dtype=dtype) for dtype in ("float32", "bfloat16")}

    models, flops = {}, {}
    for filters in args.filters:
        config = training.resolve({"encoder_options": {"filters": filters}},
                                  preset="isbi2012/best")
        for precision in PRECISIONS:
            for xla in XLA:
                keras.mixed_precision.set_global_policy(precision)
                model = training.build_model(config, channels=1, steps=config["steps"])
                model.jit_compile = xla  # as zoo.training.train(jit_compile=...) sets it
                x, y, w = batches[0]
                model.train_on_batch(x, y, sample_weight=w)  # trace and compile
                model.predict_on_batch(tile)
                models[filters, precision, xla] = model
        flops[filters] = zoo.count_flops(zoo.build(  # the same network at the crop's size
            recipe.model, input_shape=(recipe.patch, recipe.patch, 1), num_classes=1,
            encoder=recipe.encoder, batch_norm=True, encoder_options={"filters": filters}))
    keras.mixed_precision.set_global_policy("float32")

    train_s = {key: [] for key in models}
    infer_s = {key: [] for key in models}
    for _ in range(args.rounds):  # interleaved: machine noise hits every variant alike
        for key, model in models.items():
            train_s[key] += [timed(model.train_on_batch, x, y, sample_weight=w)
                             for x, y, w in batches]
            infer_s[key] += [timed(model.predict_on_batch, tile) for _ in range(2)]

    rows = []
    for key in models:
        filters, precision, xla = key
        step = statistics.median(train_s[key])
        rows.append({"filters": filters, "precision": precision, "xla": xla,
                     "gflops_per_crop": flops[filters] / 1e9,
                     "train_s_per_step": step, "train_min_s": min(train_s[key]),
                     "train_max_s": max(train_s[key]),
                     "infer_s_per_tile": statistics.median(infer_s[key]),
                     "steps_in_2h": int(7200 / step),
                     "train_gflops": 3 * flops[filters] * recipe.batch_size / step / 1e9})
    described = machine.describe()
    command = (f"python -m benchmarks.precision_speed --filters "
               f"{' '.join(map(str, args.filters))} --steps {args.steps} --rounds {args.rounds}")
    record = {"machine": described, "matmul_peaks": peaks, "backend": keras.backend.backend(),
              "date": time.strftime("%Y-%m-%d"), "command": command,
              "batch": recipe.batch_size, "patch": recipe.patch, "tile": recipe.val_tile,
              "steps": args.steps, "rounds": args.rounds, "rows": rows}
    name = "precision_speed_" + re.sub(r"[^a-z0-9]+", "_", described["cpu"].lower()).strip("_")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = ["# The best recipe's network: float32 against mixed_bfloat16, XLA on and off", "",
             f"`{command}` on {described['label']}, {record['date']}, backend "
             f"{record['backend']}, Keras {described['versions']['keras']}; matmul peaks "
             f"measured in the same run: float32 {peaks['float32']['gflops']:.0f} GFLOP/s, "
             f"bfloat16 {peaks['bfloat16']['gflops']:.0f} GFLOP/s. Train: median of "
             f"{args.rounds} x {args.steps} steps of batch {recipe.batch_size} "
             f"({recipe.patch}^2 augmented crops with border weights); inference: one "
             f"{recipe.val_tile}^2 tile; variants interleaved.", "",
             "| filters | precision | XLA | GFLOP/crop | train s/step (min-max) "
             "| train GFLOP/s | steps in 2 h | inference s/tile |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['filters']} | {r['precision']} | {'on' if r['xla'] else 'off'} | "
              f"{r['gflops_per_crop']:.1f} | "
              f"{r['train_s_per_step']:.3f} ({r['train_min_s']:.3f}-{r['train_max_s']:.3f}) | "
              f"{r['train_gflops']:.0f} | {r['steps_in_2h']} | {r['infer_s_per_tile']:.3f} |"
              for r in rows]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
