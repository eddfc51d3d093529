"""What ``import zoo`` costs, against ``import keras`` alone, for this tree and an older commit.

    python -m benchmarks.import_time [--before REV] [--repeats 5]

Each figure is the median wall time of a fresh ``python -c "import zoo"`` (so
Keras and the backend are imported too), alternating the trees every repeat so
machine drift hits both; the older commit is checked out into a temporary git
worktree. Also lists the heavy modules zoo adds on top of Keras. Writes
``benchmarks/results/import_time.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
HEAVY = ("albumentations", "cv2", "scipy", "skimage", "tifffile", "matplotlib", "PIL")
ADDED = ("import json, sys, keras; before = set(sys.modules); import zoo; "
         f"print(json.dumps(sorted({{m.split('.')[0] for m in set(sys.modules) - before}} "
         f"& set({HEAVY!r}))))")


def _run(code: str, tree: Path | None) -> tuple[float, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "NO_ALBUMENTATIONS_UPDATE": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tree or ROOT, check=True,
                         capture_output=True, text=True).stdout
    return time.perf_counter() - start, out.strip().splitlines()[-1] if out.strip() else ""


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=None, help="a git revision to compare with")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "import_time.json")
    args = parser.parse_args(argv)

    import keras

    from zoo import machine

    with tempfile.TemporaryDirectory() as scratch:
        trees = {"import keras": (None, "import keras"), "import zoo (this tree)": (ROOT, None)}
        if args.before:
            old = Path(scratch) / "before"
            subprocess.run(["git", "worktree", "add", "--detach", str(old), args.before],
                           cwd=ROOT, check=True, capture_output=True)
            trees[f"import zoo ({args.before})"] = (old, None)
        try:
            times = {name: [] for name in trees}
            for _ in range(args.repeats):
                for name, (tree, code) in trees.items():
                    times[name].append(_run(code or "import zoo", tree)[0])
            added = {name: json.loads(_run(ADDED, tree)[1]) for name, (tree, code) in
                     trees.items() if code is None}
        finally:
            if args.before:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT,
                               check=False, capture_output=True)
    record = {"command": "python -m benchmarks.import_time" + (
        f" --before {args.before}" if args.before else ""),
        "backend": keras.backend.backend(), "machine": machine.describe(),
        "median_s": {k: statistics.median(v) for k, v in times.items()}, "runs_s": times,
        "heavy_modules_added_by_zoo": added}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    lines = [f"`{record['command']}` ({record['backend']}, {record['machine']['label']}; median "
             f"of {args.repeats} fresh interpreters, alternating):", "",
             "| what | median s | heavy modules zoo adds beyond Keras |", "| --- | --- | --- |"]
    lines += [f"| {k} | {v:.2f} | {', '.join(added.get(k, [])) or '-'} |"
              for k, v in record["median_s"].items()]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return record


if __name__ == "__main__":
    main()
