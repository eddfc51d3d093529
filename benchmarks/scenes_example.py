"""The worked multi-class example: synthetic scenes from the command line alone.

    python -m benchmarks.scenes_example [--minutes 6] [--fold-minutes 4] [--note TEXT]

``zoo data scenes`` writes 60 training scenes (128 x 128, 11 classes with the
background, COCO annotations; seed 0) and 20 test scenes (seed 1) that no model trains
or validates on. Then, each run capped at ``--minutes`` of training:

- ``zoo train`` with U-Net / ResNet-34, U-Net++ / ResNet-34, DeepLabV3+ / ResNet-34
  (output stride 16) and HRNetV2-W18 (its own head), random init, Dice + cross-entropy,
  Adam, 300 steps of batch 8 (whole scenes; flips, rotations, gray values), the last
  20% validate; HRNet without XLA (TensorFlow compiles its step in half the time);
- ``zoo train --folds 5`` of U-Net / ResNet-34 (``--fold-minutes`` per fold), its
  out-of-fold mIoU;
- ``zoo evaluate`` on the test scenes: each architecture, each fold and the 5 folds'
  ensemble beside its members (one confusion matrix over the 20 scenes, the
  leaderboards' mIoU).

The record ``results/scenes_example/record.json`` holds the machine label, its float32
matmul rate, every command, steps and training seconds, and the scores;
``scenes_example.md`` tabulates it. Run folders go under ``--work`` (default
``runs/scenes_example``); a rerun resumes unfinished runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

RESULTS = Path(__file__).parent / "results" / "scenes_example"
RECORD, TABLE = "record.json", "scenes_example.md"
CLASSES, SIZE, TRAIN, TEST = 11, 128, 60, 20
ARCHITECTURES = {
    "unet/resnet34": ["--model", "unet", "--encoder", "resnet34"],
    "unet_plus_plus/resnet34": ["--model", "unet_plus_plus", "--encoder", "resnet34"],
    "deeplabv3_plus/resnet34": ["--model", "deeplabv3_plus", "--encoder", "resnet34"],
    # TensorFlow compiles HRNet's 305-conv training step in ~3 min without XLA, ~6 with it
    "hrnet/hrnet_w18": ["--model", "hrnet", "--encoder", "hrnet_w18", "--xla", "off"],
}
FOLDED = "unet/resnet34"
FOLDS = 5
COMMON = ["--coco", "annotations.json", "--num-classes", str(CLASSES), "--loss", "ce+dice",
          "--patch", str(SIZE), "--batch-size", "8", "--checkpoint-every", "50",
          "--steps", "300", "--elastic-sigma", "0", "--seed", "0", "--verbose", "0"]


def zoo(*args: str) -> list[str]:
    """Run ``zoo ARGS`` and return the command as recorded (paths relative to --work)."""
    command = [sys.executable, "-m", "zoo", *args]
    subprocess.run(command, check=True)
    return ["zoo", *args]


def evaluate(work: Path, models: list[str], name: str) -> dict:
    out = work / "scores" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file():
        zoo("evaluate", *models, str(work / "test" / "masks"), "--images",
            str(work / "test" / "images"), "--json", str(out))
    return json.loads(out.read_text())


def trained(run: Path) -> dict:
    record = json.loads((run / "metrics.json").read_text())
    return {"steps": record["steps"], "train_s": round(record["train_s"], 1),
            "val_miou": record.get("miou")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--fold-minutes", type=float, default=4.0)
    parser.add_argument("--work", type=Path, default=Path("runs/scenes_example"))
    parser.add_argument("--note", default="")
    parser.add_argument("--name", default="", help="write the record as NAME.json and "
                        "NAME.md beside the default one (another budget)")
    args = parser.parse_args(argv)
    write = partial(_write, files=(f"{args.name}.json", f"{args.name}.md") if args.name
                    else (RECORD, TABLE))
    work = args.work
    for split, n, seed in (("train", TRAIN, 0), ("test", TEST, 1)):
        if not (work / split).is_dir():
            zoo("data", "scenes", str(work / split), "--n", str(n), "--size", str(SIZE),
                "--num-classes", str(CLASSES), "--seed", str(seed))
    from zoo import machine

    record = {"machine": machine.describe()["label"],
              "matmul_gflops": round(machine.matmul_peak_gflops()["gflops"], 1),
              "note": args.note, "data": {"train": f"zoo data scenes --n {TRAIN} --size {SIZE} "
                                                   f"--num-classes {CLASSES} --seed 0",
                                          "test": f"zoo data scenes --n {TEST} --size {SIZE} "
                                                  f"--num-classes {CLASSES} --seed 1"},
              "architectures": {}, "folds": {}}
    started = time.time()
    for name, flags in ARCHITECTURES.items():
        run = work / name.replace("/", "-")
        command = ["train", "--data", str(work / "train"), *COMMON, *flags,
                   "--train-minutes", str(args.minutes), "--out", str(run)]
        if (run / "metrics.json").is_file():
            pass
        elif run.is_dir():
            zoo("train", "--out", str(run), "--resume", "--verbose", "0")
        else:
            zoo(*command)
        test = evaluate(work, [str(run / "model.keras")], name.replace("/", "-"))
        record["architectures"][name] = {"command": _relative(command, work), **trained(run),
                                         "test_miou": test["miou"], "test_mdice": test["mdice"]}
        write(record)
    run = work / f"{FOLDED.replace('/', '-')}-folds"
    command = ["train", "--data", str(work / "train"), *COMMON, *ARCHITECTURES[FOLDED],
               "--folds", str(FOLDS), "--train-minutes", str(args.fold_minutes),
               "--out", str(run)]
    zoo(*(command if not run.is_dir() else ["train", "--out", str(run), "--resume",
                                            "--verbose", "0"]))
    oof = json.loads((run / "oof.json").read_text())
    ensemble = evaluate(work, [str(run)], "folds-ensemble")
    members = {Path(path).parent.name: scores for path, scores in ensemble["members"].items()}
    record["folds"] = {
        "command": _relative(command, work), "folds": FOLDS,
        "each": {f"fold-{i}": {**trained(run / f"fold-{i}"),
                               "test_miou": members[f"fold-{i}"]["miou"]} for i in range(FOLDS)},
        "out_of_fold_miou": oof["out_of_fold"]["miou"],
        "ensemble_test_miou": ensemble["miou"], "ensemble_test_mdice": ensemble["mdice"],
        "best_fold_test_miou": max(m["miou"] for m in members.values()),
        "evaluate": _relative(["evaluate", str(run), str(work / "test" / "masks"), "--images",
                               str(work / "test" / "images")], work)}
    record["wall_s"] = round(time.time() - started, 1)
    write(record)
    return 0


def _relative(command: list[str], work: Path) -> str:
    """The command as a user types it, with the work folder as ``WORK``."""
    return "zoo " + shlex.join(command).replace(str(work), "WORK")


def _write(record: dict, files: tuple[str, str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / files[0]).write_text(json.dumps(record, indent=1) + "\n")
    (RESULTS / files[1]).write_text(table(record))


def table(record: dict) -> str:
    """The record as Markdown: each architecture, each fold, the ensemble."""
    lines = [f"Machine: {record['machine']} (float32 matmul {record['matmul_gflops']} GFLOP/s)"
             + (f"; {record['note']}" if record.get("note") else ""), "",
             "| run | steps | training s | validation mIoU | test mIoU |",
             "| --- | --- | --- | --- | --- |"]
    for name, row in record["architectures"].items():
        lines.append(f"| {name} | {row['steps']} | {row['train_s']:.0f} | "
                     f"{_f(row['val_miou'])} | {_f(row['test_miou'])} |")
    folds = record.get("folds") or {}
    for name, row in folds.get("each", {}).items():
        lines.append(f"| {FOLDED} {name} | {row['steps']} | {row['train_s']:.0f} | "
                     f"{_f(row['val_miou'])} | {_f(row['test_miou'])} |")
    if folds:
        lines.append(f"| {FOLDED}, {folds['folds']}-fold ensemble | | | "
                     f"{_f(folds['out_of_fold_miou'])} (out of fold) | "
                     f"{_f(folds['ensemble_test_miou'])} |")
    return "\n".join(lines) + "\n"


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    sys.exit(main())
