"""Draw the paper's augmentation on one ISBI slice (or synthetic cells) for the README.

    python benchmarks/augmentation_grid.py   # writes benchmarks/results/augmentation_grid.png

Rows: image, mask (membrane), weight map; first column the original, then
five augmented samples (seeds 0..4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from zoo.data import load_isbi2012, paper_augmentation, synthetic_cells, unet_weight_map

ISBI = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "isbi2012"
OUT = Path(__file__).resolve().parent / "results" / "augmentation_grid.png"


def main(size: int = 192):
    if (ISBI / "images").is_dir():
        data = load_isbi2012(ISBI, slices=[0])
        image, mask, labels = data.images[0, :size, :size], data.membranes[0, :size, :size], \
            data.labels[0, :size, :size]
    else:
        images, masks, labels = synthetic_cells(1, size, seed=0)
        image, mask, labels = images[0], 1 - masks[0], labels[0]
    weights = unet_weight_map(labels)
    columns = [(image[..., 0], mask, weights)]
    augment = paper_augmentation()
    for seed in range(5):
        augment.set_random_seed(seed)
        out = augment(image=image, mask=mask, weights=weights)
        columns.append((np.clip(out["image"][..., 0], 0, 1), out["mask"], out["weights"]))
    top = weights.max()
    rows = [np.concatenate([np.pad(c[r] / (top if r == 2 else 1), 2, constant_values=1)
                            for c in columns], axis=1) for r in range(3)]
    Image.fromarray((np.concatenate(rows, axis=0) * 255).astype(np.uint8)).save(OUT)
    print(OUT)


if __name__ == "__main__":
    main()
