"""Time to accuracy on ISBI 2012: V_rand and V_info on the validation slices against
training seconds, for the zoo's presets and for the U-Net with an EfficientNet-B0 of
segmentation-models and of segmentation_models_pytorch, each in its own library's usual
loop, at equal wall-clock budgets on one machine.

    python -m benchmarks.time_to_accuracy run SUBJECT --seed S [--budget 7200]
    python -m benchmarks.time_to_accuracy chart

Subjects:
- ``preset:isbi2012/quick``, ``preset:isbi2012/best``: ``zoo train --preset P --seed S``
  with ``train_minutes`` set to the budget; its points are the preset's own validations
  (every checkpoint: overlap-tile inference of slices 20..24, the map thresholded, and
  after its watershed). A preset ends at its step count (the quick one near 15 min on
  a CPU) if that comes first.
- ``sm:unet/efficientnetb0`` (segmentation-models 1.0.1, TensorFlow backend) and
  ``smp:unet/efficientnet-b0`` (segmentation_models_pytorch, PyTorch, with Keras on its
  torch backend for the scoring; TensorFlow is not loaded beside it): random 256x256
  crops of slices 0..19 with horizontal and vertical flips, batch 4, the library's own
  binary focal + Dice losses, Adam at 1e-3 (the presets' rate), random init. The clock
  stops at each of :data:`BUDGETS` (up to ``--budget``) to score whole 512x512 slices
  20..24 as the presets are scored: V_rand and V_info of the map, and after the
  watershed the best preset uses
  (``zoo.postprocess.watershed_boundaries``, sigma 1).

Training seconds include the first steps' compilation (a user waits for it too) and
exclude scoring. Each run writes ``results/time_to_accuracy/SUBJECT-seedS.json`` (the
machine label, its float32 matmul rate, the command, a note, the curve), rewritten after
every point; ``chart`` draws every record into ``time_to_accuracy.png`` beside them and
tabulates them in ``time_to_accuracy.md``. Run one subject at a time on an otherwise idle
machine (the budgets are wall clock), or say in ``--note`` what else ran.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "time_to_accuracy"
BUDGETS = (60, 120, 240, 480, 900, 1800, 3600, 5400, 7200)  # training seconds
PEERS = ("sm:unet/efficientnetb0", "smp:unet/efficientnet-b0")
PRESETS = ("preset:isbi2012/quick", "preset:isbi2012/best")
CROP, BATCH, LR = 256, 4, 1e-3


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="job", required=True)
    run_parser = sub.add_parser("run", help="train one subject and record its curve")
    run_parser.add_argument("subject", choices=PRESETS + PEERS)
    run_parser.add_argument("--seed", type=int, default=0)
    run_parser.add_argument("--budget", type=float, default=7200.0,
                            help="training seconds (default 7200)")
    run_parser.add_argument("--out", type=Path, default=RESULTS)
    run_parser.add_argument("--data", default=None, help="ISBI 2012 folder (else $ZOO_DATA)")
    run_parser.add_argument("--note", default="", help="what else ran on the machine, etc.")
    chart_parser = sub.add_parser("chart", help="draw every record in a folder")
    chart_parser.add_argument("folder", type=Path, nargs="?", default=RESULTS)
    args = parser.parse_args(argv)
    if args.job == "chart":
        print(chart(args.folder))
        return 0
    # TensorFlow and PyTorch in one process crash: the PyTorch peer runs Keras on torch
    os.environ.setdefault("KERAS_BACKEND", "torch" if args.subject in PEERS[1:] else
                          "tensorflow")
    print(run(args.subject, seed=args.seed, budget=args.budget, out=args.out, data=args.data,
              note=args.note,
              command="python -m benchmarks.time_to_accuracy " + " ".join(argv or sys.argv[1:])))
    return 0


def run(subject: str, *, seed: int, budget: float, out: Path, data=None,
        command: str = "", note: str = "") -> Path:
    """Train ``subject`` for ``budget`` training seconds; returns its record's path.
    ``note``: what a reader should know of the run (e.g. a machine shared with other work)."""
    from zoo import machine

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{subject.replace(':', '-').replace('/', '-')}-seed{seed}.json"
    record = {"subject": subject, "seed": seed, "budget_s": budget, "command": command,
              "machine": machine.describe()["label"],
              "matmul_gflops": round(machine.matmul_peak_gflops()["gflops"], 1),
              "versions": machine.versions(), "note": note, "curve": []}

    def add(point: dict) -> None:
        record["curve"].append({k: (round(v, 5) if isinstance(v, float) else v)
                                for k, v in point.items()})
        path.write_text(json.dumps(record, indent=1) + "\n")
        print(json.dumps(record["curve"][-1]), flush=True)

    if subject.startswith("preset:"):
        _preset(subject.split(":", 1)[1], seed, budget, out, data, add)
    else:
        _peer(subject, seed, budget, data, add)
    return path


def _preset(preset: str, seed: int, budget: float, out: Path, data, add) -> None:
    from zoo.cli import main as zoo

    run_dir = out / "runs" / f"{preset.replace('/', '-')}-seed{seed}"  # ignored by git
    args = ["train", "--preset", preset, "--seed", str(seed), "--out", str(run_dir),
            "--train-minutes", str(budget / 60), "--verbose", "0"]
    if data:
        args += ["--data", str(data)]
    if zoo(args + (["--resume"] if (run_dir / "state.json").is_file() else [])) != 0:
        raise SystemExit(f"zoo train failed: {' '.join(args)}")
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    for point in history:
        if "val_v_rand" in point:
            add({"train_s": point["train_s"], "step": point["step"],
                 **{k[4:]: point[k] for k in ("val_v_rand", "val_v_info", "val_post_v_rand",
                                              "val_post_v_info") if k in point}})


def _peer(subject: str, seed: int, budget: float, data, add) -> None:
    from zoo.data import load_isbi2012
    from zoo.postprocess import watershed_boundaries
    from zoo.training.loop import score_predictions

    train = load_isbi2012(data, slices=range(20))
    val = load_isbi2012(data, slices=range(20, 25))
    step, predict = (_sm_loop if subject.startswith("sm:") else _smp_loop)(seed)
    rng = np.random.default_rng(seed)
    post = partial(watershed_boundaries, sigma=1.0)
    trained, steps = 0.0, 0
    for mark in [b for b in BUDGETS if b < budget] + [budget]:
        while trained < mark:
            x, y = _crops(train.images, train.membranes, rng)
            start = time.perf_counter()
            step(x, y)
            trained += time.perf_counter() - start
            steps += 1
        scores = score_predictions(predict(val.images), val.membranes, val.labels, post)
        add({"train_s": trained, "step": steps,
             **{k: scores[k] for k in ("v_rand", "v_info", "post_v_rand", "post_v_info")}})


def _crops(images, masks, rng):
    """``BATCH`` random ``CROP`` crops with random horizontal and vertical flips."""
    picks = rng.integers(len(images), size=BATCH)
    corners = rng.integers(images.shape[1] - CROP + 1, size=(BATCH, 2))
    where = list(zip(picks, corners, strict=True))
    x = np.stack([images[i, r:r + CROP, c:c + CROP] for i, (r, c) in where])
    y = np.stack([masks[i, r:r + CROP, c:c + CROP, None] for i, (r, c) in where])
    y = y.astype(np.float32)
    for axis in (1, 2):
        flip = rng.random(BATCH) < 0.5
        x[flip], y[flip] = np.flip(x[flip], axis), np.flip(y[flip], axis)
    return x, y


def _sm_loop(seed: int):
    """segmentation-models' ``Unet("efficientnetb0")`` as its README compiles it, one
    ``train_on_batch`` per step (``fit``'s compiled step without its epoch bookkeeping)."""
    os.environ["SM_FRAMEWORK"] = "tf.keras"
    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("segmentation-models runs on TensorFlow: KERAS_BACKEND=tensorflow")
    import segmentation_models as sm

    keras.utils.set_random_seed(seed)
    model = sm.Unet("efficientnetb0", input_shape=(None, None, 1), classes=1,
                    activation="sigmoid", encoder_weights=None)
    model.compile(keras.optimizers.Adam(LR), loss=sm.losses.BinaryFocalLoss()
                  + sm.losses.DiceLoss())

    def predict(images):
        return model.predict(images, batch_size=1, verbose=0)[..., 0]

    return (lambda x, y: model.train_on_batch(x, y)), predict


def _smp_loop(seed: int):
    """segmentation_models_pytorch's ``Unet("efficientnet-b0")`` in a plain PyTorch loop
    with its own ``FocalLoss`` + ``DiceLoss`` (binary mode, logits)."""
    import segmentation_models_pytorch as smp
    import torch

    torch.manual_seed(seed)
    model = smp.Unet("efficientnet-b0", encoder_weights=None, in_channels=1, classes=1)
    focal, dice = smp.losses.FocalLoss("binary"), smp.losses.DiceLoss("binary")
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    def step(x, y):
        model.train()
        x, y = (torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))) for a in (x, y))
        optimizer.zero_grad()
        logits = model(x)
        loss = focal(logits, y) + dice(logits, y)
        loss.backward()
        optimizer.step()

    def predict(images):
        model.eval()
        with torch.no_grad():
            return np.concatenate([
                torch.sigmoid(model(torch.from_numpy(image[None].transpose(0, 3, 1, 2))))
                .numpy()[:, 0] for image in images])

    return step, predict


