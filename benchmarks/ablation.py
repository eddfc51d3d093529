"""One table row per recipe run: the ISBI 2012 ablation and seed records.

    python -m benchmarks.ablation RUN_DIR [RUN_DIR ...] --out recipes/results/NAME
        [--machine "what ran them"] [--command "how they were started"]

Reads each run directory written by ``zoo.training.train`` (``state.json``,
and ``metrics.json`` when the run finished) and writes ``NAME.json`` (every
run's settings, history and record) and ``NAME.md`` (one row per run: the
lever's settings, steps, training time with the float32 matmul GFLOP/s measured
at the start of each training call where the run recorded it, validation V_rand / V_info of the
best checkpoint's map and the last one's, and the kept model's scores: its map,
after post-processing, with TTA, and both, where measured).
Scores are on the validation slices 20..24 only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_run(run_dir: Path) -> dict:
    if not (run_dir / "state.json").is_file():
        raise SystemExit(f"{run_dir} has no state.json: pass run directories written by "
                         "zoo.training.train (zoo train's --out)")
    state = json.loads((run_dir / "state.json").read_text())
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    history = state["history"]
    scored = [p for p in history if "val_v_rand" in p]
    best = max(scored, key=lambda p: p["val_v_rand"]) if scored else {}
    kept = {k: metrics.get(k) for k in ("v_rand", "v_info", "pixel_error", "post_v_rand",
                                        "post_v_info")}
    config = metrics.get("config", metrics.get("args", {}))  # "args": recipe-era records
    return {"run": run_dir.name, "finished": bool(metrics), "config": config,
            "steps": state["step"], "train_s": state["train_s"], "wall_s": state["wall_s"],
            "best_step": best.get("step"), "best_v_rand": best.get("val_v_rand"),
            "best_v_info": best.get("val_v_info"),
            "last_v_rand": scored[-1]["val_v_rand"] if scored else None,
            "keep": metrics.get("keep", "best"),
            "kept_step": metrics.get("kept_step", metrics.get("best_step")),  # older records
            "kept": kept, "tta": metrics.get("tta"),
            "sessions": metrics.get("sessions", state.get("sessions", [])), "history": history}


def _fmt(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pair(scores: dict, prefix: str = "") -> str:
    return f"{_fmt(scores.get(prefix + 'v_rand'), 4)} / {_fmt(scores.get(prefix + 'v_info'), 4)}"


def table(rows: list[dict]) -> str:
    """best map: the checkpoint with the best validation V_rand of the network's map
    (step in brackets) and the last checkpoint's; kept: the model the run kept (its
    best checkpoint by the run's monitor, or its last), scored on its map, after the
    run's post-processing, and with test-time augmentation where measured."""
    lines = ["| run | steps | train s | matmul GFLOP/s | best map V_rand / V_info (step) | "
             "last map V_rand | kept (step) | kept: map V_rand / V_info | post-processed | TTA | "
             "TTA + post-processed |",
             "|" + " --- |" * 11]
    for r in rows:
        tta = r["tta"] or {}
        steps = f"{r['steps']}" + ("" if r["finished"] else ", cut")
        peaks = ", ".join(f"{s['matmul_gflops']:.0f}" for s in r.get("sessions", [])) or "-"
        lines.append(f"| {r['run']} | {steps} | {r['train_s']:.0f} | {peaks} | "
                     f"{_fmt(r['best_v_rand'])} / {_fmt(r['best_v_info'])} ({r['best_step']}) | "
                     f"{_fmt(r['last_v_rand'])} | {r['keep']} ({r['kept_step']}) | "
                     f"{_pair(r['kept'])} | {_pair(r['kept'], 'post_')} | {_pair(tta)} | "
                     f"{_pair(tta, 'post_')} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="path without suffix")
    parser.add_argument("--machine", default="", help="the machine the runs trained on")
    parser.add_argument("--command", default="", help="how the runs were started")
    args = parser.parse_args(argv)
    rows = [read_run(run) for run in args.runs]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"machine": args.machine, "command": args.command, "runs": rows},
        indent=1, default=float) + "\n")
    header = (f"Machine: {args.machine}\n\n" if args.machine else "") + (
        f"Command: `{args.command}`\n\n" if args.command else "")
    args.out.with_suffix(".md").write_text(header + table(rows))
    print(header + table(rows))
    return rows


if __name__ == "__main__":
    main()
