"""Where the time goes between an isolated train step and the recipe's ``model.fit`` loop.

    python benchmarks/fit_loop.py [--steps 3] [--rounds 3] [--size 256] [--batch 4]

The ISBI recipe's U-Net (plain, 32 filters, batch norm), one process, each
variant adding one ingredient of the recipe's loop; median seconds per step
over ``--steps`` steps after a warm-up. Writes benchmarks/results/fit_loop.json
and .md with the machine and its matmul peak measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import zoo  # noqa: E402
from zoo import (  # noqa: E402
    losses,
    machine,  # noqa: E402
    metrics,
)
from zoo.bench.cell import load_data  # noqa: E402
from zoo.bench.measure import StepTimer  # noqa: E402
from zoo.data import SegmentationDataset, paper_augmentation  # noqa: E402
from zoo.training import SegmentationValidation, save_model_atomic  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def recipe_model(size):
    model = zoo.unet((size, size, 1), 1, encoder_options={"filters": 32}, batch_norm=True)
    model.compile(keras.optimizers.Adam(1e-3), metrics=[metrics.IoU()],
                  loss=losses.WeightedCrossEntropy() + losses.DiceLoss())
    return model


def isolated(model, x, y, steps):
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return times


def fitted(model, data, callbacks=()):
    timer = StepTimer()
    model.fit(data, epochs=1, verbose=0, callbacks=[timer, *callbacks])
    return timer.intervals


def seconds(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3, help="steps per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--data", help="ISBI 2012 folder (default: zoo.data.locate's)")
    args = parser.parse_args()
    n, size, batch = args.steps, args.size, args.batch
    data = load_data({"data": args.data or zoo.data.locate("isbi2012"), "size": size})
    peak = machine.matmul_peak_gflops()
    x = np.random.default_rng(0).random((batch, size, size, 1), dtype=np.float32)
    y = (x > 0.5).astype("float32")

    def dataset(augment=True, workers=1):
        return SegmentationDataset(data.images, data.targets, patch_size=size,
                                   batch_size=batch, steps=n,
                                   augment=paper_augmentation(rotate=15) if augment else None,
                                   workers=workers)

    model = recipe_model(size)
    model.train_on_batch(x, y)  # compile once; every variant reuses the traced step
    fitted(model, FixedBatch(x, y, 1))
    names = {"train_on_batch (isolated step)": lambda: isolated(model, x, y, n),
             "fit, the same in-memory batch": lambda: fitted(model, FixedBatch(x, y, n)),
             "fit, crops, no augmentation": lambda: fitted(model, dataset(False)),
             "fit, crops + paper augmentation (recipe)": lambda: fitted(model, dataset()),
             "fit, crops + augmentation, workers=2 threads": lambda: fitted(
                 model, dataset(workers=2))}
    rows = {name: [] for name in names}
    for _ in range(args.rounds):  # interleaved: machine noise hits every variant alike
        for name, run in names.items():
            rows[name] += run()
    crops = dataset()
    rows["data only: one batch of crops + augmentation"] = [seconds(lambda i=i: crops[i])
                                                            for i in range(n)]
    validation = SegmentationValidation(data.val_images, data.val_targets, tempfile.mkdtemp(),
                                        isbi_labels=data.val_labels,
                                        tile_kwargs={"tile_size": 256, "overlap": 64})
    with tempfile.TemporaryDirectory() as tmp:
        once = {"validation pass (5 slices, tiled, ISBI scores)": seconds(
                    lambda: validation.scores(model)),
                "checkpoint save (model + optimizer)": seconds(
                    lambda: save_model_atomic(model, Path(tmp) / "c.keras"))}
    flops = zoo.count_flops(model)
    record = {"machine": machine.describe(), "matmul_peak": peak, "size": size, "batch": batch,
              "steps": n, "rounds": args.rounds, "gflops_per_image": flops / 1e9,
              "backend": keras.backend.backend(), "once_s": once,
              "command": f"python benchmarks/fit_loop.py --steps {n} --rounds {args.rounds} "
                         f"--size {size} --batch {batch}",
              "rows": {k: {"median_s": statistics.median(v), "mean_s": statistics.fmean(v),
                           "min_s": min(v), "max_s": max(v)} for k, v in rows.items()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fit_loop.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = ["# Fit loop versus isolated step", "", f"`{record['command']}` on "
             f"{record['machine']['label']}, {time.strftime('%Y-%m-%d')}, backend "
             f"{record['backend']}; matmul peak {peak['gflops']:.0f} GFLOP/s; the ISBI "
             f"recipe's U-Net (32 filters + BN, {flops / 1e9:.1f} GFLOP per {size}^2 image), "
             f"batch {batch}, BCE + Dice, IoU metric; variants interleaved over "
             f"{args.rounds} rounds of {n} steps on one compiled model.", "",
             "| variant | median s/step | mean | min-max | train % of peak |",
             "| --- | --- | --- | --- | --- |"]
    for k, v in record["rows"].items():
        util = ("-" if k.startswith("data") else
                f"{100 * 3 * flops * batch / v['median_s'] / 1e9 / peak['gflops']:.0f}")
        lines.append(f"| {k} | {v['median_s']:.3f} | {v['mean_s']:.3f} | "
                     f"{v['min_s']:.3f}-{v['max_s']:.3f} | {util} |")
    lines += ["", "| once per checkpoint interval | seconds |", "| --- | --- |",
              *(f"| {k} | {v:.1f} |" for k, v in once.items())]
    (RESULTS / "fit_loop.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


class FixedBatch(keras.utils.PyDataset):
    """The same in-memory batch ``steps`` times (no data work at all)."""

    def __init__(self, x, y, steps):
        super().__init__()
        self.x, self.y, self.steps = x, y, steps

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        return self.x, self.y


if __name__ == "__main__":
    main()