def summary(records: list[dict]) -> str:
    """The records as Markdown: per subject and seed, V_rand / V_info after the watershed
    at each budget, from the last point within 5% of it (``-``: the run had none)."""
    longest = max(p["train_s"] for r in records for p in r["curve"])
    marks = [b for b in BUDGETS if b >= 240 and b <= longest * 1.05 + 1]
    lines = ["| subject | seed | " + " | ".join(f"{b // 60} min" for b in marks) + " |",
             "| --- | --- |" + " --- |" * len(marks)]
    for record in records:
        cells = []
        for mark in marks:
            within = [p for p in record["curve"] if p["train_s"] <= mark * 1.05]
            last = within[-1] if within else None
            early = f" ({last['train_s'] / 60:.0f} min)" if last and \
                last["train_s"] < 0.95 * mark else ""
            cells.append(f"{last['post_v_rand']:.3f} / {last['post_v_info']:.3f}{early}"
                         if last else "-")
        lines.append(f"| {record['subject']} | {record['seed']} | " + " | ".join(cells) + " |")
    notes = sorted({r["note"] for r in records if r.get("note")})
    machines = sorted({f"{r['machine']}, float32 matmul {r['matmul_gflops']} GFLOP/s"
                       for r in records})
    return ("# Time to accuracy, ISBI 2012 slices 20..24\n\n"
            "V_rand / V_info after the watershed, at the last validation within 5% of each "
            "budget of training seconds (in brackets: a run that stopped earlier, at its step "
            "count or budget, and when) (`python -m benchmarks.time_to_accuracy chart`).\n\n"
            + "\n".join(lines) + "\n\nMachine: " + "; ".join(machines) + "."
            + "".join(f"\n\nNote: {note}" for note in notes) + "\n")


