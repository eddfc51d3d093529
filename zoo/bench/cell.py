"""One benchmark cell in its own process: ``python -m zoo.bench.cell SPEC.json RECORD.json``.

The parent sets ``KERAS_BACKEND`` before this process imports Keras; the cell
sets the precision policy, loads the data, runs, and writes its record.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import write_json_atomic


@dataclass
class BenchData:
    """Training images (N, H, W, 1) and membrane targets (N, H, W); validation images,
    targets and ISBI-style labels (255 = cell, 0 = membrane)."""

    images: list
    targets: list
    val_images: np.ndarray
    val_targets: np.ndarray
    val_labels: np.ndarray
    source: str


def load_data(spec: dict) -> BenchData:
    """ISBI 2012 (train slices 0..19, validation 20..24) when ``spec["data"]`` holds it,
    else the package's synthetic cells (membranes as the target, like ISBI)."""
    from ..data import load_isbi2012, synthetic_cells
    from ..data.isbi2012 import TRAIN_SLICES, VAL_SLICES

    root = spec.get("data")
    if root and Path(root).is_dir() and spec.get("layout", "isbi") == "isbi":
        train = load_isbi2012(root, slices=TRAIN_SLICES)
        val = load_isbi2012(root, slices=VAL_SLICES)
        return BenchData(list(train.images), list(train.membranes), val.images,
                         val.membranes, val.labels,
                         "ISBI 2012 slices 0..19 train, 20..24 validate")
    side = max(128, 2 * spec["size"])
    images, masks, _ = synthetic_cells(16, side, seed=0)
    v_images, v_masks, _ = synthetic_cells(4, side, seed=10_000)
    return BenchData(list(images), list(1 - masks), v_images, 1 - v_masks,
                     (v_masks * 255).astype(np.uint8), f"synthetic cells {side}x{side}")


def run(spec: dict, run_dir: Path) -> dict:
    if spec["kind"] == "duel":  # two processes of their own; this one only steps them
        import tempfile

        from .duel import duel_cell

        with tempfile.TemporaryDirectory() as work_dir:  # the sides' specs and logs
            return duel_cell(spec, Path(work_dir))
    import keras

    from . import accuracy, measure

    keras.mixed_precision.set_global_policy(spec["precision"])
    keras.utils.set_random_seed(spec.get("seed", 0))
    if spec["kind"] == "pair":
        return measure.pair_cell(spec)
    if spec["kind"] == "train" and spec.get("layout", "isbi") != "isbi":
        return accuracy.data_cell(spec, run_dir)
    data = load_data(spec)
    if spec["kind"] == "speed":
        return measure.speed_cell(spec, data)
    if spec["kind"] == "train":
        run_dir.mkdir(parents=True, exist_ok=True)
        return accuracy.accuracy_cell(spec, data, run_dir)
    raise ValueError(f"unknown cell kind {spec['kind']!r}")


def main(argv=None) -> int:
    spec_path, record_path = (Path(p) for p in (argv or sys.argv[1:]))
    spec = json.loads(spec_path.read_text())
    start = time.time()
    record = run(spec, Path(spec.get("run_dir") or record_path.with_suffix("")))
    import keras

    record.update({"backend": keras.backend.backend(), "seconds": time.time() - start})
    write_json_atomic(record_path, record, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
