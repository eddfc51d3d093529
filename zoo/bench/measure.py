"""Speed and memory of one model, and interleaved zoo/peer ratios, in the current process.

Timing rules: the first ``warmup`` calls (graph tracing, compilation) are not
timed; every timed call ends by copying its result to the host, so queued
device work is inside the measurement. Throughput is images per second as
the median and the min-max over the timed calls. Training FLOPs are counted
as 3x the forward FLOPs (the backward pass costs about twice the forward).
"""

from __future__ import annotations

import statistics
import tempfile
import time

import keras
import numpy as np

from .. import machine
from ..flops import count_flops
from . import subjects

TRAIN_FLOPS_PER_FORWARD = 3


def batch_arrays(model, batch: int, seed: int = 0):
    """A random image batch for ``model`` and binary targets of its output size."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, *model.input_shape[1:]), dtype=np.float32)
    out = model.outputs[0].shape
    return x, (rng.random((batch, *out[1:3], 1)) > 0.5).astype("float32")


def compile_for_speed(model):
    """Adam + binary cross-entropy on every output, Keras' default ``jit_compile``."""
    loss = ["binary_crossentropy"] * len(model.outputs)
    model.compile(keras.optimizers.Adam(1e-4), loss=loss if len(loss) > 1 else loss[0])
    return model


def _targets(model, y):
    return [y] * len(model.outputs) if len(model.outputs) > 1 else y


def _sync(result):
    first = result[0] if isinstance(result, (list, tuple)) else result
    if isinstance(first, dict):
        first = next(iter(first.values()))
    return keras.ops.convert_to_numpy(first)


def timed_calls(call, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        _sync(call())
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float], images: int) -> dict:
    """Images/s as median and min-max over ``times`` (seconds per call)."""
    rates = sorted(images / t for t in times)
    return {"img_per_s": statistics.median(rates), "img_per_s_min": rates[0],
            "img_per_s_max": rates[-1], "step_s": statistics.median(times), "n": len(times)}


class StepTimer(keras.callbacks.Callback):
    """Times every training batch of a ``model.fit`` run from one batch end to the next
    (data loading and per-batch callbacks included)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.last = time.perf_counter()
        self.intervals = []

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        self.intervals.append(now - self.last)
        self.last = now

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds = time.perf_counter() - self.epoch_start


def fit_loop(model, images, masks, *, batch: int, steps: int, workers: int = 2,
             augment: bool = True, seed: int = 0) -> dict:
    """Throughput inside the real ``model.fit``: a :class:`SegmentationDataset` of random
    crops with the paper's augmentation (mirrored context for valid-padding models),
    the library's checkpoint callback, two epochs of ``steps`` batches; the second is
    measured (the first compiles)."""
    from ..data import SegmentationDataset, paper_augmentation
    from ..training import AtomicCheckpoint

    size, out = model.input_shape[1], model.outputs[0].shape[1]
    dataset = SegmentationDataset(images, masks, patch_size=out, margin=(size - out) // 2,
                                  batch_size=batch, steps=steps,
                                  augment=paper_augmentation() if augment else None,
                                  seed=seed, workers=workers)
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as run_dir:
        model.fit(dataset, epochs=2, verbose=0,
                  callbacks=[timer, AtomicCheckpoint(run_dir)])
    result = summary(timer.intervals, batch)
    result["epoch_img_per_s"] = batch * steps / timer.epoch_seconds
    return result


def speed_cell(spec: dict, data) -> dict:
    """Parameters, FLOPs, isolated train and inference throughput, the fit loop, memory."""
    baseline = machine.peak_rss_mb()
    peak = machine.matmul_peak_gflops()
    model = compile_for_speed(subjects.build(spec["subject"], spec["size"],
                                             options=spec.get("options")))
    flops = count_flops(model)
    x, y = batch_arrays(model, spec["batch"])
    x_infer = batch_arrays(model, spec.get("infer_batch", spec["batch"]))[0]
    record = {"params": model.count_params(), "gflops_per_image": flops / 1e9,
              "matmul_peak": peak}
    start = time.perf_counter()
    _sync(model.train_on_batch(x, _targets(model, y)))
    record["first_train_step_s"] = time.perf_counter() - start
    timed_calls(lambda: model.train_on_batch(x, _targets(model, y)), spec["warmup"] - 1)
    record["train"] = summary(
        timed_calls(lambda: model.train_on_batch(x, _targets(model, y)), spec["steps"]),
        spec["batch"])
    timed_calls(lambda: model.predict_on_batch(x_infer), spec["warmup"])
    record["inference"] = summary(timed_calls(lambda: model.predict_on_batch(x_infer),
                                              spec["steps"]), len(x_infer))
    if spec.get("fit_steps"):
        record["fit"] = fit_loop(model, data.images, data.targets,
                                 batch=spec["batch"], steps=spec["fit_steps"],
                                 workers=spec.get("workers", 2))
    for part, factor in (("train", TRAIN_FLOPS_PER_FORWARD), ("inference", 1), ("fit", 3)):
        if part in record:
            rate = record[part]["img_per_s"] * flops * factor / 1e9
            record[part]["gflops_per_s"] = rate
            record[part]["utilisation"] = rate / peak["gflops"]
    record["peak_rss_mb"] = machine.peak_rss_mb()
    record["peak_rss_above_import_mb"] = record["peak_rss_mb"] - baseline
    record["device_peak_mb"] = machine.device_peak_memory_mb()
    return record


def _call(side: dict, part: str):
    model, x, y = side["model"], side["x"], side["y"]
    if part == "train":
        return lambda: model.train_on_batch(x, _targets(model, y))
    return lambda: model.predict_on_batch(x)


def pair_cell(spec: dict) -> dict:
    """Zoo model A and peer B in one process, timed alternately (A B A B ...), so machine
    noise hits both; ratios are A's throughput over B's, raw and per FLOP."""
    size, batch = spec["size"], spec["batch"]
    sides = {}
    for role in ("zoo", "peer"):
        model = compile_for_speed(subjects.build(spec[role], size))
        x, y = batch_arrays(model, batch)
        sides[role] = {"x": x, "y": y, "model": model, "params": model.count_params(),
                       "gflops_per_image": count_flops(model) / 1e9,
                       "train": [], "inference": []}
        for part in ("train", "inference"):
            timed_calls(_call(sides[role], part), spec["warmup"])
    for part in ("train", "inference"):
        for _ in range(spec["steps"]):
            for side in sides.values():
                side[part] += timed_calls(_call(side, part), 1)
    record = {"matmul_peak": machine.matmul_peak_gflops()}
    for role, side in sides.items():
        record[role] = {"subject": spec[role], "params": side["params"],
                        "gflops_per_image": side["gflops_per_image"],
                        "train": summary(side["train"], batch),
                        "inference": summary(side["inference"], batch)}
    flop_ratio = sides["zoo"]["gflops_per_image"] / sides["peer"]["gflops_per_image"]
    for part in ("train", "inference"):
        raw = record["zoo"][part]["img_per_s"] / record["peer"][part]["img_per_s"]
        # Per-step ratios of interleaved neighbours, for the spread of the ratio itself.
        steps = sorted(p / z for z, p in zip(sides["zoo"][part], sides["peer"][part],
                                             strict=True))
        record[f"{part}_ratio"] = raw
        record[f"{part}_ratio_min"], record[f"{part}_ratio_max"] = steps[0], steps[-1]
        record[f"{part}_ratio_per_flop"] = raw * flop_ratio
    record["flop_ratio"] = flop_ratio
    record["note"] = subjects.peer_note(spec["peer"])
    return record