def chart(folder: Path) -> Path:
    """V_rand and V_info after the watershed against training minutes, one line per
    subject and seed, from every record in ``folder``; beside it ``time_to_accuracy.md``
    (:func:`summary`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*-seed*.json"))]
    if not records:
        raise SystemExit(f"no records in {folder}")
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    colours = {}
    for record in records:
        first = record["subject"] not in colours  # one legend entry per subject
        shared = " (shared machine)" if record.get("note") else ""
        colour = colours.setdefault(record["subject"], f"C{len(colours)}")
        minutes = [p["train_s"] / 60 for p in record["curve"]]
        for axis, key in zip(axes, ("post_v_rand", "post_v_info"), strict=True):
            axis.plot(minutes, [p.get(key) for p in record["curve"]], "o-", color=colour,
                      markersize=3, label=record["subject"] + shared if first else None)
    lowest = min((p[k] for r in records for p in r["curve"] for k in ("post_v_rand",
                                                                       "post_v_info")
                  if p.get(k) is not None), default=0.8)
    for axis, name, target in zip(axes, ("V_rand", "V_info"), (0.97, 0.985), strict=True):
        axis.axhline(target, color="gray", linestyle=":", linewidth=1)
        axis.set(xscale="log", xlabel="training minutes", ylabel=f"{name} (watershed)",
                 title=f"{name}, ISBI 2012 slices 20..24",
                 ylim=(max(0.0, min(0.8, lowest - 0.02)), 1.0),  # every point shown
                 xticks=[1, 2, 4, 8, 15, 30, 60, 120], xticklabels=[1, 2, 4, 8, 15, 30, 60, 120])
    axes[0].legend(fontsize=8)
    figure.suptitle(f"{records[0]['machine']}", fontsize=9)
    figure.tight_layout()
    path = Path(folder) / "time_to_accuracy.png"
    figure.savefig(path, dpi=110)
    (Path(folder) / "time_to_accuracy.md").write_text(summary(records))
    return path


if __name__ == "__main__":
    raise SystemExit(main())
