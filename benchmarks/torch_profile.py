"""Where a training step's time goes on the torch backend: the zoo's U-Net (Keras on PyTorch)
against segmentation_models_pytorch's on the same ResNet-34 network, one process.

    python -m benchmarks.torch_profile --out benchmarks/results/torch_profile

Each model's step is timed (medians of interleaved steps), then one step of each is run
under ``torch.profiler`` and its operator time is grouped: convolutions (forward and
backward), layout copies (``aten::copy_``, the permutes Keras' channels-last layers put
around PyTorch's channels-first convolutions), element-wise arithmetic (Keras' batch norm
and optimizer are built from it), PyTorch's fused batch norm, the rest. Writes NAME.json and
NAME.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"

GROUPS = {
    "convolution": ("convolution", "mkldnn_convolution", "conv2d", "_convolution"),
    "layout copies": ("aten::copy_", "aten::contiguous", "aten::permute"),
    "batch norm (fused)": ("native_batch_norm",),
    "element-wise": ("aten::mul", "aten::add", "aten::div", "aten::sub", "aten::sum",
                     "aten::pow", "aten::sqrt", "aten::mean", "aten::var", "aten::rsqrt",
                     "aten::lerp", "aten::addcdiv", "aten::addcmul", "aten::_foreach"),
}


def group_of(name: str) -> str:
    for group, keys in GROUPS.items():
        if any(key in name for key in keys):
            return group
    return "other"


def profile(runner) -> dict:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        runner.train()
    totals: dict[str, float] = {}
    calls: dict[str, int] = {}
    for event in prof.key_averages():
        group = group_of(event.key)
        totals[group] = totals.get(group, 0.0) + event.self_cpu_time_total / 1e6
        calls[group] = calls.get(group, 0) + event.count
    return {"seconds": totals, "calls": calls}


def main(argv=None) -> int:
    from zoo import machine
    from zoo.bench.runners import make_runner

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("runs/torch_profile"))
    args = parser.parse_args(argv)
    spec = {"size": args.size, "batch": args.batch, "precision": "float32"}
    runners = {s: make_runner(s, spec) for s in ("zoo:unet/resnet34", "smp:unet/resnet34")}
    times = {s: {"train": [], "infer": []} for s in runners}
    for runner in runners.values():
        runner.train(), runner.train(), runner.infer()
    for _ in range(args.steps):
        for subject, runner in runners.items():
            for part in ("train", "infer"):
                start = time.perf_counter()
                getattr(runner, part)()
                times[subject][part].append(time.perf_counter() - start)
    record = {"machine": machine.describe(), "threads": machine.threads(),
              "matmul_peak": machine.matmul_peak_gflops(), "spec": spec,
              "command": "python -m benchmarks.torch_profile " + " ".join(
                  f"--{k} {v}" for k, v in (("size", args.size), ("batch", args.batch),
                                            ("steps", args.steps))),
              "subjects": {}}
    for subject, runner in runners.items():
        record["subjects"][subject] = {
            "params": runner.params, "gflops_per_image": runner.gflops_per_image,
            "train_s": statistics.median(times[subject]["train"]),
            "infer_s": statistics.median(times[subject]["infer"]),
            "profile": profile(runner)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    zoo_, smp = (record["subjects"][s] for s in runners)
    lines = ["# The torch backend's training step: where the time goes", "",
             f"`{record['command']}` on {record['machine']['label']}, torch threads "
             f"{record['threads'].get('torch')}, float32 matmul "
             f"{record['matmul_peak']['gflops']:.0f} GFLOP/s; {args.size}x{args.size}x1, "
             f"batch {args.batch}, medians of {args.steps} interleaved steps; one profiled "
             "training step each, operator self time grouped.", "",
             "| | zoo:unet/resnet34, Keras on torch | smp:unet/resnet34 |", "| --- | --- | --- |",
             f"| train s/step | {zoo_['train_s']:.3f} | {smp['train_s']:.3f} |",
             f"| inference s/batch | {zoo_['infer_s']:.3f} | {smp['infer_s']:.3f} |",
             f"| GFLOP per image | {zoo_['gflops_per_image']:.1f} | "
             f"{smp['gflops_per_image']:.1f} |"]
    for group in [*GROUPS, "other"]:
        cells = [f"{s['profile']['seconds'].get(group, 0):.3f} s "
                 f"({s['profile']['calls'].get(group, 0)} calls)" for s in (zoo_, smp)]
        lines.append(f"| profiled step: {group} | {cells[0]} | {cells[1]} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
