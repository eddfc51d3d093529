"""Time zoo.data.unet_weight_map on ISBI 2012 label slices (or synthetic cells).

    python benchmarks/weight_map.py     # writes benchmarks/results/weight_map.{json,md}
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from zoo.data import synthetic_cells, unet_weight_map

ISBI_LABELS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "isbi2012" / "labels"
RESULTS = Path(__file__).resolve().parent / "results"


def slices():
    if ISBI_LABELS.is_dir():
        from PIL import Image

        return "ISBI 2012 labels 00..24", [np.array(Image.open(p))
                                           for p in sorted(ISBI_LABELS.glob("*.png"))]
    _, _, labels = synthetic_cells(25, 512, seed=0, cell_size=50)
    return "synthetic 512x512 cells", list(labels)


def main():
    from scipy import ndimage

    source, images = slices()
    times, cells = [], []
    for image in images:
        unet_weight_map(image)  # warm caches
        start = time.perf_counter()
        unet_weight_map(image)
        times.append(time.perf_counter() - start)
        cells.append(int(ndimage.label(image > 0)[0].max()))
    record = {"source": source, "slices": len(images), "shape": list(images[0].shape),
              "cells_mean": float(np.mean(cells)), "ms_median": 1000 * float(np.median(times)),
              "ms_max": 1000 * float(np.max(times)), "machine": f"{platform.machine()}, "
              f"{os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
              "command": "python benchmarks/weight_map.py"}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "weight_map.json").write_text(json.dumps(record, indent=2) + "\n")
    (RESULTS / "weight_map.md").write_text(
        f"# unet_weight_map speed\n\n`{record['command']}` on {record['machine']}, "
        f"{record['date']}: {record['slices']} slices of {source} "
        f"({record['shape'][0]}x{record['shape'][1]}, {record['cells_mean']:.0f} cells on "
        f"average): median {record['ms_median']:.1f} ms, max {record['ms_max']:.1f} ms "
        f"per slice (w0=10, sigma=5, balanced class weights).\n")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
