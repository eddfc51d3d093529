"""``zoo bench``: every zoo architecture and its peers side by side: speed, memory, FLOPs,
zoo/peer ratios, accuracy and time to accuracy, as JSON records, a Markdown table and charts.

    zoo bench --quick                 # < 5 min on a 2-core CPU
    zoo bench --train --out benchmarks/results/bench      # the full matrix (FULL)
    zoo bench --config my.toml        # a matrix of your own (see zoo.bench.matrix)

Each cell runs in its own process (so memory and backend are its own) and
writes ``OUT/cells/<id>.json``; a rerun reuses finished cells, so an
interrupted run resumes; a failing cell records its error and the run goes on.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time
from pathlib import Path

from .. import machine
from ..data import locate
from ..files import write_json_atomic
from . import matrix, report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="U-Net and U-Net++ at 256^2 against their peers, two short accuracy "
                        "cells on generated data, and a verdict (< 5 min on 2 cores)")
    parser.add_argument("--config", type=Path, help="a TOML matrix (see zoo.bench.matrix)")
    parser.add_argument("--out", type=Path, help="results folder (default runs/bench or "
                        "runs/bench-quick); rerun to resume")
    parser.add_argument("--train", action="store_true",
                        help="also run the accuracy (train) cells; --quick always does")
    parser.add_argument("--models", nargs="+", help="zoo models ('*' = all registered)")
    parser.add_argument("--encoders", nargs="+")
    parser.add_argument("--peers", nargs="*", help=f"of {', '.join(matrix.ALL_PEERS)}")
    parser.add_argument("--precisions", nargs="+", choices=matrix.PRECISIONS)
    parser.add_argument("--backends", nargs="+", choices=matrix.BACKENDS)
    parser.add_argument("--size", type=int, help="image side of the speed cells")
    parser.add_argument("--batch", type=int, help="batch of the speed cells")
    parser.add_argument("--steps", type=int, help="timed steps per speed cell")
    parser.add_argument("--train-seconds", type=float, help="training budget per train cell")
    parser.add_argument("--data", type=Path, help="ISBI 2012 (default: found as zoo train "
                        "finds it, $ZOO_DATA/isbi2012 or the user cache; else synthetic cells, "
                        "said first), or a folder of your own in any layout zoo train reads: "
                        "then only the accuracy cells run, ranking models on your data, and "
                        "the report gives the zoo train command of the best")
    parser.add_argument("--num-classes", type=int, default=1,
                        help="with --data: 1 (foreground masks) or N >= 2 (class-map masks)")
    parser.add_argument("--retry-errors", action="store_true", help="rerun failed cells")
    parser.add_argument("--list", action="store_true", help="print the cells and exit")
    parser.add_argument("--report-only", action="store_true",
                        help="remake table.md and the charts from the recorded cells; run "
                        "nothing (cells not run yet are listed)")


def configure(args: argparse.Namespace) -> dict:
    """The matrix the arguments ask for: a preset or TOML file, then the flags."""
    config = (matrix.load_config(args.config) if args.config
              else copy.deepcopy(matrix.QUICK if args.quick else matrix.FULL))
    for key in ("size", "batch", "steps"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.train_seconds is not None:
        config["train"]["train_seconds"] = args.train_seconds
    chosen = {k: getattr(args, k) for k in ("models", "encoders", "peers", "precisions",
                                              "backends") if getattr(args, k) is not None}
    if chosen:
        group = {"models": [], "encoders": matrix.ALL_ENCODERS, "peers": [], **chosen}
        config["groups"] = [{**group, "kind": kind} for kind in matrix.KINDS]
        config["left_out"] = []
    layout = None
    if args.data is not None:
        from ..data import detect_layout

        layout = detect_layout(args.data)
    if layout not in (None, "isbi"):
        return for_user_data(config, layout, args.num_classes)
    if args.num_classes != 1:
        raise ValueError("--num-classes applies to a folder of your own: pass --data DIR")
    if not (args.train or args.quick):
        config["groups"] = [g for g in config["groups"] if g.get("kind") != "train"]
    return config


def for_user_data(config: dict, layout: str, num_classes: int) -> dict:
    """``config``'s accuracy cells only (a folder of one's own ranks models; speed is the
    machine's, not the data's), trained as ``zoo train`` trains on that ``layout``."""
    from .. import checks

    checks.positive_int(num_classes, "--num-classes")
    groups = [g for g in config["groups"] if g.get("kind") == "train"]
    if not groups:
        groups = [g for g in matrix.FULL["groups"] if g.get("kind") == "train"]
    groups = [{**g, "peers": []} for g in groups]  # peers train on ISBI's recipe only
    train = {**config["train"], "layout": layout, "num_classes": num_classes}
    return {**config, "groups": groups, "train": train, "left_out": []}


def accuracy_data(data: Path | None, cells: list[dict]) -> Path | None:
    """The ISBI 2012 folder of the accuracy cells: ``data`` (which must exist), else the one
    ``zoo.data.locate`` finds, else ``None`` (synthetic cells), said on the console before
    anything runs."""
    if data is not None:
        if not data.is_dir():
            raise FileNotFoundError(f"--data {data}: no such folder")
        return data
    try:
        return locate("isbi2012")
    except FileNotFoundError as error:
        if any(c["kind"] == "train" for c in cells):
            print(f"{error}; the accuracy cells train on synthetic cells instead", flush=True)
        return None


def main(args: argparse.Namespace) -> int:
    config = configure(args)
    if "layout" in config["train"]:
        print(f"{args.data}: {config['train']['layout']} layout; the accuracy cells rank the "
              f"models on it ({config['train']['train_seconds']:g} s each)", flush=True)
    out = args.out or Path("runs/bench-quick" if args.quick else "runs/bench")
    cells = matrix.expand(config)
    if args.list:
        for spec in cells:
            print(spec["id"])
        return 0
    argv = sys.argv[1:]
    argv = argv[1:] if argv[:1] == ["bench"] else argv
    command = "zoo bench " + " ".join(shlex.quote(a) for a in argv)
    described = machine.describe()
    print(f"{len(cells)} cells -> {out}  ({described['label']})", flush=True)
    run = {"name": "quick" if args.quick else (args.config.stem if args.config else "full"),
           "command": command.strip(), "date": time.strftime("%Y-%m-%d"), "machine": described,
           "config": config, "left_out": config.get("left_out", [])}
    if args.report_only:
        previous = out / "run.json"
        if previous.is_file():
            run.update({k: v for k, v in json.loads(previous.read_text()).items()
                        if k in ("command", "date", "peaks")})
        records, run["not_run"] = matrix.recorded(config, out)
    else:
        run["peaks"] = [matrix.measure_peak(b) for b in sorted({c["backend"] for c in cells})]
        out.mkdir(parents=True, exist_ok=True)  # the start's record, kept if the run is stopped
        write_json_atomic(out / "run.json", run, indent=1)
        if args.quick and args.data is None:
            print("accuracy cells train on generated cells (zoo.data.synthetic_cells); "
                  "--data DIR trains them on ISBI 2012 or a folder of your own", flush=True)
            data = None
        else:
            data = accuracy_data(args.data, cells)
        records = matrix.run_matrix(config, out, retry_errors=args.retry_errors, data=data)
        run["not_run"] = []
    run.setdefault("peaks", [])
    run["charts"] = report.charts(records, out, described["label"])
    run["counts"] = {s: sum(r["status"] == s for r in records)
                     for s in ("ok", "skipped", "error")}
    write_json_atomic(out / "run.json", run, indent=1)
    table = report.markdown(run, records)
    (out / "table.md").write_text(table)
    print(table)
    print(f"records: {out / 'cells'}; table: {out / 'table.md'}; charts: "
          + (", ".join(run["charts"]) or "none"))
    lines = report.verdict(records)
    if lines:
        print("\nVerdict on " + described["label"] + ":\n" + "\n".join(lines))
    if args.quick:
        print("The full matrix: zoo bench --train (hours on 2 cores); recorded full runs and "
              "what they show: the benchmark page of the docs (docs/benchmark.md).")
    return 0 if run["counts"]["error"] == 0 else 1
