"""``zoo plot RUN --out curves.png``: a run directory's training loss and validation
scores against the step (``zoo.viz.training_curves``; a run in progress too)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..files import write_atomic


def add_parser(commands) -> None:
    p = commands.add_parser("plot", help="training curves of a run directory", description=__doc__)
    p.add_argument("run_dir", type=Path, help="a run directory of zoo.training.train (a recipe)")
    p.add_argument("--out", type=Path, required=True, help="the picture (.png, .svg, .pdf)")
    p.add_argument("--title", help="the figure's title (default: the run directory)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.overwrite:
        raise FileExistsError(f"{args.out} exists; choose another --out or --overwrite")
    if args.out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ValueError(f"--out must end in .png, .svg or .pdf, got {args.out.name}")
    from zoo.viz import training_curves

    figure = training_curves(args.run_dir, title=args.title)
    write_atomic(args.out, lambda p: figure.savefig(p, dpi=100))
    print(args.out)
    return 0
