"""First (compiling) and steady training-step times of the worked example's models.

    python -m benchmarks.step_compile            # every case below, each in its own process

A case is (model, encoder, backend, XLA): the model built for 11 classes on
(None, None, 3) input, compiled as ``zoo train`` compiles it (Adam, cosine decay,
``zoo.metrics.IoU(11)``), then ``train_on_batch`` on a random batch of 8 128x128
images: the first call (tracing and compilation) and the median of 5 more. Each case
runs alone in a fresh process; the record ``results/step_compile.{json,md}`` names
the machine and its float32 matmul rate measured in the same run, and forward GFLOPs
per image (``zoo.count_flops``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS = Path(__file__).parent / "results"
CASES = [("unet", "resnet34", "tensorflow", "on"),
         ("deeplabv3_plus", "resnet34", "tensorflow", "on"),
         ("deeplabv3_plus", "resnet34", "tensorflow", "off"),
         ("hrnet", "hrnet_w18", "tensorflow", "off"), ("deeplabv3_plus", "resnet34", "jax", "on"),
         ("hrnet", "hrnet_w18", "jax", "on")]
BATCH, SIDE, CLASSES = 8, 128, 11


def measure(model_name: str, encoder: str, xla: str) -> dict:
    """One case in this process (its backend chosen by KERAS_BACKEND)."""
    import keras
    import numpy as np

    import zoo
    from zoo.training import compile_model

    model = zoo.build(model_name, input_shape=(None, None, 3), num_classes=CLASSES,
                      encoder=encoder)
    compile_model(model, "categorical_crossentropy", lr=1e-3, steps=100,
                  metrics=[zoo.metrics.IoU(CLASSES)], jit_compile=xla == "on")
    rng = np.random.default_rng(0)
    x = rng.random((BATCH, SIDE, SIDE, 3), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, CLASSES, (BATCH, SIDE, SIDE)), CLASSES)
    start = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - start
    steps = []
    for _ in range(5):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        steps.append(time.perf_counter() - start)
    fixed = zoo.build(model_name, input_shape=(SIDE, SIDE, 3), num_classes=CLASSES,
                      encoder=encoder)
    return {"first_step_s": round(first, 1), "step_s": round(float(np.median(steps)), 3),
            "gflops_per_image": round(zoo.count_flops(fixed) / 1e9, 2)}


def main() -> int:
    if len(sys.argv) == 4:  # a case, in its own process
        print(json.dumps(measure(*sys.argv[1:])))
        return 0
    from zoo import machine

    record = {"machine": machine.describe()["label"],
              "matmul_gflops": round(machine.matmul_peak_gflops()["gflops"], 1),
              "command": "python -m benchmarks.step_compile", "batch": BATCH, "side": SIDE,
              "classes": CLASSES, "cases": []}
    for model_name, encoder, backend, xla in CASES:
        out = subprocess.run([sys.executable, "-m", "benchmarks.step_compile", model_name,
                              encoder, xla], env={**os.environ, "KERAS_BACKEND": backend},
                             capture_output=True, text=True, check=True).stdout
        record["cases"].append({"model": f"{model_name}/{encoder}", "backend": backend,
                                "xla": xla, **json.loads(out.strip().splitlines()[-1])})
        (RESULTS / "step_compile.json").write_text(json.dumps(record, indent=1) + "\n")
    lines = [f"Machine: {record['machine']} (float32 matmul {record['matmul_gflops']} GFLOP/s, "
             f"same run); batch {BATCH} of {SIDE}x{SIDE}, {CLASSES} classes", "",
             "| model | backend | XLA | forward GFLOP/image | first step s | step s |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {c['model']} | {c['backend']} | {c['xla']} | {c['gflops_per_image']} | "
              f"{c['first_step_s']} | {c['step_s']} |" for c in record["cases"]]
    (RESULTS / "step_compile.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
