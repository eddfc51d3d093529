"""Why the recipe's fit loop ran slower than its isolated step: the first trace.

    python -m benchmarks.fit_trace [--filters 16] [--rounds 2]

Each variant builds a fresh plain U-Net (BN, 4 x 256^2 ISBI crops with the
border weight map, BCE-weighted + Dice) and times ``model.fit`` over a
``SegmentationDataset`` (median step of the second epoch, data prepared by 2
worker threads), as ``zoo train --preset isbi2012/best`` does:

- ``fit first, jit_compile auto``: the recipe before 2026-11-26;
- ``train_on_batch first, jit_compile auto``: one isolated step (static batch
  shape) before ``fit``, which is how ``benchmarks/fit_loop.py`` measured;
- ``fit first, jit_compile True`` (XLA): the recipes now.

Variants alternate over ``--rounds`` so machine drift hits all of them. Writes
``benchmarks/results/fit_trace.{json,md}`` with the machine and the matmul peak.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {"fit first, jit_compile auto": ("auto", False),
            "train_on_batch first, jit_compile auto": ("auto", True),
            "fit first, jit_compile True": (True, False)}


def time_variant(data, weights, filters, jit_compile, warm_with_batch) -> float:
    import keras
    import numpy as np

    import zoo
    from zoo.data import SegmentationDataset, paper_augmentation

    dataset = SegmentationDataset(data.images, data.membranes, weights, patch_size=256,
                                  batch_size=4, steps=8, augment=paper_augmentation(),
                                  workers=2)
    model = zoo.unet((None, None, 1), 1, encoder_options={"filters": filters}, batch_norm=True)
    model.compile(keras.optimizers.Adam(1e-3),
                  loss=zoo.losses.WeightedCrossEntropy() + zoo.losses.DiceLoss(),
                  metrics=[zoo.metrics.IoU()], jit_compile=jit_compile)
    if warm_with_batch:
        model.train_on_batch(*dataset[0])
    stamps = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            stamps.clear()
            stamps.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    model.fit(dataset, epochs=2, verbose=0, callbacks=[Clock()])
    return float(np.median(np.diff(stamps)))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS / "fit_trace.json")
    args = parser.parse_args(argv)

    import keras

    from zoo import machine
    from zoo.data import isbi2012, load_isbi2012, unet_weight_map

    data = load_isbi2012(args.data, slices=isbi2012.TRAIN_SLICES)
    weights = unet_weight_map(data.labels, w0=10.0, sigma=5.0)
    times = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, (jit, warm) in VARIANTS.items():
            times[name].append(time_variant(data, weights, args.filters, jit, warm))
            print(f"{name}: {times[name][-1]:.3f} s/step", flush=True)
    record = {"command": "python -m benchmarks.fit_trace", "args": vars(args) | {
        "data": str(args.data), "out": str(args.out)},
        "backend": keras.backend.backend(), "machine": machine.describe(),
        "matmul_peak": machine.matmul_peak_gflops(),
        "median_s_per_step": {k: statistics.median(v) for k, v in times.items()},
        "rounds": times}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    lines = [f"`python -m benchmarks.fit_trace` ({record['backend']}, "
             f"{record['machine']['label']}, matmul peak "
             f"{record['matmul_peak']['gflops']:.0f} GFLOP/s), plain U-Net {args.filters} "
             "filters, 4 x 256^2:", "", "| variant | median s/step | per round |",
             "| --- | --- | --- |"]
    lines += [f"| {k} | {record['median_s_per_step'][k]:.3f} | "
              f"{', '.join(f'{t:.3f}' for t in v)} |" for k, v in times.items()]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return record


if __name__ == "__main__":
    main()
