"""What a model's first build costs on JAX in a fresh process, without and with JAX's
persistent compilation cache, against TensorFlow.

    python -m benchmarks.jax_build_cache [--repeats 3]

JAX compiles every new shape, each weight initializer's included (Keras draws the initial
weights with ``jax.random``), so a fresh process pays for one XLA compilation per distinct
weight shape before the model exists. Each figure is the median wall time of building the
model in a fresh process (imports excluded): TensorFlow; JAX with no cache; JAX with
``JAX_COMPILATION_CACHE_DIR`` set and ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0`` (the
cache filled by one earlier process). Writes ``benchmarks/results/jax_build_cache.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {  # name: zoo.build arguments
    "unet/plain 8 filters, 32^2": ("unet", {"input_shape": (32, 32, 1), "encoder": "plain",
                                            "encoder_options": {"filters": 8}}),
    "unet/resnet34, 256^2": ("unet", {"input_shape": (256, 256, 1), "encoder": "resnet34"}),
    "unet_plus_plus/resnet34, 256^2": ("unet_plus_plus", {"input_shape": (256, 256, 1),
                                                          "encoder": "resnet34"}),
}
CHILD = """
import json, sys, time
import zoo
name, kwargs = json.loads(sys.argv[1])
kwargs["input_shape"] = tuple(kwargs["input_shape"])
start = time.perf_counter()
zoo.build(name, num_classes=1, batch_norm=True, **kwargs)
print(json.dumps(time.perf_counter() - start))
"""


def _build_seconds(backend: str, model: tuple, cache: str | None) -> float:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "NO_ALBUMENTATIONS_UPDATE": "1"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if cache:
        env.update(JAX_COMPILATION_CACHE_DIR=cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(model)], env=env,
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "jax_build_cache.json")
    args = parser.parse_args(argv)

    from zoo import machine

    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for label, model in MODELS.items():
            _build_seconds("jax", model, cache)  # fills the cache
            seconds = {"tensorflow": [], "jax, no cache": [], "jax, cache filled": []}
            for _ in range(args.repeats):  # alternated, so drift hits each alike
                seconds["tensorflow"].append(_build_seconds("tensorflow", model, None))
                seconds["jax, no cache"].append(_build_seconds("jax", model, None))
                seconds["jax, cache filled"].append(_build_seconds("jax", model, cache))
            rows.append({"model": label, **{k: statistics.median(v) for k, v in
                                            seconds.items()}})
    record = {"command": "python -m benchmarks.jax_build_cache", "repeats": args.repeats,
              "machine": machine.describe(), "matmul_peak": machine.matmul_peak_gflops(),
              "rows": rows}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    label = (f"{record['machine']['label']}, float32 matmul "
             f"{record['matmul_peak']['gflops']:.0f} GFLOP/s")
    lines = [f"# A model's first build in a fresh process ({label})", "",
             f"`{record['command']}`: median of {args.repeats} fresh processes, seconds to "
             "build (imports excluded).", "",
             "| model | TensorFlow | JAX, no cache | JAX, cache filled |",
             "| --- | --- | --- | --- |"]
    lines += [f"| {r['model']} | {r['tensorflow']:.2f} | {r['jax, no cache']:.2f} | "
              f"{r['jax, cache filled']:.2f} |" for r in rows]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return record


if __name__ == "__main__":
    main()
