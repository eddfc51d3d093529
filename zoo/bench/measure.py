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

from .. import machine
from . import subjects
from .runners import make_runner

TRAIN_FLOPS_PER_FORWARD = 3


def timed_calls(call, count: int) -> list[float]:
    """Seconds of each of ``count`` calls of ``call`` (a runner's step, which syncs)."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()
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
    runner = make_runner(spec["subject"], spec)
    flops = runner.gflops_per_image * 1e9
    record = {"params": runner.params, "gflops_per_image": runner.gflops_per_image,
              "matmul_peak": peak, "threads": machine.threads()}
    (record["first_train_step_s"],) = timed_calls(runner.train, 1)
    timed_calls(runner.train, spec["warmup"] - 1)
    record["train"] = summary(timed_calls(runner.train, spec["steps"]), spec["batch"])
    timed_calls(runner.infer, spec["warmup"])
    record["inference"] = summary(timed_calls(runner.infer, spec["steps"]),
                                  spec.get("infer_batch", spec["batch"]))
    if spec.get("fit_steps"):
        record["fit"] = runner.fit(data.images, data.targets, batch=spec["batch"],
                                   steps=spec["fit_steps"], workers=spec.get("workers", 2))
    if spec["precision"] != "float32":  # the card's (or CPU's) half-precision matmul rate
        record["matmul_peak_half"] = machine.matmul_peak_gflops(
            dtype=spec["precision"].removeprefix("mixed_"))
    for part, factor in (("train", TRAIN_FLOPS_PER_FORWARD), ("inference", 1),
                         ("fit", TRAIN_FLOPS_PER_FORWARD)):
        if part in record:
            rate = record[part]["img_per_s"] * flops * factor / 1e9
            record[part]["gflops_per_s"] = rate
            record[part]["utilisation"] = rate / peak["gflops"]
            if "matmul_peak_half" in record:
                record[part]["utilisation_half"] = rate / record["matmul_peak_half"]["gflops"]
    record["peak_rss_mb"] = machine.peak_rss_mb()
    record["peak_rss_above_import_mb"] = record["peak_rss_mb"] - baseline
    record["device_peak_mb"] = machine.device_peak_memory_mb()
    return record


def interleave(step_seconds: dict, steps: int) -> dict:
    """Per-call seconds of each side's train and inference steps, run alternately
    (A B A B ...) so machine noise hits every side; ``step_seconds`` maps a role to a
    function of ``"train"`` or ``"infer"`` that runs one step and returns its seconds."""
    times = {role: {"train": [], "inference": []} for role in step_seconds}
    for part, call in (("train", "train"), ("inference", "infer")):
        for _ in range(steps):
            for role, run_step in step_seconds.items():
                times[role][part].append(run_step(call))
    return times


def ratios(times: dict, batch: int, described: dict) -> dict:
    """The pair record from interleaved ``times`` of roles ``zoo`` and ``peer``:
    each side's throughput, the zoo/peer ratios raw and per FLOP, and their spread."""
    record = {role: {**described[role], "train": summary(times[role]["train"], batch),
                     "inference": summary(times[role]["inference"], batch)}
              for role in ("zoo", "peer")}
    flop_ratio = record["zoo"]["gflops_per_image"] / record["peer"]["gflops_per_image"]
    for part in ("train", "inference"):
        raw = record["zoo"][part]["img_per_s"] / record["peer"][part]["img_per_s"]
        # Per-step ratios of interleaved neighbours, for the spread of the ratio itself.
        steps = sorted(p / z for z, p in zip(times["zoo"][part], times["peer"][part],
                                             strict=True))
        record[f"{part}_ratio"] = raw
        record[f"{part}_ratio_min"], record[f"{part}_ratio_max"] = steps[0], steps[-1]
        record[f"{part}_ratio_per_flop"] = raw * flop_ratio
    record["flop_ratio"] = flop_ratio
    return record


def pair_cell(spec: dict) -> dict:
    """Zoo model A and peer B in one process, timed alternately (A B A B ...), so machine
    noise hits both; ratios are A's throughput over B's, raw and per FLOP."""
    runners = {role: make_runner(spec[role], spec) for role in ("zoo", "peer")}
    for runner in runners.values():
        timed_calls(runner.train, spec["warmup"])
        timed_calls(runner.infer, spec["warmup"])
    times = interleave({role: (lambda call, r=r: timed_calls(getattr(r, call), 1)[0])
                        for role, r in runners.items()}, spec["steps"])
    described = {role: {"subject": spec[role], "params": r.params,
                        "gflops_per_image": r.gflops_per_image, "process": "shared"}
                 for role, r in runners.items()}
    record = ratios(times, spec["batch"], described)
    record.update(matmul_peak=machine.matmul_peak_gflops(), threads=machine.threads(),
                  note=subjects.peer_note(spec["peer"]))
    return record
