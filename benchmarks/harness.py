"""Benchmark harness: one case per subprocess, side by side in one run, one machine.

    python benchmarks/harness.py unet3plus           # U-Net 3+ vs keras-unet-collection
    python benchmarks/harness.py unetpp_pruning      # U-Net++ pruned levels L1..L4
    python benchmarks/harness.py --case zoo_unet3plus --size 256 --batch 2   # one case

Each case runs in a fresh process (so peak memory is its own): build, compile
(Adam, binary cross-entropy, Keras' default jit_compile), one warm-up step,
then times ``--steps`` train steps (``model.train_on_batch``) and
``--steps`` inference batches (``model.predict_on_batch``) with the timing
helpers of ``zoo.bench.measure`` (median step). The zoo/peer comparison of
every architecture is ``zoo bench``; these suites cover what it does not:
U-Net 3+ layer-order variants and U-Net++ pruning. Peak memory is
the process's maximum resident set size minus the size after importing the
framework. Results go to ``benchmarks/results/<suite>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(name: str, size: int, batch: int, steps: int, jit_compile="auto") -> dict:
    import keras
    from cases import CASES

    from zoo.bench.measure import summary, timed_calls
    from zoo.bench.runners import KerasRunner

    baseline = _rss_mb()
    model = CASES[name](size)
    runner = KerasRunner(model, batch, jit_compile=jit_compile)
    result = {"case": name, "size": size, "batch": batch, "params": model.count_params(),
              "backend": keras.backend.backend(), "jit_compile": jit_compile}
    if not name.endswith("_inference"):
        (result["train_first_step_s"],) = timed_calls(runner.train, 1)
        train = summary(timed_calls(runner.train, steps), batch)
        result["train_step_s"], result["train_img_per_s"] = train["step_s"], train["img_per_s"]
    timed_calls(runner.infer, 1)
    infer = summary(timed_calls(runner.infer, steps), batch)
    result["infer_batch_s"], result["infer_img_per_s"] = infer["step_s"], infer["img_per_s"]
    result["peak_mem_mb"] = _rss_mb() - baseline
    return result


SUITES = {
    # suite: (cases, size, batch, steps)
    "unet3plus": (["kuc_unet3plus", "zoo_unet3plus", "zoo_unet3plus_unfused",
                   "zoo_unet3plus_conv_upsample"], 256, 2, 3),
    "unetpp_pruning": (["zoo_unetpp_ds_inference"] + [f"zoo_unetpp_l{level}_inference"
                                                     for level in (1, 2, 3, 4)], 256, 4, 5),
}


def run_suite(suite: str, steps: int | None) -> list[dict]:
    cases, size, batch, default_steps = SUITES[suite]
    rows = []
    for case in cases:
        cmd = [sys.executable, __file__, "--case", case, "--size", str(size), "--batch",
               str(batch), "--steps", str(steps or default_steps)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if out.returncode:
            print(out.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"case {case} failed")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    record = {"suite": suite, "machine": f"{platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
              "command": f"python benchmarks/harness.py {suite}", "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{suite}.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / f"{suite}.md").write_text(markdown(record))
    return rows


def markdown(record: dict) -> str:
    rows = record["rows"]
    keys = ["case", "params", "train_step_s", "train_img_per_s", "infer_batch_s",
            "infer_img_per_s", "peak_mem_mb"]
    keys = [k for k in keys if any(k in r for r in rows)]
    lines = [f"# {record['suite']}", "",
             f"`{record['command']}` on {record['machine']}, {record['date']}, backend "
             f"{rows[0]['backend']}, {rows[0]['size']}x{rows[0]['size']}x1, batch "
             f"{rows[0]['batch']}.", "",
             "| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(
            f"{r[k]:.3f}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys)
            + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="?", choices=sorted(SUITES))
    parser.add_argument("--case")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--jit-compile", default="auto", choices=["auto", "true", "false"])
    args = parser.parse_args()
    if args.case:
        jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
        print(json.dumps(run_case(args.case, args.size, args.batch, args.steps or 3, jit)))
    elif args.suite:
        run_suite(args.suite, args.steps)
    else:
        parser.error("give a suite or --case")


if __name__ == "__main__":
    main()
