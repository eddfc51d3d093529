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
                        help="small inputs, short budget, a subset with one peer (< 5 min)")
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
    parser.add_argument("--data", type=Path, help="ISBI 2012 folder (default: found as zoo "
                        "train finds it, $ZOO_DATA/isbi2012 or the user cache; synthetic cells "
                        "are used when it is absent, and the console says so first)")
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
    if not (args.train or args.quick):
        config["groups"] = [g for g in config["groups"] if g.get("kind") != "train"]
    return config


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
        records = matrix.run_matrix(config, out, retry_errors=args.retry_errors,
                                    data=accuracy_data(args.data, cells))
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
    return 0 if run["counts"]["error"] == 0 else 1
