"""One table row per recipe run: the ISBI 2012 ablation and seed records.

    python -m benchmarks.ablation RUN_DIR [RUN_DIR ...] --out benchmarks/results/NAME
        [--machine "what ran them"] [--command "how they were started"]

Reads each run directory written by ``zoo.training.train`` (``state.json``,
and ``metrics.json`` when the run finished) and writes ``NAME.json`` (every
run's arguments, history and record) and ``NAME.md`` (one row per run: the
lever's settings, steps, training time, validation V_rand / V_info of the
kept checkpoint and of the last one, the d4 TTA and post-processed scores
where measured). Scores are on the validation slices 20..24 only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_run(run_dir: Path) -> dict:
    if not (run_dir / "state.json").is_file():
        raise SystemExit(f"{run_dir} has no state.json: pass run directories written by "
                         "zoo.training.train (a recipe's --out)")
    state = json.loads((run_dir / "state.json").read_text())
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    history = state["history"]
    scored = [p for p in history if "val_v_rand" in p]
    best = max(scored, key=lambda p: p["val_v_rand"]) if scored else {}
    return {"run": run_dir.name, "finished": bool(metrics), "args": metrics.get("args", {}),
            "steps": state["step"], "train_s": state["train_s"], "wall_s": state["wall_s"],
            "best_step": best.get("step"), "v_rand": best.get("val_v_rand"),
            "v_info": best.get("val_v_info"), "pixel_error": best.get("val_pixel_error"),
            "last_v_rand": scored[-1]["val_v_rand"] if scored else None,
            "post_v_rand": best.get("val_post_v_rand"), "post_v_info": best.get("val_post_v_info"),
            "tta": metrics.get("tta"), "kept_step": metrics.get("best_step"),
            "history": history}


def _fmt(value, digits=3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict]) -> str:
    """V_rand / V_info: the checkpoint with the best raw validation V_rand; TTA: the
    model the run kept (by its monitor), at the step in brackets."""
    lines = ["| run | steps (best at) | train s | V_rand | V_info | last V_rand | "
             "TTA V_rand / V_info (kept step) | watershed V_rand / V_info |",
             "|" + " --- |" * 8]
    for r in rows:
        tta = r["tta"] or {}
        kept = f" ({r['kept_step']})" if tta else ""
        steps = f"{r['steps']} ({r['best_step']})" + ("" if r["finished"] else ", cut")
        lines.append(f"| {r['run']} | {steps} | {r['train_s']:.0f} | {_fmt(r['v_rand'])} | "
                     f"{_fmt(r['v_info'])} | {_fmt(r['last_v_rand'])} | "
                     f"{_fmt(tta.get('v_rand'))} / {_fmt(tta.get('v_info'))}{kept} | "
                     f"{_fmt(r['post_v_rand'])} / {_fmt(r['post_v_info'])} |")
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
